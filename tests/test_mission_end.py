"""Issue 17 on the scenarios' own logs (10 s tick): the end of the mission
is in the analysis (finding 10), a reset's deviations and bounds (findings
4, 5, 7) and the clock of the sealing boot (finding 8)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from podctl import deviations, fmt
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.verdict import verify
from tests.accounting import analyse_run

TOL_C = 0.3  # the estimate against the payload's truth (tests/test_report.py's budget)


@pytest.fixture(scope="module")
def return_slip(tmp_path_factory):
    out = tmp_path_factory.mktemp("return-slip")
    assert main(["sim", "run", "return-slip", "--tick-s", "10", "-o", str(out)]) == 0
    return out


def test_the_last_minutes_before_the_pull_are_in_the_figures(return_slip):
    # finding 10: the lid-open hand-over in the last 8 minutes before the
    # pull was in no sealed block; the seal now covers the open block, and
    # the recovery's maximum is the truth's (5.9 degC), not 5.08
    from podctl import analysis, assess
    from podctl.sim_cmds import load_run_inputs
    from protocol import profile as pf

    p = open_pulled(return_slip / "log.bin")
    v = verify(p, (return_slip / "key.bin").read_bytes())
    data = p.data(v.blocks)
    a = analysis.analyse(data, pf.check(load_run_inputs("return-slip", 10)[1]),
                         until=assess.log_end(v))
    assert v.status == "VERIFIED" and a.until is not None
    assert not [g for g in a.gaps if g.tail]  # nothing between the last record and the seal
    assert a.until.t - a.last.t <= 10
    with open(return_slip / "truth.csv") as f:
        rows = [r for r in csv.DictReader(f)]
    end = float(rows[-1]["t_s"])
    last = [float(r["payload_c"]) for r in rows if float(r["t_s"]) >= end - 8 * 60]
    recovery = a.phases[4]
    assert max(last) > 5.5  # the hand-over warms the payload
    assert recovery.t_max == pytest.approx(max(last), abs=TOL_C)
    assert recovery.t_max_at.utc >= a.until.utc - 8 * 60


@pytest.fixture(scope="module")
def reset_reentry():
    return analyse_run("reset-reentry", None, 10)


@pytest.fixture(scope="module")
def reset_reentry_unsynced(tmp_path_factory):
    """The same mission pulled by a crew that forgot the time sync at
    hand-over (or by another tool): boot 3 never clocked."""
    path = tmp_path_factory.mktemp("forgot") / "forgot.toml"
    path.write_text('base = "reset-reentry"\nhandover_sync = false\n')
    return analyse_run(str(path), None, 10)


def test_a_reset_mission_lists_its_restarts_and_bounds_its_unclocked_boots(reset_reentry):
    a, v, data = reset_reentry
    got = deviations.deviations(data, a, v)
    resets = [d for d in got if d.kind == "reset"]
    assert ["watchdog" in resets[0].what, "brownout" in resets[1].what] == [True, True]
    # the crew's time sync at hand-over clocks boot 3 (the sealing boot)
    # from its own TIME_SET: its restart is placed exactly
    assert not np.isnan(a.utc).any()
    zero3 = float((a.utc - a.t)[a.boot == 3][0])  # boot 3's uptime 0, in UTC
    assert resets[1].earliest == resets[1].latest == zero3
    assert deviations.at(resets[1]) == fmt.utc(zero3)
    # boot 2 (recordless) lies between boot 1's last record and boot 3's
    # start less its own run: bounded on both sides
    last1 = float((a.utc + a.dt)[a.boot == 1].max())
    (two,) = a.unclocked
    assert two.boot == 2 and two.records == 0
    assert resets[0].earliest == last1 and resets[0].latest == zero3 - two.reach_s > last1
    shock = next(d for d in got if d.kind == "alarm" and "shock" in d.what)
    assert shock.when.boot == 2
    assert (shock.earliest, shock.latest) == (last1 + shock.when.t,
                                              zero3 - two.reach_s + shock.when.t)
    assert deviations.at(shock) == (f"boot 2 +{fmt.dur(shock.when.t)} (no UTC), between "
                                    f"{fmt.utc(shock.earliest)} and {fmt.utc(shock.latest)}")
    # the return phase ran past its 60 min, by exactly what the clocked log shows
    ret = a.phases[3]
    assert not ret.unbounded and ret.seconds == ret.end.utc - ret.start.utc
    assert ret.over_plan_s == ret.seconds - 3600 > 60
    over = next(d for d in got if d.kind == "over_plan")
    assert over.phase == 3 and over.figure == (
        f"{fmt.dur(ret.seconds)}, planned 60 min: +{fmt.dur(ret.over_plan_s)}")
    # the sealing boot's clock is compared with the host's at the pull (the
    # simulator's pull is instantaneous: no difference), no clock finding
    assert "clock" not in {f.code for f in v.findings} and v.clock_offset_s == 0
    assert v.status == "VERIFIED"
    # boot 2's records were lost with its open block (sample format 3): the
    # one silence from boot 1 to boot 3 says so, not "the board was off",
    # and is now of known length: boot 1's last reading to boot 3's first
    (gap,) = [d for d in got if d.kind == "gap" and "boot 1 to boot 3" in d.what]
    assert "those of boot 2" in gap.what
    assert "lost with their open blocks at the resets" in gap.what
    first3 = float(a.utc[a.boot == 3][0])
    assert gap.figure == fmt.dur(first3 - last1) and gap.earliest == last1
    assert not [d for d in got if "the board was off between two boots" in d.what]
    # every deviation is in time order by its earliest moment
    los = [d.earliest for d in got if d.when is not None and not math.isnan(d.earliest)]
    assert los == sorted(los)


def test_without_the_crews_sync_the_unclocked_boots_are_open_on_their_late_side(
        reset_reentry_unsynced):
    a, v, data = reset_reentry_unsynced
    got = deviations.deviations(data, a, v)
    resets = [d for d in got if d.kind == "reset"]
    assert ["watchdog" in resets[0].what, "brownout" in resets[1].what] == [True, True]
    # boot 2 follows boot 1's last record: its moments are bounded below only
    last1 = float((a.utc + a.dt)[a.boot == 1].max())
    assert [u.boot for u in a.unclocked] == [2, 3]
    assert resets[0].earliest == last1 and math.isnan(resets[0].latest)
    shock = next(d for d in got if d.kind == "alarm" and "shock" in d.what)
    assert shock.earliest == last1 + shock.when.t and math.isnan(shock.latest)
    assert "after" in deviations.at(shock)
    # the return phase ran past its 60 min by more than its boots recorded,
    # and nothing clocked after the resets says by how much: a least, said so
    ret = a.phases[3]
    assert ret.unbounded and ret.over_plan_s > 60
    over = next(d for d in got if d.kind == "over_plan")
    assert over.phase == 3 and "at least" in over.figure
    # the boot that sealed the log never had its clock set: the verdict says so
    assert "clock" in {f.code for f in v.findings} and v.clock_offset_s is None
    assert v.status == "VERIFIED"
    (gap,) = [d for d in got if d.kind == "gap" and "boot 1 to boot 3" in d.what]
    assert "those of boot 2" in gap.what
    assert "lost with their open blocks at the resets" in gap.what
