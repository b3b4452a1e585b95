"""Issue 18, forecast on a pack of another chemistry: the declared pack
(`--pack lifepo4 --cells 4`) reaches the state-of-charge read and the
forecast's flights; on LiFePO4's flat curve the charge is counted from a
voltage-anchored point, and that read is within its sigma where the li-ion
read is far off; a log impossible for the pack, bad names and cell counts
are one-line errors. Logs at a 60 s tick (the machine is shared); the
figures are tests/bench_forecast_pack.py's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from podctl import forecast, forecast_pack
from podctl import forecast_identify as ident
from podctl.campaign_mission import Plan
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_USAGE, BadInput
from podctl.forecast_state import History
from sim import power
from sim import run as simrun
from sim.scenario import leg
from tests.bench_forecast_pack import CELLS, lfp_profile, lfp_scenario

LFP = {"pack": "lifepo4", "cells": CELLS, "capacity_wh": 900.0}
QUICK = {"runs": 1, "horizon_h": 1.0, "tick_s": 60, "workers": 1}


def lfp_pulled(root: Path, seed: int, hours: float = 280.0) -> tuple[Path, float]:
    """A stranded container with a 4S LiFePO4 pack, dispersed (seed), its
    log cut at `hours` (50 h into the recovery, mid-plateau): the folder and
    its true state of charge at the cut."""
    plan = Plan.make(str(lfp_scenario(root)), "default", None, 60)
    sc, _ = plan.scenario_for(seed)
    res = simrun.run(leg(sc, hours), lfp_profile(), seed=seed)
    out = root / f"lfp-{seed}-{hours:g}h"
    out.mkdir()
    (out / "log.bin").write_bytes(res.log)
    (out / "profile.bin").write_bytes(lfp_profile())
    return out, float(res.summary["battery_soc"])


@pytest.fixture(scope="module")
def lfp(tmp_path_factory):
    root = tmp_path_factory.mktemp("lfp")
    return [lfp_pulled(root, s) for s in (101, 102)]


def test_declared_pack_reaches_soc_of_and_the_flights(lfp, monkeypatch):
    from sim import forecast_start

    flown: list[dict] = []
    real = forecast_start.fly_from

    def spy(sc, profile, start, seed):
        flown.append(dict(sc["power"], soc=start["soc"]))
        return real(sc, profile, start, seed)

    monkeypatch.setattr(forecast_start, "fly_from", spy)
    f = forecast.forecast(lfp[0][0], **dict(QUICK, runs=2), **LFP)
    assert f.identified.pack == "4 lifepo4" and f.identified.soc_read == "counted"
    assert len(flown) == 2
    for pw in flown:
        assert (pw["pack"], pw["cells_series"]) == ("lifepo4", 4)
        assert pw["capacity_wh"] != 900.0  # drawn around the declared 900 Wh
    # each flight starts from its own draw of the counted charge
    assert flown[0]["soc"] != flown[1]["soc"]
    assert all(abs(pw["soc"] - f.identified.soc) < 3 * f.identified.soc_sigma_pct / 100
               for pw in flown)
    # soc_of reads on the declared curve: 13.16 V is mid-plateau for 4S LFP
    sc = forecast.model(60)
    pw = forecast_pack.of("lifepo4", 4, None, sc["power"]).power(sc["power"])
    assert abs(float(ident.soc_of(np.array([13.16]), np.array([0.0]), pw)[0]) - 0.5) < 1e-6


def test_the_flight_starts_with_the_declared_pack(tmp_path):
    from sim.forecast_start import start_sim

    sc = forecast.model(60)
    sc = dict(sc, power=forecast_pack.of("lifepo4", 4, 700.0, sc["power"]).power(sc["power"]),
              phases=[dict(forecast.ENVIRONMENTS["recovery"], duration_s=600.0)],
              duration_s=600.0, faults=[], expects=[])
    start = {"payload_c": 5.0, "air_c": 5.0, "soc": 0.5, "phase": 4, "phase_s": 3600}
    bat = start_sim(sc, lfp_profile(), start, 1, str(tmp_path)).box.battery
    assert bat.curve == power.CURVES["lifepo4"] and bat.cells == 4
    assert abs(bat.capacity_ah - 700.0 / (3.2 * 4)) < 1e-9
    assert abs(bat.voltage_mv - 4 * 3290) <= 1  # the plateau's 3.29 V a cell at half charge


def test_li_ion_read_of_lfp_is_wrong_and_the_counted_read_within_its_sigma(lfp):
    for folder, true_soc in lfp:
        got = forecast.forecast(folder, **QUICK, **LFP).identified
        sigma = got.soc_sigma_pct / 100
        assert 0.01 < sigma < 0.10, got
        assert abs(got.soc - true_soc) <= sigma, (got, true_soc)
        as_li_ion = forecast.forecast(folder, **QUICK, **dict(LFP, pack="li-ion")).identified
        assert as_li_ion.soc_read == "voltage"
        # 4 li-ion cells at 13 V are nearly empty: off by far more than the counted sigma
        assert abs(as_li_ion.soc - true_soc) > 5 * sigma, (as_li_ion, true_soc)


def test_the_reference_li_ion_pack_still_reads_its_voltage(tmp_path):
    """A 3S li-ion log, the pack undeclared: read off the curve as before."""
    plan = Plan.make("stranded", "none", 240, 60)
    sc, _ = plan.scenario_for(1)
    res = simrun.run(sc, plan.profile, seed=1)
    (tmp_path / "log.bin").write_bytes(res.log)
    (tmp_path / "profile.bin").write_bytes(plan.profile)
    got = forecast.forecast(tmp_path, **QUICK).identified
    assert (got.soc_read, got.pack) == ("voltage", "3 li-ion")
    assert abs(got.soc - res.summary["battery_soc"]) <= max(got.soc_sigma_pct / 100, 0.02)
    # the same log declared as 3 LFP cells is impossible: 12.5 V is above 10.35 V
    with pytest.raises(BadInput, match="impossible for 3 lifepo4 cells.*--pack li-ion --cells 3"):
        forecast.forecast(tmp_path, **QUICK, pack="lifepo4")


def synthetic(true_soc: np.ndarray, t_h: np.ndarray, pw: dict, load: float) -> History:
    """Records of a pack drawing `load` W from the board alone (outputs
    off), its terminal voltage the curve's at true_soc under that load."""
    b = power.Battery(dict(pw, base_load_w=0.0))
    ocv = np.array([b.ocv(s) for s in true_soc])
    v = ocv - load / ocv * float(pw["internal_resistance_ohm"])
    z = np.zeros(len(t_h))
    return History(t_h, z + 5.0, z + 5.0, z, z, v)


def test_counting_from_a_full_pack_and_from_the_lower_knee():
    sc = forecast.model(60)
    pk = forecast_pack.of("lifepo4", 4, 900.0, sc["power"])
    sc = dict(sc, power=dict(pk.power(sc["power"]), base_load_w=2.0))
    t = np.arange(-300.0, 0.001, 0.1)
    b = power.Battery(dict(sc["power"], initial_soc=1.0))
    true = []
    for _ in t:  # the pack itself, 2 W for 6 min a record
        true.append(b.soc)
        b.step(360.0, 0.0)
    true = np.array(true)
    h = synthetic(true, t, sc["power"], 2.0)
    soc, sigma, g, g_sigma, amps = ident.counted(h, sc, 900.0, 5.0)
    assert abs(soc - true[-1]) <= sigma and sigma < 0.08
    assert abs(amps - 2.0 / 13.2) < 0.01
    # the duty's watts are right here: the drain's scale is 1 within its sigma
    assert abs(g - 1.0) <= g_sigma < 0.2
    # a pack in its lower knee reads its voltage: better than any count
    low = true - 0.28  # ends at about 7 %
    soc, sigma, *_ = ident.counted(synthetic(low, t, sc["power"], 2.0), sc, 900.0, 5.0)
    assert abs(soc - low[-1]) < 0.01 and sigma < 0.01
    # damaged timing: a boot without UTC sends the time backwards; the
    # count starts again after it, and still reads within its sigma
    t2 = t.copy()
    t2[: len(t) // 2] += 500.0
    soc, sigma, *_ = ident.counted(synthetic(true, t2, sc["power"], 2.0), sc, 900.0, 5.0)
    assert abs(soc - true[-1]) <= sigma


def test_an_lfp_log_undeclared_says_what_to_pass(lfp, capsys):
    with pytest.raises(BadInput, match=r"impossible for 3 li-ion cells.*--pack lifepo4 --cells 4"):
        forecast.forecast(lfp[0][0], **QUICK)
    assert main(["forecast", str(lfp[0][0]), "--runs", "1"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("podctl: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "--pack lifepo4 --cells 4" in err


@pytest.mark.parametrize("argv, says", [
    (["--pack", "nimh"], "--pack must be li-ion or lifepo4"),
    (["--pack", ""], "--pack must be"),
    (["--cells", "0"], "--cells must be 1 to 8"),
    (["--cells", "4.5"], "--cells must be a whole number"),
    (["--capacity-wh", "-900"], "--capacity-wh must be"),
    (["--capacity-wh", "nan"], "--capacity-wh must be"),
])
def test_bad_pack_on_the_command_line(lfp, capsys, argv, says):
    assert main(["forecast", str(lfp[0][0]), "--runs", "1", *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


@pytest.mark.parametrize("kw, says", [
    ({"pack": "nimh"}, "unknown pack 'nimh'"),
    ({"pack": "LiFePO4"}, "unknown pack"),
    ({"cells": 0}, "cells must be"),
    ({"cells": 9}, "cells must be"),
    ({"cells": True}, "cells must be"),
    ({"cells": 4.0}, "cells must be"),
    ({"capacity_wh": 0.0}, "capacity must be"),
    ({"capacity_wh": float("inf")}, "capacity must be"),
])
def test_bad_pack_from_the_library(tmp_path, kw, says):
    # refused before the folder is read: this one does not even exist
    with pytest.raises(BadInput, match=says):
        forecast.forecast(tmp_path / "none", **QUICK, **kw)
