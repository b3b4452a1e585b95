"""The crew's time sync at hand-over (issue 17 item 5): the scenario's
`handover_sync` (default true) makes CoSim.run send the authenticated
TIME_SET a crew's `podctl time sync` sends before the pull seals the log;
false flies a crew that forgets it. Checked on both engines (the
micropython engine gets the scenario through sim/board_run.py's config), on
a short mission with a reset in it: with the sync the boot after the reset
is clocked by the log alone, without it that boot has no UTC.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT
from podctl.pulled import open_pulled
from podctl.verdict import verify
from protocol import log
from sim import scenario

START = 1803859200  # nominal's start_utc (the scenario default)
HOURS = 1
RESET_S = 1800  # half-way through the pad hour


def short(tmp: Path, sync: object | None) -> Path:
    """nominal's first hour with a watchdog reset at 30 min; handover_sync
    written as given (None: left out, the default)."""
    line = "" if sync is None else f"handover_sync = {sync}\n"
    p = tmp / "short.toml"
    p.write_text('base = "nominal"\nname = "short"\ndescription = "one hour, one reset"\n'
                 f"{line}\n[[fault]]\nat_s = {RESET_S}\nkind = \"reset\"\n"
                 '\n[[expect]]\nkind = "log_intact"\n')
    return p


def fly(path: Path, out: Path, engine: str = "cpython"):
    assert main(["sim", "run", str(path), "--engine", engine, "--tick-s", "60",
                 "--hours", str(HOURS), "-o", str(out)]) == 0
    pulled = open_pulled(out / "log.bin")
    v = verify(pulled, (out / "key.bin").read_bytes())
    assert v.status == "VERIFIED"
    return pulled.data(v.blocks)


def time_sets(data) -> list[tuple[int, int, int]]:
    return [(e.boot, e.t, e.value) for e in data.events if e.code == log.EV_TIME_SET]


def test_the_key_defaults_to_true_and_is_read_as_written(tmp_path):
    assert scenario.load("reset-reentry")["handover_sync"] is True
    assert scenario.load(short(tmp_path, None))["handover_sync"] is True
    assert scenario.load(short(tmp_path, "false"))["handover_sync"] is False
    assert scenario.load(short(tmp_path, "true"))["handover_sync"] is True


@pytest.mark.parametrize("bad", ['"no"', "0", "1", '"false"', "[]"])
def test_anything_but_true_or_false_is_one_line(tmp_path, capfd, bad):
    path = short(tmp_path, bad)
    with pytest.raises(scenario.ScenarioError) as e:
        scenario.load(path)
    assert str(e.value).endswith("handover_sync: must be true or false")
    assert main(["sim", "run", str(path), "-o", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capfd.readouterr().err.strip()
    assert err.endswith("handover_sync: must be true or false") and "\n" not in err
    assert "Traceback" not in err and not (tmp_path / "out" / "log.bin").exists()


@pytest.mark.parametrize("engine", ["cpython", "micropython"])
def test_the_sync_clocks_the_boot_after_a_reset_on_either_engine(tmp_path, engine):
    synced = fly(short(tmp_path, None), tmp_path / "synced", engine)
    # the board's own account of its end (boot, uptime, the simulator's UTC)
    boot, uptime, end_utc = json.loads((tmp_path / "synced" / "summary.json").read_text())[
        "anchor"]
    assert boot == 2 and end_utc == START + HOURS * 3600
    assert HOURS * 3600 - RESET_S <= uptime <= HOURS * 3600 - RESET_S + 60  # within a tick
    # the integration's TIME_SET at boot 1, then the crew's at the end, in
    # boot 2, at the simulator's true UTC: the log's last event
    assert time_sets(synced) == [(1, 0, START), (2, uptime, end_utc)]
    assert synced.events[-1].code == log.EV_TIME_SET
    s = synced.samples
    two = s[s["boot"] == 2]
    assert len(two) and not np.isnan(s["utc"]).any()
    # every record of boot 2, the ones before the sync too, at its true UTC
    assert (two["utc"] == end_utc - uptime + two["t"]).all()


@pytest.mark.parametrize("engine", ["cpython", "micropython"])
def test_a_crew_that_forgets_the_sync_leaves_the_boot_unclocked(tmp_path, engine):
    (tmp_path / "a").mkdir()
    forgot = fly(short(tmp_path / "a", "false"), tmp_path / "forgot", engine)
    assert time_sets(forgot) == [(1, 0, START)]
    s = forgot.samples
    two = s[s["boot"] == 2]
    assert len(two) and np.isnan(two["utc"]).all()
    assert not np.isnan(s[s["boot"] == 1]["utc"]).any()
    # the boot without UTC is said so, as every verb says it
    assert any(c.startswith("boot 2:") and "never set" in c for c in forgot.clock)
    assert all(math.isnan(e.utc) for e in forgot.events if e.boot == 2)
