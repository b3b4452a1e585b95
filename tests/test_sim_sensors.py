"""Sensor models, mission timeline, fault schedule and the simulated HAL."""

from __future__ import annotations

import math

import pytest

from firmware.hal import METHODS, NPROBES, Hal
from protocol.log import RESET_POWER_ON, RESET_WATCHDOG
from sim.environment import Env, Timeline
from sim.faults import FaultSchedule
from sim.plant import Plant
from sim.power import Battery
from sim.rng import Rng
from sim.sensors import SHORT_MDEGC, Sensors
from sim.simhal import SimHal


class FakePlant:
    def __init__(self, payload=5.0, air=6.0):
        self.t_payload = payload
        self.t_air = air


def probes(**kw):
    spec = {"node": "payload", "noise_mdegc": 0.0, "lag_s": 0.0, "quant_mdegc": 10}
    spec.update(kw)
    return {"probe": [dict(spec) for _ in range(NPROBES)]}


def read(s):
    out = [0] * NPROBES
    return s.read_probes(out), out


def test_rng_statistics_and_range():
    r = Rng(7)
    xs = [r.gauss(1.0, 2.0) for _ in range(20000)]
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    assert mean == pytest.approx(1.0, abs=0.05) and sd == pytest.approx(2.0, rel=0.03)
    us = [r.uniform() for _ in range(1000)]
    assert min(us) >= 0.0 and max(us) < 1.0
    ks = {r.randint(1, 6) for _ in range(200)}
    assert ks == {1, 2, 3, 4, 5, 6}
    assert [Rng(3).next64() for _ in range(2)] == [Rng(3).next64()] * 2


def test_noise_statistics():
    s = Sensors(probes(noise_mdegc=50.0, quant_mdegc=1), Rng(1))
    s.step(0.0, 1.0, FakePlant(5.0), Env())
    vals = []
    for _ in range(5000):
        vals.append(read(s)[1][0])
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
    assert mean == pytest.approx(5000, abs=3) and sd == pytest.approx(50, rel=0.05)


def test_lag_is_first_order():
    s = Sensors(probes(lag_s=30.0, quant_mdegc=1), Rng(1))
    e = Env()
    s.step(0.0, 1.0, FakePlant(0.0), e)
    for k in range(1, 31):
        s.step(float(k), 1.0, FakePlant(10.0), e)
    # one time constant after a 10 K step: 63.2 %
    assert read(s)[1][0] == pytest.approx(10000 * (1 - math.exp(-1)), abs=2)


def test_quantisation_offset_and_node():
    spec = probes(quant_mdegc=100, offset_mdegc=30)
    spec["probe"][3]["node"] = "air"
    s = Sensors(spec, Rng(1))
    s.step(0.0, 1.0, FakePlant(5.0123, 6.0), Env())
    fail, out = read(s)
    assert fail == 0 and out == [5000, 5000, 5000, 6000]


def test_probe_faults():
    s = Sensors(probes(noise_mdegc=5.0, quant_mdegc=1), Rng(1))
    e = Env()
    s.step(0.0, 1.0, FakePlant(5.0), e)
    read(s)
    s.probe_open(0)
    s.probe_short(1)
    s.probe_stuck(2)
    s.probe_drift(3, 1000.0)  # mdegC per hour
    out = [123] * NPROBES
    stuck = s.probes[2].last
    for k in range(1, 3601):
        s.step(float(k), 1.0, FakePlant(5.0 + k / 3600), e)
    fail = s.read_probes(out)
    assert fail == 0b0011
    assert out[0] == 123  # open: not written
    assert out[1] == SHORT_MDEGC
    assert out[2] == stuck  # exactly the last value
    assert out[3] == pytest.approx(6000 + 1000, abs=30)
    s.probe_recover(3)
    s.probe_noise(3, 2000.0, until_s=3700.0)
    burst = [read(s)[1][3] for _ in range(200)]
    assert max(burst) - min(burst) > 3000
    s.step(3800.0, 1.0, FakePlant(6.0), e)
    calm = [read(s)[1][3] for _ in range(200)]
    assert max(calm) - min(calm) < 100


def test_env_sensor_lid_and_shock():
    s = Sensors({"probe": [], "humidity_noise_permille": 0.0}, Rng(1))
    tl = Timeline(
        [
            {"name": "a", "duration_s": 10, "ambient_c": 20.0, "vibration_g": 6.0},
            {"name": "b", "duration_s": 10, "ambient_c": 20.0, "shock_g": 20.0, "lid": "open"},
        ]
    )
    p = FakePlant()
    peaks = []
    for t in range(20):
        _, e = tl.at(float(t))
        s.step(float(t), 1.0, p, e)
        peaks.append(s.take_shock_mg())
        if t == 5:
            assert not s.lid_open()
    assert 1000 <= min(peaks[1:10]) and max(peaks[:10]) <= 7000
    assert peaks[10] == 20000 and max(peaks[11:]) == 1000  # shock once
    assert s.lid_open()
    out = [0, 0]
    assert s.read_env(out) == 0 and out == [400, 10132]
    s.env_fail()
    assert s.read_env(out) == 1


def test_timeline_boundaries_and_orbit_cycle():
    tl = Timeline(
        [
            {"name": "pad", "duration_h": 1, "ambient_c": 21.0},
            {"name": "orbit", "duration_h": 6, "ambient": "orbit", "sunlit_c": 14.0,
             "eclipse_c": 8.0, "sunlit_heat_w": 0.5},
            {"name": "home", "duration_h": 48, "ambient": "diurnal", "min_c": 20.0,
             "max_c": 30.0, "start_hour": 0, "solar_heat_w": 2.0},
            {"name": "ramp", "duration_s": 100, "ambient": "ramp", "from_c": 0.0, "to_c": 10.0},
        ]
    )
    assert tl.at(3599.0)[0] == 0 and tl.at(3600.0)[0] == 1
    assert tl.at(3600.0)[1].ambient_c == 14.0
    assert tl.at(3600.0 + 55 * 60 - 1)[1].ambient_c == 14.0
    assert tl.at(3600.0 + 55 * 60)[1].ambient_c == 8.0
    e = tl.at(3600.0 + 90 * 60)[1]  # next orbit: sunlit again
    assert e.ambient_c == 14.0 and e.sunlit and e.heat_w == 0.5
    sunlit = sum(tl.at(3600.0 + s)[1].sunlit for s in range(0, 90 * 60))
    assert sunlit == 55 * 60
    home = 7 * 3600.0
    assert tl.at(home + 15 * 3600)[1].ambient_c == pytest.approx(30.0)
    assert tl.at(home + 3 * 3600)[1].ambient_c == pytest.approx(20.0)
    assert tl.at(home + 12 * 3600)[1].heat_w == pytest.approx(2.0)
    assert tl.at(home + 2 * 3600)[1].heat_w == 0.0
    ramp = home + 48 * 3600
    assert tl.at(ramp + 50)[1].ambient_c == pytest.approx(5.0)
    assert tl.at(ramp + 1e6)[0] == 3  # the last phase holds
    assert tl.at(10.0)[1].name == "pad"  # going back works too
    assert tl.duration_s == ramp + 100


def test_fault_schedule_once_and_in_order():
    plant = Plant(
        {
            "payload_heat_capacity_j_per_k": 1000, "air_heat_capacity_j_per_k": 100,
            "wall_heat_capacity_j_per_k": 1000, "payload_air_conductance_w_per_k": 1,
            "air_wall_conductance_w_per_k": 1, "wall_conductance_w_per_k": 1,
            "heater_max_w": 10,
        }
    )
    sensors = Sensors(probes(), Rng(1))
    fs = FaultSchedule(
        [
            {"kind": "reset", "at_s": 50, "cause": "watchdog"},
            {"kind": "heater_fail", "at_s": 10},
            {"kind": "probe_open", "at_h": 0.01, "probe": 2},
            {"kind": "link_loss", "at_s": 100, "duration_s": 20},
        ]
    )
    assert fs.due(5.0, plant, sensors) == ()
    assert fs.due(10.0, plant, sensors) == [] and plant.heater_failed
    assert [f.kind for f in fs.due(60.0, plant, sensors)] == ["reset"]
    assert sensors.probes[2].state != 0
    assert fs.due(60.0, plant, sensors) == ()
    assert [f.kind for f in fs.due(100.0, plant, sensors)] == ["link_loss"]
    assert fs.link_down(110.0) and not fs.link_down(120.0) and not fs.link_down(99.0)


def test_every_hal_has_every_method():
    import ast
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tree = ast.parse((root / "firmware" / "hal" / "rp2.py").read_text())  # imports machine
    (rp2,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Rp2Hal"]
    board = {f.name for f in rp2.body if isinstance(f, ast.FunctionDef)}
    sys.path.insert(0, str(root / "tests" / "mp"))
    try:
        from _fakehal import FakeHal
    finally:
        sys.path.pop(0)
    for m in METHODS:
        assert m in board, ("Rp2Hal", m)
        assert callable(getattr(SimHal, m, None)), ("SimHal", m)
        assert callable(getattr(FakeHal, m, None)), ("FakeHal", m)
    assert not [m for m in vars(Hal) if not m.startswith("_")]  # the list is the interface


def test_simhal_implements_every_hal_method(tmp_path):
    battery = Battery({"capacity_wh": 10, "base_load_w": 0})
    hal = SimHal(Sensors(probes(), Rng(1)), battery, str(tmp_path))
    hal.sensors.step(0.0, 1.0, FakePlant(5.0), Env())
    hal.now_ms = (1 << 30) + 5
    assert hal.uptime_ms() == 5  # wraps like ticks_ms
    out = [0] * NPROBES
    assert hal.read_probes(out) == 0 and out == [5000] * 4
    assert hal.battery_mv() == battery.voltage_mv > 12000
    hal.set_heater(300)
    hal.set_peltier(-200)
    hal.feed_watchdog()
    assert (hal.heater_cmd, hal.peltier_cmd, hal.watchdog_feeds) == (300, -200, 1)
    assert hal.reset_cause() == RESET_POWER_ON
    hal.cause = RESET_WATCHDOG
    assert hal.reset_cause() == RESET_WATCHDOG
    assert hal.storage_root() == str(tmp_path)
    assert hal.shock_mg() == 1000 and hal.shock_mg() == 0
    assert hal.lid_open() is False


def test_probe_count_agrees_with_the_firmware_hal():
    from firmware.hal import NPROBES as FIRMWARE_NPROBES
    from sim import sensors

    assert sensors.NPROBES == FIRMWARE_NPROBES
