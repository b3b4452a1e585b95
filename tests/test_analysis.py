"""podctl.analysis on logs built record by record, against values worked out
by hand or taken from outside the project: the MKT table of
/work/shared/reference.md (USP <1079>, dH/R = 10,000 K), time in band as
records times their interval, excursions and gaps where they were put.

The synthetic logs are LogData as the decoder returns it (samples in display
units, events with UTC), so the figures are checked without the simulator's
noise; tests/test_report.py holds the same code to the simulator's truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podctl import analysis, logdata, profile_file
from protocol import log
from protocol import profile as pf

T0 = 1_800_000_000.0  # UTC of uptime 0 of boot 1 (2027-01-15)
STEP = 60  # s: the nominal profile's pad, orbit and recovery sampling interval
BAD = log.STATUS_PROBE_FAULT

# reference.md: readings at equal intervals and their MKT (degC, 3 decimals)
MKT_REFERENCE = [
    ([2, 8, 25, 5], 15.216),
    ([5] * 10, 5.000),
    ([4] * 100 + [30] * 2, 6.683),
    ([20, 25, 30, 35, 40], 32.394),
]


@pytest.fixture(scope="module")
def nominal() -> pf.Profile:
    got = pf.check(profile_file.compile_file("examples/profiles/nominal.toml"))
    assert isinstance(got, pf.Profile)
    return got


def ev(code: int, t: int, a: int = 0, b: int = 0, value: int = 0, boot: int = 1,
       clock: bool = True):
    utc = T0 + t if clock else math.nan
    return logdata.Event(boot, t, utc, code, log.event_name(code), a, b, value)


def logof(rows, events) -> logdata.LogData:
    """rows: (boot, t, probe readings (4, NaN = none), status); UTC as the
    board would rebuild it from a clock set at boot 1's uptime 0."""
    s = np.zeros(len(rows), dtype=logdata.SAMPLE_DTYPE)
    for f in logdata.CHANNEL_NAMES:
        s[f] = np.nan
    s["battery"] = 12.0
    for i, (boot, t, probes, status) in enumerate(rows):
        s["boot"][i], s["t"][i], s["status"][i] = boot, t, status
        s["utc"][i] = T0 + t if boot == 1 else math.nan
        for p, v in enumerate(probes):
            s[f"probe{p}"][i] = v
    return logdata.LogData(b"", "", [], s, list(events))


def series(temps, phase: int = 0, t0: int = 0):
    """One boot, every probe reading the same temperature, PHASE at t0."""
    rows = [(1, t0 + STEP * i, [c] * 4, 0) for i, c in enumerate(temps)]
    return rows, [ev(log.EV_BOOT, 0, 1, 1), ev(log.EV_PHASE, t0, phase)]


@pytest.mark.parametrize("readings,expected", MKT_REFERENCE)
def test_phase_mkt_matches_the_worked_examples(nominal, readings, expected):
    # equal intervals: the time-weighted per-phase MKT is the textbook one
    a = analysis.analyse(logof(*series(readings)), nominal)
    pad = a.phases[0]
    assert pad.records == len(readings)
    # R = 8.3144598 rather than the reference's 8.3144 moves MKT by < 0.0004 degC
    assert pad.mkt == pytest.approx(expected, abs=5e-4)
    assert a.mission.mkt == pytest.approx(expected, abs=5e-4)
    assert pad.t_mean == pytest.approx(np.mean(readings))
    assert (pad.t_min, pad.t_max) == (min(readings), max(readings))


def test_each_phase_has_its_own_mkt(nominal):
    # pad reads the first table row, orbit the third; the mission is all of it
    pad, orbit = MKT_REFERENCE[0], MKT_REFERENCE[2]
    rows, events = series(pad[0])
    t1 = STEP * len(pad[0])
    more, _ = series(orbit[0], phase=2, t0=t1)
    a = analysis.analyse(logof(rows + more, [*events, ev(log.EV_PHASE, t1, 2)]), nominal)
    assert a.phases[0].mkt == pytest.approx(pad[1], abs=5e-4)
    assert a.phases[2].mkt == pytest.approx(orbit[1], abs=5e-4)
    assert a.phases[1].records == 0 and math.isnan(a.phases[1].mkt) and a.phases[1].visits == 0
    assert a.mission.mkt == pytest.approx(analysis.mkt(pad[0] + orbit[0]), abs=1e-9)
    assert a.phases[0].seconds == t1 and a.phases[2].seconds == STEP * len(orbit[0])


def test_time_in_band_and_one_excursion(nominal):
    # 2, 8, 25, 5 in the pad's 2..8 band: 3 minutes in (the limits are in),
    # 1 minute out, one excursion above peaking at 25, shorter than the
    # pad's 30 min excursion delay
    a = analysis.analyse(logof(*series([2, 8, 25, 5])), nominal)
    pad = a.phases[0]
    assert (pad.in_band_s, pad.out_band_s, pad.no_reading_s) == (180, 60, 0)
    assert pad.in_band_pct == 75 and pad.out_band_pct == 25
    (x,) = a.excursions
    assert (x.phase, x.side, x.seconds, x.peak) == (0, "above", 60, 25)
    assert x.start.utc == T0 + 120 and x.end.utc == T0 + 180
    assert not x.beyond_delay and not x.open_end


def test_excursions_split_at_a_side_a_phase_and_a_gap(nominal):
    temps = [5, 9, 10, 1, 0.5, 5] + [12] * 35
    rows, events = series(temps)
    # a silence of 10 minutes (more than twice the interval) inside the warm run
    rows = [(b, t + (600 if i >= 20 else 0), p, s) for i, (b, t, p, s) in enumerate(rows)]
    a = analysis.analyse(logof(rows, events), nominal)
    got = [(x.side, x.seconds, x.peak, x.beyond_delay, x.open_end) for x in a.excursions]
    assert got == [
        ("above", 120, 10, False, False),
        ("below", 120, 0.5, False, False),
        ("above", 14 * 60, 12, False, True),  # ends at the gap: open
        ("above", 21 * 60, 12, False, True),  # ends at the end of the log
    ]
    (gap,) = a.gaps
    assert gap.start.utc == T0 + 19 * STEP + STEP and gap.end.utc == T0 + 20 * STEP + 600
    assert gap.seconds == 600 and not gap.restart


def test_an_excursion_longer_than_the_delay(nominal):
    a = analysis.analyse(logof(*series([5] + [9] * 30 + [5])), nominal)
    (x,) = a.excursions
    assert x.seconds == 1800 and x.beyond_delay  # the delay is 30 min: at it, the alarm is due


def test_time_without_a_trusted_probe_is_neither_in_nor_out(nominal):
    nan = math.nan
    rows = [(1, STEP * i, [5.0] * 4 if i < 5 else [nan] * 4, 0) for i in range(8)]
    a = analysis.analyse(logof(rows, series([])[1]), nominal)
    pad = a.phases[0]
    assert (pad.in_band_s, pad.out_band_s, pad.no_reading_s) == (300, 0, 180)
    # unknown time is never in band: the shares are of the phase's duration
    assert (pad.in_band_pct, pad.out_band_pct, pad.unknown_pct) == (62.5, 0, 37.5)
    assert pad.in_band_s + pad.out_band_s + pad.no_reading_s == pad.seconds == 480
    assert np.isnan(a.estimate[5:]).all()


def test_the_estimate_leaves_out_an_excluded_probe(nominal):
    # probe 2 reads 20 degC; the firmware excluded it at 120 s, took it back
    # at 300 s: records between say so in their status
    rows = [(1, STEP * i, [4.0, 5.0, 20.0, 6.0], BAD if 2 <= i < 5 else 0) for i in range(7)]
    events = [*series([])[1], ev(log.EV_PROBE_FAULT, 120, a=2, b=1, value=20000),
              ev(log.EV_PROBE_RECOVERED, 300, a=2)]
    data = logof(rows, events)
    est = analysis.estimate(data)
    assert est.tolist() == [8.75, 8.75, 5.0, 5.0, 5.0, 8.75, 8.75]
    probes = analysis.trusted_probes(data)
    assert np.isnan(probes[2:5, 2]).all() and not np.isnan(probes[:, [0, 1, 3]]).any()
    assert np.array_equal(analysis.analyse(data, nominal).estimate, est)


def test_an_exclusion_ends_with_its_boot(nominal):
    rows = [(1, 0, [4.0, 6.0, 30.0, 5.0], 0), (1, 60, [4.0, 6.0, 30.0, 5.0], BAD),
            (2, 0, [4.0, 6.0, 30.0, 5.0], 0)]
    events = [*series([])[1], ev(log.EV_PROBE_FAULT, 30, a=2, b=1, value=30000),
              ev(log.EV_BOOT, 0, 2, 2, boot=2, clock=False)]
    est = analysis.estimate(logof(rows, events))
    assert est.tolist() == [11.25, 5.0, 11.25]


def test_phase_per_record_and_the_time_each_record_stands_for(nominal):
    # pad (60 s), ascent at 120 s (10 s), orbit at 180 s (60 s)
    rows = [(1, t, [5.0] * 4, 0) for t in (0, 60, 120, 130, 140, 150, 160, 170, 180, 240)]
    events = [*series([])[1], ev(log.EV_PHASE, 120, 1), ev(log.EV_PHASE, 180, 2)]
    data = logof(rows, events)
    assert analysis.phase_per_record(data).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]
    dt, gap_after = analysis.record_durations(data, nominal)
    assert dt.tolist() == [60, 60, 10, 10, 10, 10, 10, 10, 60, 60]
    assert gap_after.tolist() == [False] * 9 + [True]
    a = analysis.analyse(data, nominal)
    assert [p.seconds for p in a.phases[:3]] == [120, 60, 120]
    assert [str(p.start) for p in a.phases[:3]] == [
        "2027-01-15 08:00:00Z", "2027-01-15 08:02:00Z", "2027-01-15 08:03:00Z"]


def test_a_boot_without_a_clock_is_placed_between_its_neighbours(nominal):
    rows = [(boot, t, [5.0] * 4, 0) for boot in (1, 2) for t in (0, 60)]
    events = [*series([])[1], ev(log.EV_BOOT, 0, 2, 2, boot=2, clock=False)]
    a = analysis.analyse(logof(rows, events), nominal)
    (u,) = a.unclocked
    assert (u.boot, u.records, u.seconds, u.after_utc) == (2, 2, 120, T0 + 120)
    assert math.isnan(u.before_utc)  # nothing after it has a clock
    (gap,) = a.gaps
    assert gap.restart and gap.seconds is None
    assert str(gap.end) == "boot 2 +0 s (no UTC)"
    # the boot's records are before any PHASE of their own boot: they keep
    # the phase the log was in, and count
    assert a.phases[0].records == 4 and a.phases[0].no_utc_records == 2


def test_an_empty_log(nominal):
    a = analysis.analyse(logof([], []), nominal)
    assert a.records == 0 and a.excursions == [] and a.gaps == [] and a.last is None
    assert math.isnan(a.mission.mkt) and math.isnan(a.start_utc)
    assert analysis.estimate(logof([], [])).shape == (0,)


def test_the_mission_figures_add_up(nominal):
    # a mixed log: every phase's in + out + without a reading is its
    # recorded time, and the mission is the sum of its phases
    rng = np.random.default_rng(3)
    temps = rng.normal(5, 3, 500).round(2)
    temps[rng.random(500) < 0.05] = np.nan
    rows, events = series(temps.tolist())
    t1 = STEP * 250
    a = analysis.analyse(logof(rows, [*events, ev(log.EV_PHASE, t1, 2)]), nominal)
    total = 0.0
    for ps in a.phases:
        assert ps.in_band_s + ps.out_band_s + ps.no_reading_s == pytest.approx(ps.seconds)
        total += ps.seconds
    m = a.mission
    assert m.in_band_s + m.out_band_s + m.no_reading_s == pytest.approx(total) == 500 * STEP
    assert m.records == 500
    assert len(a.excursions) == len(a.phases[0].excursions) + len(a.phases[2].excursions)
    out_s = sum(x.seconds for x in a.excursions)
    assert out_s == pytest.approx(m.out_band_s)


def test_a_record_read_a_tick_late_takes_the_fault_raised_in_that_tick(nominal):
    # the record stamped 120 s was read at the next tick, after probe 2's
    # fault at 130 s: its status says a probe was excluded, and none was in
    # force at 120 s, so the fault raised before the next record applies
    rows = [(1, STEP * i, [4.0, 5.0, 20.0, 6.0], BAD if i >= 2 else 0) for i in range(4)]
    events = [*series([])[1], ev(log.EV_PROBE_FAULT, 130, a=2, b=1, value=20000)]
    assert analysis.estimate(logof(rows, events)).tolist() == [8.75, 8.75, 5.0, 5.0]
    # without the status flag, the record trusted every probe
    rows[2] = (1, 120, [4.0, 5.0, 20.0, 6.0], 0)
    assert analysis.estimate(logof(rows, events)).tolist() == [8.75, 8.75, 8.75, 5.0]


@st.composite
def _any_log(draw):
    """A decoded log of any shape the decoder can return: boots in order,
    uptime rising within a boot, any readings and status, and any events
    (codes the report does not know included), in any order."""
    rows, boot, t = [], 1, 0
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 9)) == 0:
            boot, t = boot + 1, 0
        t += draw(st.sampled_from([0, 10, 60, 60, 60, 300]))
        probes = [draw(st.sampled_from([math.nan, -40.0, 1.5, 5.0, 9.0, 30.0])) for _ in range(4)]
        rows.append((boot, t, probes, draw(st.integers(0, 255))))
    events = [
        ev(draw(st.integers(1, 16)), draw(st.integers(0, 4000)), a=draw(st.integers(0, 255)),
           b=draw(st.integers(0, 0xFFFF)), value=draw(st.integers(0, 0xFFFFFFFF)),
           boot=draw(st.integers(1, boot + 1)), clock=draw(st.booleans()))
        for _ in range(draw(st.integers(0, 12)))
    ]
    return logof(rows, events)


@settings(max_examples=150, deadline=None)
@given(data=_any_log(), anchored=st.booleans())
def test_any_log_gives_figures_that_add_up(nominal, data, anchored):
    from podctl import narration
    from podctl import report as rpt
    from podctl.verdict import Verdict

    until = None
    if anchored and len(data.samples):
        s = data.samples
        until = analysis.When(int(s["boot"][-1]), float(s["t"][-1]) + 900, math.nan)
    a = analysis.analyse(data, nominal, until=until)
    for ps in [*a.phases, a.mission]:
        assert ps.in_band_s >= 0 and ps.out_band_s >= 0 and ps.no_reading_s >= 0
        mine = (a.phase == ps.band.index) if ps.band.index >= 0 else (a.phase >= 0) & (a.phase < 5)
        judged = a.dt[mine]
        assert ps.in_band_s + ps.out_band_s + ps.no_reading_s == pytest.approx(float(judged.sum()))
        # and with the time no record covers, the phase's duration to the second
        assert ps.gap_s >= 0
        assert ps.in_band_s + ps.out_band_s + ps.unknown_s == pytest.approx(ps.seconds)
    assert len(a.estimate) == len(data.samples) == len(a.phase)
    rows = narration.narrate(data, a.bands, 0)
    assert all(r.category in dict(narration.CATEGORIES) for r in rows)
    # and the report's words on it
    rep = rpt.build(data, Verdict([], [], authenticated=False, end_checked=False), nominal, {})
    assert rep.coverage and rep.verdict == rpt.NOT_AUTHENTICATED


def test_a_refusal_naming_a_field_podctl_does_not_know_is_worded_not_raised(nominal):
    from podctl import narration

    rows, events = series([5.0])
    refused = ev(log.EV_PROFILE_REFUSED, 30, a=pf.REFUSE_RANGE, b=28, value=0x1234ABCD)
    told = narration.narrate(logof(rows, [*events, refused]), analysis.bands_of(nominal), 0)
    (row,) = [r for r in told if r.category == "profile"]
    assert row.what == "profile refused" and "field 28 (unknown to podctl" in row.detail
    assert "identity 1234abcd" in row.detail


def test_estimate_and_phase_of_a_run_of_records_are_those_of_the_whole_log(nominal):
    # a streamed decode hands the records over in runs, with all the events
    import dataclasses

    rows = [(1, STEP * i, [4.0, 5.0, 20.0 + i, 6.0], BAD if 5 <= i < 12 else 0) for i in range(20)]
    events = [*series([])[1], ev(log.EV_PHASE, 300, 1), ev(log.EV_PHASE, 900, 2),
              ev(log.EV_PROBE_FAULT, 300, a=2, b=1, value=25000),
              ev(log.EV_PROBE_RECOVERED, 720, a=2)]
    data = logof(rows, events)
    whole_est, whole_phase = analysis.estimate(data), analysis.phase_per_record(data)
    for size in (1, 3, 7):
        runs = [dataclasses.replace(data, samples=data.samples[i:i + size])
                for i in range(0, 20, size)]
        est = np.concatenate([analysis.estimate(r) for r in runs])
        assert np.array_equal(est, whole_est, equal_nan=True)
        phase = np.concatenate([analysis.phase_per_record(r) for r in runs])
        assert np.array_equal(phase, whole_phase)


# ---------------------------------------------------------------- unknown time


def test_a_data_gap_is_unknown_time_of_its_phase(nominal):
    # ten readings a minute apart, a 10 min silence, ten more: the record
    # before the silence stands for one interval, the rest is unknown, and
    # the pad's duration is all of it (issue 13: "Data gaps show as '0 s
    # without a reading'")
    rows, events = series([5.0] * 20)
    rows = [(b, t + (600 if i >= 10 else 0), p, st) for i, (b, t, p, st) in enumerate(rows)]
    a = analysis.analyse(logof(rows, events), nominal)
    pad = a.phases[0]
    (gap,) = a.gaps
    assert gap.seconds == 600 and gap.phase == 0 and not gap.tail
    assert (pad.in_band_s, pad.no_reading_s, pad.gap_s, pad.unknown_s) == (1200, 0, 600, 600)
    assert pad.seconds == 1800 == pad.in_band_s + pad.out_band_s + pad.unknown_s
    assert pad.in_band_pct == pytest.approx(100 * 1200 / 1800)
    assert a.mission.unknown_s == 600


def test_the_board_off_between_two_clocked_boots_is_unknown_time_of_its_phase(nominal):
    # boot 1 records 0..240 s, the board is off, boot 2 (clock set again)
    # resumes the pad 15 min after boot 1's last record stopped standing for time
    rows = [(boot, STEP * i, [5.0] * 4, 0) for boot in (1, 2) for i in range(5)]
    events = [*series([])[1], ev(log.EV_BOOT, 0, 2, 2, boot=2)]
    data = logof(rows, events)
    data.samples["utc"][5:] = T0 + 300 + 900 + STEP * np.arange(5)
    a = analysis.analyse(data, nominal)
    (gap,) = a.gaps
    assert gap.restart and gap.seconds == 900 and gap.phase == 0
    pad = a.phases[0]
    assert (pad.in_band_s, pad.gap_s, pad.seconds) == (600, 900, 1500)
    assert str(pad.end) == "2027-01-15 08:25:00Z"  # 5 min, 15 min off, 5 min


def test_a_silence_around_a_boot_without_a_clock_is_bounded_by_its_neighbours(nominal):
    # boot 1 (clocked) ends at 300 s, boot 2 has no clock and records 120 s,
    # boot 3 (clocked) starts at 1500 s: the two silences together are
    # 1200 - 120 = 1080 s; each is at most that, and the phase counts it once
    rows = [(boot, STEP * i, [5.0] * 4, 0)
            for boot, n in ((1, 5), (2, 2), (3, 3)) for i in range(n)]
    events = [*series([])[1], ev(log.EV_BOOT, 0, 2, 2, boot=2, clock=False),
              ev(log.EV_BOOT, 0, 3, 3, boot=3)]
    data = logof(rows, events)
    data.samples["utc"][7:] = T0 + 1500 + STEP * np.arange(3)
    a = analysis.analyse(data, nominal)
    first, second = a.gaps
    assert first.seconds is None and second.seconds is None
    assert first.at_most == second.at_most == 1080 == first.longest
    pad = a.phases[0]
    assert pad.seconds == 300 + 120 + 180 + 1080 and pad.gap_s == 1080


def test_the_tail_after_the_last_record_is_unknown_time_of_the_last_phase(nominal):
    # the device says its log ends 10 min after the last record stopped
    # standing for time (the seal's clock): 10 min no record covers
    rows, events = series([5.0] * 10)
    data = logof(rows, events)
    until = analysis.When(1, 600 + 600, T0 + 1200)
    a = analysis.analyse(data, nominal, until=until)
    tail = a.gaps[-1]
    assert tail.tail and tail.seconds == 600 and tail.phase == 0
    pad = a.phases[0]
    assert (pad.seconds, pad.in_band_s, pad.gap_s) == (1200, 600, 600) and pad.end == until
    assert a.end_utc == T0 + 1200
    # no end stated: the log ends at its last record
    assert analysis.analyse(data, nominal).phases[0].seconds == 600


def test_the_start_of_a_phase_before_its_first_record_is_unknown(nominal):
    # the PHASE event at 0 s, the first record 10 s later (a record is read
    # at the first tick after its second): 10 s of the pad no record covers
    rows = [(1, 10 + STEP * i, [5.0] * 4, 0) for i in range(5)]
    a = analysis.analyse(logof(rows, series([])[1]), nominal)
    pad = a.phases[0]
    assert (pad.seconds, pad.in_band_s, pad.gap_s) == (310, 300, 10)


def test_the_last_record_stands_for_no_time_past_the_devices_end(nominal):
    # the seal comes 20 s after the last record: it stands for 20 s, not its minute
    rows, events = series([5.0] * 10)
    a = analysis.analyse(logof(rows, events), nominal, until=analysis.When(1, 560, T0 + 560))
    assert a.dt[-1] == 20 and a.phases[0].seconds == 560 and a.end_utc == T0 + 560


# ---------------------------------------------------------------- issue 17


def test_out_of_band_time_is_split_by_side_and_by_the_absolute_limits(nominal):
    # pad: band 2..8, absolute 0..15; a minute each of 5, 9, 16, 1, -1, 5
    a = analysis.analyse(logof(*series([5, 9, 16, 1, -1, 5])), nominal)
    pad = a.phases[0]
    assert (pad.above_s, pad.below_s) == (120, 120)
    assert pad.above_s + pad.below_s == pad.out_band_s
    assert (pad.abs_high_s, pad.abs_low_s) == (60, 60)
    # the mission counts the same minutes against the cumulative allowance (60 min)
    assert a.allowance_s == 3600 and a.allowance_used_s == 240
    assert a.allowance_used_pct == pytest.approx(100 * 240 / 3600)
    assert (a.mission.above_s, a.mission.abs_low_s) == (120, 60)


def test_min_and_max_carry_where_they_were_read(nominal):
    a = analysis.analyse(logof(*series([5, 3, 7, 3, 7.5, 6])), nominal)
    pad = a.phases[0]
    assert (pad.t_min, pad.t_max) == (3, 7.5)
    # the first record at the minimum, the one at the maximum
    assert pad.t_min_at == analysis.When(1, 60, T0 + 60)
    assert pad.t_max_at == analysis.When(1, 240, T0 + 240)
    assert a.mission.t_max_at == pad.t_max_at
    # a phase without a trusted reading has no place for either
    assert a.phases[2].t_min_at is None and a.phases[2].t_max_at is None


def test_the_histogram_holds_every_trusted_second_in_half_degree_bins(nominal):
    temps = [4.9, 5.0, 5.2, 5.49, 5.5, 6.0, math.nan]
    a = analysis.analyse(logof(*series(temps)), nominal)
    pad = a.phases[0]
    assert pad.hist_edges == [4.5, 5.0, 5.5, 6.0, 6.5]
    # [4.5, 5): 4.9; [5, 5.5): 5.0 5.2 5.49; [5.5, 6): 5.5; [6, 6.5]: 6.0
    assert pad.hist_s == [60, 180, 60, 60]
    assert sum(pad.hist_s) == pad.in_band_s + pad.out_band_s  # the NaN record is unknown
    assert a.phases[1].hist_s == []


def test_a_timed_phase_longer_than_planned_says_by_how_much(nominal):
    # the ascent is planned for 600 s; its records run 900 s before the orbit starts
    rows = [(1, 10 * i, [5.0] * 4, 0) for i in range(90)]
    events = [ev(log.EV_BOOT, 0, 1, 1), ev(log.EV_PHASE, 0, 1), ev(log.EV_PHASE, 900, 2)]
    a = analysis.analyse(logof(rows, events), nominal)
    asc = a.phases[1]
    assert asc.seconds == 900 and asc.planned_s == 600 and asc.over_plan_s == 300
    # untimed (recovery) or never entered: never over plan
    assert a.phases[4].over_plan_s == 0 and a.phases[0].over_plan_s == 0


def test_a_reboot_nothing_clocks_after_leaves_the_phase_unbounded(nominal):
    # boot 1 (clocked) then boot 2 without a clock and nothing clocked after it:
    # the silence between them has no upper bound, so the phase's duration is a least
    rows = [(boot, STEP * i, [5.0] * 4, 0) for boot in (1, 2) for i in range(3)]
    events = [*series([])[1], ev(log.EV_BOOT, 0, 2, 2, boot=2, clock=False)]
    a = analysis.analyse(logof(rows, events), nominal)
    assert a.phases[0].unbounded and a.mission.unbounded
    # a clocked boot after it bounds it again
    rows3 = rows + [(3, 0, [5.0] * 4, 0)]
    data = logof(rows3, [*events, ev(log.EV_BOOT, 0, 3, 3, boot=3)])
    data.samples["utc"][-1] = T0 + 1000
    assert not analysis.analyse(data, nominal).phases[0].unbounded


def test_an_unclocked_boot_is_placed_in_an_interval_of_utc(nominal):
    # boot 1 clocked, stops standing for time at 180 s; boot 2 unclocked,
    # records 0..120 s and an alarm at 150 s; boot 3 unclocked records 0..60 s;
    # boot 4 clocked from T0 + 2000
    rows = [(boot, STEP * i, [5.0] * 4, 0)
            for boot, n in ((1, 3), (2, 2), (3, 1), (4, 2)) for i in range(n)]
    events = [*series([])[1], ev(log.EV_BOOT, 0, 2, 2, boot=2, clock=False),
              ev(log.EV_ALARM_RAISED, 150, 5, 0, 20000, boot=2, clock=False),
              ev(log.EV_BOOT, 0, 3, 3, boot=3, clock=False), ev(log.EV_BOOT, 0, 4, 4, boot=4)]
    data = logof(rows, events)
    data.samples["utc"][-2:] = T0 + 2000 + STEP * np.arange(2)
    data.events[-1].utc = T0 + 2000
    a = analysis.analyse(data, nominal)
    two, three = a.unclocked
    # boot 2 reaches 150 s (its alarm), boot 3 60 s: boot 2 started no
    # earlier than 180 s and no later than 2000 - 60 - 150 s
    assert (two.reach_s, three.reach_s) == (150, 60)
    assert two.earliest_utc == T0 + 180 and two.latest_utc == T0 + 2000 - 60 - 150
    assert a.utc_bounds(2, 150) == (T0 + 330, T0 + 2000 - 60)
    assert three.earliest_utc == T0 + 180 + 150 and three.latest_utc == T0 + 2000 - 60
    assert a.utc_bounds(1, 30, T0 + 30) == (T0 + 30, T0 + 30)
    # nothing clocked after: the upper side is open
    a2 = analysis.analyse(logof(rows[:6], events[:5]), nominal)
    lo, hi = a2.utc_bounds(2, 150)
    assert lo == T0 + 330 and math.isnan(hi)


def test_a_boot_with_no_record_between_two_clocked_boots_is_counted_once(nominal):
    # boot 1 (clocked) records the pad 0..300 s; boot 2 resumes the pad and
    # raises an alarm at 200 s but its open block is lost at the next reset
    # (events, no record, no clock); boot 3 (clocked again) resumes the pad
    # at T0 + 1500 and records 180 s. The pad lasted T0..T0 + 1680: boot 2's
    # 200 s count once (as time with no record of the phase), the board off
    # the other 1000 s, never 200 s twice
    rows = [(boot, STEP * i, [5.0] * 4, 0) for boot, n in ((1, 5), (3, 3)) for i in range(n)]
    events = [*series([])[1],
              ev(log.EV_BOOT, 0, 1, 2, boot=2, clock=False),
              ev(log.EV_PHASE, 0, 0, analysis.PHASE_RESUMED, boot=2, clock=False),
              ev(log.EV_ALARM_RAISED, 200, 5, 0, 20000, boot=2, clock=False),
              ev(log.EV_BOOT, 0, 1, 3, boot=3), ev(log.EV_PHASE, 0, 0, analysis.PHASE_RESUMED,
                                                   boot=3)]
    data = logof(rows, events)
    data.samples["utc"][5:] = T0 + 1500 + STEP * np.arange(3)
    for e in data.events[-2:]:
        e.utc = T0 + 1500
    a = analysis.analyse(data, nominal)
    pad = a.phases[0]
    assert pad.seconds == 1680 == pad.end.utc - pad.start.utc
    assert (pad.in_band_s, pad.gap_s) == (480, 1200)  # no record: boot 2's 200 s + 1000 s off
    # the resumed phase is the same visit: the reviewer reads one pad, not three
    assert pad.visits == 1
    (gap,) = a.gaps
    assert gap.restart and gap.seconds == 1200  # no record from boot 1's last to boot 3's first
    (u,) = a.unclocked
    assert (u.boot, u.records, u.reach_s) == (2, 0, 200)
    assert (u.earliest_utc, u.latest_utc) == (T0 + 300, T0 + 1500 - 200)
    assert a.mission.seconds == 1680
    from tests.accounting import violations

    assert violations(a, "synthetic") == []


def test_fewer_trusted_probes_than_the_profile_needs_is_unknown_never_in_band(nominal):
    # the nominal profile needs 2 probes: minutes 3..7 have one probe left,
    # reading 5 degC then 9 degC (out of band, by that probe alone); they
    # are no valid reading, so neither in nor out of band, no excursion
    one = [[5.0, math.nan, math.nan, math.nan]] * 3 + [[9.0, math.nan, math.nan, math.nan]] * 2
    rows = [(1, STEP * i, p, 0) for i, p in enumerate([[5.0] * 4] * 3 + one + [[6.0] * 4] * 2)]
    a = analysis.analyse(logof(rows, series([])[1]), nominal)
    pad = a.phases[0]
    assert a.min_probes == 2 and a.valid.tolist() == [True] * 3 + [False] * 5 + [True] * 2
    assert (pad.in_band_s, pad.out_band_s, pad.no_reading_s, pad.too_few_s) == (300, 0, 300, 300)
    assert pad.unknown_s == 300 and pad.in_band_pct == 50 and a.excursions == []
    assert (pad.t_min, pad.t_max) == (5.0, 6.0) and sum(pad.hist_s) == 300
    # the firmware's estimate of those records stays (the plots draw it)
    assert a.estimate[6] == 9.0
    # podctl.assess counts the same time unknown: its stretch is those 5 records
    from podctl import assess

    (s,) = assess.stretches(a)
    assert (s.seconds, s.too_few, s.no_probe) == (pad.no_reading_s, 5, 0)
    # with a profile needing one probe they are valid: in band, then out
    one_probe = pf.check(profile_file.compile_data(_with_min_probes(1)))
    b = analysis.analyse(logof(rows, series([])[1]), one_probe)
    assert (b.phases[0].in_band_s, b.phases[0].out_band_s, b.phases[0].too_few_s) == (480, 120, 0)
    from tests.accounting import violations

    assert violations(a, "too few") == [] == violations(b, "one probe")


def _with_min_probes(n: int) -> dict:
    import tomllib

    with open("examples/profiles/nominal.toml", "rb") as f:
        data = tomllib.load(f)
    data["min_probes"] = n
    return data
