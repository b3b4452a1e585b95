"""Issue 15's seed sweep: every scenario flown on many draws of its noise,
the firmware unchanged, and every expectation checked on every one.

    from tests.seeds import sweep
    result = sweep(3, tick_s=1)            # 3 seeds after each scenario's own
    result = sweep(range(2, 102), 10)      # or these seeds, for every scenario
    result.figures()                       # scenario_seed_runs, _failures, _s
    for f in result.failures: print(f, f.replay())

    python -m tests.seeds [--tick S] [--seeds N | --from A --seeds N] [--engine E]

A scenario is tuned at its own seed (`seed` in its TOML, 1 for all seven)
and `make test` flies it there (tests/test_sim_missions.py). A bad day is
also another draw of the same noise (sensor noise, lag, the plant's
disturbances: sim/rng.py seeded with the seed), so the sweep flies each
scenario on other seeds through sim.run.run, the same run `podctl sim run`
makes, and judges it with the same expectations (sim/expect.py, the log
checked by podctl.verdict.log_intact). A run is one process's work; the
runs share out over `workers` processes (the longest scenarios first).

A failure names its scenario, seed, tick and the expectation's line, and
replays alone: `podctl sim run SCENARIO --seed S --tick-s T`.

The figures (tests/bench.py):
  bench_figures()  3 seeds of each scenario at the 1 s tick (the tuned seed
                   + 1 .. + 3): scenario_seed_runs, scenario_seed_failures
                   (target 0), scenario_seed_s;
  soak_figures()   20 seeds of each at the 1 s tick (tuned + 1 .. + 20) and
                   100 at 10 s (tuned + 1 .. + 100): the same names, _soak.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from sim import scenario

BENCH_SEEDS = 3  # make bench: at the 1 s tick, after each scenario's tuned seed
SOAK_SEEDS_1S = 20  # make soak: at the 1 s tick
SOAK_SEEDS_10S = 100  # make soak: at the 10 s tick


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold on one seed."""

    scenario: str
    seed: int
    tick_s: int
    expectation: str  # sim/expect.py's line, or the run's error
    engine: str = "cpython"

    def replay(self) -> str:
        """The command that flies this run again alone."""
        eng = "" if self.engine == "cpython" else f" --engine {self.engine}"
        return f"podctl sim run {self.scenario} --seed {self.seed} --tick-s {self.tick_s}{eng}"

    def __str__(self) -> str:
        return f"{self.scenario} seed {self.seed} at {self.tick_s} s: {self.expectation}"


@dataclass
class Sweep:
    tick_s: int
    engine: str
    seeds: dict[str, list[int]]  # scenario -> the seeds flown
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        return sum(len(s) for s in self.seeds.values())

    @property
    def failed_runs(self) -> int:
        """Runs with at least one failed expectation."""
        return len({(f.scenario, f.seed) for f in self.failures})

    def figures(self, suffix: str = "") -> dict[str, float]:
        return {
            f"scenario_seed_runs{suffix}": self.runs,
            f"scenario_seed_failures{suffix}": self.failed_runs,
            f"scenario_seed_s{suffix}": round(self.seconds, 1),
        }


def _fly(job: tuple[str, int, int, str]) -> list[Failure]:
    """One run (in a worker process): the expectations that failed."""
    from podctl.sim_cmds import load_run_inputs
    from podctl.verdict import log_intact
    from sim import run as simrun

    name, seed, tick_s, engine = job
    try:
        sc, prof = load_run_inputs(name, tick_s)
        res = simrun.run(sc, prof, engine, seed=seed, verify_log=log_intact)
    except Exception as e:  # a run that ends in an error fails all it was to show
        return [Failure(name, seed, tick_s, f"the run failed: {type(e).__name__}: {e}", engine)]
    return [Failure(name, seed, tick_s, text, engine) for ok, text in res.checks if not ok]


def _seed_lists(seeds: int | Iterable[int], names: list[str]) -> dict[str, list[int]]:
    if isinstance(seeds, int):
        # n seeds after each scenario's tuned one (its own is make test's)
        out = {}
        for name in names:
            tuned = scenario.load(name)["seed"]
            out[name] = [tuned + i for i in range(1, seeds + 1)]
        return out
    chosen = list(seeds)
    return {name: chosen for name in names}


def sweep(
    seeds: int | Iterable[int],
    tick_s: int,
    engine: str = "cpython",
    workers: int = 2,
    scenarios: Iterable[str] | None = None,
) -> Sweep:
    """Fly every scenario (or those named) on each seed at tick_s: seeds is
    a count (that many after each scenario's tuned seed) or the seeds
    themselves. Failures come sorted by scenario and seed."""
    names = list(scenarios) if scenarios is not None else scenario.scenario_names()
    chosen = _seed_lists(seeds, names)
    # the longest missions first, so the last runs to finish are short ones
    length = {n: scenario.load(n)["duration_s"] for n in names}
    jobs = [(n, s, tick_s, engine) for n in sorted(names, key=lambda n: -length[n])
            for s in chosen[n]]
    t = time.perf_counter()
    failures: list[Failure] = []
    if workers <= 1:
        for job in jobs:
            failures += _fly(job)
    else:
        # spawn: a fresh interpreter per worker, whatever threads the caller runs
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            for got in pool.map(_fly, jobs):
                failures += got
    failures.sort(key=lambda f: (f.scenario, f.seed))
    return Sweep(tick_s, engine, chosen, failures, time.perf_counter() - t)


def _report(result: Sweep, label: str) -> None:
    for f in result.failures:
        print(f"seeds: {label}: {f}  (replay: {f.replay()})", file=sys.stderr)


def bench_figures() -> dict[str, float]:
    """make bench: each scenario on the 3 seeds after its tuned one, at the
    1 s tick (21 runs); failures go to stderr."""
    result = sweep(BENCH_SEEDS, 1)
    _report(result, "bench")
    return result.figures()


def soak_figures() -> dict[str, float]:
    """make soak: each scenario on 20 seeds at the 1 s tick and on 100 at
    the 10 s tick (tuned + 1 onwards); the runs, failed runs and seconds of
    both sweeps summed, under the _soak names."""
    slow = sweep(SOAK_SEEDS_1S, 1)
    _report(slow, "soak 1 s")
    fast = sweep(SOAK_SEEDS_10S, 10)
    _report(fast, "soak 10 s")
    return {
        "scenario_seed_runs_soak": slow.runs + fast.runs,
        "scenario_seed_failures_soak": slow.failed_runs + fast.failed_runs,
        "scenario_seed_s_soak": round(slow.seconds + fast.seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m tests.seeds",
        description="Fly every scenario on other seeds and check its expectations.",
    )
    ap.add_argument("--tick", type=int, default=10, help="firmware tick in seconds (default 10)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per scenario (default 10)")
    ap.add_argument("--from", dest="first", type=int, default=None,
                    help="first seed (default: the one after each scenario's tuned seed)")
    ap.add_argument("--engine", choices=("cpython", "micropython"), default="cpython")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("scenario", nargs="*", help="scenarios (default: all)")
    args = ap.parse_args(argv)
    seeds: int | range = args.seeds
    if args.first is not None:
        seeds = range(args.first, args.first + args.seeds)
    result = sweep(seeds, args.tick, args.engine, args.workers, args.scenario or None)
    for f in result.failures:
        print(f)
        print(f"  replay: {f.replay()}")
    print(
        f"{result.runs} runs at {result.tick_s} s on {result.engine}, "
        f"{result.failed_runs} failed ({len(result.failures)} expectations), "
        f"{result.seconds:.0f} s"
    )
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
