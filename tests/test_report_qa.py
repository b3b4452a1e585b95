"""What a cold-chain QA reviewer needs on the report besides the figures
(issue 17): the consignment and its probes ("not stated" when nobody says),
a report id over the log and its seal, every alarm threshold of the
profile, alarms with raised, cleared and duration, phases over plan,
excluded probes drawn apart on the plots, a histogram per phase, a boot
without UTC shown within its bounds, and the same bytes from the same
folder every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import math
import re
from pathlib import Path

import numpy as np
import pytest

from podctl import fmt, manifest
from podctl import report as rpt
from podctl.analysis import When
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, BadInput
from podctl.pulled import open_pulled
from podctl.report import plots, shipment
from podctl.report_cmd import load_profile
from podctl.verdict import verify

NOMINAL = Path("examples/profiles/nominal.toml")
TICK = 60


def _fly(tmp_path_factory, scenario: str) -> Path:
    out = tmp_path_factory.mktemp(scenario)
    assert main(["sim", "run", scenario, "--tick-s", str(TICK), "-o", str(out)]) == 0
    return out


def _report(run: Path, **kw) -> rpt.Report:
    log_path = run / "log.bin"
    pulled = open_pulled(log_path)
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    m = manifest.read(manifest.beside(log_path))
    return rpt.build(pulled.data(), verdict, load_profile(NOMINAL, log_path), m, **kw)


def _text(page: str) -> str:
    """The HTML's text, tags and entities gone, whitespace squashed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    run = _fly(tmp_path_factory, "nominal")
    return run, _report(run)


@pytest.fixture(scope="module")
def probe_failure(tmp_path_factory):
    run = _fly(tmp_path_factory, "probe-failure")
    return run, _report(run)


# ---------------------------------------------------------------- the consignment


def test_nothing_stated_reads_not_stated_never_invented(nominal, tmp_path):
    _, rep = nominal
    assert rep.shipment == shipment.Shipment() and not rep.shipment.stated
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    for _key, label in shipment.FIELDS:
        assert f"{label} not stated" in text, label
    for p in range(4):  # every probe's identity and calibration, unstated
        assert (f"probe {p} not stated not stated not stated not stated not stated read in"
                in text), p


def test_a_shipment_table_is_checked_field_by_field():
    ok = shipment.from_table({
        "product": "Vaccine X", "batch": "4711-B", "quantity": 1200,
        "probe": [{"index": 2, "serial": "NTC-2", "calibration_due": "2027-01-31",
                   "accuracy_c": 0.3}],
    }, "qa.toml")
    assert ok.product == "Vaccine X" and ok.quantity == "1200" and ok.storage == "not stated"
    assert ok.probes[2].serial == "NTC-2" and ok.probes[2].accuracy == "+-0.30 degC"
    assert ok.probes[0] == shipment.ProbeId(0)
    # the calibration was due before the data began: the report flags it
    assert ok.probes[2].overdue(1803945600.0)  # 2027-03-01
    assert not ok.probes[2].overdue(1798675200.0)  # 2026-12-31
    assert ok.given(batch="  ", consignee="Lab B").batch == "4711-B"
    assert ok.given(consignee="Lab B").consignee == "Lab B"
    bad = [
        ({"lot": "1"}, "shipment.lot: unknown field"),
        ({"product": ""}, "shipment.product: must be one line of text"),
        ({"product": "a\nb"}, "must be one line of text"),
        ({"product": True}, "shipment.product: must be text"),
        ({"probe": {"index": 0}}, "must be [[shipment.probe]] tables"),
        ({"probe": [{"index": 4}]}, "probe[0].index: must be the probe's channel, 0 to 3"),
        ({"probe": [{"index": 1}, {"index": 1}]}, "probe 1 is described twice"),
        ({"probe": [{"index": 0, "calibration_due": "soon"}]}, "'soon' is not a date"),
        ({"probe": [{"index": 0, "accuracy_c": -1}]}, "accuracy_c: must be a number"),
        ({"probe": [{"index": 0, "colour": "red"}]}, "probe[0].colour: unknown field"),
    ]
    for table, said in bad:
        with pytest.raises(BadInput) as e:
            shipment.from_table(table, "qa.toml")
        assert said in str(e.value) and str(e.value).startswith("qa.toml"), (table, e.value)


def test_the_command_line_states_the_consignment(nominal, tmp_path, capsys):
    run, _ = nominal
    qa = tmp_path / "qa.toml"
    qa.write_text('[shipment]\nproduct = "Vaccine X 10 mL"\nbatch = "4711-B"\n'
                  'storage = "2 to 8 degC"\n'
                  '[[shipment.probe]]\nindex = 3\nserial = "NTC-0412"\nposition = "air, lid"\n'
                  'certificate = "CAL-0412"\ncalibration_due = 2026-06-30\naccuracy_c = 0.25\n')
    base = [str(run / "log.bin"), "--profile", str(NOMINAL), "--key-file", str(run / "key.bin")]
    out = tmp_path / "a" / "report.html"
    assert main(["logs", "report", *base, "--shipment", str(qa), "--batch", "4711-C",
                 "--consignee", "Orbital Lab GmbH", "-o", str(out)]) == 0
    text = _text(out.read_text())
    for said in ("Product Vaccine X 10 mL", "Batch / lot 4711-C",  # the option over the file
                 "Labelled storage condition 2 to 8 degC", "Consignee Orbital Lab GmbH",
                 "Consignor not stated", "Quantity not stated",
                 "probe 3 NTC-0412 air, lid CAL-0412 2026-06-30: overdue when the data began "
                 "+-0.25 degC"):
        assert said in text, said
    # the same table in the profile's own TOML: the device's bytes are the rest
    prof = tmp_path / "nominal.toml"
    prof.write_text(NOMINAL.read_text() + '\n[shipment]\nconsignor = "Acme Biologics"\n')
    out = tmp_path / "b" / "report.html"
    assert main(["logs", "report", str(run / "log.bin"), "--profile", str(prof), "--key-file",
                 str(run / "key.bin"), "-o", str(out)]) == 0
    assert "Consignor Acme Biologics" in _text(out.read_text())
    # a bad table is one line and exit 4, and no report
    qa.write_text('[shipment]\nbatch = "1"\nlot = "2"\n')
    out = tmp_path / "c" / "report.html"
    capsys.readouterr()
    assert main(["logs", "report", *base, "--shipment", str(qa), "-o", str(out)]) \
        == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert "shipment.lot: unknown field" in err and "\n" not in err and not out.exists()
    (tmp_path / "none.toml").write_text("x = 1\n")
    assert main(["logs", "report", *base, "--shipment", str(tmp_path / "none.toml"), "-o",
                 str(out)]) == EXIT_BAD_INPUT
    assert "no [shipment] table" in capsys.readouterr().err


# ---------------------------------------------------------------- settings, id, alarms


def test_every_alarm_threshold_of_the_profile_is_stated(nominal, tmp_path):
    _, rep = nominal
    rpt.render_html(rep, tmp_path / "r.html")
    text = _text((tmp_path / "r.html").read_text())
    for said in ("Cumulative allowance 60 min out of band over the whole mission",
                 "Shock alarm 15 g", "Lid alarm lid open longer than 60 s",
                 "Battery low alarm below 10.56 V", "Minimum trusted probes 2",
                 "Probe disagreement limit 1.5 K",
                 "about +-0.6 K worst case; about +-0.3 K root-sum-square",
                 "RP2040-E11"):
        assert said in text, said
    for b in rep.bands:  # band and absolute limits of every phase
        assert re.search(rf"{b.index} {b.name} {b.setpoint:g} {b.low:g} to {b.high:g} "
                         rf"{b.abs_low:g} to {b.abs_high:g}", text), b.name


def test_the_report_id_is_the_sha256_of_log_and_seal(nominal, tmp_path):
    run, rep = nominal
    want = hashlib.sha256((run / "log.bin").read_bytes() + (run / "seal.bin").read_bytes())
    assert rep.report_id == want.hexdigest() and rep.sealed
    assert rep.report_id != hashlib.sha256((run / "log.bin").read_bytes()).hexdigest()
    seal = open_pulled(run / "log.bin").seal
    assert seal is not None and rep.fw_bundle == seal.fw_hash.hex()
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    assert f"Report id {rep.report_id}" in text
    assert f"bundle hash {rep.fw_bundle} (as the device's seal states it" in text


def test_the_alarms_table_has_raised_cleared_and_duration(nominal, tmp_path):
    _, rep = nominal
    assert rep.alarm_spans  # the nominal mission's shock and lid
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    assert "Alarm Phase Raised Cleared Duration Reading" in text
    for s in rep.alarm_spans:
        end = "still raised at the end of the log" if s.still_raised else rep.moment(s.cleared)
        # a latched one-off alarm (shock) has no duration (test_report_words)
        long = ("latched (the alarm stays raised until cleared)" if s.latched
                else fmt.dur(s.seconds))
        row = f"{s.name} {rep.phase_label(s.phase)} {rep.moment(s.raised)} {end} {long}"
        assert row in text, row


def test_every_deviation_and_the_clock_are_on_the_first_page(nominal, tmp_path):
    run, rep = nominal
    assert rep.deviations and rep.clock_offset_s is not None
    pdf = rpt.render_pdf(rep, tmp_path / "r.pdf")
    import pypdf

    first = re.sub(r"\s+", "", pypdf.PdfReader(str(pdf)).pages[0].extract_text())
    assert re.sub(r"\s+", "", f"Deviations: {len(rep.deviations)}, in time order") in first
    for d in rep.deviations[:3]:
        assert re.sub(r"\s+", "", d.what) in first, d
    assert re.sub(r"\s+", "", f"the device's clock was within {rep.clock_offset_s:+.0f} s of "
                  "the host's at the pull (tolerance 60 s)") in first
    # a clock beyond the tolerance: the verdict's finding next to the verdict
    import json

    folder = tmp_path / "off"
    folder.mkdir()
    for f in ("log.bin", "seal.bin", "key.bin"):
        (folder / f).write_bytes((run / f).read_bytes())
    m = json.loads((run / "log.bin.manifest.json").read_text())
    m["anchor"]["utc"] += 857_703
    (folder / "log.bin.manifest.json").write_text(json.dumps(m))
    off = _report(folder)
    assert off.verdict == rpt.VERIFIED and off.clock_findings
    page = rpt.render_html(off, tmp_path / "off.html").read_text()
    verdicts = _text(page[page.index("Integrity: is the log"):page.index("Product: was the band")])
    assert "differed from the host's by -857,703 s (9.9 days)" in verdicts
    assert any(d.kind == "clock" for d in off.deviations)
    # and a reason of the product verdict, not only a deviation row
    assert "clock" in off.product.codes() and "clock" not in rep.product.codes()


def test_a_thin_battery_margin_reaches_the_first_page(nominal, monkeypatch):
    # the report hands deviations the profile's battery alarm level: with a
    # margin rule wider than any pack, nominal's end is a thin margin too
    from podctl import deviations

    run, rep = nominal
    assert not any(d.kind == "battery" for d in rep.deviations)
    monkeypatch.setattr(deviations, "BATTERY_MARGIN_V", 100.0)
    thin = _report(run)
    row = next(d for d in thin.deviations if d.kind == "battery")
    assert "over the 10.56 V alarm" in row.figure, row


# ---------------------------------------------------------------- plots


def test_an_excluded_probe_is_drawn_apart_not_dropped(probe_failure, tmp_path, monkeypatch):
    _, rep = probe_failure
    assert rep.excluded[:, 2].any()
    raw_max = float(np.nanmax(rep.raw_probes[:, 2]))
    assert raw_max > 15  # the drifting probe, far out of band, excluded
    orbit = rep.phases[2]
    drawn = {}
    from matplotlib.figure import Figure

    def keep(fig, path, **kw):
        drawn[Path(path).name] = fig

    monkeypatch.setattr(Figure, "savefig", keep)
    plots.plot_phase(rep, orbit, tmp_path / "orbit.png")
    plots.plot_overview(rep, tmp_path / "overview.png")
    in_orbit = float(np.nanmax(rep.raw_probes[rep.phase == 2, 2]))
    for name, top in (("orbit.png", in_orbit), ("overview.png", raw_max)):
        ax = drawn[name].axes[0]
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        out = lines["probe 2 excluded (as read)"]
        assert out.get_linestyle() != lines["payload estimate"].get_linestyle()
        assert np.nanmax(np.asarray(out.get_ydata(), dtype=float)) == pytest.approx(top)
        assert ax.get_ylim()[1] >= top  # on the scale, not clipped away
        assert "probe 0 (trusted)" in lines and "payload estimate" in lines


def test_a_histogram_per_phase(nominal, tmp_path):
    _, rep = nominal
    plots.make_plots(rep, tmp_path, "r")
    assert rep.plots["histogram"] == tmp_path / "r-histogram.png"
    assert rep.plots["histogram"].stat().st_size > 10_000
    for ps in rep.phases:  # the analysis's bins: every trusted second in one
        assert len(ps.hist_edges) == len(ps.hist_s) + 1
        assert sum(ps.hist_s) == pytest.approx(ps.in_band_s + ps.out_band_s)


def test_a_boot_without_utc_is_hatched_within_its_bounds(nominal, monkeypatch, tmp_path):
    _, rep = nominal
    from matplotlib.figure import Figure

    from podctl.analysis import UnclockedBoot

    t0 = float(np.nanmin(rep.utc))
    placed = UnclockedBoot(boot=9, records=60, seconds=600.0, after_utc=t0 + 3600,
                           before_utc=t0 + 7200, earliest_utc=t0 + 3600, latest_utc=t0 + 6600,
                           reach_s=600.0)
    a = dataclasses.replace(rep.analysis, unclocked=[placed])
    drawn = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.setdefault("f", fig))
    plots.plot_overview(dataclasses.replace(rep, analysis=a), tmp_path / "o.png")
    ax = drawn["f"].axes[0]
    hatched = [p for p in ax.patches if p.get_label().startswith("boot 9, no UTC")]
    assert len(hatched) == 1 and "10 min lie in here" in hatched[0].get_label()
    import matplotlib.dates as mdates

    span = hatched[0]  # a Rectangle: x and width in date numbers
    lo, hi = (mdates.num2date(v).timestamp() for v in (span.get_x(),
                                                       span.get_x() + span.get_width()))
    assert lo == pytest.approx(t0 + 3600) and hi == pytest.approx(t0 + 7200)


# ---------------------------------------------------------------- the same bytes


def test_the_same_folder_gives_the_same_bytes(nominal, tmp_path, monkeypatch):
    run, _ = nominal
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = tmp_path / "qa" / "report.html"
    argv = ["logs", "report", str(run / "log.bin"), "--profile", str(NOMINAL), "--key-file",
            str(run / "key.bin"), "-o", str(out), "--pdf"]
    made = []
    for _ in range(2):
        assert main(argv) == 0
        made.append({p.name: p.read_bytes() for p in sorted(out.parent.iterdir())})
    assert set(made[0]) >= {"report.html", "report.pdf", "report-overview.png",
                            "report-histogram.png"}
    assert made[0] == made[1]
    page = _text(made[0]["report.html"].decode())
    assert "Report generation time not stamped" in page
    assert "a simulated mission: the simulator's clock, not a flight's" in page
    # a stamp when the caller asks for one, labelled as the host's, not the data's
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1798761600")  # 2027-01-01
    assert main(argv) == 0
    page = _text(out.read_text())
    assert ("Report generated 2027-01-01 00:00:00Z by the host's clock (when the report was "
            "made, not when the data was recorded)") in page
    assert "Data recorded 2027-03-01" in page
    import os

    assert os.environ["SOURCE_DATE_EPOCH"] == "1798761600"  # render_pdf put it back
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    assert main(argv) == EXIT_BAD_INPUT


def test_over_plan_and_not_reached_are_in_the_summary(tmp_path_factory, tmp_path):
    run = _fly(tmp_path_factory, "reset-reentry")
    rep = _report(run)
    late = [ps.band.name for ps in rep.over_plan]
    assert "return" in late
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    ret = rep.phases[3]
    # the crew's time sync at hand-over (sim run's handover_sync) clocks
    # boot 3: the return's length, and so its time over plan, is exact
    assert not ret.unbounded and ret.over_plan_s == ret.seconds - 3600 > 0
    assert f"Phase(s) over plan: 3 return by {fmt.dur(ret.over_plan_s)}" in text
    assert "Phase(s) over plan: 3 return by at least" not in text
    # the span of the data says what recorded without UTC after the resets:
    # boot 2 only (its clock lost at the reset, never set again)
    boots = ", ".join(str(u.boot) for u in rep.analysis.unclocked)
    assert boots == "2" and (f"to {rep.span_end} by the device's clock (a simulated mission: the "
                      "simulator's clock, not a flight's), and by uptime only in boot(s) "
                      f"{boots}, whose clock was never set") in text
    # every moment of a boot without UTC carries the bounds the analysis gives
    # it: its resets, events, gaps and alarms alike
    for u in rep.analysis.unclocked:
        if not math.isnan(u.earliest_utc):
            # the Resets table's row of its BOOT event: when, phase, event
            moment = rep.moment(When(u.boot, 0.0, math.nan))
            assert moment.startswith(f"boot {u.boot} +0 s (no UTC)")
            assert f"{fmt.utc(u.earliest_utc)}" in moment
            said = f"{moment} 3 return boot"
            assert said in text, said
    # a profile with a phase the log never entered
    cut = dataclasses.replace(ret, start=None)
    rep.analysis.phases[3] = cut
    assert [p.band.name for p in rep.not_reached] == ["return"]
    assert "Phase(s) not reached: 3 return." in _text(
        rpt.render_html(rep, tmp_path / "r2.html").read_text())


def test_each_probe_has_its_own_extremes_and_time_out_of_band(probe_failure, tmp_path):
    # issue 17, finding 2: probe 2 read above 8 degC for days while excluded,
    # and the estimate's minimum is not a probe's; the report shows
    # podctl.probestats' rows for the whole mission and the phases it marks
    _, rep = probe_failure
    rows = rep.probe_rows()
    whole = {r.probe: r for r in rows if r.phase == -1}
    assert set(whole) == {-1, 0, 1, 2, 3}  # four probes and the estimate
    two = whole[2]
    assert two.t_max == pytest.approx(float(np.nanmax(rep.raw_probes[:, 2])))
    assert two.above_s > 86400 and two.excluded_s >= two.above_s
    assert two.t_max > rep.mission.t_max + 10  # the estimate did not take it in
    assert min(r.t_min for r in whole.values()) < rep.mission.t_min
    assert any(r.probe == 2 and r.phase == 2 for r in rows)  # the orbit, where it drifted
    assert not any(r.probe == 0 and r.phase >= 0 for r in rows)  # nothing to mark for probe 0
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    assert (f"probe 2 whole mission {two.readings} {two.t_min:.2f} {rep.moment(two.t_min_at)} "
            f"{two.t_max:.2f} {rep.moment(two.t_max_at)} {fmt.dur(two.above_s)} "
            f"{fmt.dur(two.below_s)} {fmt.dur(two.abs_high_s + two.abs_low_s)} "
            f"{fmt.dur(two.excluded_s)}") in text


def test_battery_and_hold_margins_are_in_words(nominal, tmp_path):
    # issue 17, finding 9: the margins appeared only on a plot
    _, rep = nominal
    last, low = float(rep.battery[-1]), rep.battery_low_v
    assert rep.battery_margin == (f"Battery at the end of the log {last:.2f} V, "
                                  f"{last - low:.2f} V above its alarm level of {low:.2f} V")
    rec = rep.phases[4]
    bands = list(rep.analysis.bands)
    try:
        for hold, said in ((rec.seconds + 3600, "60 min to spare"),
                           (rec.seconds - 7200, "2 h 00 min over")):
            rep.analysis.bands[4] = dataclasses.replace(bands[4], max_hold_s=int(hold))
            (line,) = rep.hold_margins()
            assert line.startswith(f"phase 4 recovery lasted {fmt.dur(rec.seconds)} against its "
                                   f"maximum hold of {fmt.dur(int(hold))}: ") and said in line
            text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
            assert line in text and rep.battery_margin in text
            assert f"hold at most {fmt.dur(int(hold))}" in text  # in the acceptance table
        rep.analysis.bands[4] = dataclasses.replace(bands[4], max_hold_s=0)
        assert rep.hold_margins() == []
    finally:
        rep.analysis.bands[:] = bands


def test_thinning_a_long_line_keeps_every_extreme_and_break():
    rng = np.random.default_rng(7)
    y = rng.normal(5, 0.1, 130_000)
    y[50_000] = 21.5  # one spike
    y[70_000:70_500] = np.nan  # a break (an excluded span)
    keep = plots._thin(y)
    assert len(keep) < 10_000
    assert np.nanmax(y[keep]) == 21.5 and np.nanmin(y[keep]) == np.nanmin(y)
    assert {0, len(y) - 1, 69_999, 70_000, 70_499, 70_500} <= set(keep.tolist())
    # every run of about 65 points keeps its own extremes
    for lo in range(0, len(y), 6500):
        part = slice(lo, lo + 65)
        if not np.isnan(y[part]).all():
            assert np.nanmax(y[part]) in y[keep] and np.nanmin(y[part]) in y[keep]
    short = np.arange(100.0)
    assert plots._thin(short).tolist() == list(range(100))


def test_the_overview_draws_every_channel_of_the_log(nominal, tmp_path, monkeypatch):
    _, rep = nominal
    from matplotlib.figure import Figure

    drawn = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.setdefault("f", fig))
    plots.plot_overview(rep, tmp_path / "o.png")
    labels = {ln.get_label() for a in drawn["f"].axes for ln in a.get_lines()}
    for want in ("payload estimate", "probe 0 (trusted)", "probe 1 (trusted)",
                 "probe 2 (trusted)", "probe 3 (trusted)", "battery", "heater duty %",
                 "Peltier duty % (+ cools)", "humidity %RH", "pressure hPa (right)"):
        assert want in labels, want
    # each channel's line holds that channel's readings (the thinning keeps the extremes)
    heater = next(ln for a in drawn["f"].axes for ln in a.get_lines()
                  if ln.get_label() == "heater duty %")
    assert np.nanmax(np.asarray(heater.get_ydata(), dtype=float)) == pytest.approx(
        float(np.nanmax(rep.channels["heater"][~np.isnan(rep.utc)])))


def test_a_profile_with_a_shipment_table_is_still_checked_as_a_profile(tmp_path):
    from podctl import profile_file
    from protocol import profile as pf

    base = NOMINAL.read_text()
    ok = tmp_path / "ok.toml"
    ok.write_text(base + '\n[shipment]\nbatch = "4711"\n')
    # the device's bytes are the profile's alone: the same identity
    assert pf.ident(load_profile(ok, tmp_path / "log.bin").data) == pf.ident(
        profile_file.compile_file(NOMINAL))
    bad = tmp_path / "bad.toml"
    bad.write_text(base.replace("min_probes = 2", "min_probes = 9")
                   + '\n[shipment]\nbatch = "1"\n')
    with pytest.raises(BadInput) as e:
        load_profile(bad, tmp_path / "log.bin")
    assert str(e.value).startswith(f"{bad}: min_probes") and "\n" not in str(e.value)
    broken = tmp_path / "broken.toml"
    broken.write_text("[shipment\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load_profile(broken, tmp_path / "log.bin")


def _too_few(run: Path) -> rpt.Report:
    """nominal's report with 30 orbit records down to one probe: fewer
    trusted probes than the profile's two."""
    pulled = open_pulled(run / "log.bin")
    data = pulled.data()
    orbit = np.flatnonzero(data.samples["t"] >= 12 * 3600)[:30]
    for p in (1, 2, 3):
        data.samples[f"probe{p}"][orbit] = np.nan
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    return rpt.build(data, verdict, load_profile(NOMINAL, run / "log.bin"),
                     manifest.read(manifest.beside(run / "log.bin")))


def test_time_with_too_few_trusted_probes_is_said_apart(nominal, tmp_path):
    run, before = nominal
    rep = _too_few(run)
    assert rep.mission.too_few_s == 30 * 60 and before.mission.too_few_s == 0
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    assert (f"{fmt.dur(rep.mission.unknown_s)} without a reading, 30 min of it with some but "
            "fewer trusted probes than the profile's minimum of 2") in text


def test_a_phase_over_its_maximum_hold_says_so_in_the_table(nominal, tmp_path):
    _, rep = nominal
    rec = rep.phases[4]
    band = rec.band
    try:
        rec.band = dataclasses.replace(band, max_hold_s=int(rec.seconds) - 3600)
        assert rec.over_hold_s == pytest.approx(3600, abs=1)
        text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
        assert f"over hold by {fmt.dur(rec.over_hold_s)}" in text
    finally:
        rec.band = band
    assert "over hold by" not in _text(
        rpt.render_html(rep, tmp_path / "r2.html").read_text())


def test_a_bad_shipment_in_the_profile_toml_is_one_line_from_logs_report(nominal, tmp_path,
                                                                          capsys):
    run, _ = nominal
    base = [str(run / "log.bin"), "--key-file", str(run / "key.bin")]
    for extra, said in (('\n[shipment]\nbatch = "1"\nlot = "2"\n', "shipment.lot: unknown field"),
                        ("", "shipment: must be a table")):
        prof = tmp_path / "prof.toml"
        prof.write_text(("shipment = 1\n" if not extra else "") + NOMINAL.read_text() + extra)
        out = tmp_path / "r" / "report.html"
        capsys.readouterr()
        assert main(["logs", "report", *base, "--profile", str(prof), "-o", str(out)]) \
            == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip()
        assert said in err and "\n" not in err and not out.exists(), err


def test_too_few_probes_is_in_the_per_phase_table_and_the_note(nominal, tmp_path):
    run, before = nominal
    rep = _too_few(run)
    orbit_row = next(ps for ps in rep.phases if ps.band.name == "orbit")
    assert orbit_row.too_few_s == 30 * 60
    page = rpt.render_html(rep, tmp_path / "r.html").read_text()
    table = _text(page.split("<h2>Per phase</h2>", 1)[1].split("</table>", 1)[0])
    # the orbit row and the whole mission's, in the unknown column beside its time
    assert table.count(f"{fmt.dur(orbit_row.unknown_s)} 30 min of it with too few probes") == 1
    assert table.count("30 min of it with too few probes") == 2
    note = ("Time without any trusted probe counts neither in nor out of band, nor does time "
            "with some but fewer trusted probes than the profile's minimum of 2")
    assert note in _text(page)
    # a log without such time: no such line in the table, the note the same
    clean = rpt.render_html(before, tmp_path / "c.html").read_text()
    assert "too few probes)" not in clean.split("<h2>Per phase</h2>", 1)[1].split("</table>")[0]
    assert "with too few probes" not in _text(clean) and note in _text(clean)


def test_each_probe_exclusion_states_the_profiles_limit(probe_failure, tmp_path):
    _, rep = probe_failure
    faults = [e for e in rep.events if e.category == "probe" and "fault" in e.what]
    disagree = [e for e in faults if "from the trusted median" in e.detail]
    assert disagree, [e.detail for e in faults]
    for e in disagree:
        assert "(limit 1.5 K)" in e.detail, e.detail
    for e in faults:
        if "from its previous reading" in e.detail:
            assert "limit 0.5 K/s" in e.detail, e.detail
        if "outside the" in e.detail:
            assert "plausible range -30..60 degC" in e.detail, e.detail
    text = _text(rpt.render_html(rep, tmp_path / "r.html").read_text())
    assert disagree[0].detail in text
