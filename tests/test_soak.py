"""tests/soak.py (make soak): groups by name, figures merged into
build/bench.json with the other keys kept, a group that is not there
skipped. The long sweeps themselves run in make soak, not here."""

from __future__ import annotations

import json
import sys

import pytest

from tests import soak


@pytest.fixture()
def out(tmp_path, monkeypatch):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"powercut_points": 13676, "fuzz_cases_soak": 1}))
    monkeypatch.setattr(soak, "OUT", path)
    return path


def test_named_groups_merge_under_soak_names_keeping_the_rest(out, monkeypatch):
    ran = []
    monkeypatch.setattr(soak, "GROUPS", {
        "a": lambda: ran.append("a") or {"fuzz_cases_soak": 10, "fuzz_crashes_soak": 0},
        "b": lambda: ran.append("b") or {"other_soak": 1},
    })
    assert soak.main(["a"]) == 0
    assert ran == ["a"]
    got = json.loads(out.read_text())
    assert got == {"powercut_points": 13676, "fuzz_cases_soak": 10, "fuzz_crashes_soak": 0}
    with pytest.raises(SystemExit, match="no group c"):
        soak.main(["c"])


def test_a_failing_figure_fails_the_run_after_writing_it(out, monkeypatch):
    monkeypatch.setattr(soak, "GROUPS", {"a": lambda: {"powercut_keys_lost_soak": 3}})
    assert soak.main([]) == 1
    assert json.loads(out.read_text())["powercut_keys_lost_soak"] == 3


def test_seeds_group_is_skipped_without_tests_seeds(out, monkeypatch, capsys):
    import tests

    monkeypatch.setitem(sys.modules, "tests.seeds", None)  # import fails
    # and the package forgets it, if another test imported it before
    monkeypatch.delattr(tests, "seeds", raising=False)
    assert soak.seeds_figures() == {}
    assert "soak seeds: skipped" in capsys.readouterr().err


def test_seeds_group_names_its_figures_soak(monkeypatch):
    class Seeds:
        @staticmethod
        def soak_figures():
            return {"scenario_seed_runs_soak": 840, "scenario_seed_failures": 0}

    monkeypatch.setitem(sys.modules, "tests.seeds", Seeds)
    import tests

    monkeypatch.setattr(tests, "seeds", Seeds, raising=False)
    assert soak.seeds_figures() == {"scenario_seed_runs_soak": 840,
                                    "scenario_seed_failures_soak": 0}
