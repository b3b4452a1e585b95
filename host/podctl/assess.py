"""The product verdict: was the band held for the whole mission, by the
handling profile's own rules? RELEASE, REVIEW, REJECT or INCOMPLETE, each
with the reasons that decided it. Apart from integrity, never merged with
it: podctl.verify says whether the log is authentic and complete, this
says what an authentic log shows about the samples. A batch is released on
both (`podctl logs assess` exits 0 only for VERIFIED and RELEASE).

  a = analysis.analyse(data, profile, until=assess.log_end(verdict, manifest))
  pv = assess.assess(a, profile, data, simulated=verdict.simulated)
  pv.status, [(r.code, r.status, r.what, r.figure) for r in pv.reasons]

The rules (a reason each; the verdict is the gravest of its reasons):

REJECT, an excursion beyond the profile's rules:
  excursion   out of band at least as long as the phase's excursion delay
  absolute    the estimate beyond the phase's absolute limits
  cumulative  time out of band over the mission's cumulative allowance
  alarm       the device raised a temperature alarm (high, low,
              cumulative, abs_high, abs_low): it judged every tick
INCOMPLETE, the log cannot show the band held:
  no_records, phase_not_reached, profile_mismatch
  end_unknown      the device did not state where its log ends (no seal,
                   no pull: a dead board's flash), so the log may end
                   before the mission does
  battery_exhausted  and the battery was below its alarm level at the end
  unknown          a stretch without a valid reading at least as long as
                   the phase's excursion delay (or of unbounded length):
                   an excursion the rules forbid could hide in it
  excursion_open   an excursion running into such a stretch, which
                   together reach the delay
  budget           out of band + unknown time over the cumulative
                   allowance: the allowance cannot be shown to hold
REVIEW, a deviation the rules allow but a person must judge:
  excursion (shorter than the delay), unknown (shorter stretches: a data
  gap, records without a valid reading, the end of the log more than one
  sampling interval after the last record), alarm (shock, lid,
  battery_low, probes, storage), probe (a probe excluded, enough left),
  reset, safe_mode, over_plan (a timed phase longer than planned by more
  than a sampling interval), no_utc, profile (another profile accepted),
  simulated (a simulated board: never RELEASE)
RELEASE: none of the above. The mission is complete (every phase reached,
the end stated by the device), every minute is covered by a valid reading
in band, and no alarm was raised.

A valid reading is a record whose estimate comes from at least the
profile's min_probes trusted probes; time without one (no trusted probe,
too few, no record at all) is unknown, never in band. A stretch of
unknown time runs from one valid record to the next, data gaps included.

Precedence: REJECT > INCOMPLETE > REVIEW > RELEASE. A rule the log shows
broken condemns the batch whatever else is missing; missing evidence comes
before deviations, since a person can judge a reset but not the minutes
no one recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podctl import fmt, narration
from podctl.analysis import Analysis, Band, When
from podctl.logdata import LogData
from protocol import codes, log, names
from protocol import profile as pf

RELEASE = "RELEASE"
REVIEW = "REVIEW"
INCOMPLETE = "INCOMPLETE"
REJECT = "REJECT"
GRAVITY = {RELEASE: 0, REVIEW: 1, INCOMPLETE: 2, REJECT: 3}
HEADLINES = {
    RELEASE: "the band held for the whole mission: every minute covered by a valid reading "
             "in band, no alarm",
    REVIEW: "nothing the profile forbids, but deviations a person must judge before release",
    INCOMPLETE: "the log cannot show the band held for the whole mission: not releasable on it",
    REJECT: "an excursion beyond the profile's rules: do not release",
}
_TEMP_ALARMS = (codes.ALARM_HIGH, codes.ALARM_LOW, codes.ALARM_CUMULATIVE,
                codes.ALARM_ABS_HIGH, codes.ALARM_ABS_LOW)
LISTED = 10  # reasons of one kind listed one by one; the rest are counted


@dataclass(frozen=True)
class Reason:
    code: str
    status: str  # what this reason alone makes of the batch
    what: str  # a sentence, in the field's words
    phase: str = ""  # "2 orbit"
    when: When | None = None
    until: When | None = None
    figure: str = ""  # the number that decided it, with its limit

    def __str__(self) -> str:
        where = f" ({self.phase})" if self.phase else ""
        at = f", {self.when}" if self.when is not None else ""
        to = f" to {self.until}" if self.until is not None else ""
        fig = f": {self.figure}" if self.figure else ""
        return f"{self.what}{where}{at}{to}{fig}"


@dataclass
class ProductVerdict:
    status: str
    reasons: list[Reason] = field(default_factory=list)
    simulated: bool = False

    @property
    def headline(self) -> str:
        return HEADLINES[self.status]

    @property
    def released(self) -> bool:
        return self.status == RELEASE

    def codes(self, status: str | None = None) -> list[str]:
        return [r.code for r in self.reasons if status is None or r.status == status]


def log_end(verdict: Any, manifest: Any) -> When | None:
    """Where the device says its log ends: the clock of its seal when
    podctl.verify checked one, else the pull's clock reading in the
    manifest (unauthenticated: the integrity verdict then says the end is
    not attested), else None (a dead board's flash image)."""
    seal = getattr(verdict, "seal", None)
    if seal is not None:
        return When(int(seal.boot_count), float(seal.uptime), float(seal.utc) if seal.utc else math.nan)
    anchor = manifest.get("anchor") if isinstance(manifest, dict) else getattr(manifest, "anchor", None)
    if not anchor:
        return None
    if isinstance(anchor, dict):
        return When(int(anchor["boot"]), float(anchor["uptime"]), float(anchor["utc"]))
    return When(int(anchor.boot), float(anchor.uptime), float(anchor.utc))


def _name(b: Band) -> str:
    return f"{b.index} {b.name}"


def _phase_name(a: Analysis, p: int) -> str:
    return _name(a.bands[p]) if 0 <= p < len(a.bands) else ""


def _at(a: Analysis, i: int) -> When:
    return When(int(a.boot[i]), float(a.t[i]), float(a.utc[i]))


def _end_of(a: Analysis, i: int) -> When:
    return When(int(a.boot[i]), float(a.t[i] + a.dt[i]), float(a.utc[i] + a.dt[i]))


def _listed(reasons: list[Reason], out: list[Reason], kind: str) -> None:
    """The first LISTED reasons one by one, the rest as one count."""
    out += reasons[:LISTED]
    if len(reasons) > LISTED:
        rest = reasons[LISTED:]
        out.append(Reason(rest[0].code, rest[0].status, f"and {len(rest)} more {kind}"))


# ---------------------------------------------------------------- the rules


def _phases(a: Analysis) -> Iterable[Reason]:
    missing = [_name(ps.band) for ps in a.phases if not ps.visits]
    if missing:
        yield Reason("phase_not_reached", INCOMPLETE, "phase(s) never entered: the mission did not "
                     "run its course in this log", figure=", ".join(missing))
    if a.unjudged_phases:
        yield Reason("profile_mismatch", INCOMPLETE, "records in phase(s) the profile does not have: "
                     "the profile given is not the one the device ran", figure=str(a.unjudged_phases))
    for ps in a.phases:
        b = ps.band
        if b.duration_s and ps.seconds > b.duration_s + b.interval:
            yield Reason("over_plan", REVIEW, "phase lasted longer than planned", _name(b), ps.start,
                         ps.end, f"{fmt.dur(ps.seconds)}, planned {fmt.dur(b.duration_s)} "
                         f"(+{fmt.dur(ps.seconds - b.duration_s)})")


def _end(a: Analysis, battery_low_v: float) -> Iterable[Reason]:
    if a.until is not None:
        return
    last = a.last
    yield Reason("end_unknown", INCOMPLETE, "the device did not state where its log ends (no seal, "
                 "no pull: a log read from a board's flash): the log may end before the mission does",
                 _phase_name(a, int(a.phase[-1])), last,
                 figure="the payload's temperature after the last record is unknown")
    v = float(a.battery[-1])
    if v <= battery_low_v:
        yield Reason("battery_exhausted", INCOMPLETE, "the battery ran down: the log ends with it below "
                     "its alarm level", _phase_name(a, int(a.phase[-1])), last,
                     figure=f"last reading {v:.2f} V, alarm level {battery_low_v:.2f} V")


def _excursions(a: Analysis, stretch_after: dict[tuple[int, float], float]) -> Iterable[Reason]:
    reject: list[Reason] = []
    open_: list[Reason] = []
    review = []
    for x in a.excursions:
        b = a.bands[x.phase]
        fig = f"{fmt.dur(x.seconds)} {x.side} band (delay {fmt.dur(b.event_s)}), peak {fmt.degc(x.peak)} degC"
        if x.beyond_delay:
            reject.append(Reason("excursion", REJECT, "excursion longer than the phase's excursion delay",
                                 _name(b), x.start, x.end, fig))
            continue
        after = stretch_after.get((x.end.boot, x.end.t), 0.0) if x.open_end else 0.0
        if x.seconds + after >= b.event_s:
            open_.append(Reason("excursion_open", INCOMPLETE, "excursion running into time without a "
                                "valid reading: together they reach the excursion delay",
                                _name(b), x.start, x.end, fig + f", then {fmt.dur(after)} unknown"))
        else:
            review.append(x)
    out: list[Reason] = []
    _listed(reject, out, "excursions beyond the delay")
    _listed(open_, out, "excursions into unknown time")
    yield from out
    for p in sorted({x.phase for x in review}):
        mine = [x for x in review if x.phase == p]
        worst = max(mine, key=lambda x: x.seconds)
        peak = max(mine, key=lambda x: abs(x.peak - (a.bands[p].low + a.bands[p].high) / 2))
        yield Reason("excursion", REVIEW, f"{len(mine)} excursion(s) shorter than the phase's delay",
                     _name(a.bands[p]), worst.start, worst.end,
                     f"longest {fmt.dur(worst.seconds)} (delay {fmt.dur(a.bands[p].event_s)}), "
                     f"{fmt.dur(sum(x.seconds for x in mine))} in all, peak {fmt.degc(peak.peak)} degC")


def _absolute(a: Analysis) -> Iterable[Reason]:
    judged = (a.phase >= 0) & (a.phase < len(a.bands))
    if not judged.any():
        return
    p = np.where(judged, a.phase, 0)
    lo = np.array([b.abs_low for b in a.bands])[p]
    hi = np.array([b.abs_high for b in a.bands])[p]
    est = a.estimate
    with np.errstate(invalid="ignore"):
        for side, beyond, limit in (("above", judged & (est > hi), hi), ("below", judged & (est < lo), lo)):
            for ph in sorted(set(a.phase[beyond].tolist())):
                mine = np.flatnonzero(beyond & (a.phase == ph))
                i = mine[np.argmax(est[mine])] if side == "above" else mine[np.argmin(est[mine])]
                yield Reason("absolute", REJECT, f"the estimate went {side} the absolute limit",
                             _phase_name(a, ph), _at(a, int(mine[0])), _end_of(a, int(mine[-1])),
                             f"peak {fmt.degc(est[i])} degC at {_at(a, int(i))}, limit "
                             f"{fmt.degc(limit[i])} degC, {fmt.dur(float(a.dt[mine].sum()))} beyond")


def _unknown(a: Analysis, min_probes: int) -> tuple[list[Reason], dict[tuple[int, float], float]]:
    """Stretches without a valid reading, from one valid record to the next:
    records with no or too few trusted probes, and the silences between."""
    n = a.records
    nb = len(a.bands)
    judged = (a.phase >= 0) & (a.phase < nb)
    trusted = (~np.isnan(a.probes)).sum(axis=1)
    none = judged & np.isnan(a.estimate)
    few = judged & ~none & (trusted < min_probes)
    breaks = ~(none | few)  # a valid record, or one outside the mission's phases
    silence = np.zeros(n)
    gap_at = np.flatnonzero(a.gap_after[:-1]) if n else np.zeros(0, dtype=int)
    between = [g for g in a.gaps if not g.tail]
    bounded = np.zeros(n, dtype=bool)  # a silence whose length is only bounded
    for i, g in zip(gap_at.tolist(), between):
        silence[i] = math.inf if g.longest is None else g.longest
        bounded[i] = g.seconds is None
    tail = next((g for g in a.gaps if g.tail), None)
    if tail is not None:
        silence[-1] += math.inf if tail.longest is None else tail.longest
    cv = np.cumsum(breaks)
    rec_id, gap_id = cv - breaks, cv
    k = int(cv[-1]) + 1 if n else 1
    bad = np.where(none | few, a.dt, 0.0)
    total = np.bincount(rec_id, bad, k) + np.bincount(gap_id, np.where(silence == math.inf, 0, silence), k)
    unbounded = np.bincount(gap_id, silence == math.inf, k) > 0
    n_none = np.bincount(rec_id, none, k)
    n_few = np.bincount(rec_id, few, k)
    gaps_s = np.bincount(gap_id, np.where(silence == math.inf, 0, silence), k)
    n_bounded = np.bincount(gap_id, bounded, k)
    # the phase a stretch is judged in: the strictest excursion delay it touches
    delay = np.array([b.event_s for b in a.bands] + [math.inf], dtype=float)
    interval = np.array([b.interval for b in a.bands] + [math.inf], dtype=float)
    ph = np.where(judged, a.phase, nb)
    d = np.full(k, math.inf)
    np.minimum.at(d, rec_id[none | few], delay[ph[none | few]])
    has_gap = silence > 0
    np.minimum.at(d, gap_id[has_gap], delay[ph[has_gap]])
    iv = np.full(k, math.inf)
    np.minimum.at(iv, rec_id[none | few], interval[ph[none | few]])
    np.minimum.at(iv, gap_id[has_gap], interval[ph[has_gap]])
    valid_at = np.flatnonzero(breaks)
    long_: list[Reason] = []
    short: list[tuple[float, str, When, When | None, list[str]]] = []
    after: dict[tuple[int, float], float] = {}
    for s in np.flatnonzero((total > 0) | unbounded).tolist():
        length = math.inf if unbounded[s] else float(total[s])
        first = int(valid_at[s - 1]) if s > 0 else -1  # the valid record before it
        nxt = int(valid_at[s]) if s < len(valid_at) else None
        start = _end_of(a, first) if first >= 0 else _at(a, 0)
        end = _at(a, nxt) if nxt is not None else (a.until or a.last)
        after[(start.boot, start.t)] = length
        parts = []
        if n_none[s]:
            parts.append(f"{int(n_none[s])} record(s) with no trusted probe")
        if n_few[s]:
            parts.append(f"{int(n_few[s])} record(s) with fewer than {min_probes} trusted probes")
        tail_s = 0.0
        if nxt is None and tail is not None:
            tail_s = math.inf if tail.longest is None else tail.longest
        if gaps_s[s] - (0 if tail_s == math.inf else tail_s) > 0 or (unbounded[s] and tail_s != math.inf):
            parts.append("no record for " + (
                "an unknown time" if unbounded[s] and tail_s != math.inf
                else ("at most " if n_bounded[s] else "") + fmt.dur(float(gaps_s[s]) - tail_s)))
        if tail_s:
            parts.append(("the end of the log" if tail_s == math.inf else f"the last {fmt.dur(tail_s)}")
                         + " before the device's end of the log (the seal, or the pull) not in the log")
        # the phase it begins in: of the silence after the valid record, or of its next record
        i = 0 if first < 0 else first if silence[first] > 0 or first + 1 >= n else first + 1
        phase = _phase_name(a, int(a.phase[i]))
        shown = "unknown length" if unbounded[s] else fmt.dur(length)
        if length >= d[s]:
            long_.append(Reason("unknown", INCOMPLETE, "time without a valid reading as long as the "
                                "excursion delay: an excursion the rules forbid could hide in it",
                                phase, start, end, f"{shown} (delay {fmt.dur(float(d[s]))}): " + ", ".join(parts)))
        elif n_none[s] or n_few[s] or length > iv[s]:
            short.append((length, phase, start, end, parts))
    out: list[Reason] = []
    _listed(long_, out, "stretches without a valid reading")
    last_only = [x for x in short if x[3] is a.until and len(x[4]) == 1 and tail is not None]
    inside = [x for x in short if x not in last_only]
    if inside:
        length, phase, start, end, parts = max(inside, key=lambda x: x[0])
        out.append(Reason("unknown", REVIEW, f"{len(inside)} stretch(es) without a valid reading, each "
                          "shorter than its phase's excursion delay", phase, start, end,
                          f"longest {fmt.dur(length)}: " + ", ".join(parts)))
    for length, phase, start, end, _ in last_only:
        out.append(Reason("unknown", REVIEW, "the log ends before the device's end of it (its seal, or "
                          "the pull): the last minutes are not in it", phase, start, end,
                          f"{fmt.dur(length)} without a record, shorter than the excursion delay"))
    return out, after


def _budget(a: Analysis, cumulative_s: int, min_probes: int) -> Iterable[Reason]:
    m = a.mission
    fig = f"{fmt.dur(m.out_band_s)} out of band, allowance {fmt.dur(cumulative_s)}"
    if m.out_band_s > cumulative_s:
        yield Reason("cumulative", REJECT, "time out of band over the mission's cumulative allowance",
                     figure=fig)
        return
    judged = (a.phase >= 0) & (a.phase < len(a.bands))
    few = judged & ~np.isnan(a.estimate) & ((~np.isnan(a.probes)).sum(axis=1) < min_probes)
    few_s = float(a.dt[few].sum())  # counted in or out of band, but not by a valid reading
    if m.out_band_s + m.unknown_s + few_s > cumulative_s:
        yield Reason("budget", INCOMPLETE, "out of band and unknown time together exceed the cumulative "
                     "allowance: it cannot be shown to hold",
                     figure=fig + f", {fmt.dur(m.unknown_s + few_s)} without a valid reading")


def _events(a: Analysis, data: LogData, own_ident: int, min_probes: int) -> Iterable[Reason]:
    rows = narration.narrate(data, a.bands, own_ident)
    first_boot = next((r.boot for r in rows if r.code == log.EV_BOOT), None)
    alarms: dict[int, list[narration.EventRow]] = {}
    probes: dict[int, list[narration.EventRow]] = {}
    modes = [r for r in rows if r.code == log.EV_MODE]
    for r in rows:
        at = When(r.boot, float(r.t), r.utc)
        if r.code == log.EV_ALARM_RAISED:
            alarms.setdefault(r.a, []).append(r)
        elif r.category == "probe":
            probes.setdefault(r.a, []).append(r)
        elif r.code == log.EV_BOOT and r.boot != first_boot:
            yield Reason("reset", REVIEW, f"unplanned reset: {r.what}", r.phase, at,
                         figure="the board restarted mid-mission")
        elif r.code == log.EV_PROFILE_ACCEPTED and "not the profile" in r.detail:
            yield Reason("profile", REVIEW, "another profile was accepted during the log", r.phase, at,
                         figure=r.detail)
    for alarm, raised in sorted(alarms.items()):
        r = raised[0]
        name = names.name(names.ALARMS, alarm)
        more = f"; raised {len(raised)} times" if len(raised) > 1 else ""
        if alarm in _TEMP_ALARMS:
            yield Reason("alarm", REJECT, f"the device raised alarm {name}: it judged the profile's rule "
                         "broken", r.phase, When(r.boot, float(r.t), r.utc), figure=r.detail + more)
        else:
            yield Reason("alarm", REVIEW, f"alarm {name} raised", r.phase, When(r.boot, float(r.t), r.utc),
                         figure=r.detail + more)
    lost = []
    for probe, evs in sorted(probes.items()):
        faults = [e for e in evs if e.code == log.EV_PROBE_FAULT]
        if faults:
            kinds = ", ".join(sorted({e.what.split(": ", 1)[-1] for e in faults}))
            times = f" x{len(faults)}" if len(faults) > 1 else ""
            state = "not recovered" if evs[-1].code == log.EV_PROBE_FAULT else "recovered"
            lost.append((faults[0], f"probe {probe} {kinds}{times} from {faults[0].when}, {state}"))
    if lost:
        judged = (a.phase >= 0) & (a.phase < len(a.bands))
        fewest = int((~np.isnan(a.probes[judged])).sum(axis=1).min()) if judged.any() else 0
        first = lost[0][0]
        yield Reason("probe", REVIEW, f"{len(lost)} probe(s) excluded from the estimate by the "
                     "firmware's probe checks", first.phase, When(first.boot, float(first.t), first.utc),
                     figure="; ".join(t for _, t in lost) + f"; fewest trusted at once {fewest} "
                     f"(profile minimum {min_probes})")
    for k, r in enumerate(modes):
        if r.a not in codes.SAFE_MODES:
            continue
        nxt = modes[k + 1] if k + 1 < len(modes) and modes[k + 1].boot == r.boot else None
        mine = a.boot == r.boot
        end_t = float(nxt.t) if nxt is not None else (
            float((a.t[mine] + a.dt[mine]).max()) if mine.any() else float(r.t))
        yield Reason("safe_mode", REVIEW, f"{r.what.removeprefix('mode ')} safe mode: the controller "
                     "stopped regulating", r.phase, When(r.boot, float(r.t), r.utc),
                     figure=fmt.dur(max(end_t - r.t, 0.0)) + ("" if nxt else " (to the end of its boot)"))


def _clock(a: Analysis) -> Iterable[Reason]:
    for u in a.unclocked:
        yield Reason("no_utc", REVIEW, f"boot {u.boot}'s records have no UTC (its clock was never set)",
                     figure=f"{u.records} record(s), {fmt.dur(u.seconds)}, between {fmt.utc(u.after_utc)} "
                            f"and {fmt.utc(u.before_utc)}")


# ---------------------------------------------------------------- the verdict


def assess(a: Analysis, profile: pf.Profile, data: LogData, *, simulated: bool = False) -> ProductVerdict:
    """The product verdict on the analysis of a log (analysed with
    until=log_end(...), so the end of the log is known) against the profile
    it ran. simulated: the device says it is a simulated board (its seal):
    never RELEASE."""
    h = profile.header
    reasons: list[Reason] = []
    if not a.records:
        reasons.append(Reason("no_records", INCOMPLETE, "the log holds no sample record"))
    else:
        min_probes = int(h[pf.H_MIN_PROBES])
        unknown, after = _unknown(a, min_probes)
        reasons += _budget(a, int(h[pf.H_CUMULATIVE_S]), min_probes)
        reasons += _excursions(a, after)
        reasons += _absolute(a)
        reasons += _phases(a)
        reasons += _end(a, h[pf.H_BATTERY_LOW] / 1000)
        reasons += unknown
        reasons += _events(a, data, pf.ident(profile.data), min_probes)
        reasons += _clock(a)
    if simulated:
        reasons.append(Reason("simulated", REVIEW, "simulated board: the device says it runs on no real "
                              "hardware; its log is not evidence about a batch",
                              figure="SIMULATED - NOT FOR RELEASE"))
    reasons.sort(key=lambda r: -GRAVITY[r.status])  # stable: each kind keeps its order
    status = max((r.status for r in reasons), key=GRAVITY.__getitem__, default=RELEASE)
    return ProductVerdict(status, reasons, simulated)
