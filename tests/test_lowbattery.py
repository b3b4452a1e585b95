"""Stranded's battery runs out 25 h after battery_low latched: its log must
end within 20 records of the board's death (firmware/recorder.py closes
the open block at 20 records once the alarm is latched; before, the last
91 one-minute records died in RAM). Held against the simulator's truth
(its battery_empty_s), at the 10 s tick make test flies, on the scenario's
seed and on others."""

from __future__ import annotations

import pytest

from podctl.sim_cmds import load_run_inputs
from podctl.verdict import log_intact
from protocol import block as blk
from sim import run as simrun
from tests import bench_lowbattery as bench

LOW = 20  # firmware/recorder.py: the block's cap once battery_low is latched


def _fly(seed: int | None) -> tuple[simrun.Result, dict]:
    sc, prof = load_run_inputs("stranded", 10)
    res = simrun.run(sc, prof, "cpython", seed=seed, verify_log=log_intact)
    return res, bench.account(res.log, res.summary)


@pytest.fixture(scope="module")
def tuned():
    return _fly(None)


def test_stranded_log_ends_within_low_records_of_the_death(tuned):
    res, got = tuned
    assert res.passed, [t for ok, t in res.checks if not ok]  # log intact among them
    assert got["interval_s"] == 60
    assert 0 <= got["records_lost"] < LOW, got["records_lost"]  # was 91
    assert got["minutes_lost"] < LOW + 1


def test_blocks_written_with_the_alarm_latched_hold_low_records(tuned):
    _, got = tuned
    low = got["low_blocks"]
    # 25 h at one a minute, in twenties (the first is the block the alarm
    # latched in, closed at once with what it held)
    assert len(low) > 24 * 60 // LOW
    assert all(n == LOW for n in low[1:]), low
    assert 1 <= low[0] <= blk.RECORDS_MAX


def test_flash_cost_while_low_is_bounded(tuned):
    # 44 bytes of framing and a 19-byte key shared by 20 records, not 97
    _, got = tuned
    assert 5 < got["bytes_per_record_healthy"] < 7
    assert 7.5 < got["bytes_per_record_low"] < 9.5
    assert 2.5 < got["blocks_per_hour_low"] <= 3


@pytest.mark.parametrize("seed", [2, 3])
def test_other_seeds_end_within_the_bound(seed):
    res, got = _fly(seed)
    assert res.passed, [t for ok, t in res.checks if not ok]
    assert got["records_lost"] < LOW, (seed, got["records_lost"])


def test_accounting_refuses_what_it_cannot_judge(tuned):
    res, _ = tuned
    with pytest.raises(ValueError, match="never ran out"):
        bench.account(res.log, dict(res.summary, battery_empty_s=None))
    bad = bytearray(res.log)
    bad[0] ^= 0xFF  # the first block's magic
    with pytest.raises(ValueError, match="damaged block at offset 0"):
        bench.account(bytes(bad), res.summary)


def test_littlefs_pays_an_append_a_block_not_a_rewrite_a_record():
    # on the board's filesystem (micropython, vfs.VfsLfs2): with the alarm
    # latched each 20-record block is one append, which littlefs takes as a
    # rewrite of the segment's last 4 KiB block; healthy, one each 97 records
    got = bench.flash_cost()
    assert got["erases_per_hour_healthy"] <= 1.5, got
    assert 2 <= got["erases_per_hour_low"] <= 5, got  # 3 blocks an hour, and events
    assert got["program_bytes_per_record_low"] < 4 * got["program_bytes_per_record_healthy"], got
