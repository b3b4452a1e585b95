"""Issue 18, campaigns: podctl.campaign.run and `podctl sim campaign` on
this machine (the Dask path: tests/test_campaign_dask.py). Tiny legs at a
10 s tick: the machine is shared."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from podctl import campaign
from podctl import campaign_mission as mission
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_LINK, EXIT_USAGE, BadInput

# a scenario whose failures the dispersion decides: samples loaded anywhere
# from 1 to 9 degC into a 2-8 degC band, held to 100 % in band
WARM = """base = "nominal"
name = "warm-start"
description = "samples loaded anywhere from 1 to 9 degC"
[[expect]]
kind = "in_band"
min_percent = 100
[[expect]]
kind = "no_alarm"
alarm = "high"
[[expect]]
kind = "log_intact"
"""
LOADING = """description = "the loading temperature, and the cells"
[[param]]
field = "container.initial_c"
uniform = [-4.0, 4.0]
[[param]]
field = "power.capacity_wh"
sigma_percent = 5
"""
LEG = {"hours": 2, "tick_s": 10}


@pytest.fixture
def warm(tmp_path):
    sc = tmp_path / "warm.toml"
    sc.write_text(WARM)
    d = tmp_path / "loading.toml"
    d.write_text(LOADING)
    return sc, d


@pytest.fixture(scope="module")
def warm_campaign(tmp_path_factory):
    """12 runs of the warm-start scenario, in this process."""
    root = tmp_path_factory.mktemp("warm")
    (root / "warm.toml").write_text(WARM)
    (root / "loading.toml").write_text(LOADING)
    c = campaign.run(str(root / "warm.toml"), 12, root / "out",
                     disperse=str(root / "loading.toml"), workers=1,
                     junit=root / "ci.xml", **LEG)
    return root, c


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("podctl: "), err
    return err


# -- the campaign's results --------------------------------------------------


def test_failures_are_the_seeds_whose_loading_temperature_is_out_of_band(warm_campaign):
    root, c = warm_campaign
    rows = {r["seed"]: r for r in c.rows}
    assert sorted(rows) == list(range(1, 13)) and c.flown == list(range(1, 13))
    failing = sorted(s for s, r in rows.items() if not r["passed"])
    # the draws reach both ends: some runs fail and some pass
    assert failing and len(failing) < 12
    for s in failing:  # each failure is the in-band expectation, from loading out of band
        r = rows[s]
        assert r["expect.in_band"] is False and r["expect.no_alarm high"] is True
        assert not 2.0 <= r["container.initial_c"] <= 8.0, r
        assert "expected >= 100.0%" in r["expect.in_band.line"]
    assert not c.passed
    s = c.summary
    assert s["failed"]["seeds"] == failing and s["failed"]["n"] == 12
    band = next(e for e in s["expectations"] if e["label"] == "in_band")
    assert band["seeds"] == failing and band["count"] == len(failing)
    lo, hi = band["wilson95"]
    assert lo < len(failing) / 12 < hi
    # the loading temperature drives the failures, from both ends
    top = s["sensitivity"][0]
    assert top["param"] == "container.initial_c" and top["by_failure"] == "distance"
    assert top["rho_failure"] > 0.5
    assert s["parameters"] == ["container.initial_c", "power.capacity_wh"]
    disp = root / "loading.toml"
    assert s["replay"].endswith(f"--seed 1 --tick-s 10 --disperse {disp} --hours 2")


def test_the_dataset_summary_and_plots_are_written(warm_campaign):
    root, c = warm_campaign
    out = root / "out"
    table = pq.read_table(out / "campaign.parquet")
    assert table.num_rows == 12
    cols = set(table.column_names)
    assert {"seed", "container.initial_c", "power.capacity_wh", "worst_outside_c",
            "out_of_band_s", "excursion", "battery_margin_wh", "passed",
            "expect.in_band", "expect.in_band.line"} <= cols
    # runs/ is the same rows, one file each: a Parquet dataset
    import pyarrow.dataset as ds

    assert ds.dataset(out / "runs", format="parquet").count_rows() == 12
    summary = json.loads((out / "summary.json").read_text())
    assert summary["excursion"]["n"] == 12 and summary["runs"] == 12
    assert set(summary["plots"]) == {"margin.png", "sensitivity.png", "drivers.png"}
    for name in summary["plots"]:
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by_seed = {r["seed"]: r for r in table.to_pylist()}
    worst = max(r["worst_outside_c"] for r in by_seed.values())
    assert summary["worst"]["worst_outside_c"]["max"] == pytest.approx(worst)


def test_junit_one_case_per_expectation_per_run(warm_campaign):
    root, c = warm_campaign
    tree = ET.parse(root / "ci.xml")
    suites = tree.getroot()
    assert suites.tag == "testsuites"
    (suite,) = suites.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 12 * 3 == int(suite.get("tests")) == int(suites.get("tests"))
    failed = [tc for tc in cases if tc.find("failure") is not None]
    n_failed = sum(1 for r in c.rows for k in ("in_band", "no_alarm high", "log_intact")
                   if r[f"expect.{k}"] is False)
    assert len(failed) == n_failed == int(suite.get("failures")) > 0
    assert suite.get("errors") == "0"
    rows = {r["seed"]: r for r in c.rows}
    for tc in failed:
        name = tc.get("name")  # "warm-start seed S: in_band"
        assert name.startswith("warm-start seed ") and name.endswith(": in_band")
        seed = int(name.split()[2].rstrip(":"))
        assert tc.find("failure").get("message") == rows[seed]["expect.in_band.line"]
    assert {tc.get("classname") for tc in cases} == {"podctl.sim.warm-start"}


def test_a_campaign_run_replays_alone_byte_for_byte(warm_campaign, tmp_path, capsys):
    root, c = warm_campaign
    seed = c.summary["failed"]["seeds"][0]
    cmd = c.replay(seed).split()[1:]
    assert main([*cmd, "-o", str(tmp_path / "alone")]) == EXIT_CHECK_FAILED
    capsys.readouterr()
    alone = (tmp_path / "alone" / "log.bin").read_bytes()
    assert alone == mission.log_path(root / "out", seed).read_bytes()
    # and the dispersion is what made it: the undispersed seed flies another log
    plain = [a for a in cmd if a not in ("--disperse", str(root / "loading.toml"))]
    main([*plain, "-o", str(tmp_path / "plain")])
    assert (tmp_path / "plain" / "log.bin").read_bytes() != alone


def test_the_local_pool_flies_what_one_process_flies(warm_campaign, tmp_path):
    root, c = warm_campaign
    pool = campaign.run(str(root / "warm.toml"), 3, tmp_path / "pool", seed=4,
                        disperse=str(root / "loading.toml"), workers=2, plots=False, **LEG)
    assert [r["seed"] for r in pool.rows] == [4, 5, 6]
    here = {r["seed"]: r for r in c.rows}
    for r in pool.rows:
        same = {k: v for k, v in r.items() if not k.startswith("run_")}
        assert same == {k: v for k, v in here[r["seed"]].items() if not k.startswith("run_")}
        assert (mission.log_path(tmp_path / "pool", r["seed"]).read_bytes()
                == mission.log_path(root / "out", r["seed"]).read_bytes())


# -- a campaign started again ------------------------------------------------


def test_a_restarted_campaign_flies_only_what_is_not_done(warm, tmp_path):
    sc, d = warm
    out = tmp_path / "out"
    first = campaign.run(str(sc), 2, out, disperse=str(d), workers=1, plots=False, **LEG)
    assert first.flown == [1, 2]
    kept = {s: os.stat(mission.run_path(out, s)) for s in (1, 2)}
    # seed 2's row torn (a worker killed mid-write would leave a temporary
    # file instead; a torn row must not count as done either), a stray
    # temporary file beside it
    mission.run_path(out, 2).write_bytes(mission.run_path(out, 2).read_bytes()[:40])
    (out / "runs" / ".seed-3.parquet.999.tmp").write_bytes(b"half")
    calls: list[tuple[int, int]] = []
    again = campaign.run(str(sc), 4, out, disperse=str(d), workers=1, plots=False,
                         progress=lambda done, total: calls.append((done, total)), **LEG)
    assert again.skipped == [1] and again.flown == [2, 3, 4]
    # the bar starts at what DIR already holds and counts each run once
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert os.stat(mission.run_path(out, 1)).st_mtime_ns == kept[1].st_mtime_ns
    assert [r["seed"] for r in again.rows] == [1, 2, 3, 4]
    assert pq.read_table(out / "campaign.parquet").num_rows == 4
    # the row read back is the row flown
    assert again.rows[0] == {**first.rows[0]}
    done = campaign.run(str(sc), 4, out, disperse=str(d), workers=1, plots=False, **LEG)
    assert done.flown == [] and done.skipped == [1, 2, 3, 4]


def test_a_folder_of_another_campaign_is_refused(warm, tmp_path):
    sc, d = warm
    out = tmp_path / "out"
    campaign.run(str(sc), 1, out, disperse=str(d), workers=1, plots=False, **LEG)
    with pytest.raises(BadInput, match="holds another campaign"):
        campaign.run(str(sc), 1, out, disperse=str(d), workers=1, hours=3, tick_s=10)
    with pytest.raises(BadInput, match="holds another campaign"):
        campaign.run(str(sc), 1, out, disperse=None, workers=1, **LEG)
    (out / "campaign.json").write_text("{not json")
    with pytest.raises(BadInput, match="damaged"):
        campaign.run(str(sc), 1, out, disperse=str(d), workers=1, **LEG)


def test_a_run_that_cannot_fly_is_a_row_not_an_exception(warm, tmp_path):
    sc, _ = warm
    # the edges of each draw are checked at load; two draws together can
    # still break a rule: the recovery's coolest hour above its warmest
    d = tmp_path / "day.toml"
    d.write_text(
        '[[param]]\nfield = "phase[recovery].min_c"\nuniform = [-1.0, 9.0]\n'
        '[[param]]\nfield = "phase[recovery].max_c"\nuniform = [-9.0, 1.0]\n'
    )
    c = campaign.run(str(sc), 12, tmp_path / "out", disperse=str(d), workers=1, plots=False,
                     junit=tmp_path / "ci.xml", **LEG)
    errors = [r for r in c.rows if r["error"] is not None]
    assert errors and len(errors) < 12
    assert all(r["error"].startswith(f"seed {r['seed']}: phase[6].min_c: must not exceed max_c")
               for r in errors)
    assert c.summary["errors"][0]["seed"] == errors[0]["seed"]
    assert c.summary["failed"]["n"] == 12 - len(errors)
    suite = ET.parse(tmp_path / "ci.xml").getroot().find("testsuite")
    assert int(suite.get("errors")) == 3 * len(errors)


# -- bad input: one line, the README's status, nothing flown -----------------


def test_unknown_scenario(capsys, tmp_path):
    assert main(["sim", "campaign", "nosuch", "--runs", "2", "-o", str(tmp_path / "o")]) \
        == EXIT_BAD_INPUT
    assert "nosuch" in _err(capsys) and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "text, says",
    [
        ("[[param]\n", "not valid TOML"),
        ('[[param]]\nfield = "container.nosuch"\nsigma = 1\n', "nosuch: no such field"),
        ('[[param]]\nfield = "container.initial_c"\n', "exactly one of"),
        ('[[param]]\nfield = "container.initial_c"\nsigma = -1\n', "positive"),
        ('[[param]]\nfield = "container.initial_c"\nuniform = [2, 1]\n', "low < high"),
        ('[[param]]\nfield = "phase[moon].ambient_c"\nsigma = 1\n', "no phase named 'moon'"),
        ('[[param]]\nfield = "power.initial_soc"\nuniform = [0.0, 0.5]\n',
         "power.initial_soc: must be a number from 0 to 1"),
        ('[[param]]\nfield = "power.cutoff_mv"\nsigma = 5\n', "not a real number"),
        ('[[param]]\nfield = "fault[*].at_h"\nsigma = 1\n', "matches nothing"),
        ('[[param]]\nfield = "sensors.probe.lag_s"\nsigma = 1\n', "is an array"),
        ('[[param]]\nfield = "container.initial_c"\nsigma_percent = 40\n', "under 33.3"),
        ("color = 3\n", "color: unknown field"),
    ],
)
def test_bad_dispersion_file(capsys, tmp_path, text, says):
    d = tmp_path / "d.toml"
    d.write_text(text)
    out = tmp_path / "o"
    assert main(["sim", "campaign", "nominal", "--runs", "2", "--disperse", str(d),
                 "-o", str(out)]) == EXIT_BAD_INPUT
    err = _err(capsys)
    assert says in err and "dispersion" in err, err
    assert not out.exists()
    # sim run refuses the same file the same way
    assert main(["sim", "run", "nominal", "--disperse", str(d), "-o", str(out)]) \
        == EXIT_BAD_INPUT
    assert says in _err(capsys)


def test_unknown_dispersion_name(capsys):
    assert main(["sim", "campaign", "nominal", "--runs", "1", "--disperse", "nope"]) \
        == EXIT_BAD_INPUT
    assert "unknown dispersion 'nope'; known: default" in _err(capsys)


@pytest.mark.parametrize("runs", ["0", "-3", "many"])
def test_runs_must_be_a_whole_number_from_1(capsys, runs):
    assert main(["sim", "campaign", "nominal", "--runs", runs]) == EXIT_USAGE
    assert "runs must be" in _err(capsys)
    with pytest.raises(BadInput, match="runs must be at least 1"):
        campaign.run("nominal", 0, "unused")


def test_workers_and_scheduler_exclude_each_other(capsys):
    assert main(["sim", "campaign", "nominal", "--runs", "1", "--workers", "2",
                 "--scheduler", "tcp://127.0.0.1:1"]) == EXIT_USAGE
    assert "not allowed with" in _err(capsys)


def test_an_output_folder_that_cannot_be_written(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["sim", "campaign", "nominal", "--runs", "1", "--hours", "1", "--tick-s", "10",
                 "-o", str(blocker / "sub")]) == EXIT_BAD_INPUT
    assert "cannot write the campaign there" in _err(capsys)
    assert main(["sim", "campaign", "nominal", "--runs", "1", "--hours", "1", "--tick-s", "10",
                 "-o", str(tmp_path / "o"), "--junit", str(blocker / "ci.xml")]) \
        == EXIT_BAD_INPUT
    assert "ci.xml: cannot write there" in _err(capsys)


def test_an_unreachable_scheduler_is_a_link_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(campaign, "CONNECT_TIMEOUT_S", 1)
    out = tmp_path / "o"
    # port 9 (discard): nothing listens there
    assert main(["sim", "campaign", "nominal", "--runs", "2", "--hours", "1",
                 "--scheduler", "tcp://127.0.0.1:9", "-o", str(out)]) == EXIT_LINK
    err = _err(capsys)
    assert "scheduler tcp://127.0.0.1:9: cannot connect" in err
    assert not out.exists()  # nothing left behind


# -- the CLI's happy path and sim run's JUnit --------------------------------


def test_cli_campaign_prints_the_summary_and_exits_1_on_failures(warm, tmp_path, capsys):
    sc, d = warm
    out = tmp_path / "o"
    code = main(["sim", "campaign", str(sc), "--runs", "6", "--seed", "4", "--disperse", str(d),
                 "--hours", "2", "--tick-s", "10", "--workers", "1", "-o", str(out),
                 "--no-plots"])
    captured = capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    failing = summary["failed"]["seeds"]
    assert summary["seeds"] == [4, 9] and not (out / "plots").exists()
    assert "excursion:" in captured.out and "Wilson" in captured.out
    if failing:
        assert code == EXIT_CHECK_FAILED
        assert captured.err.count("\n") == 1
        assert f"--seed {failing[0]} " in captured.err and "replay one with" in captured.err
    else:
        assert code == 0


def test_cli_campaign_passes_without_dispersion(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["sim", "campaign", "nominal", "--runs", "2", "--disperse", "none",
                 "--hours", "1", "--tick-s", "10", "--workers", "1", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "0 of 2 = 0.00 %" in text and "not held on a leg: alarm lid, alarm shock" in text
    assert json.loads((out / "summary.json").read_text())["parameters"] == []


def test_sim_run_junit(tmp_path, capsys):
    sc = tmp_path / "s.toml"
    sc.write_text(
        'base = "nominal"\nname = "too-strict"\ndescription = "an alarm that never comes"\n'
        '[[phase]]\nname = "pad"\nduration_h = 1\nambient_c = 21.0\n'
        '[[expect]]\nkind = "alarm"\nalarm = "high"\n'
        '[[expect]]\nkind = "no_excursion"\n'
    )
    xml = tmp_path / "run.xml"
    assert main(["sim", "run", str(sc), "--tick-s", "10", "-o", str(tmp_path / "o"),
                 "--junit", str(xml)]) == EXIT_CHECK_FAILED
    capsys.readouterr()
    suites = ET.parse(xml).getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors")) == ("2", "1", "0")
    cases = suites.find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases] == [
        "too-strict seed 1: alarm high", "too-strict seed 1: no_excursion"]
    assert cases[0].find("failure").get("message") == "alarm high never raised (expected)"
    assert cases[1].find("failure") is None


def test_campaign_help_has_the_dispersion_and_examples(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "campaign", "--help"])
    text = capsys.readouterr().out
    assert "--scheduler" in text and "podctl sim campaign nominal --runs 200 --hours 24" in text


def test_the_shipped_dispersions_load_for_every_scenario():
    from sim import disperse, scenario

    for name in scenario.scenario_names():
        sc = scenario.load(name)
        spec = disperse.load(disperse.for_scenario(sc), sc)
        assert disperse.parameters(spec, sc), name
    assert disperse.for_scenario(scenario.load("reset-reentry")) == "reset-reentry"
    assert Path(disperse.resolve("default")).is_file()


def test_a_campaign_on_the_micropython_engine_flies_the_same_logs(tmp_path):
    """The firmware on the interpreter that flies: the same dispersed run
    writes the same log on both engines."""
    kw = {"hours": 1, "tick_s": 10, "workers": 1, "plots": False}
    upy = campaign.run("nominal", 1, tmp_path / "upy", seed=3, engine="micropython", **kw)
    cpy = campaign.run("nominal", 1, tmp_path / "cpy", seed=3, **kw)
    assert upy.passed and upy.summary["engine"] == "micropython"
    assert upy.rows[0]["container.initial_c"] == cpy.rows[0]["container.initial_c"]
    assert (mission.log_path(tmp_path / "upy", 3).read_bytes()
            == mission.log_path(tmp_path / "cpy", 3).read_bytes())
