"""Monte Carlo campaigns: one scenario flown on many seeds, each with its
container, sensors, faults and environment drawn again (sim/disperse.py),
the firmware unchanged, on all cores or on a Dask cluster.

    from podctl import campaign
    c = campaign.run("nominal", 200, out="build/campaign/nominal", hours=24)
    c.summary["excursion"]       # {count, n, rate, wilson95, clopper_pearson95, seeds}
    c.rows                       # one dict per run (the Parquet dataset's rows)
    c.passed                     # every run flew and held every expectation

Run S is seeded S (seeds `seed` .. `seed + runs - 1`) and is what
`podctl sim run SCENARIO --seed S --disperse NAME [--hours H]` flies alone,
byte for byte (c.replay(S) gives the command).

Where it runs: `workers` processes on this machine (default: every core
this process may use; 1 runs in this process), or a Dask cluster
(`scheduler="tcp://host:8786"`): one task per run, a pure function of the
plan and the seed (podctl.campaign_mission.fly). Each run writes its result
as its own files (DIR/runs/seed-S.parquet, DIR/logs/seed-S.bin; the client
writes them too when a remote worker's disk is not ours): a worker killed
mid-campaign loses no finished run, Dask retries the run it was flying
(distributed.scheduler.allowed-failures, 3 by default: past that the run is
reported lost, never waited for), and a campaign started again over the
same DIR flies only the seeds not yet done.

Outputs in DIR: campaign.json (the plan's identity), runs/ (the Parquet
dataset, one file per run), campaign.parquet (all rows in one file),
summary.json, plots/*.png, and with junit=FILE a JUnit XML.

The library prints nothing and never exits; progress(done, total) is
called as runs finish.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podctl import campaign_mission as mission
from podctl import campaign_stats
from podctl.campaign_mission import Plan
from podctl.errors import BadInput, LinkError

PLAN_FILE = "campaign.json"
CONNECT_TIMEOUT_S = 10


@dataclass
class Campaign:
    """What a campaign found (summary.json's content, and the rows)."""

    out: Path
    plan: Plan
    seeds: list[int]
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    flown: list[int] = field(default_factory=list)  # seeds flown by this call
    skipped: list[int] = field(default_factory=list)  # seeds already done in DIR
    lost: list[dict[str, Any]] = field(default_factory=list)  # {seed, reason}

    @property
    def passed(self) -> bool:
        return not self.lost and all(r["passed"] for r in self.rows)

    def replay(self, seed: int) -> str:
        return self.plan.replay(seed)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run(
    scenario: str,
    runs: int,
    out: str | Path,
    *,
    disperse: str | None = "default",
    seed: int = 1,
    hours: float | None = None,
    tick_s: int | None = None,
    engine: str = "cpython",
    workers: int | None = None,
    scheduler: str | None = None,
    junit: str | Path | None = None,
    plots: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Campaign:
    """Fly `runs` seeds of `scenario` (a name or a .toml path) from `seed`.
    disperse: a dispersion name or path, "default" (the scenario's own) or
    None (only the seed's sensor noise varies). hours: fly each run's first
    hours only (a leg: sim.scenario.leg). Raises BadInput (a bad scenario,
    dispersion, value or output folder) or LinkError (the scheduler cannot
    be reached); a run that fails is a row, not an exception."""
    if not isinstance(runs, int) or runs < 1:
        raise BadInput(f"runs must be at least 1, got {runs!r}")
    if not isinstance(seed, int) or not 0 <= seed or seed + runs > 2**64:
        raise BadInput(f"seed must be 0 or more (seeds up to 2**64 - 1), got {seed!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise BadInput(f"workers must be at least 1, got {workers!r}")
    if workers is not None and scheduler is not None:
        raise BadInput("give workers or a scheduler, not both")
    plan = Plan.make(scenario, disperse, hours, tick_s, engine)
    out = Path(out).resolve()
    if junit is not None:
        check_writable(Path(junit))
    # the scheduler before DIR: an unreachable one leaves nothing behind
    client = connect(scheduler) if scheduler is not None else None
    try:
        _claim(out, plan)
        seeds = list(range(seed, seed + runs))
        rows: dict[int, dict[str, Any]] = {}
        for s in seeds:
            row = mission.read_row(out, s)
            if row is not None:
                rows[s] = row
        skipped = sorted(rows)
        todo = [s for s in seeds if s not in rows]
        lost: list[dict[str, Any]] = []
        if progress is not None:
            progress(len(rows), len(seeds))
        t = time.perf_counter()
        if client is not None:
            results = _on_dask(client, plan, todo, out)
        elif (workers or default_workers()) == 1 or len(todo) <= 1:
            results = _here(plan, todo, out)
        else:
            results = _on_pool(workers or default_workers(), plan, todo, out)
        for s, got in results:
            if isinstance(got, str):
                lost.append({"seed": s, "reason": got})
            else:
                row, log = got
                if not mission.run_path(out, s).exists():
                    mission.write_run(out, row, log)  # a remote worker wrote on its own disk
                rows[s] = row
            if progress is not None:
                progress(len(rows) + len(lost), len(seeds))
    finally:
        if client is not None:
            client.close()
    elapsed = time.perf_counter() - t
    ordered = [rows[s] for s in seeds if s in rows]
    summary = _summary(plan, seeds, ordered, skipped, lost, elapsed, workers, scheduler)
    c = Campaign(out, plan, seeds, ordered, summary, [s for s in todo if s in rows],
                 skipped, sorted(lost, key=lambda x: x["seed"]))
    _write_results(c, junit, plots)
    return c


# -- where the runs fly: each yields (seed, (row, log)) or (seed, why lost) --

Result = tuple[int, "tuple[dict[str, Any], bytes] | str"]


def _here(plan: Plan, seeds: list[int], out: Path) -> Iterator[Result]:
    for s in seeds:
        yield s, mission.fly(plan, s, str(out))


def _on_pool(workers: int, plan: Plan, seeds: list[int], out: Path) -> Iterator[Result]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: the caller may run threads (a progress bar) that a
    # forked child would inherit mid-lock
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(seeds)), mp_context=ctx) as pool:
        futures = {pool.submit(mission.fly, plan, s, str(out)): s for s in seeds}
        try:
            for f in as_completed(futures):
                try:
                    yield futures[f], f.result()
                except Exception as e:  # noqa: BLE001 -- a dead worker process: the run is lost
                    yield futures[f], f"worker process died ({type(e).__name__})"
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def connect(scheduler: str, timeout_s: float | None = None) -> Any:
    """A distributed.Client on the scheduler, or LinkError in one line."""
    from distributed import Client

    wait = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        return Client(scheduler, timeout=f"{wait}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LinkError(f"scheduler {scheduler}: cannot connect: {reason}") from None


def _on_dask(client: Any, plan: Plan, seeds: list[int], out: Path) -> Iterator[Result]:
    from distributed import as_completed

    if seeds:
        token = plan.digest()[:8]
        keys = [f"podctl-{plan.name}-{token}-seed-{s}" for s in seeds]
        futures = client.map(
            mission.fly, [plan] * len(seeds), seeds, [str(out)] * len(seeds),
            key=keys, pure=False,
        )
        by_key = dict(zip(keys, seeds))
        try:
            # our client's loop: set_as_default=False leaves no default client
            for f in as_completed(futures, loop=client.loop):
                s = by_key[f.key]
                try:
                    yield s, f.result()
                except Exception as e:  # noqa: BLE001 -- KilledWorker past allowed-failures and kin
                    yield s, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        except BaseException:
            client.cancel(futures)
            raise


# -- files ---------------------------------------------------------------


def check_writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise BadInput(f"{path}: cannot write there (no such folder, or not writable)")


def _claim(out: Path, plan: Plan) -> None:
    """DIR holds this plan's campaign (or none yet): a restart continues
    it; another plan's runs are never mixed in."""
    ident = {"scenario": plan.name, "dispersion": plan.dispersion, "hours": plan.hours,
             "tick_s": plan.sc["tick_s"], "engine": plan.engine, "plan": plan.digest()}
    p = out / PLAN_FILE
    try:
        out.mkdir(parents=True, exist_ok=True)
        if p.exists():
            try:
                old = json.loads(p.read_text())
            except ValueError:
                raise BadInput(f"{p}: not a campaign file (damaged); use another -o") from None
            if old.get("plan") != ident["plan"]:
                raise BadInput(
                    f"{out}: holds another campaign ({old.get('scenario')}, dispersion "
                    f"{old.get('dispersion')}, hours {old.get('hours')}, tick "
                    f"{old.get('tick_s')} s); use another -o"
                )
            return
        tmp = out / f".{PLAN_FILE}.tmp"
        tmp.write_text(json.dumps(ident, indent=1) + "\n")
        os.replace(tmp, p)
    except OSError as e:
        raise BadInput(f"{out}: cannot write the campaign there: {e.strerror or e}") from None


def _summary(
    plan: Plan, seeds: list[int], rows: list[dict[str, Any]], skipped: list[int],
    lost: list[dict[str, Any]], elapsed: float, workers: int | None, scheduler: str | None,
) -> dict[str, Any]:
    params = plan.parameters()
    s = {
        "scenario": plan.name,
        "description": plan.sc["description"],
        "dispersion": plan.dispersion,
        "parameters": params,
        "hours": plan.hours if plan.hours is not None else plan.sc["duration_s"] / 3600.0,
        "leg": plan.hours is not None,
        "tick_s": plan.sc["tick_s"],
        "engine": plan.engine,
        "seeds": [seeds[0], seeds[-1]],
        "runs": len(seeds),
        "done": len(rows),
        "skipped": len(skipped),
        "lost": sorted(lost, key=lambda x: x["seed"]),
        "where": scheduler or f"{workers or default_workers()} local worker(s)",
        "elapsed_s": round(elapsed, 2),
        "replay": plan.replay(seeds[0]),
        **campaign_stats.summarise(rows, params, plan.expect_labels()),
    }
    if plan.hours is not None:
        from sim import scenario

        dropped = scenario.leg(plan.sc, plan.hours).get("dropped_expects", [])
        s["not_held_on_a_leg"] = mission.labels(dropped)
    return s


def _write_results(c: Campaign, junit: str | Path | None, plots: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from podctl import campaign_junit

    try:
        if c.rows:
            pq.write_table(pa.Table.from_pylist(c.rows), c.out / "campaign.parquet")
        if plots:
            from podctl import campaign_plots

            c.summary["plots"] = [
                p.name for p in campaign_plots.draw(c.out / "plots", c.rows, c.summary)
            ]
        (c.out / "summary.json").write_text(json.dumps(c.summary, indent=1) + "\n")
        if junit is not None:
            labels = c.plan.expect_labels()
            cases = [case for r in c.rows
                     for case in campaign_junit.from_row(c.plan.name, r, labels)]
            cases += [campaign_junit.Case(c.plan.name, x["seed"], lab, None,
                                          f"run lost: {x['reason']}")
                      for x in c.lost for lab in labels]
            campaign_junit.write(Path(junit), c.plan.name, cases)
    except OSError as e:
        why = e.strerror or e
        raise BadInput(f"{c.out}: cannot write the campaign's results: {why}") from None


def seeds_failing(rows: Iterable[dict[str, Any]]) -> list[int]:
    return [r["seed"] for r in rows if not r["passed"]]
