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

from podctl import fmt
from podctl import report as rpt
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.report import plots
from tests import report_run

NOMINAL = Path("examples/profiles/nominal.toml")
TICK_S = 60  # the nominal fixture's tick


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
def nominal_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("nominal")
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(run)]) == 0
    return run


def _build(run: Path, data=None) -> rpt.Report:
    return report_run.build(run, data)


@pytest.fixture(scope="module")
def nominal(nominal_run):
    return _build(nominal_run)


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


# ---------------------------------------------------------------- the QA review's pages (H3)


def _layout(page: str) -> tuple[list[tuple[str, int, set[int]]], list[float]]:
    """The PDF's layout of an HTML document as WeasyPrint pages it: each
    table's (class, rows, pages it lies on) and how far down each page its
    content reaches (a share of the page's content height)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML

    doc = HTML(string=page).render()

    def walk(box):
        yield box
        for c in getattr(box, "children", None) or []:
            yield from walk(c)

    tables: dict[int, tuple[str, int, set[int]]] = {}
    fill = []
    for n, pg in enumerate(doc.pages):
        root = pg._page_box
        body = root.children[0]
        top, height = body.content_box_y(), root.height - root.margin_top - root.margin_bottom
        bottom = top
        for b in walk(root):
            el = getattr(b, "element", None)
            if el is not None and el.tag == "table":
                tables.setdefault(id(el), (el.get("class") or "", len(el.findall(".//tr")),
                                           set()))[2].add(n)
            if getattr(b, "element_tag", "") in ("p", "li", "tr", "h2", "h3") and \
                    b.position_y < top + height:
                bottom = max(bottom, b.position_y + b.margin_height())
        fill.append((bottom - top) / height)
    return list(tables.values()), fill


def _pushed_down(rep: rpt.Report, lines: int) -> rpt.Report:
    """The report with its Summary `lines` longer: what follows lands
    elsewhere on the pages (another log's coverage lines would do so)."""
    import dataclasses

    return dataclasses.replace(rep, notes=rep.notes + [f"line {i}" for i in range(lines)])


def test_a_short_table_is_never_split_over_two_pages(nominal):
    # heater-failure's Probes table split after probe 2 (p2 -> p3): moving
    # the text above it down line by line finds every place a break can fall
    from podctl.report.render import SHORT_ROWS

    checked = 0
    for lines in range(0, 48, 4):
        tables, _ = _layout(rpt.document(_pushed_down(nominal, lines), {}))
        for cls, rows, pages in tables:
            if rows <= SHORT_ROWS + 1:  # the rows and the header's
                checked += 1
                assert len(pages) == 1, (lines, cls, rows, sorted(pages))
    assert checked >= 12 * 10


def test_no_page_of_text_is_left_half_empty(nominal):
    # nominal p3: half a page blank after the per-probe table, the Per phase
    # section kept whole pushed to the next page; with the plots left out,
    # every page but the last two (the last text and the sign-off) is at
    # least half full wherever the breaks fall
    for lines in range(0, 48, 4):
        _, fill = _layout(rpt.document(_pushed_down(nominal, lines), {}))
        assert len(fill) >= 4
        for n, share in enumerate(fill[:-2], 1):
            assert share >= 0.5, (lines, n, f"{share:.2f}")


def _text(page: str) -> str:
    """The HTML's text, tags and entities gone, whitespace squashed."""
    import html
    import re

    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _section(text: str, head: str, after: str) -> str:
    return text[text.index(head):text.index(after, text.index(head))]


def test_the_sign_off_offers_the_product_verdicts_own_words(nominal):
    from podctl import assess
    from sim import scenario

    text = _text(rpt.document(nominal, {}))
    signoff = text[text.index("Sign-off"):]
    # each verdict mapped to its disposition, INCOMPLETE included (test_report_words)
    assert ("Disposition (release / review / reject; product REVIEW: review, then release or "
            "reject (otherwise RELEASE: release; REJECT: reject; INCOMPLETE: not releasable on "
            "this log: reject or investigate))") in signoff
    # the words are those of the scenarios' [disposition] and of assess
    assert nominal.dispositions == scenario.DISPOSITIONS
    assert {w.upper() for w in nominal.dispositions} <= set(assess.GRAVITY)
    assert nominal.product.status.lower() in nominal.dispositions


@pytest.fixture(scope="module")
def clock_off(nominal_run, tmp_path_factory):
    """nominal's log pulled by a host whose clock is 9.9 days behind the
    device's (the demo's case): intact, authentic, every time misplaced."""
    import json

    folder = tmp_path_factory.mktemp("clock-off")
    for f in ("log.bin", "seal.bin", "key.bin"):
        (folder / f).write_bytes((nominal_run / f).read_bytes())
    m = json.loads((nominal_run / "log.bin.manifest.json").read_text())
    m["anchor"]["utc"] -= 857_676
    (folder / "log.bin.manifest.json").write_text(json.dumps(m))
    return _build(folder)


def _integrity_box(page: str) -> str:
    at = page.index('<div class="verdict ')
    return page[at:page.index("</div></div>", at) + 12] if "clocknote" in page[at:at + 400] \
        else page[at:page.index("</div>", at) + 6]


def test_the_integrity_box_is_not_plain_green_beside_a_clock_finding(nominal, clock_off):
    assert clock_off.verdict == rpt.VERIFIED and clock_off.clock_findings
    assert "clock" in clock_off.product.codes()
    box = _integrity_box(rpt.document(clock_off, {}))
    assert "clockoff" in box.split(">", 1)[0]  # the box itself is marked, not only a line below
    said = _text(box)
    assert "VERIFIED" in said and "device's clock is off beyond the tolerance of 60 s" in said
    assert f"{clock_off.clock_offset_s:+.0f} s" in said and "+857676" in said.replace(",", "")
    # within the tolerance the box stays plain
    plain = _integrity_box(rpt.document(nominal, {}))
    assert not nominal.clock_findings
    assert "clockoff" not in plain and _text(plain).strip() == "VERIFIED"


def test_every_count_on_the_probes_table_names_its_unit(nominal):
    import re

    excluded = [i for i in range(4) if nominal.excluded[:, i].any()]
    assert excluded  # nominal's probe 3 is excluded at the hand-over
    for i in range(4):
        use = nominal.probe_use(i)
        # every number in the cell is followed by what it counts
        for m in re.finditer(r"\b(\d+)\b(?! of)\s*(\S*)", use):
            assert m.group(2).strip("(),;") in ("records", "s", "min", "h", "d"), (use, m.group())
    assert re.search(r"excluded while reading in \d+ records \(", nominal.probe_use(excluded[0]))


def test_two_lengths_on_one_page_say_which_is_which(nominal):
    text = _text(rpt.document(nominal, {}))
    device = _section(text, "Log and device", "Summary")
    summary = _section(text, "Summary", "Acceptance criteria")
    span = fmt.dur(nominal.span_seconds)
    assert "Clocked span" in device and f"{span} between the first and the last UTC" in device
    assert "the mission's length" in device
    assert f"of the mission's length, {fmt.dur(nominal.mission.seconds)}" in summary
    assert "Time span" not in device


def _seconds(said: str) -> int:
    """A duration as fmt.dur prints it, back in seconds."""
    unit = {"d": 86400, "h": 3600, "min": 60, "s": 1}
    w = said.split()
    return sum(int(n) * unit[u] for n, u in zip(w[::2], w[1::2]))


def _gap_section(rep: rpt.Report) -> tuple[int, list[int]]:
    """What the Data gaps section states: its total and each row's length
    (the Length column, read back from the page)."""
    import re

    page = rpt.document(rep, {})
    part = page[page.index("<h2>Data gaps</h2>"):page.index("<h2>Plots</h2>")]
    together = re.search(r"together <b>(?:at least )?([^<]+)</b>", part)
    assert together, _text(part)
    rows = re.findall(r'<td class="n wrap">(?:at most |at least )?([0-9][^,<]*?)(?:,[^<]*)?</td>',
                      part)
    return _seconds(together.group(1)), [_seconds(r) for r in rows]


def test_the_data_gaps_add_up_to_the_time_without_a_reading(nominal):
    # nominal said "20 s without a reading" above "Data gaps: None: records
    # are contiguous": the first tick of a phase, on no row
    unknown = nominal.mission.unknown_s
    assert unknown > 0
    total, rows = _gap_section(nominal)
    assert rows and sum(rows) == total == round(unknown)
    assert abs(nominal.unknown_unlisted_s) < 0.5
    assert "None: every moment" not in rpt.document(nominal, {})


def test_gaps_and_readings_lost_mid_mission_are_each_a_row(nominal_run, nominal):
    # 45 orbit records gone and 100 more with no probe reading, two of them
    # with one probe left (fewer than the profile's 2): each span a row, and
    # the rows still add up to the per-phase table's unknown time
    import dataclasses

    import numpy as np

    from podctl.report import unknown

    data = open_pulled(nominal_run / "log.bin").data()
    orbit = np.flatnonzero(data.samples["t"] >= 12 * 3600)
    keep = np.ones(len(data.samples), dtype=bool)
    keep[orbit[:45]] = False
    blind = orbit[200:300]
    for p in range(4):
        data.samples[f"probe{p}"][blind] = np.nan
    data.samples["probe0"][orbit[400:402]] = 5.0  # one probe read: too few
    for p in range(1, 4):
        data.samples[f"probe{p}"][orbit[400:402]] = np.nan
    rep = _build(nominal_run, dataclasses.replace(data, samples=data.samples[keep]))
    kinds = [u.kind for u in rep.unknown]
    assert kinds.count(unknown.NO_READING) == 1 and kinds.count(unknown.TOO_FEW) == 1
    gap = next(u for u in rep.unknown if u.kind == unknown.GAP and u.phase == 2)
    assert gap.seconds == 45 * TICK_S
    assert rep.mission.unknown_s > nominal.mission.unknown_s + 100 * TICK_S
    total, rows = _gap_section(rep)
    assert sum(rows) == total == round(rep.mission.unknown_s)
    why = _text(rpt.document(rep, {}))
    assert "100 record(s) without any trusted probe" in why
    assert "2 record(s) with fewer trusted probes than the profile's minimum of 2" in why


def test_an_unlisted_unknown_span_is_flagged_not_hidden(nominal, monkeypatch):
    # if the analysis ever counts unknown time no row explains, the section
    # says how much instead of claiming it adds up
    import dataclasses

    short = dataclasses.replace(nominal, unknown=nominal.unknown[1:])
    text = _text(rpt.document(short, {}))
    missing = fmt.dur(nominal.unknown[0].counted_s)
    assert f"{missing} of it is on no row here" in text
    assert "the whole mission's time without a reading" not in text


@pytest.fixture(scope="module")
def reset_reentry(tmp_path_factory):
    run = tmp_path_factory.mktemp("reset-reentry")
    assert main(["sim", "run", "reset-reentry", "--tick-s", "60", "-o", str(run)]) == 0
    return _build(run)


def _past_the_column(page: str) -> list[tuple[str, float]]:
    """Tables whose right edge lies past the page's text column (CSS px)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML

    def walk(box):
        yield box
        for c in getattr(box, "children", None) or []:
            yield from walk(c)

    out = []
    for pg in HTML(string=page).render().pages:
        body = pg._page_box.children[0]
        right = body.content_box_x() + body.width
        for b in walk(pg._page_box):
            if type(b).__name__ == "TableBox" and b.position_x + b.margin_width() > right + 0.5:
                out.append((b.element.findtext(".//th") or "", b.position_x + b.margin_width()
                            - right))
    return out


def test_a_boot_without_utc_pushes_no_table_off_the_page(reset_reentry):
    # reset-reentry p4: "boot 3 +9 h 23 min 50 s (no UTC), after 2027-03-10
    # 22:16:20Z" in a figure's cell that may not wrap ran the per-probe and
    # per-phase tables 8 cm past the margin, their last columns cut
    # 22:16:20Z" in a figure's cell: every extreme put in its boot without
    # UTC, as it was there before the crew's clock set bounded boot 3
    import dataclasses
    import math

    from podctl.analysis import When

    rep = reset_reentry
    (u,) = [u for u in rep.analysis.unclocked if u.records]
    late = When(u.boot, u.seconds - 10, math.nan)
    assert "(no UTC)" in rep.moment(late) and len(rep.moment(late)) > 40
    far = dict(t_min_at=late, t_max_at=late)
    an = dataclasses.replace(
        rep.analysis, phases=[dataclasses.replace(p, **far) for p in rep.phases],
        mission=dataclasses.replace(rep.mission, **far))
    rep = dataclasses.replace(rep, analysis=an, probe_stats=[
        dataclasses.replace(r, **far) for r in rep.probe_stats])
    assert all(rep.moment(f.t_max_at) == rep.moment(late) for f in rep.probe_rows())
    assert _past_the_column(rpt.document(rep, {})) == []
