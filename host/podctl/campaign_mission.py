"""One run of a campaign: a pure function of (plan, seed), and its files.

    plan = Plan.make("nominal", disperse="default", hours=24)
    row, log = fly(plan, 7)                  # what `podctl sim run nominal
                                             #  --seed 7 --disperse default
                                             #  --hours 24` flies
    write_run(out, row, log); read_row(out, 7)

The plan carries the loaded scenario, the compiled profile and the parsed
dispersion as plain data, so a worker (a local process or a Dask worker on
another machine) reads no file of ours: it rebuilds the run from the plan
and the seed alone. Each run's result is written as its own files, each
atomically (a temporary name, then os.replace): runs/seed-S.parquet (one
row) after logs/seed-S.bin. A run is done when its row file exists; a
killed worker leaves at most a temporary file, which nothing reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podctl.errors import BadInput
from sim import disperse, scenario
from sim import run as simrun

RUNS = "runs"
LOGS = "logs"


@dataclass(frozen=True)
class Plan:
    """What every run of a campaign shares."""

    name: str  # the scenario's name
    sc: dict[str, Any]  # loaded, validated, its tick applied; full length
    profile: bytes  # the compiled profile the firmware flies
    spec: dict[str, Any] | None  # the parsed dispersion, None: no dispersion
    dispersion: str  # its name (or path), "none"
    hours: float | None  # fly the first `hours` only (a leg), None: all of it
    engine: str = "cpython"

    @classmethod
    def make(
        cls,
        scenario_name: str,
        disperse_name: str | None = "default",
        hours: float | None = None,
        tick_s: int | None = None,
        engine: str = "cpython",
    ) -> Plan:
        """Load and check everything a campaign needs; BadInput with one line
        for an unknown scenario, a bad profile or a bad dispersion.
        disperse_name "default" is the scenario's own default
        (sim.disperse.for_scenario), None or "none" disperses nothing."""
        from podctl.sim_cmds import load_run_inputs

        sc, prof = load_run_inputs(scenario_name, tick_s)
        if engine not in simrun.ENGINES:
            raise BadInput(f"unknown engine {engine!r} (choose {' or '.join(simrun.ENGINES)})")
        if hours is not None and not (hours > 0):
            raise BadInput(f"hours must be a positive number, got {hours!r}")
        spec = None
        shown = "none"
        if disperse_name not in (None, "none"):
            want = disperse.for_scenario(sc) if disperse_name == "default" else disperse_name
            try:
                spec = disperse.load(want, sc)
            except disperse.DisperseError as e:
                raise BadInput(f"dispersion: {e}") from None
            shown = spec["name"]
        return cls(sc["name"], sc, prof, spec, shown, hours, engine)

    def digest(self) -> str:
        """What makes two campaigns the same campaign (seeds apart)."""
        h = hashlib.sha256()
        body = {
            "sc": {k: v for k, v in self.sc.items() if k != "path"},
            "spec": self.spec,
            "hours": self.hours,
            "engine": self.engine,
        }
        h.update(json.dumps(body, sort_keys=True).encode())
        h.update(self.profile)
        return h.hexdigest()[:16]

    def parameters(self) -> list[str]:
        return disperse.parameters(self.spec, self.sc)

    def scenario_for(self, seed: int) -> tuple[dict[str, Any], dict[str, float]]:
        """The scenario run `seed` flies and the values drawn for it."""
        sc, values = disperse.apply(self.sc, self.spec, seed)
        if self.hours is not None:
            sc = scenario.leg(sc, self.hours)
        return sc, values

    def expect_labels(self) -> list[str]:
        sc = self.sc if self.hours is None else scenario.leg(self.sc, self.hours)
        return labels(sc["expects"])

    def replay(self, seed: int) -> str:
        """The command that flies run `seed` alone, byte for byte."""
        path = Path(self.sc["path"])
        shipped = path.parent == scenario.SCENARIO_DIR and path.stem == self.name
        cmd = f"podctl sim run {self.name if shipped else path}"
        cmd += f" --seed {seed} --tick-s {self.sc['tick_s']}"
        if self.spec is not None:
            cmd += f" --disperse {self.dispersion}"
        if self.hours is not None:
            cmd += f" --hours {self.hours:g}"
        if self.engine != "cpython":
            cmd += f" --engine {self.engine}"
        return cmd


def labels(expects: list[dict[str, Any]]) -> list[str]:
    """One name per expectation: its kind and what it is about
    ("no_alarm high", "probe_fault 1"); a repeat gets its index."""
    out: list[str] = []
    for i, e in enumerate(expects):
        what = e.get("alarm", e.get("probe"))
        label = e["kind"] + ("" if what is None else f" {what}")
        out.append(label if label not in out else f"{label} #{i}")
    return out


def fly(plan: Plan, seed: int, out: str | None = None) -> tuple[dict[str, Any], bytes]:
    """Run `seed` of the plan: (its row, its log). With `out`, the run
    writes its own files there first (a finished run survives its worker).
    A run that cannot fly (a draw the scenario rules refuse, the engine
    failing) is a row with its error, not an exception: one bad run must
    not end a campaign of hundreds. A run already done in `out` is read
    back, not flown again."""
    from podctl.verdict import log_intact

    if out is not None:
        # already done (Dask recomputing a result lost with its worker, or
        # a restart): what is on disk stands, untouched
        done = read_row(Path(out), seed)
        if done is not None:
            lp = log_path(Path(out), seed)
            return done, lp.read_bytes() if lp.exists() else b""
    t = time.perf_counter()
    cpu = time.process_time()
    names = plan.expect_labels()
    try:
        sc, values = plan.scenario_for(seed)
        res = simrun.run(sc, plan.profile, engine=plan.engine, seed=seed, verify_log=log_intact)
    except (disperse.DisperseError, simrun.RunError) as e:
        row = _row(plan, seed, {}, None, None, names, f"{e}")
        log = b""
    except Exception as e:  # noqa: BLE001 -- a bug in one run is that run's error, named
        row = _row(plan, seed, {}, None, None, names, f"{type(e).__name__}: {e}")
        log = b""
    else:
        row = _row(plan, seed, values, sc, res, names, None)
        log = res.log
    row["run_s"] = round(time.perf_counter() - t, 3)
    row["run_cpu_s"] = round(time.process_time() - cpu, 3)  # this process's, not the machine's
    if out is not None:
        write_run(Path(out), row, log)
    return row, log


def _row(
    plan: Plan,
    seed: int,
    values: dict[str, float],
    sc: dict[str, Any] | None,
    res: simrun.Result | None,
    names: list[str],
    error: str | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"seed": seed, "error": error}
    for p in plan.parameters():
        row[p] = values.get(p)
    if res is None or sc is None:
        row.update(
            passed=False, excursion=None, excursions=None, worst_outside_c=None,
            band_margin_c=None, out_of_band_s=None, in_band_percent=None,
            battery_soc_end=None, battery_margin_wh=None, battery_empty_h=None, alarms=None,
        )
        for n in names:
            row[f"expect.{n}"] = None
            row[f"expect.{n}.line"] = error
        return row
    s = res.summary
    exc = sum(len(p["excursions"]) for p in s["phases"])
    flown = [p for p in s["phases"] if p["seconds"]]
    margin = min(
        (min(p["band_c"][1] - p["max_c"], p["min_c"] - p["band_c"][0]) for p in flown),
        default=None,
    )
    empty = s["battery_empty_s"]
    row.update(
        passed=res.passed,
        excursion=exc > 0,
        excursions=exc,
        worst_outside_c=s["worst_outside_c"],
        # the closest the true payload came to a band edge (< 0: outside):
        # continuous even when every run holds, so it ranks parameters too
        band_margin_c=margin,
        out_of_band_s=sum(p["seconds"] - p["in_band_s"] for p in s["phases"]),
        in_band_percent=s["in_band_percent"],
        battery_soc_end=s["battery_soc"],
        battery_margin_wh=s["battery_soc"] * sc["power"]["capacity_wh"],
        battery_empty_h=None if empty is None else empty / 3600.0,
        alarms=" ".join(sorted(s["alarms"])),
    )
    for n, (ok, line) in zip(names, res.checks):
        row[f"expect.{n}"] = ok
        row[f"expect.{n}.line"] = line
    return row


# -- files --------------------------------------------------------------------


def run_path(out: Path, seed: int) -> Path:
    return out / RUNS / f"seed-{seed}.parquet"


def log_path(out: Path, seed: int) -> Path:
    return out / LOGS / f"seed-{seed}.bin"


def _atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_run(out: Path, row: dict[str, Any], log: bytes) -> None:
    """The log, then the row that marks the run done; each atomic."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    seed = row["seed"]
    if log:
        _atomic(log_path(out, seed), log)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row]), buf)
    _atomic(run_path(out, seed), buf.getvalue())


def read_row(out: Path, seed: int) -> dict[str, Any] | None:
    """A finished run's row, or None when the run is not done (or its file
    is not a row of ours: it is flown again)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = run_path(out, seed)
    try:
        rows = pq.read_table(p).to_pylist()
    except (OSError, ValueError, pa.ArrowException):  # absent, torn, not Parquet: not done
        return None
    if len(rows) != 1 or rows[0].get("seed") != seed:
        return None
    return copy.deepcopy(rows[0])
