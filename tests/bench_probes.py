"""Probe exclusion churn (issue 17 follow-up, SPEC 9.3): how many
PROBE_FAULT and PROBE_RECOVERED events each scenario logs, and whether its
expectations hold, on seeds 1-4 at the 10 s tick.

A drifting probe at the disagreement limit used to be excluded and
recovered again and again (probe-failure: 7 pairs around hour 138); each
pair is two events in the log and two rows of the QA report. The figure is
the log's own count, read back through the block walk and decode.

    .venv/bin/python -m tests.bench_probes [--tick S] [--seeds 1,2,3,4] [scenario ...]
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

from protocol import log

SEEDS = (1, 2, 3, 4)
TICK_S = 10


Row = tuple[str, int, int, list[str], str]


def _fly(job: tuple[str, int, int]) -> Row:
    """One run: (scenario, seed, PROBE_FAULT + PROBE_RECOVERED count, the
    expectations that failed, which probes: "p2 out 1 back 0, ...")."""
    from podctl import blocks, decode
    from podctl.sim_cmds import load_run_inputs
    from podctl.verdict import log_intact
    from sim import run as simrun

    name, seed, tick_s = job
    sc, prof = load_run_inputs(name, tick_s)
    res = simrun.run(sc, prof, "cpython", seed=seed, verify_log=log_intact)
    found, _ = blocks.walk(res.log)
    _, events = decode.decode(res.log, [b for b in found if b.seq is not None])
    churn = [e for e in events if e[2] in (log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED)]
    per = ", ".join(
        f"p{p} out {sum(1 for e in churn if e[3] == p and e[2] == log.EV_PROBE_FAULT)}"
        f" back {sum(1 for e in churn if e[3] == p and e[2] == log.EV_PROBE_RECOVERED)}"
        for p in sorted({e[3] for e in churn}))
    return name, seed, len(churn), [text for ok, text in res.checks if not ok], per


def measure(
    scenarios: Iterable[str] | None = None,
    seeds: Iterable[int] = SEEDS,
    tick_s: int = TICK_S,
    workers: int = 2,
) -> list[Row]:
    from sim import scenario

    names = list(scenarios) if scenarios else scenario.scenario_names()
    jobs = [(n, s, tick_s) for n in names for s in seeds]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(_fly, jobs))


def figures() -> dict[str, float]:
    """Per scenario, the most PROBE_FAULT + PROBE_RECOVERED events on any of
    seeds 1-4 at the 10 s tick, and the runs whose expectations failed."""
    rows = measure()
    out: dict[str, float] = {}
    for name, _seed, churn, _, _ in rows:
        key = f"probe_fault_recovered_events_max_{name.replace('-', '_')}_count"
        out[key] = max(out.get(key, 0), churn)
    out["probe_sweep_failed_runs_count"] = sum(1 for r in rows if r[3])
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.bench_probes", description=__doc__)
    ap.add_argument("--tick", type=int, default=TICK_S)
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("scenario", nargs="*")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    failed = 0
    for name, seed, churn, bad, per in measure(args.scenario, seeds, args.tick, args.workers):
        print(f"{name} seed {seed} tick {args.tick} s: {churn} PROBE_FAULT+RECOVERED ({per})"
              + ("" if not bad else "; FAILED: " + "; ".join(bad)))
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
