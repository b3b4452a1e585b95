"""`podctl logs report`: MKT against independent worked values, the report's
figures against the simulator's ground truth, the rendered HTML/PDF/plots,
a damaged log, and one-line errors.

Tolerance for the report against the true payload temperature: 0.3 degC.
The report judges the firmware's estimate, the mean of the trusted probes,
and the simulated probes (sim/scenarios/nominal.toml) measure with offsets
of up to 0.08 degC, 0.02 degC noise, a 20 s lag, and the fourth probe sits
on the air node, up to about 1 degC from the payload in the warm recovery:
a quarter of that in the mean. 0.3 degC covers that budget with margin and
is below a cold-chain logger's +/-0.5 degC accuracy class. Where the report
can be exact it is checked exactly: its estimate against the firmware's own
(truth.csv estimate_c, to the log's 0.01 degC resolution), alarms by name
and second.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from podctl import analysis, logdata, manifest
from podctl import report as rpt
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_USAGE, CommandError
from podctl.pulled import open_pulled
from podctl.report_cmd import add_report_parser, cmd_report, load_profile
from podctl.verdict import verify

NOMINAL = Path("examples/profiles/nominal.toml")
TOL_C = 0.3
TICK = 60

# /work/shared/reference.md (USP <1079> formula, dH/R = 10,000 K), given to
# three decimals
MKT_REFERENCE = [
    ([2, 8, 25, 5], 15.216),
    ([5] * 10, 5.000),
    ([4] * 100 + [30] * 2, 6.683),
    ([20, 25, 30, 35, 40], 32.394),
]


@pytest.mark.parametrize("readings,expected", MKT_REFERENCE)
def test_mkt_matches_the_worked_examples(readings, expected):
    # R = 8.3144598 rather than the reference's 8.3144 moves MKT by < 0.0004 degC
    assert analysis.mkt(readings) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("temp", [-20.0, 0.0, 5.0, 25.0, 37.0])
def test_mkt_of_a_constant_temperature_is_that_temperature(temp):
    assert analysis.mkt([temp] * 50) == pytest.approx(temp, abs=1e-9)
    assert analysis.mkt([temp] * 3, weights=[1, 60, 600]) == pytest.approx(temp, abs=1e-9)


def test_mkt_weights_and_warm_bias():
    # a reading standing for twice the time counts as two readings
    twice = analysis.mkt([2, 8, 25, 25])
    assert analysis.mkt([2, 8, 25], weights=[1, 1, 2]) == pytest.approx(twice)
    assert analysis.mkt([2, 8, 25, 5]) > np.mean([2, 8, 25, 5])
    assert math.isnan(analysis.mkt([math.nan, math.nan]))


# ---------------------------------------------------------------- missions


def _sim(tmp_path_factory, scenario: str) -> Path:
    out = tmp_path_factory.mktemp(scenario)
    assert main(["sim", "run", scenario, "--tick-s", str(TICK), "-o", str(out)]) == 0
    return out


def _report(run: Path, key: bool = True) -> rpt.Report:
    log = run / "log.bin"
    pulled = open_pulled(log)
    verdict = verify(pulled, (run / "key.bin").read_bytes() if key else None)
    m = manifest.read(manifest.beside(log))
    return rpt.build(pulled.data(), verdict, load_profile(NOMINAL, log), m, generated_utc=0)


def _truth(run: Path) -> dict[str, np.ndarray]:
    with open(run / "truth.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in rows[0]}


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    run = _sim(tmp_path_factory, "nominal")
    return run, _report(run), json.loads((run / "summary.json").read_text()), _truth(run)


@pytest.fixture(scope="module")
def stranded(tmp_path_factory):
    run = _sim(tmp_path_factory, "stranded")
    return run, _report(run), json.loads((run / "summary.json").read_text()), _truth(run)


def test_per_phase_figures_agree_with_the_true_payload(nominal):
    run, rep, summary, truth = nominal
    assert rep.verdict == rpt.VERIFIED
    assert [p.band.name for p in rep.phases] == [p["name"] for p in summary["phases"]]
    # the truth while the log was recording: the last minutes before the pull
    # (lid open, payload warming) were not yet in a sealed block
    end_s = rep.t[-1] + rep.dt[-1]
    for ps, sp in zip(rep.phases, summary["phases"]):
        mine = (truth["fw_phase"] == ps.band.index) & (truth["t_s"] <= end_s)
        assert ps.t_min == pytest.approx(truth["payload_c"][mine].min(), abs=TOL_C), ps.band.name
        assert ps.t_max == pytest.approx(truth["payload_c"][mine].max(), abs=TOL_C), ps.band.name
        assert sp["min_c"] <= ps.t_min + TOL_C and ps.t_max - TOL_C <= sp["max_c"], ps.band.name
        true = truth["payload_c"][mine]
        assert ps.t_mean == pytest.approx(float(np.mean(true)), abs=TOL_C), ps.band.name
        assert ps.mkt == pytest.approx(analysis.mkt(true), abs=TOL_C), ps.band.name
        # time in band: the same share of the time with a reading (the
        # simulator has a reading every tick), and the same seconds within
        # one tick at each end of the phase, and the pull's unsealed tail
        judged = ps.in_band_s + ps.out_band_s
        share = 100 * sp["in_band_s"] / sp["seconds"]
        assert 100 * ps.in_band_s / judged == pytest.approx(share, abs=0.01)
        # the phase's duration is all of its time: in, out and unknown
        assert ps.in_band_s + ps.out_band_s + ps.unknown_s == pytest.approx(ps.seconds)
    assert rep.analysis.until is not None  # the device's seal
    tail = rep.analysis.until.t - (rep.t[-1] + rep.dt[-1])
    for ps, sp in zip(rep.phases, summary["phases"]):
        slack = 2 * TICK + (tail if ps is rep.phases[-1] else 0)
        assert abs(ps.in_band_s - sp["in_band_s"]) <= slack, ps.band.name
        assert abs(ps.seconds - sp["seconds"]) <= slack, ps.band.name
    m = rep.mission
    share = 100 * m.in_band_s / (m.in_band_s + m.out_band_s)
    assert share == pytest.approx(summary["in_band_percent"], abs=0.01)


def test_alarms_match_the_simulator(nominal):
    _, rep, summary, _ = nominal
    got = {a.what.removesuffix(" raised"): a.utc - summary["start_utc"] for a in rep.alarms}
    assert got == {k: float(v) for k, v in summary["alarms"].items()}
    assert [x for x in rep.excursions if x.beyond_delay] == []
    assert summary["phases"] and all(p["excursions"] == [] for p in summary["phases"])


def test_the_estimate_is_the_firmwares(tmp_path_factory):
    """probe-failure: a dead probe (no reading) and a drifting one the
    firmware excluded but which still reads 20 degC warm: the report's
    estimate is the firmware's, record for record. The truth table has the
    firmware's estimate once a minute; a record is stamped with its
    scheduled second but read at the first tick after it (ceil(t / 60) * 60
    with a 60 s tick). Records stamped within a tick before a probe fault or
    recovery are left out: the probe's state in them is ambiguous from the
    log alone while another probe is already excluded (the report takes the
    event's stamp; see host/podctl/report.py _estimate)."""
    run = _sim(tmp_path_factory, "probe-failure")
    rep = _report(run)
    truth = _truth(run)
    at = {int(t): i for i, t in enumerate(truth["t_s"])}
    turns = np.array([e.t for e in rep.events if e.category == "probe"], dtype=float)
    near = np.array([((turns > t) & (turns <= t + TICK)).any() for t in rep.t])
    assert near.sum() < 30  # 20: the noisy probe's fault and recovery add theirs
    rows = [(k, at.get(int(math.ceil(t / TICK) * TICK)))
            for k, t in enumerate(rep.t) if not near[k]]
    pairs = [(k, i) for k, i in rows if i is not None]
    assert len(pairs) > 0.99 * len(rep.t)
    ours = rep.estimate[[k for k, _ in pairs]]
    fw = truth["estimate_c"][[i for _, i in pairs]]
    assert np.nanmax(np.abs(ours - fw)) <= 0.011
    # probe 2 still reads after its last PROBE_FAULT: excluded all the same
    raw = logdata.load((run / "log.bin").read_bytes())
    drifting = np.flatnonzero(~np.isnan(raw.samples["probe2"]))
    assert np.isnan(rep.probes[drifting[-1], 2])
    assert rep.phases[2].t_max < 8.5  # the 20 degC probe did not get in
    faults = [e.what for e in rep.events if e.category == "probe"]
    assert "probe 1 fault: read" in faults and "probe 2 fault: disagree" in faults


def test_stranded_shows_battery_low_and_where_the_log_ends(stranded):
    _run, rep, summary, truth = stranded
    # every block verifies; a dead board cannot seal its log, so its end is
    # not attested by the device (VERIFIED before the seal existed)
    assert rep.verdict != rpt.FAILED
    names = [a.what for a in rep.alarms]
    assert "battery_low raised" in names
    low = next(a for a in rep.alarms if a.what == "battery_low raised")
    assert low.utc - summary["start_utc"] == summary["alarms"]["battery_low"]
    assert "battery" in low.detail and "V" in low.detail
    # the warm excursion came after the battery died: the board was off, so
    # the log has no record of it; the report says where the log ends and
    # that nothing after it is known
    end_s = rep.t[-1] + rep.dt[-1]
    assert summary["battery_empty_s"] is not None and end_s <= summary["battery_empty_s"]
    (start, _end, _peak), = summary["phases"][-1]["excursions"]
    assert start > end_s
    warm = truth["t_s"][truth["payload_c"] > 8.0]
    assert warm.min() > end_s
    assert rep.excursions == [] and rep.mission.out_band_s == 0
    assert any("nothing after that is recorded" in c for c in rep.coverage)
    assert rep.battery[-1] < rep.battery_low_v


# ---------------------------------------------------------------- rendering


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_html_and_pdf_with_plots(nominal, tmp_path):
    _, rep, _, _ = nominal
    html = rpt.render_html(rep, tmp_path / "report.html")
    pdf = rpt.render_pdf(rep, tmp_path / "report.pdf")
    assert set(rep.plots) == {"overview", "histogram"} | {f"phase{i}" for i in range(5)}
    for p in rep.plots.values():
        assert p.parent == tmp_path and p.stat().st_size > 10_000, p
        w, h = _png_size(p)
        assert w >= 800 and h >= 300, (p, w, h)
    text = html.read_text()
    assert text.count('<img src="data:image/png;base64,') == len(rep.plots)
    for p in rep.plots.values():
        assert p.name in text
    assert '<div class="verdict VERIFIED">VERIFIED</div>' in text
    assert "intact and authenticated" in text
    assert "verdict FAILED" not in text
    assert "Sign-off" in text and "Reviewed by" in text
    assert "shock raised" in text and "lid raised" in text
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF") and len(head) > 100_000


def test_without_a_key_it_is_never_green(nominal, tmp_path):
    run, _, _, _ = nominal
    rep = _report(run, key=False)
    assert rep.verdict == rpt.NOT_AUTHENTICATED and not rep.green
    text = rpt.render_html(rep, tmp_path / "r.html").read_text()
    assert '<div class="verdict NOT_AUTHENTICATED">NOT AUTHENTICATED</div>' in text
    assert "no device key: the MAC chain was not checked" in text
    assert "verdict VERIFIED" not in text


def test_a_flipped_byte_fails_and_names_the_block(nominal, tmp_path):
    run, _rep, _, _ = nominal
    bad = tmp_path / "log.bin"
    raw = bytearray((run / "log.bin").read_bytes())
    data = logdata.load(bytes(raw))
    victim = data.blocks[40]
    raw[victim.offset + 40] ^= 0x01
    bad.write_bytes(raw)
    manifest.beside(bad).write_text(manifest.beside(run / "log.bin").read_text())
    code, _out, err = _cli([str(bad), "--profile", str(NOMINAL),
                            "--key-file", str(run / "key.bin"),
                            "-o", str(tmp_path / "out" / "report.html")])
    assert code == EXIT_CHECK_FAILED and "FAILED" in err and f"after block {victim.seq - 1}" in err
    text = (tmp_path / "out" / "report.html").read_text()
    assert '<div class="verdict FAILED">FAILED</div>' in text and "the log did not verify" in text
    assert f"byte {victim.offset}: CRC mismatch (after block {victim.seq - 1}" in text
    assert "verdict VERIFIED" not in text
    # the walk resumed after the damaged block: the report says what is
    # lost, as a time span, and the rest of the mission is in it
    lost = re.search(r"the records between (.+?) and (.+?) are lost \((\d+) min\)",
                     html.unescape(text))
    assert lost and "decoding resumes after them" in text, text
    assert int(lost.group(3)) <= 100  # one block: at most 97 one-minute records
    assert "chains to the MAC of a block lost in the unreadable bytes before it" in text
    whole = logdata.load((run / "log.bin").read_bytes())
    assert len(logdata.load(bytes(raw)).samples) >= len(whole.samples) - 97


# ---------------------------------------------------------------- command line


def _cli(argv: list[str]) -> tuple[int, str, str]:
    """podctl logs report, as podctl.cli.main would run it once wired."""
    parser = argparse.ArgumentParser(prog="podctl")
    sub = parser.add_subparsers()
    logs = sub.add_parser("logs").add_subparsers()
    add_report_parser(logs)
    out = io.StringIO()
    args = parser.parse_args(["logs", "report", *argv])
    assert args.run is cmd_report
    try:
        return args.run(args, Console(file=out, width=200)), out.getvalue(), ""
    except CommandError as e:
        assert "\n" not in str(e)
        return e.status, out.getvalue(), f"podctl: {e}"


def test_cli_writes_html_and_pdf(nominal, tmp_path):
    run, _, _, _ = nominal
    code, out, _ = _cli([str(run / "log.bin"), "--profile", str(NOMINAL),
                         "--key-file", str(run / "key.bin"),
                         "-o", str(tmp_path / "qa" / "report.html"), "--pdf"])
    assert code == 0, out
    assert "integrity VERIFIED" in out
    assert (tmp_path / "qa" / "report.html").exists() and (tmp_path / "qa" / "report.pdf").exists()
    assert (tmp_path / "qa" / "report-overview.png").exists()


def test_cli_accepts_the_devices_profile_bytes(nominal, tmp_path):
    run, _, _, _ = nominal
    from podctl import profile_file

    prof = tmp_path / "profile.bin"
    prof.write_bytes(profile_file.compile_file(NOMINAL))
    code, out, _ = _cli([str(run / "log.bin"), "--profile", str(prof), "--no-key",
                         "-o", str(tmp_path / "r.html")])
    assert code == EXIT_CHECK_FAILED  # written, but not authenticated
    assert "NOT AUTHENTICATED" in out


def test_cli_errors_are_one_line(nominal, tmp_path, monkeypatch):
    run, _, _, _ = nominal
    log = str(run / "log.bin")
    key = ["--key-file", str(run / "key.bin")]
    prof = ["--profile", str(NOMINAL)]
    o = ["-o", str(tmp_path / "r.html")]

    code, _, err = _cli([str(tmp_path / "none.bin"), *prof, *key, *o])
    assert code == EXIT_BAD_INPUT and "cannot read the log: No such file" in err

    lonely = tmp_path / "lonely.bin"
    lonely.write_bytes((run / "log.bin").read_bytes())
    code, _, err = _cli([str(lonely), *prof, *key, *o])
    assert code == EXIT_BAD_INPUT and "no manifest at" in err

    broken = tmp_path / "broken.bin"
    broken.write_bytes((run / "log.bin").read_bytes())
    manifest.beside(broken).write_text("{not json")
    code, _, err = _cli([str(broken), *prof, *key, *o])
    assert code == EXIT_BAD_INPUT and "manifest is not JSON" in err

    monkeypatch.setenv("PODCTL_KEYSTORE", str(tmp_path / "keys.json"))
    code, _, err = _cli([log, *prof, *o])
    assert code == EXIT_BAD_INPUT and "no key for device SIM00001" in err

    from podctl import profile_file
    from protocol import profile as pf

    ran = f"{pf.ident(profile_file.compile_file(NOMINAL)):08x}"
    code, _, err = _cli([log, "--profile", "examples/profiles/incubation.toml", *key, *o])
    assert code == EXIT_BAD_INPUT and "profile mismatch" in err and ran in err

    other = f"{pf.ident(profile_file.compile_file('examples/profiles/incubation.toml')):08x}"
    assert other in err

    code, _, err = _cli([log, *key, *o])
    assert code == EXIT_USAGE and "--profile" in err

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    code, _, err = _cli([log, *prof, *key, "-o", str(a_file / "report.html")])
    assert code == EXIT_BAD_INPUT and "cannot write the report" in err

    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 5)
    code, _, err = _cli([log, *prof, "--key-file", str(short), *o])
    assert code == EXIT_BAD_INPUT and "32 bytes" in err
