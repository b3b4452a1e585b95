"""What a forecast identifies from the log's own history, with its
uncertainty: the battery's usable capacity (its drain per hour against the
power the outputs drew) and the container's heat-loss coefficient (the
factor on the reference container's wall conductance that makes the
simulated controller drive its outputs as the log shows they were driven).

The forecast's own model is the reference container (sim/scenarios/
nominal.toml, docs/reference-container.md): a log says nothing of the
container's build but what these two numbers show. The scenario a log came
from is never read.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from podctl.forecast_state import History, Start
from sim import power

MIN_HISTORY_H = 4.0  # less and nothing is identified: the model's own values stand
WINDOW_H = 24.0  # the history used: a whole day averages the diurnal swing out
PRIOR_SIGMA_PCT = 15.0  # a number the log could not identify: the build's spread and more
FLOOR_SIGMA_PCT = 3.0  # even a clean fit is a fit
# How well a cell's voltage under load tells its open-circuit voltage: a
# typical curve, not this cell's, read at a temperature it was not taken at
# (LiFePO4's plateau also keeps some hysteresis). A state of charge read
# off the curve is uncertain by this over the curve's local slope: ~1.7 %
# anywhere on li-ion, 5 to 10 % on LiFePO4's plateau, under 1 % at its knees.
CELL_V_SIGMA = 0.010
# Above this the voltage says too little and the charge is counted instead
# (li-ion's curve never gets there: the reference pack reads as it did).
COUNT_ABOVE_PCT = 3.0
# The outputs' charge counted from their logged duty is off by the build's
# spread of what turns duty into watts: the Peltier's Qmax and COP0 (10 %
# each, sim/dispersions/default.toml), the heater's rating (5 %), and the
# Peltier's COP falling with the temperature it lifts, which the duty
# does not show; the true charge over the count was 0.81 to 1.41 on three
# stranded LFP runs of that dispersion over 280 h.
LOAD_SIGMA_PCT = 30.0
DECLARED_SIGMA_PCT = 5.0  # a rated capacity: the cells' spread and ageing


@dataclass(frozen=True)
class Identified:
    soc: float  # the battery's state of charge now, 0..1
    capacity_wh: float
    capacity_sigma_pct: float
    drain_pct_per_h: float  # state of charge per hour over the history (NaN: too short)
    heat_loss: float  # factor on the reference container's wall conductance
    heat_loss_sigma_pct: float
    history_h: float
    soc_sigma_pct: float = 0.0  # the state of charge's, points of charge
    soc_read: str = "voltage"  # or "counted" (from a voltage-anchored point)
    pack: str = "3 li-ion"  # cells and chemistry read


def slope_v(soc: np.ndarray, pw: dict[str, Any]) -> np.ndarray:
    """dV/dSoC of one cell at soc (the curve's segment), V per unit charge."""
    pts = np.array(power._SOC_POINTS)
    c = np.array(power.CURVES[pw.get("pack", "li-ion")])
    seg = np.clip(np.searchsorted(pts, soc, side="right") - 1, 0, len(pts) - 2)
    return (c[seg + 1] - c[seg]) / (pts[seg + 1] - pts[seg])


def soc_sigma(soc: np.ndarray, pw: dict[str, Any]) -> np.ndarray:
    """The state of charge read off the curve: its sigma, 0..1."""
    return CELL_V_SIGMA / slope_v(soc, pw)


def counted(whole: History, sc: dict[str, Any], cap_wh: float,
            cap_sigma_pct: float) -> tuple[float, float, float, float, float]:
    """(state of charge now, its sigma, the drain's scale, its sigma, the
    logged outputs' current over the last day, A) by counting the charge
    they drew since an anchor, a record whose voltage reads well (full at
    the start, a knee of the curve).

    The count is off by one unknown scale g on the charge the duty says
    (the build's watts per duty, and the capacity it is divided by):
    g = 1 +- hypot(capacity, load) sigma before the log is read. The anchor
    and the voltage now, each with its own sigma, measure g again: the
    charge between them is what the curve says they lost. Both combined
    (inverse variance) give g; the state of charge now is the anchor's
    less g times the count, and g also scales the drain ahead, so a pack
    that counted fast runs down slower. The anchor is the record whose
    result has the smallest sigma."""
    pw = sc["power"]
    ok = np.isfinite(whole.t_h) & np.isfinite(whole.battery_v)
    t, v = whole.t_h[ok], whole.battery_v[ok]
    amps = (load_w(whole, sc) / np.maximum(whole.battery_v, 1.0))[ok]
    # a time that runs backwards (a boot without UTC) starts the count anew
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        t, v, amps = t[back[-1] + 1:], v[back[-1] + 1:], amps[back[-1] + 1:]
    soc_v = soc_of(v, amps, pw)
    sig_v = soc_sigma(soc_v, pw)
    dt = np.diff(t)
    step = float(np.median(dt)) if len(dt) else 0.0
    # a gap longer than a few records is a board that was down: it drew nothing
    ah = amps[:-1] * np.where(dt > 3 * step, 0.0, dt)
    after = np.concatenate([np.cumsum(ah[::-1])[::-1], [0.0]])  # Ah drawn since each record
    nominal_v = power.NOMINAL_CELL_V[pw.get("pack", "li-ion")] * int(pw.get("cells_series", 3))
    frac = after * nominal_v / cap_wh  # charge since each record, of the capacity, at g = 1
    prior = math.hypot(cap_sigma_pct, LOAD_SIGMA_PCT) / 100.0
    with np.errstate(divide="ignore", invalid="ignore"):
        seen = np.where(frac > 0, (soc_v - soc_v[-1]) / frac, 1.0)
        w_seen = np.where(frac > 0, (frac / np.hypot(sig_v, sig_v[-1])) ** 2, 0.0)
    w = 1.0 / prior ** 2 + w_seen
    g = (1.0 / prior ** 2 + seen * w_seen) / w
    sig_soc = np.sqrt(sig_v ** 2 + frac ** 2 / w)
    sig_soc[-1] = sig_v[-1]  # the voltage now alone
    a = int(np.argmin(sig_soc))
    soc = float(soc_v[a] - g[a] * frac[a])
    rate = float(amps[t >= -WINDOW_H].mean())
    return (min(1.0, max(0.0, soc)), float(sig_soc[a]), float(g[a]),
            float(1.0 / math.sqrt(w[a])), rate)


def soc_of(volts: np.ndarray, amps: np.ndarray, pw: dict[str, Any]) -> np.ndarray:
    """State of charge from the terminal voltage under its load: the pack's
    open-circuit curve (sim.power) inverted at V + I R."""
    cells = int(pw.get("cells_series", 3))
    curve = np.array(power.CURVES[pw.get("pack", "li-ion")]) * cells
    ocv = volts + amps * float(pw.get("internal_resistance_ohm", 0.05))
    return np.interp(ocv, curve, np.array(power._SOC_POINTS))


def load_w(hist: History | Start, sc: dict[str, Any]) -> Any:
    """Electrical power the outputs drew, W, from their logged duty (the
    plant's own formulas: the heater's rating, the Peltier's Qmax / COP0 at
    that drive), plus the board's base load."""
    c = sc["container"]
    pe = c.get("peltier") or {}
    heater = np.asarray(hist.heater_pct, dtype=float) / 100.0
    d = np.abs(np.asarray(hist.peltier_pct, dtype=float)) / 100.0
    cop0 = float(pe.get("cop0", 0.7))
    full = float(pe.get("cop0_full", -1.0))
    slope = (full - cop0) if full > 0 else 0.0
    pel = d * float(pe.get("qmax_w", 0.0)) / (cop0 + slope * d)
    return float(sc["power"].get("base_load_w", 0.0)) + heater * float(c["heater_max_w"]) + pel


def battery(start: Start, hist: History, sc: dict[str, Any]) -> tuple[float, float, float, float]:
    """(soc now, capacity Wh, its sigma %, drain %/h). The capacity from the
    charge the history's load drew over the state of charge it lost (a
    least-squares line through the SoC against time); its sigma from that
    slope's standard error."""
    pw = sc["power"]
    nominal_v = power.NOMINAL_CELL_V[pw.get("pack", "li-ion")] * int(pw.get("cells_series", 3))
    soc_now = float(soc_of(np.array([start.battery_v]),
                           np.array([load_w(start, sc) / max(start.battery_v, 1.0)]), pw)[0])
    prior = float(pw["capacity_wh"])
    keep = hist.t_h >= -WINDOW_H
    t = hist.t_h[keep]
    if not len(t) or -t[0] < MIN_HISTORY_H:
        return soc_now, prior, PRIOR_SIGMA_PCT, math.nan
    amps = load_w(hist, sc)[keep] / np.maximum(hist.battery_v[keep], 1.0)
    soc = soc_of(hist.battery_v[keep], amps, pw)
    a = np.vstack([t, np.ones(len(t))]).T
    coef, res, *_ = np.linalg.lstsq(a, soc, rcond=None)
    slope = float(coef[0])  # soc per hour, negative while draining
    n = len(t)
    resid = soc - a @ coef
    se = math.sqrt(float(resid @ resid) / max(n - 2, 1) / float(((t - t.mean()) ** 2).sum()))
    if slope >= -1e-6 or se > -slope / 2:
        return soc_now, prior, PRIOR_SIGMA_PCT, 100.0 * slope  # no drain to read a capacity from
    cap_ah = float(amps.mean()) / -slope
    sigma = max(FLOOR_SIGMA_PCT, 100.0 * se / -slope)
    return soc_now, cap_ah * nominal_v, sigma, 100.0 * slope


def heat_loss(
    start: Start, hist: History, sc: dict[str, Any], profile: bytes, env_of: Any,
) -> tuple[float, float, float]:
    """(factor on the wall conductance, its sigma %, the battery's drain in
    that flight, state of charge %/h (NaN: none flown)). The unchanged firmware
    flies the history's window in the forecast's environment from the
    window's first state; the factor is moved (secant) until its mean
    cooling drive matches the log's. Its sigma: the factor each half of the
    window alone asks for, half their difference. env_of(phase_s) is the
    environment phase table at that many seconds into the phase."""
    keep = hist.t_h >= -WINDOW_H
    t = hist.t_h[keep]
    if not len(t) or -t[0] < MIN_HISTORY_H or start.phase_s < -t[0] * 3600:
        return 1.0, PRIOR_SIGMA_PCT, math.nan
    hours = float(-t[0])
    c = sc["container"]
    ratio = float(c["heater_max_w"]) / max(float((c.get("peltier") or {}).get("qmax_w", 1.0)), 1.0)
    obs = hist.peltier_pct[keep] - ratio * hist.heater_pct[keep]  # net cooling drive, % of Qmax
    i0 = int(np.flatnonzero(keep)[0])
    v0 = hist.battery_v[i0]
    soc = float(soc_of(np.array([v0]), np.array([load_w(hist, sc)[i0] / max(v0, 1.0)]),
                       sc["power"])[0])
    first = {
        "payload_c": float(hist.payload_c[i0]), "air_c": float(hist.air_c[i0]),
        "soc": soc, "phase": start.phase, "phase_s": int(start.phase_s - hours * 3600),
        "mission_s": 0, "out_s": 0, "alarms": 0,
    }
    env = env_of(first["phase_s"])

    drained = [math.nan]

    def drive(k: float) -> tuple[float, np.ndarray, np.ndarray]:
        th, net, soc_t = _fly_table(sc, profile, first, env, hours, k)
        if len(th) > 2:
            drained[0] = 100.0 * float(np.polyfit(th, soc_t, 1)[0])
        return float(net.mean()), th, net

    want = float(obs.mean())
    k0, (m0, *_) = 1.0, drive(1.0)
    k1 = min(3.0, max(0.33, want / m0)) if m0 > 0.5 else 1.5
    m1, tt, dd = drive(k1)
    for _ in range(2):
        if abs(m1 - m0) < 1e-6:
            break
        k2 = min(3.0, max(0.33, k1 + (want - m1) * (k1 - k0) / (m1 - m0)))
        k0, m0 = k1, m1
        k1 = k2
        m1, tt, dd = drive(k1)
    # each half alone, by the drive's proportionality near the fit
    half = -hours / 2
    ks = []
    for lo, hi in ((-hours, half), (half, 0.0)):
        mo = obs[(t >= lo) & (t < hi)]
        mm = dd[(tt - hours >= lo) & (tt - hours < hi)]
        if len(mo) and len(mm) and mm.mean() > 0.5:
            ks.append(k1 * mo.mean() / mm.mean())
    sigma = 100.0 * abs(ks[0] - ks[1]) / 2 / k1 if len(ks) == 2 else PRIOR_SIGMA_PCT
    return float(k1), float(max(FLOOR_SIGMA_PCT, min(PRIOR_SIGMA_PCT, sigma))), drained[0]


def scaled(sc: dict[str, Any], k: float) -> dict[str, Any]:
    """The container with its wall conductance scaled by k (both halves of
    the wall: the series conductance scales by k too)."""
    c = dict(sc["container"])
    for key in ("wall_conductance_w_per_k", "air_wall_conductance_w_per_k"):
        c[key] = c[key] * k
    return dict(sc, container=c)


def _fly_table(sc: dict[str, Any], profile: bytes, first: dict[str, Any], env: dict[str, Any],
               hours: float, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hours from the window's start, net cooling drive %, state of charge)
    every minute."""
    import tempfile

    from sim.forecast_start import start_sim

    run_sc = scaled(dict(sc, phases=[dict(env, duration_s=hours * 3600.0)],
                         duration_s=hours * 3600.0, faults=[], expects=[]), k)
    buf = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="podfc") as d:
        sim = start_sim(run_sc, profile, first, 1, d)
        sim.table = buf
        sim.run()
    a = np.loadtxt(io.StringIO(buf.getvalue()), delimiter=",", usecols=(0, 11, 12, 16), ndmin=2)
    c = run_sc["container"]
    ratio = float(c["heater_max_w"]) / max(float((c.get("peltier") or {}).get("qmax_w", 1.0)), 1.0)
    return a[:, 0] / 3600.0, a[:, 2] / 10.0 - ratio * a[:, 1] / 10.0, a[:, 3]
