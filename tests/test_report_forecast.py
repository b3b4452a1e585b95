"""Issue 18: "The report carries the forecast when the log ends before
recovery." The stranded container's report has a "Forecast from the log's
end" (P10/P50/P90 hours, the state it started from, runs, seed, horizon,
environment, and that it is a model, not evidence); nominal's, handed over
with the lid opened in recovery, has none. Few runs and a short horizon
here: the figures' meaning is podctl.forecast's and test_forecast's.
"""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import numpy as np
import pytest

from podctl import forecast
from podctl import report as rpt
from podctl.cli import main
from podctl.errors import EXIT_USAGE
from podctl.pulled import open_pulled
from podctl.report import forecast_part
from podctl.report_cmd import load_profile
from protocol import log
from tests import report_run

NOMINAL = Path("examples/profiles/nominal.toml")
TICK = 60
FEW = forecast_part.Options(runs=2, horizon_h=1.0, tick_s=TICK, workers=1)


def _fly(tmp_path_factory, scenario: str) -> Path:
    return report_run.fly(tmp_path_factory, scenario, TICK)


def _report(run: Path, data=None, **kw) -> rpt.Report:
    return report_run.build(run, data, **kw)


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def stranded(tmp_path_factory):
    return _fly(tmp_path_factory, "stranded")


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    return _fly(tmp_path_factory, "nominal")


@pytest.fixture(scope="module")
def stranded_report(stranded):
    return _report(stranded, forecast=FEW)


def test_the_stranded_report_carries_the_forecast(stranded, stranded_report):
    rep = stranded_report
    part = rep.forecast
    assert part is not None and part.made and not part.refused
    assert "no hand-over" in part.why and "4 recovery" in part.why
    text = _text(rpt.document(rep, {}))
    section = text[text.index("Forecast from the log's end"):text.index("Sign-off")]
    assert "A model, not evidence" in section and "changes neither verdict" in section
    assert "2 runs from seed 1 (seeds 1 to 2); 1 h ahead at a 60 s tick; environment recovery" \
        in section
    f = part.forecast
    assert "phase 4 recovery" in section and f"battery {f.start.battery_v:.2f} V" in section
    # the figures are podctl.forecast's own on the same log and profile
    folder = stranded / "fc"
    folder.mkdir(exist_ok=True)
    (folder / "log.bin").write_bytes((stranded / "log.bin").read_bytes())
    (folder / "profile.bin").write_bytes(load_profile(NOMINAL, stranded / "log.bin").data)
    same = forecast.forecast(folder, runs=2, horizon_h=1.0, tick_s=TICK, seed=1, workers=1)
    assert same.hours == f.hours
    for (what, p10, p50, p90, _), q in zip(part.rows(), forecast.QUANTITIES):
        assert f"{what} {p10} {p50} {p90}" in section
        for k, said in zip(("p10", "p50", "p90"), (p10, p50, p90)):
            v = same.hours[q][k]
            assert said == ("more than 1 h" if v is None else
                            "0 h (already)" if v == 0 else f"{v:.1f} h")
    # the battery alarm was raised before the log ends: already, in every run
    assert f.hours["battery"] == {"p10": 0.0, "p50": 0.0, "p90": 0.0}
    # and the Summary points to it
    summary = text[text.index("Summary"):text.index("Acceptance criteria")]
    assert "the log ends before the container was recovered (no hand-over)" in summary


def test_the_forecast_is_the_same_on_regeneration(stranded, stranded_report):
    again = _report(stranded, forecast=FEW)
    assert rpt.document(again, {}) == rpt.document(stranded_report, {})
    # another seed is another forecast, and the page says which
    other = _report(stranded, forecast=dataclasses.replace(FEW, seed=7))
    assert "2 runs from seed 7 (seeds 7 to 8)" in _text(rpt.document(other, {}))


def test_a_handed_over_mission_has_no_forecast(nominal):
    rep = _report(nominal, forecast=FEW)
    assert rep.forecast is None
    assert "Forecast from the log's end" not in rpt.document(rep, {})
    assert "ends before recovery" not in rpt.document(rep, {})


def _cut(data, keep_events):
    """The log as if pulled earlier: events and records up to a moment."""
    ev = [e for e in data.events if keep_events(e)]
    last = max((e.boot, e.t) for e in ev)
    rk = list(zip(data.samples["boot"].tolist(), data.samples["t"].tolist()))
    keep = np.array([k <= last for k in rk])
    return dataclasses.replace(data, events=ev, samples=data.samples[keep])


def test_before_recovery_is_decided_from_the_events(nominal):
    data = open_pulled(nominal / "log.bin").data()
    rep = _report(nominal)
    assert forecast_part.before_recovery(data, rep.analysis) is None
    # pulled in orbit: the last phase never entered
    in_orbit = _cut(data, lambda e: not (e.code == log.EV_PHASE and e.a >= 3)
                    and e.t <= 400_000)
    a = _report(nominal, in_orbit).analysis
    why = forecast_part.before_recovery(in_orbit, a)
    assert why is not None and "never entered" in why and "ends in orbit" in why
    # in recovery, before the lid was opened at the hand-over
    from protocol import codes

    lid = next(e for e in data.events if e.code == log.EV_ALARM_RAISED and e.a == codes.ALARM_LID)
    waiting = _cut(data, lambda e: (e.boot, e.t) < (lid.boot, lid.t))
    a = _report(nominal, waiting).analysis
    why = forecast_part.before_recovery(waiting, a)
    assert why is not None and "no hand-over" in why
    # a lid opened before the last phase (a pad check) is no hand-over
    early = dataclasses.replace(lid, t=100)
    pad_lid = dataclasses.replace(waiting, events=[*waiting.events, early])
    assert forecast_part.before_recovery(pad_lid, a) == why


def test_no_forecast_when_asked_for_none(stranded):
    rep = _report(stranded, forecast=dataclasses.replace(FEW, runs=0))
    assert rep.forecast is not None and not rep.forecast.made
    text = _text(rpt.document(rep, {}))
    assert "No forecast was made (--no-forecast, or --forecast-runs 0)" in text
    assert "The log ends before the container was recovered (no hand-over):" in text
    # the library's default flies none either (a caller asks for runs)
    assert not _report(stranded).forecast.made


def test_a_forecast_that_cannot_start_is_one_line_on_the_page(stranded):
    rep = _report(stranded, forecast=dataclasses.replace(FEW, environment="no-such.toml"))
    part = rep.forecast
    assert part is not None and not part.made
    assert part.refused.startswith("no-such.toml: cannot read the environment")
    assert "\n" not in part.refused
    assert f"No forecast could be made: {part.refused}" in _text(rpt.document(rep, {}))


def test_the_command_line_options(stranded, tmp_path, capsys):
    base = ["logs", "report", str(stranded / "log.bin"), "--key-file",
            str(stranded / "key.bin"), "--profile", str(NOMINAL)]
    out = tmp_path / "r.html"
    # stranded has no seal: the report is written, exit 1 (END NOT ATTESTED)
    assert main(base + ["-o", str(out), "--no-forecast"]) == 1
    assert "No forecast was made" in _text(out.read_text())
    assert "forecast not made (0 runs)" in capsys.readouterr().out.replace("\n", " ")
    for bad in (["--forecast-runs", "-1"], ["--forecast-runs", "many"],
                ["--forecast-horizon", "0"], ["--forecast-horizon", "nan"]):
        assert main(base + ["-o", str(tmp_path / "x.html")] + bad) == EXIT_USAGE
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and len(err.splitlines()) <= 3, err


def test_the_pack_reaches_the_reports_forecast(stranded, stranded_report):
    # the reference pack, not declared: the page says which was assumed
    text = _text(rpt.document(stranded_report, {}))
    assert "(3 li-ion cells, the reference container's pack: give --pack" in text
    # a pack the log's voltages cannot be (about 11 V on two LiFePO4 cells of
    # at most 3.45 V each): the forecast refuses it in one line on the page,
    # so the declared pack did reach it
    odd = _report(stranded, forecast=dataclasses.replace(FEW, pack="lifepo4", cells=2))
    assert odd.forecast is not None and not odd.forecast.made
    assert "lifepo4" in odd.forecast.refused and "--pack" in odd.forecast.refused


def test_logs_report_takes_the_pack_and_refuses_a_bad_one(stranded, capsys):
    code = main(["logs", "report", str(stranded / "log.bin"), "--key-file",
                 str(stranded / "key.bin"), "--profile", str(NOMINAL), "--pack", "nimh"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--pack must be li-ion or lifepo4" in err and "Traceback" not in err


def test_an_unsealed_log_names_its_last_record_apart_from_where_the_figures_end(
        stranded_report):
    # stranded p2 read "the log ends at 06:20:00Z" while its last record is
    # 06:19:00Z: the figures count that reading for its interval, nothing
    # more is known; the page says both
    rep = stranded_report
    a = rep.analysis
    text = _text(rpt.document(rep, {}))
    from podctl import fmt

    assert f"the log's last record is at {fmt.utc(float(a.utc[-1]))}" in text
    assert f"for its sampling interval, to {a.last}" in text
    assert a.last.utc > float(a.utc[-1])
