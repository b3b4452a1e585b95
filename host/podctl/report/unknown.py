"""Where the per-phase table's unknown time lies: every span the phases
count neither in nor out of band, with its start, end and length, so the
Data gaps section adds up to the Summary's "without a reading".

  rows = unknown.spans(data, a)     # Analysis.gaps, the rest of what no record
                                    # stands for, and the records without a valid reading
  unknown.total(rows)               # what they state together, s (a shared
                                    # budget once: Gap.shared)
  unknown.shared_words(gap.shared)  # "the two silences around boot 2 together ..."

Three kinds, from the data alone: the analysis's gaps (silences between
records, restarts, the log's tail); the time inside a phase no record
stands for that the analysis lists as no gap (a phase entered a tick before
its first record: the record before it stands only up to the PHASE event);
and records that are there but have no valid reading (no trusted probe, or
fewer than the profile's minimum). Only time in a phase of the profile
counts, as in the per-phase table. A span the analysis already lists is
never listed again, so when podctl.analysis lists a phase's first tick as
a gap (or lets the record before stand for it) nothing is counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from podctl import fmt
from podctl.analysis import Analysis, Gap, SharedSilence, When
from podctl.logdata import LogData
from protocol import log

GAP = "gap"  # Analysis.gaps' own
PHASE_START = "phase_start"  # a phase entered before its first record
NO_READING = "no_reading"  # records without a valid reading
EPS_S = 1e-6  # uptimes are whole or tenth seconds: closer than this is touching
TOO_FEW = "too_few"  # records with some, but fewer trusted probes than the minimum
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass(frozen=True)
class Span:
    start: When
    end: When
    seconds: float | None  # None: length unknown (Gap.at_most may bound it)
    phase: int
    kind: str
    gap: Gap | None = None  # the analysis's, for kind GAP
    records: int = 0  # for NO_READING / TOO_FEW: how many records
    # a gap of unknown length: the least it lasted, as the board's own
    # uptime shows it on in it (boots without records, a boot's start)
    least_s: float = 0.0

    @property
    def counted_s(self) -> float:
        """What the phases count for it: its length, or the most it can be,
        or where nothing bounds it the least it lasted ("at least")."""
        longest = self.gap.longest if self.gap is not None else self.seconds
        return self.least_s if longest is None else longest


def spans(data: LogData, a: Analysis) -> list[Span]:
    """Every span of unknown time in a phase of the profile, in log order."""
    nb = len(a.bands)
    out = [Span(g.start, g.end, g.seconds, g.phase, GAP, g, least_s=_least(data, a, g))
           for g in a.gaps if 0 <= g.phase < nb]
    listed = [(g.start, g.end) for g in a.gaps]
    boot, t, dt, phase, of = _stretches(a)
    if not len(t):
        return out
    end = t + dt
    cand: list[tuple[int, float, float, int]] = []  # boot, from, to, phase
    # inside a boot: from where one reading stops standing for time to the
    # next (the analysis's gaps are among these and are dropped below)
    same = boot[1:] == boot[:-1]
    for i in np.flatnonzero(same & (end[:-1] < t[1:] - EPS_S)).tolist():
        cand.append((int(boot[i]), float(end[i]), float(t[i + 1]), int(phase[i + 1])))
    # a boot's first reading after the PHASE event that began its phase
    pev = [e for e in data.events if e.code == log.EV_PHASE]
    for f in np.flatnonzero(np.r_[True, boot[1:] != boot[:-1]]).tolist():
        b, t0 = int(boot[f]), float(t[f])
        before = [e for e in pev if e.boot == b and e.t < t0 - EPS_S]
        if before:
            cand.append((b, float(before[0].t), t0, int(phase[f])))
    for b, t0, t1, p in sorted(cand):
        if not 0 <= p < nb or _listed(listed, b, t0, t1):
            continue
        u = _utc_at(a, b, t0)
        out.append(Span(When(b, t0, u), When(b, t1, u + (t1 - t0)), t1 - t0, p, PHASE_START))
    out += _no_reading(a, nb, (boot, t, dt, phase, of))
    return sorted(out, key=lambda s: (s.start.boot, s.start.t))


def _least(data: LogData, a: Analysis, g: Gap) -> float:
    """A gap across boots that nothing bounds lasted at least what the
    boots inside it ran by their events (their records were lost) and the
    next boot's start before its first record."""
    if g.longest is not None or not g.restart:
        return 0.0
    reach: dict[int, float] = {}
    first_phase: dict[int, float] = {}
    for e in data.events:
        reach[e.boot] = max(reach.get(e.boot, 0.0), float(e.t))
        if e.code == log.EV_PHASE:
            first_phase.setdefault(e.boot, float(e.t))
    recorded = set(np.unique(a.boot).tolist())
    inside = sum(v for b, v in reach.items()
                 if g.start.boot < b < g.end.boot and b not in recorded)
    return inside + max(0.0, g.end.t - first_phase.get(g.end.boot, g.end.t))


def _stretches(a: Analysis) -> tuple[np.ndarray, ...]:
    """(boot, uptime, seconds, phase, record) of every stretch a reading
    stands for, in log order: Analysis.spans where the analysis gives them
    (a reading carried past a phase change is a stretch of the new phase),
    else each record's own."""
    sp = getattr(a, "spans", None)
    if sp is not None and len(sp):
        return (sp["boot"].astype(int), sp["t"].astype(float), sp["dt"].astype(float),
                sp["phase"].astype(int), sp["of"].astype(int))
    return a.boot, a.t, a.dt, a.phase, np.arange(len(a.t))


def total(rows: list[Span]) -> float:
    """What the rows state together (a bound where only a bound is known):
    the silences that share one budget (Gap.shared) count it once."""
    budgets = {r.gap.shared for r in rows if r.gap is not None and r.gap.shared is not None}
    return (sum(r.counted_s for r in rows if r.gap is None or r.gap.shared is None)
            + sum(sh.seconds for sh in budgets))


def shared_words(sh: SharedSilence) -> str:
    """A shared budget as the Data gaps section states it on each of its
    rows: "the two silences around boot 2 together 4 min 40 s, each at
    most 4 min 40 s"."""
    n = _NUMBERS.get(sh.silences, str(sh.silences))
    total = fmt.dur(sh.seconds).replace(" ", "\u00a0")  # a figure never split over two lines
    named = _boots(sh.boots)
    if sh.silences == 1:
        return f"the silence around {named}, at most {total}"
    return f"the {n} silences around {named} together {total}, each at most {total}"


def restart_words(g: Gap) -> str:
    """Why a silence across boots has no record: the board was off, booting,
    or running past its last record (a reset's own boot records nothing
    after its last block), and any boot between the two ran in it with no
    record in the log (its records lost: only its events show it ran)."""
    between = range(g.start.boot + 1, g.end.boot)
    inside = f", {_boots(between)} between them with no record in the log" if between else ""
    return (f"board restarted (boot {g.start.boot} to boot {g.end.boot}{inside}): "
            "off, booting or running without a record"
            + ("; bounded by the clocked records around it"
               if g.seconds is None and g.at_most is not None else ""))


def _boots(boots: Sequence[int]) -> str:
    """"boot 2", "boots 2 and 3", "boots 2, 3 and 4"."""
    if len(boots) == 1:
        return f"boot {boots[0]}"
    return f"boots {', '.join(str(b) for b in boots[:-1])} and {boots[-1]}"


def _listed(listed: list[tuple[When, When]], boot: int, t0: float, t1: float) -> bool:
    """The span overlaps a gap the analysis lists (within one boot)."""
    for s, e in listed:
        lo = s.t if s.boot == boot else (-math.inf if s.boot < boot else math.inf)
        hi = e.t if e.boot == boot else (math.inf if e.boot > boot else -math.inf)
        if lo < t1 and t0 < hi:
            return True
    return False


def _utc_at(a: Analysis, boot: int, t: float) -> float:
    """UTC of uptime t of a boot from its clocked records (NaN: none)."""
    mine = (a.boot == boot) & ~np.isnan(a.utc)
    if not mine.any():
        return math.nan
    i = int(np.flatnonzero(mine)[0])
    return float(a.utc[i] - a.t[i] + t)


def _no_reading(a: Analysis, nb: int, st: tuple[np.ndarray, ...]) -> list[Span]:
    """Runs of consecutive stretches of one phase whose reading is not
    valid; each says whether some (too few) trusted probes were left."""
    boot, t, dt, phase, of = st
    bad = ~a.valid[of] & (phase >= 0) & (phase < nb)
    some = ~np.isnan(a.estimate[of])
    rows: list[Span] = []
    idx = np.flatnonzero(bad)
    if not len(idx):
        return rows
    # a run breaks where the stretches stop following each other or the
    # phase, the boot or the kind (none / too few) changes
    key = np.stack([phase[idx], boot[idx], some[idx].astype(int)])
    apart = (np.diff(idx) != 1) | (np.abs(t[idx][1:] - (t + dt)[idx][:-1]) > EPS_S)
    cut = apart | (np.diff(key, axis=1) != 0).any(axis=0)
    for run in np.split(idx, np.flatnonzero(cut) + 1):
        i, j = int(run[0]), int(run[-1])
        u0 = _utc_at(a, int(boot[i]), float(t[i]))
        u1 = _utc_at(a, int(boot[j]), float(t[j] + dt[j]))
        kind = TOO_FEW if some[i] else NO_READING
        start = When(int(boot[i]), float(t[i]), u0)
        end = When(int(boot[j]), float(t[j] + dt[j]), u1)
        rows.append(Span(start, end, float(dt[run].sum()), int(phase[i]), kind, None,
                         len(np.unique(of[run]))))
    return rows
