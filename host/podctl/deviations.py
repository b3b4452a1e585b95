"""What a reviewer would raise, one line each, in time order: the
deviations of a mission (issue 17, findings 4 and 6).

  spans = deviations.alarm_spans(data, a)          # each alarm: raised, cleared, how long
  rows = deviations.deviations(data, a, verdict)   # every deviation, ordered by time
  for d in rows: d.kind, d.when, d.earliest, d.latest, d.what, d.figure

Kinds: reset (an unplanned restart and its cause), safe_mode (time in a
safe mode), probe_lost (a probe the firmware excluded, when, and what its
reading was compared with: "probe 2 excluded: read 9.31 degC, 2.84 K from
the trusted median 6.47 degC of probes 0, 3 (limit 1.5 K)"; its line also
says what it read over the mission and how long beyond the absolute
limits), probe_excluded (the same for a probe that came back: when, after
how long), probe_out (a probe out of band while trusted and the estimate
in band: the mean averaged it away; per phase, duration and peak),
battery (less than BATTERY_MARGIN_V over its alarm at the end), actuator (an
output the firmware found driven hard without effect: "heater: driven at
90 % for 30 min with no effect (actuator fault)"),
excursion, alarm (raised, cleared or still raised, how long; alarm hold
with the phase's maximum hold time and how far the phase ran past it), gap (time no
record covers, bounded where the records around it bound it), over_plan
(a timed phase longer than planned by more than its sampling interval),
not_reached (a phase the mission never entered), clock (a correction of
the device's clock, or the verdict's clock finding), storage (records
dropped or recording stopped).

Each carries its moment as a UTC interval (earliest, latest): equal when
its boot's clock is known, the bounds analysis gives an unclocked boot
otherwise (Analysis.utc_bounds), NaN on a side nothing bounds. They are
ordered by their earliest UTC; a deviation with none keeps the log's
order among its neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from podctl import actuation, fmt, narration, probespread, probestats
from podctl import events as evnames
from podctl.analysis import Analysis, When
from podctl.logdata import Event, LogData
from protocol import codes, log, names
from protocol import profile as pf

KINDS = ("reset", "safe_mode", "probe_lost", "probe_excluded", "probe_out", "disagree",
         "actuator", "excursion", "alarm", "gap", "over_plan", "not_reached", "clock",
         "storage", "battery")

# alarms on a one-off reading (a knock): the firmware latches them until a
# new profile clears them, so their "duration" is not how long it lasted
LATCHED = (codes.ALARM_SHOCK,)


@dataclass(frozen=True)
class AlarmSpan:
    """One alarm from raised to cleared (a new profile clears every
    latched alarm), or to the end of the log when still raised."""

    alarm: int  # protocol.codes ALARM_*
    name: str
    phase: int  # the phase it judged, as the firmware recorded it
    raised: When
    cleared: When | None  # None: still raised at the end of the log
    value: float  # the reading that raised it, in unit
    unit: str
    seconds: float  # raised to cleared or to the end; NaN: the clocks do not say
    least_s: float  # the least it can be: seconds, or across unclocked boots the uptimes between
    reading: str = ""  # what the alarm measured, in words, its limit labelled as a limit

    @property
    def still_raised(self) -> bool:
        return self.cleared is None

    @property
    def latched(self) -> bool:
        return self.alarm in LATCHED


@dataclass(frozen=True)
class Deviation:
    kind: str  # one of KINDS
    when: When | None  # where it starts (None: it has no moment, e.g. a phase not reached)
    earliest: float  # UTC bounds of that moment (NaN: unbounded on that side)
    latest: float
    what: str  # the line a reviewer reads
    figure: str = ""  # the number that matters, with its unit or limit
    phase: int = -1

    def __str__(self) -> str:
        return f"{at(self)}: {self.what}" + (f": {self.figure}" if self.figure else "")


def at(d: Deviation) -> str:
    """The moment in words: UTC, or its bounds, or boot and uptime."""
    if d.when is None:
        return "-"
    if not math.isnan(d.when.utc):
        return fmt.utc(d.when.utc)
    lo, hi = d.earliest, d.latest
    if math.isnan(lo) and math.isnan(hi):
        return str(d.when)
    if math.isnan(hi):
        return f"{d.when}, after {fmt.utc(lo)}"
    if math.isnan(lo):
        return f"{d.when}, before {fmt.utc(hi)}"
    return f"{d.when}, between {fmt.utc(lo)} and {fmt.utc(hi)}"


def _between(a: When, b: When) -> float:
    """Seconds from a to b: by uptime in one boot, by UTC across boots."""
    if a.boot == b.boot:
        return b.t - a.t
    return b.utc - a.utc  # NaN when either has no clock


def _least(an: Analysis, a: When, b: When) -> float:
    """The least time from a to b: exact when the clocks say, else the rest
    of a's boot, the boots between and b's uptime (the board off: 0)."""
    exact = _between(a, b)
    if not math.isnan(exact):
        return exact
    mine = an.boot == a.boot
    last = float((an.t[mine] + an.dt[mine]).max()) if mine.any() else a.t
    reach = {u.boot: u.reach_s for u in an.unclocked}
    return max(last - a.t, 0.0) + sum(r for k, r in reach.items() if a.boot < k < b.boot) + b.t


def _end(a: Analysis) -> When | None:
    return a.until if a.until is not None else a.last


def _moment(a: Analysis, e: Event) -> When:
    return When(e.boot, float(e.t), e.utc)


@dataclass(frozen=True)
class LidOpen:
    """The lid's open span as the records' lid flag shows it."""

    start: When  # the first flagged record
    seconds: float  # to the last flagged record's end, or to the end of the log
    at_end: bool  # still open at the end of the log: seconds is a least
    low: float  # the estimate's range meanwhile, degC (NaN: no valid reading)
    high: float

    def words(self) -> str:
        least = "at least " if self.at_end else ""
        est = ("" if math.isnan(self.low) else f"; the estimate {self.low:.2f} to "
               f"{self.high:.2f} degC meanwhile")
        return (f"lid open {least}{fmt.dur(self.seconds)} from {self.start}"
                + (" (still open at the end of the log)" if self.at_end else "") + est)


def lid_open(data: LogData, a: Analysis, raised: When) -> LidOpen | None:
    """The run of records flagged lid open that holds the alarm's moment
    (the alarm is raised after the limit, so the run starts before it);
    None when no record before it is flagged."""
    s = data.samples
    if not len(s) or len(s) != len(a.t):
        return None
    flag = (s["status"] & log.STATUS_LID_OPEN) != 0
    mine = np.flatnonzero(flag & (a.boot == raised.boot) & (a.t <= raised.t))
    if not len(mine):
        return None
    k = int(mine[-1])
    first, last, n = k, k, len(flag)
    while first > 0 and flag[first - 1] and a.boot[first - 1] == raised.boot:
        first -= 1
    while last + 1 < n and flag[last + 1] and a.boot[last + 1] == raised.boot:
        last += 1
    start = When(raised.boot, float(a.t[first]), float(a.utc[first]))
    at_end = last == n - 1
    to = When(raised.boot, float(a.t[last] + a.dt[last]), float(a.utc[last] + a.dt[last]))
    if at_end and a.until is not None:
        to = a.until
    est = np.where(a.valid[first:last + 1], a.estimate[first:last + 1], np.nan)
    some = bool((~np.isnan(est)).any())
    return LidOpen(start, _between(start, to), at_end,
                   float(np.nanmin(est)) if some else math.nan,
                   float(np.nanmax(est)) if some else math.nan)


def _reading(data: LogData, a: Analysis, e: Event, value: float, unit: str,
             profile: pf.Profile | None) -> str:
    """The Alarms table's Reading: what was measured, the limit named as one."""
    h = profile.header if profile is not None else None
    if e.a == codes.ALARM_LID:
        lid = lid_open(data, a, _moment(a, e))
        said = lid.words() if lid is not None else "lid flag in no record before it"
        return f"{said}; limit {fmt.dur(value)}"
    if e.a == names.ALARM_HOLD and 0 <= e.b < len(a.phases):
        ps = a.phases[e.b]
        least = "at least " if ps.unbounded else ""
        limit = ps.band.max_hold_s or value
        return f"held {least}{fmt.dur(ps.seconds)} against a maximum of {fmt.dur(limit)}"
    if e.a == codes.ALARM_SHOCK:
        shock = f", limit {h[pf.H_SHOCK] / 1000:g} g" if h is not None else ""
        return f"peak {value:g} g{shock}"
    if e.a == names.ALARM_ACTUATOR:  # its outputs are said by name beside it
        return ""
    return "" if math.isnan(value) else f"{value:g} {unit}"


def alarm_spans(data: LogData, a: Analysis,
                profile: pf.Profile | None = None) -> list[AlarmSpan]:
    """Every alarm raised, in order, with its clearing or still raised.
    profile: the one the device ran, for the limits the Reading names."""
    open_: dict[int, tuple[Event, float, str]] = {}
    out: list[AlarmSpan] = []
    end = _end(a)

    def close(alarm: int, cleared: When | None) -> None:
        e, value, unit = open_.pop(alarm)
        raised = _moment(a, e)
        to = cleared if cleared is not None else end
        secs = math.nan if to is None else _between(raised, to)
        least = math.nan if to is None else _least(a, raised, to)
        out.append(AlarmSpan(alarm, names.name(names.ALARMS, alarm), e.b, raised, cleared,
                             value, unit, secs, least,
                             _reading(data, a, e, value, unit, profile)))

    for e in data.events:
        if e.code == log.EV_ALARM_RAISED and e.a not in open_:
            r = evnames.read(e.code, e.a, e.b, e.value)
            value, unit = r.value, r.unit
            if e.a == names.ALARM_ACTUATOR:  # its value is a bit mask: the outputs by name
                named = evnames.outputs(e.value)
                value, unit = len(named), ("output: " if len(named) == 1 else "outputs: ") + \
                    " and ".join(named)
            open_[e.a] = (e, value, unit)
        elif e.code == log.EV_ALARM_CLEARED and e.a in open_:
            close(e.a, _moment(a, e))
    for alarm in list(open_):
        close(alarm, None)
    out.sort(key=lambda s: (s.raised.boot, s.raised.t))
    return out


def _dev(a: Analysis, kind: str, w: When | None, what: str, figure: str = "",
         phase: int = -1) -> Deviation:
    lo, hi = (math.nan, math.nan) if w is None else a.utc_bounds(w.boot, w.t, w.utc)
    return Deviation(kind, w, lo, hi, what, figure, phase)


def _phase_name(a: Analysis, p: int) -> str:
    return f"{p} {a.bands[p].name}" if 0 <= p < len(a.bands) else f"phase {p}"


def _resets(a: Analysis, evs: list[Event]) -> Iterable[Deviation]:
    boots = [e for e in evs if e.code == log.EV_BOOT]
    for e in boots[1:]:  # the first boot is the mission's start, every later one a restart
        yield _dev(a, "reset", _moment(a, e), f"unplanned restart (boot {e.b}): "
                   f"{evnames.reset_name(e.a)} reset", figure=f"cause {evnames.reset_name(e.a)}")


def _safe_modes(a: Analysis, evs: list[Event]) -> Iterable[Deviation]:
    modes = [e for e in evs if e.code in (log.EV_MODE, log.EV_BOOT)]
    end = _end(a)
    for k, e in enumerate(modes):
        if e.code != log.EV_MODE or e.a not in codes.SAFE_MODES:
            continue
        start = _moment(a, e)
        nxt = modes[k + 1] if k + 1 < len(modes) else None
        if nxt is not None:
            secs = _between(start, _moment(a, nxt))
            how = "" if nxt.code == log.EV_MODE else " (to the next restart)"
        else:
            secs = math.nan if end is None else _between(start, end)
            how = " (still in it at the end of the log)"
        yield _dev(a, "safe_mode", start, f"{names.name(names.MODES, e.a)} safe mode: the "
                   "controller stopped regulating", f"{fmt.dur(secs)}{how}")


def _probes(a: Analysis, evs: list[Event],
            whole: dict[int, probestats.ProbeStats]) -> Iterable[Deviation]:
    """probe_lost: excluded to the end of the log; probe_excluded: it came
    back (PROBE_RECOVERED of the same probe in the same boot), when and
    after how long. Each names what the probe read over the mission, its
    excluded readings included: the peak and the time beyond the absolute
    limits, which the estimate never shows."""
    refs = narration.references(evs)
    for k, e in enumerate(evs):
        if e.code != log.EV_PROBE_FAULT:
            continue
        back = next((r for r in evs[k + 1:] if r.boot == e.boot and r.a == e.a
                     and r.code in (log.EV_PROBE_RECOVERED, log.EV_PROBE_FAULT)), None)
        what, kind = f"probe {e.a} excluded", "probe_lost"
        if back is not None and back.code == log.EV_PROBE_RECOVERED:
            kind = "probe_excluded"
            came = _moment(a, back)
            at_ = fmt.utc(came.utc) if not math.isnan(came.utc) else str(came)
            what += f" (recovered after {fmt.dur(back.t - e.t)}, trusted again at {at_})"
        st = whole.get(e.a)
        if st is not None and st.readings:
            beyond = st.abs_high_s + st.abs_low_s
            what += (f"; it read {st.t_min:.2f} to {st.t_max:.2f} degC over the mission"
                     + (f", beyond the absolute limits for {fmt.dur(beyond)}" if beyond else ""))
        yield _dev(a, kind, _moment(a, e), what, narration.exclusion(e, refs.get(k), a.limits))


def _trusted_out(a: Analysis, rows: list[probestats.ProbeStats]) -> Iterable[Deviation]:
    """A probe out of band while the firmware trusted it: the estimate (a
    mean) can stay in band while one trusted probe is out, so it is a
    deviation of its own, per phase, with its duration and peak."""
    for st in rows:
        if st.probe == probestats.ESTIMATE or st.phase == probestats.WHOLE:
            continue
        out = st.trusted_above_s + st.trusted_below_s
        if not out:
            continue
        b = a.bands[st.phase]
        sides = ", ".join(f"{side} {lim:.1f} degC {fmt.dur(s)}" for side, lim, s in
                          (("above", b.high, st.trusted_above_s),
                           ("below", b.low, st.trusted_below_s)) if s)
        yield _dev(a, "probe_out", st.trusted_out_at, f"probe {st.probe}, trusted, out of band "
                   f"({_phase_name(a, st.phase)})", f"{sides}, peak {st.trusted_peak:.2f} degC",
                   st.phase)


# the battery's margin over its alarm level at the end of the log under
# which a reviewer raises a near miss (return-slip ended 0.06 V above it)
BATTERY_MARGIN_V = 0.2


def _battery(a: Analysis, battery_low_v: float | None,
             spans: list[AlarmSpan]) -> Iterable[Deviation]:
    if battery_low_v is None or not len(a.battery):
        return
    v = float(a.battery[-1])
    margin = v - battery_low_v
    if margin < 0:  # below it: not a margin but how far under, and since when
        low = next((s for s in spans if s.alarm == codes.ALARM_BATTERY_LOW), None)
        since = ("" if low is None
                 else f", battery_low since {at(_dev(a, 'alarm', low.raised, ''))}")
        yield _dev(a, "battery", a.last, "battery below its alarm level at the end of the log",
                   f"{v:.2f} V, {-margin:.2f} V below the {battery_low_v:.2f} V alarm level"
                   f"{since}", int(a.phase[-1]))
    elif margin < BATTERY_MARGIN_V:
        yield _dev(a, "battery", a.last, "battery near its alarm level at the end of the log",
                   f"{v:.2f} V, {margin:+.2f} V over the {battery_low_v:.2f} V alarm "
                   f"(margin under {BATTERY_MARGIN_V:.1f} V)", int(a.phase[-1]))


def _actuators(a: Analysis, data: LogData) -> Iterable[Deviation]:
    for e in data.events:
        if e.code == log.EV_ACTUATOR_FAULT:
            moved = evnames.signed(e.value) / 1000
            what = narration.actuator(data, e)
            after = actuation.after_fault(data, a, e)
            onset = actuation.onset(data, a, e)
            yield _dev(a, "actuator", _moment(a, e), what + "".join(
                f"; {w}" for w in (onset, after) if w),
                f"the payload moved {moved:+.2f} K in that time")


def _disagreeing(a: Analysis) -> Iterable[Deviation]:
    for d in probespread.disagreements(a):
        yield _dev(a, "disagree", d.start, d.words(), d.figure())


def _excursions(a: Analysis) -> Iterable[Deviation]:
    for x in a.excursions:
        b = a.bands[x.phase]
        limit = b.high if x.side == "above" else b.low
        yield _dev(a, "excursion", x.start, f"out of band {x.side} {limit:.1f} degC "
                   f"({_phase_name(a, x.phase)})", f"{fmt.dur(x.seconds)}, peak {x.peak:.2f} degC"
                   + (", beyond the excursion delay" if x.beyond_delay else ""), x.phase)


def _alarms(a: Analysis, spans: list[AlarmSpan]) -> Iterable[Deviation]:
    for s in spans:
        reading = "" if math.isnan(s.value) else f" at {s.value:g} {s.unit}"
        long = (fmt.dur(s.seconds) if not math.isnan(s.seconds)
                else f"at least {fmt.dur(s.least_s)}")
        held = (f"still raised at the end of the log, {long}" if s.still_raised
                else f"cleared after {long}")
        what = f"alarm {s.name} raised{reading}"
        if s.latched:  # raised for one reading and kept: its time raised is no duration
            what = f"alarm {s.name} raised: {s.reading}" if s.reading else what
            held = ("still raised at the end of the log" if s.still_raised
                    else f"cleared at {s.cleared}")
            held += ": latched (the alarm stays raised until cleared)"
        elif s.alarm == codes.ALARM_LID and s.reading:
            what = f"alarm {s.name} raised: {s.reading}"
        if s.alarm == names.ALARM_HOLD and 0 <= s.phase < len(a.phases):
            what, held = _hold(a, s.phase, held)
        elif s.alarm == names.ALARM_ACTUATOR:
            what = f"alarm {s.name} raised: {s.unit.split(': ', 1)[-1]}"
        yield _dev(a, "alarm", s.raised, what, held, s.phase)


def _hold(a: Analysis, phase: int, held: str) -> tuple[str, str]:
    """Alarm hold in words: the phase's maximum hold time and how far the
    phase ran past it (a least when a silence in it is unbounded)."""
    ps = a.phases[phase]
    limit = ps.band.max_hold_s
    what = (f"alarm hold raised: phase {_phase_name(a, phase)} held past its maximum hold"
            + (f" of {fmt.dur(limit)}" if limit else ""))
    if not limit:
        return what, held
    least = "at least " if ps.unbounded else ""
    return what, (f"the phase lasted {least}{fmt.dur(ps.seconds)}: {least}"
                  f"{fmt.dur(ps.over_hold_s)} over it; {held}")


def _gaps(a: Analysis) -> Iterable[Deviation]:
    for g in a.gaps:
        if g.seconds is not None:
            fig = fmt.dur(g.seconds)
        elif g.shared is not None and g.shared.silences > 1:
            # each row alone says "at most X": together they are exactly X,
            # counted once (analysis.SharedSilence), as the Data gaps say
            sh = g.shared
            boots = ", ".join(str(b) for b in sh.boots)
            fig = (f"at most {fmt.dur(sh.seconds)}; with the other silence(s) around boot(s) "
                   f"{boots}, together exactly {fmt.dur(sh.seconds)}")
        elif g.at_most is not None:
            fig = f"at most {fmt.dur(g.at_most)} (the clocked records around it bound it)"
        else:
            fig = "of unknown length: nothing clocked after it bounds it"
        between = list(range(g.start.boot + 1, g.end.boot)) if g.restart and not g.tail else []
        reach = {u.boot: u.reach_s for u in a.unclocked}
        # what is known: the boots between ran (their events say so) and
        # their records, with the first boot's unflushed ones, were in RAM
        # blocks a reset cut; the board was off only while restarting
        ran = ", ".join(f"boot {b}" + (f" (its events reach +{fmt.dur(reach[b])})"
                                       if b in reach else "") for b in between)
        what = ("no reading yet: the board started before its first reading (the first tick)"
                if g.head
                else "no record from the last one to the device's end of the log" if g.tail
                else f"no record from boot {g.start.boot} to boot {g.end.boot}: boot "
                f"{g.start.boot}'s last records and those of {ran} were lost with their open "
                "blocks at the resets; the board ran meanwhile, off only while restarting"
                if between
                else "the board was off between two boots" if g.restart
                else "no record between two records")
        yield _dev(a, "gap", g.start, f"{what} ({_phase_name(a, g.phase)})", fig, g.phase)


def _plan(a: Analysis) -> Iterable[Deviation]:
    for ps in a.phases:
        b = ps.band
        if ps.start is None:
            yield _dev(a, "not_reached", None, f"phase {_phase_name(a, b.index)} never entered",
                       phase=b.index)
        elif ps.over_plan_s > b.interval:
            least = "at least " if ps.unbounded else ""
            yield _dev(a, "over_plan", ps.start, f"phase {_phase_name(a, b.index)} longer than "
                       "planned", f"{least}{fmt.dur(ps.seconds)}, planned "
                       f"{fmt.dur(ps.planned_s)}: {least}+{fmt.dur(ps.over_plan_s)}", b.index)


def _clock(a: Analysis, evs: list[Event], verdict: Any) -> Iterable[Deviation]:
    first: dict[int, int] = {}
    for e in evs:
        if e.code != log.EV_TIME_SET:
            continue
        off = e.value - e.t
        if e.boot in first and off != first[e.boot]:
            yield _dev(a, "clock", _moment(a, e), "the device's clock was set again",
                       f"corrected by {off - first[e.boot]:+d} s")
        first.setdefault(e.boot, off)
    for f in getattr(verdict, "findings", []):
        if f.code == "clock":
            yield _dev(a, "clock", a.until, f.reason)


def _storage(a: Analysis, evs: list[Event]) -> Iterable[Deviation]:
    for e in evs:
        if e.code == log.EV_STORAGE_FULL:
            r = evnames.read(e.code, e.a, e.b, e.value)
            what = ("storage full: recording stopped" if e.a == 0
                    else "oldest records dropped to make room" if e.a in (1, 2)
                    else "storage full")
            yield _dev(a, "storage", _moment(a, e), what, f"{r.detail} {r.value:g} {r.unit}")


def deviations(data: LogData, a: Analysis, verdict: Any = None, *,
               battery_low_v: float | None = None,
               profile: pf.Profile | None = None) -> list[Deviation]:
    """Every deviation of the mission (module docstring), ordered by time.
    verdict: podctl.verify's, for its clock finding (None: not judged).
    battery_low_v: the profile's battery alarm level (None: not judged).
    profile: the one the device ran, for the alarms' limits (None: unnamed)."""
    evs = data.events
    spans = alarm_spans(data, a, profile)
    stats = probestats.probe_stats(data, a) if a.records else []
    whole = {s.probe: s for s in stats if s.phase == probestats.WHOLE}
    found = [*_resets(a, evs), *_safe_modes(a, evs), *_probes(a, evs, whole),
             *_trusted_out(a, stats), *_disagreeing(a), *_battery(a, battery_low_v, spans),
             *_actuators(a, data), *_excursions(a), *_alarms(a, spans), *_gaps(a),
             *_plan(a), *_clock(a, evs, verdict), *_storage(a, evs)]

    def key(d: Deviation) -> tuple[float, int, float]:
        lo = d.earliest if not math.isnan(d.earliest) else d.latest
        if d.when is None:
            return (math.inf, 1 << 30, 0.0)
        return (lo if not math.isnan(lo) else math.inf, d.when.boot, d.when.t)

    return sorted(found, key=key)
