"""What a QA reviewer queried on the rendered pages (issue 17, every page of
the seven scenarios read as PNG) and that the plots and the number
formatting now answer: figures that add up as printed, a share that is
there never printed as 0.00 %, a pressure panel that does not turn sensor
noise into swings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from podctl import fmt, manifest
from podctl import report as rpt
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.report import plots
from podctl.report_cmd import load_profile
from podctl.verdict import verify

NOMINAL = Path("examples/profiles/nominal.toml")


@pytest.mark.parametrize("seconds, text", [
    # the pad on the page: 8 h 00 min = 7 h 59 min 50 s in band + 10 s unknown
    (8 * 3600 - 10, "7 h 59 min 50 s"),
    (8 * 3600, "8 h 00 min"),
    # the whole mission: 9 d 22 h 20 min = 9 d 22 h 19 min 40 s + 20 s
    (((9 * 24 + 22) * 60 + 19) * 60 + 40, "9 d 22 h 19 min 40 s"),
    (12 * 3600, "12 h 00 min"),
    (62 * 60 + 21, "62 min 21 s"),
    (119, "119 s"),
    (float("nan"), "unknown"),
])
def test_a_duration_keeps_its_seconds_at_every_size(seconds, text):
    assert fmt.dur(seconds) == text


def test_durations_that_sum_read_as_summing():
    # any split of a phase into in band + out + unknown, each printed, adds
    # up to the printed duration: parse the words back and sum them
    def back(t: str) -> int:
        unit = {"d": 86400, "h": 3600, "min": 60, "s": 1}
        w = t.split()
        return sum(int(n) * unit[u] for n, u in zip(w[::2], w[1::2]))

    rng = np.random.default_rng(17)
    for _ in range(500):
        parts = [int(v) for v in rng.integers(0, 400000, 3)]
        assert sum(back(fmt.dur(p)) for p in parts) == back(fmt.dur(sum(parts)))


@pytest.mark.parametrize("share, text", [
    (20 / 857_000 * 100, "<0.01"),   # 20 s of ten days: there, so not "0.00"
    (0.0, "0.00"),
    (0.005, "0.01"),
    (1.6667, "1.67"),
    (99.997, ">99.99"),
    (100.0, "100.00"),
    (float("nan"), "-"),
])
def test_a_share_is_never_rounded_to_nothing_or_to_all(share, text):
    assert fmt.pct(share) == text


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    run = tmp_path_factory.mktemp("nominal")
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(run)]) == 0
    log_path = run / "log.bin"
    pulled = open_pulled(log_path)
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    m = manifest.read(manifest.beside(log_path))
    return rpt.build(pulled.data(), verdict, load_profile(NOMINAL, log_path), m)


def _pressure_axis(fig):
    return next(a for a in fig.axes if a.get_ylabel() == "hPa")


def test_the_pressure_panel_does_not_magnify_sensor_noise(nominal, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    rep = nominal
    drawn = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.setdefault("f", fig))
    plots.plot_overview(rep, tmp_path / "o.png")
    p = rep.channels["pressure"][~np.isnan(rep.utc)]
    # the sealed container's pressure moves about a hPa: noise, drawn small
    assert np.nanmax(p) - np.nanmin(p) < 5
    lo, hi = _pressure_axis(drawn["f"]).get_ylim()
    assert hi - lo >= plots.PRESSURE_SPAN_HPA
    assert lo <= np.nanmin(p) and np.nanmax(p) <= hi


def test_a_real_pressure_change_still_sets_the_scale(nominal, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    rep = nominal
    known = np.flatnonzero(~np.isnan(rep.utc))
    channels = dict(rep.channels)
    leak = channels["pressure"].astype(float).copy()
    leak[known[len(known) // 2]:] -= 150.0  # a leak: 150 hPa lost mid-mission
    channels["pressure"] = leak
    monkeypatch.setattr(rep, "channels", channels)
    drawn = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: drawn.setdefault("f", fig))
    plots.plot_overview(rep, tmp_path / "o.png")
    lo, hi = _pressure_axis(drawn["f"]).get_ylim()
    assert lo <= np.nanmin(leak[known]) and np.nanmax(leak[known]) <= hi
    assert hi - lo < 2 * 150  # autoscaled to the leak, not widened further
