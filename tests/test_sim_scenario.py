"""Scenario loader: the shipped scenarios load and make physical sense;
malformed files give one line naming the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim import scenario
from sim.environment import Timeline
from sim.faults import FaultSchedule
from sim.plant import Plant
from sim.power import Battery
from sim.rng import Rng
from sim.scenario import ScenarioError
from sim.sensors import Sensors

SHIPPED = (
    "heater-failure",
    "incubation",
    "nominal",
    "probe-failure",
    "reset-reentry",
    "return-slip",
    "stranded",
)


def test_names():
    assert tuple(scenario.scenario_names()) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_and_builds(name):
    sc = scenario.load(name)
    assert sc["name"] == name and sc["profile"] and sc["tick_s"] == 1
    Plant(sc["container"])
    Battery(sc["power"])
    Sensors(sc["sensors"], Rng(sc["seed"]))
    tl = Timeline(sc["phases"])
    assert tl.duration_s == sc["duration_s"]
    FaultSchedule(sc["faults"])
    assert sc["expects"]


def _mission(name, dt=60.0):
    """Fly a scenario with a plain PI controller on the payload (no firmware,
    no sensors) in coarse steps; return (percent in band, battery, empty_h)."""
    sc = scenario.load(name)
    plant, battery, tl = Plant(sc["container"]), Battery(sc["power"]), Timeline(sc["phases"])
    sp = sc["container"]["initial_c"]
    lo, hi = (sp - 3, sp + 3) if sp < 20 else (sp - 1, sp + 1)
    integ, inside, n, t, empty_h = 0.0, 0, 0, 0.0, None
    while t < tl.duration_s:
        _, env = tl.at(t)
        heat = cool = 0
        if battery.empty:
            plant.electronics_on = False
            empty_h = empty_h or t / 3600
        else:
            e = plant.t_payload - sp
            integ = max(-2000.0, min(2000.0, integ + e * dt))
            cool = int(max(-1000, min(1000, 400 * e + 0.5 * integ)))
            heat = int(min(1000, -400 * (e + 0.5))) if e < -0.5 else 0
        plant.step(dt, heat, cool, env)
        battery.step(dt, plant.heater_w + plant.peltier_w)
        inside += lo <= plant.t_payload <= hi
        n += 1
        t += dt
    return 100 * inside / n, battery, empty_h


def test_nominal_is_holdable_with_margin():
    pct, battery, empty_h = _mission("nominal")
    assert pct == 100.0 and empty_h is None
    assert battery.soc > 0.5  # half the pack left at handover


def test_return_slip_holdable_stranded_runs_out():
    pct, battery, empty_h = _mission("return-slip")
    assert pct == 100.0 and empty_h is None and battery.soc > 0.1
    pct, battery, empty_h = _mission("stranded")
    sc = scenario.load("stranded")
    assert empty_h is not None and empty_h < sc["duration_s"] / 3600 - 24
    assert pct < 90


def test_unknown_name_lists_known():
    with pytest.raises(ScenarioError) as e:
        scenario.load("nomnal")
    msg = str(e.value)
    assert "\n" not in msg and "nomnal" in msg
    for name in SHIPPED:
        assert name in msg


MINIMAL = """
name = "t"
description = "test"
profile = "nominal"

[container]
initial_c = 5.0
payload_heat_capacity_j_per_k = 4000
air_heat_capacity_j_per_k = 600
wall_heat_capacity_j_per_k = 3000
payload_air_conductance_w_per_k = 1.5
air_wall_conductance_w_per_k = 0.2
wall_conductance_w_per_k = 0.2
heater_max_w = 15

[container.peltier]
qmax_w = 50
dtmax_k = 66
cop0 = 0.7

[power]
capacity_wh = 100
base_load_w = 0.3

[sensors]
[[sensors.probe]]
[[sensors.probe]]
[[sensors.probe]]
[[sensors.probe]]
node = "air"

[[phase]]
name = "pad"
duration_h = 1
ambient_c = 20

[[expect]]
kind = "in_band"
min_percent = 99
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return p


def test_minimal_file_loads_with_defaults(tmp_path):
    sc = scenario.load(_write(tmp_path, MINIMAL))
    assert sc["seed"] == 1 and sc["power"]["pack"] == "li-ion"
    assert sc["sensors"]["probe"][3]["node"] == "air"
    assert sc["phases"][0]["ambient"] == "constant" and sc["faults"] == []


@pytest.mark.parametrize(
    "old, new, field, reason",
    [
        ("\nwall_conductance_w_per_k = 0.2", "\nwall_conductance_w_per_k = -1",
         "container.wall_conductance_w_per_k", "must be a positive number"),
        ("\nwall_conductance_w_per_k = 0.2", "\nwall_conductance_w_per_k = \"x\"",
         "container.wall_conductance_w_per_k", "must be a positive number"),
        ("\nwall_conductance_w_per_k = 0.2\n", "\n",
         "container.wall_conductance_w_per_k", "missing"),
        ("heater_max_w = 15", "heater_max_w = 15\nheater_max = 3",
         "container.heater_max", "unknown field"),
        ("cop0 = 0.7", "cop0 = 0", "container.peltier.cop0", "must be a positive number"),
        ("capacity_wh = 100", "capacity_wh = 100\npack = \"nicd\"",
         "power.pack", "must be one of li-ion, lifepo4"),
        ("node = \"air\"", "node = \"wall\"", "sensors.probe[3].node", "must be one of"),
        ("[[sensors.probe]]\nnode", "node", "sensors.probe", "must list 4 probes"),
        ("duration_h = 1", "", "phase[0].duration_h", "missing"),
        ("duration_h = 1", "duration_h = 1\nduration_s = 5", "phase[0]", "not both"),
        ("ambient_c = 20", "ambient = \"orbit\"\nsunlit_c = 1",
         "phase[0].eclipse_c", "missing"),
        ("ambient_c = 20", "ambient = \"weather\"", "phase[0].ambient", "must be one of"),
        ("min_percent = 99", "min_percent = 101", "expect[0].min_percent",
         "must be a number from 0 to 100"),
        ("kind = \"in_band\"\nmin_percent = 99", "kind = \"alarm\"\nalarm = \"fire\"",
         "expect[0].alarm", "must be one of high, low"),
        ("profile = \"nominal\"", "profile = \"\"", "profile", "must be a non-empty string"),
        ("profile = \"nominal\"", "profile = \"p\"\nseed = -1", "seed", "must be an integer"),
    ],
)
def test_malformed_field_named(tmp_path, old, new, field, reason):
    assert old in MINIMAL
    p = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ScenarioError) as e:
        scenario.load(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}: {field}: ") or msg.startswith(f"bad.toml: {field}: ")
    assert reason in msg


@pytest.mark.parametrize(
    "fault, field, reason",
    [
        ('kind = "probe_open"\nat_h = 0.5', "fault[0].probe", "missing"),
        ('kind = "probe_open"\nat_h = 0.5\nprobe = 4', "fault[0].probe", "integer from 0 to 3"),
        ('kind = "meteor"\nat_h = 0.5', "fault[0].kind", "must be one of"),
        ('kind = "heater_fail"\nat_h = 2', "fault[0].at_h", "after the last phase"),
        ('kind = "link_loss"\nat_s = 5', "fault[0].duration_h", "missing"),
        ('kind = "reset"\nat_s = 5\ncause = "cosmic"', "fault[0].cause", "must be one of"),
    ],
)
def test_malformed_fault_named(tmp_path, fault, field, reason):
    p = _write(tmp_path, MINIMAL + "\n[[fault]]\n" + fault + "\n")
    with pytest.raises(ScenarioError, match=f": {re.escape(field)}: .*{reason}"):
        scenario.load(p)


def test_bad_toml_and_pcm_stability(tmp_path):
    with pytest.raises(ScenarioError, match="bad.toml: not valid TOML"):
        scenario.load(_write(tmp_path, MINIMAL + "\n[[[nonsense"))
    pcm = (
        "\n[container.pcm]\nheat_capacity_j_per_k = 10\nlatent_j = 1000\n"
        "melt_c = 5\nconductance_w_per_k = 5\n"
    )
    text = MINIMAL.replace("[power]", pcm + "\n[power]")
    with pytest.raises(ScenarioError, match="container.pcm.conductance_w_per_k: .*ticks"):
        scenario.load(_write(tmp_path, text))


def test_base_merges_tables_and_replaces_arrays(tmp_path):
    (tmp_path / "parent.toml").write_text(MINIMAL)
    child = tmp_path / "child.toml"
    child.write_text(
        'base = "parent"\nname = "c"\n[container]\ninitial_c = 37.0\n'
        '[[phase]]\nname = "x"\nduration_s = 60\nambient_c = 30\n'
    )
    sc = scenario.load(child)
    assert sc["name"] == "c" and sc["container"]["initial_c"] == 37.0
    assert sc["container"]["heater_max_w"] == 15.0
    assert [p["name"] for p in sc["phases"]] == ["x"]
    child.write_text('base = "nobody"\nname = "c"\n')
    with pytest.raises(ScenarioError, match="child.toml: base: "):
        scenario.load(child)


DISPOSITION = '\n[disposition]\nverdict = "review"\nwhy = "the 20 g shock must be assessed"\n'


@pytest.mark.parametrize(
    "table, field, reason",
    [
        ('verdict = "ship"\nwhy = "fine"', "disposition.verdict",
         "must be one of release, review, reject"),
        ('verdict = "RELEASE"\nwhy = "fine"', "disposition.verdict", "must be one of"),
        ('why = "fine"', "disposition.verdict", "missing"),
        ('verdict = "review"', "disposition.why", "missing"),
        ('verdict = "review"\nwhy = ""', "disposition.why", "must be a non-empty string"),
        ('verdict = "review"\nwhy = 3', "disposition.why", "must be a non-empty string"),
        ('verdict = "review"\nwhy = """two\nlines"""', "disposition.why",
         "must be one line of text"),
        ('verdict = "review"\nwhy = "x"\nby = "QA"', "disposition.by", "unknown field"),
    ],
)
def test_a_bad_disposition_is_refused_in_one_line(tmp_path, table, field, reason):
    p = _write(tmp_path, MINIMAL + "\n[disposition]\n" + table + "\n")
    for read in (scenario.load, scenario.disposition):
        with pytest.raises(ScenarioError) as e:
            read(p)
        msg = str(e.value)
        assert "\n" not in msg and f"bad.toml: {field}: " in msg and reason in msg, msg
    p = _write(tmp_path, 'disposition = "review"\n' + MINIMAL)
    with pytest.raises(ScenarioError, match="bad.toml: disposition: must be a table"):
        scenario.load(p)


def test_the_run_and_a_leg_ignore_the_disposition(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text(MINIMAL)
    judged = tmp_path / "judged.toml"
    judged.write_text(MINIMAL + DISPOSITION)
    assert scenario.disposition(judged) == {
        "verdict": "review", "why": "the 20 g shock must be assessed"}
    assert scenario.disposition(plain) is None

    def bare(sc):
        return {k: v for k, v in sc.items() if k != "path"}

    a, b = scenario.load(plain), scenario.load(judged)
    assert "disposition" not in b and bare(a) == bare(b)
    assert bare(scenario.leg(a, 0.5)) == bare(scenario.leg(b, 0.5))


def test_podctl_sim_run_flies_a_scenario_with_a_disposition(tmp_path):
    from podctl.cli import main

    judged = tmp_path / "judged.toml"
    judged.write_text(MINIMAL + DISPOSITION)
    plain = tmp_path / "plain.toml"
    plain.write_text(MINIMAL)
    runs = []
    for p in (plain, judged):
        out = tmp_path / p.stem
        assert main(["sim", "run", str(p), "--tick-s", "60", "-o", str(out)]) == 0
        runs.append(out)
    # the same flight: the same truth, minute by minute
    assert (runs[0] / "truth.csv").read_bytes() == (runs[1] / "truth.csv").read_bytes()


def test_a_disposition_is_the_scenarios_own_never_its_bases(tmp_path):
    (tmp_path / "parent.toml").write_text(MINIMAL + DISPOSITION)
    child = tmp_path / "child.toml"
    child.write_text('base = "parent"\nname = "c"\n')
    assert scenario.disposition(tmp_path / "parent.toml")["verdict"] == "review"
    assert scenario.disposition(child) is None
    child.write_text('base = "parent"\nname = "c"\n[disposition]\nverdict = "reject"\n'
                     'why = "its own reason"\n')
    assert scenario.disposition(child) == {"verdict": "reject", "why": "its own reason"}


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_scenario_carries_its_disposition(name):
    d = scenario.disposition(name)
    assert d is not None and d["verdict"] in scenario.DISPOSITIONS
