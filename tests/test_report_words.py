"""Issue 17, H10: the QA report's words from a reviewer's reading of every
page. Each test fails on the words the report had before: a limit shown as
a reading, a latched alarm shown as a duration, the gravest reasons in
alarm-code order, INCOMPLETE without a disposition, the last two trusted
probes' disagreement unsaid, a dead board's end "the device reported"."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from podctl import assess, manifest
from podctl import report as rpt
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.report_cmd import load_profile
from podctl.verdict import verify

PROFILE = {"heater-failure": "cold-bay"}


def _build(tmp_path_factory, scenario: str) -> rpt.Report:
    out = tmp_path_factory.mktemp(scenario)
    assert main(["sim", "run", scenario, "--tick-s", "10", "-o", str(out)]) == 0
    log_path = out / "log.bin"
    pulled = open_pulled(log_path)
    key = out / "key.bin"
    verdict = verify(pulled, key.read_bytes())
    prof = Path(f"examples/profiles/{PROFILE.get(scenario, 'nominal')}.toml")
    return rpt.build(pulled.data(), verdict, load_profile(prof, log_path),
                     manifest.read(manifest.beside(log_path)))


def _text(rep: rpt.Report, tmp_path: Path) -> str:
    page = rpt.render_html(rep, tmp_path / "r.html").read_text()
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return {n: _build(tmp_path_factory, n) for n in
            ("probe-failure", "heater-failure", "stranded", "reset-reentry", "return-slip",
             "nominal")}


def _kind(rep, kind):
    return [d for d in rep.deviations if d.kind == kind]


def test_incomplete_has_its_disposition(reports, tmp_path):
    rep = reports["stranded"]
    assert rep.product.status == assess.INCOMPLETE
    assert "INCOMPLETE: not releasable on this log: reject or investigate" in _text(rep, tmp_path)


def test_lid_alarm_says_how_long_the_lid_was_open_and_labels_the_threshold(reports):
    rep = reports["heater-failure"]
    (lid,) = [s for s in rep.alarm_spans if s.name == "lid"]
    # open at the end of the log: a least, from the first flagged record
    assert lid.reading.startswith("lid open at least 10 min from 2027-03-10 22:10:00Z (still "
                                  "open at the end of the log); the estimate 5.03 to 5.90 degC")
    assert lid.reading.endswith("; limit 60 s")
    (r,) = [x for x in rep.product.reasons if x.what == "alarm lid raised"]
    assert r.figure == lid.reading


def test_hold_says_how_long_the_phase_was_held(reports):
    rep = reports["return-slip"]
    (hold,) = [s for s in rep.alarm_spans if s.name == "hold"]
    assert hold.reading == "held 3 d 9 h 10 min against a maximum of 12 h 00 min"
    (r,) = [x for x in rep.product.reasons if x.what == "alarm hold raised"]
    assert r.figure == hold.reading


def test_a_latched_shock_is_not_a_duration(reports, tmp_path):
    rep = reports["heater-failure"]
    (shock,) = [s for s in rep.alarm_spans if s.name == "shock"]
    assert shock.latched and shock.reading == "peak 20 g, limit 15 g"
    text = _text(rep, tmp_path)
    assert "latched (the alarm stays raised until cleared) peak 20 g, limit 15 g" in text
    assert "9 h 25 min (to the end)" not in text


def test_a_battery_below_its_alarm_is_said_below_since_the_alarm(reports):
    (b,) = _kind(reports["stranded"], "battery")
    assert re.fullmatch(r"\d+\.\d\d V, \d\.\d\d V below the 10\.56 V alarm level, battery_low "
                        r"since 2027-03-14 \d\d:\d\d:\d\dZ", b.figure), b.figure
    assert "over" not in b.figure


def test_reasons_of_one_status_are_in_time_order(reports, tmp_path):
    rep = reports["heater-failure"]
    review = [r for r in rep.product.reasons if r.status == assess.REVIEW and r.when]
    keys = [(r.when.boot, r.when.t) for r in review]
    assert keys == sorted(keys) and len(keys) >= 3
    # the in-flight heater failure before the planned hand-over's lid
    whats = [r.what for r in review]
    assert whats.index("alarm actuator raised") < whats.index("alarm lid raised")
    assert "the gravest first, each status in the order they happened" in _text(rep, tmp_path)


def test_a_dead_boards_end_is_the_manifests(reports):
    rep = reports["stranded"]
    said = [c.text for c in rep.checks if "ends at the block and MAC" in c.text]
    assert said == ["the log is the file pulled (SHA-256) and ends at the block and MAC the "
                    "manifest states"]
    assert "the device reported" in [c.text for c in reports["nominal"].checks
                                     if "ends at the block" in c.text][0]


def test_the_log_ends_before_the_container_was_recovered(reports, tmp_path):
    text = _text(reports["stranded"], tmp_path)
    assert "the log ends before the container was recovered (no hand-over)" in text
    assert "ends before recovery" not in text


def test_a_temperature_difference_is_in_kelvin(reports, tmp_path):
    text = _text(reports["nominal"], tmp_path)
    assert "Probe disagreement limit 1.5 K from" in text and "1.5 degC" not in text


def test_the_heater_failure_says_what_held_the_band_and_bounds_the_onset(reports):
    (act,) = _kind(reports["heater-failure"], "actuator")
    assert "ineffective from about 2027-03-03 08:0" in act.what
    assert "detected 2027-03-03 10:45:50Z" in act.what
    m = re.search(r"the Peltier heated from 2027-03-03 10:4\d:\d\dZ \(in (\d+) of \d+ records "
                  r"after the fault\); heater commanded in (\d+) of them, no effect", act.what)
    assert m and int(m[1]) == int(m[2]) > 100, act.what


def test_the_last_two_trusted_probes_disagreeing_is_a_deviation_and_a_reason(reports):
    rep = reports["probe-failure"]
    (d,) = _kind(rep, "disagree")
    assert d.what == ("probes 0 and 3, the last two trusted, disagree by up to 2.87 K (limit "
                      "1.5 K) from 2027-03-10 22:11:00Z to the end of the log: the estimate "
                      "cannot be relied on there")
    assert d.figure.startswith("2.08 to 2.87 K apart")
    (r,) = [x for x in rep.product.reasons if x.code == "disagree"]
    assert r.status == assess.REVIEW and r.what == d.what
    for quiet in ("nominal", "heater-failure", "return-slip"):  # silent with 3+ trusted
        assert not _kind(reports[quiet], "disagree")
        assert "disagree" not in reports[quiet].product.codes()


def test_a_gap_across_boots_says_the_board_ran(reports):
    (g,) = [d for d in _kind(reports["reset-reentry"], "gap") if "boot 1 to boot 3" in d.what]
    assert "the board ran meanwhile, off only while restarting" in g.what
    assert "boot 2 (its events reach +10 min 10 s)" in g.what
    assert "off the rest of that time" not in g.what


def test_an_unclocked_boots_reasons_carry_their_utc_bounds_and_limit(reports, tmp_path):
    rep = reports["reset-reentry"]
    text = _text(rep, tmp_path)
    (shock,) = [x for x in rep.product.reasons if x.what == "alarm shock raised"]
    assert shock.figure == "peak 20 g, limit 15 g"
    assert re.search(r"alarm shock raised \(3 return\), boot 2 \+10 min 10 s \(no UTC\), "
                     r"between 2027-03-10 \d\d:\d\d:\d\dZ and 2027-03-10 \d\d:\d\d:\d\dZ ?: peak "
                     r"20 g, limit 15 g", text)


def test_unknown_time_is_at_least_as_long_as_the_delay(reports):
    (r,) = [x for x in reports["reset-reentry"].product.reasons if x.code == "unknown"]
    assert r.what.startswith("time without a valid reading at least as long as the excursion")


def test_a_clock_set_after_the_records_is_back_dated(reports):
    rep = reports["reset-reentry"]
    (line,) = [c for c in rep.clock if c.startswith("boot 3:")]
    assert re.fullmatch(r"boot 3: UTC back-dated from the TIME_SET at 2027-03-\d\d \S+Z "
                        r"\(uptime \d+ s\), after all its records", line), line
    assert rep.clock[0] == "boot 1: UTC from the device's TIME_SET events"
