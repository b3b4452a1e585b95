"""The report's plots (matplotlib, Agg, no display needed): the whole
mission and one per phase, as PNG files beside the report.

  make_plots(rep, out_dir, stem)   # {"overview": Path, "phase0": Path, ...}

Every plot shows time in UTC; records of a boot whose clock is unknown are
left off (the report's coverage says so), and lines are broken at data
gaps, so a silence never looks like a reading.
"""

from __future__ import annotations

import math
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
# the probes: four colours apart from the estimate's blue and the band's green
_C_PROBES = ("#8e24aa", "#f9a825", "#6d4c41", "#00838f")


# the narrowest span the pressure axis shows: left to autoscale, a sealed
# container's +-0.5 hPa of sensor noise filled the panel and read as violent
# swings, hiding the humidity under it; a leak or a lid opening (tens of hPa)
# still fills it
PRESSURE_SPAN_HPA = 20.0


# the PNGs say which program drew them and nothing that changes between
# two runs, so the same log gives the same bytes
PNG_METADATA = {"Software": "podctl report (matplotlib Agg)"}


def _dates(utc: np.ndarray) -> np.ndarray:
    return (np.asarray(utc, dtype=float) * 1e6).astype("datetime64[us]")


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=True))
    ax.set_xlabel("UTC")
    ax.grid(True, color="#dddddd", linewidth=0.6)


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


def _probes(ax: Any, rep: Report, idx: np.ndarray, x: np.ndarray, gaps: np.ndarray) -> None:
    """Every probe channel in a colour of its own: solid while the firmware
    trusted it, dashed while it read but was excluded (and that span marked
    under the curves), so an excluded probe is seen apart, never dropped."""
    if not len(rep.raw_probes):
        return
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
            # the excluded spans: a strip of the probe's colour at the foot, one row a probe
            _strip(ax, x, out, 0.012 * (1 + 2 * p), 0.012, _C_PROBES[p])


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
    """A boot whose clock was never set has no UTC to plot its records at;
    the span it must lie in (the analysis's bounds from the clocked records
    around it) is hatched, so its time is shown within its bounds, never
    at a guessed place."""
    for u in rep.analysis.unclocked:
        lo, hi = u.earliest_utc, u.latest_utc + u.reach_s
        if math.isnan(lo) or math.isnan(hi) or hi < t0 or lo > t1:
            continue
        ax.axvspan(_dates(np.array([max(lo, t0)]))[0], _dates(np.array([min(hi, t1)]))[0],
                   facecolor="none", edgecolor="#6a1b9a", hatch="////", lw=0.0, alpha=0.6,
                   label=f"boot {u.boot}, no UTC: its {fmt.dur(u.seconds)} lie in here")


def _strip(ax: Any, x: np.ndarray, on: np.ndarray, y0: float, height: float, color: str) -> None:
    """Mark where `on` holds as bars at height y0 (axes fraction): one bar a
    run of records, from its first to the record after its last."""
    import matplotlib.dates as mdates

    edge = np.diff(np.r_[0, on.astype(np.int8), 0])
    first, after = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    t = mdates.date2num(x)
    end = t[np.minimum(after, len(t) - 1)]
    ax.broken_barh(list(zip(t[first].tolist(), (end - t[first]).tolist())), (y0, height),
                   color=color, alpha=0.9, lw=0, transform=ax.get_xaxis_transform())


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
    ax.axhspan(b.low, b.high, color=_C_BAND, alpha=0.12, lw=0,
               label=f"band {b.low:g} to {b.high:g} degC")
    ax.axhline(b.setpoint, color=_C_BAND, lw=0.8, ls=":", label=f"setpoint {b.setpoint:g} degC")
    # a break where the records are not contiguous (gap, reset, another phase between)
    brk = np.ones(len(idx), dtype=bool)
    brk[:-1] = (np.diff(idx) != 1) | (rep.boot[idx[:-1]] != rep.boot[idx[1:]])
    gaps = np.ones(len(idx), dtype=bool)
    gaps[:-1] = brk[:-1] | (rep.dt[idx[:-1]] < (rep.t[idx[1:]] - rep.t[idx[:-1]]))
    _probes(ax, rep, idx, x, gaps)
    _line_with_breaks(ax, x, rep.estimate[idx], gaps, color=_C_EST, lw=1.6,
                      label="payload estimate")
    # silences: no record with UTC between two plotted records
    tt = rep.utc[idx]
    silent = np.flatnonzero(gaps[:-1] & ((tt[1:] - tt[:-1]) > 1.5 * rep.dt[idx[:-1]]))
    for k in silent:
        ax.axvspan(_dates(tt[k : k + 1] + rep.dt[idx[k]])[0], x[k + 1], color="#9e9e9e",
                   alpha=0.25, lw=0, label="no record with UTC" if k == silent[0] else None)
    shown_end = tt[-1] + rep.dt[idx[-1]]
    _unclocked(ax, rep, float(tt[0]), float(shown_end))
    for e in rep.events:
        if e.code == log.EV_BOOT and not math.isnan(e.utc) and tt[0] <= e.utc <= shown_end:
            ax.axvline(_dates(np.array([e.utc]))[0], color="#6a1b9a", lw=0.9, ls="-.",
                       label="board restart")
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
            ax.annotate(a.what.replace(" raised", ""), (_dates(np.array([a.utc]))[0], 1),
                        xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                        fontsize=7, color=_C_ALARM)
    # every reading sets the scale, an excluded probe's too: it is drawn, not dropped
    seen = np.concatenate([rep.estimate[idx], rep.raw_probes[idx].ravel()]) \
        if len(rep.raw_probes) else rep.estimate[idx]
    none = np.isnan(seen).all()
    data_lo = b.low if none else float(np.nanmin(seen))
    data_hi = b.high if none else float(np.nanmax(seen))
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
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def plot_overview(rep: Report, path: Path) -> Path | None:
    from matplotlib.figure import Figure

    known = ~np.isnan(rep.utc)
    if not known.any():
        return None
    idx = np.flatnonzero(known)
    x = _dates(rep.utc[idx])
    fig = Figure(figsize=(9, 7.4), dpi=110, layout="constrained")
    ax, axb, axa, axe = fig.subplots(4, 1, sharex=True, height_ratios=(3, 1, 1, 1))
    # the band of each phase, over the span its records cover
    brk = np.ones(len(idx), dtype=bool)
    brk[:-1] = ((np.diff(idx) != 1) | (rep.phase[idx[:-1]] != rep.phase[idx[1:]])
                | (rep.boot[idx[:-1]] != rep.boot[idx[1:]]))
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
    _probes(ax, rep, idx, x, gaps)
    _line_with_breaks(ax, x, rep.estimate[idx], gaps, color=_C_EST, lw=1.2,
                      label="payload estimate")
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
                    xycoords=("data", "axes fraction"), va="top", ha="center", fontsize=7,
                    color="#333333",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    for a in rep.alarms:
        if not math.isnan(a.utc):
            xa = _dates(np.array([a.utc]))[0]
            ax.axvline(xa, color=_C_ALARM, lw=0.9, ls="--")
            for other in (axb, axa, axe):
                other.axvline(xa, color=_C_ALARM, lw=0.9, ls="--")
            ax.annotate(a.what.replace(" raised", ""), (xa, 0.02),
                        xycoords=("data", "axes fraction"), rotation=90, va="bottom", ha="right",
                        fontsize=7, color=_C_ALARM)
    ax.plot([], [], color=_C_ALARM, lw=0.9, ls="--", label="alarm raised")
    for e in rep.events:
        if e.category == "reset" and not math.isnan(e.utc) and e.boot != rep.boot[0]:
            ax.axvline(_dates(np.array([e.utc]))[0], color="#6a1b9a", lw=0.9, ls="-.")
    if any(e.category == "reset" for e in rep.events[1:]):
        ax.plot([], [], color="#6a1b9a", lw=0.9, ls="-.", label="board restart")
    _unclocked(ax, rep, t0, t1)
    xe = _dates(np.array([t1]))[0]
    ax.axvline(xe, color="#212121", lw=1.0)
    ax.annotate("log ends", (xe, 0.3), xycoords=("data", "axes fraction"), rotation=90,
                va="center", ha="right", fontsize=7, color="#212121")
    ax.set_ylabel("degC")
    ax.set_title(f"{rep.device_id}: payload temperature, {rep.span_start} to {rep.span_end}",
                 fontsize=10, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    _line_with_breaks(axb, x, rep.battery[idx], gaps, color="#37474f", lw=1.0, label="battery")
    if rep.battery_low_v > 0:
        axb.axhline(rep.battery_low_v, color=_C_ALARM, lw=0.8, ls="--",
                    label=f"low alarm {rep.battery_low_v:g} V")
    axb.set_ylabel("battery V")
    axb.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    axb.grid(True, color="#dddddd", linewidth=0.6)
    # the rest of the log's channels: what the controller drove, and the air
    ch = rep.channels
    for name, color, label in (("heater", "#c62828", "heater duty %"),
                               ("peltier", "#1565c0", "Peltier duty % (+ cools)")):
        if name in ch:
            _line_with_breaks(axa, x, ch[name][idx], gaps, color=color, lw=0.8, label=label)
    axa.set_ylabel("duty %")
    axa.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
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
    axe.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.08, 1), borderaxespad=0)
    _time_axis(axe)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def plot_histograms(rep: Report, path: Path) -> Path | None:
    """Per phase, the hours the estimate spent in each HIST_STEP_C bin."""
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
        # the analysis's bins (seconds of trusted readings each), in hours
        edges = np.asarray(ps.hist_edges)
        ax.stairs(np.asarray(ps.hist_s) / 3600, edges, fill=True, color=_C_EST, alpha=0.85)
        ax.set_xlim(min(b.low, float(edges[0])) - 0.5, max(b.high, float(edges[-1])) + 0.5)
        ax.axvspan(b.low, b.high, color=_C_BAND, alpha=0.12, lw=0)
        for v in (b.low, b.high):
            ax.axvline(v, color=_C_BAND, lw=0.8)
        if not math.isnan(ps.mkt):
            ax.axvline(ps.mkt, color=_C_EXC, lw=0.9, ls="--")
        ax.set_title(f"{b.index} {b.name}: MKT {ps.mkt:.2f} degC", fontsize=8, loc="left")
        ax.set_xlabel("degC", fontsize=7)
        ax.set_ylabel("hours", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    fig.savefig(path, metadata=PNG_METADATA)
    return path


def make_plots(rep: Report, out_dir: Path, stem: str) -> dict[str, Path]:
    """The overview, the histograms and one plot per phase, as PNG files
    in out_dir."""
    plots: dict[str, Path] = {}
    p = plot_overview(rep, out_dir / f"{stem}-overview.png")
    if p is not None:
        plots["overview"] = p
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


def caption(key: str) -> str:
    if key == "overview":
        return ("The whole mission: payload estimate (blue) and every probe (solid while trusted, "
                "dashed while excluded, excluded spans marked at the foot) against each phase's "
                "band (green), excursions (red), alarms (orange), board restarts; under it the "
                "log's other channels: battery, heater and Peltier duty, humidity and pressure. "
                "Time axis UTC.")
    if key == "histogram":
        return ("Time at each temperature of the payload estimate, per phase (0.5 degC bins, "
                "hours): the band (green), its limits and the phase's MKT. Time without a "
                "valid reading is in no bin.")
    return (f"Phase {key[5:]}: payload estimate (blue), every probe (solid while trusted, dashed "
            "while excluded, excluded spans marked at the foot), band (green), excursions "
            "(red). Time axis UTC.")


def plots_for(rep: Report, path: Path) -> dict[str, Path]:
    """The report's plots beside path (made unless they are there already)."""
    if not rep.plots or not all(p.exists() for p in rep.plots.values()):
        make_plots(rep, path.parent, path.stem)
    return rep.plots


