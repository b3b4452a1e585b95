"""Issue 15, F6: the log's budget is derived from the filesystem it is on.

The unchanged firmware on the micropython binary, on a fresh littlefs with
the deployed bundle in /lib (tests/mp/_pico_mission.py), records one-minute
samples under the overwrite policy through several power cycles. Nothing may
be lost to a full filesystem: every record taken is either in the log or
named by the device's own STORAGE_FULL events as dropped by the policy, and
verify says how many ("head dropped by the device: N records"). make test
flies a 96-block flash in 16 KiB segments (the policy rolls within 8,000
records; with room for fewer than three segments it could not roll); make
bench flies the Pico's 352 blocks for 180,000 records (pico_fs_* figures).
"""

from __future__ import annotations

import json
from pathlib import Path

from podctl import bundle
from podctl.blocks import walk
from podctl.verdict import _dropped
from protocol import log
from sim import upy

MP = Path(__file__).resolve().parent / "mp"
KEY = bytes(range(32))  # what the script provisions


def fly(tmp: Path, records: int, cycle: int, blocks: int,
        timeout: float = 900, segment: int = 0) -> tuple[dict, bytes]:
    """(the script's figures, the log's bytes)."""
    lib = tmp / "lib"
    if not lib.exists():
        bundle.compile_tree(lib, bundle.sources())
    out = tmp / "log.bin"
    r = upy.run(MP / "_pico_mission.py", str(tmp / "flash.img"), str(lib), str(records),
                str(cycle), str(blocks), str(segment), str(out), extra_path=(MP,), timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1]), out.read_bytes()


def accounted(got: dict, raw: bytes) -> dict:
    """Every record held or named dropped: the figures the bench records,
    and what verify says of the head."""
    blocks, _ = walk(raw, [KEY])
    ranges = []
    totals = []
    got["held"] = sum(b.count for b in blocks if b.kind == log.KIND_SAMPLES)
    for b in blocks:
        if b.kind == log.KIND_EVENTS:
            blk = log.parse_block(raw, b.offset)
            for e in log.events(raw, blk):
                if e[1] == log.EV_STORAGE_FULL and e[2] == 1:
                    ranges.append((e[4], e[3]))
                elif e[1] == log.EV_STORAGE_FULL and e[2] == 2:
                    totals.append(e[4])
    head = blocks[0].seq
    return {
        "lost": got["records"] - got["held"] - (totals[-1] if totals else 0) + got["lost"],
        "named": bool(ranges) and sum(ranges[-1]) == head,
        "said": _dropped(raw, blocks, head or 0),
        "totals": totals,
    }


def test_a_long_mission_rolls_without_losing_a_record(tmp_path):
    got, raw = fly(tmp_path, 8000, 3000, 96, segment=16384)
    assert got["failed_writes"] == 0 and got["lost"] == 0, got  # never ENOSPC
    assert got["dropped"] > 0 and got["head_dropped"], got  # the policy rolled
    # the budget is what the flash holds, not the 1,360 KiB cap
    assert all(b < 200 * 1024 for b in got["budgets"]), got
    assert got["log_bytes"] <= min(got["budgets"]), got
    a = accounted(got, raw)
    assert a["lost"] == 0, (got, a)
    assert a["named"] and a["totals"][-1] == got["dropped"], a
    assert a["said"].startswith(f"{got['dropped']} records (blocks "), a


def test_the_budget_follows_the_free_space(tmp_path):
    """The same mission on the Pico's whole flash: a bigger budget, derived
    at each boot, under the cap."""
    small, _ = fly(tmp_path, 300, 100, 128)
    big, _ = fly(tmp_path, 300, 100, 352)
    assert small["budgets"][0] < big["budgets"][0] < 1360 * 1024, (small, big)
    # every boot derives the same budget from the same flash (the log's own
    # blocks count as its own)
    assert len(set(big["budgets"])) == 1, big
