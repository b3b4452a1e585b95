"""`make soak`: the long sweeps, their figures merged into build/bench.json
under the bench's names with a `_soak` suffix (the other keys kept).

    python -m tests.soak                   # every group
    python -m tests.soak powercut fuzz     # those named

Groups:
  powercut  issue 15's power cuts (tests/powercut.py soak): every flash
            operation of each seed's workload cut, clean and torn, and
            every double cut (a first cut in the key rotation's, the
            profile commit's or a log erase's window, then a second at each
            operation of the boot after it, clean and torn), seeds 1, 2, ...
            until the cut points reach 100,000: powercut_points_soak,
            powercut_records_lost_soak, ..._profiles_lost, _keys_lost,
            _seq_reused, _boot_failures, _unverified (targets 0),
            powercut_double_points_soak, powercut_double_failed_soak,
            powercut_seeds_soak, powercut_s_soak. The failing cut points go
            to stderr, with case ids that replay them
            (python -m tests.powercut replay s1-n3570-m5).
  fuzz      the keyed fuzzer of the link (tests/fuzz.py) on CPython, 10^6
            cases: five seeds of 200,000, two at a time: fuzz_cases_soak,
            fuzz_crashes_soak (target 0), fuzz_s_soak.
  seeds     the scenarios on many seeds (tests/seeds.py's soak_figures),
            skipped if that module is not there.
  rp2hal    issue 16: nominal and return-slip at full length at their own
            1 s tick, heater-failure and reset-reentry at 10 s, in closed
            loop through the unchanged rp2 HAL on the modelled board
            (sim/rp2board/fly.py soak_figures; about twice as long as with
            two): rp2hal_missions_soak, rp2hal_mission_failures_soak
            (target 0).
  accounting issue 17: in band + out + unknown = duration on every phase of
            every scenario, more seeds (tests/accounting.py):
            accounting_violations_soak (target 0).

Long work prints its progress (done / total, elapsed) to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from sim import upy

OUT = upy.ROOT / "build" / "bench.json"
SUFFIX = "_soak"
FUZZ_SEEDS = (11, 12, 13, 14, 15)
FUZZ_CASES = 200_000  # each: 10^6 in all


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress(group: str, t0: float, unit: str = "points") -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        s = time.perf_counter() - t0
        eta = s / done * (total - done) if done else 0
        _say(f"soak {group}: {done:,} / {total:,} {unit}, {s:.0f} s"
             f" (about {eta:.0f} s to go)")

    return show


def powercut_figures() -> dict[str, float]:
    from tests import powercut

    t0 = time.perf_counter()
    sweeps = powercut.soak(progress=_progress("powercut", t0))
    figures = powercut.soak_figures(sweeps, time.perf_counter() - t0, SUFFIX)
    for s in sweeps:
        for check in powercut.CHECKS:
            if s.count(check):
                _say(f"soak powercut: seed {s.run.seed}: {check} failed at {s.where(check)}")
        for case in s.failed[:3]:
            _say(f"soak powercut: e.g. {case}")
    return figures


def _fuzz(seed: int) -> dict:
    from tests import fuzz

    return fuzz.run(seed, FUZZ_CASES)


def fuzz_figures() -> dict[str, float]:
    t0 = time.perf_counter()
    show = _progress("fuzz", t0, "cases")
    total = FUZZ_CASES * len(FUZZ_SEEDS)
    cases = crashes = 0
    with ProcessPoolExecutor(2) as pool:
        for got in pool.map(_fuzz, FUZZ_SEEDS):
            cases += got["cases"]
            crashes += got["crashes"]
            for failure in got["failures"]:
                _say(f"soak fuzz: seed {got['seed']}: {failure}")
            show(cases, total)
    return {f"fuzz_cases{SUFFIX}": cases, f"fuzz_crashes{SUFFIX}": crashes,
            f"fuzz_s{SUFFIX}": round(time.perf_counter() - t0, 1)}


def seeds_figures() -> dict[str, float]:
    try:
        from tests import seeds
    except ImportError:
        _say("soak seeds: skipped (no tests/seeds.py)")
        return {}
    if not hasattr(seeds, "soak_figures"):
        _say("soak seeds: skipped (tests/seeds.py has no soak_figures)")
        return {}
    got = seeds.soak_figures()
    return {k if k.endswith(SUFFIX) else k + SUFFIX: v for k, v in got.items()}


def rp2hal_figures() -> dict[str, float]:
    from sim.rp2board import fly

    got = fly.soak_figures(1)
    return {k if k.endswith(SUFFIX) else k + SUFFIX: v for k, v in got.items()}


def accounting_figures() -> dict[str, float]:
    """Issue 17, finding 7: in band + out + unknown = duration on every phase
    of every scenario, on its tuned seed and more (tests/accounting.py)."""
    from tests import accounting

    return accounting.figures()


GROUPS: dict[str, Callable[[], dict[str, float]]] = {
    "powercut": powercut_figures,
    "accounting": accounting_figures,
    "fuzz": fuzz_figures,
    "seeds": seeds_figures,
    "rp2hal": rp2hal_figures,
}


def merge(figures: dict[str, float]) -> None:
    """Write figures into build/bench.json, every other key kept."""
    OUT.parent.mkdir(exist_ok=True)
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    old.update(figures)
    OUT.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or list(GROUPS)
    unknown = set(names) - set(GROUPS)
    if unknown:
        raise SystemExit(
            f"soak: no group {', '.join(sorted(unknown))}; groups: {', '.join(GROUPS)}")
    t = time.perf_counter()
    figures: dict[str, float] = {}
    for name in names:
        g = time.perf_counter()
        _say(f"soak {name}: started")
        got = GROUPS[name]()
        merge(got)  # each group's as it ends: a later group's failure keeps them
        figures.update(got)
        _say(f"soak {name}: done in {time.perf_counter() - g:.0f} s")
    if figures:
        width = max(len(k) for k in figures)
        for k, v in figures.items():
            print(f"{k:<{width}}  {v}")
    print(f"wrote {OUT} in {time.perf_counter() - t:.1f} s")
    bad = [k for k, v in figures.items()
           if v and any(k.endswith(x + SUFFIX) for x in (
               "_lost", "_reused", "_failures", "_unverified", "_failed", "_crashes",
               "_violations"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
