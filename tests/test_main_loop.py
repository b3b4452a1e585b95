"""The firmware's main loop on the micropython binary, driven over a pipe by
the host's Link: it ticks on the real clock while serving requests, feeds
the watchdog only after ticks, and leaves on MAINTENANCE REPL."""

import os
import subprocess
import time
from pathlib import Path

from podctl.link import Link
from podctl.pipe import PipeTransport
from protocol import catalogue as c
from protocol.auth import Hmac
from protocol.keys import LINK, derive
from sim import upy

HERE = Path(__file__).resolve().parent / "mp"


def test_serves_while_ticking_and_returns_to_repl():
    env = dict(os.environ, MICROPYPATH=upy.micropypath(HERE))
    proc = subprocess.Popen(
        [upy.binary(), str(HERE / "_serve.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    t = PipeTransport(proc)
    link = Link(t)
    first = link.request(c.MSG_STATUS, bytes(16))
    time.sleep(2.2)
    second = link.request(c.MSG_STATUS, bytes(16))
    assert second["uptime"] >= first["uptime"] + 2  # the tick ran between requests
    info = link.request(c.MSG_LOG_INFO, bytes(16))
    assert info["size"] > 0
    link.request(c.MSG_MAINTENANCE, c.MAINT_REPL, hmac=LINK_HMAC, counter=1,
                 challenge=second["challenge"])
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    words = err.decode().split()
    assert words[:2] == ["served:", "repl"], err
    ticks, feeds = int(words[3]), int(words[5])
    assert ticks >= 2 and feeds >= 2


def test_watchdog_fed_only_after_a_healthy_tick(tmp_path):
    """A tick that raises leaves the watchdog hungry: the board resets."""
    import sys

    sys.path.insert(0, str(HERE))
    try:
        import _profiles
        from _fakehal import FakeHal

        from firmware import storefile
        from firmware.main import serve
        from firmware.pod import Pod

        class Breaks(FakeHal):
            reads = 0

            def uptime_ms(self):
                self.now_ms += 250  # the clock runs while the loop polls
                return self.now_ms & 0x3FFFFFFF

            def read_probes(self, out):
                self.reads += 1
                if self.reads > 3:
                    raise OSError(5, "ADC bus stuck")
                return super().read_probes(out)

        root = str(tmp_path)
        storefile.write(root, "profile", _profiles.make())
        hal = Breaks(root)
        pod = Pod(hal).boot()
        r, w = os.pipe()
        with open(r, "rb", buffering=0) as inp, open(os.devnull, "wb") as out:
            try:
                serve(pod, inp, out, poll_ms=1)
            except OSError as e:
                assert "ADC" in str(e)
            else:
                raise AssertionError("the failing tick was swallowed")
        os.close(w)
        assert hal.reads == 4 and hal.feeds == 3
    finally:
        sys.path.remove(str(HERE))


# --- signed answers over the wire (SPEC 4.1, 5.11) ---------------------------

KEY = bytes(range(32))  # what tests/mp/_serve.py provisions
LINK_KEY = derive(KEY, LINK)  # the device signs and checks the link with it
LINK_HMAC = Hmac(LINK_KEY)


def _challenge(link):
    """A fresh challenge, as podctl asks for one before each command."""
    return link.request(c.MSG_STATUS, os.urandom(16))["challenge"]


def _device():
    env = dict(os.environ, MICROPYPATH=upy.micropypath(HERE))
    proc = subprocess.Popen([upy.binary(), str(HERE / "_serve.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return PipeTransport(proc)


class Relay:
    """A man in the middle of the link, without the key: rewrites every
    frame the device sends with `forge(frame) -> wire bytes`."""

    def __init__(self, inner, forge):
        from protocol import frame

        self.inner = inner
        self.forge = forge
        self._d = frame.Deframer()

    def write(self, data):
        return self.inner.write(data)

    def read(self, size):
        from protocol import frame

        out = b""
        for r in self._d.feed(self.inner.read(size)):
            if isinstance(r, frame.Frame):
                if r.type == c.MSG_STATUS:
                    # the STATUS that brings the challenge passes (its signature
                    # dropped: this host holds no key to check it with)
                    out += frame.encode(r.type, r.seq, r.payload, c.FLAG_REPLY)
                else:
                    out += self.forge(r)
        return out

    def close(self):
        self.inner.close()


def test_log_seal_over_the_wire_is_signed_and_checked_by_the_host():
    import hashlib
    import hmac

    import pytest

    from podctl.errors import DeviceRefused

    t = _device()
    try:
        link = Link(t)
        nonce = os.urandom(16)
        seal = link.request(c.MSG_LOG_SEAL, nonce, hmac=LINK_HMAC, counter=5,
                            challenge=_challenge(link))
        r = link.last_reply
        assert r.flags == c.FLAG_REPLY | c.FLAG_AUTH and r.counter == 5
        assert r.tag == hmac.new(LINK_KEY, r.signed, hashlib.sha256).digest()[:16]
        assert seal["nonce"] == nonce and seal["counter"] == 5
        assert seal["device_id"] == b"POD00042" + bytes(8)  # 16 bytes, NUL-padded
        assert seal["flags"] & c.SEAL_SIMULATED and seal["size"] > 0
        assert seal["key_id"] == hmac.new(KEY, b"podctl key id", hashlib.sha256).digest()[:4]
        # open, but signed over its nonce: the host checks it under the key
        info = link.request(c.MSG_LOG_INFO, nonce, keys=[Hmac(b"\x55" * 32), LINK_HMAC])
        assert link.reply_key == 1 and info["last_mac"] == seal["last_mac"]
        # the same counter again: refused after the tag checked, so the ERROR is signed
        with pytest.raises(DeviceRefused) as e:
            link.request(c.MSG_LOG_SEAL, nonce, hmac=LINK_HMAC, counter=5,
                         challenge=_challenge(link))
        assert e.value.code == c.ERR_REPLAYED and link.last_reply.verify(LINK_HMAC)
        # the same frame delivered again: its challenge is spent, STALE, signed
        ch = _challenge(link)
        link.request(c.MSG_LOG_SEAL, nonce, hmac=LINK_HMAC, counter=6, challenge=ch)
        with pytest.raises(DeviceRefused) as e:
            link.request(c.MSG_LOG_SEAL, nonce, hmac=LINK_HMAC, counter=6, challenge=ch)
        assert e.value.code == c.ERR_STALE and link.last_reply.verify(LINK_HMAC)
        # a wrong key: refused before any key could sign, so unsigned, and believed
        with pytest.raises(DeviceRefused) as e:
            link.request(c.MSG_LOG_SEAL, nonce, hmac=Hmac(b"\x55" * 32), counter=7,
                         challenge=_challenge(link))
        assert e.value.code == c.ERR_BAD_TAG and link.last_reply.counter is None
    finally:
        t.close()


def test_a_forged_or_stripped_answer_is_a_link_error():
    import pytest

    from podctl.errors import DeviceRefused, LinkError
    from protocol import frame

    wrong = Hmac(b"\x00" * 32)  # the man in the middle has no key
    forgeries = [
        # the seal with its flags changed, signed with a key not the device's
        (lambda f: frame.encode(f.type, f.seq, f.payload[:-1] + b"\x00", f.flags,
                                f.counter or 0, wrong if f.counter is not None else None),
         "tag does not verify"),
        # the signature taken off
        (
            lambda f: frame.encode(f.type, f.seq, f.payload, f.flags & ~c.FLAG_AUTH),
            "is not signed",
        ),
        # a REPLAYED refusal made up, unsigned: what would have made a host
        # give up on a command the device took (issue 14, S1)
        (lambda f: frame.encode(c.MSG_ERROR, f.seq, bytes([c.ERR_REPLAYED, f.type, 0, 0]),
                                c.FLAG_REPLY), "is not signed"),
    ]
    for counter, (forge, why) in enumerate(forgeries, 1):
        t = Relay(_device(), forge)
        try:
            link = Link(t)
            ch = link.request(c.MSG_STATUS, bytes(16))["challenge"]  # forged too: unsigned
            with pytest.raises(LinkError) as e:
                link.request(c.MSG_LOG_SEAL, bytes(16), hmac=LINK_HMAC, counter=counter,
                             challenge=ch)
            assert not isinstance(e.value, DeviceRefused)
            assert why in str(e.value) and "LOG_SEAL" in str(e.value), str(e.value)
        finally:
            t.close()
