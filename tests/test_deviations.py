"""podctl.deviations (issue 17, findings 4 and 6): every deviation a
reviewer would raise, one line each, in time order, on a log built by hand
whose every deviation was put there; and each alarm's duration."""

from __future__ import annotations

import math

import pytest

from podctl import analysis, deviations, profile_file
from protocol import codes, log
from protocol import profile as pf
from tests.test_analysis import BAD, T0, ev, logof


@pytest.fixture(scope="module")
def nominal() -> pf.Profile:
    got = pf.check(profile_file.compile_file("examples/profiles/nominal.toml"))
    assert isinstance(got, pf.Profile)
    return got


def _mission():
    """Boot 1 (clocked at T0): the pad from 0 s, a minute a record to 1200 s;
    9 degC from 300 to 420 s (2 min above the band); passive safe mode 600
    to 900 s; probe 2 excluded at 700 s; the lid alarm raised at 800 s and
    cleared by a new profile at 1000 s; the shock alarm at 1100 s, never
    cleared; the clock corrected +5 s at 1150 s. Boot 2 (watchdog, never
    clocked): 0..120 s, the storage drops records at 60 s."""
    temps = {300: 9.0, 360: 9.0}
    rows = [(1, t, [temps.get(t, 5.0)] * 4, BAD if t >= 720 else 0) for t in range(0, 1200, 60)]
    rows += [(2, t, [5.0] * 4, 0) for t in (0, 60, 120)]
    events = [
        ev(log.EV_BOOT, 0, codes_reset("power-on"), 1), ev(log.EV_PHASE, 0, 0),
        ev(log.EV_TIME_SET, 0, value=int(T0)),
        ev(log.EV_MODE, 600, codes.MODE_PASSIVE, codes.MODE_PID),
        ev(log.EV_PROBE_FAULT, 700, 2, 3, 9100),
        ev(log.EV_ALARM_RAISED, 800, codes.ALARM_LID, 0, 61),
        ev(log.EV_MODE, 900, codes.MODE_PID, codes.MODE_PASSIVE),
        ev(log.EV_ALARM_CLEARED, 1000, codes.ALARM_LID, 0),
        ev(log.EV_ALARM_RAISED, 1100, codes.ALARM_SHOCK, 0, 20000),
        ev(log.EV_TIME_SET, 1150, value=int(T0) + 1155),
        ev(log.EV_BOOT, 0, codes_reset("watchdog"), 2, boot=2, clock=False),
        ev(log.EV_STORAGE_FULL, 60, 2, 0, 40, boot=2, clock=False),
    ]
    return logof(rows, events)


def codes_reset(name: str) -> int:
    from podctl.events import RESETS

    return next(k for k, v in RESETS.items() if v == name)


def test_every_deviation_is_listed_once_in_time_order(nominal):
    data = _mission()
    a = analysis.analyse(data, nominal, until=analysis.When(2, 180, math.nan))
    got = deviations.deviations(data, a)
    kinds = [d.kind for d in got]
    assert kinds == ["excursion", "safe_mode", "probe_lost", "alarm", "alarm", "clock", "gap",
                     "reset", "storage", "not_reached", "not_reached", "not_reached",
                     "not_reached"]
    x, safe, probe, lid, shock, clock, gap, reset, storage = got[:9]
    assert x.when.utc == T0 + 300 and "above 8.0 degC" in x.what and "2 min" in x.figure
    assert safe.figure == "5 min" and "passive" in safe.what
    assert probe.when.utc == T0 + 700 and "probe 2" in probe.what and "9.10 degC" in probe.figure
    assert "lid" in lid.what and lid.figure == "cleared after 3 min 20 s"
    # boot 2 has no clock: the shock's duration is the rest of boot 1 and boot 2's uptime
    assert "shock" in shock.what and shock.figure.startswith("still raised at the end")
    assert clock.figure == "corrected by +5 s"
    assert gap.kind == "gap" and "off between two boots" in gap.what
    assert "unknown length" in gap.figure
    # the unclocked boot's moments are bounded from below by boot 1's last record
    assert "watchdog" in reset.what and math.isnan(reset.latest)
    assert reset.earliest == T0 + 1200
    assert storage.earliest == T0 + 1260 and "at" not in deviations.at(storage)[:4]
    assert "after 2027-01-15 08:21:00Z" in deviations.at(storage)
    assert all(d.when is None for d in got[9:])
    # nothing deviates twice: a deviation is one line
    assert len({str(d) for d in got}) == len(got)


def test_an_alarm_lasts_from_raised_to_cleared_or_to_the_end(nominal):
    data = _mission()
    a = analysis.analyse(data, nominal, until=analysis.When(2, 180, math.nan))
    lid, shock = deviations.alarm_spans(data, a)
    assert (lid.name, lid.seconds, lid.least_s, lid.still_raised) == ("lid", 200, 200, False)
    assert lid.cleared == analysis.When(1, 1000, T0 + 1000) and lid.value == 61
    assert lid.unit == "s"
    assert shock.still_raised and shock.cleared is None and shock.value == 20
    assert math.isnan(shock.seconds)  # boot 2 has no clock
    # at least: the rest of boot 1 (1200 - 1100 s, its last record) and boot 2's 180 s
    assert shock.least_s == 100 + 180
    # with boot 2 clocked, the time is exact
    data.samples["utc"][data.samples["boot"] == 2] = T0 + 2000 + data.samples["t"][-3:]
    for e in data.events:
        if e.boot == 2:
            e.utc = T0 + 2000 + e.t
    b = analysis.analyse(data, nominal, until=analysis.When(2, 180, T0 + 2180))
    (_, shock) = deviations.alarm_spans(data, b)
    assert shock.seconds == shock.least_s == 2180 - 1100


def test_a_phase_over_plan_is_a_deviation_with_how_much(nominal):
    rows = [(1, 10 * i, [5.0] * 4, 0) for i in range(90)]
    events = [ev(log.EV_BOOT, 0, 1, 1), ev(log.EV_PHASE, 0, 1), ev(log.EV_PHASE, 900, 2)]
    data = logof(rows, events)
    a = analysis.analyse(data, nominal)
    (over,) = [d for d in deviations.deviations(data, a) if d.kind == "over_plan"]
    assert over.figure == "15 min, planned 10 min: +5 min" and over.phase == 1
    # within one sampling interval of the plan: a tick's rounding, not a deviation
    events[-1] = ev(log.EV_PHASE, 610, 2)
    data = logof(rows, events)
    assert not [d for d in deviations.deviations(data, analysis.analyse(data, nominal))
                if d.kind == "over_plan"]
