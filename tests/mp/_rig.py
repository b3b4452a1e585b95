# A pod on a fresh flash with a scripted HAL, and a host-side client for its
# link (MicroPython-compatible).
import _profiles
from _fakehal import FakeHal
from _support import flash

from firmware import storefile
from firmware.pod import Pod
from protocol import catalogue as c
from protocol import frame, message
from protocol.auth import Hmac
from protocol.keys import LINK, LOG, derive

KEY = bytes(range(32))
DEVICE = b"POD00042"


def pod(profile=None, temp=5000, root=None, provision=True, hal_cls=FakeHal, **hal_kw):
    """A booted Pod; profile bytes (default: the test profile) stored first.
    hal_cls: FakeHal or one of its kind (a real clock, say)."""
    if root is None:
        root = flash()
        if profile is None:
            profile = _profiles.make()
        if profile:
            storefile.write(root, "profile", profile)
        if provision:
            from firmware.guard import Guard

            Guard(root).provision(DEVICE, KEY)
    hal = hal_cls(root, temp)
    hal.noise = 20
    for k in hal_kw:
        setattr(hal, k, hal_kw[k])
    return Pod(hal).boot()


def run(p, seconds, plant=None):
    """Lock-step: advance the clock a second, tick, service."""
    for _ in range(seconds):
        p.hal.now_ms += 1000
        if plant is not None:
            plant.step()
        p.tick()
        p.service()


def reboot(p, cause=None):
    """Power-cycle: a new Pod on the same flash; RAM is lost."""
    from protocol import log

    hal = FakeHal(p.root, p.hal.temps[0])
    hal.noise = 20
    hal.cause = log.RESET_POWER_ON if cause is None else cause
    return Pod(hal).boot()


NONCE = b"test nonce 16 by"


def signed_reply(msg_type, auth, reply_type, values):
    """Whether the device signs its reply (SPEC 4.1): the request's type
    needs authentication, it came with FLAG_AUTH, and it was not refused
    before its tag was checked."""
    if msg_type in c.NONCE_SIGNED:
        return False  # checked by Client.request with the nonce
    if not (auth and c.message(msg_type)[2]):
        return False
    return reply_type != c.MSG_ERROR or values[0] not in (c.ERR_AUTH_REQUIRED, c.ERR_BAD_TAG)


class Client:
    """Sends requests to a pod's link and decodes the reply."""

    def __init__(self, p, key=KEY):
        self.p = p
        self.sent = []
        self.hmac = Hmac(derive(key, LINK))
        self.seq = 0
        self.counter = p.guard.counter
        self.challenge = None  # the last STATUS's

    def fresh(self):
        """A fresh challenge from the device (STATUS), kept for the next
        command."""
        self.challenge = self.status()["challenge"]
        return self.challenge

    def request(self, msg_type, *values, auth=None, counter=None, challenge=None):
        """(reply type, values): values of the reply, or (code, type, detail)
        for an ERROR. The reply frame is kept in .reply; whether it is
        authenticated is held to SPEC 4.1 here, for every request a test
        sends. An authenticated request takes a fresh challenge first (as
        podctl does) unless one is given."""
        if msg_type in c.NONCE_SIGNED and not values:
            values = (NONCE,)
        if auth is None:
            auth = c.message(msg_type)[2]
        kw = {}
        if auth:
            if challenge is None:
                challenge = self.fresh()
            if counter is None:
                self.counter += 1
                counter = self.counter
            kw = {"flags": c.FLAG_AUTH, "counter": counter, "hmac": self.hmac,
                  "data": challenge}
        self.seq += 1
        payload = message.pack(msg_type, False, *values)
        self.sent = []
        self.p.out = lambda b: self.sent.append(bytes(b))
        self.p.link.feed(b"\x00" + frame.encode(msg_type, self.seq, payload, **kw))
        d = frame.Deframer()
        got = []
        for b in self.sent:
            got += d.feed(b)
        assert len(got) == 1, got
        r = got[0]
        assert r.seq == self.seq
        self.reply = r
        v = message.unpack(r.type, True, r.payload)
        if msg_type in c.NONCE_SIGNED and self.p.guard.hmac is not None:
            # open, but signed over the request's nonce by a provisioned device
            assert r.flags & c.FLAG_AUTH and r.verify(self.p.guard.hmac, payload[:16]), r
        elif signed_reply(msg_type, auth, r.type, v):
            assert r.flags & c.FLAG_AUTH and r.counter == counter, (r, counter)
            assert r.verify(self.hmac), r
        else:
            assert not r.flags & c.FLAG_AUTH and r.counter is None, r
        return r.type, v

    def rotate(self, new):
        """KEY_ROTATE to new, wrapped as podctl wraps it (SPEC 5.14); the
        client signs with new from then on. The reply's values."""
        ch = self.fresh()
        self.counter += 1
        pad = self.hmac.digest(b"podctl key wrap", ch, self.counter.to_bytes(4, "little"))
        wrapped = bytes(new[i] ^ pad[i] for i in range(32))
        v = self.ok(c.MSG_KEY_ROTATE, wrapped, challenge=ch, counter=self.counter)
        self.hmac = Hmac(derive(new, LINK))
        return v

    def ok(self, msg_type, *values, **kw):
        t, v = self.request(msg_type, *values, **kw)
        assert t == msg_type, (t, v)
        return v

    def refused(self, msg_type, *values, **kw):
        t, v = self.request(msg_type, *values, **kw)
        assert t == c.MSG_ERROR, (t, v)
        return v[0]

    def status(self):
        return dict(zip(message.names(c.MSG_STATUS, True), self.ok(c.MSG_STATUS)))


def read_log(p):
    """The whole log through LOG_INFO / LOG_READ, as bytes."""
    cl = Client(p)
    p.flush()  # the open block onto flash: an open LOG_INFO no longer does (SPEC 5.9)
    size = cl.ok(c.MSG_LOG_INFO)[0]
    out = b""
    while len(out) < size:
        v = cl.ok(c.MSG_LOG_READ, len(out), 1016)
        assert v[0] == len(out)
        out += v[2]
    return out


def log_records(data):
    """(samples [(t, values, status)], events [(t, code, a, b, value)],
    seqs) of a whole log stream; asserts every block is sound."""
    from protocol import log

    at = 0
    samples, events, seqs = [], [], []
    while at < len(data):
        blk = log.parse_block(data, at)
        assert isinstance(blk, log.Block), (at, blk)
        seqs.append(blk.seq)
        if blk.kind == log.KIND_SAMPLES:
            samples += log.samples(data, blk)
        else:
            events += log.events(data, blk)
        at += blk.size
    return samples, events, seqs


def chain_ok(data, hmac=None):
    from protocol import log

    hmac = hmac or Hmac(derive(KEY, LOG))
    at = 0
    prev = log.GENESIS_MAC
    while at < len(data):
        blk = log.parse_block(data, at)
        if log.block_mac(hmac, prev, memoryview(data)[at:], blk.length) != blk.mac(data):
            return False
        prev = blk.mac(data)
        at += blk.size
    return True
