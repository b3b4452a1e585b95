"""The QA report on a pulled log: what a reviewer signs off.

  rep = build(data, profile, manifest)    # figures only, no files
  render_html(rep, Path("report.html"))   # + report-overview.png, report-phase<i>-<name>.png
  render_pdf(rep, Path("report.pdf"))     # the same content as PDF

build() judges the log's records against the handling profile's bands:

- Payload temperature: the mean of the probes the firmware trusted for that
  record: a channel with a reading (not NO_READING) and not excluded by the
  firmware's probe validation (between its PROBE_FAULT and PROBE_RECOVERED
  events, or the end of that boot). That is the firmware's own estimate
  (firmware/probes.py: mean of the good probes), so the report judges what
  the controller saw, and a faulted probe that still reads (stuck,
  disagreeing) cannot pull the figures.
- Each record stands for the time until the next record of the same boot;
  a longer silence than twice the sampling interval (the phase's, or the
  log's usual spacing when the tick is coarser) is a data gap, the record
  then counts for one interval. Time in band, means and MKT are weighted by
  that time. In band means band_low <= T <= band_high, as the firmware's
  alarms judge it.
- Mean kinetic temperature per USP <1079>: MKT = (dH/R) / -ln(sum w_i
  exp(-dH / (R T_i)) / sum w_i), T in kelvin, dH = 83.144 kJ/mol,
  R = 8.3144598 J/(mol K); with equal intervals this is the textbook form.
- An excursion is a contiguous run of records out of the phase's band (same
  side, same phase, no data gap inside); its duration is the time those
  records stand for, its peak the reading furthest outside.

The integrity verdict is podctl.verify's (the one place that decides it):
the report words its findings and never judges integrity itself.
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from podctl import __version__
from podctl.logdata import LogData
from podctl.verdict import FAILED, NOT_AUTHENTICATED, VERIFIED, Verdict
from protocol import catalogue, codes, log, names
from protocol import profile as pf

DELTA_H = 83144.0  # J/mol, USP <1079>
GAS_R = 8.3144598  # J/(mol K)
KELVIN = 273.15
NPROBES = 4
DEFAULT_INTERVAL = 60  # s, for records before any PHASE event


# alarm -> how its ALARM_RAISED value reads (firmware/alarms.py, pod.py)
_TEMP_ALARMS = (codes.ALARM_HIGH, codes.ALARM_LOW, codes.ALARM_CUMULATIVE,
                codes.ALARM_ABS_HIGH, codes.ALARM_ABS_LOW)
_RESETS = {
    log.RESET_UNKNOWN: "unknown",
    log.RESET_POWER_ON: "power-on",
    log.RESET_WATCHDOG: "watchdog",
    log.RESET_SOFT: "soft reset",
    log.RESET_BROWNOUT: "brownout",
}
_PHASE_SOURCES = {0: "timeline", 1: "command", 2: "resumed at boot"}
# event categories, in the order the report lists them
CATEGORIES = (
    ("alarm", "Alarms"),
    ("probe", "Probe faults"),
    ("reset", "Resets"),
    ("clock", "Clock settings"),
    ("mode", "Controller mode changes"),
    ("storage", "Storage"),
    ("command", "Commands refused"),
    ("profile", "Profile and key changes"),
)


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
    tk = t[ok] + KELVIN
    # factor out the warmest term so the exponentials cannot underflow
    x = -k / tk
    top = x.max()
    s = np.sum(w[ok] * np.exp(x - top)) / np.sum(w[ok])
    return float(k / -(top + math.log(s)) - KELVIN)


# ---------------------------------------------------------------- the model


@dataclass
class Band:
    index: int
    name: str
    setpoint: float
    low: float
    high: float
    abs_low: float
    abs_high: float
    event_s: int
    interval: int
    duration_s: int  # 0: until a command


@dataclass
class Excursion:
    phase: int
    phase_name: str
    side: str  # "above" or "below"
    start: str  # where, as text (UTC or boot + uptime)
    end: str
    start_utc: float
    end_utc: float
    seconds: float
    peak: float
    beyond_delay: bool  # longer than the phase's excursion delay
    open_end: bool  # the run ends at a data gap or the end of the log


@dataclass
class PhaseStats:
    band: Band
    visits: int = 0
    start: str = ""
    end: str = ""
    start_utc: float = math.nan
    end_utc: float = math.nan
    seconds: float = 0.0  # time the board was recording in this phase
    records: int = 0
    t_min: float = math.nan
    t_max: float = math.nan
    t_mean: float = math.nan
    mkt: float = math.nan
    in_band_s: float = 0.0
    out_band_s: float = 0.0
    no_reading_s: float = 0.0
    no_utc_records: int = 0
    excursions: list[Excursion] = field(default_factory=list)

    @property
    def in_band_pct(self) -> float:
        judged = self.in_band_s + self.out_band_s
        return 100.0 * self.in_band_s / judged if judged else math.nan

    @property
    def out_band_pct(self) -> float:
        judged = self.in_band_s + self.out_band_s
        return 100.0 * self.out_band_s / judged if judged else math.nan


@dataclass
class EventRow:
    category: str
    utc: float
    when: str
    boot: int
    t: int
    phase: str
    what: str
    detail: str
    code: int
    a: int


@dataclass
class Gap:
    start: str
    end: str
    seconds: float | None  # None: length unknown (a boot without UTC)
    why: str


@dataclass
class Check:
    ok: bool
    text: str
    warn: bool = False  # not a failure, but not green either


@dataclass
class Report:
    device_id: str
    fw_version: str
    fw_hash: str
    profile_name: str
    profile_ident: str
    manifest_profile_ident: str | None
    log_sha256: str
    log_bytes: int
    blocks: int
    source: str
    log_name: str
    generated: str
    podctl_version: str
    span_start: str
    span_end: str
    span_seconds: float
    clock: list[str]
    verdict: str
    checks: list[Check]
    problems: list[str]
    bands: list[Band]
    phases: list[PhaseStats]
    mission: PhaseStats
    excursions: list[Excursion]
    events: list[EventRow]
    alarms: list[EventRow]
    gaps: list[Gap]
    coverage: list[str]
    notes: list[str]
    # per record, for plots and tests
    utc: np.ndarray
    boot: np.ndarray
    t: np.ndarray
    estimate: np.ndarray
    probes: np.ndarray  # (n, 4) degC, NaN when absent or excluded
    phase: np.ndarray  # phase index per record, -1 before the first PHASE
    dt: np.ndarray
    battery: np.ndarray
    battery_low_v: float
    plots: dict[str, Path] = field(default_factory=dict)

    @property
    def green(self) -> bool:
        return self.verdict == VERIFIED

    @property
    def failure(self) -> str:
        """The first reason the log failed verification, or ''."""
        if self.problems:
            return self.problems[0]
        return next((c.text for c in self.checks if not c.ok and not c.warn), "")

    def category_rows(self) -> list[tuple[str, str, list[EventRow]]]:
        return [(key, title, [e for e in self.events if e.category == key]) for key, title in CATEGORIES]


# ---------------------------------------------------------------- formatting


def fmt_utc(utc: float) -> str:
    if utc is None or math.isnan(utc):
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(utc))


def fmt_when(utc: float, boot: int, t: float) -> str:
    """UTC, or the boot and uptime when that boot's clock was never set."""
    if math.isnan(utc):
        return f"boot {boot} +{fmt_dur(t)} (no UTC)"
    return fmt_utc(utc)


def fmt_dur(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "unknown"
    s = int(round(seconds))
    if s < 120:
        return f"{s} s"
    m = s // 60
    if m < 120:
        return f"{m} min" + (f" {s % 60} s" if s % 60 else "")
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d} d {h} h {m:02d} min"


def fmt_c(v: float, digits: int = 2) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def fmt_pct(v: float) -> str:
    if math.isnan(v):
        return "-"
    if 99.995 <= v < 100:
        return ">99.99"
    return f"{v:.2f}"


def _signed(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _version(v: int) -> str:
    return f"{v >> 16 & 0xFF}.{v >> 8 & 0xFF}.{v & 0xFF}"


# ---------------------------------------------------------------- build


def bands_of(profile: pf.Profile) -> list[Band]:
    out = []
    for i, ph in enumerate(profile.phases):
        out.append(Band(
            i, profile.phase_name(i), ph[pf.P_SETPOINT] / 1000, ph[pf.P_BAND_LOW] / 1000,
            ph[pf.P_BAND_HIGH] / 1000, ph[pf.P_ABS_LOW] / 1000, ph[pf.P_ABS_HIGH] / 1000,
            ph[pf.P_EVENT_S], ph[pf.P_INTERVAL], ph[pf.P_DURATION],
        ))
    return out


def profile_name(profile: pf.Profile) -> str:
    raw = bytes(profile.header[pf.H_NAME])
    return raw.split(b"\x00", 1)[0].decode(errors="replace")


def _keys(boot: Any, t: Any) -> np.ndarray:
    """One sortable number for (boot, uptime): boots follow each other in
    the log, uptime restarts at each."""
    return (np.asarray(boot, dtype=np.int64) << 32) | np.asarray(t, dtype=np.int64)


def _estimate(data: LogData) -> tuple[np.ndarray, np.ndarray]:
    """Per record: the mean of the probes the firmware trusted, and the
    (n, 4) probe matrix with untrusted channels set to NaN."""
    s = data.samples
    probes = np.column_stack([s[f"probe{i}"] for i in range(NPROBES)]) if len(s) else np.zeros((0, NPROBES))
    probes = probes.astype(float).copy()
    rk = _keys(s["boot"], s["t"])
    # excluded spans per probe, from PROBE_FAULT to PROBE_RECOVERED or the
    # end of that boot (a reboot validates every probe afresh)
    open_at: dict[int, int] = {}
    spans: list[tuple[int, int, int]] = []
    boot = None
    for e in data.events:
        if e.boot != boot:
            for p, k in open_at.items():
                spans.append((p, k, int(_keys(e.boot, 0))))
            open_at = {}
            boot = e.boot
        if e.code == log.EV_PROBE_FAULT and e.a < NPROBES:
            open_at.setdefault(e.a, int(_keys(e.boot, e.t)))
        elif e.code == log.EV_PROBE_RECOVERED and e.a in open_at:
            spans.append((e.a, open_at.pop(e.a), int(_keys(e.boot, e.t))))
    for p, k in open_at.items():
        spans.append((p, k, 1 << 62))
    excluded = np.zeros(probes.shape, dtype=bool)
    for p, k0, k1 in spans:
        excluded[(rk >= k0) & (rk < k1), p] = True
    # Each record's status says whether any probe was excluded when it was
    # read. A record is stamped with its scheduled second but read at the
    # first tick at or after it (a whole tick late with a coarse tick), so a
    # fault raised in that tick is stamped after the record: a record that
    # says "excluded" with no fault in force takes the faults raised before
    # the next record; one that says "none excluded" trusts every probe.
    flag = (s["status"] & log.STATUS_PROBE_FAULT) != 0
    unexplained = flag & ~excluded.any(axis=1)
    if unexplained.any():
        for e in data.events:
            if e.code == log.EV_PROBE_FAULT and e.a < NPROBES:
                r = int(np.searchsorted(rk, _keys(e.boot, e.t), side="left")) - 1
                if r >= 0 and unexplained[r] and s["boot"][r] == e.boot:
                    excluded[r, e.a] = True
    excluded[~flag] = False
    probes[excluded] = np.nan
    good = ~np.isnan(probes)
    n = good.sum(axis=1)
    total = np.where(good, probes, 0.0).sum(axis=1)
    est = np.full(len(s), np.nan)
    np.divide(total, n, out=est, where=n > 0)
    return est, probes


def _phases_per_record(data: LogData) -> tuple[np.ndarray, list]:
    s = data.samples
    pev = [e for e in data.events if e.code == log.EV_PHASE]
    if not pev:
        return np.full(len(s), -1, dtype=int), pev
    pk = _keys([e.boot for e in pev], [e.t for e in pev])
    order = np.argsort(pk, kind="stable")
    pk = pk[order]
    pidx = np.array([pev[i].a for i in order])
    at = np.searchsorted(pk, _keys(s["boot"], s["t"]), side="right") - 1
    return np.where(at >= 0, pidx[np.maximum(at, 0)], -1), [pev[i] for i in order]


def _durations(
    s: np.ndarray, phase: np.ndarray, bands: list[Band], phase_keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Time each record stands for, and where a data gap follows it;
    phase_keys: the sorted (boot, t) keys of the PHASE events."""
    n = len(s)
    interval = np.array(
        [bands[p].interval if 0 <= p < len(bands) else DEFAULT_INTERVAL for p in phase], dtype=float
    )
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
    # a record does not stand for time past the next phase change of its boot
    if len(phase_keys):
        rk = _keys(s["boot"], s["t"])
        nxt = np.searchsorted(phase_keys, rk, side="right")
        has = nxt < len(phase_keys)
        nk = phase_keys[np.minimum(nxt, len(phase_keys) - 1)]
        bound = np.where(has & ((nk >> 32) == (rk >> 32)), (nk & 0xFFFFFFFF) - (rk & 0xFFFFFFFF), np.inf)
        dt = np.minimum(dt, bound)
    return dt, gap_after


def _excursions(
    est: np.ndarray, phase: np.ndarray, dt: np.ndarray, gap_after: np.ndarray,
    utc: np.ndarray, s: np.ndarray, bands: list[Band],
) -> list[Excursion]:
    lo = np.array([bands[p].low if 0 <= p < len(bands) else -np.inf for p in phase])
    hi = np.array([bands[p].high if 0 <= p < len(bands) else np.inf for p in phase])
    with np.errstate(invalid="ignore"):
        side = np.where(est > hi, 1, np.where(est < lo, -1, 0))
    out: list[Excursion] = []
    i, n = 0, len(est)
    while i < n:
        if side[i] == 0 or phase[i] < 0:
            i += 1
            continue
        j = i
        while j + 1 < n and not gap_after[j] and side[j + 1] == side[i] and phase[j + 1] == phase[i]:
            j += 1
        seg = est[i : j + 1]
        peak = float(seg.max() if side[i] > 0 else seg.min())
        secs = float(dt[i : j + 1].sum())
        b = bands[phase[i]]
        end_t = float(s["t"][j]) + dt[j]
        end_utc = float(utc[j] + dt[j])
        out.append(Excursion(
            phase=int(phase[i]), phase_name=b.name, side="above" if side[i] > 0 else "below",
            start=fmt_when(float(utc[i]), int(s["boot"][i]), float(s["t"][i])),
            end=fmt_when(end_utc, int(s["boot"][j]), end_t),
            start_utc=float(utc[i]), end_utc=end_utc, seconds=secs, peak=peak,
            beyond_delay=secs >= b.event_s, open_end=bool(gap_after[j]),
        ))
        i = j + 1
    return out


def _stats(ps: PhaseStats, sel: np.ndarray, est: np.ndarray, dt: np.ndarray, utc: np.ndarray,
           lo: Any, hi: Any) -> None:
    w = dt[sel]
    e = est[sel]
    ps.records = int(sel.sum())
    ps.no_utc_records = int(np.isnan(utc[sel]).sum())
    have = ~np.isnan(e)
    ps.no_reading_s = float(w[~have].sum())
    if have.any():
        ev, wv = e[have], w[have]
        ps.t_min, ps.t_max = float(ev.min()), float(ev.max())
        ps.t_mean = float(np.sum(ev * wv) / np.sum(wv)) if wv.sum() > 0 else float(ev.mean())
        ps.mkt = mkt(ev, wv)
        lo_v = lo[sel][have] if isinstance(lo, np.ndarray) else lo
        hi_v = hi[sel][have] if isinstance(hi, np.ndarray) else hi
        inb = (ev >= lo_v) & (ev <= hi_v)
        ps.in_band_s = float(wv[inb].sum())
        ps.out_band_s = float(wv[~inb].sum())


def _event_rows(data: LogData, phase_of: Any, bands: list[Band], own_ident: int) -> list[EventRow]:
    def pname(i: int) -> str:
        return f"{i} {bands[i].name}" if 0 <= i < len(bands) else str(i)

    rows: list[EventRow] = []
    last_off: dict[int, float] = {}
    for e in data.events:
        cat, what, detail = None, e.name, ""
        ph = phase_of(e)
        if e.code == log.EV_ALARM_RAISED or e.code == log.EV_ALARM_CLEARED:
            cat = "alarm"
            name = names.name(names.ALARMS, e.a)
            what = f"{name} {'raised' if e.code == log.EV_ALARM_RAISED else 'cleared'}"
            ph = pname(e.b)
            if e.code == log.EV_ALARM_RAISED:
                v = _signed(e.value)
                if e.a in _TEMP_ALARMS:
                    detail = f"estimate {v / 1000:.2f} degC"
                elif e.a == codes.ALARM_BATTERY_LOW:
                    detail = f"battery {v / 1000:.3f} V"
                elif e.a == codes.ALARM_SHOCK:
                    detail = f"shock {v / 1000:.1f} g"
                elif e.a == codes.ALARM_LID:
                    detail = f"lid open {v} s"
                elif e.a == codes.ALARM_PROBES:
                    detail = f"{v} good probe(s)"
                elif e.a == codes.ALARM_STORAGE:
                    detail = f"log store {v} bytes"
                else:
                    detail = f"value {v}"
        elif e.code in (log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED):
            cat = "probe"
            if e.code == log.EV_PROBE_FAULT:
                kind = names.name(names.FAULTS, e.b)
                what = f"probe {e.a} fault: {kind}"
                v = _signed(e.value)
                detail = "no reading" if e.value == (log.NO_READING_MDEG & 0xFFFFFFFF) else f"read {v / 1000:.2f} degC"
                detail += "; excluded from the estimate"
            else:
                what = f"probe {e.a} recovered"
                detail = "trusted again"
        elif e.code == log.EV_BOOT:
            cat = "reset"
            what = f"boot {e.b}: {_RESETS.get(e.a, f'cause {e.a}')}"
            detail = f"firmware {_version(e.value)}"
        elif e.code == log.EV_TIME_SET:
            cat = "clock"
            what = "clock set"
            off = e.value - e.t
            detail = f"UTC {fmt_utc(e.value)} at uptime {e.t} s"
            if e.boot in last_off and last_off[e.boot] != off:
                detail += f"; corrects the clock by {off - last_off[e.boot]:+.0f} s"
            last_off.setdefault(e.boot, off)
        elif e.code == log.EV_MODE:
            cat = "mode"
            new, old = names.name(names.MODES, e.a), names.name(names.MODES, e.b)
            what = f"mode {new}"
            detail = f"from {old}" + ("; safe mode" if e.a in codes.SAFE_MODES else "")
        elif e.code in (log.EV_STORAGE_FULL, log.EV_LOG_ERASED):
            cat = "storage"
            if e.code == log.EV_STORAGE_FULL:
                what = "storage full"
                detail = (f"policy stop: recording stopped at {e.value} bytes" if e.a == 0
                          else f"policy overwrite: {e.value} oldest segment(s) dropped")
            else:
                what = "log erased"
                detail = f"{e.value} bytes erased"
        elif e.code == log.EV_COMMAND_REFUSED:
            cat = "command"
            m = catalogue.message(e.a)
            what = f"{m[1] if m else f'message type {e.a}'} refused"
            detail = f"{catalogue.error_name(e.b)} (counter {e.value})"
        elif e.code in (log.EV_PROFILE_ACCEPTED, log.EV_PROFILE_REFUSED, log.EV_KEY_ROTATED):
            cat = "profile"
            if e.code == log.EV_PROFILE_ACCEPTED:
                what = "profile accepted"
                detail = f"identity {e.value:08x}" + ("" if e.value == own_ident else
                                                       " (not the profile this report judges against)")
            elif e.code == log.EV_PROFILE_REFUSED:
                what = "profile refused"
                reason = next((r[1] for r in pf.REFUSALS if r[0] == e.a), str(e.a))
                where = pf.where(e.a, e.b)
                detail = f"{reason}{' at ' + where if where else ''}, identity {e.value:08x}"
            else:
                what = "key rotated"
                detail = f"counter {e.value}"
        if cat is None:
            continue
        rows.append(EventRow(cat, e.utc, fmt_when(e.utc, e.boot, e.t), e.boot, e.t, ph, what, detail,
                             e.code, e.a))
    return rows


def _integrity_checks(verdict: Verdict) -> list[Check]:
    """The verdict's findings as the report's checklist: one line per
    finding, and what held when nothing failed."""
    checks = [Check(f.severity != "fail", str(f), warn=f.severity == "warn") for f in verdict.findings]
    readable = len(verdict.readable)
    if not any(f.code in ("unreadable", "seq_gap", "seq_back", "empty") for f in verdict.findings):
        checks.insert(0, Check(True, f"{readable} blocks: CRC, layout and sequence intact"))
    if verdict.authenticated and not any(f.code == "mac" for f in verdict.findings):
        unproven = verdict.unproven
        checks.insert(1, Check(True, "MAC chain verified with the device's key"
                                + (f" for {readable - unproven} of {readable} blocks; {unproven} block(s) "
                                   "chain to a block that is not in the log and are not proven"
                                   if unproven else "")))
    if verdict.end_checked and not any(f.code in ("tail_missing", "tail_extra", "last_mac", "hash",
                                                  "head_missing", "head_extra") for f in verdict.findings):
        checks.append(Check(True, "the log is the file pulled (SHA-256) and ends at the block and MAC "
                                  "the device reported"))
    return checks


def build(
    data: LogData,
    verdict: Verdict,
    profile: pf.Profile,
    manifest: dict[str, Any],
    *,
    log_name: str = "log.bin",
    generated_utc: float | None = None,
) -> Report:
    """The report's figures from a loaded log, the profile it ran and the
    manifest beside it. No files are written."""
    bands = bands_of(profile)
    s = data.samples
    est, probes = _estimate(data)
    phase, pev = _phases_per_record(data)
    dt, gap_after = _durations(s, phase, bands, _keys([e.boot for e in pev], [e.t for e in pev]))
    utc = s["utc"].astype(float)
    n = len(s)
    notes: list[str] = []

    lo = np.array([bands[p].low if 0 <= p < len(bands) else np.nan for p in phase])
    hi = np.array([bands[p].high if 0 <= p < len(bands) else np.nan for p in phase])
    unknown_phase = [int(p) for p in set(phase.tolist()) if p >= len(bands)]
    if unknown_phase:
        notes.append(f"records in phase(s) {unknown_phase}, which the profile does not have: not judged")
    if (phase < 0).any():
        notes.append(f"{int((phase < 0).sum())} record(s) before the first PHASE event: not judged")

    # per phase: statistics and visits (a visit runs from its PHASE event to
    # the next one, or to the end of that boot's records)
    excursions = _excursions(est, phase, dt, gap_after, utc, s, bands)
    phases: list[PhaseStats] = []
    rk = _keys(s["boot"], s["t"]) if n else np.zeros(0, dtype=np.int64)
    rec_end = s["t"].astype(float) + dt
    for b in bands:
        ps = PhaseStats(b)
        sel = phase == b.index
        _stats(ps, sel, est, dt, utc, b.low, b.high)
        ps.excursions = [x for x in excursions if x.phase == b.index]
        for k, e in enumerate(pev):
            if e.a != b.index:
                continue
            nxt = pev[k + 1] if k + 1 < len(pev) else None
            if nxt is not None and nxt.boot == e.boot:
                end_t = float(nxt.t)
            else:
                mine = (s["boot"] == e.boot) & (rk >= _keys(e.boot, e.t)) if n else np.zeros(0, bool)
                end_t = float(rec_end[mine].max()) if mine.any() else float(e.t)
            ps.visits += 1
            ps.seconds += end_t - e.t
            if ps.visits == 1:
                ps.start_utc = e.utc
                ps.start = fmt_when(e.utc, e.boot, e.t)
            ps.end_utc = e.utc + (end_t - e.t)
            ps.end = fmt_when(ps.end_utc, e.boot, end_t)
        phases.append(ps)
    mission = PhaseStats(Band(-1, "whole mission", math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, 0))
    judged = (phase >= 0) & (phase < len(bands))
    _stats(mission, judged, est, dt, utc, lo, hi)
    mission.seconds = sum(p.seconds for p in phases)
    mission.visits = sum(p.visits for p in phases)
    mission.excursions = excursions

    # gaps and coverage
    gaps: list[Gap] = []
    for i in np.flatnonzero(gap_after[:-1]) if n > 1 else []:
        a_end = float(s["t"][i]) + dt[i]
        b0, b1 = int(s["boot"][i]), int(s["boot"][i + 1])
        start = fmt_when(float(utc[i] + dt[i]), b0, a_end)
        end = fmt_when(float(utc[i + 1]), b1, float(s["t"][i + 1]))
        if b0 == b1:
            gaps.append(Gap(start, end, float(s["t"][i + 1]) - a_end, "no records"))
        else:
            length = float(utc[i + 1] - (utc[i] + dt[i]))
            gaps.append(Gap(start, end, None if math.isnan(length) else length,
                            f"board restarted (boot {b0} to boot {b1}): off or booting"))
    coverage: list[str] = []
    known = ~np.isnan(utc)
    ev_utc = np.array([e.utc for e in data.events], dtype=float)
    ends = np.concatenate([utc + dt, ev_utc])
    span_start = float(np.nanmin(np.concatenate([utc, ev_utc]))) if (~np.isnan(ends)).any() else math.nan
    span_end = float(np.nanmax(ends)) if (~np.isnan(ends)).any() else math.nan
    if n:
        coverage.append(f"{n} sample records in {len(set(s['boot'].tolist()))} boot(s), "
                        f"{fmt_dur(float(dt.sum()))} of recording")
    else:
        coverage.append("the log holds no sample record")
    for b in sorted(set(s["boot"][~known].tolist())):
        mine = s["boot"] == b
        first, last_i = np.flatnonzero(mine)[[0, -1]]
        before = utc[:first] + dt[:first]
        after = utc[last_i + 1:]
        lo_b = float(np.nanmax(before)) if (~np.isnan(before)).any() else math.nan
        hi_b = float(np.nanmin(after)) if (~np.isnan(after)).any() else math.nan
        coverage.append(
            f"boot {b}: {int(mine.sum())} record(s) ({fmt_dur(float(dt[mine].sum()))}) have no UTC: the clock was "
            f"never set in that boot and the pull did not anchor it; they lie between {fmt_utc(lo_b)} and "
            f"{fmt_utc(hi_b)}, count in the figures, and are not on the plots")
    anchor = manifest.get("anchor")
    if n:
        last = n - 1
        last_end = float(utc[last] + dt[last])
        if anchor and not verdict.ok:
            coverage.append(f"pulled at {fmt_utc(float(anchor['utc']))}; the readable part of the log ends "
                            f"{fmt_dur(float(anchor['utc']) - last_end)} before that")
        elif anchor:
            if int(anchor["boot"]) == int(s["boot"][last]):
                tail = float(anchor["uptime"]) - (float(s["t"][last]) + dt[last])
                coverage.append(f"pulled at {fmt_utc(float(anchor['utc']))}; the last {fmt_dur(max(tail, 0))} "
                                "before the pull were not yet in a sealed block and are not in the log")
            else:
                coverage.append(f"pulled at {fmt_utc(float(anchor['utc']))} in boot {anchor['boot']}, "
                                f"but the log's last record is of boot {int(s['boot'][last])}")
        else:
            coverage.append(f"the log ends at {fmt_when(last_end, int(s['boot'][last]), float(s['t'][last]) + dt[last])}"
                            f" with battery {fmt_c(float(s['battery'][last]), 2)} V; the device did not report "
                            "its clock at the pull (no anchor in the manifest: "
                            f"{manifest.get('source', 'unknown source')}): nothing after that time is recorded, "
                            "so the payload's temperature after it is unknown")
    for bad in (b for b in data.blocks if b.seq is None):
        # records are decoded in block order: those of the sample blocks
        # before the region come first, so k is the first record after it
        k = sum(b.count for b in data.blocks
                if b.seq is not None and b.kind == log.KIND_SAMPLES and b.offset < bad.offset)
        span = ""
        if 0 < k < n:
            lost_from = float(utc[k - 1] + dt[k - 1])
            lost_to = float(utc[k])
            span = (f"; the records between {fmt_when(lost_from, int(s['boot'][k - 1]), float(s['t'][k - 1] + dt[k - 1]))}"
                    f" and {fmt_when(lost_to, int(s['boot'][k]), float(s['t'][k]))} are lost"
                    + (f" ({fmt_dur(lost_to - lost_from)})" if not math.isnan(lost_to - lost_from) else ""))
        coverage.append(f"bytes {bad.offset} to {bad.offset + bad.size} of the log cannot be read "
                        f"({bad.verdict}): their records are not in this report"
                        + ("" if bad.offset + bad.size == len(data.raw) else span + "; decoding resumes after them"))

    # integrity: podctl.verify decided it; the report only words it
    checks = _integrity_checks(verdict)
    verdict_text = verdict.status

    own_ident = pf.ident(profile.data)
    m_ident = manifest.get("profile_ident")
    if m_ident is None:
        notes.append("the manifest names no profile: the profile given could not be checked against the device")

    # clock
    clock = list(data.clock)
    if anchor:
        offs = [e.value - e.t for e in data.events if e.code == log.EV_TIME_SET and e.boot == int(anchor["boot"])]
        if offs:
            drift = (float(anchor["utc"]) - float(anchor["uptime"])) - offs[-1]
            clock.append(f"at the pull the device's clock differed from the host's by {drift:+.0f} s")

    def phase_of(e: Any) -> str:
        k = int(_keys(e.boot, e.t))
        cur = None
        for p in pev:
            if int(_keys(p.boot, p.t)) <= k:
                cur = p.a
            else:
                break
        if cur is None:
            return "-"
        return f"{cur} {bands[cur].name}" if 0 <= cur < len(bands) else str(cur)

    events = _event_rows(data, phase_of, bands, own_ident)
    alarms = [e for e in events if e.category == "alarm" and e.code == log.EV_ALARM_RAISED]
    boots = [e for e in data.events if e.code == log.EV_BOOT]
    fw_seen = sorted({_version(e.value) for e in boots})
    if fw_seen and manifest.get("fw_version") and fw_seen != [manifest["fw_version"]]:
        notes.append(f"the log's BOOT events name firmware {', '.join(fw_seen)}; the manifest says "
                     f"{manifest['fw_version']}")

    return Report(
        device_id=str(manifest.get("device_id", "unknown")),
        fw_version=str(manifest.get("fw_version", "unknown")),
        fw_hash=str(manifest.get("fw_hash", "unknown")),
        profile_name=profile_name(profile),
        profile_ident=f"{own_ident:08x}",
        manifest_profile_ident=m_ident,
        log_sha256=data.sha256,
        log_bytes=len(data.raw),
        blocks=len(data.blocks),
        source=str(manifest.get("source", "unknown")),
        log_name=log_name,
        generated=fmt_utc(time.time() if generated_utc is None else generated_utc),
        podctl_version=__version__,
        span_start=fmt_utc(span_start),
        span_end=fmt_utc(span_end),
        span_seconds=span_end - span_start,
        clock=clock,
        verdict=verdict_text,
        checks=checks,
        problems=[str(f) for f in verdict.failures],
        bands=bands,
        phases=phases,
        mission=mission,
        excursions=excursions,
        events=events,
        alarms=alarms,
        gaps=gaps,
        coverage=coverage,
        notes=notes,
        utc=utc,
        boot=s["boot"].astype(int),
        t=s["t"].astype(float),
        estimate=est,
        probes=probes,
        phase=phase,
        dt=dt,
        battery=s["battery"].astype(float),
        battery_low_v=profile.header[pf.H_BATTERY_LOW] / 1000,
    )


# ---------------------------------------------------------------- plots

_C_EST = "#1f4e79"
_C_BAND = "#2e7d32"
_C_EXC = "#c62828"
_C_ABS = "#b71c1c"
_C_ALARM = "#e65100"


def _dates(utc: np.ndarray) -> np.ndarray:
    return (np.asarray(utc, dtype=float) * 1e6).astype("datetime64[us]")


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=True))
    ax.set_xlabel("UTC")
    ax.grid(True, color="#dddddd", linewidth=0.6)


def _line_with_breaks(ax: Any, x: np.ndarray, y: np.ndarray, breaks: np.ndarray, **kw: Any) -> None:
    """Plot y over x, not joining across data gaps."""
    y = y.astype(float).copy()
    cut = np.flatnonzero(breaks[:-1]) + 1 if len(breaks) > 1 else np.zeros(0, int)
    xs = np.split(x, cut)
    ys = np.split(y, cut)
    first = True
    for xx, yy in zip(xs, ys):
        if len(xx):
            ax.plot(xx, yy, label=kw.pop("label", None) if first else None, **kw)
            first = False


def plot_phase(rep: Report, ps: PhaseStats, path: Path) -> Path | None:
    from matplotlib.figure import Figure

    sel = (rep.phase == ps.band.index) & ~np.isnan(rep.utc)
    if not sel.any():
        return None
    b = ps.band
    idx = np.flatnonzero(sel)
    x = _dates(rep.utc[idx])
    fig = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    ax = fig.subplots()
    ax.axhspan(b.low, b.high, color=_C_BAND, alpha=0.12, lw=0, label=f"band {b.low:g} to {b.high:g} degC")
    ax.axhline(b.setpoint, color=_C_BAND, lw=0.8, ls=":", label=f"setpoint {b.setpoint:g} degC")
    # a break where the records are not contiguous (gap, reset, another phase between)
    brk = np.ones(len(idx), dtype=bool)
    brk[:-1] = (np.diff(idx) != 1) | np.asarray([rep.boot[i] != rep.boot[i + 1] for i in idx[:-1]])
    gaps = np.ones(len(idx), dtype=bool)
    gaps[:-1] = brk[:-1] | (rep.dt[idx[:-1]] < (rep.t[idx[1:]] - rep.t[idx[:-1]]))
    for p in range(NPROBES):
        col = rep.probes[idx, p]
        if np.isnan(col).all():
            continue
        _line_with_breaks(ax, x, col, gaps, color="#999999", lw=0.5, alpha=0.6,
                          label="probes (trusted)" if p == 0 or np.isnan(rep.probes[idx, 0]).all() and p == 1 else None)
    _line_with_breaks(ax, x, rep.estimate[idx], gaps, color=_C_EST, lw=1.4, label="payload estimate")
    # silences: no record with UTC between two plotted records
    tt = rep.utc[idx]
    silent = np.flatnonzero(gaps[:-1] & ((tt[1:] - tt[:-1]) > 1.5 * rep.dt[idx[:-1]]))
    for k in silent:
        ax.axvspan(_dates(tt[k : k + 1] + rep.dt[idx[k]])[0], x[k + 1], color="#9e9e9e", alpha=0.25, lw=0,
                   label="no record with UTC" if k == silent[0] else None)
    for e in rep.events:
        if e.code == log.EV_BOOT and not math.isnan(e.utc) and tt[0] <= e.utc <= tt[-1] + rep.dt[idx[-1]]:
            ax.axvline(_dates(np.array([e.utc]))[0], color="#6a1b9a", lw=0.9, ls="-.", label="board restart")
    for xc in ps.excursions:
        if math.isnan(xc.start_utc):
            continue
        ax.axvspan(_dates(np.array([xc.start_utc]))[0], _dates(np.array([xc.end_utc]))[0],
                   color=_C_EXC, alpha=0.18, lw=0)
        mask = (rep.utc[idx] >= xc.start_utc) & (rep.utc[idx] < xc.end_utc)
        ax.plot(x[mask], rep.estimate[idx][mask], color=_C_EXC, lw=1.8)
    if ps.excursions:
        ax.plot([], [], color=_C_EXC, lw=1.8, label="excursion")
    for a in rep.alarms:
        if a.phase.split(" ")[0] == str(b.index) and not math.isnan(a.utc):
            ax.axvline(_dates(np.array([a.utc]))[0], color=_C_ALARM, lw=0.9, ls="--")
            ax.annotate(a.what.replace(" raised", ""), (_dates(np.array([a.utc]))[0], 1), xycoords=("data", "axes fraction"),
                        rotation=90, va="top", ha="right", fontsize=7, color=_C_ALARM)
    data_lo = float(np.nanmin(rep.estimate[idx])) if not np.isnan(rep.estimate[idx]).all() else b.low
    data_hi = float(np.nanmax(rep.estimate[idx])) if not np.isnan(rep.estimate[idx]).all() else b.high
    lo, hi = min(b.low, data_lo), max(b.high, data_hi)
    pad = 0.12 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    for v, lab in ((b.abs_low, "absolute low"), (b.abs_high, "absolute high")):
        if lo - pad <= v <= hi + pad:
            ax.axhline(v, color=_C_ABS, lw=0.8, ls="--", label=lab)
            lo, hi = min(lo, v - pad / 2), max(hi, v + pad / 2)
    ax.set_ylim(lo, hi)
    ax.set_ylabel("degC")
    ax.set_title(f"phase {b.index} {b.name}: {ps.start} to {ps.end}", fontsize=10, loc="left")
    _time_axis(ax)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    fig.savefig(path)
    return path


def plot_overview(rep: Report, path: Path) -> Path | None:
    from matplotlib.figure import Figure

    known = ~np.isnan(rep.utc)
    if not known.any():
        return None
    idx = np.flatnonzero(known)
    x = _dates(rep.utc[idx])
    fig = Figure(figsize=(9, 5.2), dpi=110, layout="constrained")
    ax, axb = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    # the band of each phase, over the span its records cover
    brk = np.ones(len(idx), dtype=bool)
    brk[:-1] = (np.diff(idx) != 1) | (rep.phase[idx[:-1]] != rep.phase[idx[1:]]) | (rep.boot[idx[:-1]] != rep.boot[idx[1:]])
    start = 0
    labelled = False
    for k in np.flatnonzero(brk).tolist():
        p = rep.phase[idx[start]]
        if 0 <= p < len(rep.bands):
            b = rep.bands[p]
            x0 = x[start]
            x1 = _dates(np.array([rep.utc[idx[k]] + rep.dt[idx[k]]]))[0]
            ax.fill_between([x0, x1], b.low, b.high, color=_C_BAND, alpha=0.12, lw=0,
                            label=None if labelled else "band of the phase")
            labelled = True
        start = k + 1
    gaps = np.ones(len(idx), dtype=bool)
    gaps[:-1] = (np.diff(idx) != 1) | (rep.boot[idx[:-1]] != rep.boot[idx[1:]]) | \
        (rep.dt[idx[:-1]] < (rep.t[idx[1:]] - rep.t[idx[:-1]]))
    _line_with_breaks(ax, x, rep.estimate[idx], gaps, color=_C_EST, lw=1.0, label="payload estimate")
    for xc in rep.excursions:
        if not math.isnan(xc.start_utc):
            ax.axvspan(_dates(np.array([xc.start_utc]))[0], _dates(np.array([xc.end_utc]))[0],
                       color=_C_EXC, alpha=0.25, lw=0)
    if rep.excursions:
        ax.fill_between([], [], [], color=_C_EXC, alpha=0.25, label="excursion")
    # phase boundaries; each phase named once, centred on its span, on the
    # next row down when it would collide with the label before it
    t0, t1 = float(np.nanmin(rep.utc)), float(np.nanmax(rep.utc + rep.dt))
    width = max(t1 - t0, 1.0)
    last_x = [-1.0, -1.0, -1.0]
    for ps in rep.phases:
        if math.isnan(ps.start_utc):
            continue
        ax.axvline(_dates(np.array([ps.start_utc]))[0], color="#555555", lw=0.6, ls=":")
        end = ps.end_utc if not math.isnan(ps.end_utc) else ps.start_utc
        mid = (max(ps.start_utc, t0) + min(end, t1)) / 2
        frac = (mid - t0) / width
        row = next((k for k in range(3) if frac - last_x[k] > 0.09), 2)
        last_x[row] = frac
        ax.annotate(ps.band.name, (_dates(np.array([mid]))[0], 0.985 - 0.055 * row),
                    xycoords=("data", "axes fraction"), va="top", ha="center", fontsize=7, color="#333333",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    for a in rep.alarms:
        if not math.isnan(a.utc):
            xa = _dates(np.array([a.utc]))[0]
            ax.axvline(xa, color=_C_ALARM, lw=0.9, ls="--")
            axb.axvline(xa, color=_C_ALARM, lw=0.9, ls="--")
            ax.annotate(a.what.replace(" raised", ""), (xa, 0.02), xycoords=("data", "axes fraction"),
                        rotation=90, va="bottom", ha="right", fontsize=7, color=_C_ALARM)
    ax.plot([], [], color=_C_ALARM, lw=0.9, ls="--", label="alarm raised")
    for e in rep.events:
        if e.category == "reset" and not math.isnan(e.utc) and e.boot != rep.boot[0]:
            ax.axvline(_dates(np.array([e.utc]))[0], color="#6a1b9a", lw=0.9, ls="-.")
    if any(e.category == "reset" for e in rep.events[1:]):
        ax.plot([], [], color="#6a1b9a", lw=0.9, ls="-.", label="board restart")
    xe = _dates(np.array([t1]))[0]
    ax.axvline(xe, color="#212121", lw=1.0)
    ax.annotate("log ends", (xe, 0.3), xycoords=("data", "axes fraction"), rotation=90, va="center", ha="right",
                fontsize=7, color="#212121")
    ax.set_ylabel("degC")
    ax.set_title(f"{rep.device_id}: payload temperature, {rep.span_start} to {rep.span_end}", fontsize=10, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    _line_with_breaks(axb, x, rep.battery[idx], gaps, color="#37474f", lw=1.0, label="battery")
    if rep.battery_low_v > 0:
        axb.axhline(rep.battery_low_v, color=_C_ALARM, lw=0.8, ls="--", label=f"low alarm {rep.battery_low_v:g} V")
    axb.set_ylabel("battery V")
    axb.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    _time_axis(axb)
    fig.savefig(path)
    return path


def make_plots(rep: Report, out_dir: Path, stem: str) -> dict[str, Path]:
    """The overview and one plot per phase, as PNG files in out_dir."""
    plots: dict[str, Path] = {}
    p = plot_overview(rep, out_dir / f"{stem}-overview.png")
    if p is not None:
        plots["overview"] = p
    for ps in rep.phases:
        safe = "".join(c if c.isalnum() else "_" for c in ps.band.name)
        p = plot_phase(rep, ps, out_dir / f"{stem}-phase{ps.band.index}-{safe}.png")
        if p is not None:
            plots[f"phase{ps.band.index}"] = p
    rep.plots = plots
    return plots


def _caption(key: str) -> str:
    if key == "overview":
        return ("The whole mission: payload estimate against each phase's band (green), excursions (red), "
                "alarms (orange), board restarts, and the battery.")
    return f"Phase {key[5:]}: payload estimate (blue), trusted probes (grey), band (green), excursions (red)."


def _plots_for(rep: Report, path: Path) -> dict[str, Path]:
    if not rep.plots or not all(p.exists() for p in rep.plots.values()):
        make_plots(rep, path.parent, path.stem)
    return rep.plots


# ---------------------------------------------------------------- HTML


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(utc=fmt_utc, dur=fmt_dur, c=fmt_c, pct=fmt_pct)
    return env


def render_html(rep: Report, path: Path) -> Path:
    """Write the report as one self-contained HTML file (plots inlined) and
    the plots as PNG files beside it."""
    plots = _plots_for(rep, path)
    inline = {k: base64.b64encode(p.read_bytes()).decode() for k, p in plots.items()}
    html = _env().get_template("report.html.j2").render(r=rep, plots=plots, inline=inline, caption=_caption)
    path.write_text(html, encoding="utf-8")
    return path


# ---------------------------------------------------------------- PDF


def _font_paths() -> tuple[Path, Path]:
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return ttf / "DejaVuSans.ttf", ttf / "DejaVuSans-Bold.ttf"


def render_pdf(rep: Report, path: Path) -> Path:
    """The same content as the HTML, as an A4 PDF (fpdf2; DejaVu Sans from
    matplotlib's own fonts, so no system font is needed)."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    plots = _plots_for(rep, path)
    regular, bold = _font_paths()

    class _Pdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("dv", size=7)
            self.set_text_color(90, 90, 90)
            self.cell(0, 5, f"{rep.device_id} - log SHA-256 {rep.log_sha256[:16]}... - integrity {rep.verdict} - "
                            f"page {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"QA report {rep.device_id}")
    pdf.set_creator(f"podctl {rep.podctl_version}")
    pdf.add_font("dv", "", str(regular))
    pdf.add_font("dv", "B", str(bold))
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(14, 14, 14)
    pdf.add_page()
    head = FontFace(emphasis="BOLD", fill_color=(232, 236, 240))

    def h1(text: str) -> None:
        pdf.set_font("dv", "B", 15)
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dv", size=8.5)

    def h2(text: str) -> None:
        if pdf.get_y() > pdf.h - 40:
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font("dv", "B", 11.5)
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dv", size=8.5)

    def para(text: str, h: float = 4.4) -> None:
        pdf.multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT", align="L")

    def table(rows: list[list[str]], widths: tuple[int, ...] | None = None, heading: bool = True) -> None:
        with pdf.table(col_widths=widths, headings_style=head, line_height=4.6, first_row_as_headings=heading,
                       text_align="LEFT", padding=0.8) as t:
            for r in rows:
                row = t.row()
                for c in r:
                    row.cell(c)
        pdf.ln(1.5)

    def boxed(text: str, colour: tuple[int, int, int]) -> None:
        pdf.set_fill_color(*colour)
        pdf.set_text_color(255, 255, 255)
        pdf.set_font("dv", "B", 12)
        pdf.multi_cell(0, 7, text, fill=True, new_x="LMARGIN", new_y="NEXT", padding=2, align="L")
        pdf.set_text_color(0, 0, 0)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_font("dv", size=8.5)

    h1("Payload container QA report")
    para(f"Generated {rep.generated} by podctl {rep.podctl_version} from {rep.log_name}")
    h2("Log and device")
    table([
        ["Device", rep.device_id],
        ["Firmware", f"{rep.fw_version} (bundle hash {rep.fw_hash})"],
        ["Profile", f"{rep.profile_name}, identity {rep.profile_ident}"
                    + (f" (manifest: {rep.manifest_profile_ident})" if rep.manifest_profile_ident else "")],
        ["Log SHA-256", rep.log_sha256],
        ["Log", f"{rep.log_bytes} bytes, {rep.blocks} blocks"],
        ["Time span (UTC)", f"{rep.span_start} to {rep.span_end} ({fmt_dur(rep.span_seconds)})"],
        ["Pulled from", rep.source],
        ["Clock", "\n".join(rep.clock) or "-"],
    ], (28, 152), heading=False)
    h2("Integrity")
    colour = {VERIFIED: (46, 125, 50), NOT_AUTHENTICATED: (230, 81, 0), FAILED: (183, 28, 28)}[rep.verdict]
    boxed({VERIFIED: "VERIFIED: intact and authenticated with the device key",
           NOT_AUTHENTICATED: "NOT AUTHENTICATED: no device key; MAC chain not checked",
           FAILED: f"FAILED: the log did not verify: {rep.failure}"}[rep.verdict],
          colour)
    for c in rep.checks:
        para(("[ok] " if c.ok and not c.warn else "[!!] " if c.warn else "[FAIL] ") + c.text)
    if rep.problems:
        pdf.set_font("dv", "B", 8.5)
        para("Problems (each names its block):")
        pdf.set_font("dv", size=8.5)
        for p in rep.problems[:30]:
            para("  - " + p)
        if len(rep.problems) > 30:
            para(f"  ... and {len(rep.problems) - 30} more")
    h2("Summary")
    m = rep.mission
    if rep.verdict != VERIFIED:
        boxed("The figures below come from a log that FAILED verification: they cover only what could be read "
              "and cannot support a release." if rep.verdict == FAILED else
              "The figures below come from a log whose authenticity was not checked (no device key).", colour)
    para(f"In band {fmt_pct(m.in_band_pct)} % of the recorded time ({fmt_dur(m.in_band_s)} in, "
         f"{fmt_dur(m.out_band_s)} out, {fmt_dur(m.no_reading_s)} without a reading); "
         f"{len(rep.excursions)} excursion(s), {sum(x.beyond_delay for x in rep.excursions)} longer than the "
         f"phase's excursion delay; {len(rep.alarms)} alarm(s) raised: "
         + (", ".join(a.what.replace(" raised", "") for a in rep.alarms) or "none")
         + f". Mission MKT {fmt_c(m.mkt)} degC.")
    for line in rep.coverage + rep.notes:
        para("- " + line)
    h2("Acceptance criteria (the handling profile)")
    table([["Phase", "Setpoint", "Band degC", "Absolute degC", "Excursion delay", "Interval", "Planned"]] + [
        [f"{b.index} {b.name}", f"{b.setpoint:g}", f"{b.low:g} to {b.high:g}", f"{b.abs_low:g} to {b.abs_high:g}",
         fmt_dur(b.event_s), f"{b.interval} s", fmt_dur(b.duration_s) if b.duration_s else "until command"]
        for b in rep.bands])
    h2("Per phase")
    rows = [["Phase", "Start / end (UTC)", "Duration", "Min", "Max", "Mean", "MKT", "In band", "Out of band"]]
    for ps in rep.phases + [rep.mission]:
        rows.append([
            f"{ps.band.index} {ps.band.name}" if ps.band.index >= 0 else ps.band.name,
            f"{ps.start}\n{ps.end}" if ps.band.index >= 0 else f"{rep.span_start}\n{rep.span_end}",
            fmt_dur(ps.seconds), fmt_c(ps.t_min), fmt_c(ps.t_max), fmt_c(ps.t_mean), fmt_c(ps.mkt),
            f"{fmt_pct(ps.in_band_pct)} %\n{fmt_dur(ps.in_band_s)}", f"{fmt_pct(ps.out_band_pct)} %\n{fmt_dur(ps.out_band_s)}",
        ])
    table(rows, (24, 36, 20, 12, 12, 12, 12, 26, 26))
    para("Temperatures in degC: the payload estimate, the mean of the probes the firmware trusted in each "
         "record. MKT per USP <1079> (dH = 83.144 kJ/mol, R = 8.3144598 J/(mol K)). Duration: time the board "
         "was on and recording in that phase.", 4)
    h2("Excursions (out of band, contiguous)")
    if rep.excursions:
        table([["Phase", "Start", "End", "Duration", "Side", "Peak degC", "Beyond delay"]] + [
            [f"{x.phase} {x.phase_name}", x.start, x.end + (" (data ends)" if x.open_end else ""),
             fmt_dur(x.seconds), x.side, fmt_c(x.peak), "YES" if x.beyond_delay else "no"] for x in rep.excursions])
    else:
        para("None: the estimate stayed inside every phase's band in every record.")
    for key, title, evs in rep.category_rows():
        h2(title)
        if evs:
            table([["When", "Phase", "Event", "Detail"]] + [[e.when, e.phase, e.what, e.detail] for e in evs],
                  (40, 26, 44, 70))
        else:
            para("None.")
    h2("Data gaps")
    if rep.gaps:
        table([["From", "To", "Length", "Why"]] + [[g.start, g.end, fmt_dur(g.seconds), g.why] for g in rep.gaps])
    else:
        para("None: records are contiguous from the first to the last.")
    pdf.add_page()
    h2("Plots")
    for key, png in plots.items():
        if pdf.get_y() > pdf.h - 110:
            pdf.add_page()
        pdf.image(str(png), w=pdf.epw)
        para(_caption(key) + f" Also saved as {png.name}.", 4)
        pdf.ln(2)
    pdf.add_page()
    h2("Sign-off")
    para("I have reviewed this report, its integrity verdict, and every excursion and alarm listed above.")
    pdf.ln(4)
    for label in ("Reviewed by (name, role)", "Date (UTC)", "Signature",
                  "Disposition (release / reject / investigate)"):
        pdf.cell(72, 14, label)
        pdf.cell(0, 14, "", border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    para(f"Log SHA-256 {rep.log_sha256}; integrity {rep.verdict}.")
    pdf.output(str(path))
    return path
