"""Issue 15, every seed: each scenario flown on seeds other than the one it
was tuned at (tests/seeds.py), at make test's 10 s tick, and every
expectation holds; and a failing expectation is reported with its scenario,
seed, tick and a command that replays it.

make test flies one seed of each scenario (7 runs, ~15 s on two cores:
make test must stay under 10 minutes); PODCTL_SEEDS=N flies N,
PODCTL_SEEDS_FROM=S starts them at seed S.
The wide sweeps are make bench's and make soak's (tests.seeds.bench_figures,
soak_figures) and `python -m tests.seeds`."""

from __future__ import annotations

import os
import shlex

from podctl.cli import main as cli
from sim import scenario
from tests import seeds

N = int(os.environ.get("PODCTL_SEEDS", 1))
# after the soak's 10 s seeds (tuned + 1 .. + 100), so make test adds draws
FIRST = int(os.environ.get("PODCTL_SEEDS_FROM", 201))


def test_every_scenario_holds_its_expectations_on_other_seeds():
    got = seeds.sweep(range(FIRST, FIRST + N), 10)
    assert got.runs == N * len(scenario.scenario_names())
    assert all(scenario.load(n)["seed"] not in got.seeds[n] for n in got.seeds)  # not tuned
    assert not got.failures, "\n".join(f"{f}  (replay: {f.replay()})" for f in got.failures)
    assert got.figures() == {
        "scenario_seed_runs": got.runs,
        "scenario_seed_failures": 0,
        "scenario_seed_s": round(got.seconds, 1),
    }


def test_a_failed_expectation_names_its_run_and_replays(tmp_path, capsys):
    sc = tmp_path / "wrong.toml"
    sc.write_text(
        'base = "nominal"\nname = "wrong"\ndescription = "expects what nominal never does"\n'
        '[[expect]]\nkind = "alarm"\nalarm = "high"\n'
        '[[expect]]\nkind = "in_band"\nmin_percent = 99\n'
    )
    got = seeds.sweep([5, 6], 60, workers=1, scenarios=[str(sc)])
    assert got.runs == 2 and got.failed_runs == 2
    assert [(f.seed, f.tick_s) for f in got.failures] == [(5, 60), (6, 60)]
    first = got.failures[0]
    assert first.scenario == str(sc) and "alarm high never raised" in first.expectation
    assert first.replay() == f"podctl sim run {sc} --seed 5 --tick-s 60"
    # the replay fails the same way, alone
    argv = shlex.split(first.replay())[1:] + ["-o", str(tmp_path / "run")]
    assert cli(argv) == 1
    assert "never raised" in capsys.readouterr().out
    assert got.figures("_soak")["scenario_seed_failures_soak"] == 2


def test_seed_counts_start_after_each_scenarios_own():
    assert seeds._seed_lists(3, ["nominal"]) == {"nominal": [2, 3, 4]}
    assert seeds._seed_lists([7, 9], ["nominal", "stranded"]) == {
        "nominal": [7, 9], "stranded": [7, 9]}


def test_no_probe_fault_holds_a_probe_never_excluded():
    from sim import expect

    sc = {"faults": [], "expects": [{"kind": "no_probe_fault", "probe": 0}]}
    summary = {"alarms": {}, "battery_empty_s": None, "duration_s": 3600,
               "probe_faults": {"3": [540000, "rate"]}}
    assert expect.check(sc, summary) == [(True, "probe 0 never excluded")]
    summary["probe_faults"]["0"] = [540058, "disagree"]
    assert expect.check(sc, summary) == [
        (False, "probe 0 excluded (disagree) at 150.0 h (expected never)")]
