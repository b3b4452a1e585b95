"""The QA report on a pulled log: what a reviewer signs off.

  rep = report.build(data, verdict, profile, manifest)   # contents, no files
  report.render_html(rep, Path("report.html"))           # + the plots as PNG beside it
  report.render_pdf(rep, Path("report.pdf"))             # the same document as PDF

Three parts, each of one concern: the figures are podctl.analysis's (one
numpy pass over the decode), the events are podctl.narration's rows, and
contents.py puts them together with podctl.verify's verdict in words;
render.py turns that into one HTML document, written as it is or paged to
PDF, and plots.py draws the figures. Integrity is decided by podctl.verify
alone: the report words its findings and never judges integrity itself.
"""

from __future__ import annotations

from podctl.report.contents import Check, Report, build, integrity_checks
from podctl.report.plots import make_plots
from podctl.report.render import document, render_html, render_pdf
from podctl.verdict import (
    FAILED,
    HEAD_NOT_ATTESTED,
    NOT_ATTESTED,
    NOT_AUTHENTICATED,
    VERIFIED,
)

__all__ = [
    "FAILED", "HEAD_NOT_ATTESTED", "NOT_ATTESTED", "NOT_AUTHENTICATED", "VERIFIED", "Check",
    "Report", "build", "document", "integrity_checks", "make_plots", "render_html", "render_pdf",
]
