"""Issue 17, finding 7: the accounting identity on simulated missions.
For every phase, in band + out of band + unknown (no valid reading + no
record) is its duration to the second, and only records with the profile's
min_probes trusted probes are in or out of band; a phase entered once and clocked at
both ends lasts its own start to end; the mission is its phases together
and, when clocked, its first phase's start to the device's end of the log.

    from tests.accounting import sweep
    got = sweep(["nominal", "reset-reentry"], [1, 301], tick_s=10)
    got.runs, got.violations          # (scenario, seed, what did not add up)

    python -m tests.accounting [--tick S] [--seeds N] [scenario ...]

figures() (make soak, when the lead registers it): every scenario on its
tuned seed and the SOAK_SEEDS after it at 10 s: accounting_runs_soak,
accounting_violations_soak (target 0), accounting_s_soak.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

SOAK_SEEDS = 10
EXACT = 1e-6  # s: the figures are sums of whole seconds; float error only


@dataclass
class Sweep:
    runs: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def violations(a, name: str = "") -> list[str]:  # a: podctl.analysis.Analysis
    """What does not add up in an analysis, one line each ([] when all does)."""
    import numpy as np

    bad = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            bad.append(f"{name}: {what}")

    shared = {g.shared for g in a.gaps if g.shared is not None}
    for sh in shared:
        bad += _shared_violations(a, sh, name)
    total = 0.0
    for ps in a.phases:
        p = f"phase {ps.band.index} {ps.band.name}"
        parts = ps.in_band_s + ps.out_band_s + ps.no_reading_s + ps.gap_s
        check(abs(parts - ps.seconds) <= EXACT,
              f"{p}: in {ps.in_band_s} + out {ps.out_band_s} + unknown {ps.unknown_s} "
              f"!= duration {ps.seconds}")
        check(ps.gap_s >= -EXACT, f"{p}: negative time without a record ({ps.gap_s})")
        check(abs(ps.above_s + ps.below_s - ps.out_band_s) <= EXACT,
              f"{p}: above + below != out of band")
        check(abs(sum(ps.hist_s) - ps.in_band_s - ps.out_band_s) <= EXACT,
              f"{p}: the histogram does not hold every trusted second")
        # what the readings stand for in the phase (each record's own time
        # and what a reading before a phase change carries into it), summed
        # independently of _figures
        sp = a.spans
        mine = sp["phase"] == ps.band.index
        recs = float(sp["dt"][mine].sum())
        check(abs(recs - ps.in_band_s - ps.out_band_s - ps.no_reading_s) <= EXACT,
              f"{p}: its records stand for {recs} s, in + out + no reading says otherwise")
        # only a valid reading (at least min_probes trusted probes) is in or out of band
        enough = ((~np.isnan(a.probes)).sum(axis=1) >= a.min_probes)[sp["of"]]
        valid_s = float(sp["dt"][mine & enough].sum())
        check(abs(valid_s - ps.in_band_s - ps.out_band_s) <= EXACT,
              f"{p}: its records with {a.min_probes}+ trusted probes stand for {valid_s} s, "
              f"in + out of band is {ps.in_band_s + ps.out_band_s}")
        if ps.visits == 1 and ps.start is not None and ps.end is not None and not ps.unbounded:
            span = ps.end.utc - ps.start.utc
            if not math.isnan(span):
                check(abs(span - ps.seconds) <= EXACT,
                      f"{p}: {ps.start}..{ps.end} is {span} s, its duration says {ps.seconds}")
        # every second without a record is in a listed gap (Analysis.gaps):
        # the gaps that began in the phase hold what it counts unmonitored;
        # the silences around unplaced boots share one budget, counted once
        listed = sum(g.longest or 0.0 for g in a.gaps
                     if g.phase == ps.band.index and g.shared is None)
        listed += sum(sh.seconds for sh in shared if sh.phase == ps.band.index)
        check(ps.unbounded or abs(listed - ps.gap_s) <= EXACT,
              f"{p}: {ps.gap_s} s without a record, its gaps list {listed} s")
        if ps.start is not None and ps.end is not None and math.isnan(ps.end.utc - ps.start.utc):
            # an end no clock places: either a bounded silence was counted or it says unbounded
            check(ps.unbounded or not any(g.longest is None and g.phase == ps.band.index
                                          for g in a.gaps),
                  f"{p}: a silence nothing bounds, but the phase does not say so")
        total += ps.seconds
    m = a.mission
    check(abs(m.seconds - total) <= EXACT, f"mission {m.seconds} != its phases {total}")
    check(abs(m.in_band_s + m.out_band_s + m.unknown_s - m.seconds) <= EXACT,
          "mission: in + out + unknown != its duration")
    first = a.phases[0].start if a.phases else None
    end = a.until if a.until is not None else a.last
    if first is not None and end is not None and not m.unbounded:
        span = end.utc - first.utc
        if not math.isnan(span):
            check(abs(span - m.seconds) <= EXACT,
                  f"mission: {first}..{end} is {span} s, its duration says {m.seconds}")
    check(bool(np.all(a.dt >= 0)), "a record stands for negative time")
    # a reading stands for the time to the next record of its boot, a phase
    # change between them or not: no unmonitored second at a boundary
    sp = a.spans
    check(bool(np.array_equal(sp["dt"][sp["rec"]], a.dt)), "a record's own span is not its dt")
    held = np.bincount(sp["of"], sp["dt"], minlength=a.records)
    nxt = np.zeros(a.records, dtype=bool)
    nxt[:-1] = ~a.gap_after[:-1] & (a.boot[1:] == a.boot[:-1])
    spacing = np.zeros(a.records)
    spacing[:-1] = a.t[1:] - a.t[:-1]
    short = np.flatnonzero(nxt & (np.abs(held - spacing) > EXACT))
    check(not len(short), f"{len(short)} readings stand for less or more than the time to the "
          f"next record (the first at boot {a.boot[short[0]] if len(short) else 0} "
          f"+{a.t[short[0]] if len(short) else 0:.0f} s)")
    return bad


def _shared_violations(a, sh, name: str) -> list[str]:
    """A budget the silences around unplaced boots share: each of them at
    most it, and it is exactly the clocked interval less what those boots'
    readings stand for and the silences inside them (summed here from the
    records, not as the analysis bounds it)."""
    import numpy as np

    bad = []
    around = f"{name}: the silences around boot(s) {sh.boots}"
    mine = [g for g in a.gaps if g.shared == sh]
    if len(mine) != sh.silences:
        bad.append(f"{around}: {len(mine)} gaps share it, it says {sh.silences}")
    if any(g.longest is None or g.longest > sh.seconds + EXACT for g in mine):
        bad.append(f"{around}: one is longer than all of them together ({sh.seconds} s)")
    boots = list(sh.boots)
    read = float(a.spans["dt"][np.isin(a.spans["boot"], boots)].sum())
    inside = sum(g.longest or 0.0 for g in a.gaps
                 if g.shared is None and g.start.boot == g.end.boot and g.start.boot in boots)
    wall = sh.before.utc - sh.after.utc
    if not abs(wall - read - inside - sh.seconds) <= EXACT:
        bad.append(f"{around}: {wall} s between the clocked moments, {read} s read and "
                   f"{inside} s of gaps inside leave {wall - read - inside} s, "
                   f"together they say {sh.seconds} s")
    return bad


def analyse_run(name: str, seed: int | None, tick_s: int):
    """One mission as sim run flies it, pulled and analysed as the report
    does: (analysis, verdict, data)."""
    from podctl import analysis, assess
    from podctl.pulled import open_pulled
    from podctl.sim_cmds import load_run_inputs, write_manifest
    from podctl.verdict import verify
    from protocol import profile as pf
    from sim import run as simrun

    sc, prof = load_run_inputs(name, tick_s)
    res = simrun.run(sc, prof, seed=seed)
    with tempfile.TemporaryDirectory(prefix="podacct") as d:
        log_path = Path(d) / "log.bin"
        log_path.write_bytes(res.log)
        write_manifest(log_path, sc, res)
        pulled = open_pulled(log_path)
        v = verify(pulled, res.key)
        data = pulled.data(v.blocks)
    profile = pf.check(prof)
    return analysis.analyse(data, profile, until=assess.log_end(v)), v, data


def _fly(job: tuple[str, int | None, int]) -> list[str]:
    name, seed, tick_s = job
    try:
        a = analyse_run(name, seed, tick_s)[0]
    except Exception as e:  # a run that fails cannot show its figures add up
        return [f"{name} seed {seed}: the run failed: {type(e).__name__}: {e}"]
    return violations(a, f"{name} seed {seed} at {tick_s} s")


def sweep(names: Iterable[str], seeds: Iterable[int | None], tick_s: int = 10,
          workers: int = 2) -> Sweep:
    """Every scenario named on every seed (None: its tuned seed)."""
    jobs = [(n, s, tick_s) for n in names for s in seeds]
    t = time.perf_counter()
    got = Sweep(runs=len(jobs))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        for bad in pool.map(_fly, jobs):
            got.violations += bad
    got.seconds = time.perf_counter() - t
    return got


def figures() -> dict[str, float]:
    from sim import scenario

    got = sweep(scenario.scenario_names(), [None, *range(2, 2 + SOAK_SEEDS)])
    for v in got.violations:
        print(f"accounting: {v}", file=sys.stderr)
    return {"accounting_runs_soak": got.runs,
            "accounting_violations_soak": len(got.violations),
            "accounting_s_soak": round(got.seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from sim import scenario

    ap = argparse.ArgumentParser(prog="python -m tests.accounting")
    ap.add_argument("--tick", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per scenario from 2 (default 3)")
    ap.add_argument("scenario", nargs="*")
    args = ap.parse_args(argv)
    got = sweep(args.scenario or scenario.scenario_names(), range(2, 2 + args.seeds), args.tick)
    for v in got.violations:
        print(v)
    print(f"{got.runs} runs at {args.tick} s, {len(got.violations)} violations, "
          f"{got.seconds:.0f} s")
    return 1 if got.violations else 0


if __name__ == "__main__":
    sys.exit(main())
