"""Issue 18: dispersions (sim/disperse.py), legs (sim.scenario.leg) and the
campaign's statistics against independent values (shared/reference.md)."""

from __future__ import annotations

import pytest

from podctl import campaign_stats
from sim import disperse, scenario


@pytest.fixture(scope="module")
def nominal():
    return scenario.load("nominal")


def _spec(text: str, sc) -> dict:
    import tomllib

    spec = disperse.parse(tomllib.loads(text))
    disperse.check(spec, sc)
    return spec


def test_a_draw_is_a_pure_function_of_seed_and_name(nominal):
    spec = _spec('[[param]]\nfield = "container.wall_conductance_w_per_k"\nsigma_percent = 10\n'
                 '[[param]]\nfield = "phase[pad].ambient_c"\nuniform = [-2.0, 2.0]\n', nominal)
    a, va = disperse.apply(nominal, spec, 7)
    b, vb = disperse.apply(nominal, spec, 7)
    _, vc = disperse.apply(nominal, spec, 8)
    assert va == vb and va != vc and a == b
    assert a["container"]["wall_conductance_w_per_k"] == va["container.wall_conductance_w_per_k"]
    assert a["phases"][0]["ambient_c"] == va["phase[pad].ambient_c"]
    assert nominal["container"]["wall_conductance_w_per_k"] == 0.18  # the input is not touched
    # one field's draw does not depend on which others are dispersed
    alone = _spec('[[param]]\nfield = "phase[pad].ambient_c"\nuniform = [-2.0, 2.0]\n', nominal)
    pad = "phase[pad].ambient_c"
    assert disperse.apply(nominal, alone, 7)[1] == {pad: va[pad]}


def test_the_seed_noise_is_untouched(nominal):
    """The sensors' generator is seeded with the seed itself; the draws use
    their own streams, so a dispersion with no effect flies the same run."""
    from sim.rng import Rng

    r = Rng(7)
    first = [r.next64() for _ in range(3)]
    disperse.apply(nominal, _spec('[[param]]\nfield = "power.base_load_w"\nsigma = 0.01\n',
                                  nominal), 7)
    r = Rng(7)
    assert [r.next64() for _ in range(3)] == first


def test_normal_draws_stay_within_three_sigma_and_spread_like_one(nominal):
    spec = _spec('[[param]]\nfield = "container.initial_c"\nsigma = 1.0\n', nominal)
    xs = [disperse.apply(nominal, spec, s)[1]["container.initial_c"] - 5.0 for s in range(2000)]
    assert max(abs(x) for x in xs) <= 3.0
    mean = sum(xs) / len(xs)
    sd = (sum((x - mean) ** 2 for x in xs) / len(xs)) ** 0.5
    assert abs(mean) < 0.08 and 0.93 < sd < 1.04  # truncation at 3 sigma: sd 0.986
    u = _spec('[[param]]\nfield = "container.initial_c"\nuniform_percent = [-10.0, 20.0]\n',
              nominal)
    ys = [disperse.apply(nominal, u, s)[1]["container.initial_c"] for s in range(500)]
    assert 4.5 <= min(ys) < 4.6 and 5.9 < max(ys) <= 6.0


def test_wildcards_expand_per_element_with_readable_names(nominal):
    spec = _spec('[[param]]\nfield = "sensors.probe[*].offset_mdegc"\nsigma = 50\n'
                 '[[param]]\nfield = "phase[*].ambient_c"\nsigma = 1\nif_present = true\n',
                 nominal)
    names = disperse.parameters(spec, nominal)
    assert names[:4] == [f"sensors.probe[{i}].offset_mdegc" for i in range(4)]
    # only the constant-ambient phases have ambient_c
    assert names[4:] == ["phase[pad].ambient_c", "phase[splashdown].ambient_c",
                         "phase[transport].ambient_c", "phase[handover].ambient_c"]
    _, v = disperse.apply(nominal, spec, 3)
    assert len(set(v[n] for n in names[:4])) == 4  # each probe its own draw


def test_a_fault_time_in_seconds_is_dispersed_in_hours():
    sc = scenario.load("reset-reentry")
    spec = _spec('[[param]]\nfield = "fault[0].at_h"\nuniform = [-0.05, 0.05]\n', sc)
    out, v = disperse.apply(sc, spec, 1)
    f = out["faults"][0]
    assert "at_s" not in f and abs(f["at_h"] * 3600 - 823500) <= 180
    assert v["fault[0].at_h"] == f["at_h"]


def test_the_shipped_reset_reentry_dispersion_keeps_the_reset_in_reentry():
    sc = scenario.load("reset-reentry")
    spec = disperse.load("reset-reentry", sc)
    starts = {}
    t = 0.0
    for p in sc["phases"]:
        starts[p["name"]] = t
        t += p.get("duration_s", p.get("duration_h", 0) * 3600)
    for seed in range(50):
        out, _ = disperse.apply(sc, spec, seed)
        reset, brownout = out["faults"]
        assert starts["reentry"] <= reset["at_s"] < starts["splashdown"]
        assert starts["splashdown"] <= brownout["at_s"] < starts["recovery"]


def test_a_leg_cuts_phases_faults_and_keeps_what_a_leg_can_hold():
    sc = scenario.load("probe-failure")
    leg = scenario.leg(sc, 24)
    assert leg["duration_s"] == 86400
    assert sum(p.get("duration_s", p.get("duration_h", 0) * 3600) for p in leg["phases"]) == 86400
    assert [p["name"] for p in leg["phases"]] == ["pad", "ascent", "orbit"]
    assert leg["faults"] == []  # the probe faults strike from 104 h
    assert {e["kind"] for e in leg["expects"]} <= set(scenario.LEG_EXPECTS)
    assert {e["kind"] for e in leg["dropped_expects"]} == {"probe_fault"}
    assert scenario.leg(sc, 10_000) is sc  # longer than the mission: all of it
    with pytest.raises(scenario.ScenarioError):
        scenario.leg(sc, 0)
    long = scenario.leg(sc, 110)
    assert [f["at_h"] for f in long["faults"]] == [104]


# -- intervals and percentiles against independent values ---------------------


@pytest.mark.parametrize(
    "k, n, method, low, high",
    [
        (0, 100, "wilson", 0.0, 0.03699),
        (3, 200, "wilson", 0.005114, 0.04317),
        (0, 100, "exact", 0.0, 0.03622),
        (3, 200, "exact", 0.003104, 0.04321),
    ],
)
def test_binomial_intervals_match_the_reference(k, n, method, low, high):
    lo, hi = campaign_stats.interval(k, n, method)
    assert lo == pytest.approx(low, abs=2e-6) and hi == pytest.approx(high, abs=6e-6)


def test_no_run_no_interval():
    assert campaign_stats.interval(0, 0) is None
    r = campaign_stats.rate([], 0)
    assert r["rate"] is None and r["wilson95"] is None


def test_percentiles_and_a_ranking_without_variation():
    p = campaign_stats.percentiles([float(x) for x in range(101)], campaign_stats.HIGH)
    assert p == {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    rows = [{"seed": s, "error": None, "passed": True, "band_margin_c": 1.0, "x": float(s)}
            for s in range(5)]
    (only,) = campaign_stats.sensitivity(rows, ["x"])
    assert only["rho_failure"] is None and only["rho_margin"] is None
