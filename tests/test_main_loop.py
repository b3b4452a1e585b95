"""The firmware's main loop on the micropython binary, driven over a pipe by
the host's Link: it ticks on the real clock while serving requests, feeds
the watchdog only after ticks, and leaves on MAINTENANCE REPL."""

import os
import subprocess
import time
from pathlib import Path

from sim import upy
from podctl.link import Link
from podctl.pipe import PipeTransport
from protocol import catalogue as c
from protocol.auth import Hmac

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
    first = link.request(c.MSG_STATUS)
    time.sleep(2.2)
    second = link.request(c.MSG_STATUS)
    assert second["uptime"] >= first["uptime"] + 2  # the tick ran between requests
    info = link.request(c.MSG_LOG_INFO)
    assert info["size"] > 0
    link.request(c.MSG_MAINTENANCE, c.MAINT_REPL, hmac=Hmac(bytes(range(32))), counter=1)
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
