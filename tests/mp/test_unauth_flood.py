# Issue 14 S5: no unauthenticated request writes flash or grows the log.
# A provisioned pod flies with a flood of the open requests (LOG_INFO,
# STATUS, IDENTIFY, LOG_READ: several of each every second, every sample
# interval many times over); its log and every file of its flash are byte
# for byte those of its twin flown without the flood (the same profile,
# key and scripted HAL), and it wrote not one byte more. flood() gives
# tests/bench.py (group link) its unauth_flash_bytes_per_mib_* figures.
# Refused requests (a bad tag, no tag) are logged as COMMAND_REFUSED: their
# bound is issue 15's (F7), not measured here.
import os

import _rig

from protocol import catalogue as c
from protocol import frame, message

SECONDS = 600  # ten one-minute samples
PER_SECOND = 2  # requests of each kind fed between two ticks
KINDS = (c.MSG_LOG_INFO, c.MSG_STATUS, c.MSG_IDENTIFY, c.MSG_LOG_READ)


def request(kind, seq):
    """The wire bytes of one open request, as podctl sends it."""
    if kind == c.MSG_STATUS or kind == c.MSG_LOG_INFO:
        values = (bytes([seq & 0xFF]) * 16,)  # the nonce
    elif kind == c.MSG_LOG_READ:
        values = (0, 1016)
    else:
        values = ()
    return b"\x00" + frame.encode(kind, seq & 0xFFFF, message.pack(kind, False, *values))


class _Counted:
    """A file whose writes are counted."""

    def __init__(self, f, tally):
        self.f = f
        self.tally = tally

    def write(self, data):
        self.tally[0] += len(data)
        return self.f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def __getattr__(self, name):
        return getattr(self.f, name)


def files(root, at=""):
    """{path: bytes} of every file under root: the flash as it is."""
    out = {}
    for name in sorted(os.listdir(root + at)):
        path = at + "/" + name
        if os.stat(root + path)[0] & 0x4000:  # a folder
            out.update(files(root, path))
        else:
            with open(root + path, "rb") as f:
                out[path] = f.read()
    return out


def fly(kinds, seconds=SECONDS, per_second=PER_SECOND):
    """A fresh provisioned pod flown `seconds`, per_second requests of each
    of kinds fed to its link between every two ticks. (pod, request bytes
    fed, answers, bytes it wrote to files)."""
    import builtins

    tally = [0]
    real = builtins.open

    def counted(path, mode="r", *args):
        f = real(path, mode, *args)
        return _Counted(f, tally) if ("w" in mode or "a" in mode) else f

    answers = [0]

    def out(data):
        answers[0] += 1

    builtins.open = counted
    try:
        p = _rig.pod()
        p.out = out
        sent = 0
        seq = 0
        for _ in range(seconds):
            p.hal.now_ms += 1000
            p.tick()
            p.service()
            for kind in kinds:
                for _ in range(per_second):
                    seq += 1
                    wire = request(kind, seq)
                    p.link.feed(wire)
                    sent += len(wire)
    finally:
        builtins.open = real
    return p, sent, answers[0], tally[0]


def flood(kinds, seconds=SECONDS, per_second=PER_SECOND):
    """(extra bytes written, request bytes): a flood of kinds against its
    quiet twin."""
    quiet, _, _, base = fly((), seconds)
    loud, sent, _, wrote = fly(kinds, seconds, per_second)
    _unmount(quiet)
    _unmount(loud)
    return wrote - base, sent


def _unmount(p):
    """Give back a pod's flash (MicroPython: its RAM block device)."""
    import sys

    if sys.implementation.name == "micropython":
        import gc

        import vfs

        vfs.umount(p.root)
        gc.collect()


def _same(quiet, loud):
    assert loud.store.size == quiet.store.size, (loud.store.size, quiet.store.size)
    assert loud.store.last_seq == quiet.store.last_seq
    assert loud.store.last_mac == quiet.store.last_mac
    a, b = files(quiet.root), files(loud.root)
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    for path in a:
        assert a[path] == b[path], path
    assert loud.link.refused == 0 and loud.events.lost == 0


def test_a_flood_of_open_requests_writes_nothing():
    quiet, _, _, base = fly(())
    loud, sent, answers, wrote = fly(KINDS)
    assert answers == SECONDS * PER_SECOND * len(KINDS)  # every one answered
    assert quiet.store.size > 0 and base > 0  # the twins did log
    _same(quiet, loud)
    assert wrote == base, (wrote, base)
    assert sent > 100000


def test_each_kind_alone_writes_nothing():
    quiet, _, _, base = fly((), 180)
    for kind in KINDS:
        loud, _, answers, wrote = fly((kind,), 180, 4)
        assert answers == 180 * 4, kind
        _same(quiet, loud)
        assert wrote == base, (kind, wrote, base)
        _unmount(loud)


def test_the_log_still_holds_what_the_pod_recorded():
    """The twin compared is no empty log: both hold the samples and the
    boot, and sealing the open block writes the same into both."""
    quiet, _, _, _ = fly(())
    loud, _, _, _ = fly(KINDS)
    quiet.flush()
    loud.flush()
    _same(quiet, loud)
    samples, events, _ = _rig.log_records(_rig.read_log(loud))
    assert len(samples) >= SECONDS // 60 - 1 and events
