# The power-cut sweep's board side (issue 15), on the real micropython
# binary: the workload on the unchanged firmware over littlefs on NOR flash
# (sim/norflash.py), and the boot after a cut. tests/powercut.py drives it
# and judges what it reports.
#
#   micropython _powercut.py record SEED DIR
#       the factory image and the workload on it, uncut, recorded in DIR:
#       base.img (the flash before the workload), journal.bin (every flash
#       operation: kind u8, address u32, length u16, the bytes a program
#       wrote), blocks.bin (every log block appended, in order) and
#       marks.json (what the host and the device knew, by operation count)
#   micropython _powercut.py boot DIR POINTS
#       for each cut point N[t] in the file POINTS (comma-separated, rising;
#       t: torn; a file, as the unix port dies on an argument of 256 bytes)
#       the flash a cut at operation N leaves (the journal's first N
#       operations on base.img, and half of operation N if torn), the
#       firmware booted afresh on it: one JSON line each (report())
#   micropython _powercut.py double DIR POINTS
#       double cuts: for each line of the file POINTS (N rising), "N[t]",
#       "N[t] M[t],M[t],..." or "N[t] -", the flash a cut at N leaves and
#       the boot after it (the recovery boot: report()'s boot, which
#       finishes what the cut interrupted and so writes flash) run on it
#       uncut, its own operations journalled: one JSON line {"n", "torn",
#       "ops": its operations, "appends": [[seq, ops before, ops after,
#       hex], ...], and report()'s fields}; then for each second cut M[t]
#       named (every operation, clean and torn, if none is; "-": none) the
#       recovery boot's first M operations on the first cut's flash (and
#       half of M if torn), and the firmware booted a third time on it: a
#       line as boot's, with "m" and "mtorn"
#   micropython _powercut.py replay SEED N TORN IMAGE [M MTORN]
#       the workload run again with the power cut at operation N for real,
#       the flash saved to IMAGE, and the board booted from that file; one
#       JSON line as boot's, with "ops": the operations the run got to.
#       With M: the recovery boot on the cut flash has its power cut at its
#       operation M for real too, and the board boots a third time
#
# A cut at N leaves the image of the journal's first N operations because
# the workload is deterministic up to the cut and nothing reaches a cut
# flash; tests/test_powercut.py holds replay's images to the journal's.
# The same holds of the recovery boot (report(): a fixed clock, no random
# draws), so a second cut at its operation M leaves its journal's first M.
import gc
import json
import struct
import sys

if "/" in __file__:
    sys.path.append(__file__[: __file__.rfind("/")])
import _profiles
import vfs
from _fakehal import FakeHal
from _profiles import phase
from _rig import Client

from firmware import storefile
from firmware.guard import Guard
from firmware.logstore import LogStore
from firmware.pod import Pod
from protocol import catalogue as c
from protocol import profile as pf
from sim.norflash import ERASE, NorFlash, apply

BLOCKS = 64  # 256 KiB of 4 KiB sectors: the log's budget and the records fit twice
DEVICE = b"POD00042"
KEY_OLD = bytes(range(32))
KEY_NEW = bytes(range(100, 132))
SEGMENT = 2048  # the log's segments, small: a rotation every 25 blocks or so
BUDGET = 12 * 1024  # the log's budget, small: the overwrite policy rolls
UTC = 1800000000
NONCE = b"powercut nonce 1"


def old_profile():
    return _profiles.make(
        [phase(b"pad", duration=240, interval=1), phase(b"orbit", interval=1, setpoint=6000)],
        full_policy=pf.POLICY_OVERWRITE,
    )


def new_profile():
    return _profiles.make(
        [phase(b"cold", interval=1, setpoint=4000), phase(b"warm", interval=2, setpoint=7000)],
        full_policy=pf.POLICY_OVERWRITE, name=b"new",
    )


_mounts = [0]
# littlefs as the rp2 port makes it (ports/rp2/modules/_boot.py: progsize
# 256, the flash's page), without the files' modification times the port
# stores by default: they come from the host's clock here, and would make
# the run differ from run to run
PROGSIZE = 256


def mount(dev):
    """Mount dev's littlefs at a new mount point; the point."""
    _mounts[0] += 1
    at = "/pc%d" % _mounts[0]
    vfs.mount(vfs.VfsLfs2(dev, progsize=PROGSIZE, mtime=False), at)
    return at


def factory():
    """The flash as the factory leaves it: littlefs, the old profile, the
    identity (id, old key) and the counter. Its operations are not the
    workload's: the count starts after."""
    dev = NorFlash(BLOCKS)
    vfs.VfsLfs2.mkfs(dev, progsize=PROGSIZE)
    root = mount(dev)
    storefile.write(root, storefile.PROFILE, old_profile())
    Guard(root).provision(DEVICE, KEY_OLD)
    vfs.umount(root)
    dev.ops = dev.programs = dev.erases = 0
    return dev


class Rng:
    """A small LCG: the same draws on both interpreters."""

    def __init__(self, seed):
        self.x = seed * 2654435761 + 12345

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


class Cut(Exception):
    """The power went: the workload stops here. args: the step's name, its
    operations done, the exception that reached the workload (None if the
    firmware caught the OSError)."""


class Marks:
    """What the run knew, by operation count: each step of the workload
    (name, ops before, ops after, the log's first seq and last seq after,
    an argument) and each block appended (its ops before and after)."""

    def __init__(self, dev, blocks_file=None):
        self.dev = dev
        self.steps = []
        self.appends = []  # [seq, ops before, ops after, length]
        self.segments = {}  # first seq of every segment file the log opened
        self.blocks = blocks_file


def work(dev, seed, marks):
    """The workload on dev (the factory's image): boots, appends across
    segment rotations and the overwrite roll, state saves, time sets, a
    profile upload and commit, a key rotation, two full log erases. Raises
    Cut when dev's power goes (the firmware may swallow the OSError: every
    step checks)."""
    rng = Rng(seed)
    root = mount(dev)
    hal = FakeHal(root, 5000)
    hal.noise = 20
    state = {"pod": None, "client": None}

    def step(name, fn, arg=0):
        a = dev.ops
        try:
            fn()
        except Exception as e:
            if dev.dead:
                raise Cut(name, dev.ops - a, e)
            raise
        if dev.dead:  # the firmware caught the OSError
            raise Cut(name, dev.ops - a, None)
        p = state["pod"]
        marks.steps.append([name, a, dev.ops, p.store.first(), p.store.last_seq, arg])

    def boot():
        p = Pod(hal, log_budget=BUDGET).boot()
        p.store.segment_bytes = SEGMENT
        p.store.budget = BUDGET
        state["pod"] = p
        state["client"] = Client(p, KEY_OLD)

    def ticks(n, flush_in=5):
        p = state["pod"]
        for _ in range(n):
            def one():
                hal.now_ms += 1000
                p.tick()
                p.service()
                if rng.below(flush_in):  # a host sealing or reading now and then
                    p.flush()
            step("tick", one)

    def command(name, msg, *values):
        cl = state["client"]
        step(name, lambda: cl.ok(msg, *values), values[0] if values else 0)

    def erase_all():
        p = state["pod"]
        step("flush", p.flush)
        command("erase", c.MSG_LOG_ERASE, p.store.last_seq)  # the host holds it all

    step("boot", boot)
    command("time", c.MSG_TIME_SET, UTC)
    ticks(240)
    command("seal", c.MSG_LOG_SEAL, NONCE)
    command("phase", c.MSG_PHASE_SET, 1)  # a state save
    ticks(160 + rng.below(20))
    new = new_profile()
    command("begin", c.MSG_PROFILE_BEGIN, len(new), pf.ident(new))
    for at in range(0, len(new), 96):
        command("chunk", c.MSG_PROFILE_CHUNK, at, new[at : at + 96])
    command("commit", c.MSG_PROFILE_COMMIT, pf.ident(new))
    ticks(260 + rng.below(20))
    step("rotate", lambda: state["client"].rotate(KEY_NEW))
    command("time", c.MSG_TIME_SET, UTC + 10000)
    ticks(260)
    erase_all()
    ticks(260 + rng.below(20))
    erase_all()
    ticks(60)
    command("time", c.MSG_TIME_SET, UTC + 20000)
    ticks(30)


def record(seed, folder):
    dev = factory()
    dev.save(folder + "/base.img")
    dev.journal = []
    bf = open(folder + "/blocks.bin", "wb")
    marks = Marks(dev, bf)
    append = LogStore.append

    def recorded(self, block, n):
        a = dev.ops
        ok = append(self, block, n)
        if ok:
            seq = struct.unpack_from("<I", block, 8)[0]
            marks.appends.append([seq, a, dev.ops, n])
            marks.segments[self.segments[-1][0]] = 1
            bf.write(memoryview(block)[:n])
        return ok

    LogStore.append = recorded
    try:
        work(dev, seed, marks)
    finally:
        LogStore.append = append
    bf.close()
    with open(folder + "/journal.bin", "wb") as f:
        for kind, addr, buf in dev.journal:
            n = buf if kind == ERASE else len(buf)
            f.write(struct.pack("<BIH", kind, addr, n))
            if kind != ERASE:
                f.write(buf)
    with open(folder + "/marks.json", "w") as f:
        json.dump({
            "seed": seed, "ops": dev.ops, "programs": dev.programs, "erases": dev.erases,
            "steps": marks.steps, "appends": marks.appends, "segments": len(marks.segments),
            "old_profile": pf.ident(old_profile()), "new_profile": pf.ident(new_profile()),
            "old_key": hx(KEY_OLD), "new_key": hx(KEY_NEW),
        }, f)
    print(json.dumps({"ops": dev.ops, "appends": len(marks.appends)}))


def hx(b):
    import binascii

    return binascii.hexlify(bytes(b)).decode()


def report(dev, sent, appends=None):
    """Boot the unchanged firmware on dev (a copy of the cut flash) as the
    board does at power-on, run it a few seconds, and say what it holds: a
    dict for one JSON line. sent: digests of segments already reported (a
    segment is sent once, then named by its digest); None: say nothing of
    the segments. appends: a list to record the blocks the boot appends in
    ([seq, dev's ops before, after, hex]), as record() does the workload's."""
    import hashlib

    out = {}
    try:
        root = mount(dev)
    except OSError as e:
        out["boot"] = "mount: %r" % (e,)
        return out
    append = LogStore.append
    if appends is not None:
        def recorded(self, block, n):
            a = dev.ops
            ok = append(self, block, n)
            if ok:
                seq = struct.unpack_from("<I", block, 8)[0]
                appends.append([seq, a, dev.ops, hx(memoryview(block)[:n])])
            return ok

        LogStore.append = recorded
    try:
        hal = FakeHal(root, 5000)
        hal.noise = 20
        p = Pod(hal).boot()
        for _ in range(3):  # a few seconds: a sample block after the boot's
            hal.now_ms += 1000
            p.tick()
            p.service()
        p.flush()
        out["boot"] = "ok" if not p.recorder.failed else "log write failed"
        out["profile"] = p.profile.crc if p.profile is not None else None
        out["key_id"] = hx(p.guard.key_id)
        out["damaged"] = p.guard.damaged
        if sent is None:
            return out
        segs = []
        for first, size in p.store.segments:
            with open(p.store.dir + "/" + "0" * (10 - len(str(first))) + str(first), "rb") as f:
                data = f.read()
            d = hx(hashlib.sha256(data).digest()[:8])
            if d in sent:
                segs.append([first, d])
            else:
                sent[d] = 1
                segs.append([first, d, hx(data)])
        out["segments"] = segs
    except Exception as e:  # noqa: BLE001 a boot that fails is the finding
        out["boot"] = "%s: %s" % (type(e).__name__, e)
    finally:
        LogStore.append = append
        try:
            vfs.umount(root)
        except OSError:
            pass
    return out


def boot(folder, points):
    """Each cut point's image from the journal, booted: one line each.
    points: the file naming them."""
    with open(points) as f:
        points = f.read().strip()
    with open(folder + "/journal.bin", "rb") as f:
        journal = f.read()
    jv = memoryview(journal)
    base = NorFlash.load(folder + "/base.img")
    img = base.data
    at = 0  # where the journal's next operation starts
    done = 0  # operations applied to img
    sent = {}
    for point in points.split(","):
        torn = point.endswith("t")
        n = int(point[:-1] if torn else point)
        at, done = advance(img, jv, at, done, n)
        data = bytearray(img)
        if torn:
            tear(data, jv, at)
        out = report(NorFlash(BLOCKS, data=data), sent)
        out["n"] = n
        out["torn"] = torn
        print(json.dumps(out))
        data = None
        gc.collect()


def advance(img, jv, at, done, n):
    """Apply the journal jv's operations from the done-th (at byte at) up
    to the n-th to img; (at, done) after them."""
    while done < n:
        kind, addr, size = struct.unpack_from("<BIH", jv, at)
        at += 7
        if kind == ERASE:
            apply(img, kind, addr, size)
        else:
            apply(img, kind, addr, jv[at : at + size])
            at += size
        done += 1
    return at, done


def tear(data, jv, at):
    """Half-apply the journal's operation at byte at, if there is one: the
    torn cut."""
    if at < len(jv):
        kind, addr, size = struct.unpack_from("<BIH", jv, at)
        apply(data, kind, addr, size if kind == ERASE else jv[at + 7 : at + 7 + size], True)


def double(folder, points):
    """Double cuts: each first cut's flash, the recovery boot on it uncut
    and journalled, then a second cut at each of its operations (or those
    named) and the third boot. points: the file naming them, a line each."""
    with open(points) as f:
        lines = f.read().strip().split("\n")
    with open(folder + "/journal.bin", "rb") as f:
        journal = f.read()
    jv = memoryview(journal)
    img = NorFlash.load(folder + "/base.img").data
    at = 0
    done = 0
    sent = {}
    for line in lines:
        first, _, seconds = line.strip().partition(" ")
        torn = first.endswith("t")
        n = int(first[:-1] if torn else first)
        at, done = advance(img, jv, at, done, n)
        cut = bytearray(img)  # the flash the first cut leaves
        if torn:
            tear(cut, jv, at)
        dev = NorFlash(BLOCKS, data=bytearray(cut))
        dev.journal = []
        appends = []
        out = report(dev, None, appends)
        ops = dev.journal
        dev = None
        out.update({"n": n, "torn": torn, "ops": len(ops), "appends": appends})
        print(json.dumps(out))
        out = appends = None
        if seconds == "-":
            cuts = []
        elif seconds:
            cuts = []
            for p in seconds.split(","):
                cuts.append((int(p[:-1]), True) if p.endswith("t") else (int(p), False))
        else:
            cuts = [(m, t) for m in range(len(ops)) for t in (False, True)]
        second = bytearray(cut)  # the recovery boot's first `got` operations on it
        got = 0
        for m, mtorn in cuts:
            if m < got:  # not rising: start again
                second[:] = cut
                got = 0
            while got < m and got < len(ops):
                kind, addr, buf = ops[got]
                apply(second, kind, addr, buf)
                got += 1
            data = bytearray(second)
            if mtorn and m < len(ops):
                kind, addr, buf = ops[m]
                apply(data, kind, addr, buf, True)
            out = report(NorFlash(BLOCKS, data=data), sent)
            out.update({"n": n, "torn": torn, "m": m, "mtorn": mtorn})
            print(json.dumps(out))
            data = out = None
            gc.collect()
        cut = second = ops = None
        gc.collect()


def _where(dev, k, e):
    """Where the power went: after k operations, at the firmware's frames
    from the cut to where the OSError was caught; e: what reached the
    workload (None: nothing, the firmware caught it), or a string."""
    import io

    tb = io.StringIO()
    sys.print_exception(dev.cut_error, tb)  # from the cut to where it was caught
    at = [x.strip() for x in tb.getvalue().split("\n") if "/firmware/" in x]
    said = e if isinstance(e, str) else (
        "the firmware caught it" if e is None else "the step raised %r" % (e,))
    return "after %d of its operations, at %s; %s" % (k, " <- ".join(reversed(at)) or "?", said)


def replay(seed, n, torn, image, m=None, mtorn=False):
    """The workload run again with the power cut at operation n, for real;
    the flash saved to image and booted from that file. m: the boot after
    the cut has its power cut at its operation m, for real, and the board
    boots a third time (on image, saved after the second cut)."""
    dev = factory()
    dev.cut_at = n
    dev.torn = torn
    where = "not cut"
    try:
        work(dev, seed, Marks(dev))
    except Cut as cut:
        name, k, e = cut.args
        where = "in step %s %s" % (name, _where(dev, k, e))
    ops = dev.ops
    out = {}
    if m is not None:
        dev = NorFlash(BLOCKS, data=bytearray(dev.data))
        dev.cut_at = m
        dev.torn = mtorn
        second = report(dev, None)
        if dev.dead:
            where += "; then in the boot after it, %s" % _where(
                dev, dev.ops, "that boot said %s" % second.get("boot"))
        else:
            where += "; the boot after it not cut"
        out["second_ops"] = dev.ops
    dev.save(image)
    out.update(report(NorFlash.load(image), {}))
    out["n"] = n
    out["torn"] = torn
    out["ops"] = ops
    out["where"] = where
    if m is not None:
        out["m"] = m
        out["mtorn"] = mtorn
    print(json.dumps(out))


def main(argv):
    mode = argv[0]
    if mode == "record":
        record(int(argv[1]), argv[2])
    elif mode == "boot":
        boot(argv[1], argv[2])
    elif mode == "double":
        double(argv[1], argv[2])
    elif mode == "replay":
        if len(argv) > 5:
            replay(int(argv[1]), int(argv[2]), argv[3] == "1", argv[4], int(argv[5]),
                   argv[6] == "1")
        else:
            replay(int(argv[1]), int(argv[2]), argv[3] == "1", argv[4])
    else:
        raise SystemExit("usage: _powercut.py record|boot|double|replay ...")


if __name__ == "__main__":
    main(sys.argv[1:])
