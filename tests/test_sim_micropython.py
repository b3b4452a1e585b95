"""The simulator's plant code runs unchanged on the micropython binary and
gives bit-identical numbers to CPython for a seed."""

from __future__ import annotations

import pytest

from sim import upy

# Prints the raw IEEE-754 bytes of every float so the comparison is exact
# (the two interpreters format floats differently).
SCRIPT = r"""
import struct, binascii
from sim.rng import Rng
from sim.plant import Plant
from sim.power import Battery
from sim.sensors import Sensors
from sim.environment import Timeline
from sim.faults import FaultSchedule

def h(x):
    return binascii.hexlify(struct.pack("<d", x)).decode()

r = Rng(12345)
print(" ".join(h(r.uniform()) for _ in range(5)))
print(" ".join(h(r.gauss(1.0, 3.0)) for _ in range(5)))
print(" ".join(str(r.randint(-10, 10)) for _ in range(10)), r.next64())

plant = Plant({
    "payload_heat_capacity_j_per_k": 4000, "air_heat_capacity_j_per_k": 600,
    "wall_heat_capacity_j_per_k": 3000, "payload_air_conductance_w_per_k": 1.5,
    "air_wall_conductance_w_per_k": 0.18, "wall_conductance_w_per_k": 0.18,
    "heater_max_w": 15, "electronics_w": 0.25, "initial_c": 5.0,
    "peltier": {"qmax_w": 50, "dtmax_k": 66, "cop0": 1.5, "cop0_full": 0.7,
                "sink_k_per_w": 0.3, "leak_w_per_k": 0.03, "wall_fraction": 0.1},
    "pcm": {"heat_capacity_j_per_k": 2400, "latent_j": 216000, "melt_c": 5.0,
            "melt_range_k": 2.0, "conductance_w_per_k": 1.0, "initial_c": 2.0},
})
battery = Battery({"capacity_wh": 50, "base_load_w": 0.35, "internal_resistance_ohm": 0.02})
sensors = Sensors({"probe": [{"noise_mdegc": 20, "lag_s": 20}] * 3
                   + [{"node": "air", "noise_mdegc": 20, "lag_s": 5}],
                   "humidity_noise_permille": 5}, Rng(99))
tl = Timeline([
    {"name": "pad", "duration_s": 600, "ambient_c": 21.0},
    {"name": "orbit", "duration_s": 6000, "ambient": "orbit", "sunlit_c": 14.0,
     "eclipse_c": 8.0, "sunlit_heat_w": 0.5, "accel_g": 0.0, "vibration_g": 0.3},
    {"name": "home", "duration_s": 3000, "ambient": "diurnal", "min_c": 22.0,
     "max_c": 35.0, "solar_heat_w": 3.0, "shock_g": 20.0},
])
faults = FaultSchedule([{"kind": "probe_drift", "at_s": 2000, "probe": 1,
                         "rate_mdegc_per_h": 500}, {"kind": "heater_fail", "at_s": 5000}])
out = [0, 0, 0, 0]
env_out = [0, 0]
acc = 0
for k in range(10000):
    t = float(k)
    i, env = tl.at(t)
    faults.due(t, plant, sensors)
    pel = (k * 37) % 2001 - 1000
    plant.step(1.0, (k * 13) % 1001, pel, env)
    battery.step(1.0, plant.heater_w + plant.peltier_w)
    sensors.step(t, 1.0, plant, env)
    fail = sensors.read_probes(out)
    sensors.read_env(env_out)
    acc = (acc * 31 + out[0] + 3 * out[1] + 5 * out[3] + fail + env_out[0]
           + sensors.take_shock_mg() + battery.voltage_mv) & 0xFFFFFFFF
print(h(plant.t_payload), h(plant.t_air), h(plant.t_wall), h(plant.t_pcm))
print(h(plant.heat_in_w), h(plant.peltier_w), h(battery.energy_wh), battery.voltage_mv)
print(out, acc)
"""


@pytest.fixture(scope="module")
def both():
    mp = upy.run(SCRIPT)
    cp = upy.run_cpython(SCRIPT)
    assert cp.returncode == 0, cp.stderr
    assert mp.returncode == 0, mp.stderr
    return cp.stdout, mp.stdout


def test_identical_on_both_interpreters(both):
    cp, mp = both
    assert cp.count("\n") == 6
    assert cp == mp


def test_modules_import_on_micropython():
    r = upy.run(
        "import sim.rng, sim.plant, sim.power, sim.sensors, sim.environment,"
        " sim.faults, sim.simhal; print('ok')"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
