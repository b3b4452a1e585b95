"""The report's plots read as a QA reviewer reads them (issue 17, H4): an
excluded or lost probe said in a strip of its own and by a marker, every
threshold of a phase drawn, alarm names off the traces, histograms in the
unit their phase fits, and every record of every boot on some plot. Each
test reads the matplotlib Figure (artists, labels, limits), not pixels.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pytest
from matplotlib.figure import Figure

from podctl import report as rpt
from podctl.cli import main
from podctl.report import plots
from tests import report_run

NOMINAL = Path("examples/profiles/nominal.toml")
TICK = 60


def _report(tmp_path_factory, scenario: str) -> rpt.Report:
    return _build(report_run.fly(tmp_path_factory, scenario, TICK))


def _build(run: Path, data=None) -> rpt.Report:
    return report_run.build(run, data)


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    return _report(tmp_path_factory, "nominal")


@pytest.fixture(scope="module")
def probe_failure(tmp_path_factory):
    return _report(tmp_path_factory, "probe-failure")


@pytest.fixture(scope="module")
def reset_reentry(tmp_path_factory):
    return _report(tmp_path_factory, "reset-reentry")


@pytest.fixture(scope="module")
def forgot(tmp_path_factory):
    """reset-reentry pulled by a crew that forgot the time sync at hand-over:
    boot 3 (the recovery) never clocked, nothing in the log bounds its end."""
    path = tmp_path_factory.mktemp("forgot") / "reset-reentry-unsynced.toml"
    path.write_text('base = "reset-reentry"\nhandover_sync = false\n')
    return _report(tmp_path_factory, str(path))


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plots would save, by file name."""
    figs: dict[str, Figure] = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: figs.__setitem__(
        Path(path).name, fig))
    return figs


def _strip(fig: Figure):
    return next(a for a in fig.axes if "alarms" in [t.get_text() for t in a.get_yticklabels()])


def _legend(ax) -> list[str]:
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()] if leg else []


def _when(rep, p: int, what: str) -> float:
    return next(e.utc for e in rep.events if e.a == p and e.category == "probe" and what in e.what)


def test_excluded_spans_are_a_strip_of_their_own_with_a_legend(probe_failure, drawn, tmp_path):
    rep = probe_failure
    plots.plot_overview(rep, tmp_path / "o.png")
    fig = drawn["o.png"]
    temp, strip = fig.axes[0], _strip(fig)
    assert temp is not strip
    # nothing but readings on the temperature panel: no bar that reads as a trace
    assert not [c for c in temp.collections if type(c).__name__ == "PolyCollection"
                and "excluded" in str(c.get_label())]
    names = _legend(strip)
    assert "probe 2 excluded (read, not trusted)" in names
    assert "probe 3 excluded (read, not trusted)" in names
    assert "probe 1 no reading" in names
    # probe 2's bar sits on probe 2's row and starts where the firmware excluded it
    bar = next(c for c in strip.collections if c.get_label().startswith("probe 2 excluded"))
    (x0, y0), *_ = bar.get_paths()[0].vertices
    row = next(t.get_position()[1] for t in strip.get_yticklabels() if t.get_text() == "probe 2")
    assert y0 == pytest.approx(row - 0.3)
    assert mdates.num2date(x0).timestamp() == pytest.approx(
        _when(rep, 2, "fault"), abs=2 * TICK)


def test_a_lost_probe_is_marked_where_its_trusted_trace_stops_and_why(probe_failure, drawn,
                                                                     tmp_path):
    rep = probe_failure
    plots.plot_overview(rep, tmp_path / "o.png")
    temp = drawn["o.png"].axes[0]
    lost = {ln.get_label(): ln for ln in temp.get_lines() if ln.get_marker() == "x"}
    one = next(k for k in lost if k.startswith("probe 1 lost"))
    assert "2027-03-05 08:00" in one and one.endswith(": read")  # when, and the fault's kind
    x = mdates.date2num(np.asarray(lost[one].get_xdata())[0])
    last = np.flatnonzero(~np.isnan(rep.probes[:, 1]))[-1]
    assert mdates.num2date(x).timestamp() == pytest.approx(rep.utc[last])
    assert any(k.startswith("probe 2 lost") and "disagree" in k for k in lost)
    # the moment is the fault event's, as the Probe faults table gives it
    for p in (1, 2):
        _lost_label_is_the_faults(rep, lost, p)
    # probe 3 came back: no lost marker in the orbit, where it recovered
    plots.plot_phase(rep, rep.phases[2], tmp_path / "orbit.png")
    orbit = drawn["orbit.png"].axes[0]
    assert not [ln for ln in orbit.get_lines() if ln.get_label().startswith("probe 3 lost")]


def _lost_label_is_the_faults(rep, lost: dict, p: int) -> None:
    fault = [e for e in rep.events if e.category == "probe" and e.a == p and "fault" in e.what]
    label = next(k for k in lost if k.startswith(f"probe {p} lost"))
    assert label.startswith(f"probe {p} lost {fault[-1].when}: "), (label, fault[-1].when)


def test_a_lost_probes_moment_is_its_fault_events_not_the_next_records(nominal, drawn,
                                                                       tmp_path):
    # at a 10 s tick nominal's probe 3 is excluded at 22:10:30Z, between two
    # one-minute records: the legend said 22:11:00Z, the next record's time.
    # Here (60 s) the fault is moved 30 s before its tick to be as it was.
    events = [dataclasses.replace(e, t=e.t - 30, when="2027-03-10 22:10:30Z")
              if e.category == "probe" and e.a == 3 and "fault" in e.what else e
              for e in nominal.events]
    rep = dataclasses.replace(nominal, events=events)
    plots.plot_overview(rep, tmp_path / "o.png")
    lost = {ln.get_label(): ln for ln in drawn["o.png"].axes[0].get_lines()
            if ln.get_marker() == "x"}
    _lost_label_is_the_faults(rep, lost, 3)
    assert any("lost 2027-03-10 22:10:30Z" in k for k in lost)


def test_every_threshold_of_a_phase_is_drawn_and_alarm_names_stay_off_the_traces(
        nominal, drawn, tmp_path):
    rep = nominal
    rec = rep.phases[4]
    b = rec.band
    plots.plot_phase(rep, rec, tmp_path / "rec.png")
    fig = drawn["rec.png"]
    temp = fig.axes[0]
    labels = {ln.get_label(): ln for ln in temp.get_lines()}
    for want, v in ((f"absolute high {b.abs_high:g} degC", b.abs_high),
                    (f"absolute low {b.abs_low:g} degC", b.abs_low),
                    (f"setpoint {b.setpoint:g} degC", b.setpoint)):
        assert np.asarray(labels[want].get_ydata())[0] == v
    assert f"band {b.low:g} to {b.high:g} degC" in _legend(temp)
    lo, hi = temp.get_ylim()
    assert lo < b.abs_low and hi > b.abs_high
    # the lid alarm is named in the strip, not over a trace
    assert "lid" not in [t.get_text().strip() for t in temp.texts]
    assert "lid" in [t.get_text().strip() for t in _strip(fig).texts]
    # an alarm of another phase is not on this one's plot
    assert "shock" not in [t.get_text().strip() for t in _strip(fig).texts]


def test_phase_names_alarms_and_log_end_are_not_written_over_the_temperature(
        probe_failure, drawn, tmp_path):
    rep = probe_failure
    plots.plot_overview(rep, tmp_path / "o.png")
    fig = drawn["o.png"]
    assert len(fig.axes[0].texts) == 0
    strip = [t.get_text().strip() for t in _strip(fig).texts]
    for want in ("pad", "ascent", "orbit", "return", "recovery", "shock", "lid"):
        assert want in strip, want
    assert "log ends (its last record)" in _legend(fig.axes[0])


def test_histogram_counts_minutes_for_a_short_phase_and_its_caption_reads_the_edges(
        nominal, drawn, tmp_path):
    rep = nominal
    plots.plot_histograms(rep, tmp_path / "h.png")
    axes = [a for a in drawn["h.png"].axes if a.get_visible()]
    by_phase = {a.get_title(loc="left").split(":")[0]: a for a in axes}
    width = float(np.diff(rep.phases[1].hist_edges)[0])
    assert by_phase["1 ascent"].get_ylabel() == f"minutes per {width:g} degC bin"
    assert by_phase["2 orbit"].get_ylabel() == f"hours per {width:g} degC bin"
    top = max(p.get_path().vertices[:, 1].max() for p in by_phase["1 ascent"].patches)
    assert top == pytest.approx(max(rep.phases[1].hist_s) / 60)
    assert f"({width:g} degC bins" in plots.caption("histogram", rep)
    # other edges, another caption: it is read from the bins, not written in
    wide = [dataclasses.replace(ps, hist_edges=list(np.asarray(ps.hist_edges)[::2]),
                                hist_s=[sum(ps.hist_s[i:i + 2]) for i in
                                        range(0, len(ps.hist_s), 2)])
            for ps in rep.phases]
    a = dataclasses.replace(rep.analysis, phases=wide)
    w2 = float(np.diff(wide[0].hist_edges)[0])
    assert w2 == 2 * width
    assert f"({w2:g} degC bins" in plots.caption("histogram", dataclasses.replace(rep, analysis=a))


def _estimate_points(figs: dict[str, Figure]) -> int:
    return sum(len(ln.get_xdata()) for f in figs.values() for ax in f.axes
               for ln in ax.get_lines() if ln.get_color() == plots._C_EST)


@pytest.mark.parametrize("crew", ["forgot", "reset_reentry"])
def test_every_record_of_every_boot_is_on_some_plot(crew, request, drawn, tmp_path,
                                                    monkeypatch):
    rep = request.getfixturevalue(crew)
    monkeypatch.setattr(plots, "_thin", lambda y, buckets=2000: np.arange(len(y)))
    unclocked = {u.boot for u in rep.analysis.unclocked if u.records}
    assert unclocked, "reset-reentry has a boot with records and no UTC"
    made = plots.make_plots(rep, tmp_path, "r")
    overview = {"r-overview.png": drawn["r-overview.png"]}
    boots = {k: v for k, v in drawn.items() if "-boot" in k}
    placed = plots._placed(rep)
    # synced, boot 2 is bounded both sides and placed; forgotten, boot 3 is not
    assert bool(unclocked - set(placed)) == (crew == "forgot")
    on_utc = int((~np.isnan(rep.utc)).sum()) + sum(
        int((rep.boot == b).sum()) for b in placed)
    assert _estimate_points(overview) == on_utc
    assert _estimate_points(overview) + _estimate_points(boots) == len(rep.utc)
    for b in unclocked - set(placed):
        assert f"boot{b}" in made
        fig = drawn[f"r-boot{b}.png"]
        assert "hours since boot" in fig.axes[-2].get_xlabel() or any(
            "hours since boot" in a.get_xlabel() for a in fig.axes)
        assert "never set" in plots.caption(f"boot{b}", rep)
        assert "on this plot only" in plots.caption(f"boot{b}", rep)
        assert _estimate_points({"b": fig}) == int((rep.boot == b).sum())
        # every channel of it, not the temperature alone
        labels = {ln.get_label() for a in fig.axes for ln in a.get_lines()}
        assert {"battery", "heater duty %", "humidity %RH", "pressure hPa (right)"} <= labels


def test_a_boot_bounded_on_both_sides_is_placed_in_its_hatched_span(forgot, drawn,
                                                                   tmp_path, monkeypatch):
    rep = forgot
    monkeypatch.setattr(plots, "_thin", lambda y, buckets=2000: np.arange(len(y)))
    # every boot with records bounded on both sides, one after the other
    lo = float(np.nanmax(rep.utc)) + 600
    bounded = []
    for u in rep.analysis.unclocked:
        bounded.append(dataclasses.replace(u, earliest_utc=lo, latest_utc=lo + 1200))
        lo += 1200 + u.reach_s
    r2 = dataclasses.replace(rep, analysis=dataclasses.replace(rep.analysis, unclocked=bounded))
    made = plots.make_plots(r2, tmp_path, "r")
    assert not [k for k in made if k.startswith("boot")]  # all on the UTC plots now
    fig = drawn["r-overview.png"]
    assert _estimate_points({"o": fig}) == len(rep.utc)
    u3 = next(u for u in bounded if u.records)
    hatch = [p for p in fig.axes[0].patches if p.get_label().startswith(f"boot {u3.boot}, no UTC")]
    assert len(hatch) == 1 and "drawn at the middle, +-10 min" in hatch[0].get_label()
    lo = u3.earliest_utc
    # its records start at the middle of where its uptime 0 can lie
    first = np.flatnonzero(rep.boot == u3.boot)[0]
    est = [ln for ln in fig.axes[0].get_lines() if ln.get_color() == plots._C_EST]
    xs = np.concatenate([mdates.date2num(np.asarray(ln.get_xdata())) for ln in est])
    want = mdates.date2num(np.datetime64(int((lo + 600 + rep.t[first]) * 1e6), "us"))
    assert np.isclose(xs, want).any()
    # the phase it ran has a plot again, holding its records
    assert "phase4" in made


def test_a_report_with_no_clocked_record_draws_every_boot_on_uptime(forgot, drawn,
                                                                    tmp_path):
    rep = forgot
    a = dataclasses.replace(rep.analysis, utc=np.full(len(rep.utc), np.nan))
    r2 = dataclasses.replace(rep, analysis=a)
    assert plots.plot_overview(r2, tmp_path / "o.png") is None
    # no clock anywhere: nothing to place, no crash, and no UTC plot pretends
    assert all(plots.plot_phase(r2, ps, tmp_path / "p.png") is None for ps in r2.phases)


def test_the_documents_captions_are_read_from_the_report(nominal, tmp_path):
    # the template calls caption(key): the report's own bins must reach it,
    # not the "as each panel says" it falls back to without a report
    from podctl.report import render

    paths = plots.make_plots(nominal, tmp_path, "r")
    html = render.document(nominal, paths)
    width = float(np.diff(nominal.phases[1].hist_edges)[0])
    assert f"({width:g} degC bins;" in html
    assert "bins as each panel says" not in html


def test_a_boot_without_records_has_its_restart_and_alarms_drawn_within_its_bounds(
        tmp_path_factory, drawn, tmp_path):
    # at a 10 s tick reset-reentry's boot 2 lost every record with its open
    # block, but the shock it raised and its restart are events the log
    # holds and the clocked boots around it bound: they were on no plot
    run = tmp_path_factory.mktemp("reset-reentry-10s")
    assert main(["sim", "run", "reset-reentry", "--tick-s", "10", "-o", str(run)]) == 0
    rep = _build(run)
    (two,) = [u for u in rep.analysis.unclocked if u.boot == 2]
    assert two.records == 0 and not np.isnan([two.earliest_utc, two.latest_utc]).any()
    plots.plot_overview(rep, tmp_path / "o.png")
    fig = drawn["o.png"]
    strip = [t.get_text().strip() for t in fig.axes[1].texts]
    assert "alarm shock" in strip or "shock" in strip, strip
    labels = _legend(fig.axes[0])
    assert "board restart" in labels
    hatch = [k for k in labels if k.startswith("boot 2, no UTC")]
    assert hatch and "its restart and alarms drawn at the middle, +-" in hatch[0]


def test_phase_changes_are_in_the_legend_and_a_silent_probe_keeps_its_row(probe_failure,
                                                                         drawn, tmp_path):
    rep = probe_failure
    plots.plot_overview(rep, tmp_path / "o.png")
    assert "phase change" in _legend(drawn["o.png"].axes[0])
    # probe 1 gave no reading in recovery (lost in orbit): its row stays,
    # hatched, so the strip does not read as three probes fitted
    assert np.isnan(rep.raw_probes[rep.phase == 4, 1]).all()
    plots.plot_phase(rep, rep.phases[4], tmp_path / "p4.png")
    rows = [t.get_text() for t in drawn["p4.png"].axes[1].get_yticklabels()]
    assert "probe 1" in rows
    assert "probe 1 no reading" in _legend(drawn["p4.png"].axes[1])
