"""Issue 18's forecast on a pack of another chemistry (`make bench`): a
stranded container with a 4S LiFePO4 pack, forecast from its cut log with
the pack declared (`podctl forecast --pack lifepo4 --cells 4`).

    python -m tests.bench_forecast_pack [declared] [undeclared]

As tests/bench_forecast.py: the scenario (stranded with power.pack =
"lifepo4", 4 cells, the converter's cut-off at 2.5 V a cell), dispersed by
its default dispersion with a held-out seed, flies whole at a 10 s tick
(the truth); the same run cut at CUT_H is pulled as log.bin and
profile.bin, and podctl.forecast.forecast reads only those and the pack
it is told. The profile is the nominal one with its battery alarm at
12.8 V: 3.20 V a cell, about 17 % charge on the LFP curve, the same charge
the nominal profile's 10.56 V means on 3S li-ion (3.52 V a cell), so the
alarm still leaves about a day.

  forecast_p50_error_pct_battery_lifepo4   mean |P50 - truth| / truth, %, of
                                           the hours after the cut until the
                                           battery alarm, the pack declared
  forecast_p10_p90_coverage_lifepo4        share of (case, quantity), battery
                                           and first excursion, whose truth
                                           lies in [P10, P90]
  forecast_p50_error_pct_first_excursion_lifepo4   the same for the excursion
  forecast_seconds_per_case_lifepo4        wall seconds of one forecast

Before the forecast knew the pack (ec8cb14) it read these logs on the
reference 3S li-ion curve: 13 V is above that pack's full 12.54 V, so it
read them full, flew a 3S li-ion pack whose voltage sits below the 12.8 V
alarm, and forecast the alarm at once: forecast_p50_error_pct_battery_
lifepo4 99.98 % (5 cases), coverage 0.1 (measured with this module's cases
on a copy of ec8cb14, forecast called without a pack). That read is now a
one-line error (exit 4) naming the packs the voltages fit. What the voltage
cannot refuse, the same 4 cells declared li-ion, is `undeclared`
(forecast_*_lifepo4_read_as_li_ion).

Measured (this 2-core machine, shared; `python -m tests.bench_forecast_pack`):
  forecast_p50_error_pct_battery_lifepo4                 14.73 %  (5 cases)
  forecast_p10_p90_coverage_lifepo4                      0.8      (8 of 10)
  forecast_p50_error_pct_first_excursion_lifepo4         18.64 %
  forecast_p50_error_pct_battery_lifepo4_read_as_li_ion  74.01 %  (3 cases; 2 past the horizon)
  forecast_p10_p90_coverage_lifepo4_read_as_li_ion       0.0
"""

from __future__ import annotations

import statistics
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from podctl import forecast, profile_file
from podctl.campaign_mission import Plan
from sim import run as simrun
from sim.scenario import leg
from tests.bench_forecast import _covered, _err, truth

TICK_S = 10
RUNS = 20
HORIZON_H = 120.0
CUT_H = 280.0  # 50 h into the recovery; the LFP pack's alarm about 32 h later
SEEDS = (101, 102, 103, 104, 105)
CELLS = 4
ALARM_V = 12.8  # 3.20 V a cell: ~17 % on the LFP curve, as 10.56 V is on 3S li-ion
QUANTITIES = ("battery", "first_excursion")
SCENARIO = f"""base = "stranded"
name = "stranded-lifepo4"
description = "stranded, its pack 4S LiFePO4 (bench_forecast_pack)"
[power]
pack = "lifepo4"
cells_series = {CELLS}
cutoff_mv = {CELLS * 2500}
"""


def lfp_profile() -> bytes:
    """The nominal profile with a battery alarm that means the same on LFP."""
    with open(profile_file.resolve("nominal"), "rb") as f:
        data = tomllib.load(f)
    data["alarms"]["battery_low_v"] = ALARM_V
    return profile_file.compile_data(data)


def lfp_scenario(root: Path) -> Path:
    p = root / "stranded-lifepo4.toml"
    p.write_text(SCENARIO)
    return p


def case(seed: int, root: Path, pack: dict[str, Any] | None) -> dict[str, Any]:
    plan = Plan.make(str(lfp_scenario(root)), "default", None, TICK_S)
    sc, _ = plan.scenario_for(seed)
    prof = lfp_profile()
    whole = simrun.run(sc, prof, seed=seed)
    cut = simrun.run(leg(sc, CUT_H), prof, seed=seed)
    out = root / f"lfp-{seed}"
    out.mkdir(parents=True)
    (out / "log.bin").write_bytes(cut.log)
    (out / "profile.bin").write_bytes(prof)
    t = time.perf_counter()
    f = forecast.forecast(out, runs=RUNS, horizon_h=HORIZON_H, tick_s=TICK_S, workers=2,
                          **(pack or {}))
    took = time.perf_counter() - t
    true = truth(whole.summary, CUT_H, f.start.allowance_s - f.start.out_s)
    return {"seed": seed, "truth": true, "hours": f.hours, "seconds": took,
            "identified": f.identified, "true_capacity_wh": sc["power"]["capacity_wh"],
            "censor_h": (whole.summary["duration_s"] - CUT_H * 3600) / 3600}


def _figures(pack: dict[str, Any] | None, tag: str) -> dict[str, float]:
    import sys

    with tempfile.TemporaryDirectory() as d:
        cases = [case(s, Path(d), pack) for s in SEEDS]
    for c in cases:
        print(c["seed"], "truth", c["truth"], "forecast", c["hours"], round(c["seconds"], 1),
              c["identified"], "true capacity", round(c["true_capacity_wh"], 1),
              file=sys.stderr, flush=True)
    out: dict[str, float] = {}
    for q in QUANTITIES:
        e = [x for c in cases if (x := _err(c, q)) is not None]
        if e:
            out[f"forecast_p50_error_pct_{q}_lifepo4{tag}"] = round(statistics.mean(e), 2)
        out[f"forecast_p50_error_n_{q}_lifepo4{tag}"] = float(len(e))
    cov = [_covered(c, q) for c in cases for q in QUANTITIES]
    out[f"forecast_p10_p90_coverage_lifepo4{tag}"] = round(sum(cov) / len(cov), 3)
    out[f"forecast_seconds_per_case_lifepo4{tag}"] = round(
        statistics.mean(c["seconds"] for c in cases), 1)
    return out


def declared_figures() -> dict[str, float]:
    return _figures({"pack": "lifepo4", "cells": CELLS, "capacity_wh": 900.0}, "")


def undeclared_figures() -> dict[str, float]:
    return _figures({"pack": "li-ion", "cells": CELLS, "capacity_wh": 900.0}, "_read_as_li_ion")


def figures() -> dict[str, float]:
    return {**declared_figures(), **undeclared_figures()}


if __name__ == "__main__":
    import sys

    parts = {"declared": declared_figures, "undeclared": undeclared_figures}
    for name in sys.argv[1:] or ["declared", "undeclared"]:
        for k, v in parts[name]().items():
            print(f"{k:<48} {v}", flush=True)
