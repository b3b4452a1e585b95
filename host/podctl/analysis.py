"""The figures of a log against its handling profile, as numbers: the
payload estimate and phase of every record, per-phase statistics, MKT, time
in band, excursions, data gaps and what the log covers. Whole-array numpy
over the decode (podctl.decode), no Python loop per record, so a 90-day log
costs what a 10-day one does, times nine.

  a = analysis.analyse(data, profile)     # data: pulled.data() or logs_cmds.load_data
  a.phases[2].mkt, a.mission.in_band_s, a.excursions, a.gaps
  analysis.estimate(data)                 # the payload estimate, per record
  analysis.phase_per_record(data)         # the profile's phase, per record
  analysis.mkt([2, 8, 25, 5])             # 15.216 degC (USP <1079>)

The rules, each the firmware's own or the cold-chain convention:

- Payload estimate: the mean of the probes the firmware trusted for that
  record: a channel with a reading (not NO_READING) and not excluded by the
  firmware's probe validation (between its PROBE_FAULT and PROBE_RECOVERED
  events, or the end of that boot). That is firmware/probes.py's own
  estimate, so the figures judge what the controller saw, and a faulted
  probe that still reads (stuck, disagreeing) cannot pull them.
- Each record stands for the time until the next record of the same boot; a
  silence longer than twice the sampling interval (the phase's, or the
  log's usual spacing when the tick is coarser) is a data gap, and the
  record before it counts for one interval. A phase change between two
  records splits that time: up to the change in the record's phase, the
  rest in the phase entered, judged against its band (Analysis.spans; the
  firmware keeps the old schedule until the next record is due, so the new
  phase's first record comes up to an interval after the change). Time in
  band, means and MKT are weighted by that time. In band: band_low <= T <= band_high, as the
  firmware's alarms judge it.
- A phase lasts from the PHASE event that enters it to the one that leaves
  it, across reboots: the board's silence between two boots belongs to the
  phase it was in, and the last phase runs to the end of the log as the
  device states it (`until`: the clock of its seal). Its
  duration is in band + out of band + unknown, to the second. Unknown is
  time without a valid reading: records with no trusted probe or fewer
  than the profile's min_probes (no_reading_s; too_few_s is the latter
  part) and time with no record at all (gap_s: data gaps, the
  board off between boots, the start of a phase before its first record,
  the end of the log after the last record). Unknown is never in band, and
  the percentages are of the phase's duration. Every second no record
  stands for is in a listed gap (Analysis.gaps), the wait for the log's
  first reading too (Gap.head: the board boots into its phase and records
  at its first tick).
- A valid reading is an estimate from at least the profile's min_probes
  trusted probes (the firmware's own rule for regulating: with fewer it
  goes to its safe mode and raises the probes alarm). Only valid readings
  count in or out of band, in min, max, mean, MKT, the histogram and the
  excursions, as podctl.assess judges them; `estimate` still holds the
  firmware's estimate of every record with a trusted probe (the plots),
  and `valid` says which of them count.
- A gap across a boot whose clock was never set has no exact length; the
  records around it bound it (Gap.at_most): the clocked records on either
  side less the time the unclocked boots recorded. That bound is the
  silences around those boots together, exactly (Gap.shared): each is at
  most it, and the phase, the accounting and the report count it once. When nothing clocked
  follows (the sealed boot never had its clock set), the pull's anchor
  (the host's UTC at an uptime of that boot, from the manifest) closes the
  late side as host-clock evidence only (Gap.host_at_most,
  UnclockedBoot.host_latest_utc, utc_bounds(host=True)): unauthenticated
  and only as right as the host's clock, it is shown as such and decides
  no figure or verdict; a host clock that contradicts the log is ignored.
- MKT per USP <1079>: (dH/R) / -ln(sum w_i exp(-dH / (R T_i)) / sum w_i),
  T in kelvin, dH = 83.144 kJ/mol, R = 8.3144598 J/(mol K); with equal
  intervals this is the textbook form.
- An excursion is a contiguous run of records out of the phase's band (same
  side, same phase, no data gap inside); its duration is the time those
  records stand for, its peak the reading furthest outside.

Whether the log is complete and authentic is podctl.verify's to say; this
module takes the records it is given.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podctl import fmt
from podctl.logdata import Event, LogData
from podctl.pulled import Anchor
from protocol import log
from protocol import profile as pf

DELTA_H = 83144.0  # J/mol, USP <1079>
GAS_R = 8.3144598  # J/(mol K)
KELVIN = 273.15
NPROBES = 4
DEFAULT_INTERVAL = 60  # s, for records before any PHASE event
HIST_STEP_C = 0.5  # degC: the width of a histogram bin (a cold-chain logger's resolution class)
PHASE_RESUMED = 2  # PHASE event b: the saved phase resumed at boot (SPEC 7.7)

# A stretch of time one reading stands for, in one phase: a record's own
# (up to the next phase change of its boot) or the rest of its time carried
# into the phase entered before the next record. `of`: the record's index;
# `rec`: the record's own stretch; `gap`: a data gap (or the end) follows.
SPAN_DTYPE = np.dtype([("boot", "<i8"), ("t", "<f8"), ("utc", "<f8"), ("dt", "<f8"),
                       ("phase", "<i8"), ("of", "<i8"), ("rec", "?"), ("gap", "?")])


def mkt(temps_c: Any, weights: Any = None) -> float:
    """Mean kinetic temperature (degC) of readings in degC; weights are the
    time each reading stands for (equal when None). NaN readings are
    skipped; NaN when none is left."""
    t = np.asarray(temps_c, dtype=float)
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=float)
    ok = ~np.isnan(t) & (w > 0)
    if not ok.any():
        return math.nan
    k = DELTA_H / GAS_R
    x = -k / (t[ok] + KELVIN)
    # factor out the warmest term so the exponentials cannot underflow
    top = x.max()
    s = np.sum(w[ok] * np.exp(x - top)) / np.sum(w[ok])
    return float(k / -(top + math.log(s)) - KELVIN)


# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Band:
    """One phase of the handling profile: what it accepts, in degC."""

    index: int
    name: str
    setpoint: float
    low: float
    high: float
    abs_low: float
    abs_high: float
    event_s: int  # the excursion delay: out of band longer than this raises the alarm
    interval: int  # sampling interval, s
    duration_s: int  # 0: until a command
    max_hold_s: int = 0  # the longest it may run before alarm hold (0: no limit)


@dataclass(frozen=True)
class ProbeLimits:
    """The profile's probe checks (SPEC 9.3), in degC, K and s: what an
    exclusion is judged by."""

    probe_min: float
    probe_max: float
    rate_max: float  # K/s
    stuck_s: int
    disagree: float  # K


def probe_limits(profile: pf.Profile) -> ProbeLimits:
    h = profile.header
    at = [f[0] for f in pf.HEADER_FIELDS].index
    return ProbeLimits(h[at("probe_min")] / 1000, h[at("probe_max")] / 1000,
                       h[at("rate_max")] / 1000, h[at("stuck_s")], h[at("disagree")] / 1000)


@dataclass(frozen=True)
class When:
    """A moment as the log knows it: boot and uptime always, UTC when that
    boot's clock is known (NaN otherwise). Prints as UTC, or as boot and
    uptime when there is none."""

    boot: int
    t: float  # uptime, s
    utc: float

    def __str__(self) -> str:
        return fmt.when(self.utc, self.boot, self.t)


@dataclass(frozen=True)
class Excursion:
    phase: int
    phase_name: str
    side: str  # "above" or "below"
    start: When
    end: When
    seconds: float
    peak: float  # degC, the reading furthest outside
    beyond_delay: bool  # at least as long as the phase's excursion delay
    open_end: bool  # the run ends at a data gap or the end of the log

    @property
    def start_utc(self) -> float:
        return self.start.utc

    @property
    def end_utc(self) -> float:
        return self.end.utc


@dataclass(frozen=True)
class SharedSilence:
    """The silences around boots no clock places (their records have no
    UTC), between the same two clocked moments: where each boot ran in
    between is not known, so each silence is at most `seconds`, yet
    together they are exactly `seconds` (the clocked interval less what
    the boots between recorded). Their phase counts it once."""

    after: When  # where the last clocked reading before them stops standing for time
    before: When  # the first clocked record after them
    seconds: float  # all of them together, exactly
    silences: int  # how many gaps share it
    boots: tuple[int, ...]  # the boots between, none placed exactly
    phase: int  # the phase that counts it (the one the first silence began in)


@dataclass(frozen=True)
class Gap:
    """A silence between two records: start is where the record before it
    stops standing for time, end the next record (or, for the tail, the end
    of the log as the device states it)."""

    start: When
    end: When
    seconds: float | None  # None: length unknown (a boot without UTC)
    phase: int = -1  # the phase the board was in when the silence began
    at_most: float | None = None  # when seconds is None: the bound the records around it give
    tail: bool = False  # from the last record to the device's end of the log
    # from the log's first PHASE (the board's start) to its first record: the
    # first tick's wait before the first reading (start: that PHASE event)
    head: bool = False
    # when longest is None: the most it can be by the host's clock at the
    # pull (the manifest's anchor: unauthenticated, the host's own clock);
    # host-clock evidence, to be shown as such, never a verdict's
    host_at_most: float | None = None
    # one of the silences around unplaced boots that share one budget
    # (their at_most each): count shared.seconds once for all of them
    shared: SharedSilence | None = None

    @property
    def restart(self) -> bool:
        return self.start.boot != self.end.boot

    @property
    def longest(self) -> float | None:
        """The length, or the most it can be; None: unbounded."""
        return self.seconds if self.seconds is not None else self.at_most

    @property
    def host_longest(self) -> float | None:
        """longest, or else the host clock's bound (host_at_most)."""
        return self.longest if self.longest is not None else self.host_at_most


@dataclass(frozen=True)
class UnclockedBoot:
    """A boot whose clock was never set (no TIME_SET event in it): its
    records have no UTC, only bounds from the records around them."""

    boot: int
    records: int
    seconds: float
    after_utc: float  # the latest known UTC before its records (NaN: none)
    before_utc: float  # the earliest known UTC after them (NaN: none)
    # where its uptime 0 can lie, from the clocked records and events of the
    # boots around it less what the unclocked boots between recorded
    # (their last uptime each): NaN where nothing bounds it
    earliest_utc: float = math.nan
    latest_utc: float = math.nan
    reach_s: float = 0.0  # its last uptime a record or event shows
    # when latest_utc is NaN (no clocked moment after it): the latest its
    # uptime 0 can be by the host's clock at the pull (the manifest's
    # anchor: the host's UTC at an uptime of the sealed boot, taken after
    # it) less what the unclocked boots up to that one ran; host-clock
    # evidence, unauthenticated: to be shown as such, never a verdict's
    host_latest_utc: float = math.nan

    def bounds(self, t: float) -> tuple[float, float]:
        """The UTC interval of uptime t of this boot (NaN: unbounded side)."""
        return self.earliest_utc + t, self.latest_utc + t

    def host_bounds(self, t: float) -> tuple[float, float]:
        """bounds(t), its open late side closed by the host's clock at the
        pull (host_latest_utc) where the log's own clock leaves it open."""
        late = self.latest_utc if not math.isnan(self.latest_utc) else self.host_latest_utc
        return self.earliest_utc + t, late + t


@dataclass(frozen=True)
class LostRegion:
    """Bytes of the log the block walk could not read, and the records
    around them: what the damage cost, as a span of time."""

    offset: int
    size: int
    why: str  # the walk's verdict on the bytes
    last_before: When | None  # where the last record before them stops
    first_after: When | None  # the first record after them
    at_end: bool  # the region runs to the end of the log

    @property
    def seconds(self) -> float:
        if self.last_before is None or self.first_after is None:
            return math.nan
        return self.first_after.utc - self.last_before.utc


@dataclass
class PhaseStats:
    """The figures of one phase (or, with band index -1, the whole mission)."""

    band: Band
    visits: int = 0
    start: When | None = None
    end: When | None = None
    seconds: float = 0.0  # duration: entered to left, silences and the log's tail included
    records: int = 0
    t_min: float = math.nan
    t_max: float = math.nan
    t_mean: float = math.nan
    mkt: float = math.nan
    in_band_s: float = 0.0
    out_band_s: float = 0.0
    # records without a valid reading (no trusted probe, or fewer than the
    # profile's min_probes): neither in nor out of band
    no_reading_s: float = 0.0
    too_few_s: float = 0.0  # the part of no_reading_s with some, but too few, trusted probes
    gap_s: float = 0.0  # time in the phase with no record at all: neither in nor out of band
    no_utc_records: int = 0
    excursions: list[Excursion] = field(default_factory=list)
    # out of band split by side; out_band_s == above_s + below_s
    above_s: float = 0.0
    below_s: float = 0.0
    # beyond the phase's absolute limits (a part of above_s / below_s)
    abs_high_s: float = 0.0
    abs_low_s: float = 0.0
    # where the estimate reached t_min and t_max (None: no trusted reading)
    t_min_at: When | None = None
    t_max_at: When | None = None
    # the phase holds a silence nothing bounds (a reboot with no clock
    # after it): seconds, gap_s and over_plan_s are then the least they can be
    unbounded: bool = False
    # the estimate's histogram: bin edges (degC, HIST_STEP_C apart) and
    # the seconds of trusted readings in each bin (they sum to in + out)
    hist_edges: list[float] = field(default_factory=list)
    hist_s: list[float] = field(default_factory=list)

    @property
    def planned_s(self) -> int:
        """The profile's duration of the phase; 0: until a command."""
        return self.band.duration_s

    @property
    def over_plan_s(self) -> float:
        """How much longer than planned a timed phase lasted (0: not over,
        untimed or never entered)."""
        if not self.planned_s or self.start is None:
            return 0.0
        return max(0.0, self.seconds - self.planned_s)

    @property
    def over_hold_s(self) -> float:
        """How much longer than its maximum hold time (the profile's
        max_hold_h, alarm hold) the phase ran; 0: within it, or no limit."""
        if not self.band.max_hold_s or self.start is None:
            return 0.0
        return max(0.0, self.seconds - self.band.max_hold_s)

    @property
    def start_utc(self) -> float:
        return math.nan if self.start is None else self.start.utc

    @property
    def end_utc(self) -> float:
        return math.nan if self.end is None else self.end.utc

    @property
    def unknown_s(self) -> float:
        """Time without a trusted reading: no trusted probe, or no record."""
        return self.no_reading_s + self.gap_s

    def _share(self, part: float) -> float:
        total = self.in_band_s + self.out_band_s + self.unknown_s
        return 100.0 * part / total if total else math.nan

    @property
    def in_band_pct(self) -> float:
        """Share of the phase's duration in band (unknown time is not)."""
        return self._share(self.in_band_s)

    @property
    def out_band_pct(self) -> float:
        return self._share(self.out_band_s)

    @property
    def unknown_pct(self) -> float:
        return self._share(self.unknown_s)


@dataclass
class Analysis:
    bands: list[Band]
    phases: list[PhaseStats]
    mission: PhaseStats
    excursions: list[Excursion]
    gaps: list[Gap]
    unclocked: list[UnclockedBoot]
    lost: list[LostRegion]
    start_utc: float  # the first record or event with a UTC (NaN: none)
    end_utc: float  # where the last one stops standing for time, or the device's end of the log
    until: When | None  # the end of the log as the device stated it (None: not stated)
    unjudged_phases: list[int]  # phase indices the profile does not have
    before_first_phase: int  # records before the first PHASE event (not judged)
    allowance_s: int  # the profile's cumulative out-of-band allowance (all phases)
    min_probes: int  # the profile's: fewer trusted probes is no valid reading
    limits: ProbeLimits  # the profile's probe checks
    # per record, in log order
    utc: np.ndarray
    boot: np.ndarray
    t: np.ndarray
    estimate: np.ndarray  # degC, NaN: no trusted probe
    valid: np.ndarray  # the estimate counts: at least min_probes trusted probes
    probes: np.ndarray  # (n, 4) degC, NaN when absent or excluded
    phase: np.ndarray  # phase index, -1 before the first PHASE event
    dt: np.ndarray  # seconds each record stands for
    gap_after: np.ndarray  # a data gap (or the end) follows the record
    battery: np.ndarray  # V
    # every stretch a reading stands for (SPAN_DTYPE): each record's own,
    # then what its reading stands for past a phase change, in the new phase
    spans: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=SPAN_DTYPE))
    # the pull's clock reading the host bounds came from (None: not given)
    anchor: Anchor | None = None

    def utc_bounds(self, boot: int, t: float, utc: float = math.nan,
                   host: bool = False) -> tuple[float, float]:
        """When uptime t of boot happened, as a UTC interval: (utc, utc)
        when its clock is known, the bounds of an unclocked boot
        (UnclockedBoot.bounds) otherwise; NaN on a side nothing bounds.
        host: a late side the log leaves open takes the host clock's bound
        (UnclockedBoot.host_bounds), to be labelled as the host's."""
        if not math.isnan(utc):
            return utc, utc
        u = next((u for u in self.unclocked if u.boot == boot), None)
        if u is None:
            return math.nan, math.nan
        return u.host_bounds(t) if host else u.bounds(t)

    @property
    def allowance_used_s(self) -> float:
        """Time out of band against the cumulative allowance (the firmware's
        count: every phase, above and below together)."""
        return self.mission.out_band_s

    @property
    def allowance_used_pct(self) -> float:
        return 100.0 * self.allowance_used_s / self.allowance_s if self.allowance_s else math.nan

    @property
    def records(self) -> int:
        return len(self.t)

    @property
    def boots(self) -> int:
        return len(np.unique(self.boot))

    @property
    def recorded_s(self) -> float:
        """The time the readings stand for, what a phase change carries
        over included (Analysis.spans): the first record to the last one's
        end less the data gaps."""
        return float(self.spans["dt"].sum()) if len(self.spans) else float(self.dt.sum())

    @property
    def last(self) -> When | None:
        """Where the last record's reading stops standing for time."""
        if not len(self.t):
            return None
        end = float(self.t[-1] + self.dt[-1])
        utc_end = float(self.utc[-1] + self.dt[-1])
        if len(self.spans):  # past a phase change after it, the time carried on
            sp = self.spans[-1]
            end, utc_end = float(sp["t"] + sp["dt"]), float(sp["utc"] + sp["dt"])
        return When(int(self.boot[-1]), end, utc_end)


def bands_of(profile: pf.Profile) -> list[Band]:
    return [
        Band(i, profile.phase_name(i), ph[pf.P_SETPOINT] / 1000, ph[pf.P_BAND_LOW] / 1000,
             ph[pf.P_BAND_HIGH] / 1000, ph[pf.P_ABS_LOW] / 1000, ph[pf.P_ABS_HIGH] / 1000,
             ph[pf.P_EVENT_S], ph[pf.P_INTERVAL], ph[pf.P_DURATION],
             ph[pf.P_MAX_HOLD] * 3600 if len(ph) > pf.P_MAX_HOLD else 0)
        for i, ph in enumerate(profile.phases)
    ]


# ---------------------------------------------------------------- per record


def _keys(boot: Any, t: Any) -> np.ndarray:
    """One sortable number for (boot, uptime): boots follow each other in
    the log, uptime restarts at each."""
    return (np.asarray(boot, dtype=np.int64) << 32) | np.asarray(t, dtype=np.int64)


def _record_keys(data: LogData) -> np.ndarray:
    s = data.samples
    return _keys(s["boot"], s["t"]) if len(s) else np.zeros(0, dtype=np.int64)


def _exclusions(events: list[Event]) -> list[tuple[list[int], list[int]]]:
    """Per probe, where the firmware's exclusions start and end (record
    keys): from PROBE_FAULT to PROBE_RECOVERED or the end of that boot (a
    reboot validates every probe afresh). A loop over events, not records."""
    spans: list[tuple[list[int], list[int]]] = [([], []) for _ in range(NPROBES)]
    open_at: dict[int, int] = {}
    boot = None
    for e in events:
        if e.boot != boot:
            for p, k in open_at.items():
                spans[p][0].append(k)
                spans[p][1].append(int(_keys(e.boot, 0)))
            open_at = {}
            boot = e.boot
        if e.code == log.EV_PROBE_FAULT and e.a < NPROBES:
            open_at.setdefault(e.a, int(_keys(e.boot, e.t)))
        elif e.code == log.EV_PROBE_RECOVERED and e.a in open_at:
            spans[e.a][0].append(open_at.pop(e.a))
            spans[e.a][1].append(int(_keys(e.boot, e.t)))
    for p, k in open_at.items():
        spans[p][0].append(k)
        spans[p][1].append(1 << 62)
    return spans


def trusted_probes(data: LogData) -> np.ndarray:
    """(n, 4) probe readings in degC, NaN where there is no reading or the
    firmware had excluded the probe for that record."""
    s = data.samples
    n = len(s)
    if not n:
        return np.zeros((0, NPROBES))
    probes = np.column_stack([s[f"probe{i}"] for i in range(NPROBES)]).astype(float)
    rk = _record_keys(data)
    excluded = np.zeros(probes.shape, dtype=bool)
    for p, (starts, ends) in enumerate(_exclusions(data.events)):
        if starts:
            # inside a span: more of the probe's spans started than ended by then
            began = np.searchsorted(np.sort(np.array(starts, dtype=np.int64)), rk, side="right")
            ended = np.searchsorted(np.sort(np.array(ends, dtype=np.int64)), rk, side="right")
            excluded[:, p] = began > ended
    # Each record's status says whether any probe was excluded when it was
    # read. A record is stamped with its scheduled second but read at the
    # first tick at or after it (a whole tick late with a coarse tick), so a
    # fault raised in that tick is stamped after the record: a record that
    # says "excluded" with no fault in force takes the faults raised before
    # the next record; one that says "none excluded" trusts every probe.
    flag = (s["status"] & log.STATUS_PROBE_FAULT) != 0
    unexplained = flag & ~excluded.any(axis=1)
    faults = [e for e in data.events if e.code == log.EV_PROBE_FAULT and e.a < NPROBES]
    if unexplained.any() and faults:
        fb = np.array([e.boot for e in faults])
        r = np.searchsorted(rk, _keys(fb, [e.t for e in faults]), side="left") - 1
        hit = r >= 0
        rr = np.maximum(r, 0)
        hit &= unexplained[rr] & (s["boot"][rr] == fb)
        excluded[rr[hit], np.array([e.a for e in faults])[hit]] = True
    excluded[~flag] = False
    probes[excluded] = np.nan
    return probes


def _mean_of(probes: np.ndarray) -> np.ndarray:
    good = ~np.isnan(probes)
    n = good.sum(axis=1)
    est = np.full(len(probes), np.nan)
    np.divide(np.where(good, probes, 0.0).sum(axis=1), n, out=est, where=n > 0)
    return est


def estimate(data: LogData) -> np.ndarray:
    """The payload estimate per record (degC; NaN when no probe was trusted):
    the mean of the trusted probes, as the firmware computed it.

    data may also be a run of the log's records with all of its events (a
    chunk of a streamed decode): each record is judged the same, except that
    the run's last record, when read a tick late, takes a fault raised
    before the first record of the next run as if none came between."""
    return _mean_of(trusted_probes(data))


def _phase_events(data: LogData) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """The PHASE events in (boot, uptime) order: their keys, the phase each
    enters, and the events."""
    pev = [e for e in data.events if e.code == log.EV_PHASE]
    pk = _keys([e.boot for e in pev], [e.t for e in pev])
    order = np.argsort(pk, kind="stable")
    return pk[order], np.array([pev[i].a for i in order], dtype=int), [pev[i] for i in order]


def _phase_at(pk: np.ndarray, pidx: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The phase in force at each key (the latest PHASE at or before it), -1
    before the first."""
    if not len(pk):
        return np.full(len(keys), -1, dtype=int)
    at = np.searchsorted(pk, keys, side="right") - 1
    return np.where(at >= 0, pidx[np.maximum(at, 0)], -1)


def phase_per_record(data: LogData) -> np.ndarray:
    """The profile's phase index of each record, -1 before the first PHASE
    event."""
    pk, pidx, _ = _phase_events(data)
    return _phase_at(pk, pidx, _record_keys(data))


def phase_of_events(data: LogData) -> np.ndarray:
    """The phase in force at each of data.events, -1 before the first."""
    pk, pidx, _ = _phase_events(data)
    ek = _keys([e.boot for e in data.events], [e.t for e in data.events])
    return _phase_at(pk, pidx, ek)


def _per_phase(bands: list[Band], phase: np.ndarray, attr: str, outside: float) -> np.ndarray:
    """A band's field for each record's phase; `outside` for records in no
    phase of the profile."""
    table = np.array([float(getattr(b, attr)) for b in bands] + [outside])
    known = (phase >= 0) & (phase < len(bands))
    return table[np.where(known, phase, len(bands))]


def _reach(
    s: np.ndarray, phase: np.ndarray, bands: list[Band]
) -> tuple[np.ndarray, np.ndarray]:
    """Time each record's reading stands for, whatever phase it falls in
    (up to the next record of its boot, or one interval before a data gap),
    and where a data gap follows it."""
    n = len(s)
    interval = _per_phase(bands, phase, "interval", DEFAULT_INTERVAL)
    dt = interval.copy()
    gap_after = np.zeros(n, dtype=bool)
    if n == 0:
        return dt, gap_after
    t = s["t"].astype(float)
    same = s["boot"][1:] == s["boot"][:-1]
    diff = t[1:] - t[:-1]
    usual = float(np.median(diff[same])) if same.any() else DEFAULT_INTERVAL
    limit = 2 * np.maximum(interval[:-1], usual)
    cont = same & (diff <= limit)
    dt[:-1] = np.where(cont, diff, np.minimum(interval[:-1], np.where(same, diff, interval[:-1])))
    gap_after[:-1] = ~cont
    gap_after[-1] = True
    return dt, gap_after


def _to_next_phase(s: np.ndarray, dt: np.ndarray, phase_keys: np.ndarray) -> np.ndarray:
    """dt cut at the next phase change of each record's boot: the part of
    its time that lies in its own phase."""
    if not len(phase_keys) or not len(s):
        return dt
    rk = _keys(s["boot"], s["t"])
    nxt = np.searchsorted(phase_keys, rk, side="right")
    has = nxt < len(phase_keys)
    nk = phase_keys[np.minimum(nxt, len(phase_keys) - 1)]
    same_boot = has & ((nk >> 32) == (rk >> 32))
    bound = np.where(same_boot, (nk & 0xFFFFFFFF) - (rk & 0xFFFFFFFF), np.inf)
    return np.minimum(dt, bound)


def _durations(
    s: np.ndarray, phase: np.ndarray, bands: list[Band], phase_keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Time each record stands for in its own phase, and where a data gap
    follows it; phase_keys: the sorted (boot, t) keys of the PHASE events.
    The rest of a record's time, past a phase change, is the next phase's
    (_spans)."""
    full, gap_after = _reach(s, phase, bands)
    return _to_next_phase(s, full, phase_keys), gap_after


def _spans(s: np.ndarray, phase: np.ndarray, full: np.ndarray, gap_after: np.ndarray,
           pk: np.ndarray, pidx: np.ndarray) -> np.ndarray:
    """Every stretch a reading stands for, in log order. A phase change
    between two records does not make the time after it unmonitored: the
    reading before it stands for the time until the next record, as it does
    everywhere else (the firmware records on the schedule it had until the
    next record is due, then at the new phase's interval); the part after
    the change counts in the new phase, against its band."""
    n = len(s)
    t = s["t"].astype(float)
    boot = s["boot"].astype(np.int64)
    own = _to_next_phase(s, full, pk)
    of = np.arange(n)
    c_of = np.zeros(0, dtype=np.int64)
    c_t = c_dt = np.zeros(0)
    c_ph = np.zeros(0, dtype=np.int64)
    if n and len(pk):
        r = np.searchsorted(_keys(boot, t), pk, side="left") - 1  # the last record before
        rr = np.maximum(r, 0)
        eb = pk >> 32
        et = (pk & 0xFFFFFFFF).astype(float)
        end = t[rr] + full[rr]
        nxt = np.full(len(pk), np.inf)
        nxt[:-1] = np.where(eb[1:] == eb[:-1], et[1:], np.inf)
        stop = np.minimum(end, nxt)
        ok = (r >= 0) & (eb == boot[rr]) & (et < end) & (stop > et)
        c_of, c_t, c_dt, c_ph = rr[ok], et[ok], (stop - et)[ok], pidx[ok].astype(np.int64)
    sp = np.zeros(n + len(c_of), dtype=SPAN_DTYPE)
    sp["of"] = np.concatenate([of, c_of])
    sp["t"] = np.concatenate([t, c_t])
    sp["dt"] = np.concatenate([own, c_dt])
    sp["phase"] = np.concatenate([phase, c_ph])
    sp["rec"][:n] = True
    sp = sp[np.lexsort((sp["t"], sp["of"]))]
    sp["boot"] = boot[sp["of"]]
    utc = s["utc"].astype(float)
    sp["utc"] = utc[sp["of"]] + (sp["t"] - t[sp["of"]])
    last_of = np.ones(len(sp), dtype=bool)
    last_of[:-1] = sp["of"][1:] != sp["of"][:-1]
    sp["gap"] = last_of & gap_after[sp["of"]]
    return sp


def record_durations(data: LogData, profile: pf.Profile) -> tuple[np.ndarray, np.ndarray]:
    """Seconds each record stands for in its own phase (Analysis.dt), and
    whether a data gap (or the end of the log) follows it."""
    pk, _, _ = _phase_events(data)
    return _durations(data.samples, phase_per_record(data), bands_of(profile), pk)


# ---------------------------------------------------------------- aggregates


def _excursions(
    est: np.ndarray, phase: np.ndarray, dt: np.ndarray, gap_after: np.ndarray,
    utc: np.ndarray, s: np.ndarray, bands: list[Band],
) -> list[Excursion]:
    n = len(est)
    if not n:
        return []
    lo = _per_phase(bands, phase, "low", -np.inf)
    hi = _per_phase(bands, phase, "high", np.inf)
    with np.errstate(invalid="ignore"):
        side = np.where(est > hi, 1, np.where(est < lo, -1, 0))
    # a run starts where the side, the phase or the continuity changes
    out = side != 0
    cont = np.zeros(n, dtype=bool)
    cont[1:] = ~gap_after[:-1] & (side[1:] == side[:-1]) & (phase[1:] == phase[:-1])
    starts = np.flatnonzero(out & ~cont)
    if not len(starts):
        return []
    nxt_cont = np.zeros(n, dtype=bool)
    nxt_cont[:-1] = cont[1:]
    ends = np.flatnonzero(out & ~nxt_cont)
    csum = np.concatenate([[0.0], np.cumsum(dt)])
    secs = csum[ends + 1] - csum[starts]
    # the reading furthest outside: the largest side * T within the run
    dev = np.where(out, side * np.nan_to_num(est), -np.inf)
    peaks = side[starts] * np.maximum.reduceat(dev, starts)
    t = s["t"].astype(float)
    boot = s["boot"].astype(int)
    found = []
    for i, j, sec, peak in zip(starts.tolist(), ends.tolist(), secs.tolist(), peaks.tolist()):
        b = bands[int(phase[i])]
        found.append(Excursion(
            phase=b.index, phase_name=b.name, side="above" if side[i] > 0 else "below",
            start=When(int(boot[i]), float(t[i]), float(utc[i])),
            end=When(int(boot[j]), float(t[j] + dt[j]), float(utc[j] + dt[j])),
            seconds=sec, peak=float(peak), beyond_delay=sec >= b.event_s,
            open_end=bool(gap_after[j]),
        ))
    return found


def _figures(
    group: np.ndarray, groups: int, ests: tuple[np.ndarray, np.ndarray], dt: np.ndarray,
    utc: np.ndarray, limits: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    where: tuple[np.ndarray, np.ndarray, np.ndarray],
    into: list[PhaseStats],
) -> None:
    """Fill each group's statistics (into[g] for spans with group g; -1:
    none) in a few bincounts over the whole log. ests: the valid estimate
    (NaN: no valid reading) and the firmware's (NaN: no trusted probe);
    limits: band low, high, absolute low, high per span; where: (boot,
    uptime, whether it is a record's own span) per span (_spans)."""
    est, raw = ests
    lo, hi, alo, ahi = limits
    mine = group >= 0
    g = group[mine]
    have = mine & ~np.isnan(est)
    gh, ev, wv = group[have], est[have], dt[have]

    def total(idx: np.ndarray, w: Any = None) -> np.ndarray:
        return np.bincount(idx, weights=w, minlength=groups)[:groups]

    own = where[2][mine].astype(float)  # a carried span is no record of its own
    records = total(g, own)
    no_utc = total(g, own * np.isnan(utc[mine]))
    blind = mine & np.isnan(est)
    no_reading = total(group[blind], dt[blind])
    few = blind & ~np.isnan(raw)
    too_few = total(group[few], dt[few])
    count = total(gh)
    t_min = np.full(groups, np.inf)
    t_max = np.full(groups, -np.inf)
    np.minimum.at(t_min, gh, ev)
    np.maximum.at(t_max, gh, ev)
    wsum = total(gh, wv)
    plain = total(gh, ev)
    weighted = total(gh, ev * wv)
    # MKT: the warmest term of each group factored out (see mkt())
    k = DELTA_H / GAS_R
    pos = wv > 0
    x = -k / (ev[pos] + KELVIN)
    top = np.full(groups, -np.inf)
    np.maximum.at(top, gh[pos], x)
    terms = total(gh[pos], wv[pos] * np.exp(x - top[gh[pos]]))
    wpos = total(gh[pos], wv[pos])
    inb = (ev >= lo[have]) & (ev <= hi[have])
    in_band = total(gh[inb], wv[inb])
    out_band = total(gh[~inb], wv[~inb])
    up, down = ev > hi[have], ev < lo[have]
    above, below = total(gh[up], wv[up]), total(gh[down], wv[down])
    # beyond the absolute limits as the firmware judges them (strictly)
    aup, adown = ev > ahi[have], ev < alo[have]
    abs_high, abs_low = total(gh[aup], wv[aup]), total(gh[adown], wv[adown])
    at = np.flatnonzero(have)
    for i, ps in enumerate(into):
        ps.records = int(records[i])
        ps.no_utc_records = int(no_utc[i])
        ps.no_reading_s = float(no_reading[i])
        ps.too_few_s = float(too_few[i])
        if not count[i]:
            continue
        ps.t_min, ps.t_max = float(t_min[i]), float(t_max[i])
        ps.t_mean = float(weighted[i] / wsum[i]) if wsum[i] > 0 else float(plain[i] / count[i])
        if wpos[i] > 0:
            ps.mkt = float(k / -(top[i] + math.log(terms[i] / wpos[i])) - KELVIN)
        ps.in_band_s, ps.out_band_s = float(in_band[i]), float(out_band[i])
        ps.above_s, ps.below_s = float(above[i]), float(below[i])
        ps.abs_high_s, ps.abs_low_s = float(abs_high[i]), float(abs_low[i])
        sel = gh == i
        mine_at, mine_ev, mine_w = at[sel], ev[sel], wv[sel]
        # the first record at the extreme: where the reviewer looks first
        for name, j in (("t_min_at", int(np.argmin(mine_ev))),
                        ("t_max_at", int(np.argmax(mine_ev)))):
            r = int(mine_at[j])
            setattr(ps, name, When(int(where[0][r]), float(where[1][r]), float(utc[r])))
        ps.hist_edges, ps.hist_s = _histogram(mine_ev, mine_w)


def _histogram(temps: np.ndarray, weights: np.ndarray) -> tuple[list[float], list[float]]:
    """Seconds of readings per HIST_STEP_C bin, from the bin holding the
    lowest reading to the one holding the highest (each bin [a, b), the
    last closed)."""
    first = math.floor(float(temps.min()) / HIST_STEP_C)
    last = math.floor(float(temps.max()) / HIST_STEP_C) + 1
    edges = np.arange(first, last + 1) * HIST_STEP_C
    secs, _ = np.histogram(temps, bins=edges, weights=weights)
    return [round(float(e), 6) for e in edges], [float(x) for x in secs]


def _phase_time(
    phases: list[PhaseStats], pev: list[Event], s: np.ndarray, rk: np.ndarray,
    rec_end: np.ndarray, phase: np.ndarray, utc: np.ndarray, reach: dict[int, float],
) -> dict[int, float]:
    """Each phase's visits, first and last moment and duration within the
    boots: a visit runs from its PHASE event to the next PHASE event of that
    boot, or to the end of that boot's records; a boot's records before its
    own first PHASE event carry on the phase the board was in. A PHASE
    resumed at boot (source 2) into the phase the board was already in is
    the same visit, not a new one. Returns the seconds counted for each
    boot that has no record (its uptime from its events), which the silence
    around it must not count again."""
    nb = len(phases)
    recordless: dict[int, float] = {}
    # phase, boot, from, to (uptime), UTC at from, a new visit
    segs: list[tuple[int, int, float, float, float, bool]] = []
    for k, e in enumerate(pev):
        if not 0 <= e.a < nb:
            continue
        nxt = pev[k + 1] if k + 1 < len(pev) else None
        if nxt is not None and nxt.boot == e.boot:
            end_t = float(nxt.t)
        else:
            mine = (s["boot"] == e.boot) & (rk >= _keys(e.boot, e.t))
            end_t = float(rec_end[mine].max()) if mine.any() else float(e.t)
        if not (s["boot"] == e.boot).any():
            # a boot whose records were lost with its open block still
            # ran the phase: its events show how long it was on
            if nxt is None or nxt.boot != e.boot:
                end_t = max(end_t, reach.get(e.boot, 0.0))
            recordless[e.boot] = recordless.get(e.boot, 0.0) + max(end_t - float(e.t), 0.0)
        resumed = e.b == PHASE_RESUMED and k > 0 and pev[k - 1].a == e.a
        segs.append((e.a, e.boot, float(e.t), max(end_t, float(e.t)), e.utc, not resumed))
    n = len(s)
    if n:
        boot = s["boot"]
        cut = np.flatnonzero(boot[1:] != boot[:-1]) + 1
        first_phase_t: dict[int, float] = {}
        for e in pev:
            first_phase_t.setdefault(e.boot, float(e.t))
        for f, last in zip([0, *cut.tolist()], [*cut.tolist(), n]):
            p = int(phase[f])
            if not 0 <= p < nb:
                continue
            b = int(boot[f])
            t0 = float(s["t"][f])
            t1 = min(first_phase_t.get(b, math.inf), float(rec_end[f:last].max()))
            if t1 > t0:
                segs.append((p, b, t0, t1, float(utc[f]), False))
    for p, b, t0, t1, u0, entered in sorted(segs, key=lambda g: (g[1], g[2])):
        ps = phases[p]
        ps.visits += entered
        ps.seconds += t1 - t0
        if ps.start is None:
            ps.start = When(b, t0, u0)
        ps.end = When(b, t1, u0 + (t1 - t0))
    return recordless


def _gaps(
    s: np.ndarray, dt: np.ndarray, gap_after: np.ndarray, utc: np.ndarray, phase: np.ndarray,
    recordless: dict[int, float], heads: dict[int, float],
) -> tuple[list[Gap], list[tuple[int, float]]]:
    """The silences between records, and the seconds each adds to the phase
    it began in when the board was off between two boots (a silence inside
    a boot is inside its phase's visit already). The silences around boots
    without a clock are bounded together and counted once. recordless: the
    seconds the phases already count for boots with events and no record
    (_phase_time); a silence across such a boot holds them, and adds to its
    phase only the rest, when the board was off. heads: per boot, what the
    phases already count of it before its first record (from its PHASE
    event at boot to that record): the silence ends at that record, so
    it holds them too."""
    if len(s) < 2:
        return [], []

    def ran(b0: int, b1: int) -> float:
        return (sum(v for b, v in recordless.items() if b0 < b < b1)
                + sum(v for b, v in heads.items() if b0 < b <= b1))

    t = s["t"].astype(float)
    boot = s["boot"].astype(int)
    clocked = np.flatnonzero(~np.isnan(utc))
    gaps: list[Gap] = []
    added: list[tuple[int, float]] = []
    chains: dict[tuple[int, int], list[int]] = {}  # clocked (a, b): its gaps' indices
    for i in np.flatnonzero(gap_after[:-1]).tolist():
        start = When(int(boot[i]), float(t[i] + dt[i]), float(utc[i] + dt[i]))
        end = When(int(boot[i + 1]), float(t[i + 1]), float(utc[i + 1]))
        at_most = None
        if start.boot == end.boot:
            seconds: float | None = end.t - start.t
        else:
            seconds = None if math.isnan(end.utc - start.utc) else end.utc - start.utc
            if seconds is not None:
                added.append((int(phase[i]), max(seconds - ran(start.boot, end.boot), 0.0)))
            else:
                k = int(np.searchsorted(clocked, i, side="right")) - 1
                k2 = int(np.searchsorted(clocked, i + 1, side="left"))
                if k >= 0 and k2 < len(clocked):
                    a, b = int(clocked[k]), int(clocked[k2])
                    at_most = _silence_between(a, b, t, dt, boot, utc)
                    if (a, b) not in chains:
                        chains[(a, b)] = []
                        off = at_most - ran(int(boot[a]), int(boot[b]))
                        added.append((int(phase[i]), max(off, 0.0)))
                    chains[(a, b)].append(len(gaps))
        gaps.append(Gap(start, end, seconds, int(phase[i]), at_most))
    for (a, b), mine in chains.items():
        shared = SharedSilence(
            When(int(boot[a]), float(t[a] + dt[a]), float(utc[a] + dt[a])),
            When(int(boot[b]), float(t[b]), float(utc[b])),
            _silence_between(a, b, t, dt, boot, utc), len(mine),
            tuple(range(int(boot[a]) + 1, int(boot[b]))), gaps[mine[0]].phase)
        for k in mine:
            gaps[k] = dataclasses.replace(gaps[k], shared=shared)
    return gaps, added


def _silence_between(a: int, b: int, t: np.ndarray, dt: np.ndarray, boot: np.ndarray,
                     utc: np.ndarray) -> float:
    """The time between clocked records a and b that the unclocked boots
    between them did not record: their silences together."""
    wall = float(utc[b] - (utc[a] + dt[a]))
    mid = slice(a + 1, b)
    if b > a + 1:
        bb = boot[mid]
        cut = np.flatnonzero(bb[1:] != bb[:-1]) + 1
        starts = np.concatenate([[0], cut])
        ends = np.maximum.reduceat(t[mid] + dt[mid], starts)
        wall -= float(np.sum(ends - t[mid][starts]))
    return max(wall, 0.0)


def _tail(last: When | None, until: When | None, phase: int) -> Gap | None:
    """From where the last record stops standing for time to the device's
    end of the log: recorded by nobody."""
    if last is None or until is None:
        return None
    if until.boot == last.boot:
        seconds: float | None = until.t - last.t
    elif not math.isnan(until.utc - last.utc):
        seconds = until.utc - last.utc
    else:
        seconds = None
    if seconds is not None and seconds <= 0:
        return None
    return Gap(last, until, seconds, phase, None, tail=True)


def _heads(sp: np.ndarray, pev: list[Event]) -> dict[int, float]:
    """Per boot with records: the time from its first PHASE event (at boot:
    the phase it resumed) to its first record, which _phase_time counts in
    that phase."""
    if not len(sp):
        return {}
    boot = sp["boot"]
    firsts = np.flatnonzero(np.concatenate([[True], boot[1:] != boot[:-1]]))
    first_t = {int(boot[i]): float(sp["t"][i]) for i in firsts.tolist()}
    out: dict[int, float] = {}
    for e in pev:
        if e.boot in first_t and e.boot not in out and e.t <= first_t[e.boot]:
            out[e.boot] = first_t[e.boot] - float(e.t)
    return out


def _head(sp: np.ndarray, pev: list[Event], nb: int) -> Gap | None:
    """From the PHASE the log starts with (the board's first phase, at its
    boot) to the first record of that boot: the wait for the first
    tick's reading, time no reading stands for."""
    if not len(sp) or not pev:
        return None
    e = pev[0]
    b, t1 = int(sp["boot"][0]), float(sp["t"][0])
    if e.boot != b or not 0 <= e.a < nb or t1 <= e.t:
        return None
    return Gap(When(b, float(e.t), e.utc), When(b, t1, float(sp["utc"][0])), t1 - float(e.t),
               int(e.a), head=True)


def _host_bounds(anchor: Anchor, unclocked: list[UnclockedBoot], gaps: list[Gap],
                 sp: np.ndarray) -> tuple[list[UnclockedBoot], list[Gap]]:
    """The host's clock at the pull closes the late side the log leaves
    open. The anchor's uptime is read (STATUS) before its UTC is taken
    (after the download), so the sealed boot's uptime 0 was at the latest
    anchor.utc - anchor.uptime by the host's clock; how much earlier, the
    pull's duration, is not recorded (the early side is the log's own).
    A host clock that puts the boot before the log's own bound is wrong
    and bounds nothing."""
    mine = next((u for u in unclocked if u.boot == anchor.boot), None)
    if mine is None:
        return unclocked, gaps  # the sealed boot has its own clock (or is not in the log)
    zero = anchor.utc - anchor.uptime
    if zero < mine.earliest_utc:
        return unclocked, gaps
    reach = {u.boot: u.reach_s for u in unclocked}
    out = []
    for u in unclocked:
        if u.boot <= anchor.boot and math.isnan(u.latest_utc):
            ran = sum(r for c, r in reach.items() if u.boot <= c < anchor.boot)
            u = dataclasses.replace(u, host_latest_utc=zero - ran)
        out.append(u)
    clocked = np.flatnonzero(~np.isnan(sp["utc"]))
    if not len(clocked):
        return out, gaps
    k = int(clocked[-1])
    # the silences from the last clocked reading to the anchor: its wall
    # time less what each later boot ran, first record to last (the sealed
    # boot: first record to the anchor's uptime)
    wall = anchor.utc - float(sp["utc"][k] + sp["dt"][k])
    later = sp[k + 1:]
    for b in np.unique(later["boot"]).tolist():
        m = later[later["boot"] == b]
        stop = float(anchor.uptime) if b == anchor.boot else float((m["t"] + m["dt"]).max())
        wall -= stop - float(m["t"][0])
    if anchor.boot not in set(later["boot"].tolist()):
        wall -= float(anchor.uptime)
    if wall < 0:
        return out, gaps
    after = float(sp["utc"][k] + sp["dt"][k])
    return out, [
        dataclasses.replace(g, host_at_most=wall)
        if g.longest is None and not (g.tail or g.head) and not g.start.utc < after
        else g for g in gaps]


def _unclocked(sp: np.ndarray, events: list[Event],
               until: When | None) -> list[UnclockedBoot]:
    """The boots with records but no clock, each placed between the
    clocked moments around it (records, events, the device's end of the
    log). sp: the spans the readings stand for (_spans)."""
    out = []
    s, dt, utc = sp, sp["dt"], sp["utc"]
    known = ~np.isnan(utc)
    # each boot's reach and clocked moments: (boot, earliest, latest UTC)
    reach: dict[int, float] = {}
    first_utc: dict[int, float] = {}
    last_utc: dict[int, float] = {}

    def seen(boot: int, t: float, u0: float, u1: float) -> None:
        reach[boot] = max(reach.get(boot, 0.0), t)
        if not math.isnan(u0):
            first_utc[boot] = min(first_utc.get(boot, math.inf), u0)
            last_utc[boot] = max(last_utc.get(boot, -math.inf), u1)

    if len(s):
        bt = s["boot"].astype(int)
        ends = s["t"].astype(float) + dt
        for b in np.unique(bt).tolist():
            m = bt == b
            seen(b, float(ends[m].max()), float(np.nanmin(utc[m])) if known[m].any() else math.nan,
                 float(np.nanmax((utc + dt)[m])) if known[m].any() else math.nan)
    for e in events:
        seen(e.boot, float(e.t), e.utc, e.utc)
    if until is not None:
        seen(until.boot, until.t, until.utc, until.utc)
    # a boot with no clock: its records have no UTC, or it has events and
    # no records at all (a reset before its first record was sealed)
    unclocked = sorted(set(s["boot"][~known].tolist())
                       | {e.boot for e in events if math.isnan(e.utc)} - set(first_utc))
    bt_all = s["boot"].astype(int) if len(s) else np.zeros(0, dtype=int)
    for b in unclocked:
        mine = bt_all == b
        idx = np.flatnonzero(mine)
        # with no record of its own: its place among the records is after the earlier boots'
        first = int(idx[0]) if len(idx) else int(np.searchsorted(bt_all, b))
        last = int(idx[-1]) if len(idx) else first - 1
        before = utc[:first] + dt[:first]
        after = utc[last + 1:]
        prev = [c for c in last_utc if c < b]
        nxt = [c for c in first_utc if c > b]
        earliest = latest = math.nan
        if prev:
            p = max(prev)
            earliest = last_utc[p] + sum(reach[c] for c in unclocked if p < c < b)
        if nxt:
            n = min(nxt)
            latest = first_utc[n] - sum(reach[c] for c in unclocked if b <= c < n)
        out.append(UnclockedBoot(
            boot=int(b), records=int((mine & sp["rec"]).sum()), seconds=float(dt[mine].sum()),
            after_utc=float(np.nanmax(before)) if (~np.isnan(before)).any() else math.nan,
            before_utc=float(np.nanmin(after)) if (~np.isnan(after)).any() else math.nan,
            earliest_utc=earliest, latest_utc=latest, reach_s=reach[b],
        ))
    return out


def _lost(data: LogData, dt: np.ndarray, utc: np.ndarray) -> list[LostRegion]:
    """The unreadable regions, each with the records on either side: records
    are decoded in block order, so the records of the sample blocks before a
    region come first."""
    s = data.samples
    n = len(s)
    out = []
    before = 0
    for b in data.blocks:
        if b.decodable and b.kind == log.KIND_SAMPLES:
            before += b.count
        if b.seq is not None:
            continue
        k = before  # the first record after the region
        last = first = None
        if 0 < k <= n:
            j = k - 1
            last = When(int(s["boot"][j]), float(s["t"][j] + dt[j]), float(utc[j] + dt[j]))
        if k < n:
            first = When(int(s["boot"][k]), float(s["t"][k]), float(utc[k]))
        out.append(LostRegion(b.offset, b.size, b.verdict, last, first,
                              b.offset + b.size == len(data.raw)))
    return out


def analyse(data: LogData, profile: pf.Profile, *, until: When | None = None,
            anchor: Anchor | None = None) -> Analysis:
    """Every figure of the log against the profile's bands. until: where the
    device says its log ends (its seal's clock); the time
    from the last record to it is unknown time of the last phase. None: the
    log ends at its last record (a dead board's flash, a hand-made log).
    anchor: the pull's clock reading (the manifest's: the host's UTC at an
    uptime of the sealed boot), for the host-clock bounds only
    (Gap.host_at_most, UnclockedBoot.host_latest_utc); no figure, bound
    or verdict of the device's own evidence comes from it."""
    bands = bands_of(profile)
    s = data.samples
    n = len(s)
    probes = trusted_probes(data)
    est = _mean_of(probes)
    min_probes = max(1, int(profile.header[pf.H_MIN_PROBES]))
    valid = ~np.isnan(est) & ((~np.isnan(probes)).sum(axis=1) >= min_probes)
    pk, pidx, pev = _phase_events(data)
    phase = _phase_at(pk, pidx, _record_keys(data))
    full, gap_after = _reach(s, phase, bands)
    sp = _spans(s, phase, full, gap_after, pk, pidx)
    if n and until is not None and until.boot == int(s["boot"][-1]):
        # the last record stands for no time past the device's end of the log
        lastrec = sp["of"] == n - 1
        sp["dt"][lastrec] = np.clip(until.t - sp["t"][lastrec], 0.0, sp["dt"][lastrec])
    dt = sp["dt"][sp["rec"]]  # per record: its time in its own phase
    utc = s["utc"].astype(float)
    # per span: whose reading, in which phase
    spv = np.where(valid, est, np.nan)[sp["of"]]  # what counts in or out of band
    sp_est = est[sp["of"]]
    sph = sp["phase"]
    judged = (sph >= 0) & (sph < len(bands))
    excursions = _excursions(spv, sph, sp["dt"], sp["gap"], sp["utc"], sp, bands)
    phases = [PhaseStats(b) for b in bands]
    lo, hi = _per_phase(bands, sph, "low", np.nan), _per_phase(bands, sph, "high", np.nan)
    alo, ahi = (_per_phase(bands, sph, "abs_low", np.nan),
                _per_phase(bands, sph, "abs_high", np.nan))
    limits = (lo, hi, alo, ahi)
    where = (sp["boot"], sp["t"], sp["rec"])
    _figures(np.where(judged, sph, -1), len(bands), (spv, sp_est), sp["dt"], sp["utc"],
             limits, where, phases)
    sp_end = sp["t"] + sp["dt"]
    last_event: dict[int, float] = {}
    for e in data.events:
        last_event[e.boot] = max(last_event.get(e.boot, 0.0), float(e.t))
    recordless = _phase_time(phases, pev, sp, _keys(sp["boot"], sp["t"]), sp_end, sph,
                             sp["utc"], last_event)
    heads = _heads(sp, pev)
    gaps, silences = _gaps(sp, sp["dt"], sp["gap"], sp["utc"], sph, recordless, heads)
    for p, sec in silences:
        if 0 <= p < len(phases):
            phases[p].seconds += sec
    last = None
    if n:
        last = When(int(sp["boot"][-1]), float(sp_end[-1]), float(sp["utc"][-1] + sp["dt"][-1]))
    tail = _tail(last, until, int(sph[-1]) if n else -1)
    if tail is not None:
        gaps.append(tail)
        if 0 <= tail.phase < len(phases):
            ps = phases[tail.phase]
            ps.seconds += tail.seconds or 0.0
            ps.end = until
    head = _head(sp, pev, len(bands))
    if head is not None:
        # last in the list: the silences between records come first, in
        # the order of the records they follow (assess pairs them so)
        gaps.append(head)
    unclocked = _unclocked(sp, data.events, until)
    if anchor is not None:
        unclocked, gaps = _host_bounds(anchor, unclocked, gaps, sp)
    for g in gaps:
        if g.longest is None and 0 <= g.phase < len(phases):
            phases[g.phase].unbounded = True
    for ps in phases:
        ps.excursions = [x for x in excursions if x.phase == ps.band.index]
        # what no record covers: the visit's time less what its readings
        # stand for (never clamped: a negative figure is a bug to see, not hide)
        ps.gap_s = ps.seconds - ps.in_band_s - ps.out_band_s - ps.no_reading_s
    nan = math.nan
    mission = PhaseStats(Band(-1, "whole mission", nan, nan, nan, nan, nan, 0, 0, 0))
    _figures(np.where(judged, 0, -1), 1, (spv, sp_est), sp["dt"], sp["utc"], limits, where,
             [mission])
    mission.seconds = sum(p.seconds for p in phases)
    mission.gap_s = sum(p.gap_s for p in phases)
    mission.visits = sum(p.visits for p in phases)
    mission.unbounded = any(p.unbounded for p in phases)
    mission.excursions = excursions

    ev_utc = np.array([e.utc for e in data.events], dtype=float)
    starts = np.concatenate([utc, ev_utc])
    ends = np.concatenate([sp["utc"] + sp["dt"], ev_utc,
                           [until.utc if until is not None else math.nan]])
    return Analysis(
        bands=bands,
        phases=phases,
        mission=mission,
        excursions=excursions,
        gaps=gaps,
        unclocked=unclocked,
        lost=_lost(data, dt, utc),
        start_utc=float(np.nanmin(starts)) if (~np.isnan(starts)).any() else math.nan,
        end_utc=float(np.nanmax(ends)) if (~np.isnan(ends)).any() else math.nan,
        until=until,
        unjudged_phases=sorted(int(p) for p in np.unique(phase[phase >= len(bands)])),
        before_first_phase=int((phase < 0).sum()),
        allowance_s=int(profile.header[pf.H_CUMULATIVE_S]),
        min_probes=min_probes,
        limits=probe_limits(profile),
        utc=utc,
        boot=s["boot"].astype(int),
        t=s["t"].astype(float),
        estimate=est,
        valid=valid,
        probes=probes,
        phase=phase,
        dt=dt,
        gap_after=gap_after,
        battery=s["battery"].astype(float) if n else np.zeros(0),
        spans=sp,
        anchor=anchor,
    )
