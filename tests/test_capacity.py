"""Issue 16, "space on the real filesystem": the Pico's own littlefs, with
the firmware bundle deployed, holds at least 90 days of one-minute samples.

The budget is the one the unchanged firmware derives on the micropython
binary on the Pico's geometry with the .mpy bundle in /lib
(tests/test_pico_fs.py); the bytes a day are every scenario's real log
(sample and event blocks, through the firmware's recorder on the CPython
engine at make test's 10 s tick) over its records, x 1440. In format 1 the
same records take 10.6 bytes or more: 59 days. make bench (group capacity,
tests/bench_capacity.py) flies the scenarios at their own 1 s tick.
"""

from __future__ import annotations

import pytest

from protocol import block as layout
from sim import scenario
from tests import bench_capacity as cap

TICK_S = 10
DAYS = 90


@pytest.fixture(scope="module")
def budget() -> int:
    return cap.pico_budget()


@pytest.fixture(scope="module")
def logs() -> dict[str, bytes]:
    return {name: cap.mission_log(name, TICK_S)[0] for name in scenario.scenario_names()}


def test_the_pico_holds_90_days_of_every_scenario(budget, logs):
    for name, raw in logs.items():
        per = cap.per_record(raw)
        days = budget / (per * cap.RECORDS_A_DAY)
        assert days >= DAYS, (name, round(per, 3), round(days, 1))
        assert per <= 6.5, name  # the target, all told


def test_format_1_would_not(budget, logs):
    """The same records blocked as the firmware wrote them before: under 60
    days; and the recorder's rules rebuild the firmware's own fmt 3 log to
    the byte count (so the comparison is like for like)."""
    raw = logs["nominal"]
    old, records = cap.reblock(raw, layout.FMT_DELTA8)
    assert budget / (cap.per_record(old) * cap.RECORDS_A_DAY) < 60
    again, n = cap.reblock(raw, layout.FMT_DELTA4)
    assert n == records and len(again) == len(raw)


def test_blocks_are_capped_at_the_power_cut_bound(logs):
    """fmt 3 would fit 193 records a block; the writer stops at 97, the
    open block a power cut loses (SPEC 7.10)."""
    raw = logs["nominal"]
    from podctl.blocks import walk

    counts = [b.count for b in walk(raw)[0] if b.kind == layout.KIND_SAMPLES]
    assert max(counts) == layout.RECORDS_MAX == 97
    assert len(cap.uncapped(raw)) < len(raw)  # what the cap costs in bytes
