"""The QA report's HTML and PDF come from one template: the PDF is the HTML
document paged by WeasyPrint, so every heading and every figure of the one
is in the other, a change to the template shows in both, and what the HTML
says about time without a reading is on the page a reviewer signs.

The PDF is read back as text with pypdf; the page layout (nothing wider
than the page's text column) with WeasyPrint's own layout boxes.
"""

from __future__ import annotations

import dataclasses
import html.parser
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from podctl import fmt, manifest
from podctl import report as rpt
from podctl.cli import main
from podctl.logs_cmds import load_data
from podctl.pulled import open_pulled
from podctl.report import render
from podctl.report_cmd import load_profile
from podctl.verdict import verify
from protocol import log

pypdf = pytest.importorskip("pypdf")

NOMINAL = Path("examples/profiles/nominal.toml")
NO_READING_NOTE = "Time without any trusted probe counts neither in nor out of band"


class _Text(html.parser.HTMLParser):
    """The text a reader sees: body text nodes, not style, title or attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.chunks: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "title", "head"):
            self.skip += 1
        if tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("style", "title", "head"):
            self.skip -= 1
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.chunks.append(data)
            if self._heading is not None:
                self._heading.append(data)


def _squash(text: str) -> str:
    """Text without whitespace or soft hyphens: line breaks fall elsewhere
    on a page than in a browser."""
    return re.sub(r"[\s\u00ad]+", "", text)


def _pdf_pages(path: Path) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(str(path)).pages]


def _report(run: Path, data=None) -> rpt.Report:
    log = run / "log.bin"
    pulled = open_pulled(log)
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    m = manifest.read(manifest.beside(log))
    prof = load_profile(NOMINAL, log)
    return rpt.build(data or load_data(pulled), verdict, prof, m, generated_utc=0)


@pytest.fixture(scope="module")
def nominal(tmp_path_factory):
    run = tmp_path_factory.mktemp("nominal")
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(run)]) == 0
    out = tmp_path_factory.mktemp("report")
    rep = _report(run)
    page = rpt.render_html(rep, out / "report.html")
    pdf = rpt.render_pdf(rep, out / "report.pdf")
    return run, rep, page.read_text(), pdf


def test_the_pdf_is_the_html_document(nominal):
    _, rep, text, _ = nominal
    # render_pdf pages exactly what render_html writes: there is no second layout
    assert render.document(rep, rep.plots) == text


def test_every_heading_and_figure_of_the_html_is_in_the_pdf(nominal):
    _, rep, text, pdf = nominal
    seen = _Text()
    seen.feed(text)
    pages = _pdf_pages(pdf)
    squashed = _squash("".join(pages))
    missing = [c.strip() for c in seen.chunks if _squash(c) not in squashed]
    assert missing == []
    assert len(seen.chunks) > 200  # the whole document, not an empty page
    # the sections in the same order
    at = [squashed.find(_squash(h)) for h in seen.headings]
    assert -1 not in at and at == sorted(at), list(zip(seen.headings, at))
    for must in ("Per phase", "Excursions", "Data gaps", "Plots", "Sign-off", "Alarms",
                 "Probe faults"):
        assert must in seen.headings
    # and the figures themselves, as the analysis has them
    for ps in rep.phases:
        assert _squash(f"{ps.band.index} {ps.band.name}") in squashed
        assert f"{ps.mkt:.2f}" in squashed and f"{ps.t_max:.2f}" in squashed


def test_the_note_on_time_without_a_reading_is_on_the_page_a_reviewer_signs(nominal):
    _, _, text, pdf = nominal
    assert NO_READING_NOTE in text
    assert _squash(NO_READING_NOTE) in _squash("".join(_pdf_pages(pdf)))


def test_time_without_a_reading_is_stated_in_both(nominal, tmp_path):
    # the probes read nothing for 100 records of orbit: 100 minutes that are
    # neither in nor out of band, and both documents say how long
    run, before, _, _ = nominal
    data = load_data(open_pulled(run / "log.bin"))
    orbit = np.flatnonzero(data.samples["t"] >= 12 * 3600)[:100]
    for p in range(4):
        data.samples[f"probe{p}"][orbit] = np.nan
    rep = _report(run, data)
    assert rep.mission.no_reading_s == 100 * 60 and rep.phases[2].no_reading_s == 100 * 60
    # with what no record covered already (the start of each phase, the end)
    unknown = rep.mission.unknown_s
    assert unknown == 100 * 60 + before.mission.unknown_s
    text = rpt.render_html(rep, tmp_path / "r.html").read_text()
    pages = _squash("".join(_pdf_pages(rpt.render_pdf(rep, tmp_path / "r.pdf"))))
    for said in (NO_READING_NOTE,
                 f"the percentages are of the duration, and {fmt.dur(unknown)} of this log had "
                 "no reading", f"0 s out of band, {fmt.dur(unknown)} without a reading"):
        assert said in text and _squash(said) in pages


def test_a_data_gap_is_time_without_a_reading_not_in_band(nominal, tmp_path):
    # issue 13: "Data gaps show as '0 s without a reading'". 45 minutes of
    # orbit records gone: the orbit still lasts 9 d 4 h, 45 min of it unknown,
    # and the product verdict is INCOMPLETE (longer than orbit's 30 min delay)
    run, before, _, _ = nominal
    data = load_data(open_pulled(run / "log.bin"))
    orbit = np.flatnonzero(data.samples["t"] >= 12 * 3600)
    keep = np.ones(len(data.samples), dtype=bool)
    keep[orbit[:45]] = False
    data = dataclasses.replace(data, samples=data.samples[keep])
    rep = _report(run, data)
    orb, was = rep.phases[2], before.phases[2]
    assert orb.seconds == was.seconds and orb.gap_s == was.gap_s + 45 * 60
    assert orb.in_band_s + orb.out_band_s + orb.unknown_s == orb.seconds
    (gap,) = [g for g in rep.gaps if not (g.tail or g.head)]
    assert gap.seconds == 45 * 60 and gap.phase == 2  # from where the record before it stops
    assert rep.product.status == "INCOMPLETE" and "unknown" in rep.product.codes("INCOMPLETE")
    text = rpt.render_html(rep, tmp_path / "r.html").read_text()
    assert f"{fmt.dur(rep.mission.unknown_s)} without a reading" in text
    assert "45 min" in text and "2 orbit" in text


def test_a_change_to_the_template_changes_both(nominal, tmp_path):
    _, rep, _, _ = nominal
    mine = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES, mine)
    t = mine / render.TEMPLATE
    marker = '<h2>Storage conditions</h2>\n<p>Labelled storage 2 to 8 degC, batch 4711-B.</p>\n'
    signoff = '<div class="signoff-page keep">'
    t.write_text(t.read_text().replace(signoff, marker + signoff))
    page = rpt.render_html(rep, tmp_path / "r.html", templates=mine).read_text()
    pdf = _squash("".join(_pdf_pages(rpt.render_pdf(rep, tmp_path / "r.pdf", templates=mine))))
    for said in ("Storage conditions", "Labelled storage 2 to 8 degC, batch 4711-B."):
        assert said in page and _squash(said) in pdf


def test_every_page_is_footed_and_signed_off_last(nominal):
    _, rep, _, pdf = nominal
    pages = _pdf_pages(pdf)
    n = len(pages)
    assert n >= 4
    for i, page in enumerate(pages, 1):
        assert f"page {i} of {n}" in page
        assert rep.device_id in page and rep.log_sha256[:16] in page
        assert f"integrity {rep.verdict}" in page
        assert f"product {rep.product.status}" in page
    assert "VERIFIED" in pages[0] and "intact and authenticated" in pages[0]
    last = pages[-1]
    for field in ("Sign-off", "Reviewed by (name, role)", "Date (UTC)", "Signature",
                  "Disposition (release / review / reject", rep.log_sha256,
                  rep.report_id):
        assert field in last
    assert all("Sign-off" not in p for p in pages[:-1])


def test_nothing_runs_past_the_text_column(nominal, tmp_path):
    """No table, cell or plot is wider than the page's text column: on paper
    a column past the margin is cut."""
    from weasyprint import HTML

    _, _, text, _ = nominal
    doc = HTML(string=text).render()
    for i, page in enumerate(doc.pages, 1):
        box = getattr(page, "_page_box", None)
        if box is None:
            pytest.skip("this WeasyPrint does not expose its layout boxes")
        right = box.margin_width() - box.margin_right
        for b in box.descendants():
            if getattr(b, "element_tag", None) in ("table", "tr", "td", "th", "img", "p", "li"):
                edge = b.position_x + b.margin_width()
                assert edge <= right + 0.5, (i, b.element_tag, edge, right)


def test_both_verdicts_and_every_reason_are_on_the_first_page(nominal):
    _, rep, text, pdf = nominal
    first = _squash(_pdf_pages(pdf)[0])
    for said in ("Integrity: is the log authentic and complete?",
                 "Product: was the band held for the whole mission?", rep.verdict,
                 rep.product.status, rep.product.headline, *(r.what for r in rep.product.reasons)):
        assert _squash(said) in first, said
    assert rep.product.reasons  # the nominal mission's shock and lid alarms, at least
    assert f'<div class="verdict {rep.product.status}">{rep.product.status}</div>' in text


SIMULATED = "SIMULATED — NOT FOR RELEASE"


def test_a_simulated_board_says_so_on_every_page_and_is_never_released(nominal, tmp_path):
    from podctl.verdict import Verdict

    run, _, _, _ = nominal
    pulled = open_pulled(run / "log.bin")
    m = manifest.read(manifest.beside(run / "log.bin"))
    prof = load_profile(NOMINAL, run / "log.bin")
    unsealed = Verdict([], [], authenticated=False, end_checked=False)  # says nothing of the board
    data = load_data(pulled)
    # as a real board's: its BOOT events without the simulated bit
    data = dataclasses.replace(data, events=[
        dataclasses.replace(e, a=e.a & 0x7F) if e.code == log.EV_BOOT else e for e in data.events])
    plain = rpt.build(data, unsealed, prof, m, generated_utc=0)
    assert not plain.simulated and "simulated" not in plain.product.codes()
    pages = _pdf_pages(rpt.render_pdf(plain, tmp_path / "plain.pdf"))
    assert all(SIMULATED not in p for p in pages)
    rep = rpt.build(data, unsealed, prof, m, generated_utc=0, simulated=True)
    assert rep.simulated and rep.product.status != "RELEASE"
    assert "simulated" in rep.product.codes("REVIEW")
    pages = _pdf_pages(rpt.render_pdf(rep, tmp_path / "sim.pdf"))
    assert len(pages) >= 4 and all(SIMULATED in p for p in pages)
    text = rpt.render_html(rep, tmp_path / "sim.html").read_text()
    assert '<div class="simulated">SIMULATED &mdash; NOT FOR RELEASE</div>' in text

    class SealedBySimulator(Verdict):
        simulated = True  # what a checked seal with flag bit 0 says

    sealed = SealedBySimulator([], [], authenticated=False, end_checked=False)
    told = rpt.build(data, sealed, prof, m)
    assert told.simulated and "simulated" in told.product.codes()


def test_records_before_the_first_phase_are_said_and_the_mission_row_adds_up(nominal):
    # the demo's board logged 4 records before its profile's first PHASE
    # event: the per-probe rows (records in a phase) then read 4 fewer than
    # the Probes table, and the whole-mission row ran from the first record
    # while its duration was the phases' together. Here the pad's PHASE
    # event is dropped: its 480 records are in no phase.
    run, _, _, _ = nominal
    data = load_data(open_pulled(run / "log.bin"))
    first = next(i for i, e in enumerate(data.events) if e.code == log.EV_PHASE)
    data = dataclasses.replace(data, events=data.events[:first] + data.events[first + 1:])
    rep = _report(run, data)
    a = rep.analysis
    assert a.before_first_phase > 0 and not rep.phases[0].visits
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ",
                                                    render.document(rep, {}))))
    assert (f"the {a.before_first_phase} record(s) before the first PHASE event are in none "
            "and not judged") in text
    row = text[text.index("whole mission", text.index("Per phase")):]
    entered = [ps for ps in rep.phases if ps.visits]
    assert row.split()[2:6] == f"{entered[0].start} {entered[-1].end}".split(), row[:120]
    assert rep.span_start != str(entered[0].start)
