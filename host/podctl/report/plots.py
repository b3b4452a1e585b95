"""The report's plots (matplotlib, Agg, no display needed): the whole
mission, one per phase, the histograms, and one per boot nothing places in
UTC, as PNG files beside the report.

  make_plots(rep, out_dir, stem)   # {"overview": Path, "boot3": Path, ...}

Every record of the log is on some plot. Time is UTC; a boot whose clock
was never set is drawn at the middle of the UTC span the analysis bounds
it to, that span hatched (placed within +-half of it); a boot nothing
bounds has a figure of its own against its uptime. Lines are broken at
data gaps, so a silence never looks like a reading. What is not a reading
(a probe's excluded or silent spans, alarms, phase names) is drawn in a
strip panel under the temperature, never over a trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from podctl import fmt
from podctl.analysis import NPROBES, PhaseStats
from protocol import log

if TYPE_CHECKING:
    from podctl.report.contents import Report


_C_EST = "#1f4e79"
_C_BAND = "#2e7d32"
_C_EXC = "#c62828"
_C_ABS = "#b71c1c"
_C_ALARM = "#e65100"
_C_BOOT = "#6a1b9a"
# the probes: four colours apart from the estimate's blue and the band's green
_C_PROBES = ("#8e24aa", "#f9a825", "#6d4c41", "#00838f")


# the narrowest span the pressure axis shows: left to autoscale, a sealed
# container's +-0.5 hPa of sensor noise filled the panel and read as violent
# swings, hiding the humidity under it; a leak or a lid opening (tens of hPa)
# still fills it
PRESSURE_SPAN_HPA = 20.0

# a histogram of a phase shorter than this counts minutes: in hours a 10 min
# ascent read 0.12
HIST_MINUTES_BELOW_S = 2 * 3600

# the strip panel's rows, top down: phase names, alarms, then a row a probe
_ROW_PHASE = NPROBES + 1.7
_ROW_ALARM = NPROBES + 0.6


def _probe_row(p: int) -> int:
    return NPROBES - 1 - p


# the PNGs say which program drew them and nothing that changes between
# two runs, so the same log gives the same bytes
PNG_METADATA = {"Software": "podctl report (matplotlib Agg)"}


def _dates(utc: np.ndarray) -> np.ndarray:
    return (np.asarray(utc, dtype=float) * 1e6).astype("datetime64[us]")


@dataclass
class _Frame:
    """Where the records of one figure go on its time axis: UTC (clocked
    records and the unclocked boots the analysis bounds on both sides,
    placed at the middle of their span) or one boot's uptime in hours."""

    idx: np.ndarray  # the records drawn, in log order
    x: np.ndarray  # their place on the axis (datetime64, or hours of uptime)
    placed: dict[int, float]  # boot -> UTC of its uptime 0 as drawn (UTC frame)
    boot: int | None = None  # the boot of an uptime frame
    sec: np.ndarray = field(default_factory=lambda: np.zeros(0))  # UTC s, or uptime s
    last_dt: float = 0.0  # the last record's interval, s

    def seconds(self, boot: int, t: float, utc: float) -> float | None:
        """Uptime t of a boot (UTC utc if known) in the frame's seconds
        (UTC, or the boot's uptime), or None when it is not on its axis."""
        if self.boot is not None:
            return float(t) if boot == self.boot else None
        if not math.isnan(utc):
            return float(utc)
        if boot in self.placed:
            return self.placed[boot] + float(t)
        return None

    def at(self, boot: int, t: float, utc: float) -> Any:
        """The axis position of uptime t of a boot, or None."""
        s = self.seconds(boot, t, utc)
        if s is None:
            return None
        return s / 3600 if self.boot is not None else _dates(np.array([s]))[0]

    def within(self, boot: int, t: float, utc: float) -> Any:
        """As at(), but None outside the span this figure's records cover
        (the first record's start to the last one's end)."""
        s = self.seconds(boot, t, utc)
        if s is None or not len(self.sec) or not self.sec[0] <= s <= self.sec[-1] + self.last_dt:
            return None
        return self.at(boot, t, utc)

    def num(self, v: Any) -> float:
        """An axis position as a plain number (date number or hours)."""
        import matplotlib.dates as mdates

        return float(v) if self.boot is not None else float(mdates.date2num(v))


def _placed(rep: Report) -> dict[int, float]:
    """The unclocked boots that both bounds place: boot -> the middle of
    where its uptime 0 can lie. A boot without records is placed too: its
    restart and alarms (a shock in a reset's boot) are drawn there."""
    return {u.boot: (u.earliest_utc + u.latest_utc) / 2 for u in rep.analysis.unclocked
            if not (math.isnan(u.earliest_utc) or math.isnan(u.latest_utc))}


def utc_frame(rep: Report) -> _Frame:
    placed = _placed(rep)
    pos = np.asarray(rep.utc, dtype=float).copy()
    for b, mid in placed.items():
        m = np.isnan(pos) & (rep.boot == b)
        pos[m] = mid + rep.t[m]
    idx = np.flatnonzero(~np.isnan(pos))
    return _Frame(idx, _dates(pos[idx]), placed, None, pos[idx], _last_dt(rep, idx))


def unplaced_boots(rep: Report) -> list[int]:
    """The boots with records that no UTC plot can hold: no clock, and
    nothing bounds them on both sides."""
    placed = _placed(rep)
    return [u.boot for u in rep.analysis.unclocked if u.records and u.boot not in placed
            and (rep.boot == u.boot).any()]


def uptime_frame(rep: Report, boot: int) -> _Frame:
    idx = np.flatnonzero(rep.boot == boot)
    t = rep.t[idx].astype(float)
    return _Frame(idx, t / 3600, {}, boot, t, _last_dt(rep, idx))


def _last_dt(rep: Report, idx: np.ndarray) -> float:
    return float(rep.dt[idx[-1]]) if len(idx) else 0.0


def _time_axis(ax: Any, fr: _Frame) -> None:
    if fr.boot is not None:
        ax.set_xlabel(f"hours since boot {fr.boot} started (its clock was never set: no UTC)")
    else:
        import matplotlib.dates as mdates

        loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=True))
        ax.set_xlabel("UTC")
    ax.grid(True, color="#dddddd", linewidth=0.6)


def _breaks(rep: Report, idx: np.ndarray) -> np.ndarray:
    """True after each record a line must not join to the next: another
    record between (gap, other phase, unplaced boot), a restart, or a
    silence longer than the record's own interval."""
    gaps = np.ones(len(idx), dtype=bool)
    gaps[:-1] = (np.diff(idx) != 1) | (rep.boot[idx[:-1]] != rep.boot[idx[1:]]) | \
        (rep.dt[idx[:-1]] < (rep.t[idx[1:]] - rep.t[idx[:-1]]))
    return gaps


def _line_with_breaks(
    ax: Any, x: np.ndarray, y: np.ndarray, breaks: np.ndarray, **kw: Any
) -> None:
    """Plot y over x, not joining across data gaps."""
    y = y.astype(float).copy()
    cut = np.flatnonzero(breaks[:-1]) + 1 if len(breaks) > 1 else np.zeros(0, int)
    xs = np.split(x, cut)
    ys = np.split(y, cut)
    first = True
    for xx, yy in zip(xs, ys):
        if len(xx):
            keep = _thin(yy)
            ax.plot(xx[keep], yy[keep], label=kw.pop("label", None) if first else None, **kw)
            first = False


def _thin(y: np.ndarray, buckets: int = 2000) -> np.ndarray:
    """The indices of y worth drawing: in each of `buckets` runs of points
    the lowest and the highest, the ends, and both sides of every break
    (NaN). A figure is about a thousand pixels wide, so the line looks the
    same and keeps every extreme, and a 90-day log draws in a fraction of
    the time its 130,000 points take."""
    n = len(y)
    if n <= 2 * buckets:
        return np.arange(n)
    bucket = (np.arange(n) * buckets) // n
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    nan = np.isnan(y)
    lowest = np.lexsort((np.where(nan, np.inf, y), bucket))[starts]
    highest = np.lexsort((-np.where(nan, -np.inf, y), bucket))[starts]
    edges = np.flatnonzero(np.diff(nan.astype(np.int8)))
    return np.unique(np.concatenate([[0, n - 1], lowest, highest, edges, edges + 1]))


def _probes(ax: Any, rep: Report, fr: _Frame, gaps: np.ndarray) -> None:
    """Every probe channel in a colour of its own: solid while the firmware
    trusted it, dashed while it read but was excluded, so an excluded probe
    is seen apart, never dropped; an x where a probe's trusted trace stops
    for good, saying when and why."""
    if not len(rep.raw_probes):
        return
    idx, x = fr.idx, fr.x
    for p in range(NPROBES):
        raw = rep.raw_probes[idx, p]
        if np.isnan(raw).all():
            continue
        out = rep.excluded[idx, p]
        trusted = np.where(out, np.nan, raw)
        _line_with_breaks(ax, x, trusted, gaps, color=_C_PROBES[p], lw=0.6, alpha=0.8,
                          label=f"probe {p} (trusted)" if (~np.isnan(trusted)).any() else None)
        if out.any():
            _line_with_breaks(ax, x, np.where(out, raw, np.nan), gaps, color=_C_PROBES[p],
                              lw=1.0, ls=(0, (4, 2)), label=f"probe {p} excluded (as read)")
        lost = _lost_at(rep, fr, p)
        if lost is not None:
            k, text = lost
            ax.plot([x[k]], [trusted[k]], ls="none", marker="x", ms=9, mew=2.0,
                    color=_C_PROBES[p], label=text)


def _lost_at(rep: Report, fr: _Frame, p: int) -> tuple[int, str] | None:
    """Where probe p's trusted trace stops for good within the frame (its
    last trusted record, when a record after it has none) and why, in
    words: (position in fr.idx, legend text), or None."""
    trusted = ~np.isnan(rep.probes[fr.idx, p])
    if not trusted.any() or trusted[-1]:
        return None
    k = int(np.flatnonzero(trusted)[-1])
    i = int(fr.idx[k])
    stop = rep.t[i] + rep.dt[i]  # the next tick: the first it was not trusted
    utc = rep.utc[i] + rep.dt[i]
    when = fmt.utc(utc) if not math.isnan(utc) else f"boot {rep.boot[i]} +{fmt.dur(stop)}"
    why = "no longer trusted"
    for e in rep.events:  # the fault the firmware narrated at (or just before) it
        if e.category == "probe" and e.a == p and "fault" in e.what and e.boot == rep.boot[i] \
                and e.t <= stop + rep.dt[i]:
            why = e.what.split(": ", 1)[-1]
            # the event's own moment, as the Probe faults table and page 1
            # give it (the records only show the next tick's)
            when = e.when
    return k, f"probe {p} lost {when}: {why}"


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(first, after) of each run of equal values."""
    cut = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.r_[0, cut].astype(int)
    ends = np.r_[cut, len(values)].astype(int)
    return list(zip(starts.tolist(), ends.tolist()))


def _bars(ax: Any, fr: _Frame, step: np.ndarray, on: np.ndarray, row: int, **kw: Any) -> None:
    """Bars on a strip row where `on` holds: one a run of records, from
    its first to the end of its last record's interval (step: each
    record's interval in axis units)."""
    edge = np.diff(np.r_[0, on.astype(np.int8), 0])
    first, after = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    if not len(first):
        return
    t = _nums(fr)
    end = t[after - 1] + step[after - 1]
    ax.broken_barh(list(zip(t[first].tolist(), (end - t[first]).tolist())), (row - 0.3, 0.6),
                   **kw)


def _nums(fr: _Frame) -> np.ndarray:
    """The frame's positions as plain numbers (date numbers or hours)."""
    if fr.boot is not None:
        return np.asarray(fr.x, dtype=float)
    import matplotlib.dates as mdates

    return np.asarray(mdates.date2num(fr.x), dtype=float)


def _stagger(texts: list[tuple[float, str]], lo: float, hi: float) -> list[tuple[float, str, int]]:
    """Labels placed along a row: the next one a half row lower when it
    would run into the one before it (closer than 9 % of the width)."""
    out: list[tuple[float, str, int]] = []
    width = max(hi - lo, 1e-9)
    last = [-1.0, -1.0]
    for pos, text in texts:
        frac = (pos - lo) / width
        level = 0 if frac - last[0] > 0.09 else (1 if frac - last[1] > 0.09 else 0)
        last[level] = frac
        out.append((pos, text, level))
    return out


def _strip(ax: Any, rep: Report, fr: _Frame, phases: bool) -> None:
    """The strip panel under the temperature: the phase names, the alarms
    (named where they were raised) and a row a probe: a bar in its colour
    where it read but was excluded, a grey hatched bar where it gave no
    reading, an x where it was lost for good."""
    t = _nums(fr)
    step = rep.dt[fr.idx] / (3600.0 if fr.boot is not None else 86400.0)
    lo, hi = (float(t[0]), float(t[-1])) if len(t) else (0.0, 1.0)
    if phases:
        names = []
        for a, b in _runs(rep.phase[fr.idx]):
            p = int(rep.phase[fr.idx[a]])
            if 0 <= p < len(rep.bands):
                names.append(((t[a] + t[b - 1]) / 2, rep.bands[p].name))
        for pos, text, level in _stagger(names, lo, hi):
            ax.text(pos, _ROW_PHASE + 0.2 - 0.45 * level, text, ha="center", va="center",
                    fontsize=7, color="#333333", clip_on=True)
    alarms = []
    for al in rep.alarms:
        xa = fr.within(al.boot, al.t, al.utc)
        if xa is not None:
            alarms.append((fr.num(xa), al.what.replace(" raised", "")))
    for pos, text, level in _stagger(sorted(alarms), lo, hi):
        # named on the side with room: to the left near the right edge
        right = (pos - lo) > 0.8 * (hi - lo)
        ax.text(pos, _ROW_ALARM + 0.2 - 0.45 * level, f"{text} " if right else f" {text}",
                ha="right" if right else "left", va="center", fontsize=7, color=_C_ALARM,
                clip_on=True)
        ax.plot([pos], [_ROW_ALARM], ls="none", marker="v", ms=5, color=_C_ALARM)
    rows: dict[float, str] = {_ROW_ALARM: "alarms"}
    if phases:
        rows[_ROW_PHASE] = "phase"
    if len(rep.raw_probes):
        for p in range(NPROBES):
            raw = rep.raw_probes[fr.idx, p]
            if np.isnan(rep.raw_probes[:, p]).all():
                continue  # never fitted or never read: no row (a probe silent only here keeps it)
            rows[_probe_row(p)] = f"probe {p}"
            _bars(ax, fr, step, rep.excluded[fr.idx, p], _probe_row(p),
                  color=_C_PROBES[p], lw=0, label=f"probe {p} excluded (read, not trusted)")
            _bars(ax, fr, step, np.isnan(raw), _probe_row(p), facecolor="none",
                  edgecolor="#757575", hatch="xxxx", lw=0, label=f"probe {p} no reading")
            lost = _lost_at(rep, fr, p)
            if lost is not None:
                ax.plot([t[lost[0]]], [_probe_row(p)], ls="none", marker="x", ms=8, mew=2.0,
                        color=_C_PROBES[p])
    ax.set_yticks(sorted(rows), [rows[k] for k in sorted(rows)], fontsize=7)
    ax.set_ylim(-0.6, max(rows) + 0.6)
    ax.grid(True, axis="x", color="#dddddd", linewidth=0.6)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def _floor_span(ax: Any, y: np.ndarray, span: float) -> None:
    """Show at least `span` on ax's y axis, centred on y's readings, so
    noise smaller than a reviewer would care about stays small."""
    y = np.asarray(y, dtype=float)
    if np.isnan(y).all():
        return
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    if hi - lo < span:
        mid = (lo + hi) / 2
        ax.set_ylim(mid - span / 2, mid + span / 2)


def _unclocked(ax: Any, rep: Report, t0: float, t1: float) -> None:
    """A boot whose clock was never set has no UTC of its own; the span it
    must lie in (the analysis's bounds from the clocked records, events and
    the pull around it) is hatched, and its records are drawn at the middle
    of it, so its time is shown within its bounds, never at a guessed place
    without them."""
    for u in rep.analysis.unclocked:
        lo, hi = u.earliest_utc, u.latest_utc + u.reach_s
        if math.isnan(lo) or math.isnan(hi) or hi < t0 or lo > t1:
            continue
        ax.axvspan(_dates(np.array([max(lo, t0)]))[0], _dates(np.array([min(hi, t1)]))[0],
                   facecolor="none", edgecolor=_C_BOOT, hatch="////", lw=0.0, alpha=0.6,
                   label=f"boot {u.boot}, no UTC: its {fmt.dur(u.seconds)} lie in here"
                   + f"; {'drawn' if u.records else 'its restart and alarms drawn'} at the "
                   f"middle, +-{fmt.dur((u.latest_utc - u.earliest_utc) / 2)}")


def _marks(axes: list[Any], rep: Report, fr: _Frame) -> None:
    """On every panel: a line where each alarm was raised and where the
    board restarted (the alarms are named in the strip)."""
    first = int(rep.boot[0]) if len(rep.boot) else -1
    alarms = [fr.within(a.boot, a.t, a.utc) for a in rep.alarms]
    restarts = [fr.within(e.boot, e.t, e.utc) for e in rep.events
                if e.code == log.EV_BOOT and e.boot != first]
    for ax in axes:
        for xa in alarms:
            if xa is not None:
                ax.axvline(xa, color=_C_ALARM, lw=0.9, ls="--")
        for xr in restarts:
            if xr is not None:
                ax.axvline(xr, color=_C_BOOT, lw=0.9, ls="-.")
    if any(v is not None for v in alarms):
        axes[0].plot([], [], color=_C_ALARM, lw=0.9, ls="--", label="alarm raised (named below)")
    if any(v is not None for v in restarts):
        axes[0].plot([], [], color=_C_BOOT, lw=0.9, ls="-.", label="board restart")


def _excursions(ax: Any, rep: Report, fr: _Frame, excursions: list[Any]) -> None:
    shown = False
    for xc in excursions:
        a = fr.at(xc.start.boot, xc.start.t, xc.start.utc)
        b = fr.at(xc.end.boot, xc.end.t, xc.end.utc)
        if a is None or b is None:
            continue
        ax.axvspan(a, b, color=_C_EXC, alpha=0.2, lw=0,
                   label=None if shown else "excursion (estimate out of band)")
        shown = True


def _limits(ax: Any, b: Any, readings: np.ndarray) -> None:
    """A phase's every threshold, labelled: its band, setpoint and both
    absolute limits; the scale holds all of them and every reading."""
    ax.axhspan(b.low, b.high, color=_C_BAND, alpha=0.12, lw=0,
               label=f"band {b.low:g} to {b.high:g} degC")
    ax.axhline(b.setpoint, color=_C_BAND, lw=0.8, ls=":", label=f"setpoint {b.setpoint:g} degC")
    ax.axhline(b.abs_high, color=_C_ABS, lw=0.8, ls="--",
               label=f"absolute high {b.abs_high:g} degC")
    ax.axhline(b.abs_low, color=_C_ABS, lw=0.8, ls=(0, (1, 1.5)),
               label=f"absolute low {b.abs_low:g} degC")
    seen = readings[~np.isnan(readings)]
    lo = min([b.abs_low, b.low] + ([float(seen.min())] if len(seen) else []))
    hi = max([b.abs_high, b.high] + ([float(seen.max())] if len(seen) else []))
    pad = 0.06 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)


def _readings(rep: Report, idx: np.ndarray) -> np.ndarray:
    """Every temperature read at these records, an excluded probe's too:
    it is drawn, not dropped, so it sets the scale."""
    if not len(rep.raw_probes):
        return np.asarray(rep.estimate[idx], dtype=float)
    return np.concatenate([rep.estimate[idx], rep.raw_probes[idx].ravel()]).astype(float)


def _legend(ax: Any, dx: float = 1.01) -> None:
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(dx, 1), borderaxespad=0)


def plot_phase(rep: Report, ps: PhaseStats, path: Path) -> Path | None:
    """One phase on the UTC axis (an unplaced boot's part of it is on that
    boot's own plot), against all its thresholds."""
    from matplotlib.figure import Figure

    fr = utc_frame(rep)
    sel = rep.phase[fr.idx] == ps.band.index
    if not sel.any():
        return None
    fr = _Frame(fr.idx[sel], fr.x[sel], fr.placed, None, fr.sec[sel],
                _last_dt(rep, fr.idx[sel]))
    b = ps.band
    fig = Figure(figsize=(9, 4.6), dpi=110, layout="constrained")
    ax, axs = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    gaps = _breaks(rep, fr.idx)
    _probes(ax, rep, fr, gaps)
    _line_with_breaks(ax, fr.x, rep.estimate[fr.idx], gaps, color=_C_EST, lw=1.6,
                      label="payload estimate")
    # silences: no record with UTC between two plotted records
    tt, dt = fr.sec, rep.dt[fr.idx]
    silent = np.flatnonzero(gaps[:-1] & ((tt[1:] - tt[:-1]) > 1.5 * dt[:-1]))
    for k in silent:
        ax.axvspan(_dates(tt[k : k + 1] + dt[k])[0], fr.x[k + 1], color="#9e9e9e",
                   alpha=0.25, lw=0, label="no record with UTC" if k == silent[0] else None)
    _unclocked(ax, rep, float(tt[0]), float(tt[-1] + dt[-1]))
    _excursions(ax, rep, fr, ps.excursions)
    _marks([ax, axs], rep, fr)
    _limits(ax, b, _readings(rep, fr.idx))
    ax.set_ylabel("degC")
    ax.set_title(f"phase {b.index} {b.name}: {ps.start} to {ps.end}", fontsize=10, loc="left")
    ax.grid(True, color="#dddddd", linewidth=0.6)
    _legend(ax)
    _strip(axs, rep, fr, phases=False)
    _time_axis(axs, fr)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def _panels(rep: Report, fr: _Frame, path: Path, title: str) -> Path:
    """The temperature, the strip, the battery, the outputs and the air,
    over one time axis."""
    from matplotlib.figure import Figure

    idx, x = fr.idx, fr.x
    fig = Figure(figsize=(9, 8.6), dpi=110, layout="constrained")
    ax, axs, axb, axa, axe = fig.subplots(5, 1, sharex=True, height_ratios=(3, 1.4, 1, 1, 1))
    gaps = _breaks(rep, idx)
    # the band of each phase, over the span its records cover
    t = _nums(fr)
    step = rep.dt[idx] / (3600.0 if fr.boot is not None else 86400.0)
    labelled = False
    changed = False
    for a, b in _runs(_run_ids(rep, idx, gaps)):
        p = int(rep.phase[idx[a]])
        if 0 <= p < len(rep.bands):
            band = rep.bands[p]
            ax.fill_between([t[a], t[b - 1] + step[b - 1]], band.low, band.high, color=_C_BAND,
                            alpha=0.12, lw=0, label=None if labelled else "band of the phase")
            labelled = True
        if a and rep.phase[idx[a]] != rep.phase[idx[a - 1]]:
            ax.axvline(t[a], color="#555555", lw=0.6, ls=":",
                       label=None if changed else "phase change")
            changed = True
    _probes(ax, rep, fr, gaps)
    _line_with_breaks(ax, x, rep.estimate[idx], gaps, color=_C_EST, lw=1.2,
                      label="payload estimate")
    _excursions(ax, rep, fr, rep.excursions)
    _marks([ax, axs, axb, axa, axe], rep, fr)
    if fr.boot is None:
        _unclocked(ax, rep, float(fr.sec[0]), float(fr.sec[-1] + rep.dt[idx[-1]]))
    end = t[-1] + step[-1]
    for other in (ax, axs, axb, axa, axe):
        other.axvline(end, color="#212121", lw=1.0)
    ax.plot([], [], color="#212121", lw=1.0, label="log ends (its last record)")
    ax.set_ylabel("degC")
    ax.set_title(title, fontsize=10, loc="left")
    _legend(ax)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    _strip(axs, rep, fr, phases=True)
    _line_with_breaks(axb, x, rep.battery[idx], gaps, color="#37474f", lw=1.0, label="battery")
    if rep.battery_low_v > 0:
        axb.axhline(rep.battery_low_v, color=_C_ALARM, lw=0.8, ls="--",
                    label=f"low alarm {rep.battery_low_v:g} V")
    axb.set_ylabel("battery V")
    _legend(axb)
    axb.grid(True, color="#dddddd", linewidth=0.6)
    # the rest of the log's channels: what the controller drove, and the air
    ch = rep.channels
    for name, color, label in (("heater", "#c62828", "heater duty %"),
                               ("peltier", "#1565c0", "Peltier duty % (+ cools)")):
        if name in ch:
            _line_with_breaks(axa, x, ch[name][idx], gaps, color=color, lw=0.8, label=label)
    axa.set_ylabel("duty %")
    _legend(axa)
    axa.grid(True, color="#dddddd", linewidth=0.6)
    if "humidity" in ch:
        _line_with_breaks(axe, x, ch["humidity"][idx], gaps, color="#00695c", lw=0.8,
                          label="humidity %RH")
    axe.set_ylabel("%RH")
    if "pressure" in ch:
        axp = axe.twinx()
        _line_with_breaks(axp, x, ch["pressure"][idx], gaps, color="#6d4c41", lw=0.5, alpha=0.6,
                          label="pressure hPa (right)")
        axp.set_ylabel("hPa")
        _floor_span(axp, ch["pressure"][idx], PRESSURE_SPAN_HPA)
        axe.plot([], [], color="#6d4c41", lw=0.8, label="pressure hPa (right)")
    _legend(axe, 1.08)
    _time_axis(axe, fr)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def _run_ids(rep: Report, idx: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """A number a stretch of one phase without a break, for _runs."""
    change = np.ones(len(idx), dtype=bool)
    change[1:] = gaps[:-1] | (rep.phase[idx[1:]] != rep.phase[idx[:-1]])
    return np.cumsum(change)


def plot_overview(rep: Report, path: Path) -> Path | None:
    """The whole mission on the UTC axis: every clocked record and every
    unclocked boot the analysis bounds on both sides."""
    fr = utc_frame(rep)
    if not len(fr.idx):
        return None
    return _panels(rep, fr, path, f"{rep.device_id}: payload temperature, "
                   f"{rep.span_start} to {rep.span_end}")


def plot_boot(rep: Report, boot: int, path: Path) -> Path | None:
    """A boot nothing places in UTC, against its own uptime: its records
    are on no UTC plot, so they are here, every channel."""
    fr = uptime_frame(rep, boot)
    if not len(fr.idx):
        return None
    u = next((u for u in rep.analysis.unclocked if u.boot == boot), None)
    after = "" if u is None or math.isnan(u.earliest_utc) else \
        f", started after {fmt.utc(u.earliest_utc)}"
    return _panels(rep, fr, path, f"{rep.device_id}: boot {boot}, clock never set{after}: "
                   "hours since it started")


def _bin_width(rep: Report) -> str:
    """The histograms' bin width(s) in degC, from the edges drawn."""
    widths = sorted({round(float(w), 6) for ps in rep.phases if ps.hist_s
                     for w in np.diff(np.asarray(ps.hist_edges, dtype=float))})
    return " or ".join(f"{w:g}" for w in widths) if widths else "?"


def plot_histograms(rep: Report, path: Path) -> Path | None:
    """Per phase, the time the estimate spent in each of the analysis's
    bins: in minutes for a phase under two hours, else hours."""
    from matplotlib.figure import Figure

    shown = [ps for ps in rep.phases if ps.hist_s]
    if not shown:
        return None
    cols = min(3, len(shown))
    rows = -(-len(shown) // cols)
    fig = Figure(figsize=(9, 2.3 * rows + 0.4), dpi=110, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, ps in zip(axes, shown):
        b = ps.band
        edges = np.asarray(ps.hist_edges, dtype=float)
        secs = np.asarray(ps.hist_s, dtype=float)
        unit, per = ("minutes", 60.0) if secs.sum() < HIST_MINUTES_BELOW_S else ("hours", 3600.0)
        ax.stairs(secs / per, edges, fill=True, color=_C_EST, alpha=0.85)
        ax.set_xlim(min(b.low, float(edges[0])) - 0.5, max(b.high, float(edges[-1])) + 0.5)
        ax.axvspan(b.low, b.high, color=_C_BAND, alpha=0.12, lw=0)
        for v in (b.low, b.high):
            ax.axvline(v, color=_C_BAND, lw=0.8)
        if not math.isnan(ps.mkt):
            ax.axvline(ps.mkt, color=_C_EXC, lw=0.9, ls="--")
        ax.set_title(f"{b.index} {b.name}: MKT {ps.mkt:.2f} degC", fontsize=8, loc="left")
        ax.set_xlabel("degC", fontsize=7)
        widths = np.unique(np.round(np.diff(edges), 6))
        ax.set_ylabel(f"{unit} per {'/'.join(f'{w:g}' for w in widths)} degC bin", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def make_plots(rep: Report, out_dir: Path, stem: str) -> dict[str, Path]:
    """The overview, a plot a boot no UTC plot holds, the histograms and
    one plot per phase, as PNG files in out_dir."""
    plots: dict[str, Path] = {}
    p = plot_overview(rep, out_dir / f"{stem}-overview.png")
    if p is not None:
        plots["overview"] = p
    for boot in unplaced_boots(rep):
        p = plot_boot(rep, boot, out_dir / f"{stem}-boot{boot}.png")
        if p is not None:
            plots[f"boot{boot}"] = p
    p = plot_histograms(rep, out_dir / f"{stem}-histogram.png")
    if p is not None:
        plots["histogram"] = p
    for ps in rep.phases:
        safe = "".join(c if c.isalnum() else "_" for c in ps.band.name)
        p = plot_phase(rep, ps, out_dir / f"{stem}-phase{ps.band.index}-{safe}.png")
        if p is not None:
            plots[f"phase{ps.band.index}"] = p
    rep.plots = plots
    return plots


def caption(key: str, rep: Report | None = None) -> str:
    """The words under a plot; with the report, figures from what was
    drawn (the histograms' bin width, the phases an unplaced boot ran)."""
    strip = ("Under it a strip: the phases, the alarms named where raised (orange), and a row "
             "a probe: a bar where it read but was excluded, grey hatching where it gave no "
             "reading, an x where it was lost for good (also on the trace, with when and why).")
    if key == "overview":
        return ("The whole mission: payload estimate (blue) and every probe (solid while trusted, "
                "dashed while excluded) against each phase's band (green), excursions (red), "
                "alarms (orange), board restarts; a boot whose clock was never set but is "
                "bounded in UTC is drawn at the middle of its hatched span. " + strip
                + " Then the log's other channels: battery, heater and Peltier duty, humidity "
                "and pressure. Time axis UTC.")
    if key == "histogram":
        width = f"{_bin_width(rep)} degC bins" if rep is not None else "bins as each panel says"
        return (f"Time at each temperature of the payload estimate, per phase ({width}; "
                "minutes for a phase under 2 h, else hours): the band (green), its limits and "
                "the phase's MKT (red dashes). Time without a valid reading is in no bin.")
    if key.startswith("boot"):
        ran = ""
        if rep is not None:
            here = sorted(set(rep.phase[rep.boot == int(key[4:])].tolist()))
            ran = (" It ran phase(s) " + ", ".join(rep.phase_label(int(p)) for p in here)
                   + "; their records are on this plot only.")
        return (f"Boot {key[4:]}: its clock was never set and nothing bounds it in UTC on both "
                "sides, so its records cannot be placed on the UTC plots; they are drawn here "
                "against the hours since that boot started, every channel as in the overview."
                + ran + " " + strip)
    return (f"Phase {key[5:]}: payload estimate (blue), every probe (solid while trusted, dashed "
            "while excluded), the band (green), setpoint and both absolute limits, "
            "excursions (red). Records of a boot nothing places in UTC are on that boot's "
            "plot. " + strip.replace("the phases, ", "") + " Time axis UTC.")


def plots_for(rep: Report, path: Path) -> dict[str, Path]:
    """The report's plots beside path (made unless they are there already)."""
    if not rep.plots or not all(p.exists() for p in rep.plots.values()):
        make_plots(rep, path.parent, path.stem)
    return rep.plots
