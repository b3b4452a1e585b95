"""Every scenario through the unchanged firmware on both engines, checked
against its own expectations; the two engines agree byte for byte.

make test runs the missions at full length on a 10-second tick (a tenth of
the ticks; the firmware's control, alarms and sampling take dt from the
clock); `make missions` runs the same tests at the scenarios' own 1-second
tick (PODCTL_SIM_TICK=1, about ten minutes on two cores).
Cross-engine tolerance: none -- the log bytes and every summary figure
must be identical, since both engines run the same code on IEEE doubles
and the seeded generator in sim/rng.py.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from podctl.sim_cmds import load_run_inputs
from podctl.verdict import log_intact
from protocol import log as layout
from sim import run as simrun
from sim import scenario

TICK_S = int(os.environ.get("PODCTL_SIM_TICK", "10"))


@pytest.mark.parametrize("name", scenario.scenario_names())
def test_scenario_on_both_engines(name):
    sc, prof = load_run_inputs(name, TICK_S)
    assert sc["expects"], f"{name} states no expectations"
    with ThreadPoolExecutor(1) as pool:  # the micropython run uses the other core
        mp = pool.submit(simrun.run, sc, prof, "micropython", verify_log=log_intact)
        cp = simrun.run(sc, prof, "cpython", verify_log=log_intact)
        upy = mp.result()
    for res in (cp, upy):
        failed = [text for ok, text in res.checks if not ok]
        assert not failed, f"{name} on {res.engine}: {failed}"
    assert cp.log == upy.log, f"{name}: the engines wrote different logs"
    assert cp.summary == upy.summary
    # the log on the image is the real format: first block parses
    assert isinstance(layout.parse_block(cp.log, 0), layout.Block)


def test_seed_changes_the_run_and_repeats_it():
    sc, prof = load_run_inputs("nominal", 60)
    sc["duration_s"] = 2 * 86400  # two days are enough to see the noise
    a = simrun.run(sc, prof, "cpython", seed=7, verify_log=log_intact)
    b = simrun.run(sc, prof, "cpython", seed=7, verify_log=log_intact)
    c = simrun.run(sc, prof, "cpython", seed=8, verify_log=log_intact)
    assert a.log == b.log and a.summary == b.summary
    assert a.log != c.log


def test_a_failed_expectation_is_reported():
    sc, prof = load_run_inputs("nominal", 60)
    sc["duration_s"] = 86400
    sc["expects"] = [{"kind": "alarm", "alarm": "high"}, {"kind": "in_band", "min_percent": 99}]
    res = simrun.run(sc, prof, "cpython", verify_log=log_intact)
    assert [ok for ok, _ in res.checks] == [False, True]
    assert not res.passed and "never raised" in res.checks[0][1]
