"""No exception ends the serve loop (issue 15, F8): a request whose handler
raises (a flash read error in an open LOG_READ) is answered with an ERROR,
logged, and the loop serves on and ticks on; so is a fault outside any
handler. A tick that raises still ends it (tests/test_main_loop.py: the
watchdog then resets the board)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from protocol import catalogue as c
from protocol import frame, log, message

HERE = Path(__file__).resolve().parent / "mp"


def _pod(tmp_path):
    sys.path.insert(0, str(HERE))
    try:
        import _profiles
        from _fakehal import FakeHal

        from firmware import storefile
        from firmware.guard import Guard
        from firmware.pod import Pod

        class Running(FakeHal):
            def uptime_ms(self):
                self.now_ms += 10  # the clock runs while the loop polls
                return self.now_ms & 0x3FFFFFFF

        root = str(tmp_path)
        storefile.write(root, "profile", _profiles.make([_profiles.phase(interval=1)]))
        Guard(root).provision(b"POD00042", bytes(range(32)))
        return Pod(Running(root)).boot()
    finally:
        sys.path.remove(str(HERE))


def _serve(pod, data: bytes) -> tuple[str, list]:
    """serve() on a pipe holding data, closed behind it; (why, replies)."""
    from firmware.main import serve

    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    out_path = Path(pod.root) / "out.bin"
    with open(r, "rb", buffering=0) as inp, open(out_path, "wb") as out:
        why = serve(pod, inp, out, poll_ms=1)
    got = frame.Deframer().feed(out_path.read_bytes())
    return why, [(f.type, f.seq, message.unpack(f.type, True, f.payload)) for f in got]


def _read(seq: int) -> bytes:
    return frame.encode(c.MSG_LOG_READ, seq, message.pack(c.MSG_LOG_READ, False, 0, 64))


def _events(pod) -> list:
    """Every event in the log, the open block sealed first."""
    pod.flush()
    data = pod.store.read(0, pod.store.size)
    events = []
    at = 0
    while at < len(data):
        blk = log.parse_block(data, at)
        if blk.kind == log.KIND_EVENTS:
            events += log.events(data, blk)
        at += blk.size
    return events


def _refused(pod) -> list:
    """(message type, error code) of the COMMAND_REFUSED events in the log."""
    return [(e[2], e[3]) for e in _events(pod) if e[1] == log.EV_COMMAND_REFUSED]


def _counted(pod) -> list:
    """(last type, last code, how many) of the REFUSALS events (SPEC 4.6)."""
    return [(e[2], e[3], e[4]) for e in _events(pod) if e[1] == log.EV_REFUSALS]


def test_a_handler_that_raises_gets_an_error_and_the_loop_goes_on(tmp_path):
    pod = _pod(tmp_path)

    def bad_flash(offset, dest):
        raise OSError(5, "flash read")

    pod.store.read_into = bad_flash
    status = frame.encode(c.MSG_STATUS, 2, bytes(16))
    why, replies = _serve(pod, _read(1) + status + _read(3) + bytes(16 * 256))
    assert why == "eof"  # the input's end, not the fault, ended it
    assert [(t, s) for t, s, _ in replies] == [(c.MSG_ERROR, 1), (c.MSG_STATUS, 2),
                                               (c.MSG_ERROR, 3)]
    assert replies[0][2] == (c.ERR_STORAGE, c.MSG_LOG_READ, 5)  # EIO
    assert pod.uptime >= 3 and pod.hal.feeds >= 3  # ticked and fed throughout
    del pod.store.read_into
    # unsigned refusals (anyone can send LOG_READ): the first logged, the
    # second counted and logged with the open block (SPEC 4.6, issue 15 F7)
    assert _refused(pod) == [(c.MSG_LOG_READ, c.ERR_STORAGE)]
    assert _counted(pod) == [(c.MSG_LOG_READ, c.ERR_STORAGE, 1)]


def test_a_fault_outside_any_handler_does_not_end_the_loop(tmp_path):
    pod = _pod(tmp_path)
    link = pod.link
    feed = link.feed
    faults = [MemoryError("allocating 1024 bytes"), ValueError("a bug")]

    def fails_then_feeds(data):
        if faults:
            raise faults.pop(0)
        return feed(data)

    link.feed = fails_then_feeds
    status = frame.encode(c.MSG_STATUS, 4, bytes(16))
    # the pipe's bytes come in 256-byte reads: each fault takes one read
    why, replies = _serve(pod, bytes(2 * 256) + status)
    assert why == "eof" and not faults
    assert [(t, s) for t, s, _ in replies] == [(c.MSG_STATUS, 4)]
    assert _refused(pod) == [(0, c.ERR_BUSY), (0, c.ERR_BUSY)]  # logged, if nothing else
