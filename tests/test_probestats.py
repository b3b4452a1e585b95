"""podctl.probestats (issue 17, finding 2): every probe's own figures,
excluded readings included, beside the estimate's; on a log built by hand
and on the probe-failure scenario, where probe 2 drifts warm for days
after the firmware excluded it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from podctl import analysis, assess, probestats, profile_file
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.sim_cmds import load_run_inputs
from podctl.verdict import verify
from protocol import log
from protocol import profile as pf
from tests.test_analysis import BAD, T0, ev, logof

ESTIMATE, WHOLE = probestats.ESTIMATE, probestats.WHOLE


@pytest.fixture(scope="module")
def nominal() -> pf.Profile:
    got = pf.check(profile_file.compile_file("examples/profiles/nominal.toml"))
    assert isinstance(got, pf.Profile)
    return got


def _row(rows, probe, phase):
    (r,) = [r for r in rows if r.probe == probe and r.phase == phase]
    return r


def test_an_excluded_probe_keeps_its_readings_in_its_own_figures(nominal):
    # probe 2 reads 9, 12, 16 degC and is excluded from the second record
    # on; the others read 5: the estimate never leaves the band
    temps = [(5.0, 5.0, 9.0, 5.0), (5.0, 5.0, 12.0, 5.0), (5.0, 4.0, 16.0, math.nan)]
    rows = [(1, 60 * i, list(p), BAD if i else 0) for i, p in enumerate(temps)]
    events = [ev(log.EV_BOOT, 0, 1, 1), ev(log.EV_PHASE, 0, 0),
              ev(log.EV_PROBE_FAULT, 60, 2, 3, 12000)]
    data = logof(rows, events)
    a = analysis.analyse(data, nominal)
    got = probestats.probe_stats(data, a)
    p2 = _row(got, 2, 0)
    assert (p2.t_min, p2.t_max, p2.readings) == (9, 16, 3)
    assert p2.t_max_at == analysis.When(1, 120, T0 + 120)
    assert (p2.in_band_s, p2.above_s, p2.below_s) == (0, 180, 0)
    assert (p2.abs_high_s, p2.excluded_s) == (60, 120)  # 16 > 15 degC; 2 minutes excluded
    p3 = _row(got, 3, 0)
    assert p3.no_reading_s == 60 and p3.in_band_s == 120
    est = _row(got, ESTIMATE, 0)
    # the estimate: 6 (the first record trusts all four), then 5, then 4.5
    assert (est.t_min, est.t_max, est.above_s, est.excluded_s) == (4.5, 6.0, 0, 0)
    assert est.t_min == a.phases[0].t_min and est.t_max_at == a.phases[0].t_max_at
    # the mission rows are the phases' together; every row adds up to its time
    assert _row(got, 2, WHOLE).above_s == 180
    for r in got:
        assert r.recorded_s == pytest.approx(
            float(a.dt[(a.phase == r.phase) if r.phase != WHOLE else a.phase >= 0].sum()))


@pytest.fixture(scope="module")
def probe_failure(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe-failure")
    assert main(["sim", "run", "probe-failure", "--tick-s", "10", "-o", str(out)]) == 0
    p = open_pulled(out / "log.bin")
    v = verify(p, (out / "key.bin").read_bytes())
    data = p.data(v.blocks)
    prof = pf.check(load_run_inputs("probe-failure", 10)[1])
    a = analysis.analyse(data, prof, until=assess.log_end(v))
    return data, a, probestats.probe_stats(data, a), out


def test_probe_failure_shows_the_drifting_probe_and_each_probes_extremes(probe_failure):
    data, a, got, out = probe_failure
    orbit = a.phases[2]
    p2 = _row(got, 2, 2)
    # probe 2 drifts warm from day 5 for days: above the 8 degC band, past
    # the 15 degC absolute limit, read while excluded; the estimate never is
    assert p2.t_max > 15 and p2.above_s > 24 * 3600 and p2.abs_high_s > 0
    assert p2.excluded_s >= p2.above_s
    est = _row(got, ESTIMATE, 2)
    assert est.t_max < 8 and est.above_s == 0 == orbit.out_band_s
    assert (est.t_min, est.t_max) == (orbit.t_min, orbit.t_max)
    # probe 0 read colder than the estimate ever was (the estimate averages)
    assert _row(got, 0, 2).t_min < est.t_min
    # probe 1 went open: its silence is its own no-reading time, not the estimate's
    assert _row(got, 1, 2).no_reading_s > 24 * 3600 and est.no_reading_s == 0
    for r in got:
        ps = a.mission if r.phase == WHOLE else a.phases[r.phase]
        assert r.recorded_s == pytest.approx(ps.seconds - ps.gap_s, abs=1e-6)
    # the decoded log itself: probe 2's highest reading is the one reported
    raw2 = data.samples["probe2"]
    assert _row(got, 2, WHOLE).t_max == float(np.nanmax(raw2))


def test_readings_count_records_not_the_spans_a_phase_change_cuts(probe_failure):
    # a record whose reading stands across a phase change is two spans
    # (analysis.spans) but one reading: the Probes table's "read in N of M
    # records" and the per-probe "Readings" must agree
    data, a, got, out = probe_failure
    assert len(a.spans) > a.records  # the log has such records
    for p in range(4):
        read = int((~np.isnan(probestats._raw(data)[:, p])).sum())
        assert _row(got, p, WHOLE).readings == read
    assert _row(got, ESTIMATE, WHOLE).readings == int((~np.isnan(a.estimate) & a.valid).sum())
