"""How long can it still wait? A forecast from a pulled log's last state.

    from podctl import forecast
    f = forecast.forecast("build/pulled", environment="recovery", runs=40, horizon_h=240)
    f.hours["battery"]           # {"p10", "p50", "p90"}: hours until the battery alarm
    f.hours["first_excursion"]   # ... until the payload leaves its band (longer than event_s)
    f.hours["budget"]            # ... until the cumulative out-of-band allowance is spent
    f.drivers["battery"]         # the dispersed numbers, most influential first

The container's state at the log's end (podctl.forecast_state) starts the
simulator (sim.forecast_start: the unchanged firmware resumes that phase,
its time, its alarms and its out-of-band count); the battery's capacity
and the container's heat loss are identified from the log's history
(podctl.forecast_identify) and drawn around what was found with its
uncertainty, together with the environment (sim.disperse, as a campaign
draws), and each draw flies `horizon_h` hours on a process pool. A time
not reached within the horizon is censored: its percentile is None (more
than the horizon). The library prints nothing and never exits.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from podctl import forecast_identify as ident
from podctl import forecast_pack, forecast_state
from podctl.errors import BadInput
from protocol import profile as pf
from sim import disperse, power, scenario

REFERENCE = "nominal"  # the reference container: the forecast's own model
QUANTITIES = ("first_excursion", "budget", "battery")
# the environments a forecast can assume; start_hour is the local hour at
# the phase's start (the recovery's, as the scenarios fly it)
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "recovery": {"name": "recovery", "ambient": "diurnal", "min_c": 24.0, "max_c": 35.0,
                 "start_hour": 14.0, "solar_heat_w": 3.0, "humidity_percent": 75.0},
    "orbit": {"name": "orbit", "ambient": "orbit", "sunlit_c": 14.0, "eclipse_c": 8.0,
              "sunlit_heat_w": 0.5, "eclipse_heat_w": 0.0, "accel_g": 0.0,
              "humidity_percent": 30.0},
}
# how the environment is drawn: a day hotter or cooler than assumed
ENV_SPREAD = {
    "diurnal": (("min_c", [-2.0, 2.0]), ("max_c", [-2.0, 3.0]), ("solar_heat_w", [-1.0, 1.0])),
    "orbit": (("sunlit_c", [-2.0, 2.0]), ("eclipse_c", [-2.0, 2.0])),
    "constant": (("ambient_c", [-2.0, 2.0]),),
}


@dataclass
class Forecast:
    start: forecast_state.Start
    identified: ident.Identified
    environment: str
    horizon_h: float
    runs: int
    hours: dict[str, dict[str, float | None]]  # quantity -> p10/p50/p90 (None: past the horizon)
    drivers: dict[str, list[dict[str, Any]]]  # quantity -> sensitivity ranking
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"start": asdict(self.start), "identified": asdict(self.identified),
                "environment": self.environment, "horizon_h": self.horizon_h,
                "runs": self.runs, "hours": self.hours, "drivers": self.drivers}


def environment_of(name: str) -> dict[str, Any]:
    """A phase table of the scenario layout: a built-in name, or a TOML file
    holding one [[phase]] (or its keys at the top)."""
    if name in ENVIRONMENTS:
        return dict(ENVIRONMENTS[name])
    p = Path(name)
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise BadInput(f"{p}: cannot read the environment: {e.strerror} "
                       f"(or give {' or '.join(ENVIRONMENTS)})") from None
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"{p}: not valid TOML: {e}") from None
    ph = data.get("phase", [data])
    if not isinstance(ph, list) or len(ph) != 1 or not isinstance(ph[0], dict):
        raise BadInput(f"{p}: give one [[phase]] table (the scenario layout)")
    env = {k: v for k, v in ph[0].items() if k not in ("duration_h", "duration_s")}
    env.setdefault("name", p.stem)
    try:
        scenario._phase(0, dict(env, duration_h=1.0))
    except scenario._Bad as e:
        raise BadInput(f"{p}: {e.field}: {e.reason}") from None
    return env


def load_profile(blob: bytes | None, where: str) -> pf.Profile:
    if blob is None:
        raise BadInput(f"{where}: no profile.bin beside the log: a forecast needs the "
                       "profile the container flies (its bands, its alarms)")
    got = pf.check(blob)
    if not isinstance(got, pf.Profile):
        raise BadInput(f"{where}: profile.bin is not a valid profile (refused: {got[0]})")
    return got


def forecast(
    log_folder: str | os.PathLike[str],
    *,
    environment: str = "recovery",
    runs: int = 40,
    horizon_h: float = 240.0,
    tick_s: int = 10,
    seed: int = 1,
    workers: int | None = None,
    pack: str | None = None,
    cells: int | None = None,
    capacity_wh: float | None = None,
) -> Forecast:
    """The forecast from a pulled folder (log.bin and profile.bin) or a log
    file with profile.bin beside it. BadInput for what cannot start one.
    pack, cells, capacity_wh: the container's battery (podctl.forecast_pack;
    unset: the reference container's 3S li-ion, 900 Wh)."""
    from podctl.pulled import open_pulled

    _check_args(runs, horizon_h, tick_s)
    forecast_pack.of(pack, cells, capacity_wh, {})  # a bad pack before any reading
    p = Path(log_folder)
    if p.is_dir() and not any(p.iterdir()):
        raise BadInput(f"{p}: the folder is empty: give the folder `logs pull` wrote")
    pulled = open_pulled(p)
    prof = load_profile(pulled.profile, str(p))
    start, hist = forecast_state.read(pulled.data(), prof, str(p))
    return from_state(start, hist, prof, environment=environment, runs=runs,
                      horizon_h=horizon_h, tick_s=tick_s, seed=seed, workers=workers,
                      pack=pack, cells=cells, capacity_wh=capacity_wh, where=str(p))


def _check_args(runs: Any, horizon_h: Any, tick_s: Any) -> None:
    if not isinstance(runs, int) or runs < 1:
        raise BadInput(f"runs must be at least 1, got {runs!r}")
    if not isinstance(horizon_h, (int, float)) or not 0 < horizon_h <= 24 * 365:
        raise BadInput(f"horizon must be between 0 and 8760 h, got {horizon_h!r}")
    if not isinstance(tick_s, int) or not 1 <= tick_s <= 60:
        raise BadInput(f"tick must be 1 to 60 s, got {tick_s!r}")


def model(tick_s: int) -> dict[str, Any]:
    sc = scenario.load(REFERENCE)
    sc["tick_s"] = tick_s
    return scenario.validate_tick(sc)


def from_state(
    start: forecast_state.Start,
    hist: forecast_state.History,
    prof: pf.Profile,
    *,
    environment: str = "recovery",
    runs: int = 40,
    horizon_h: float = 240.0,
    tick_s: int = 10,
    seed: int = 1,
    workers: int | None = None,
    pack: str | None = None,
    cells: int | None = None,
    capacity_wh: float | None = None,
    where: str = "log",
) -> Forecast:
    _check_args(runs, horizon_h, tick_s)
    env_name = environment
    env = environment_of(env_name)
    sc = model(tick_s)
    pk = forecast_pack.of(pack, cells, capacity_wh, sc["power"])
    forecast_pack.check_log(pk, (hist.whole or hist).battery_v, where)
    sc = dict(sc, power=pk.power(sc["power"]))
    soc, soc_sigma, cap, cap_sigma, drain, read = _battery(start, hist, sc, pk)

    def env_at(phase_s: int) -> dict[str, Any]:
        e = dict(env)
        if e.get("ambient") == "diurnal":
            # the layout takes whole hours: the phase's clock to the nearest one
            e["start_hour"] = int(round(float(e.get("start_hour", 12)) + phase_s / 3600.0)) % 24
        return e

    base = dict(sc, power=dict(sc["power"], capacity_wh=cap))
    k, k_sigma, flown = ident.heat_loss(start, hist, base, prof.data, env_at)
    if drain < 0 and flown < 0 and (read == "counted" or cap_sigma < ident.PRIOR_SIGMA_PCT):
        # the capacity at which the model's own draw (the calibration flight,
        # the plant's power, not a formula on the logged duty) drains the
        # battery as fast as the log shows (a counted drain: however
        # uncertain, the best there is: its sigma is drawn)
        cap = cap * flown / drain
        base = dict(sc, power=dict(sc["power"], capacity_wh=cap))
    found = ident.Identified(soc, cap, cap_sigma, drain, k, k_sigma, hist.hours,
                             100.0 * soc_sigma, read, f"{pk.cells} {pk.chemistry}")
    sc_fc = ident.scaled(base, k)
    sc_fc = dict(sc_fc, phases=[dict(env_at(start.phase_s), duration_s=horizon_h * 3600.0)],
                 duration_s=horizon_h * 3600.0, faults=[], expects=[],
                 power=dict(sc_fc["power"], initial_soc=soc))
    spec = _spec(sc_fc, cap_sigma, k_sigma, soc_sigma if read == "counted" else 0.0)
    try:
        sc_fc = disperse._revalidate(sc_fc, "forecast model")
        disperse.check(spec, sc_fc)
    except disperse.DisperseError as e:
        raise BadInput(f"forecast: {e}") from None
    job = {"sc": sc_fc, "spec": spec, "profile": prof.data, "start": start.for_sim(soc),
           "band_s": start.allowance_s - start.out_s, "latched": start.alarms}
    seeds = list(range(seed, seed + runs))
    rows = _fly_all(job, seeds, workers)
    for r in rows:
        if start.out_of_band:
            r["first_excursion"] = 0.0
        if start.out_s >= start.allowance_s:
            r["budget"] = 0.0
        if start.battery_v <= start.battery_low_v or "battery_low" in start.alarm_names:
            r["battery"] = 0.0
    params = disperse.parameters(spec, sc_fc)
    return Forecast(start, found, env_name, float(horizon_h), runs,
                    {q: _pcts([r[q] for r in rows]) for q in QUANTITIES},
                    {q: _drivers(rows, params, q) for q in QUANTITIES}, rows)


def _battery(start: forecast_state.Start, hist: forecast_state.History, sc: dict[str, Any],
             pk: forecast_pack.Pack) -> tuple[float, float, float, float, float, str]:
    """(state of charge, its sigma, capacity Wh, its sigma %, drain %/h, how
    the charge was read). Off the pack's curve where the voltage says
    enough (li-ion everywhere, the capacity from the drain); where it is
    flat (LiFePO4's plateau) counted from a voltage-anchored point, the
    capacity the declared one (or the reference's), which a plateau cannot
    identify."""
    soc, cap, cap_sigma, drain = ident.battery(start, hist, sc)
    if pk.capacity_wh is not None and cap_sigma >= ident.PRIOR_SIGMA_PCT:
        cap_sigma = ident.DECLARED_SIGMA_PCT  # not identified, but rated
    sigma = float(ident.soc_sigma(np.array([soc]), sc["power"])[0])
    whole = hist.whole
    if 100.0 * sigma <= ident.COUNT_ABOVE_PCT or whole is None or len(whole.t_h) < 2:
        return soc, sigma, cap, cap_sigma, drain, "voltage"
    cap = float(sc["power"]["capacity_wh"])
    cap_sigma = ident.PRIOR_SIGMA_PCT if pk.capacity_wh is None else ident.DECLARED_SIGMA_PCT
    soc, sigma, g, g_sigma, amps = ident.counted(whole, sc, cap, cap_sigma)
    nominal_v = power.NOMINAL_CELL_V[pk.chemistry] * pk.cells
    # the drain ahead: today's counted current, scaled as the count was; its
    # sigma carried as the capacity's (the flights draw the capacity)
    return (soc, sigma, cap, max(ident.FLOOR_SIGMA_PCT, 100.0 * g_sigma),
            -100.0 * g * amps * nominal_v / cap, "counted")


def _spec(sc: dict[str, Any], cap_sigma: float, k_sigma: float,
          soc_sigma: float = 0.0) -> dict[str, Any]:
    """The dispersion: the identified numbers with their sigma, the
    environment's spread, the base load and the sensors' calibration; a
    counted state of charge with its own (kept inside 0..1 at 3 sigma)."""
    env = sc["phases"][0]
    params: list[dict[str, Any]] = [
        {"field": "power.capacity_wh", "sigma_percent": min(cap_sigma, 30.0)},
        {"field": "container.wall_conductance_w_per_k", "sigma_percent": min(k_sigma, 30.0)},
        {"field": "container.air_wall_conductance_w_per_k",
         "sigma_percent": min(k_sigma, 30.0)},
        {"field": "power.base_load_w", "sigma_percent": 5.0},
        {"field": "sensors.probe[*].offset_mdegc", "sigma": 50.0},
    ]
    soc = float(sc["power"].get("initial_soc", 1.0))
    soc_sigma = min(soc_sigma, soc / 3.0, (1.0 - soc) / 3.0)
    if soc_sigma > 1e-4:
        params.append({"field": "power.initial_soc", "sigma": soc_sigma})
    for key, rng in ENV_SPREAD.get(env.get("ambient", "constant"), ()):
        if key in env:
            params.append({"field": f"phase[0].{key}", "uniform": rng})
    return disperse.parse({"description": "forecast", "param": params}, "forecast")


def _fly_all(job: dict[str, Any], seeds: list[int], workers: int | None) -> list[dict[str, Any]]:
    from podctl.campaign import default_workers

    n = min(workers or default_workers(), len(seeds))
    if n <= 1:
        return [fly(job, s) for s in seeds]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, as the campaign's pool: the caller may hold threads
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
        return list(pool.map(fly, [job] * len(seeds), seeds))


def fly(job: dict[str, Any], seed: int) -> dict[str, Any]:
    """One draw: (hours until each quantity, None past the horizon) and the
    values drawn. A pure function of (job, seed)."""
    from sim.forecast_start import fly_from

    sc, values = disperse.apply(job["sc"], job["spec"], seed)
    # the charge it starts with is the draw's (the same as the start's unless drawn)
    s = fly_from(sc, job["profile"], dict(job["start"], soc=sc["power"]["initial_soc"]), seed)
    row: dict[str, Any] = dict(values, seed=seed)
    exc = sorted((e for p in s["phases"] for e in p["excursions"]), key=lambda e: e[0])
    row["first_excursion"] = exc[0][0] / 3600.0 if exc else None
    # the allowance left, spent by the excursions' seconds in time order
    left = job["band_s"]
    row["budget"] = None
    for a, b, _ in exc:
        if b - a >= left:
            row["budget"] = (a + left) / 3600.0
            break
        left -= b - a
    low = s["alarms"].get("battery_low")
    row["battery"] = None if low is None else low / 3600.0
    if s["battery_empty_s"] is not None and row["battery"] is None:
        row["battery"] = s["battery_empty_s"] / 3600.0  # died before the alarm could sound
    return row


def _pcts(values: list[float | None]) -> dict[str, float | None]:
    """P10/P50/P90 with times past the horizon as infinite (None)."""
    import numpy as np

    a = np.array([math.inf if v is None else v for v in values], dtype=float)
    out: dict[str, float | None] = {}
    for q in (10, 50, 90):
        v = float(np.percentile(a, q, method="inverted_cdf")) if len(a) else math.inf
        out[f"p{q}"] = None if math.isinf(v) else v
    return out


def _drivers(rows: list[dict[str, Any]], params: list[str], q: str) -> list[dict[str, Any]]:
    """Each dispersed number's Spearman rank correlation with the hours (a
    time past the horizon ranks last), strongest first; as the campaign's
    sensitivity ranks its parameters (podctl.campaign_stats)."""
    from podctl.campaign_stats import _driver

    y = [math.inf if r[q] is None else r[q] for r in rows]
    big = max((v for v in y if not math.isinf(v)), default=0.0) + 1.0
    y = [big if math.isinf(v) else v for v in y]
    out = []
    for p in params:
        rho, pv, how = _driver([r[p] for r in rows], y)
        if rho is not None:
            out.append({"param": p, "rho": rho, "p": pv, "by": how})
    return sorted(out, key=lambda e: -abs(e["rho"]))
