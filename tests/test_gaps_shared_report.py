"""Issue 17 item 7 on the Data gaps page: the silences around a boot no
clock places (reset-reentry at a 60 s tick: boot 2 keeps records, no clock)
share one budget. Each is at most 4 min 40 s, together they are exactly
4 min 40 s, and the section's total is the whole mission's unknown time
with nothing in red; it said "together 10 min 20 s" and "-280 s of it is
on no row here". At a 10 s tick boot 2's records are lost and the silence
is one exact gap: the same identity, no shared wording.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from podctl import analysis, fmt, manifest
from podctl import report as rpt
from podctl.analysis import SharedSilence, When
from podctl.cli import main
from podctl.pulled import open_pulled
from podctl.report import unknown
from podctl.report_cmd import load_profile
from podctl.verdict import verify

NOMINAL = Path("examples/profiles/nominal.toml")


def _build(tick_s: int, tmp: Path) -> rpt.Report:
    run = tmp / f"reset-reentry-{tick_s}"
    assert main(["sim", "run", "reset-reentry", "--tick-s", str(tick_s), "-o", str(run)]) == 0
    log_path = run / "log.bin"
    pulled = open_pulled(log_path)
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    return rpt.build(pulled.data(), verdict, load_profile(NOMINAL, log_path),
                     manifest.read(manifest.beside(log_path)))


@pytest.fixture(scope="module")
def at_60(tmp_path_factory) -> rpt.Report:
    return _build(60, tmp_path_factory.mktemp("rr60"))


@pytest.fixture(scope="module")
def at_10(tmp_path_factory) -> rpt.Report:
    return _build(10, tmp_path_factory.mktemp("rr10"))


def _gap_section(rep: rpt.Report) -> tuple[str, str]:
    """The Data gaps section: (its HTML, its text, whitespace squashed)."""
    page = rpt.document(rep, {})
    part = page[page.index("<h2>Data gaps</h2>"):page.index("<h2>Plots</h2>")]
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", part)))
    return part, text


def _seconds(said: str) -> int:
    unit = {"d": 86400, "h": 3600, "min": 60, "s": 1}
    w = said.split()
    return sum(int(n) * unit[u] for n, u in zip(w[::2], w[1::2]))


def test_the_silences_around_boot_2_count_once_in_the_data_gaps_total(at_60):
    rep = at_60
    shared = [u for u in rep.unknown if u.gap is not None and u.gap.shared is not None]
    assert len(shared) == 2 and shared[0].gap.shared == shared[1].gap.shared
    budget = shared[0].gap.shared
    assert budget.seconds == 280 and budget.boots == (2,)
    # the return's unknown time holds the budget once
    assert rep.phases[3].unknown_s == 280
    assert unknown.total(rep.unknown) == rep.mission.unknown_s == 60 + 280
    assert abs(rep.unknown_unlisted_s) < 0.5
    part, text = _gap_section(rep)
    total = re.search(r"together <b>(?:at least )?([^<]+)</b>", part)
    assert total and _seconds(total.group(1)) == rep.mission.unknown_s
    assert "the whole mission's time without a reading" in text
    assert "on no row" not in text and 'class="flag"' not in part
    words = "the two silences around boot 2 together 4 min 40 s, each at most 4 min 40 s"
    assert text.replace("\u00a0", " ").count(words) == 2


def test_the_rows_read_back_add_up_to_the_total(at_60):
    # what a reviewer does with the page: each row's length, a shared
    # budget once (the rows that say "together" state one figure)
    part, _ = _gap_section(at_60)
    cells = [html.unescape(c).replace("\u00a0", " ")
             for c in re.findall(r'<td class="n wrap">([^<]*)</td>', part)]
    said = 0
    budgets = set()
    for c in cells:
        m = re.search(r"together ([0-9][^,]*),", c)
        if m:
            budgets.add(c)
            continue
        said += _seconds(c)
    said += sum(_seconds(re.search(r"together ([0-9][^,]*),", b).group(1)) for b in budgets)
    assert len(cells) == 3 and len(budgets) == 1
    assert said == at_60.mission.unknown_s


def test_at_10_s_the_silence_is_exact_and_adds_up(at_10):
    # boot 2's records are lost at a 10 s tick: one gap, boot 1 to boot 3,
    # its length exact (boot 3's clock), nothing shared
    rep = at_10
    assert all(u.gap is None or u.gap.shared is None for u in rep.unknown)
    (restart,) = [u for u in rep.unknown if u.gap is not None and u.gap.restart]
    assert restart.seconds is not None
    assert unknown.total(rep.unknown) == rep.mission.unknown_s
    part, text = _gap_section(rep)
    assert "on no row" not in text and 'class="flag"' not in part
    assert "silences around" not in text


def _budget(silences: int, boots: tuple[int, ...], seconds: float = 280.0) -> SharedSilence:
    return SharedSilence(When(1, 0.0, 0.0), When(boots[-1] + 1, 0.0, 1000.0), seconds,
                         silences, boots, 3)


@pytest.mark.parametrize("silences, boots, words", [
    (2, (2,), "the two silences around boot 2 together 4 min 40 s, each at most 4 min 40 s"),
    (3, (2, 3), "the three silences around boots 2 and 3 together 4 min 40 s, "
                "each at most 4 min 40 s"),
    (7, (2, 3, 4, 5, 6, 7), "the 7 silences around boots 2, 3, 4, 5, 6 and 7 together"),
    (1, (2,), "the silence around boot 2, at most 4 min 40 s"),
])
def test_a_shared_budget_names_its_silences_and_boots(silences, boots, words):
    got = unknown.shared_words(_budget(silences, boots)).replace("\u00a0", " ")
    assert got.startswith(words)
    assert fmt.dur(280) in got


def test_two_budgets_count_each_once_and_other_rows_as_they_are():
    a, b = _budget(2, (2,), 100.0), _budget(2, (4,), 50.0)

    def row(shared: SharedSilence | None, at_most: float | None, seconds: float | None):
        g = analysis.Gap(When(1, 0.0, 0.0), When(2, 0.0, 0.0), seconds, 3, at_most,
                         shared=shared)
        return unknown.Span(g.start, g.end, seconds, 3, unknown.GAP, g)

    rows = [row(a, 100.0, None), row(a, 100.0, None), row(b, 50.0, None), row(b, 50.0, None),
            row(None, None, 7.0), row(None, 30.0, None)]
    assert unknown.total(rows) == 100 + 50 + 7 + 30


def test_a_silence_across_a_boot_with_no_record_names_that_boot(at_10):
    # at 10 s boot 2 ran 10 min with its records lost: the 13 min 50 s
    # silence was not all "off or booting"; the row says boot 2 ran in it
    rep = at_10
    (restart,) = [u for u in rep.unknown if u.gap is not None and u.gap.restart]
    why = rep.unknown_why(restart)
    assert why.startswith("board restarted (boot 1 to boot 3, boot 2 between them with no "
                          "record in the log): off, booting or running without a record")
    assert "bounded" not in why  # boot 3's clock makes it exact


def test_the_silences_around_boot_2_say_what_bounds_them(at_60):
    whys = [at_60.unknown_why(u) for u in at_60.unknown if u.gap is not None and u.gap.restart]
    assert whys == [
        "board restarted (boot 1 to boot 2): off, booting or running without a record; "
        "bounded by the clocked records around it",
        "board restarted (boot 2 to boot 3): off, booting or running without a record; "
        "bounded by the clocked records around it"]


def test_the_deviation_rows_of_a_shared_silence_say_they_share_it(at_60):
    # page 1 listed both silences as "at most 4 min 40 s" as if they were
    # 9 min 20 s together: each row names the exact total they share
    rows = [d for d in at_60.deviations if d.kind == "gap" and "around boot(s) 2" in d.figure]
    assert len(rows) == 2
    for d in rows:
        assert d.figure == ("at most 4 min 40 s; with the other silence(s) around boot(s) 2, "
                            "together exactly 4 min 40 s")
