# Issue 16: a host that holds the USB port open and stops reading must not
# stall the control tick. On rp2 each stdout write waits up to 500 ms for
# room in the CDC FIFO (tests/mp/_cdc.py models it on a virtual clock); the
# serve loop writes a reply in pieces only when one cannot hold up the tick,
# and reads no new request until the reply has gone (firmware/main.py).
# Deterministic: every time here is the model's virtual clock.
import _cdc
import _profiles
from _fakehal import FakeHal
from _support import flash

from firmware import storefile
from firmware.guard import Guard
from firmware.main import serve
from firmware.pod import Pod
from protocol import catalogue as c
from protocol import frame, message


class ClockHal(FakeHal):
    """The model's clock; every watchdog feed (one per healthy tick) timed."""

    def __init__(self, root, clock):
        super().__init__(root, 5000)
        self.clock = clock
        self.feed_at = []

    def uptime_ms(self):
        self.clock.now += 1
        return self.clock.now & 0x3FFFFFFF

    def feed_watchdog(self):
        self.feed_at.append(self.clock.now)
        self.feeds += 1


def run(deaf_from, deaf_to, end_ms=20000, every_ms=50):
    """Serve LOG_READs (about 1 KiB answers) sent every every_ms while the
    host reads, except between deaf_from and deaf_to ms. (hal, cdc, pod)."""
    clock = _cdc.Clock()
    root = flash()
    storefile.write(root, "profile", _profiles.make([_profiles.phase(interval=1)]))
    Guard(root).provision(b"POD00042", bytes(range(32)))
    hal = ClockHal(root, clock)
    hal.noise = 20
    pod = Pod(hal).boot()
    _rig_fill(pod)
    frames = []
    for i in range(end_ms // every_ms):
        payload = message.pack(c.MSG_LOG_READ, False, 0, 1016)
        frames.append((i * every_ms, b"\x00" + frame.encode(c.MSG_LOG_READ, i & 0xFFFF, payload)))
    cdc = _cdc.Cdc(clock, lambda now: not deaf_from <= now < deaf_to)
    inp = _cdc.Requests(clock, frames, end_ms)
    import firmware.main

    undo = _cdc.on_cpython(firmware.main)
    try:
        why = serve(pod, inp, cdc, poll_ms=1)
    finally:
        undo()
    assert why == "eof", why
    return hal, cdc, pod


def _rig_fill(pod):
    """A log of a few KiB, so LOG_READ answers are full (about 1 KiB)."""
    for _ in range(600):
        pod.hal.clock.now += 1000
        pod.tick()
        pod.service()
    pod.flush()
    assert pod.store.size > 4096


def gaps(hal):
    at = hal.feed_at
    return [at[i + 1] - at[i] for i in range(len(at) - 1)]


def test_a_host_that_stops_reading_does_not_delay_a_tick():
    hal, cdc, pod = run(3000, 13000)
    g = gaps(hal)
    assert len(g) >= 15, g
    # a tick is due every 1,000 ms: none late by more than one pass of the loop
    assert max(g) <= 1010, g
    assert cdc.longest < 500  # no write ever waited out the CDC's timeout
    # and the link came back: answers after the host reads again
    assert len(cdc.replies) > 50


def test_a_reading_host_gets_every_answer_whole():
    hal, cdc, pod = run(10 ** 9, 10 ** 9, end_ms=5000)
    replies = cdc.replies
    assert [r[0] for r in replies] == [c.MSG_LOG_READ] * len(replies)
    assert len(replies) == pod.link.served and len(replies) >= 90
    assert max(gaps(hal)) <= 1010
