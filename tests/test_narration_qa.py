"""Issue 17, findings 3, 4 and 9, in words: what a probe exclusion was
compared with and by how much (PROBE_REFERENCE), an actuator driven hard
without effect (ACTUATOR_FAULT) and the hold-time alarm with the phase's
limit and how far over, on the real logs of the probe-failure,
heater-failure and return-slip scenarios (10 s tick, each on its own
profile), then on events a damaged or older log may hold."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from podctl import analysis, assess, deviations, events, fmt, narration, profile_file
from protocol import codes, log, names
from protocol import profile as pf
from tests.accounting import analyse_run
from tests.test_analysis import T0, ev, logof

EXCLUDED = re.compile(r"read (-?\d+\.\d\d) degC, (\d+\.\d\d) K from the trusted median "
                      r"(-?\d+\.\d\d) degC of probes? ([\d, ]+?)( and probe (\d) itself)? "
                      r"\(limit 1\.5 K\)$")


def _profile(name: str) -> pf.Profile:
    got = pf.check(profile_file.compile_file(name))
    assert isinstance(got, pf.Profile)
    return got


@pytest.fixture(scope="module")
def probe_failure():
    return analyse_run("probe-failure", None, 10)


@pytest.fixture(scope="module")
def heater_failure():
    return analyse_run("heater-failure", None, 10)


@pytest.fixture(scope="module")
def return_slip():
    return analyse_run("return-slip", None, 10)


def test_a_disagree_exclusion_names_the_median_its_probes_and_the_limit(probe_failure):
    a, v, data = probe_failure
    got = [d for d in deviations.deviations(data, a, v)
           if d.kind in ("probe_lost", "probe_excluded")]
    # probe 1 open at 104 h, probe 3's noise burst at 116 h (it came back), probe 2
    # drifting from 128 h
    assert [(d.kind, d.what.split(";")[0].split(" (")[0]) for d in got[:3]] == [
        ("probe_lost", "probe 1 excluded"), ("probe_excluded", "probe 3 excluded"),
        ("probe_lost", "probe 2 excluded")]
    assert got[0].figure == "no reading (open or short circuit)"
    s = data.samples
    for d in got[1:]:
        m = EXCLUDED.match(d.figure)
        assert m, d.figure
        read, off, median = (float(m[k]) for k in (1, 2, 3))
        others = [int(p) for p in m[4].split(", ")]
        probe = int(d.what.split()[1])
        assert off == pytest.approx(abs(read - median), abs=0.011) and off > 1.5
        # the median is of trusted probes, the one judged (trusted when it
        # was excluded) among them and named apart, never among the others,
        # and never the open probe 1
        assert m[6] and int(m[6]) == probe and probe not in others
        assert 1 not in others and len(others) >= 2
        # the firmware's statement checked from the samples: the median of
        # three with the judged probe the far one is the nearer of the
        # other two, so it lies among what they read in the last record
        # before the exclusion (a minute apart in orbit, read every 10 s)
        # and not what the judged probe read
        t = s["t"].astype(float)
        near = (s["boot"] == d.when.boot) & (t <= d.when.t) & (t > d.when.t - 60)
        assert near.sum() == 1
        seen = np.concatenate([s[f"probe{p}"][near] for p in others])
        assert seen.min() - 0.1 <= median <= seen.max() + 0.1  # 0.1 K: probe noise
        if probe == 2:
            assert np.abs(s["probe2"][near] - read).min() < 0.1
        assert str(d) == f"{deviations.at(d)}: {d.what}: {d.figure}"
    # the reviewer's table says the same, and no reference is a row of its own
    rows = narration.narrate(data, a.bands, 0, profile=_profile("nominal"))
    probe_rows = [r for r in rows if r.category == "probe" and "fault" in r.what]
    assert [r.detail.removesuffix("; excluded from the estimate") for r in probe_rows] == \
        [d.figure for d in got]
    assert not [r for r in rows if r.code == log.EV_PROBE_REFERENCE]
    # podctl.assess still names each probe's fault kind
    pv = assess.assess(a, _profile("nominal"), data)
    (r,) = [r for r in pv.reasons if r.code == "probe"]
    assert "probe 2 disagree" in r.figure and "probe 1 read" in r.figure


def test_without_its_reference_an_exclusion_says_so(probe_failure):
    # a log from firmware before PROBE_REFERENCE (or one whose event block
    # lost it): the reading alone, and the row says what is missing
    a, v, data = probe_failure
    old = dataclasses.replace(data, events=[e for e in data.events
                                            if e.code != log.EV_PROBE_REFERENCE])
    got = [d for d in deviations.deviations(old, a, v)
           if d.kind in ("probe_lost", "probe_excluded")]
    assert got[1].figure.startswith("read ") and got[1].figure.endswith(
        "(what it was compared with is not in the log)")
    # without the profile the table does not invent a limit
    rows = narration.narrate(data, a.bands, 0)
    assert not [r for r in rows if "limit" in r.detail]
    assert [r for r in rows if "from the trusted median" in r.detail]


def test_a_heater_driven_hard_without_effect_is_a_deviation_and_an_alarm(heater_failure):
    a, v, data = heater_failure
    got = deviations.deviations(data, a, v)
    (act,) = [d for d in got if d.kind == "actuator"]
    # then the onset and the Peltier after it (test_report_words)
    m = re.match(r"heater: driven at (\d+) % for 30 min with no effect \(actuator fault\); ",
                 act.what)
    assert m, act.what
    # the heater failed at 56 h: the watch judges 30 min driven hard
    assert 56 * 3600 < act.when.t <= 56 * 3600 + 4 * 3600
    # the duty is the heater channel's over the window the firmware judged
    s = data.samples
    win = (s["boot"] == act.when.boot) & (s["t"] <= act.when.t) & (s["t"] >= act.when.t - 1800)
    assert int(m[1]) == round(float(np.mean(s["heater"][win]))) >= 80
    moved = float(act.figure.split("moved ")[1].split(" K")[0])
    assert abs(moved) < 0.1  # the firmware's rule: 0.1 K its way in 30 min
    alarm = next(d for d in got if d.kind == "alarm" and "actuator" in d.what)
    assert alarm.what == "alarm actuator raised: heater" and alarm.when == act.when
    rows = narration.narrate(data, a.bands, 0)
    (row,) = [r for r in rows if r.category == "actuator"]
    assert act.what.startswith(row.what) and "moved" in row.detail
    assert ("actuator", "Actuator faults") in narration.CATEGORIES
    # the product verdict: a person judges it
    pv = assess.assess(a, _profile("cold-bay"), data)
    assert any(r.code == "alarm" and r.what == "alarm actuator raised" and r.status == "REVIEW"
               for r in pv.reasons)


def test_a_hold_past_the_phases_limit_says_the_limit_and_how_far_over(return_slip):
    a, v, data = return_slip
    rec = a.phases[4]
    assert rec.band.max_hold_s == 12 * 3600  # examples/profiles/nominal.toml: recovery
    (hold,) = [d for d in deviations.deviations(data, a, v)
               if d.kind == "alarm" and "hold" in d.what]
    assert hold.what == ("alarm hold raised: phase 4 recovery held past its maximum hold of "
                         "12 h 00 min")
    # the recovery slipped 72 h: it ran 81 h 10 min, 69 h 10 min past the limit
    assert rec.over_hold_s == pytest.approx(rec.seconds - 12 * 3600)
    assert rec.over_hold_s > 69 * 3600
    assert hold.figure.startswith(f"the phase lasted {fmt.dur(rec.seconds)}: "
                                  f"{fmt.dur(rec.over_hold_s)} over it; still raised")
    # raised when the phase reached its limit
    assert hold.when.utc == pytest.approx(rec.start.utc + 12 * 3600, abs=10)
    rows = narration.narrate(data, a.bands, 0)
    (row,) = [r for r in rows if r.code == log.EV_ALARM_RAISED and r.a == names.ALARM_HOLD]
    assert row.detail == "raised after 12 h 00 min in the phase (maximum hold 12 h 00 min)"
    # a phase without a limit is never over it
    assert a.phases[2].band.max_hold_s == 0 and a.phases[2].over_hold_s == 0


# ---------------------------------------------------------------- by hand


def _events(*more):
    return [ev(log.EV_BOOT, 0, 1, 1), ev(log.EV_PHASE, 0, 2), *more]


def test_a_rate_exclusion_says_how_fast_against_the_limit():
    nominal = _profile("nominal")
    fault = ev(log.EV_PROBE_FAULT, 600, 3, codes.FAULT_RATE, 9310)
    ref = ev(log.EV_PROBE_REFERENCE, 600, 3, codes.FAULT_RATE << 8 | 10, 6470)
    rows = [(1, 60 * i, [5.0] * 4, 0) for i in range(12)]
    data = logof(rows, _events(fault, ref))
    lim = analysis.probe_limits(nominal)
    got = narration.exclusion(fault, ref, lim)
    assert got == (f"read 9.31 degC, 2.84 K from its previous reading 6.47 degC 10 s before "
                   f"(0.28 K/s, limit {lim.rate_max:g} K/s)")
    a = analysis.analyse(data, nominal)
    (d,) = [d for d in deviations.deviations(data, a) if d.kind == "probe_lost"]
    assert d.figure == got and d.what.startswith("probe 3 excluded; it read ")


def test_a_disagree_median_of_excluded_probes_says_none_was_trusted():
    fault = ev(log.EV_PROBE_FAULT, 600, 0, codes.FAULT_DISAGREE, 5030)
    ref = ev(log.EV_PROBE_REFERENCE, 600, 0, codes.FAULT_DISAGREE << 8 | 0b1101, 7000)
    assert narration.exclusion(fault, ref) == (
        "read 5.03 degC, 1.97 K from the median 7.00 degC of probes 2, 3 and probe 0 itself "
        "(no trusted probe among them)")
    # a negative reference is read signed (u32 on flash)
    ref2 = dataclasses.replace(ref, value=(-2500) & 0xFFFFFFFF, b=ref.b | 0x10)
    assert "trusted median -2.50 degC" in narration.exclusion(fault, ref2)


def test_the_judged_probe_is_named_apart_from_the_probes_of_its_median():
    # issue 17 (nominal p1): "probe 3 ... median of probes 0, 1, 2, 3": the
    # firmware judges a trusted probe against the median of all trusted ones,
    # itself among them (SPEC 9.3), and the words say so
    fault = ev(log.EV_PROBE_FAULT, 600, 3, codes.FAULT_DISAGREE, 6560)
    ref = ev(log.EV_PROBE_REFERENCE, 600, 3, codes.FAULT_DISAGREE << 8 | 0x1F, 5030)
    lim = analysis.probe_limits(_profile("nominal"))
    assert narration.exclusion(fault, ref, lim) == (
        "read 6.56 degC, 1.53 K from the trusted median 5.03 degC of probes 0, 1, 2 and "
        "probe 3 itself (limit 1.5 K)")
    # an excluded probe is judged against the trusted ones, itself not among them
    back = ev(log.EV_PROBE_REFERENCE, 600, 2, codes.FAULT_DISAGREE << 8 | 0x19, 4500)
    two = dataclasses.replace(fault, a=2)
    assert narration.exclusion(two, back).endswith("trusted median 4.50 degC of probes 0, 3")
    one = dataclasses.replace(back, b=codes.FAULT_DISAGREE << 8 | 0x11)
    assert narration.exclusion(two, one).endswith("trusted median 4.50 degC of probe 0")
    # the decoded table says the same in its own words (no commas: CSV)
    assert events.read(log.EV_PROBE_REFERENCE, 3, ref.b, 5030).detail == (
        "reference disagree: the median of trusted probes 0 1 2 and the probe itself")


def test_a_reference_without_its_fault_is_a_row_of_its_own_not_lost():
    stray = ev(log.EV_PROBE_REFERENCE, 600, 2, codes.FAULT_DISAGREE << 8 | 0x1B, 6470)
    nominal = _profile("nominal")
    rows = narration.narrate(logof([(1, 0, [5.0] * 4, 0)], _events(stray)),
                             analysis.bands_of(nominal), 0)
    (r,) = [r for r in rows if r.category == "probe"]
    assert r.what == "probe 2 compared"
    assert r.detail == "reference disagree: the median of trusted probes 0 1 3: 6.47 degC"


def test_an_actuator_fault_with_no_record_in_its_window_says_the_watchs_threshold():
    # the records of the window were lost (an open block at a reset): the
    # duty is the firmware's rule, not a number from nowhere
    act = ev(log.EV_ACTUATOR_FAULT, 7200, 1 | 2, 1800, (-30) & 0xFFFFFFFF)
    data = logof([(1, 0, [5.0] * 4, 0)], _events(act))
    assert narration.actuator(data, act) == (
        "heater and peltier heating: driven at 4/5 of its maximum or more for 30 min with no "
        "effect (actuator fault)")
    a = analysis.analyse(data, _profile("nominal"))
    (d,) = [d for d in deviations.deviations(data, a) if d.kind == "actuator"]
    assert d.figure == "the payload moved -0.03 K in that time"
    assert math.isnan(d.earliest) is False and d.earliest == T0 + 7200


def test_the_decoded_tables_read_the_new_events_signed_and_in_their_units():
    ref = events.read(log.EV_PROBE_REFERENCE, 2, codes.FAULT_DISAGREE << 8 | 0x19,
                      (-1250) & 0xFFFFFFFF)
    assert (ref.subject, ref.value, ref.unit) == ("probe 2", -1.25, "degC")
    assert ref.detail == "reference disagree: the median of trusted probes 0 3"
    rate = events.read(log.EV_PROBE_REFERENCE, 1, codes.FAULT_RATE << 8 | 10, 4200)
    assert rate.detail == "reference rate: its previous reading, 10 s before"
    act = events.read(log.EV_ACTUATOR_FAULT, 4, 1800, (-25) & 0xFFFFFFFF)
    assert (act.subject, act.value, act.unit) == ("peltier_cooling", -0.025, "K")
    assert act.detail == "driven hard 1800 s without effect"
    hold = events.read(log.EV_ALARM_RAISED, names.ALARM_HOLD, 4, 43200)
    assert (hold.subject, hold.value, hold.unit) == ("alarm hold", 43200, "s")
    assert events.read(log.EV_ALARM_RAISED, names.ALARM_ACTUATOR, 2, 1).unit == "outputs"
