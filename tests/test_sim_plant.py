"""Thermal network, Peltier and battery against independent expectations:
analytic solutions of a single node, energy balance, datasheet behaviour."""

from __future__ import annotations

import math

import pytest

from sim.environment import Env
from sim.plant import Plant
from sim.power import Battery

BIG = 1e9  # J/K: a node so heavy it stays put


def env(ambient=20.0, heat_w=0.0, lid=False) -> Env:
    e = Env()
    e.ambient_c = ambient
    e.heat_w = heat_w
    e.lid_open = lid
    return e


def single_node(c=4000.0, g=0.5, t0=5.0, heater_w=10.0) -> Plant:
    """Payload and air lumped into one node of capacity c, conductance g to
    the environment: the wall is massless-ish and stiffly coupled."""
    return Plant(
        {
            "payload_heat_capacity_j_per_k": c,
            "air_heat_capacity_j_per_k": 1e-3,
            "wall_heat_capacity_j_per_k": 1e-3,
            "payload_air_conductance_w_per_k": 1e6,
            "air_wall_conductance_w_per_k": 1e6,
            "wall_conductance_w_per_k": g,
            "heater_max_w": heater_w,
            "initial_c": t0,
        }
    )


REFERENCE = {
    "payload_heat_capacity_j_per_k": 4000,
    "air_heat_capacity_j_per_k": 600,
    "wall_heat_capacity_j_per_k": 3000,
    "payload_air_conductance_w_per_k": 1.5,
    "air_wall_conductance_w_per_k": 0.18,
    "wall_conductance_w_per_k": 0.18,
    "heater_max_w": 15,
    "electronics_w": 0.25,
    "initial_c": 5.0,
    "peltier": {
        "qmax_w": 50,
        "dtmax_k": 66,
        "cop0": 1.5,
        "cop0_full": 0.7,
        "sink_k_per_w": 0.3,
        "leak_w_per_k": 0.03,
        "wall_fraction": 0.1,
    },
    "pcm": {
        "heat_capacity_j_per_k": 2400,
        "latent_j": 216000,
        "melt_c": 5.0,
        "melt_range_k": 2.0,
        "conductance_w_per_k": 1.0,
        "initial_c": 2.0,
    },
}


def test_single_node_matches_exponential_decay():
    c, g, t0, ta = 4000.0, 0.5, 5.0, 30.0
    p = single_node(c, g, t0)
    e = env(ta)
    worst = 0.0
    for k in range(1, 4 * 3600 + 1):  # 4 h, tau = 8000 s
        p.step(1.0, 0, 0, e)
        if k % 600 == 0:
            exact = ta + (t0 - ta) * math.exp(-k * g / c)
            worst = max(worst, abs(p.t_payload - exact))
    # backward Euler: error ~ (T0 - Ta) (dt / 2 tau) e^-1 = 25 * 6.25e-5 * 0.37
    assert worst < 1e-3


def test_single_node_steady_state_with_heater():
    p = single_node(c=400.0, g=0.5, t0=0.0, heater_w=10.0)
    e = env(20.0)
    for _ in range(20000):  # 25 time constants
        p.step(1.0, 1000, 0, e)
    # the stiff 1e6 W/K links add 2e-5 K of series resistance drop
    assert p.t_payload == pytest.approx(20.0 + 10.0 / 0.5, abs=1e-4)


def test_stable_with_large_steps():
    p = Plant(REFERENCE)
    e = env(35.0, heat_w=3.0)
    for _ in range(1000):
        p.step(600.0, 0, 0, e)  # 10 min steps: still bounded, no oscillation
    assert 5.0 < p.t_payload <= 35.0 + 3.0 / 0.18 + 1


def test_energy_balance_over_a_mission_slice():
    p = Plant(REFERENCE)
    e = env(14.0, heat_w=0.5)
    e0 = p.stored_j()
    heat_in = 0.0
    for k in range(20000):
        e.ambient_c = 14.0 if k % 5400 < 3300 else 8.0
        e.lid_open = 10000 <= k < 10300
        p.step(1.0, 300 if k % 700 < 100 else 0, 150 if k % 1000 < 500 else -200, e)
        heat_in += p.heat_in_w
    assert p.pcm_liquid_fraction > 0  # the PCM took part
    assert p.stored_j() - e0 == pytest.approx(heat_in, abs=1e-6 * abs(heat_in) + 1e-3)


def test_pcm_holds_its_melting_point():
    p = Plant(REFERENCE)
    p.set_temperatures(4.0, pcm_c=4.0)  # solid, inside the melt range
    e = env(25.0)
    temps = []
    for k in range(24 * 3600):
        p.step(1.0, 0, 0, e)
        if k % 3600 == 0:
            temps.append(p.t_pcm)
    # while melting the pack stays within its 4..6 degC range and the payload
    # beside it is held far below the 25 degC outside
    assert 0.5 < p.pcm_liquid_fraction < 1.0
    assert all(4.0 <= t <= 6.0 for t in temps)
    assert p.t_payload < 8.0


def test_peltier_zero_duty_is_zero():
    p = Plant(REFERENCE)
    p.step(1.0, 0, 0, env(20.0))
    assert p.peltier_qc_w == 0.0 and p.peltier_w == 0.0


def test_peltier_cop_falls_with_lift():
    cops = []
    for ambient in (5.0, 15.0, 30.0, 45.0):
        p = Plant(REFERENCE)
        p.step(1.0, 0, 500, env(ambient))
        cops.append(p.peltier_qc_w / p.peltier_w)
    assert all(a > b for a, b in zip(cops, cops[1:]))
    # P is drawn whatever the lift; at the datasheet's dTmax nothing is pumped
    p = Plant(REFERENCE)
    p.step(1.0, 0, 1000, env(5.0 + 80.0))
    assert p.peltier_qc_w == 0.0 and p.peltier_w == pytest.approx(50 / 0.7)


def test_peltier_heating_cop_is_cop_plus_one():
    p = Plant(REFERENCE)
    e = env(5.0)  # no lift: air at 5, outside plate at 5 minus sink drop
    p.step(1.0, 0, -400, e)
    heat = -p.peltier_qc_w
    assert heat > p.peltier_w  # COP_heat > 1
    cop = 1.5 + (0.7 - 1.5) * 0.4
    # with zero lift COP_heat would be cop + 1; the sink drop adds a little lift
    assert heat / p.peltier_w == pytest.approx(cop + 1, rel=0.05)


def test_saturation_and_failures():
    p = Plant(REFERENCE)
    e = env(20.0)
    p.step(1.0, 5000, 9999, e)
    assert p.heater_w == 15.0 and p.peltier_duty == 1000
    p.step(1.0, -5, -9999, e)
    assert p.heater_w == 0.0 and p.peltier_duty == -1000
    p.fail_heater()
    p.step(1.0, 1000, 0, e)
    assert p.heater_w == 0.0
    p.step(1.0, 0, 300, e)
    p.stick_peltier()
    p.step(1.0, 0, -800, e)
    assert p.peltier_duty == 300 and p.peltier_qc_w > 0
    p.fail_peltier()
    p.step(1.0, 0, 300, e)
    assert p.peltier_w == 0.0 and p.peltier_qc_w == 0.0


def test_lid_open_warms_the_air():
    closed, opened = Plant(REFERENCE), Plant(REFERENCE)
    for _ in range(600):
        closed.step(1.0, 0, 0, env(25.0))
        opened.step(1.0, 0, 0, env(25.0, lid=True))
    assert opened.t_air > closed.t_air + 2.0


# -- battery -------------------------------------------------------------------

PACK = {
    "pack": "li-ion",
    "cells_series": 3,
    "capacity_wh": 100.0,
    "internal_resistance_ohm": 0.0,
    "base_load_w": 1.0,
    "cutoff_mv": 0,
}


def test_battery_energy_integrates():
    b = Battery(PACK)
    for _ in range(3600):
        b.step(1.0, 9.0)  # 10 W for an hour
    assert b.energy_wh == pytest.approx(10.0)
    assert b.soc == pytest.approx(0.9, abs=0.02)  # Wh at nominal voltage


def test_battery_voltage_falls_and_empties():
    b = Battery(dict(PACK, internal_resistance_ohm=0.05, cutoff_mv=9000))
    mv = [b.voltage_mv]
    hours = 0
    while not b.empty:
        for _ in range(360):
            b.step(10.0, 9.0)
        hours += 1
        if not b.empty:
            mv.append(b.voltage_mv)
    assert all(a >= b_ for a, b_ in zip(mv, mv[1:]))
    assert 12400 < mv[0] <= 12540 and mv[-1] >= 9000
    assert 8 <= hours <= 11  # 100 Wh at 10 W, less the tail below cutoff
    assert b.voltage_mv == 0


def test_battery_sags_under_load():
    b1 = Battery(dict(PACK, internal_resistance_ohm=0.1))
    b2 = Battery(dict(PACK, internal_resistance_ohm=0.1))
    b1.step(1.0, 0.0)
    b2.step(1.0, 60.0)
    assert b2.voltage_mv < b1.voltage_mv - 400  # ~5 A x 0.1 ohm
