"""Each scenario's report gives the product verdict a QA reviewer gives
its batch (issue 17): the reviewer's disposition, written after reading
every page of the scenario's PDF, is the scenario's own [disposition]
table in sim/scenarios/NAME.toml (sim.scenario.disposition reads it; the
run ignores it). The verdict compared is the one the report would give a
real flight's log: the simulator's mark (its seal, its BOOT events) is set
aside, since a simulated board is never released whatever its data show;
the report's own verdict is checked too, with that mark.

Every scenario flies at a 60 s tick (the scenarios' verdicts do not depend
on it: tests/test_seeds.py and the seed sweeps fly them at 1 and 10 s).
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from podctl import manifest
from podctl import report as rpt
from podctl.assess import GRAVITY, RELEASE, REVIEW, assess
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.report_cmd import load_profile
from podctl.verdict import verify
from protocol import log
from sim import scenario

SCENARIOS = Path("sim/scenarios")
# what each disposition allows of the product verdict
MATCHES = {"release": {"RELEASE"}, "review": {"REVIEW"}, "reject": {"REJECT", "INCOMPLETE"}}
TICK = 60


def disposition(name: str) -> dict[str, str]:
    """The scenario's own [disposition], as the scenario loader checked it."""
    got = scenario.disposition(SCENARIOS / f"{name}.toml")
    assert got is not None, f"{name}: no [disposition] table"
    return got


def scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def test_every_scenario_has_a_disposition_with_a_reason():
    names = scenarios()
    assert len(names) >= 7
    for name in names:
        d = disposition(name)
        assert set(d) == {"verdict", "why"}, name
        assert d["verdict"] in MATCHES, name
        assert len(d["why"]) > 40 and "\n" not in d["why"], name
        # the file's own table, read as written (not a base scenario's)
        assert tomllib.loads((SCENARIOS / f"{name}.toml").read_text())["disposition"] == d


@pytest.mark.parametrize("name", scenarios())
def test_the_reports_product_verdict_is_the_reviewers(name, tmp_path):
    run = tmp_path / name
    assert main(["sim", "run", name, "--tick-s", str(TICK), "-o", str(run)]) in (0, 1)
    prof_name = tomllib.loads((SCENARIOS / f"{name}.toml").read_text()).get("profile")
    if prof_name is None:  # from its base scenario
        base = tomllib.loads((SCENARIOS / f"{name}.toml").read_text())["base"]
        prof_name = tomllib.loads((SCENARIOS / f"{base}.toml").read_text())["profile"]
    log_path = run / "log.bin"
    pulled = open_pulled(log_path)
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    profile = load_profile(Path("examples/profiles") / f"{prof_name}.toml", log_path)
    data = pulled.data()
    rep = rpt.build(data, verdict, profile, manifest.read(manifest.beside(log_path)))
    # as a real board's log: the BOOT events without the simulated bit, no seal's word
    real = dataclasses.replace(data, events=[
        dataclasses.replace(e, a=e.a & 0x7F) if e.code == log.EV_BOOT else e
        for e in data.events])
    as_flown = assess(rep.analysis, profile, real, simulated=False)
    want = disposition(name)
    assert as_flown.status in MATCHES[want["verdict"]], (name, as_flown.status, want,
                                                         [str(r) for r in as_flown.reasons])
    # the report itself: the same, except that a simulated board is never released
    assert rep.simulated and rep.product.status != RELEASE
    expect = as_flown.status if GRAVITY[as_flown.status] >= GRAVITY[REVIEW] else REVIEW
    assert rep.product.status == expect, name
