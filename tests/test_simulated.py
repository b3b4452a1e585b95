"""A simulated board is marked by the device itself, with or without a seal
(issue 13): the firmware sets bit 0x80 of its BOOT event's `a` when its HAL
is no real hardware (a = reset cause | 0x80). A dead simulated board's
log, read from its flash (`logs extract`: no seal.bin), is then still
SIMULATED: podctl.verify says so, every page of its report says SIMULATED
— NOT FOR RELEASE, assess never gives RELEASE, and the event reads as a
reset cause and a simulated board.

The logs here are built block by block (tests/test_decode.seal_log) with
the bit set or not, so they do not wait for the firmware to set it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from podctl import analysis, assess, events, narration, profile_file
from podctl import report as rpt
from podctl.cli import main
from podctl.logs_cmds import load_data
from podctl.pulled import Manifest, manifest_beside, open_pulled
from podctl.report_cmd import load_profile
from podctl.verdict import NOT_ATTESTED, verify
from protocol import log
from protocol import profile as pf
from tests.test_analysis import logof
from tests.test_assess import INTERVAL, judge, mission
from tests.test_decode import KEY, seal_log

PROFILE = Path("examples/profiles/nominal.toml")
SIMULATED = "SIMULATED — NOT FOR RELEASE"
T0 = 1_800_000_000
SIM = log.RESET_POWER_ON | events.BOOT_SIMULATED


@pytest.fixture(scope="module")
def nominal() -> pf.Profile:
    got = pf.check(profile_file.compile_file(PROFILE))
    assert isinstance(got, pf.Profile)
    return got


def _log(boot_a: int) -> bytes:
    """One boot through the nominal profile's five phases, every probe at
    5 degC, its clock set at uptime 0; BOOT's a as given."""
    evs = [(0, log.EV_BOOT, boot_a, 1, 0x000100), (0, log.EV_TIME_SET, 0, 0, T0)]
    specs: list[tuple] = []
    t = 0
    for p, step in enumerate(INTERVAL):
        evs.append((t, log.EV_PHASE, p, 0, 0))
        vals = [500, 500, 500, 500, 4500, 10130, 0, 0, 12000]
        specs.append(("s", 1, 1, t, step, [(vals, log.STATUS_TIME_SET)] * 6))
        t += 6 * step
    return seal_log([("e", 1, evs), *specs])


def _folder(d: Path, boot_a: int, nominal: pf.Profile) -> Path:
    """What `logs extract` writes of a dead board's flash: log.bin and a
    manifest, no seal; and the device's key beside them."""
    d.mkdir()
    raw = _log(boot_a)
    (d / "log.bin").write_bytes(raw)
    Manifest.of_log(raw, device_id="SIM00009", fw_version="0.1.0", fw_hash="00" * 8,
                    profile_ident=pf.ident(nominal.data),
                    source="extract dead.img").write(manifest_beside(d / "log.bin"))
    (d / "key.bin").write_bytes(KEY)
    return d


def test_boot_reads_its_reset_cause_and_the_simulated_bit():
    got = events.read(log.EV_BOOT, log.RESET_WATCHDOG | events.BOOT_SIMULATED, 4, 0x000100)
    assert (got.subject, got.detail, got.text) == ("reset watchdog", "boot 4 (simulated board)",
                                                   "0.1.0")
    real = events.read(log.EV_BOOT, log.RESET_WATCHDOG, 4, 0x000100)
    assert (real.subject, real.detail) == ("reset watchdog", "boot 4")
    assert events.reset_name(SIM) == "power-on" and events.boot_simulated(SIM)
    assert not events.boot_simulated(log.RESET_BROWNOUT)


def test_assess_never_releases_a_log_whose_boot_says_simulated(nominal):
    rows, evs, end = mission()
    assert judge(nominal, rows, evs, end).status == assess.RELEASE
    evs[0] = dataclasses.replace(evs[0], a=SIM)  # the same boot, marked
    pv = judge(nominal, rows, evs, end)
    assert pv.status == assess.REVIEW and pv.simulated
    assert [(r.code, r.status) for r in pv.reasons] == [("simulated", assess.REVIEW)]
    assert "the BOOT event of boot 1" in pv.reasons[0].what and SIMULATED in pv.reasons[0].figure


def test_a_dead_simulated_boards_log_is_simulated_without_a_seal(tmp_path, nominal, capsys):
    d = _folder(tmp_path / "sim", SIM, nominal)
    v = verify(open_pulled(d), KEY)
    assert v.seal is None and v.status == NOT_ATTESTED
    assert v.simulated and v.simulated_boots == [1]
    assert v.simulated_by == "the BOOT event of boot 1"
    # the same log from real hardware: nothing says simulated
    real = verify(open_pulled(_folder(tmp_path / "real", log.RESET_POWER_ON, nominal)), KEY)
    assert real.status == NOT_ATTESTED and not real.simulated and real.simulated_by == ""

    key = ["--key-file", str(d / "key.bin")]
    assert main(["logs", "verify", str(d), *key]) == 1
    assert "(SIMULATED board)" in capsys.readouterr().out
    assert main(["logs", "info", str(d)]) == 0
    assert f"{SIMULATED} (the BOOT event of boot 1 says so)" in capsys.readouterr().out
    assert main(["logs", "assess", str(d), *key, "--profile", str(PROFILE)]) == 1
    out = capsys.readouterr().out
    assert SIMULATED in out and "REVIEW (simulated)" in out and "product: RELEASE" not in out
    assert main(["logs", "decode", str(d), "--format", "json", "-o", "-"]) == 0
    boot = json.loads(capsys.readouterr().out)["events"][0]
    assert (boot["subject"], boot["detail"]) == ("reset power-on", "boot 1 (simulated board)")


def test_every_page_of_its_report_says_simulated(tmp_path, nominal):
    pypdf = pytest.importorskip("pypdf")
    d = _folder(tmp_path / "sim", SIM, nominal)
    pulled = open_pulled(d)
    v = verify(pulled, KEY)
    data = load_data(pulled, v)
    assert pulled.manifest is not None
    rep = rpt.build(data, v, load_profile(PROFILE, d / "log.bin"), pulled.manifest.to_json(),
                    generated_utc=0)
    assert rep.simulated and rep.product.status != assess.RELEASE
    assert "simulated" in rep.product.codes(assess.REVIEW)
    (row,) = [r for r in rep.events if r.code == log.EV_BOOT]
    assert row.what == "boot 1: power-on" and "simulated board" in row.detail
    text = rpt.render_html(rep, tmp_path / "r.html").read_text()
    assert '<div class="simulated">SIMULATED &mdash; NOT FOR RELEASE</div>' in text
    pages = [p.extract_text() for p in pypdf.PdfReader(
        str(rpt.render_pdf(rep, tmp_path / "r.pdf"))).pages]
    assert len(pages) >= 3 and all(SIMULATED in p for p in pages)


def test_narration_and_analysis_take_the_reset_cause_alone(nominal):
    rows, evs, end = mission()
    evs[0] = dataclasses.replace(evs[0], a=log.RESET_WATCHDOG | events.BOOT_SIMULATED)
    data = logof(rows, evs)
    told = narration.narrate(data, analysis.bands_of(nominal), 0)
    (boot,) = [r for r in told if r.code == log.EV_BOOT]
    assert boot.what == "boot 1: watchdog"
    assert not math.isnan(analysis.analyse(data, nominal).mission.mkt)
