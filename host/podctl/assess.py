"""The product verdict: was the band held for the whole mission, by the
handling profile's own rules? RELEASE, REVIEW, REJECT or INCOMPLETE, each
with the reasons that decided it. Apart from integrity, never merged with
it: podctl.verify says whether the log is authentic and complete, this
says what an authentic log shows about the samples. A batch is released on
both (`podctl logs assess` exits 0 only for VERIFIED and RELEASE).

  a = analysis.analyse(data, profile, until=assess.log_end(verdict))
  pv = assess.assess(a, profile, data, simulated=verdict.simulated,
                     unproven=verdict.unproven_blocks)
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
  end_unknown      the device did not state where its log ends (no seal
                   checked: a dead board's flash, a pull without the key),
                   so the log may end before the mission does
  battery_exhausted  and the battery was below its alarm level at the end
  unknown          a stretch without a valid reading at least as long as
                   the phase's excursion delay (or of unbounded length):
                   an excursion the rules forbid could hide in it
  excursion_open   an excursion running into such a stretch, which
                   together reach the delay
  budget           out of band + unknown time over the cumulative
                   allowance: the allowance cannot be shown to hold
  unproven         blocks whose records the MAC chain does not prove (a
                   first block that chains to one the log does not hold):
                   anyone could have written what they show
REVIEW, a deviation the rules allow but a person must judge:
  excursion (shorter than the delay), unknown (shorter stretches: a data
  gap, records without a valid reading, the end of the log more than one
  sampling interval after the last record), alarm (shock, lid,
  battery_low, probes, storage), probe (a probe excluded, enough left),
  reset, safe_mode, over_plan (a timed phase longer than planned by more
  than a sampling interval), no_utc, profile (another profile accepted),
  simulated (a simulated board, by its seal or a BOOT event of its log:
  never RELEASE), clock (the device's clock off the host's at the pull by
  more than verdict.CLOCK_TOLERANCE_S: every UTC of the log is off by as
  much, so no moment can be placed; REVIEW like no_utc, since the
  durations come from the device's uptime and still hold)
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

from podctl import deviations, events, fmt, narration, probespread
from podctl.analysis import Analysis, Band, When
from podctl.blocks import BlockInfo
from podctl.logdata import LogData, never_set
from podctl.verdict import CLOCK_TOLERANCE_S
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



def log_end(verdict: Any, manifest: Any = None) -> When | None:
    """Where the device says its log ends: the clock of its seal when
    podctl.verify checked one (UTC only if its clock was set then), else
    None: the end is not stated (a dead board's flash image, a pull without
    the key). The manifest's anchor is unauthenticated and never used
    (manifest: kept for callers that pass it)."""
    seal = getattr(verdict, "seal", None)
    if seal is None:
        return None
    utc = float(seal.utc) if seal.utc else math.nan
    return When(int(seal.boot_count), float(seal.uptime), utc)


def _dur(seconds: float) -> str:
    return "an unknown time" if math.isinf(seconds) else fmt.dur(seconds)


def _name(b: Band) -> str:
    return f"{b.index} {b.name}"


def _phase_name(a: Analysis, p: int) -> str:
    return _name(a.bands[p]) if 0 <= p < len(a.bands) else ""


def _at(a: Analysis, i: int) -> When:
    return When(int(a.boot[i]), float(a.t[i]), float(a.utc[i]))


def _end_of(a: Analysis, i: int) -> When:
    return When(int(a.boot[i]), float(a.t[i] + a.dt[i]), float(a.utc[i] + a.dt[i]))


def _judged(a: Analysis) -> np.ndarray:
    return (a.phase >= 0) & (a.phase < len(a.bands))


def _listed(reasons: list[Reason], kind: str) -> list[Reason]:
    """The first LISTED reasons one by one, the rest as one count."""
    if len(reasons) <= LISTED:
        return reasons
    rest = reasons[LISTED:]
    more = Reason(rest[0].code, rest[0].status, f"and {len(rest)} more {kind}")
    return reasons[:LISTED] + [more]


# ---------------------------------------------------------------- unknown time


@dataclass
class Stretch:
    """Time without a valid reading, from one valid record to the next."""

    start: When
    end: When | None
    seconds: float  # inf: a silence in it has no bound
    phase: str  # the phase it begins in
    delay: float  # the strictest excursion delay of the phases it touches
    interval: float  # and sampling interval
    no_probe: int  # records with no trusted probe
    too_few: int  # records with fewer than the profile's min_probes
    silent_s: float  # time with no record between records (bounds included)
    bounded: bool  # some of that is only bounded (a boot without a clock)
    tail_s: float  # the end of the log after its last record (inf: unbounded)

    def parts(self, min_probes: int) -> list[str]:
        out = []
        if self.no_probe:
            out.append(f"{self.no_probe} record(s) with no trusted probe")
        if self.too_few:
            out.append(f"{self.too_few} record(s) with fewer than {min_probes} trusted probes")
        lost = math.isinf(self.seconds) and not math.isinf(self.tail_s)  # an unbounded silence
        if self.silent_s > 0 or lost:
            out.append("no record for " + ("at most " if self.bounded and not lost else "")
                       + _dur(math.inf if lost else self.silent_s))
        if self.tail_s:
            last = "the end" if math.isinf(self.tail_s) else f"the last {_dur(self.tail_s)}"
            out.append(f"{last} of the log before the device's end of it (its seal)")
        return out


def stretches(a: Analysis) -> list[Stretch]:
    """Every stretch of the mission without a valid reading: records with no
    or too few trusted probes, the silences between records and the end
    of the log after its last record, run together from one valid record
    to the next. Valid is the analysis's (Analysis.valid: at least the
    profile's min_probes trusted probes), so the verdict and the figures
    count the same time unknown. Whole-array numpy: a stretch is the
    records and silences after the k-th valid record."""
    n = a.records
    if not n:
        return []
    nb = len(a.bands)
    judged = _judged(a)
    # the analysis's own rule (Analysis.valid), so both count the same time unknown
    none = judged & np.isnan(a.estimate)
    few = judged & ~none & ~a.valid
    bad = none | few
    silence = np.zeros(n)  # after each record
    bounded = np.zeros(n, dtype=bool)
    inner = [g for g in a.gaps if not g.tail]
    for i, g in zip(np.flatnonzero(a.gap_after[:-1]).tolist(), inner):
        silence[i] = math.inf if g.longest is None else g.longest
        bounded[i] = g.seconds is None
    tail = next((g for g in a.gaps if g.tail), None)
    tail_s = 0.0 if tail is None else math.inf if tail.longest is None else tail.longest
    if not judged[-1]:
        tail_s = 0.0
    silence[-1] += tail_s
    silence[~judged] = 0.0  # before the mission's first phase: not the mission's
    bounded &= judged
    valid = ~bad
    cv = np.cumsum(valid)
    rec_id, gap_id = cv - valid, cv  # a record's stretch; the stretch after it
    k = int(cv[-1]) + 1
    finite = np.where(np.isinf(silence), 0.0, silence)

    def per(ids: np.ndarray, w: Any) -> np.ndarray:
        return np.bincount(ids, w, k)

    total = per(rec_id, np.where(bad, a.dt, 0.0)) + per(gap_id, finite)
    unbounded = per(gap_id, np.isinf(silence)) > 0
    delay = np.array([b.event_s for b in a.bands] + [math.inf], dtype=float)
    interval = np.array([b.interval for b in a.bands] + [math.inf], dtype=float)
    ph = np.where(judged, a.phase, nb)
    heard = silence > 0
    d = np.full(k, math.inf)
    iv = np.full(k, math.inf)
    for ids, mask in ((rec_id, bad), (gap_id, heard)):
        np.minimum.at(d, ids[mask], delay[ph[mask]])
        np.minimum.at(iv, ids[mask], interval[ph[mask]])
    no_probe, too_few = per(rec_id, none), per(rec_id, few)
    silent = per(gap_id, finite)  # the silences between records: less the tail
    silent[-1] = max(0.0, silent[-1] - (0.0 if math.isinf(tail_s) else tail_s))
    n_bounded = per(gap_id, bounded)
    valid_at = np.flatnonzero(valid)
    out = []
    for s in np.flatnonzero((total > 0) | unbounded).tolist():
        first = int(valid_at[s - 1]) if s > 0 else -1  # the valid record before it
        nxt = int(valid_at[s]) if s < len(valid_at) else None
        # it begins with the silence after that record, or with the next record
        i = 0 if first < 0 else first if silence[first] > 0 or first + 1 >= n else first + 1
        out.append(Stretch(
            start=_end_of(a, first) if first >= 0 else _at(a, 0),
            end=_at(a, nxt) if nxt is not None else (a.until or a.last),
            seconds=math.inf if unbounded[s] else float(total[s]),
            phase=_phase_name(a, int(a.phase[i])), delay=float(d[s]), interval=float(iv[s]),
            no_probe=int(no_probe[s]), too_few=int(too_few[s]), silent_s=float(silent[s]),
            bounded=bool(n_bounded[s]), tail_s=tail_s if nxt is None else 0.0,
        ))
    return out


def _unknown(found: list[Stretch], min_probes: int) -> Iterable[Reason]:
    long_: list[Reason] = []
    inside: list[Stretch] = []
    ending: list[Stretch] = []
    for s in found:
        shown = "unknown length" if math.isinf(s.seconds) else fmt.dur(s.seconds)
        if s.seconds >= s.delay:
            long_.append(Reason(
                "unknown", INCOMPLETE, "time without a valid reading at least as long as the "
                "excursion delay: an excursion the rules forbid could hide in it", s.phase,
                s.start, s.end,
                f"{shown} (delay {_dur(s.delay)}): " + ", ".join(s.parts(min_probes))))
        elif s.no_probe or s.too_few or s.seconds > s.interval:
            only_tail = s.tail_s > 0 and not (s.no_probe or s.too_few or s.silent_s)
            (ending if only_tail else inside).append(s)
    yield from _listed(long_, "stretches without a valid reading")
    if inside:
        s = max(inside, key=lambda x: x.seconds)
        yield Reason("unknown", REVIEW, f"{len(inside)} stretch(es) without a valid reading, each "
                     "shorter than its phase's excursion delay", s.phase, s.start, s.end,
                     f"longest {fmt.dur(s.seconds)}: " + ", ".join(s.parts(min_probes)))
    for s in ending:
        yield Reason("unknown", REVIEW, "the log ends before the device's end of it (its seal): "
                     "the last minutes are not in it", s.phase, s.start, s.end,
                     f"{fmt.dur(s.seconds)} without a record, shorter than the excursion delay")


# ---------------------------------------------------------------- the rules


def _phases(a: Analysis) -> Iterable[Reason]:
    missing = [_name(ps.band) for ps in a.phases if not ps.visits]
    if missing:
        yield Reason("phase_not_reached", INCOMPLETE, "phase(s) never entered: the mission did "
                     "not run its course in this log", figure=", ".join(missing))
    if a.unjudged_phases:
        yield Reason("profile_mismatch", INCOMPLETE, "records in phase(s) the profile does not "
                     "have: the profile given is not the one the device ran",
                     figure=str(a.unjudged_phases))
    for ps in a.phases:
        b = ps.band
        if b.duration_s and ps.seconds > b.duration_s + b.interval:
            # a silence nothing bounds: the duration is the least it can be
            least = "at least " if ps.unbounded else ""
            yield Reason("over_plan", REVIEW, "phase lasted longer than planned", _name(b),
                         ps.start, ps.end, f"{least}{fmt.dur(ps.seconds)}, planned "
                         f"{fmt.dur(b.duration_s)} ({least}+{fmt.dur(ps.over_plan_s)})")


def _end(a: Analysis, battery_low_v: float) -> Iterable[Reason]:
    if a.until is not None:
        return
    last, phase = a.last, _phase_name(a, int(a.phase[-1]))
    yield Reason("end_unknown", INCOMPLETE, "the device did not state where its log ends (no "
                 "seal, no pull: a log read from a board's flash): the log may end before the "
                 "mission does", phase, last,
                 figure="the payload's temperature after the last record is unknown")
    v = float(a.battery[-1])
    if v <= battery_low_v:
        yield Reason("battery_exhausted", INCOMPLETE, "the battery ran down: the log ends with "
                     "it below its alarm level", phase, last,
                     figure=f"last reading {v:.2f} V, alarm level {battery_low_v:.2f} V")


def _excursions(a: Analysis, found: list[Stretch]) -> Iterable[Reason]:
    after = {(s.start.boot, s.start.t): s.seconds for s in found}
    reject: list[Reason] = []
    open_: list[Reason] = []
    review = []
    for x in a.excursions:
        b = a.bands[x.phase]
        fig = (f"{fmt.dur(x.seconds)} {x.side} band (delay {fmt.dur(b.event_s)}), "
               f"peak {fmt.degc(x.peak)} degC")
        unknown = after.get((x.end.boot, x.end.t), 0.0) if x.open_end else 0.0
        if x.beyond_delay:
            reject.append(Reason("excursion", REJECT, "excursion longer than the phase's "
                                 "excursion delay", _name(b), x.start, x.end, fig))
        elif x.seconds + unknown >= b.event_s:
            open_.append(Reason("excursion_open", INCOMPLETE, "excursion running into time "
                                "without a valid reading: together they reach the excursion "
                                "delay", _name(b), x.start, x.end,
                                fig + f", then {_dur(unknown)} unknown"))
        else:
            review.append(x)
    yield from _listed(reject, "excursions beyond the delay")
    yield from _listed(open_, "excursions into unknown time")
    for p in sorted({x.phase for x in review}):
        b = a.bands[p]
        mine = [x for x in review if x.phase == p]
        worst = max(mine, key=lambda x: x.seconds)
        peak = max(mine, key=lambda x: abs(x.peak - b.setpoint))
        yield Reason("excursion", REVIEW, f"{len(mine)} excursion(s) shorter than the phase's "
                     "delay", _name(b), worst.start, worst.end,
                     f"longest {fmt.dur(worst.seconds)} (delay {fmt.dur(b.event_s)}), "
                     f"{fmt.dur(sum(x.seconds for x in mine))} in all, "
                     f"peak {fmt.degc(peak.peak)} degC")


def _absolute(a: Analysis) -> Iterable[Reason]:
    judged = _judged(a)
    if not judged.any():
        return
    p = np.where(judged, a.phase, 0)
    lo = np.array([b.abs_low for b in a.bands])[p]
    hi = np.array([b.abs_high for b in a.bands])[p]
    est = np.where(a.valid, a.estimate, np.nan)  # a valid reading, as the analysis counts
    with np.errstate(invalid="ignore"):
        sides = (("above", judged & (est > hi), hi), ("below", judged & (est < lo), lo))
    for side, beyond, limit in sides:
        for ph in sorted(set(a.phase[beyond].tolist())):
            mine = np.flatnonzero(beyond & (a.phase == ph))
            i = int(mine[np.argmax(est[mine]) if side == "above" else np.argmin(est[mine])])
            yield Reason("absolute", REJECT, f"the estimate went {side} the absolute limit",
                         _phase_name(a, ph), _at(a, int(mine[0])), _end_of(a, int(mine[-1])),
                         f"peak {fmt.degc(est[i])} degC at {_at(a, i)}, limit "
                         f"{fmt.degc(limit[i])} degC, {fmt.dur(float(a.dt[mine].sum()))} beyond")


def _budget(a: Analysis, cumulative_s: int) -> Iterable[Reason]:
    m = a.mission
    fig = f"{fmt.dur(m.out_band_s)} out of band, allowance {fmt.dur(cumulative_s)}"
    if m.out_band_s > cumulative_s:
        yield Reason("cumulative", REJECT, "time out of band over the mission's cumulative "
                     "allowance", figure=fig)
        return
    doubt = m.unknown_s  # no valid reading (too few probes included) or no record
    if m.out_band_s + doubt > cumulative_s:
        yield Reason("budget", INCOMPLETE, "out of band and unknown time together exceed the "
                     "cumulative allowance: it cannot be shown to hold",
                     figure=fig + f", {fmt.dur(doubt)} without a valid reading")


def _when(r: narration.EventRow) -> When:
    return When(r.boot, float(r.t), r.utc)


def _alarms(rows: list[narration.EventRow], said: dict[int, str]) -> Iterable[Reason]:
    """said: the Alarms table's readings by alarm (deviations.alarm_spans):
    the lid's open time, the phase held against its maximum, a peak against
    its limit, where the event alone holds only the limit."""
    raised: dict[int, list[narration.EventRow]] = {}
    for r in rows:
        if r.code == log.EV_ALARM_RAISED:
            raised.setdefault(r.a, []).append(r)
    for alarm, rs in sorted(raised.items()):
        r, name = rs[0], names.name(names.ALARMS, alarm)
        fig = said.get(alarm) or r.detail
        fig += f"; raised {len(rs)} times" if len(rs) > 1 else ""
        if alarm in _TEMP_ALARMS:
            yield Reason("alarm", REJECT, f"the device raised alarm {name}: it judged the "
                         "profile's rule broken", r.phase, _when(r), figure=fig)
        else:
            yield Reason("alarm", REVIEW, f"alarm {name} raised", r.phase, _when(r), figure=fig)


def _probes(a: Analysis, rows: list[narration.EventRow], min_probes: int) -> Iterable[Reason]:
    per: dict[int, list[narration.EventRow]] = {}
    for r in rows:
        if r.category == "probe":
            per.setdefault(r.a, []).append(r)
    lost = []
    for probe, evs in sorted(per.items()):
        faults = [e for e in evs if e.code == log.EV_PROBE_FAULT]
        if faults:
            kinds = ", ".join(sorted({e.what.split(": ", 1)[-1] for e in faults}))
            times = f" x{len(faults)}" if len(faults) > 1 else ""
            state = "not recovered" if evs[-1].code == log.EV_PROBE_FAULT else "recovered"
            lost.append((faults[0], f"probe {probe} {kinds}{times} from {faults[0].when}, "
                                    f"{state}"))
    if lost:
        judged = _judged(a)
        fewest = int((~np.isnan(a.probes[judged])).sum(axis=1).min()) if judged.any() else 0
        first = lost[0][0]
        yield Reason("probe", REVIEW, f"{len(lost)} probe(s) excluded from the estimate by the "
                     "firmware's probe checks", first.phase, _when(first),
                     figure="; ".join(t for _, t in lost) + f"; fewest trusted at once {fewest} "
                     f"(profile minimum {min_probes})")


def _deviations(a: Analysis, rows: list[narration.EventRow]) -> Iterable[Reason]:
    first_boot = next((r.boot for r in rows if r.code == log.EV_BOOT), None)
    modes = [r for r in rows if r.code == log.EV_MODE]
    for r in rows:
        if r.code == log.EV_BOOT and r.boot != first_boot:
            yield Reason("reset", REVIEW, f"unplanned reset: {r.what}", r.phase, _when(r),
                         figure="the board restarted mid-mission")
        elif r.code == log.EV_PROFILE_ACCEPTED and "not the profile" in r.detail:
            yield Reason("profile", REVIEW, "another profile was accepted during the log",
                         r.phase, _when(r), figure=r.detail)
    for k, r in enumerate(modes):
        if r.a not in codes.SAFE_MODES:
            continue
        nxt = modes[k + 1] if k + 1 < len(modes) and modes[k + 1].boot == r.boot else None
        mine = a.boot == r.boot
        if nxt is not None:
            end_t = float(nxt.t)
        else:
            end_t = float((a.t[mine] + a.dt[mine]).max()) if mine.any() else float(r.t)
        yield Reason("safe_mode", REVIEW, f"{r.what.removeprefix('mode ')} safe mode: the "
                     "controller stopped regulating", r.phase, _when(r),
                     figure=fmt.dur(max(end_t - r.t, 0.0))
                     + ("" if nxt else " (to the end of its boot)"))
    for u in a.unclocked:
        # where its uptime 0 lies, as the clocked moments around it bound it
        lo, hi = u.earliest_utc, u.latest_utc
        start = ("its start not bounded" if math.isnan(lo) and math.isnan(hi)
                 else f"its start after {fmt.utc(lo)}" if math.isnan(hi)
                 else f"its start before {fmt.utc(hi)}" if math.isnan(lo)
                 else f"its start between {fmt.utc(lo)} and {fmt.utc(hi)}")
        held = (f"{u.records} record(s), {fmt.dur(u.seconds)}" if u.records
                else f"no record (its open block lost at a reset), its events reach "
                f"+{fmt.dur(u.reach_s)}")
        yield Reason("no_utc", REVIEW, never_set(u.boot), figure=f"{held}; {start}")


def _disagreeing(a: Analysis) -> Iterable[Reason]:
    """The last two trusted probes apart by more than the disagree limit:
    the firmware cannot tell which is wrong, so the estimate is doubtful."""
    for d in probespread.disagreements(a):
        yield Reason("disagree", REVIEW, d.words(), _phase_name(a, int(a.phase[
            np.flatnonzero((a.boot == d.start.boot) & (a.t == d.start.t))[0]])), d.start,
            figure=d.figure())


def _clock(offset_s: float | None) -> Iterable[Reason]:
    if offset_s is None or not abs(offset_s) > CLOCK_TOLERANCE_S:
        return
    days = f" ({abs(offset_s) / 86400:.1f} days)" if abs(offset_s) >= 86400 else ""
    yield Reason("clock", REVIEW, "the device's clock was off the host's at the pull beyond "
                 "the tolerance: every UTC of the log is off by as much, no moment of it can "
                 "be placed", figure=f"{offset_s:+,.0f} s{days}, tolerance {CLOCK_TOLERANCE_S} s")


def _unproven(blocks: list[BlockInfo]) -> Iterable[Reason]:
    if not blocks:
        return
    samples = sum(b.count for b in blocks if b.kind == log.KIND_SAMPLES)
    seqs = ", ".join(str(b.seq) for b in blocks[:LISTED]) + (
        f" and {len(blocks) - LISTED} more" if len(blocks) > LISTED else "")
    yield Reason("unproven", INCOMPLETE, "records the MAC chain does not prove (their block "
                 "chains to one the log does not hold): anyone could have written them",
                 figure=f"block(s) {seqs}: {samples} sample record(s)")


# ---------------------------------------------------------------- the verdict


def assess(
    a: Analysis, profile: pf.Profile, data: LogData, *, simulated: bool = False,
    unproven: Iterable[BlockInfo] = (), clock_offset_s: float | None = None,
) -> ProductVerdict:
    """The product verdict on the analysis of a log (analysed with
    until=log_end(...), so the end of the log is known) against the profile
    it ran. simulated: the device's seal says it is a simulated board (a
    BOOT event of the log saying so is found here): never RELEASE.
    unproven: the blocks podctl.verify could not prove (Verdict.unproven_blocks).
    clock_offset_s: the device's clock less the host's at the pull
    (Verdict.clock_offset_s; None: not compared)."""
    h = profile.header
    reasons: list[Reason] = []
    if not a.records:
        reasons.append(Reason("no_records", INCOMPLETE, "the log holds no sample record"))
    else:
        min_probes = int(h[pf.H_MIN_PROBES])
        found = stretches(a)
        rows = narration.narrate(data, a.bands, pf.ident(profile.data), profile=profile)
        readings = {s.alarm: s.reading for s in deviations.alarm_spans(data, a, profile)
                if s.alarm not in _TEMP_ALARMS}
        reasons += _budget(a, int(h[pf.H_CUMULATIVE_S]))
        reasons += _excursions(a, found)
        reasons += _absolute(a)
        reasons += _alarms(rows, readings)
        reasons += _disagreeing(a)
        reasons += _phases(a)
        reasons += _end(a, h[pf.H_BATTERY_LOW] / 1000)
        reasons += _unknown(found, min_probes)
        reasons += _probes(a, rows, min_probes)
        reasons += _deviations(a, rows)
    reasons += _unproven(list(unproven))
    reasons += _clock(clock_offset_s)
    sim_boots = events.simulated_boots(data.events)
    if simulated or sim_boots:
        said = (["its seal"] if simulated else []) + (
            [f"the BOOT event of boot {', '.join(map(str, sim_boots))}"] if sim_boots else [])
        reasons.append(Reason("simulated", REVIEW, "simulated board: the device says it runs on "
                              f"no real hardware ({' and '.join(said)}); its log is not evidence "
                              "about a batch",
                              figure="SIMULATED — NOT FOR RELEASE"))
        simulated = True
    # the gravest first; within a status in the order they happened (boot,
    # then uptime: the log's own order, clocked or not), those with no
    # moment (the mission as a whole) last
    reasons.sort(key=lambda r: (-GRAVITY[r.status], r.when is None,
                                (r.when.boot, r.when.t) if r.when is not None else (0, 0.0)))
    status = max((r.status for r in reasons), key=GRAVITY.__getitem__, default=RELEASE)
    return ProductVerdict(status, reasons, simulated)
