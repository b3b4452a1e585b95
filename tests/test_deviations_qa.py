"""Issue 17, the QA reviewer's findings on the deviation rows
(docs/qa-review.md), on the real logs of the probe-failure, return-slip and
heater-failure scenarios at a 10 s tick: a trusted probe out of band while
the estimate stayed in band, an excluded probe's peak and time beyond the
absolute limits, a probe that came back, the battery's margin at the end,
the actuator alarm's outputs by name; then the same rules on hand-built
logs where they must stay silent or say less."""

from __future__ import annotations

import math

import pytest

from podctl import analysis, deviations, probestats, profile_file
from protocol import codes, log, names
from protocol import profile as pf
from tests.accounting import analyse_run
from tests.test_analysis import BAD, T0, ev, logof


def _profile(name: str) -> pf.Profile:
    got = pf.check(profile_file.compile_file(f"examples/profiles/{name}.toml"))
    assert isinstance(got, pf.Profile)
    return got


@pytest.fixture(scope="module")
def probe_failure():
    a, v, data = analyse_run("probe-failure", None, 10)
    return a, data, deviations.deviations(data, a, v)


def _kind(rows, kind):
    return [d for d in rows if d.kind == kind]


def test_a_trusted_probe_out_of_band_is_a_deviation_with_duration_and_peak(probe_failure):
    a, data, rows = probe_failure
    (d,) = _kind(rows, "probe_out")
    # probe 3, trusted in recovery, above 8 degC for 6 min up to 8.42 degC
    assert d.what == "probe 3, trusted, out of band (4 recovery)"
    assert d.figure == "above 8.0 degC 6 min, peak 8.42 degC"
    assert d.when is not None and fmt_utc(d.when.utc).startswith("2027-03-10 22:1")
    # while the estimate (the mean with probe 0) stayed in band: no excursion there
    assert not [x for x in a.excursions if x.phase == 4]
    # only the time it was trusted: probe 2 read far above the band excluded,
    # probe 3's excluded readings (-1.71 to 11.20 degC) are not counted here
    st = [s for s in probestats.probe_stats(data, a) if s.probe == 3 and s.phase == 4][0]
    assert st.trusted_above_s == 360 and st.trusted_below_s == 0
    assert st.above_s >= st.trusted_above_s
    (two,) = [s for s in probestats.probe_stats(data, a)
              if s.probe == 2 and s.phase == probestats.WHOLE]
    assert two.above_s > 43 * 3600 and two.trusted_above_s == 0 and math.isnan(two.trusted_peak)


def fmt_utc(u: float) -> str:
    from podctl import fmt

    return fmt.utc(u)


def test_an_excluded_probe_row_carries_its_peak_and_time_beyond_the_limits(probe_failure):
    _, _, rows = probe_failure
    (two,) = [d for d in _kind(rows, "probe_lost") if d.what.startswith("probe 2 ")]
    assert "it read 4.73 to 22.05 degC over the mission" in two.what
    assert "beyond the absolute limits for 43 h 15 min" in two.what
    # probe 1 (open circuit) never left the limits: nothing beyond them said
    (one,) = [d for d in _kind(rows, "probe_lost") if d.what.startswith("probe 1 ")]
    assert "beyond" not in one.what


def test_a_probe_that_came_back_is_excluded_not_lost(probe_failure):
    _, _, rows = probe_failure
    (three,) = _kind(rows, "probe_excluded")
    assert three.what.startswith("probe 3 excluded (recovered after 2 h 04 min 50 s, trusted "
                                 "again at 2027-03-05 22:04:50Z)")
    assert not [d for d in _kind(rows, "probe_lost") if d.what.startswith("probe 3 ")]
    assert "probe_excluded" in deviations.KINDS


def test_a_battery_under_its_margin_at_the_end_is_a_deviation():
    a, v, data = analyse_run("return-slip", None, 10)
    low = _profile("nominal").header[pf.H_BATTERY_LOW] / 1000
    (d,) = _kind(deviations.deviations(data, a, v, battery_low_v=low), "battery")
    assert d.figure == ("10.62 V, +0.06 V over the 10.56 V alarm (margin under 0.2 V)")
    assert d.when == a.last
    # not judged without the alarm level; a lower alarm leaves a margin: silent
    assert not _kind(deviations.deviations(data, a, v), "battery")
    assert not _kind(deviations.deviations(data, a, v, battery_low_v=10.62 - 0.21), "battery")
    assert _kind(deviations.deviations(data, a, v, battery_low_v=10.62 - 0.19), "battery")


def test_the_actuator_alarm_names_its_outputs():
    a, v, data = analyse_run("heater-failure", None, 10)
    (span,) = [s for s in deviations.alarm_spans(data, a) if s.alarm == names.ALARM_ACTUATOR]
    assert (span.value, span.unit) == (1, "output: heater")
    (d,) = [d for d in _kind(deviations.deviations(data, a, v), "alarm") if "actuator" in d.what]
    assert d.what == "alarm actuator raised: heater"


def test_two_outputs_and_an_unknown_bit_are_named():
    prof = _profile("nominal")
    rows = [(1, 60 * i, [5.0] * 4, 0) for i in range(10)]
    evs = [ev(log.EV_BOOT, 0, 0, 1), ev(log.EV_PHASE, 0, 0), ev(log.EV_TIME_SET, 0, value=int(T0)),
           ev(log.EV_ALARM_RAISED, 120, names.ALARM_ACTUATOR, 0, 1 | 4),
           ev(log.EV_ALARM_RAISED, 180, codes.ALARM_LID, 0, 61)]
    data = logof(rows, evs)
    a = analysis.analyse(data, prof)
    (span,) = [s for s in deviations.alarm_spans(data, a) if s.alarm == names.ALARM_ACTUATOR]
    assert (span.value, span.unit) == (2, "outputs: heater and peltier_cooling")
    # a mask no output of this protocol has: the bits, never an empty name
    data = logof(rows, evs[:3] + [ev(log.EV_ALARM_RAISED, 120, names.ALARM_ACTUATOR, 0, 64)])
    (span,) = deviations.alarm_spans(data, analysis.analyse(data, prof))
    assert span.unit == "output: outputs 64"


def test_in_band_probes_a_lost_probe_and_an_estimate_excursion_raise_no_probe_out():
    prof = _profile("nominal")
    # all four probes at 9 degC: the estimate is out, an excursion; no probe_out twice over.
    # probe 1 reads 12 degC, excluded from 300 s: its time is not "trusted"
    temps = {300: 9.0, 360: 9.0}
    rows = [(1, t, [temps.get(t, 5.0)] * 4, 0) for t in range(0, 1200, 60)]
    evs = [ev(log.EV_BOOT, 0, 0, 1), ev(log.EV_PHASE, 0, 0), ev(log.EV_TIME_SET, 0, value=int(T0))]
    data = logof(rows, evs)
    got = deviations.deviations(data, analysis.analyse(data, prof))
    assert _kind(got, "excursion") and not _kind(got, "probe_out")
    # probe 1 excluded at 300 s, then reading 12 degC: what it read excluded is not trusted time
    rows = [(1, t, [5.0, 12.0 if t >= 300 else 5.0, 5.0, 5.0], BAD if t >= 300 else 0)
            for t in range(0, 1200, 60)]
    data = logof(rows, evs + [ev(log.EV_PROBE_FAULT, 300, 1, codes.FAULT_DISAGREE, 12000)])
    a = analysis.analyse(data, prof)
    assert not _kind(deviations.deviations(data, a), "probe_out")
    (one,) = [s for s in probestats.probe_stats(data, a)
              if s.probe == 1 and s.phase == probestats.WHOLE]
    assert one.above_s == 900 and one.trusted_above_s == 0
    # one probe 3 K above the others, trusted: out of band while the mean holds
    rows = [(1, t, [5.0, 5.0, 5.0, 9.0 if t in temps else 5.0], 0) for t in range(0, 1200, 60)]
    data = logof(rows, evs)
    (d,) = _kind(deviations.deviations(data, analysis.analyse(data, prof)), "probe_out")
    assert d.figure == "above 8.0 degC 2 min, peak 9.00 degC" and d.when.utc == T0 + 300


def test_an_exclusion_row_names_the_judged_probe_apart_from_its_median(probe_failure):
    # the QA review (all p1/p4): "probe 3 ... median of probes 0, 1, 2, 3",
    # the probe judged listed among the probes of the median it was judged
    # against; the row names the others and the probe itself apart
    import re

    _, data, rows = probe_failure
    lost = [d for d in rows if d.kind in ("probe_lost", "probe_excluded")
            and "median" in d.figure]
    assert lost
    for d in lost:
        probe = int(re.match(r"probe (\d)", d.what).group(1))
        of = re.search(r"median [-0-9.]+ degC of (probes? [0-9, ]+?)(?: and probe (\d) itself)?"
                       r"(?: \(|$)", d.figure)
        assert of, d.figure
        listed = [int(p) for p in re.findall(r"\d", of.group(1))]
        assert probe not in listed, d.figure
        if of.group(2) is not None:
            assert int(of.group(2)) == probe


def test_the_wait_for_the_first_reading_is_not_called_a_gap_between_records(probe_failure):
    # nominal p1 read "no record between two records (0 pad) 10 s" for the
    # time from the board's start to its first tick's record: there was no
    # record before it
    a, data, rows = probe_failure
    head = [g for g in a.gaps if g.head]
    assert len(head) == 1
    (d,) = [d for d in _kind(rows, "gap") if d.when == head[0].start]
    assert d.what.startswith("no reading yet: the board started before its first reading")
    assert "between two records" not in d.what
