"""Issue 18's campaign figures (`make bench`, group campaign):

    python -m tests.bench_campaign [scaling] [campaign]   # prints the figures

A one-day leg: the nominal scenario's first 24 hours (sim.scenario.leg:
pad, ascent, 15.8 h of orbit), at its own 1 s tick (86,400 firmware ticks),
the default dispersion, on the CPython engine.

  campaign_missions_per_core_hour       one-day legs a core flies in an hour:
                                        3600 / the mean CPU seconds of a run
                                        in its worker (the 200-run campaign)
  campaign_missions_per_core_hour_wall  the same campaign by the wall clock:
                                        runs / (elapsed hours x workers),
                                        what this shared machine delivered
  campaign_scaling_efficiency_2_workers T(1 worker) / (2 x T(2 workers)), the
                                        same 20 runs, measured in this call
                                        (1 worker flies in this process), each
                                        time the best of two
  campaign_dask_overhead_pct            a LocalCluster of 2 worker processes
                                        against the local pool of 2, the same
                                        20 runs (the cluster started before
                                        the clock, the client's connection
                                        on it): 100 (T_dask - T_pool) / T_pool
  campaign_one_day_*                    the 200-run campaign: runs, failed
                                        runs, P(excursion) and its Wilson
                                        95 % bounds, seconds
  *_load_avg_1min                       the machine's load average as each
                                        part ended: the wall-clock figures
                                        (scaling, Dask, _wall) mean little
                                        when it is far above 2
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from podctl import campaign

SCENARIO = "nominal"
HOURS = 24
RUNS = 200
SCALING_RUNS = 20
SCALING_SEED = 10_001  # not the 200-run campaign's seeds


def _timed(out: Path, **kw) -> tuple[float, campaign.Campaign]:
    t = time.perf_counter()
    c = campaign.run(SCENARIO, out=out, hours=HOURS, plots=False, **kw)
    return time.perf_counter() - t, c


def scaling_figures() -> dict[str, float]:
    """1 worker, 2 workers and a 2-worker LocalCluster on the same runs."""
    from distributed import LocalCluster

    same = {"runs": SCALING_RUNS, "seed": SCALING_SEED}
    t1 = t2 = td = float("inf")
    with tempfile.TemporaryDirectory(prefix="podcampaign") as d:
        root = Path(d)
        # best of two, alternating: another process's burst only adds time
        for rep in range(2):
            t, c1 = _timed(root / f"one{rep}", workers=1, **same)
            t1 = min(t1, t)
            t, c2 = _timed(root / f"two{rep}", workers=2, **same)
            t2 = min(t2, t)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster:
            for rep in range(2):
                t, cd = _timed(root / f"dask{rep}", scheduler=cluster.scheduler_address, **same)
                td = min(td, t)
    assert not (c1.lost or c2.lost or cd.lost)
    return {
        "campaign_scaling_efficiency_2_workers": round(t1 / (2 * t2), 3),
        "campaign_dask_overhead_pct": round(100 * (td - t2) / t2, 1),
        # wall-clock figures on a shared machine: how busy it was
        "campaign_scaling_load_avg_1min": round(os.getloadavg()[0], 2),
    }


def campaign_figures() -> dict[str, float]:
    """The 200-run campaign of one-day legs on 2 workers."""
    with tempfile.TemporaryDirectory(prefix="podcampaign") as d:
        tc, big = _timed(Path(d) / "big", runs=RUNS, workers=2)
    cpu = [r["run_cpu_s"] for r in big.rows if r["error"] is None]
    exc = big.summary["excursion"]
    return {
        "campaign_missions_per_core_hour": round(3600 * len(cpu) / sum(cpu), 0),
        "campaign_missions_per_core_hour_wall": round(3600 * len(big.rows) / (tc * 2), 0),
        "campaign_one_day_runs": len(big.rows),
        "campaign_one_day_failed_runs": big.summary["failed"]["count"],
        "campaign_one_day_lost_runs": len(big.lost),
        "campaign_one_day_p_excursion": exc["rate"],
        "campaign_one_day_p_excursion_wilson_low": round(exc["wilson95"][0], 5),
        "campaign_one_day_p_excursion_wilson_high": round(exc["wilson95"][1], 5),
        "campaign_one_day_s": round(tc, 1),
        "campaign_one_day_load_avg_1min": round(os.getloadavg()[0], 2),
    }


def figures() -> dict[str, float]:
    return {**scaling_figures(), **campaign_figures()}


if __name__ == "__main__":
    import sys

    parts = {"scaling": scaling_figures, "campaign": campaign_figures}
    for name in sys.argv[1:] or list(parts):
        for k, v in parts[name]().items():
            print(f"{k:<42} {v}", flush=True)
