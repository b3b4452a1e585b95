"""`make bench` figures for issue 16, "space on the real filesystem": how
many days of one-minute samples the Pico's own littlefs holds with the
firmware bundle deployed, now that the firmware logs in format 3.

  rp2hal_mission_days_log_fits   the log budget LogStore derives on the
      Pico's filesystem (352 blocks of 4 KiB, the .mpy bundle in /lib; the
      unchanged firmware on the micropython binary, tests/test_pico_fs.py)
      over the log bytes a day of one-minute records takes: every
      scenario (sim/scenarios) flown through the unchanged firmware on the
      CPython engine at the scenario's own tick, its whole log (sample and
      event blocks) over its sample records, x 1440; the worst scenario.
  log_bytes_per_record_delta4    that worst figure (bytes a record, events
      included); _delta8: the same records re-blocked in format 1 as the
      firmware wrote them before (a new block when a delta does not fit a
      byte, 97 at most), with the same event blocks; _delta4_193: format 3
      without the 97-record cap (blocks up to BLOCK_MAX, what a power cut
      would then lose: up to 193 records)
  decode_records_per_s_delta4, _delta8 and their ratio
      (decode_speed_ratio_delta4_to_delta8): podctl's numpy decoder on the
      same records in either format, a log of N and of 2N blocks (the
      ratio at 2N too, _2n), best of 5

Not part of `make test` (tests/test_capacity.py checks the same at a 60 s
tick). PODCTL_SIM_TICK overrides the scenarios' tick (1 s: about 5
minutes in all on this machine).

  python -m tests.bench_capacity        # prints the figures as JSON
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from podctl import decode
from podctl.blocks import walk
from podctl.sim_cmds import load_run_inputs
from protocol import block as layout
from protocol import log
from protocol.auth import Hmac
from sim import run as simrun
from sim import scenario

RECORDS_A_DAY = 1440  # one-minute samples
_MAC = Hmac(bytes(32))  # sizes only: any key makes the same bytes count


def pico_budget() -> int:
    """The log budget the firmware derives on the Pico's littlefs with the
    .mpy bundle in /lib (a short mission on the micropython binary)."""
    from tests import test_pico_fs as pf

    with tempfile.TemporaryDirectory(prefix="podcap") as d:
        got, _ = pf.fly(Path(d), 300, 100, 352)
    return min(got["budgets"])


def mission_log(name: str, tick: int | None = None) -> tuple[bytes, bytes]:
    """(log, key) of one scenario flown by the unchanged firmware."""
    sc, prof = load_run_inputs(name, tick)
    res = simrun.run(sc, prof, "cpython")
    return res.log, res.key


def reblock(raw: bytes, fmt: int) -> tuple[bytes, int]:
    """The log's sample records re-written in fmt by the recorder's rules: a
    record goes into the open block while it keeps the block's timing (same
    boot and interval, at t0 + count x interval) and fits; otherwise the
    block is sealed and the record opens the next. Event blocks are kept as
    they are. (bytes, records)"""
    blocks, _ = walk(raw)
    w = layout.BlockWriter()
    out = bytearray()
    records = 0
    boot = None
    for b in blocks:
        blk = log.parse_block(raw, b.offset)
        assert isinstance(blk, log.Block), blk
        if blk.kind != log.KIND_SAMPLES:
            out += raw[b.offset : b.offset + b.size]
            continue
        for t, values, status in log.samples(raw, blk):
            records += 1
            if (boot == blk.boot and blk.interval == w.interval
                    and t == w.t0 + w.count * w.interval and w.add_sample(values, status)):
                continue
            if boot is not None:
                out += w.block[: w.seal(0, 0, _MAC, layout.GENESIS_MAC)]
            w.start_samples(t, blk.interval, values, status, fmt)
            boot = blk.boot
    if boot is not None:
        out += w.block[: w.seal(0, 0, _MAC, layout.GENESIS_MAC)]
    return bytes(out), records


def per_record(raw: bytes) -> float:
    blocks, _ = walk(raw)
    return len(raw) / sum(b.count for b in blocks if b.kind == log.KIND_SAMPLES)


def uncapped(raw: bytes) -> bytes:
    """The log re-blocked in format 3 with no cap on records a block."""
    old = layout.RECORDS_MAX
    layout.RECORDS_MAX = 1 << 16  # the writer reads it at each record (CPython)
    try:
        return reblock(raw, layout.FMT_DELTA4)[0]
    finally:
        layout.RECORDS_MAX = old


def decode_rate(raw: bytes, repeats: int = 5) -> float:
    """Records a second through podctl's numpy decoder, best of repeats."""
    blocks, _ = walk(raw)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        samples, _events = decode.decode(raw, blocks)
        best = min(best, time.perf_counter() - t)
    return len(samples) / best


def samples_only(raw: bytes, copies: int) -> bytes:
    """The log's sample blocks, `copies` times over (what is timed: events
    decode the same in either format)."""
    blocks, _ = walk(raw)
    one = b"".join(raw[b.offset : b.offset + b.size] for b in blocks
                   if b.kind == log.KIND_SAMPLES)
    return one * copies


def figures() -> dict[str, float]:
    env = os.environ.get("PODCTL_SIM_TICK")
    tick = int(env) if env else None
    worst = ("", 0.0, b"")
    for name in scenario.scenario_names():
        raw, _key = mission_log(name, tick)
        got = per_record(raw)
        print(f"capacity: {name} {got:.3f} bytes a record", flush=True)
        if got > worst[1]:
            worst = (name, got, raw)
    name, delta4, raw = worst
    delta8 = reblock(raw, layout.FMT_DELTA8)[0]
    budget = pico_budget()
    out: dict[str, float] = {
        "rp2hal_mission_days_log_fits": round(budget / (delta4 * RECORDS_A_DAY), 1),
        "log_bytes_per_record_delta4": round(delta4, 3),
        "log_bytes_per_record_delta8": round(per_record(delta8), 3),
        "log_bytes_per_record_delta4_193": round(per_record(uncapped(raw)), 3),
        "capacity_log_budget_bytes": budget,
        "capacity_sim_tick_s": tick or 0,  # 0: each scenario's own
    }
    print(f"capacity: worst scenario {name}", flush=True)
    # the same records in either format, N and 2N times over
    n = 20
    for label, copies in (("", n), ("_2n", 2 * n)):
        r4 = decode_rate(samples_only(raw, copies))
        r8 = decode_rate(samples_only(delta8, copies))
        if not label:
            out["decode_records_per_s_delta4"] = round(r4)
            out["decode_records_per_s_delta8"] = round(r8)
        out["decode_speed_ratio_delta4_to_delta8" + label] = round(r4 / r8, 3)
    return out


if __name__ == "__main__":
    print(json.dumps(figures(), indent=1))
