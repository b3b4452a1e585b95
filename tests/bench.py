"""`make bench`: speed and size figures, written to build/bench.json.

A flat JSON object of named figures, the unit in each name. Later work adds
its figures here under the names its issue gives. Timings are the median of
several repeats on this machine; they are never asserted in `make test`.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from protocol import catalogue as c
from protocol import frame
from sim import upy

OUT = upy.ROOT / "build" / "bench.json"
PAYLOAD = bytes((i * 37) & 0xFF for i in range(64))
REPEATS = 7
N = 5000

# The same loop on both interpreters: encode a 64-byte-payload frame, and
# feed one to a Deframer. Prints "encode_us decode_us".
_LOOP = r"""
import time, sys
from protocol import frame, catalogue as c
N = int(sys.argv[-2]); R = int(sys.argv[-1])
payload = bytes([(i * 37) & 0xFF for i in range(64)])
enc = frame.Encoder()
at = enc.payload_at(c.FLAG_REPLY)
enc.raw[at:at + 64] = payload
wire = frame.encode(c.MSG_LOG_READ, 1, payload, c.FLAG_REPLY)
d = frame.Deframer()
try:
    clock, diff = time.ticks_us, time.ticks_diff
except AttributeError:
    clock = lambda: time.perf_counter_ns() // 1000
    diff = lambda a, b: a - b
enc_t = []; dec_t = []
for r in range(R):
    t = clock()
    for i in range(N):
        enc.finish(c.MSG_LOG_READ, i, c.FLAG_REPLY, 64)
    enc_t.append(diff(clock(), t) / N)
    t = clock()
    for i in range(N):
        d.feed(wire)
    dec_t.append(diff(clock(), t) / N)
enc_t.sort(); dec_t.sort()
print(enc_t[R // 2], dec_t[R // 2])
"""

def median_s(fn, repeats: int = REPEATS, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def cpu_s(fn, repeats: int = REPEATS) -> float:
    """median_s in this process's CPU time: the machine is shared, and
    another process's burst would otherwise land in a wall-clock figure
    (for single-threaded work on an idle machine the two agree)."""
    return median_s(fn, repeats, time.process_time)


KEY = bytes(range(32))


def synthetic_log(blocks: int, key: bytes = KEY, seed: int = 7) -> bytes:
    """A log of `blocks` full delta8 blocks (97 records each, a random walk
    of all nine channels, one boot, 1-minute records), a valid MAC chain
    under key. protocol.log.BlockWriter writes 16 distinct blocks; the rest
    are those re-sealed (seq, t0, CRC, MAC) in turn, so 100 MB takes about
    a second instead of a few minutes of writer."""
    import hashlib
    import random
    import struct
    import zlib

    from protocol import log
    from protocol.auth import Hmac
    from protocol.keys import LOG, derive

    rng = random.Random(seed)
    w = log.BlockWriter()
    h = Hmac(derive(key, LOG))
    vals = [500, 510, 490, 505, 450, 10130, 30, -10, 3700]
    kinds = []
    for _ in range(16):
        w.start_samples(0, 60, vals, 0x81)
        while True:
            nxt = [v + rng.randint(-3, 3) for v in vals]
            if not w.add_sample(nxt, 0x81):
                break
            vals = nxt
        kinds.append(bytes(w.block[: w.seal(0, 1, h, log.GENESIS_MAC)]))
    head = struct.Struct(log.HEADER_FMT)
    pad = derive(key, LOG).ljust(64, b"\0")  # the MAC chain's key (SPEC 4.7)
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in pad))
    outer = hashlib.sha256(bytes(k ^ 0x5C for k in pad))
    out = bytearray()
    mac = log.GENESIS_MAC
    t = 0
    for seq in range(blocks):
        b = bytearray(kinds[seq % len(kinds)])
        f = list(head.unpack_from(b))
        f[5], f[8] = seq, t
        t += f[7] * 60
        head.pack_into(b, 0, *f)
        end = len(b) - log.TRAILER_LEN
        struct.pack_into("<I", b, end, zlib.crc32(b[:end]))
        i = inner.copy()
        i.update(mac)
        i.update(b[:end])
        o = outer.copy()
        o.update(i.digest())
        mac = o.digest()[: log.MAC_LEN]
        b[end + 4 :] = mac
        out += b
    return bytes(out)


def every_other_damaged(raw: bytes) -> bytes:
    """raw with a payload byte of every other block flipped: each such
    block fails its CRC, and the one after it chains to a lost MAC."""
    from podctl.blocks import walk

    out = bytearray(raw)
    for b in walk(raw)[0][1::2]:
        out[b.offset + 30] ^= 0xFF
    return bytes(out)


def _pulled(raw: bytes, key: bytes):
    """raw as a pulled log whose manifest is the one its pull would write."""
    import hashlib

    from podctl.blocks import log_ends, walk
    from podctl.pulled import LogEnd, Manifest, Pulled

    ends = log_ends(raw, walk(raw)[0])
    assert ends is not None
    m = Manifest("bench", "0", "0", None, "bench",
                 LogEnd(len(raw), hashlib.sha256(raw).hexdigest(), *ends))
    return Pulled(Path("log.bin"), raw, m, Path("log.bin.manifest.json"))


def verify_figures() -> dict[str, float]:
    """The block walk with the MAC chain checked (podctl.blocks.walk) and
    the whole verification (podctl.verify on a pulled log with its
    manifest), on N and 2N blocks of about 1 KiB: clean, and with every
    other block damaged. A linear walk takes twice as long on twice the
    blocks; the old one rescanned the log per problem (4.4 s at 8,000
    damaged blocks, 16.8 s at 16,000).

    Times in CPU seconds; N and 2N are timed in turn, 11 times, and the
    ratio is the median of the 11 pairs', so that a burst of other work on
    this shared machine lands in both halves of a pair or is outvoted."""
    from podctl import verify
    from podctl.blocks import walk

    def paired(small_fn, big_fn) -> tuple[float, float]:
        """(median 2N time, median ratio of 2N to N)."""
        pairs = [(cpu_s(small_fn, 1), cpu_s(big_fn, 1)) for _ in range(11)]
        return (statistics.median(b for _, b in pairs),
                statistics.median(b / a for a, b in pairs))

    out: dict[str, float] = {}
    n = 8000
    big = synthetic_log(2 * n)
    small = big[: walk(big)[0][n].offset]
    for label, make in (("", lambda r: r), ("_damaged", every_other_damaged)):
        r1, r2 = make(small), make(big)
        t, ratio = paired(lambda r1=r1: walk(r1, [KEY]), lambda r2=r2: walk(r2, [KEY]))
        out[f"verify_blocks_per_s{label}"] = round(2 * n / t)
        out[f"verify_time_ratio_2x_blocks{label}"] = round(ratio, 2)
        p1, p2 = _pulled(r1, KEY), _pulled(r2, KEY)
        t, ratio = paired(lambda p1=p1: verify(p1, KEY), lambda p2=p2: verify(p2, KEY))
        out[f"verify_full_blocks_per_s{label}"] = round(2 * n / t)
        out[f"verify_full_time_ratio_2x_blocks{label}"] = round(ratio, 2)
    return out


def load_figures() -> dict[str, float]:
    """What a user waits for: bytes in memory to verified (the MAC chain
    checked: podctl.blocks.walk with the key) and decoded, with UTC
    (podctl.logdata.load: the vectorised decoder, events, SHA-256), on
    about 5 MB and 50 MB of full delta8 blocks. Baselines from the same
    run: SHA-256 of the same bytes, and a numpy.frombuffer copy of them.

    The decoded samples are 87-byte rows of float64, about 8 times the
    log: most of the time past the MACs is writing them. In a fresh
    process those pages are new to the machine; on this virtual machine
    the first touch of new memory costs about 1 s per GB, so the first
    load of a process is slower than the median (load_mb_per_s_first_run,
    wall clock). Times in CPU seconds (cpu_s)."""
    import hashlib
    import subprocess
    import sys

    import numpy as np

    from podctl import decode, logdata
    from podctl.blocks import walk

    def load(raw: bytes) -> logdata.LogData:
        blocks, _ = walk(raw, [KEY])
        return logdata.load(raw, blocks)

    out: dict[str, float] = {}
    rates = []
    for blocks, label in ((5000, "5mb"), (50000, "50mb")):
        raw = synthetic_log(blocks)
        data = load(raw)
        records = len(data.samples)
        del data
        t_load = cpu_s(lambda raw=raw: load(raw), 5)
        rate = len(raw) / 1e6 / t_load
        rates.append(rate)
        out[f"load_mb_per_s_end_to_end_{label}"] = round(rate, 1)
        out[f"load_records_per_s_{label}"] = round(records / t_load)
        if label == "5mb":
            t_sha = cpu_s(lambda raw=raw: hashlib.sha256(raw).digest())
            t_copy = cpu_s(lambda raw=raw: np.frombuffer(raw, np.uint8).copy())
            out["load_vs_sha256_ratio"] = round(t_load / t_sha, 1)
            out["load_vs_numpy_frombuffer_ratio"] = round(t_load / t_copy, 1)
            blocks_ = walk(raw)[0]
            out["load_walk_share"] = round(cpu_s(lambda raw=raw: walk(raw, [KEY])) / t_load, 2)
            out["load_decode_share"] = round(
                cpu_s(lambda raw=raw, b=blocks_: decode.decode(raw, b)) / t_load, 2)
    out["load_mb_per_s_end_to_end"] = round(min(rates), 1)
    # once, in a fresh process, as a command-line user meets it
    path = upy.ROOT / "build" / "bench-load-50mb.bin"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    code = (
        "import sys, time\n"
        "from podctl.blocks import walk\n"
        "from podctl import logdata\n"
        "raw = open(sys.argv[1], 'rb').read()\n"
        "t = time.perf_counter()\n"
        "logdata.load(raw, walk(raw, [bytes(range(32))])[0])\n"
        "print(len(raw) / 1e6 / (time.perf_counter() - t))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       check=False)
    path.unlink()
    if r.returncode != 0:
        raise SystemExit(f"bench: first-run load failed:\n{r.stderr}")
    out["load_mb_per_s_first_run_50mb"] = round(float(r.stdout), 1)
    return out


# Runs argv and prints its peak RSS in KiB. A child's ru_maxrss starts at
# the RSS of the process that spawned it (Linux counts the old address
# space's peak at exec), so the bench, which holds a 100 MB log, spawns
# through this small process rather than directly.
_RSS = r"""
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_pid, status, usage = os.wait4(p.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss_mb(argv: list[str]) -> float:
    """Peak resident memory of one process running argv, in MB."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _RSS, *argv], capture_output=True, text=True,
                       check=False)
    status, kib = (int(x) for x in r.stdout.split())
    if r.returncode != 0 or status != 0:
        raise SystemExit(f"bench: {' '.join(argv[:6])} failed:\n{r.stderr}")
    return round(kib / 1024, 1)


def decode_rss_figures() -> dict[str, float]:
    """Peak memory of `podctl logs decode LOG --format X -o OUT` on a
    100 MB log (about 9.7 million records), each in its own process; and
    the same through export.write_log, the streaming path the command is
    to call (..._write_log); and, as the baseline, a process that only
    reads the log and walks its blocks (what any command holds: the log
    itself is 102 MB of it)."""
    import sys

    d = upy.ROOT / "build" / "bench-decode"
    d.mkdir(parents=True, exist_ok=True)
    log_path = d / "log.bin"
    log_path.write_bytes(synthetic_log(100_000))
    # what `logs decode` does once it streams: open, verify without a key,
    # then export.write_log over the verdict's blocks
    stream = (
        "import sys\n"
        "import podctl.cli\n"
        "from podctl import export, open_pulled, verify\n"
        "p = open_pulled(sys.argv[1])\n"
        "v = verify(p, None)\n"
        "export.write_log(p.raw, v.blocks, sys.argv[2], sys.argv[3])\n"
    )
    base = "import sys\nfrom podctl import open_pulled\nopen_pulled(sys.argv[1]).blocks\n"
    out: dict[str, float] = {}
    try:
        out["decode_baseline_peak_rss_mb_100mb_log"] = _peak_rss_mb(
            [sys.executable, "-c", base, str(log_path)])
        for fmt in ("csv", "parquet", "json"):
            dest = d / f"out.{fmt}"
            out[f"decode_{fmt}_peak_rss_mb_100mb_log_write_log"] = _peak_rss_mb(
                [sys.executable, "-c", stream, str(log_path), fmt, str(dest)])
            out[f"decode_{fmt}_peak_rss_mb_100mb_log"] = _peak_rss_mb(
                [sys.executable, "-m", "podctl.cli", "logs", "decode", str(log_path),
                 "--format", fmt, "-o", str(dest)])
    finally:
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
    return out



def frame_figures() -> dict[str, float]:
    out: dict[str, float] = {}
    r = upy.run_cpython(_LOOP, str(N), str(REPEATS))
    if r.returncode != 0:
        raise SystemExit(f"bench: cpython run failed:\n{r.stderr}")
    e, d = (float(x) for x in r.stdout.split())
    out["frame_encode_us_cpython"] = round(e, 2)
    out["frame_decode_us_cpython"] = round(d, 2)
    r = upy.run(_LOOP, str(N), str(REPEATS), timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"bench: micropython run failed:\n{r.stderr}")
    e, d = (float(x) for x in r.stdout.split())
    out["frame_encode_us_micropython"] = round(e, 2)
    out["frame_decode_us_micropython"] = round(d, 2)
    # baseline in the same run: CRC-32 of the same 82-byte frame body, the
    # one step neither side can avoid, so the ratios say what framing costs
    body = bytes(frame.Encoder().raw[: frame.HEADER_LEN + 64])
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for _ in range(N):
            frame.crc32(body)
        times.append((time.perf_counter() - t) / N * 1e6)
    out["frame_wire_bytes_64b_payload"] = len(frame.encode(c.MSG_LOG_READ, 1, PAYLOAD, 1))
    out["frame_decode_vs_crc32_ratio_cpython"] = round(
        out["frame_decode_us_cpython"] / statistics.median(times), 1
    )
    return out


# On micropython: the Pico's filesystem geometry (4 KiB blocks, 1408 KiB),
# 1-minute 9-channel samples in full delta8 blocks appended through the
# firmware's LogStore; counts what littlefs programs and erases.
_LOG = r"""
import vfs, sys
from _support import RAMBlockDev
from firmware.logstore import LogStore
from protocol import log
from protocol.auth import Hmac
bd = RAMBlockDev(4096, 352)
vfs.VfsLfs2.mkfs(bd)
vfs.mount(vfs.VfsLfs2(bd), "/flash")
s = LogStore("/flash", 1 << 30).open()
w = log.BlockWriter(); mac = Hmac(bytes(range(32)))
w0, e0 = bd.writes, bd.erases
records = blocks = 0
for b in range(int(sys.argv[-1])):
    vals = [500 + b % 50] * log.NCHAN
    w.start_samples(b * 6000, 60, vals, 0, log.FMT_DELTA4)  # as the firmware writes
    while w.add_sample(vals, 0):
        pass
    n = w.seal(s.next_seq, 1, mac, s.last_mac)
    s.append(w.block, n)
    records += w.count; blocks += 1
print(s.size, records, blocks, bd.writes - w0, bd.erases - e0)
"""


def log_figures() -> dict[str, float]:
    blocks = 300
    r = upy.run(_LOG, str(blocks), extra_path=(upy.ROOT / "tests" / "mp",), timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"bench: micropython log run failed:\n{r.stderr}")
    size, records, blocks, programmed, erases = (int(x) for x in r.stdout.split())
    per_record = size / records
    return {
        "log_bytes_per_record": round(per_record, 3),
        "log_days_1min_8ch_1400kb": round(1400 * 1024 / per_record / 1440, 1),
        "log_write_amplification": round(programmed / size, 2),
        "log_erases_per_kib": round(erases / (size / 1024), 2),
    }


# Mission state saves (firmware/pod.py: every STATE_S seconds and on every
# phase or alarm change) through storefile on the same geometry.
_STATE = r"""
import vfs, sys
from _support import RAMBlockDev
from firmware import storefile
bd = RAMBlockDev(4096, 352)
vfs.VfsLfs2.mkfs(bd)
vfs.mount(vfs.VfsLfs2(bd), "/flash")
n = int(sys.argv[-1])
e0 = bd.erases
for i in range(n):
    storefile.write("/flash", "mission", bytes(24))
print(bd.erases - e0)
"""


def _mission(tmp: Path, seconds: int, heap: str, rom: bool) -> dict | None:
    from tests.test_firmware_heap import figures, run_mission

    r = run_mission(tmp, seconds, heap, rom=rom)
    if r.returncode != 0:
        return None
    return figures(r)


def _min_heap(tmp: Path, lo: int, hi: int, step: int, rom: bool) -> int:
    """Smallest heap (KiB, to `step`) in which the day mission runs: hi is
    known to run, lo known not to."""
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if _flew(_mission(tmp, 86400, f"{mid}K", rom)):
            hi = mid
        else:
            lo = mid
    return hi


def _flew(got: dict | None) -> bool:
    """The day flew: the run ended, and nothing was refused or lost (a
    MemoryError inside a handler is answered with an ERROR since issue 15's
    F8, so a run that ends is not enough: the profile commit it refused
    would leave the old profile in force)."""
    return (got is not None and got["lost"] == 0 and got["refused"] == 0
            and got["served"] == got["requests"] and bool(got["profile_is_the_new_one"]))


def firmware_figures(log: dict[str, float]) -> dict[str, float]:
    """The whole firmware, precompiled as deployed, on the micropython binary:
    a day-long mission on a one-node plant with a host reading it every hour
    (tests/mp/_mission.py), from a ROMFS image in a 64 KiB heap as a board
    runs it, and as .mpy files loaded into the heap."""
    import tempfile

    from firmware.pod import STATE_S

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        got = _mission(Path(d), 86400, "64K", rom=True)
        if got is None:
            raise SystemExit("bench: the firmware's day mission failed in a 64 KiB heap")
        out["fw_tick_us_micropython"] = round(got["tick_us"], 1)
        out["fw_tick_alloc_bytes"] = got["alloc_bytes_per_tick"]
        out["fw_import_heap_kb_romfs"] = round(got["code_bytes"] / 1024, 1)
        out["fw_heap_in_use_kb_romfs"] = round((got["code_bytes"] + got["data_bytes"]) / 1024, 1)
        out["fw_min_heap_kb"] = _min_heap(Path(d), 32, 64, 2, rom=True)
        got = _mission(Path(d), 86400, "512K", rom=False)
        if got is None:
            raise SystemExit("bench: firmware mission (.mpy in the heap) failed")
        out["fw_data_heap_kb"] = round(got["data_bytes"] / 1024, 1)
        out["fw_code_heap_kb_mpy"] = round(got["code_bytes"] / 1024, 1)
        out["fw_min_heap_kb_mpy"] = _min_heap(Path(d), 64, 512, 8, rom=False)
    # names the firmware puts in the qstr pools (tests/test_firmware_heap.py)
    from tests.test_firmware_heap import qstr_count

    with tempfile.TemporaryDirectory() as d:
        out["fw_qstrs"] = qstr_count(Path(d))
    n = 200
    r = upy.run(_STATE, str(n), extra_path=(upy.ROOT / "tests" / "mp",), timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"bench: state save run failed:\n{r.stderr}")
    per_save = int(r.stdout) / n
    out["state_save_erases"] = round(per_save, 2)
    # flash wear over a 90-day mission of 1-minute samples: log blocks plus
    # state saves, spread by littlefs over the 352 blocks of the filesystem
    log_kib = 90 * 1440 * log["log_bytes_per_record"] / 1024
    erases = log_kib * log["log_erases_per_kib"] + 90 * 86400 / STATE_S * per_save
    out["flash_erase_cycles_per_block_90d"] = round(erases / 352, 1)
    return out


def sil_figures() -> dict[str, float]:
    """The nominal scenario at its 1-second tick, the whole 10-day mission,
    on both engines (one after the other: the figures are per core)."""
    from podctl.sim_cmds import load_run_inputs
    from sim import run as simrun

    sc, prof = load_run_inputs("nominal")
    out: dict[str, float] = {}
    logs = {}
    for engine in simrun.ENGINES:
        t = time.perf_counter()
        res = simrun.run(sc, prof, engine)
        dt = time.perf_counter() - t
        if not res.passed:
            raise SystemExit(f"bench: nominal failed its expectations on {engine}: {res.checks}")
        out[f"sil_ticks_per_s_{engine}"] = round(res.summary["ticks"] / dt)
        out[f"sil_mission_s_{engine}"] = round(dt, 1)
        logs[engine] = res.log
    out["sil_engines_log_identical"] = int(logs["cpython"] == logs["micropython"])
    out["sil_log_bytes_nominal"] = len(logs["cpython"])
    return out


def decode_figures() -> dict[str, float]:
    """host/podctl/decode.py on one core: records per second, timing the decode only
    (the integrity walk that lists the blocks runs once, outside the timing),
    on 4.9 MiB of full delta8 blocks (3.6 times the board's log budget)
    and on the nominal mission's log (full and partial blocks, as written)
    repeated to a similar size. The ratio puts it against a bare
    numpy.frombuffer plus copy of the same bytes, measured in the same run.

    What holds the ratio above 1: the output is about 8 times the input
    (87-byte SAMPLE_DTYPE rows of float64 against ~10.5 bytes a record on
    flash), on fresh pages the kernel must fault in and zero; the per-column
    running sum and the int->float scaling are further passes over every
    value; and the work runs in cache-sized chunks, with a few dozen numpy
    calls of fixed overhead each."""
    import numpy as np

    from podctl import decode
    from podctl.blocks import walk
    from podctl.sim_cmds import load_run_inputs
    from sim import run as simrun

    out: dict[str, float] = {}
    raw = synthetic_log(5000)
    blocks, problems = walk(raw)
    if problems:
        raise SystemExit(f"bench: synthetic log damaged: {problems[0]}")
    records = sum(b.count for b in blocks if b.kind == 1)
    samples, _ = decode.decode(raw, blocks)  # warm up; and check
    if len(samples) != records:
        raise SystemExit("bench: decode lost records")
    t_decode = median_s(lambda: decode.decode(raw, blocks))
    t_bare = median_s(lambda: np.frombuffer(raw, np.uint8).copy())
    out["decode_records_per_s"] = round(records / t_decode)
    out["decode_vs_numpy_frombuffer_ratio"] = round(t_decode / t_bare, 1)
    sc, prof = load_run_inputs("nominal", 60)
    mission = simrun.run(sc, prof, "cpython").log
    raw = mission * (len(raw) // len(mission))  # seq repeats: decode does not mind
    blocks, _ = walk(raw)
    records = sum(b.count for b in blocks if b.kind == 1)
    t_mix = median_s(lambda: decode.decode(raw, blocks))
    out["decode_records_per_s_mission_log"] = round(records / t_mix)
    return out


def download_figures() -> dict[str, float]:
    """A log pull from the virtual board over its pty: the whole nominal
    mission flown at full simulator speed, then pulled while the board keeps
    logging (host/podctl/pull_cmd.py)."""
    import argparse
    import os
    import signal
    import tempfile

    from rich.console import Console

    from podctl import cli, pull_cmd
    from podctl.board_cmd import spawn
    from sim import scenario

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")
        proc, port = spawn("nominal", 0, tmp / "flash.img", tmp / "port")
        try:
            quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 (one run, closed at exit)
            for args in (["flash"], ["profile", "upload", "nominal"], ["time", "sync"]):
                if cli.main([*args, "--port", port]) != 0:
                    raise SystemExit(f"bench: podctl {args[0]} failed on the virtual board")
            end = scenario.load("nominal")["duration_s"]
            log = tmp / "board.log"
            while True:
                lines = [ln for ln in log.read_text().splitlines() if ln.startswith("status ")]
                if lines and json.loads(lines[-1][7:])["t"] >= end:
                    break
                time.sleep(0.5)
            args = argparse.Namespace(port=port, keystore=None, out=tmp / "pulled")
            got = pull_cmd.pull(args, quiet)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            os.environ.pop("PODCTL_KEYSTORE", None)
    return {
        "download_kib_per_s_virtual": round(got["kib_per_s"]),
        "download_efficiency": round(got["efficiency"], 3),
        "download_log_bytes": got["bytes"],
    }


def powercut_figures() -> dict[str, float]:
    """Issue 15. The power cut at every flash operation of tests/powercut.py's
    workload (the firmware on the micropython binary, littlefs on NOR
    flash), clean and torn, and the board booted on what each cut left.
    powercut_records_lost: durable records missing after the boot, summed
    over the cut points; powercut_profiles_lost, _keys_lost, _seq_reused,
    _boot_failures, _unverified: cut points whose boot ran neither profile
    or lacked its event, lost the key or the log's MACs, numbered a block
    with a durable block's seq, did not boot, did not verify. Targets 0;
    the failing cut points go to stderr."""
    from tests.powercut import bench_figures

    return bench_figures()


def tamper_figures() -> dict[str, float]:
    """Every generated tampering of a sealed pull (tests/tamper.py) given to
    podctl.verify with the device's key: how many, and how many came out
    VERIFIED (target 0)."""
    import tempfile

    from podctl import verify
    from podctl.cli import main as cli
    from tests.tamper import mutations

    with tempfile.TemporaryDirectory(prefix="podtamper") as d:
        run = Path(d) / "run"
        assert cli(["sim", "run", "nominal", "--tick-s", "60", "-o", str(run)]) == 0
        key = (run / "key.bin").read_bytes()
        tried = undetected = 0
        for _name, pulled in mutations(run):
            tried += 1
            undetected += verify(pulled, key).status == "VERIFIED"
    return {"tamper_mutations": tried, "tamper_undetected": undetected}


def link_figures() -> dict[str, float]:
    """Issue 14. Every attack of tests/link_attacks.py played on the virtual
    board through the relay: how many, and how many succeeded (target 0;
    each one that did is printed). And a flood of each unauthenticated
    request (tests/mp/test_unauth_flood.py, about a MiB of each, a pod
    against its quiet twin): the bytes it made the pod write to flash per
    MiB of requests (target 0)."""
    import sys
    import tempfile

    from tests import link_attacks as la

    sys.path.insert(0, str(la.MP))
    import test_unauth_flood as fl

    out: dict[str, float] = {}
    for kind, name in ((c.MSG_LOG_INFO, "log_info"), (c.MSG_STATUS, "status"),
                       (c.MSG_IDENTIFY, "identify"), (c.MSG_LOG_READ, "log_read")):
        per_second = -(-(1 << 20) // (fl.SECONDS * len(fl.request(kind, 1))))
        extra, sent = fl.flood((kind,), fl.SECONDS, per_second)
        out[f"unauth_flash_bytes_per_mib_{name}"] = round(extra / (sent / (1 << 20)), 3)
    tried = succeeded = 0
    with tempfile.TemporaryDirectory(prefix="podattack") as d:
        end = la.BoardEnd(Path(d))
        try:
            for v in la.run(la.cases(board=True), lambda case: end):
                tried += 1
                if v.succeeded:
                    succeeded += 1
                    print(f"bench: attack succeeded: {v}", file=sys.stderr)
        finally:
            end.close()
    out["link_attacks_tried"] = tried
    out["link_attacks_succeeded"] = succeeded
    return out


def fuzz_figures() -> dict[str, float]:
    """Issue 15. The keyed, structure-aware fuzzer of the link
    (tests/fuzz.py) on CPython: cases played, and those that broke a rule
    (an exception out of the firmware, an unanswered frame, a bad verdict,
    a late tick, a log that does not chain): target 0."""
    from tests import fuzz

    got = fuzz.run(3, 200_000)
    return {"fuzz_cases": got["cases"], "fuzz_crashes": got["crashes"],
            "fuzz_s": round(got["seconds"], 1)}


def flood_figures() -> dict[str, float]:
    """Issue 15, F7. A 10 MiB flood of frames nobody holding the key sent
    (noise, forged tags, untagged commands, unknown types, open requests
    out of range, replays of a signed command), spread over three hours of
    ticks with an operator at work (tests/mp/test_refusal_flood.py), held to
    its quiet twin: the log bytes it cost per MiB (target <= 1 KiB), the
    operator, alarm and fault events it cost (target 0), and refusals the
    log does not account for (0). Then the same junk fed as fast as the
    board takes it to the serve loop on the micropython binary with the
    real clock (tests/mp/_flood_serve.py) for FLOOD_S seconds: the longest
    gap between two control ticks (a tick is due every 1,000 ms) and the
    rate the board took."""
    import os
    import subprocess
    import sys
    import threading

    from tests import link_attacks as la

    sys.path.insert(0, str(la.MP))
    import test_refusal_flood as fl

    got = fl.figures(10 << 20)
    out: dict[str, float] = {
        "flood_mib": round(got["fed"] / (1 << 20), 2),
        "flood_log_bytes_per_mib": got["log_bytes_per_mib"],
        "flood_operator_events_lost": got["events_lost"],
        "flood_refusals": got["refused"],
        "flood_refusals_unaccounted": got["unaccounted"],
    }
    env = dict(os.environ, MICROPYPATH=upy.micropypath(la.MP))
    proc = subprocess.Popen([upy.binary(), str(la.MP / "_flood_serve.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    replies = [0]

    def drain() -> None:
        while chunk := proc.stdout.read1(65536):  # type: ignore[union-attr]
            replies[0] += len(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    rng = fl.Lcg(5)
    sent = 0
    t = time.perf_counter()
    while time.perf_counter() - t < FLOOD_S:
        batch = b"".join(fl.junk(rng, None) for _ in range(64))
        proc.stdin.write(batch)  # type: ignore[union-attr]
        sent += len(batch)
    elapsed = time.perf_counter() - t
    proc.stdin.close()  # type: ignore[union-attr]
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    proc.wait(timeout=60)
    reader.join(timeout=10)
    board = json.loads(err.strip().splitlines()[-1])
    out["flood_tick_gap_ms_max"] = board["max_gap_ms"]
    out["flood_serve_kib_per_s"] = round(sent / elapsed / 1024, 1)
    out["flood_serve_ticks"] = board["ticks"]
    return out


FLOOD_S = 30  # the real-clock flood of flood_figures


def linkfault_figures() -> dict[str, float]:
    """Issue 15. Whole transfers (log pulls of a multi-day log, profile
    upload and commit, time sync, key rotation, status) through a relay
    that corrupts, drops and duplicates 1 % of the chunks each
    (tests/linkfault.py): how many, and how many completed with a wrong
    result or left the device and keystore apart (target 0)."""
    from tests.linkfault import bench_figures

    return bench_figures()


def rp2hal_figures() -> dict[str, float]:
    """Issue 16. The serve loop against a model of rp2's USB CDC stdout
    (tests/mp/_cdc.py, on a virtual clock, on the micropython binary): a
    host that holds the port open and stops reading for 10 s; the most a
    control tick was later than with a host that reads (target 0). The
    deploy cut at every file (tests/deploy_cuts.py), when there."""
    import sys

    from tests import link_attacks as la

    sys.path.insert(0, str(la.MP))
    # the same run with a host that always reads is the baseline: the
    # model's clock costs a millisecond a reading, so a pass of the loop
    # shows as a few ms between ticks either way
    got = []
    for deaf in ("3000, 13000", "10 ** 9, 10 ** 9"):  # one process each: the flash is RAM
        r = upy.run(f"import test_usb_writes as t\nh, cdc, p = t.run({deaf})\n"
                    "print(max(t.gaps(h)), len(cdc.replies))\n", extra_path=(la.MP,),
                    timeout=300)
        assert r.returncode == 0, r.stderr
        got.append([int(x) for x in r.stdout.split()])
    (gap, replies), (base, _) = got
    out: dict[str, float] = {"rp2hal_tick_late_ms_max_host_not_reading": max(0, gap - base),
                             "rp2hal_tick_gap_ms_max_host_not_reading": gap,
                             "rp2hal_tick_gap_ms_max_host_reading": base,
                             "rp2hal_replies_after_deaf_host": replies}
    try:
        from tests import deploy_cuts
    except ImportError:
        print("bench: rp2hal: tests/deploy_cuts.py not there, deploy figures skipped",
              file=sys.stderr)
    else:
        out.update(deploy_cuts.bench_figures())
    return out


def seeds_figures() -> dict[str, float]:
    """Issue 15. Every scenario on three seeds other than its tuned one
    (2, 3, 4) at its own 1 s tick, the firmware unchanged, every
    expectation checked (tests/seeds.py): runs and failures (target 0;
    each failure printed with the command that replays it)."""
    from tests.seeds import bench_figures

    return bench_figures()


def pico_fs_figures() -> dict[str, float]:
    """Issue 15, F6. 180,000 one-minute records (125 days) on the Pico's
    own littlefs (352 blocks of 4 KiB, the deployed bundle in /lib), the
    overwrite policy, a clean power cycle every 30,000 records
    (tests/test_pico_fs.py): records lost (target 0: every record taken is
    held or named dropped by the device's own events), the budget derived,
    the records the policy dropped, and the writes that failed (ENOSPC)."""
    import tempfile

    from tests import test_pico_fs as pf

    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="podpico") as d:
        got, raw = pf.fly(Path(d), 180_000, 30_000, 352, timeout=3600)
        a = pf.accounted(got, raw)
    return {
        "pico_fs_mission_records": got["records"],
        "pico_fs_mission_records_lost": a["lost"],
        "pico_fs_mission_failed_writes": got["failed_writes"],
        "pico_fs_records_dropped": got["dropped"],
        "pico_fs_log_budget_bytes": min(got["budgets"]),
        "pico_fs_free_bytes_at_start": got["free_at_start"],
        "pico_fs_head_named": int(a["named"]),
        "pico_fs_s": round(time.perf_counter() - t, 1),
    }


GROUPS = {
    "frame": frame_figures,
    "log": log_figures,
    "firmware": None,  # needs log's figures: run with them
    "sil": sil_figures,
    "decode": decode_figures,
    "verify": verify_figures,
    "load": load_figures,
    "decode_rss": decode_rss_figures,
    "download": download_figures,
    "report": None,  # tests/bench_report.py: the QA report of a 90-day mission
    "tamper": tamper_figures,
    "powercut": powercut_figures,
    "link": link_figures,
    "fuzz": fuzz_figures,
    "flood": flood_figures,
    "pico_fs": pico_fs_figures,
    "linkfault": linkfault_figures,
    "rp2hal": rp2hal_figures,
    "seeds": seeds_figures,
    # groups kept in modules of their own (tests/bench_<name>.py, figures())
    "campaign": "campaign",
    "capacity": "capacity",
    "rp2heap": "rp2heap",
    "probes": "probes",
    "forecast": "forecast",
    "forecast_pack": "forecast_pack",
    "monitor": "monitor",
    "lowbattery": "lowbattery",
}


def main(argv: list[str] | None = None) -> None:
    """Every group of figures, or those named (python -m tests.bench verify
    load): the others keep their last values in build/bench.json."""
    import sys

    names = list(GROUPS) if not (argv if argv is not None else sys.argv[1:]) else (
        argv if argv is not None else sys.argv[1:])
    unknown = set(names) - set(GROUPS)
    if unknown:
        raise SystemExit(
            f"bench: no group {', '.join(sorted(unknown))}; groups: {', '.join(GROUPS)}")
    figures: dict[str, float] = {}
    t = time.perf_counter()
    for name in names:
        if name == "firmware":
            if "log_bytes_per_record" not in figures:
                figures.update(log_figures())
            figures.update(firmware_figures(figures))
        elif name == "report":
            from tests.bench_report import report_bench

            figures.update(report_bench())
        elif isinstance(GROUPS[name], str):
            import importlib

            figures.update(importlib.import_module(f"tests.bench_{GROUPS[name]}").figures())
        else:
            make = GROUPS[name]
            assert callable(make)
            figures.update(make())
    OUT.parent.mkdir(exist_ok=True)
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    old.update(figures)
    OUT.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        print(f"{k:<{width}}  {v}")
    print(f"wrote {OUT} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
