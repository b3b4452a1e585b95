"""Issue 18, forecast: podctl.forecast and `podctl forecast` on logs the
simulator flew and cut short. Small: logs at a 60 s tick, forecasts of a
few runs at 10 s over a short horizon, in this process (the machine is
shared). The validation against the simulator's truth is tests/bench_forecast.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from podctl import forecast
from podctl.campaign_mission import Plan
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_USAGE, BadInput
from sim import run as simrun


def pulled(root: Path, scenario: str, hours: float, tick_s: int = 60, seed: int = 1) -> Path:
    """What `logs pull` leaves of a container whose log ends at `hours`:
    log.bin and profile.bin (the forecast reads nothing else)."""
    plan = Plan.make(scenario, "none", hours, tick_s)
    sc, _ = plan.scenario_for(seed)
    res = simrun.run(sc, plan.profile, seed=seed)
    out = root / f"{Path(scenario).stem}-{hours:g}h"
    out.mkdir(parents=True)
    (out / "log.bin").write_bytes(res.log)
    (out / "profile.bin").write_bytes(plan.profile)
    return out


def stranded_with(root: Path, name: str, power: str) -> Path:
    sc = root / f"{name}.toml"
    sc.write_text(f'base = "stranded"\nname = "{name}"\n[power]\n{power}\n')
    return sc


@pytest.fixture(scope="module")
def drains(tmp_path_factory):
    """Two stranded containers 7 h into recovery: the second's battery is
    smaller (500 Wh, not 600) and its base load twice the first's, so it
    drains faster (about 1 %/h of its charge against 0.8)."""
    root = tmp_path_factory.mktemp("drain")
    slow = stranded_with(root, "slow", "capacity_wh = 600.0")
    fast = stranded_with(root, "fast", "capacity_wh = 500.0\nbase_load_w = 0.7")
    return pulled(root, str(slow), 236), pulled(root, str(fast), 236)


SMALL = {"runs": 3, "horizon_h": 48.0, "workers": 1}


def test_percentiles_ordered_and_drains_faster_empties_sooner(drains):
    slow, fast = (forecast.forecast(p, **SMALL) for p in drains)
    for f in (slow, fast):
        assert f.start.phase_name == "recovery"
        # 236 h: 6.8 h into the scenario's recovery, the profile's after its return phase
        assert 6.0 <= f.start.phase_s / 3600 <= 7.0
        for q in forecast.QUANTITIES:
            h = f.hours[q]
            vals = [h["p10"], h["p50"], h["p90"]]
            known = [v for v in vals if v is not None]
            assert known == sorted(known), (q, h)
            # None (past the horizon) only ever above the known ones
            assert vals[: len(known)] == known
        assert f.identified.history_h > 6  # the phase's history identified the numbers
        assert len(f.rows) == SMALL["runs"]
    assert fast.identified.drain_pct_per_h < slow.identified.drain_pct_per_h
    assert fast.hours["battery"]["p50"] is not None
    assert slow.hours["battery"]["p50"] is None or (
        fast.hours["battery"]["p50"] < slow.hours["battery"]["p50"]
    )
    assert fast.drivers["battery"], "a ranking of what drives the battery's hours"


def test_already_out_of_band_says_zero(tmp_path):
    warm = tmp_path / "warm.toml"
    warm.write_text('base = "nominal"\nname = "warm"\n[container]\ninitial_c = 14.0\n')
    f = forecast.forecast(pulled(tmp_path, str(warm), 0.3), runs=2, horizon_h=1.0, workers=1)
    assert f.start.out_of_band
    assert f.hours["first_excursion"] == {"p10": 0.0, "p50": 0.0, "p90": 0.0}


def test_cli_prints_the_table(drains, capsys):
    assert main(["forecast", str(drains[1]), "--runs", "2", "--horizon", "24",
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "battery alarm" in out and "P50" in out and "identified from" in out


def test_cli_names_the_pack_and_how_its_charge_was_read(drains, capsys):
    """The reference pack declared as it is changes nothing in the read:
    3 li-ion cells, the charge off the curve by voltage."""
    assert main(["forecast", str(drains[1]), "--runs", "1", "--horizon", "6",
                 "--workers", "1", "--pack", "li-ion", "--cells", "3", "--json"]) == 0
    import json

    got = json.loads(capsys.readouterr().out)["identified"]
    assert (got["pack"], got["soc_read"]) == ("3 li-ion", "voltage")
    assert 0 < got["soc_sigma_pct"] < 3


@pytest.mark.parametrize(
    "make, status, says",
    [
        (lambda d: None, EXIT_BAD_INPUT, "folder is empty"),
        (lambda d: (d / "log.bin").write_bytes(b""), EXIT_BAD_INPUT, "log"),
    ],
)
def test_bad_folders(tmp_path, capsys, make, status, says):
    make(tmp_path)
    assert main(["forecast", str(tmp_path), "--runs", "1"]) == status
    err = capsys.readouterr().err
    assert err.startswith("podctl: ") and says in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_log_without_profile_and_without_records(drains, tmp_path, capsys):
    import shutil

    shutil.copy(drains[0] / "log.bin", tmp_path / "log.bin")
    assert main(["forecast", str(tmp_path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "no profile.bin" in err and err.count("\n") == 1
    # a log whose blocks hold no record: only its first block's header survives
    from podctl.forecast_state import read
    from podctl.logdata import load
    from protocol import profile as pf

    prof = pf.check((drains[0] / "profile.bin").read_bytes())
    data = load((drains[0] / "log.bin").read_bytes())
    data.samples = data.samples[:0]
    with pytest.raises(BadInput, match="no records"):
        read(data, prof)


def test_bad_command_line(drains, tmp_path, capsys):
    assert main(["forecast", str(drains[0]), "--runs", "0"]) == EXIT_USAGE
    assert main(["forecast", str(drains[0]), "--environment", str(tmp_path / "no.toml")]) == (
        EXIT_BAD_INPUT
    )
    bad = tmp_path / "env.toml"
    bad.write_text('[[phase]]\nambient = "diurnal"\nmin_c = 30.0\nmax_c = 20.0\n')
    assert main(["forecast", str(drains[0]), "--environment", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("podctl: ") == 3 and "Traceback" not in err
    with pytest.raises(BadInput, match="runs must be at least 1"):
        forecast.forecast(drains[0], runs=0)


def test_sim_starts_from_the_given_state(tmp_path):
    """sim/forecast_start: the plant, the battery and the firmware's own
    mission state are where the start says, and the firmware resumes it."""
    from sim.forecast_start import start_sim

    plan = Plan.make("stranded", "none", None, 10)
    sc = dict(plan.sc, phases=[dict(plan.sc["phases"][-3], duration_s=600.0)],
              duration_s=600.0, faults=[], expects=[])
    start = {"payload_c": 6.5, "air_c": 7.0, "soc": 0.42, "phase": 4, "phase_s": 7200,
             "mission_s": 900_000, "out_s": 120, "alarms": 1 << 5}
    run = start_sim(sc, plan.profile, start, 3, str(tmp_path))
    pod, box = run.box.pod, run.box
    assert (pod.phase, pod.phase_s, pod.alarms.out_s, pod.alarms.latched) == (4, 7200, 120, 32)
    assert box.plant.t_payload == 6.5 and box.plant.t_air == 7.0
    assert abs(box.battery.soc - 0.42) < 1e-9
    s = run.run()
    assert s["duration_s"] == 600
    assert pod is run.box.pod and pod.phase == 4 and pod.phase_s == 7800  # it flew on


def test_port_pulls_then_forecasts(drains, monkeypatch, capsys, tmp_path):
    """--port: the CLI pulls the board's log (Device.pull) and forecasts from
    what it pulled. The device here is a stand-in that 'pulls' a folder; the
    real link is tests/test_forecast_live.py's virtual board."""
    import shutil

    from podctl import forecast_cmd

    class Dev:
        device_id = "SIM00001"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def pull(self, out):
            for name in ("log.bin", "profile.bin"):
                shutil.copy(drains[1] / name, Path(out) / name)

    monkeypatch.setattr(forecast_cmd, "open_device", lambda args: Dev())
    kept = tmp_path / "kept"
    kept.mkdir()
    assert main(["forecast", "--port", "/dev/null", "--runs", "2", "--horizon", "12",
                 "--workers", "1", "--pull-to", str(kept)]) == 0
    out = capsys.readouterr().out
    assert "SIM00001 on /dev/null" in out and "phase recovery" in out
    assert (kept / "log.bin").exists()
    assert main(["forecast", str(drains[0]), "--port", "/dev/null"]) == EXIT_USAGE
    assert main(["forecast"]) == EXIT_USAGE
    assert capsys.readouterr().err.count("podctl: give LOG_FOLDER or --port") == 2
