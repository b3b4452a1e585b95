"""Issue 17 items 1, 5 and 7 (docs/qa-review.md): time no reading accounts
for, bounded. A phase change between two records leaves no unmonitored
second (the reading before it stands for the time to the next record, in
the new phase against its band); the wait for the first reading of the log
is a listed gap; a silence across boots is counted once; the pull's host
clock closes what the log leaves open, as host-clock evidence only.

Hand-made logs (LogData as the decoder returns it, UTC rebuilt by
podctl.logdata from TIME_SET events as a decode does) and the simulator's
nominal and reset-reentry missions at a 10 s tick.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from podctl import analysis, assess, logdata, profile_file
from podctl.pulled import Anchor, open_pulled
from protocol import log
from protocol import profile as pf
from tests import accounting

T0 = 1_800_000_000.0  # UTC of boot 1's uptime 0


@pytest.fixture(scope="module")
def nominal() -> pf.Profile:
    got = pf.check(profile_file.compile_file("examples/profiles/nominal.toml"))
    assert isinstance(got, pf.Profile)
    return got


def logof(rows, events) -> logdata.LogData:
    """rows: (boot, t, degC of every probe); events: (boot, t, code, a, b,
    value). UTC as a decode rebuilds it: from each boot's TIME_SET events,
    the first applying to the records before it too."""
    s = np.zeros(len(rows), dtype=logdata.SAMPLE_DTYPE)
    for f in logdata.CHANNEL_NAMES:
        s[f] = np.nan
    s["battery"] = 12.0
    for i, (boot, t, c) in enumerate(rows):
        s["boot"][i], s["t"][i] = boot, t
        for p in range(4):
            s[f"probe{p}"][i] = c
    offsets, _ = logdata.clock_of(sorted({r[0] for r in rows}), events)
    logdata.set_utc(s, offsets)
    return logdata.LogData(b"", "", [], s, logdata.events_of(events, offsets))


def phase_ev(boot, t, phase, b=0):
    return (boot, t, log.EV_PHASE, phase, b, 0)


def clock_ev(boot, t, utc):
    return (boot, t, log.EV_TIME_SET, 0, 0, int(utc))


# ---------------------------------------------------------------- A: phase boundaries


def boundary_log(last_pad_c: float = 5.0):
    """pad every 60 s from 0 to 600; ascent (every 10 s) entered at 630,
    its first record at 660, as the firmware records it: on the old
    schedule until the next record is due."""
    rows = [(1, 60 * i, 5.0) for i in range(10)] + [(1, 600, last_pad_c)]
    rows += [(1, 660 + 10 * i, 5.0) for i in range(10)]
    events = [clock_ev(1, 0, T0), phase_ev(1, 0, 0), phase_ev(1, 630, 1)]
    return logof(rows, events)


def test_a_phase_change_between_records_leaves_no_unmonitored_second(nominal):
    a = analysis.analyse(boundary_log(), nominal)
    pad, ascent = a.phases[0], a.phases[1]
    assert (pad.seconds, pad.in_band_s, pad.unknown_s) == (630, 630, 0)
    # 630..660: the 600 s reading still stands, in the ascent
    assert (ascent.seconds, ascent.in_band_s, ascent.unknown_s) == (130, 130, 0)
    assert a.gaps == [] and a.mission.unknown_s == 0
    assert a.dt[10] == 30  # the record's own time, in its own phase
    (carried,) = a.spans[~a.spans["rec"]]
    assert (carried["of"], carried["t"], carried["dt"], carried["phase"]) == (10, 630, 30, 1)
    assert accounting.violations(a, "boundary") == []


def test_a_reading_carried_into_a_phase_is_judged_by_that_phase(nominal):
    # the last pad reading is 9 degC: out of band for its 30 s in pad and
    # for the 30 s it stands for in the ascent: one excursion in each
    a = analysis.analyse(boundary_log(9.0), nominal)
    pad, ascent = a.phases[0], a.phases[1]
    assert (pad.out_band_s, ascent.out_band_s, ascent.in_band_s) == (30, 30, 100)
    assert ascent.t_max == 9.0 and ascent.t_max_at is not None and ascent.t_max_at.t == 630
    got = [(x.phase, x.seconds, x.start.t, x.end.t, x.peak) for x in a.excursions]
    assert got == [(0, 30, 600, 630, 9.0), (1, 30, 630, 660, 9.0)]
    assert ascent.records == 10  # the carried reading is pad's record, not ascent's


def test_the_wait_for_the_first_reading_is_a_listed_gap(nominal):
    # the board boots into pad at uptime 0; its first tick's record is at 10 s
    rows = [(1, 10 + 60 * i, 5.0) for i in range(5)]
    a = analysis.analyse(logof(rows, [clock_ev(1, 0, T0), phase_ev(1, 0, 0)]), nominal)
    (head,) = a.gaps
    assert head.head and not head.tail and not head.restart
    assert (head.start.t, head.end.t, head.seconds, head.phase) == (0, 10, 10, 0)
    assert head.start.utc == T0 and head.end.utc == T0 + 10
    assert a.phases[0].gap_s == 10 == a.mission.unknown_s
    assert accounting.violations(a, "head") == []


def test_a_damaged_log_that_starts_mid_phase_has_no_head(nominal):
    # no PHASE before the first record of its boot: nothing says when that
    # phase began, so nothing is counted before the first record
    rows = [(1, 600 + 60 * i, 5.0) for i in range(5)]
    a = analysis.analyse(logof(rows, [clock_ev(1, 0, T0), phase_ev(1, 700, 2)]), nominal)
    assert not [g for g in a.gaps if g.head]
    assert accounting.violations(a, "mid") == []


def test_a_silence_across_a_clocked_reboot_is_counted_once(nominal):
    # boot 2 (its clock set at boot) resumes pad at uptime 0, its first
    # record at 10 s: the silence from boot 1's last reading to it holds
    # that 10 s once (it was counted twice: the mission ran 10 s long)
    rows = [(1, 60 * i, 5.0) for i in range(10)] + [(2, 10 + 60 * i, 5.0) for i in range(5)]
    events = [clock_ev(1, 0, T0), phase_ev(1, 0, 0),
              clock_ev(2, 0, T0 + 1000), phase_ev(2, 0, 0, analysis.PHASE_RESUMED)]
    a = analysis.analyse(logof(rows, events), nominal)
    pad = a.phases[0]
    # T0 to boot 2's last reading's end (its uptime 310): 1310 s, not 1320
    assert pad.seconds == 1000 + 310 and pad.in_band_s == 600 + 300
    (gap,) = a.gaps
    assert gap.restart and gap.seconds == 1010 - 600 and gap.phase == 0
    # the silence (board off, then boot 2's wait for its first tick) is all
    # the pad counts unmonitored
    assert pad.gap_s == gap.seconds == 410
    assert accounting.violations(a, "reboot") == []


# ---------------------------------------------------------------- B: bounds


def reset_log(clock_boot3_at: float | None = None):
    """Boot 1 clocked (pad, records 0..540 every 60 s, its last reading to
    600); boot 2
    recordless (a shock at uptime 100, up 200 s); boot 3's records from 10
    to 550 (to 610), its clock set by the crew at uptime 600 (clock_boot3_at: the
    UTC then; None: never)."""
    rows = [(1, 60 * i, 5.0) for i in range(10)] + [(3, 10 + 60 * i, 5.0) for i in range(10)]
    events = [clock_ev(1, 0, T0), phase_ev(1, 0, 0),
              phase_ev(2, 0, 0, analysis.PHASE_RESUMED), (2, 100, log.EV_ALARM_RAISED, 0, 0, 20),
              (2, 200, log.EV_MODE, 0, 0, 0),
              phase_ev(3, 0, 0, analysis.PHASE_RESUMED)]
    if clock_boot3_at is not None:
        events.append(clock_ev(3, 600, clock_boot3_at))
    return logof(rows, events)


def test_a_crew_time_set_late_in_a_boot_clocks_all_of_it(nominal):
    # boot 3 began at T0 + 1000 (the board off 200 s after boot 2's 200 s):
    # the crew's TIME_SET at its uptime 600 gives every record of it UTC,
    # the ones before the TIME_SET too, and the silence an exact bound
    zero3 = T0 + 1000
    a = analysis.analyse(reset_log(zero3 + 600), nominal, until=analysis.When(3, 600, zero3 + 600))
    assert not np.isnan(a.utc).any()
    assert [u.boot for u in a.unclocked] == [2]
    (two,) = a.unclocked
    assert (two.earliest_utc, two.latest_utc) == (T0 + 600, zero3 - 200)
    lo, hi = a.utc_bounds(2, 100)  # the shock: between these, by the log alone
    assert (lo, hi) == (T0 + 700, zero3 - 100)
    restart = [g for g in a.gaps if g.restart]
    assert [(g.start.utc, g.end.utc, g.seconds) for g in restart] == [(T0 + 600, zero3 + 10, 410)]
    assert not a.phases[0].unbounded
    assert accounting.violations(a, "crew") == []


def test_an_unclocked_last_boot_is_unbounded_by_the_log_alone(nominal):
    a = analysis.analyse(reset_log(), nominal, until=analysis.When(3, 600, math.nan))
    (restart,) = [g for g in a.gaps if g.restart]
    assert restart.longest is None and restart.host_at_most is None
    assert all(math.isnan(u.latest_utc) and math.isnan(u.host_latest_utc) for u in a.unclocked)
    assert a.phases[0].unbounded and a.anchor is None


def test_the_pull_host_clock_bounds_the_unclocked_boots(nominal):
    # the host read boot 3's uptime 650 (STATUS) and its own clock after
    # the download, at zero3 + 650 + 30: boot 3 began at the latest at
    # zero3 + 30 by the host's clock
    zero3 = T0 + 1000
    pulled = Anchor(3, 650, zero3 + 680)
    a = analysis.analyse(reset_log(), nominal, until=analysis.When(3, 600, math.nan),
                         anchor=pulled)
    two, three = a.unclocked
    assert three.host_latest_utc == zero3 + 30 and two.host_latest_utc == zero3 + 30 - 200
    # the device's own evidence is unchanged: a manifest field decides nothing
    assert math.isnan(three.latest_utc) and math.isnan(two.latest_utc)
    lo, hi = a.utc_bounds(2, 100)
    assert lo == T0 + 700 and math.isnan(hi)
    lo, hi = a.utc_bounds(2, 100, host=True)  # the shock, by the host's clock too
    assert lo == T0 + 700 and hi == zero3 + 30 - 100 and lo <= zero3 - 100 <= hi
    (restart,) = [g for g in a.gaps if g.restart]
    assert restart.longest is None and restart.host_at_most == 410 + 30
    assert restart.host_longest == 440
    assert a.phases[0].unbounded and a.anchor == pulled


def test_a_host_clock_behind_the_log_bounds_nothing(nominal):
    # a host clock that puts boot 3 before boot 1's last record ended is
    # wrong: it closes nothing
    a = analysis.analyse(reset_log(), nominal, until=analysis.When(3, 600, math.nan),
                         anchor=Anchor(3, 650, T0 + 650 + 100))
    assert all(math.isnan(u.host_latest_utc) for u in a.unclocked)
    assert all(g.host_at_most is None for g in a.gaps)


def test_an_anchor_of_a_clocked_boot_adds_nothing(nominal):
    zero3 = T0 + 1000
    a = analysis.analyse(reset_log(zero3 + 600), nominal, anchor=Anchor(3, 650, zero3 + 650))
    (two,) = a.unclocked
    assert math.isnan(two.host_latest_utc)
    assert all(g.host_at_most is None for g in a.gaps)


# ---------------------------------------------------------------- the missions


def _mission(name: str, tmp: Path, handover_sync: bool = True):
    """The scenario at a 10 s tick, pulled; handover_sync False: a variant
    of it (in tmp) whose crew forgets the time sync at hand-over."""
    from podctl.sim_cmds import load_run_inputs, write_manifest
    from podctl.verdict import verify
    from sim import run as simrun

    if not handover_sync:
        (tmp / "forgot.toml").write_text(f'base = "{name}"\nhandover_sync = false\n')
        name = str(tmp / "forgot.toml")
    sc, prof = load_run_inputs(name, 10)
    assert sc["handover_sync"] is handover_sync
    res = simrun.run(sc, prof)
    log_path = tmp / "log.bin"
    log_path.write_bytes(res.log)
    write_manifest(log_path, sc, res)
    pulled = open_pulled(log_path)
    v = verify(pulled, res.key)
    return pulled, v, pulled.data(v.blocks), pf.check(prof), res


def test_nominal_every_unknown_second_is_a_listed_gap(tmp_path):
    # the reviewer's "20 s without a reading" against "Data gaps: None": the
    # ascent's first 10 s are the last pad reading's, the pad's first 10 s
    # (boot to the first tick) are the one gap
    pulled, v, data, prof, _ = _mission("nominal", tmp_path)
    a = analysis.analyse(data, prof, until=assess.log_end(v))
    assert [p.unknown_s for p in a.phases] == [10, 0, 0, 0, 0]
    (head,) = a.gaps
    assert head.head and head.seconds == 10 and head.phase == 0
    assert a.mission.unknown_s == sum(g.longest or 0 for g in a.gaps) == 10
    assert accounting.violations(a, "nominal") == []


def test_reset_reentry_is_bounded_by_the_pull(tmp_path):
    # a crew that forgets the time sync at hand-over (or a pull by another
    # tool): boot 3 never clocked, only the pull's host clock bounds it
    pulled, v, data, prof, res = _mission("reset-reentry", tmp_path, handover_sync=False)
    assert [e.boot for e in data.events if e.code == log.EV_TIME_SET] == [1]
    a0 = analysis.analyse(data, prof, until=assess.log_end(v))
    a = analysis.analyse(data, prof, until=assess.log_end(v), anchor=pulled.manifest.anchor)
    (restart,) = [g for g in a.gaps if g.restart]
    assert restart.longest is None  # the log alone cannot bound it (no clock after it)
    two, three = a.unclocked
    assert (two.boot, three.boot) == (2, 3)
    # the simulator's pull is instantaneous: the host bound is the truth
    start = res.summary["start_utc"]
    resets = [at for at, kind in res.summary["faults"] if kind == "reset"]
    truth3 = start + res.summary["duration_s"] - pulled.manifest.anchor.uptime
    assert three.host_latest_utc == truth3
    assert three.earliest_utc <= truth3 and two.earliest_utc <= start + resets[0]
    assert math.isfinite(restart.host_at_most)
    # the silence: from boot 1's last reading to boot 3's first record,
    # boot 2's 10 min 10 s of running (its records lost) in it
    assert restart.host_at_most == truth3 + 10 - restart.start.utc
    off = restart.host_at_most - two.reach_s - 10
    assert 0 < off < 600  # the board off a few minutes, as the issue reckons
    # every event of boot 2 (the shock among them) is placed, host-bounded
    for e in (e for e in data.events if e.boot == 2):
        lo, hi = a.utc_bounds(2, e.t, host=True)
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi
    # the device's own figures are the same with or without the manifest
    assert [p.seconds for p in a.phases] == [p.seconds for p in a0.phases]
    assert [g.longest for g in a.gaps] == [g.longest for g in a0.gaps]
    assert dataclasses.replace(a.unclocked[1], host_latest_utc=math.nan) == a0.unclocked[1]
    assert accounting.violations(a, "reset-reentry") == []


def test_reset_reentry_with_the_crews_time_sync_before_the_seal(tmp_path):
    # a real crew syncs the clock at hand-over (podctl time sync) before the
    # pull seals the log, and sim run does so (the scenario's handover_sync,
    # true by default): boot 3 gets its clock from its own TIME_SET, every
    # record of it UTC, and the reviewer's unbounded gap an exact length
    pulled, v, data, prof, res = _mission("reset-reentry", tmp_path)
    sets = [e for e in data.events if e.code == log.EV_TIME_SET]
    assert [e.boot for e in sets] == [1, 3] and data.events[-1] is sets[-1]
    a = analysis.analyse(data, prof, until=assess.log_end(v))
    assert not np.isnan(a.utc).any() and not math.isnan(a.until.utc)
    # the sync is the simulator's true UTC, so boot 3's clock is the truth
    start = res.summary["start_utc"]
    end = start + res.summary["duration_s"]
    assert sets[-1].value == end and a.until.utc == end
    zero3 = end - pulled.manifest.anchor.uptime
    three = a.boot == 3
    assert (a.utc[three] == zero3 + a.t[three]).all()
    (restart,) = [g for g in a.gaps if g.restart]
    (two,) = a.unclocked  # the boot whose records were lost: bounded both sides now
    assert two.boot == 2 and two.records == 0
    assert restart.seconds is not None and restart.end.boot == 3
    assert restart.start.boot == 1 and restart.end.utc == zero3 + restart.end.t
    # the silence holds boot 2's run (its records lost) and boot 3's first tick
    off = restart.seconds - two.reach_s - 10
    assert 0 < off < 600
    assert two.earliest_utc == restart.start.utc
    assert two.latest_utc == restart.end.utc - 10 - two.reach_s
    # the truth lies in the bounds: boot 2 began at the watchdog reset
    (reset_at,) = [at for at, kind in res.summary["faults"] if kind == "reset"]
    assert two.earliest_utc <= start + reset_at <= two.latest_utc
    shock = [e for e in data.events if e.boot == 2 and e.code == log.EV_ALARM_RAISED]
    assert shock
    for e in shock:
        lo, hi = a.utc_bounds(2, e.t)
        assert restart.start.utc <= lo <= hi <= restart.end.utc
    ret = a.phases[3]
    assert not ret.unbounded and ret.end is not None and ret.start is not None
    assert ret.seconds == ret.end.utc - ret.start.utc
    # the host's clock adds nothing to a log that clocks itself
    h = analysis.analyse(data, prof, until=assess.log_end(v), anchor=pulled.manifest.anchor)
    assert all(g.host_at_most is None for g in h.gaps)
    assert [g.seconds for g in h.gaps] == [g.seconds for g in a.gaps]
    assert accounting.violations(a, "reset-reentry synced") == []


# ---------------------------------------------------------------- C: a shared budget


def unplaced_log(unplaced: int = 1, hole: bool = False):
    """Boot 1 clocked (pad, records 0..540 every 60 s, to 600); `unplaced`
    boots after it each recording 10..250 (to 310, 300 s) with no clock
    (hole: the first of them misses its 130 and 190 records, a silence
    inside that boot); then a boot clocked at boot, its records from 10,
    2000 s after boot 1's uptime 0."""
    last = 2 + unplaced
    rows = [(1, 60 * i, 5.0) for i in range(10)]
    for b in range(2, last):
        rows += [(b, 10 + 60 * i, 5.0) for i in range(5) if not (hole and b == 2 and i in (2, 3))]
    rows += [(last, 10 + 60 * i, 5.0) for i in range(5)]
    events = [clock_ev(1, 0, T0), phase_ev(1, 0, 0)]
    for b in range(2, last + 1):
        events.append(phase_ev(b, 0, 0, analysis.PHASE_RESUMED))
    events.append(clock_ev(last, 0, T0 + 2000))
    return logof(rows, events)


def test_the_silences_around_an_unplaced_boot_share_one_budget(nominal):
    # 1410 s from boot 1's last reading to boot 3's first record, 300 s of
    # them boot 2's readings: the two silences are together 1110 s, each
    # at most that; the pad counts 1110 s without a record, once
    a = analysis.analyse(unplaced_log(), nominal)
    first, second = [g for g in a.gaps if g.restart]
    assert first.shared == second.shared is not None
    sh = first.shared
    assert (sh.seconds, sh.silences, sh.boots, sh.phase) == (1110, 2, (2,), 0)
    assert (sh.after.utc, sh.before.utc) == (T0 + 600, T0 + 2010)
    assert first.at_most == second.at_most == 1110 and first.seconds is None
    pad = a.phases[0]
    assert pad.gap_s == 1110 and not [g for g in a.gaps if g.head]  # boot 1 records at 0
    assert accounting.violations(a, "unplaced") == []


def test_three_silences_around_two_unplaced_boots_share_one_budget(nominal):
    a = analysis.analyse(unplaced_log(unplaced=2), nominal)
    restarts = [g for g in a.gaps if g.restart]
    assert len(restarts) == 3 and len({g.shared for g in restarts}) == 1
    sh = restarts[0].shared
    assert sh is not None and (sh.seconds, sh.silences, sh.boots) == (1410 - 600, 3, (2, 3))
    assert a.phases[0].gap_s == 810
    assert accounting.violations(a, "two unplaced") == []


def test_a_silence_inside_an_unplaced_boot_is_its_own_gap_not_the_budgets(nominal):
    # boot 2 misses two records: 120 s inside it, exact (its own uptime),
    # not shared; the budget is still what boot 2's whole run leaves
    a = analysis.analyse(unplaced_log(hole=True), nominal)
    inside = [g for g in a.gaps if not g.restart and not g.head]
    assert [(g.start.boot, g.seconds, g.shared) for g in inside] == [(2, 120, None)]
    (sh,) = {g.shared for g in a.gaps if g.shared is not None}
    assert sh.seconds == 1110
    assert a.phases[0].gap_s == 1110 + 120
    assert accounting.violations(a, "hole") == []


def test_nothing_clocked_after_an_unplaced_boot_shares_nothing(nominal):
    # no clocked moment after boot 2: nothing bounds the silence, no budget
    rows = [(1, 60 * i, 5.0) for i in range(10)] + [(2, 10 + 60 * i, 5.0) for i in range(5)]
    events = [clock_ev(1, 0, T0), phase_ev(1, 0, 0), phase_ev(2, 0, 0, analysis.PHASE_RESUMED)]
    a = analysis.analyse(logof(rows, events), nominal)
    (restart,) = [g for g in a.gaps if g.restart]
    assert restart.longest is None and restart.shared is None and a.phases[0].unbounded
