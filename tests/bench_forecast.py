"""Issue 18's forecast figures (`make bench`, group forecast): the forecast
against the simulator's truth.

    python -m tests.bench_forecast [stranded] [mismatch] [return_slip]

Each case: the scenario, dispersed by its default dispersion with a held-out
seed (never a seed the forecast uses: those are 1..RUNS), flies whole at a
10 s tick (the truth: when the battery alarm sounded, when the payload first
left its band for longer than the excursion delay, when the cumulative
allowance was spent); the same run cut at CUT_H hours (sim.scenario.leg:
its log is the full run's first CUT_H hours) is pulled as log.bin and
profile.bin, and podctl.forecast.forecast reads only those. The forecast's
model is the reference container; it never sees the scenario, its draws or
its seed.

  forecast_p50_error_pct_first_excursion  mean |P50 - truth| / truth, %, of
                                          the hours after the cut (stranded)
  forecast_p50_error_pct_battery          the same for the battery alarm
  forecast_p10_p90_coverage               share of (case, quantity) whose
                                          truth lies in [P10, P90] (stranded
                                          and mismatch; both quantities)
  forecast_p50_error_pct_model_mismatch   mean P50 error, both quantities, on
                                          stranded runs whose plant is not the
                                          forecast's model: cells aged to 75 %
                                          of capacity with 3x the internal
                                          resistance, a PCM with 60 % of the
                                          latent heat melting at 6 degC, the
                                          wall 25 % leakier
  forecast_return_slip_beyond_wait_pct    return-slip cut mid-recovery (the
                                          wait ends 39 h later): share of cases
                                          whose P10 for both the battery and
                                          the excursion lies past that end (the
                                          truth: neither happens before it)
  forecast_seconds_per_case               wall seconds of one forecast (RUNS
                                          runs on 2 workers), mean
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from podctl import forecast
from podctl.campaign_mission import Plan
from sim import run as simrun

TICK_S = 10
RUNS = 20
HORIZON_H = 120.0
STRANDED_CUT_H = 280.0  # 51 h into the 342 h recovery; the battery alarm about 45 h later
RETURN_SLIP_CUT_H = 268.0  # the middle of return-slip's 78 h recovery
SEEDS = (101, 102, 103, 104, 105)
MISMATCH_SEEDS = (201, 202, 203)


def mismatch(sc: dict[str, Any]) -> dict[str, Any]:
    """A plant the forecast's model is not."""
    sc = copy.deepcopy(sc)
    pw = sc["power"]
    pw["capacity_wh"] *= 0.75
    pw["internal_resistance_ohm"] = pw.get("internal_resistance_ohm", 0.05) * 3
    pcm = sc["container"]["pcm"]
    pcm["latent_j"] *= 0.6
    pcm["melt_c"] = 6.0
    sc["container"]["wall_conductance_w_per_k"] *= 1.25
    sc["container"]["air_wall_conductance_w_per_k"] *= 1.25
    return sc


def truth(summary: dict[str, Any], cut_h: float, allowance_s: int) -> dict[str, float | None]:
    """Hours after the cut until each quantity, from the whole run."""
    exc = sorted((e for p in summary["phases"] for e in p["excursions"]), key=lambda e: e[0])
    cut = cut_h * 3600
    out: dict[str, float | None] = {"battery": None, "first_excursion": None, "budget": None}
    low = summary["alarms"].get("battery_low")
    if low is None and summary["battery_empty_s"] is not None:
        low = summary["battery_empty_s"]
    out["battery"] = None if low is None else (low - cut) / 3600
    after = [e for e in exc if e[0] >= cut]
    out["first_excursion"] = (after[0][0] - cut) / 3600 if after else None
    left = allowance_s
    for a, b, _ in after:
        if b - a >= left:
            out["budget"] = (a + left - cut) / 3600
            break
        left -= b - a
    return out


def case(scenario: str, seed: int, cut_h: float, root: Path, plant=None) -> dict[str, Any]:
    plan = Plan.make(scenario, "default", None, TICK_S)
    sc, _ = plan.scenario_for(seed)
    if plant is not None:
        sc = plant(sc)
    whole = simrun.run(sc, plan.profile, seed=seed)
    from sim.scenario import leg

    cut = simrun.run(leg(sc, cut_h), plan.profile, seed=seed)
    out = root / f"{scenario}-{seed}"
    out.mkdir(parents=True)
    (out / "log.bin").write_bytes(cut.log)
    (out / "profile.bin").write_bytes(plan.profile)
    t = time.perf_counter()
    f = forecast.forecast(out, runs=RUNS, horizon_h=HORIZON_H, tick_s=TICK_S, workers=2)
    took = time.perf_counter() - t
    true = truth(whole.summary, cut_h, f.start.allowance_s - f.start.out_s)
    return {"seed": seed, "truth": true, "hours": f.hours, "seconds": took,
            "identified": f.identified}


def _err(c: dict[str, Any], q: str) -> float | None:
    t, p = c["truth"][q], c["hours"][q]["p50"]
    if t is None or p is None or t <= 0:
        return None
    return 100.0 * abs(p - t) / t


def _covered(c: dict[str, Any], q: str) -> bool:
    t, h = c["truth"][q], c["hours"][q]
    lo = h["p10"]
    hi = h["p90"] if h["p90"] is not None else float("inf")
    if t is None:  # past the truth run's end: covered when P90 is past the horizon too
        return h["p90"] is None
    return lo is not None and lo <= t <= hi


def stranded_figures() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        cases = [case("stranded", s, STRANDED_CUT_H, Path(d)) for s in SEEDS]
    _print(cases)
    e_exc = [e for c in cases if (e := _err(c, "first_excursion")) is not None]
    e_bat = [e for c in cases if (e := _err(c, "battery")) is not None]
    cov = [_covered(c, q) for c in cases for q in ("battery", "first_excursion")]
    return {
        "forecast_p50_error_pct_first_excursion": round(statistics.mean(e_exc), 2),
        "forecast_p50_error_pct_battery": round(statistics.mean(e_bat), 2),
        "forecast_p10_p90_coverage_stranded": round(sum(cov) / len(cov), 3),
        "forecast_cases_stranded": float(len(cases)),
        "forecast_seconds_per_case": round(statistics.mean(c["seconds"] for c in cases), 1),
    }


def mismatch_figures() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        cases = [case("stranded", s, STRANDED_CUT_H, Path(d), mismatch) for s in MISMATCH_SEEDS]
    _print(cases)
    errs = [e for c in cases for q in ("battery", "first_excursion")
            if (e := _err(c, q)) is not None]
    cov = [_covered(c, q) for c in cases for q in ("battery", "first_excursion")]
    return {
        "forecast_p50_error_pct_model_mismatch": round(statistics.mean(errs), 2),
        "forecast_p10_p90_coverage_mismatch": round(sum(cov) / len(cov), 3),
    }


def return_slip_figures() -> dict[str, float]:
    wait_left = 229.17 + 78 - RETURN_SLIP_CUT_H  # the scenario's recovery ends there
    with tempfile.TemporaryDirectory() as d:
        cases = [case("return-slip", s, RETURN_SLIP_CUT_H, Path(d)) for s in SEEDS[:3]]
    _print(cases)
    ok = [
        all((c["hours"][q]["p10"] is None or c["hours"][q]["p10"] > wait_left)
            for q in ("battery", "first_excursion"))
        and all(c["truth"][q] is None or c["truth"][q] > wait_left
                for q in ("battery", "first_excursion"))
        for c in cases
    ]
    return {"forecast_return_slip_beyond_wait_pct": round(100.0 * sum(ok) / len(ok), 1)}


def _print(cases: list[dict[str, Any]]) -> None:
    import sys

    for c in cases:
        print(c["seed"], "truth", c["truth"], "forecast", c["hours"], round(c["seconds"], 1),
              c["identified"], file=sys.stderr, flush=True)


def figures() -> dict[str, float]:
    out = {**stranded_figures(), **mismatch_figures(), **return_slip_figures()}
    out["forecast_p10_p90_coverage"] = round(
        (out["forecast_p10_p90_coverage_stranded"] * len(SEEDS)
         + out["forecast_p10_p90_coverage_mismatch"] * len(MISMATCH_SEEDS))
        / (len(SEEDS) + len(MISMATCH_SEEDS)), 3)
    return out


if __name__ == "__main__":
    import sys

    parts = {"stranded": stranded_figures, "mismatch": mismatch_figures,
             "return_slip": return_slip_figures}
    for name in sys.argv[1:] or list(parts):
        for k, v in parts[name]().items():
            print(f"{k:<42} {v}", flush=True)
