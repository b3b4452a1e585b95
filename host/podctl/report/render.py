"""The report as files: one Jinja2 template (podctl/templates/report.html.j2)
makes one HTML document; render_html writes it, render_pdf hands the very
same document to WeasyPrint. The PDF has no layout of its own: its page
size, margins, running footer and page breaks are the template's @page and
print CSS, so the two cannot say different things.

  render_html(rep, Path("report.html"))   # + report-overview.png, report-phase<i>-<name>.png
  render_pdf(rep, Path("report.pdf"))     # the same document, paged (A4)
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podctl import fmt
from podctl.report.contents import Report
from podctl.report.plots import caption, plots_for

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "report.html.j2"
FONT_EPOCH = 946684800  # 2000-01-01T00:00:00Z: the fonts' stamp, not any time of the data
# a table of at most this many rows is kept on one page (class "short":
# the template's print CSS); a longer one may break between its rows
SHORT_ROWS = 12


def short(rows: Any) -> str:
    """' short' (the class) for a table of at most SHORT_ROWS rows."""
    return " short" if len(list(rows)) <= SHORT_ROWS else ""


def _env(templates: Path) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(utc=fmt.utc, dur=fmt.dur, c=fmt.degc, pct=fmt.pct, short=short)
    return env


def document(rep: Report, plots: dict[str, Path], templates: Path | None = None) -> str:
    """The report as one self-contained HTML document, plots inlined."""
    inline = {k: base64.b64encode(p.read_bytes()).decode() for k, p in plots.items()}
    template = _env(templates or TEMPLATES).get_template(TEMPLATE)
    return template.render(r=rep, plots=plots, inline=inline,
                           caption=lambda key: caption(key, rep))


def render_html(rep: Report, path: Path, templates: Path | None = None) -> Path:
    """Write the report as one self-contained HTML file (plots inlined) and
    the plots as PNG files beside it."""
    path.write_text(document(rep, plots_for(rep, path), templates), encoding="utf-8")
    return path


def render_pdf(rep: Report, path: Path, templates: Path | None = None) -> Path:
    """Write the same document as an A4 PDF (WeasyPrint, on the system's
    Pango and fonts), and the plots as PNG files beside it."""
    import logging
    import warnings

    with warnings.catch_warnings():
        # about the system's HarfBuzz (fontTools subsets the fonts instead)
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML

    # WeasyPrint logs the CSS it ignores (screen-only rules); the library
    # prints nothing, so only its errors get through
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    html = document(rep, plots_for(rep, path), templates)
    with _fixed_font_dates():
        HTML(string=html, base_url=str(path.parent)).write_pdf(path)
    return path


@contextlib.contextmanager
def _fixed_font_dates() -> Iterator[None]:
    """WeasyPrint subsets the fonts with fontTools, which stamps each
    subset's 'head' table with the time it was made unless
    SOURCE_DATE_EPOCH says otherwise: so two renderings of one report would
    differ in their font bytes. A fixed stamp (2000-01-01) while the PDF is
    written; the caller's own SOURCE_DATE_EPOCH is put back after."""
    was = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(FONT_EPOCH)
    try:
        yield
    finally:
        if was is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = was
