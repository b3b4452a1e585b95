"""How the report and its narration write a figure: a moment in UTC, a
duration, a temperature, a share of time. One place, so a figure reads the
same in the summary, the tables, the event rows and the plots' titles.

Times are UTC, always labelled with Z; a record whose boot never had its
clock set is placed by boot and uptime instead, never by a guessed UTC.
"""

from __future__ import annotations

import math
import time


def utc(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(seconds))


def when(utc_s: float, boot: int, uptime: float) -> str:
    """UTC, or the boot and uptime when that boot's clock was never set."""
    if math.isnan(utc_s):
        return f"boot {boot} +{dur(uptime)} (no UTC)"
    return utc(utc_s)


def dur(seconds: float | None) -> str:
    """A duration as a reviewer reads it: seconds up to two minutes, then
    minutes, hours, days; rounded to the second. The seconds are kept
    whenever there are any, at every size: the report puts a phase's
    duration beside its time in band, out of band and unknown, and the
    reviewer adds them up ("8 h 00 min" against "7 h 59 min" in band and
    "10 s" unknown does not add up; "7 h 59 min 50 s" does)."""
    if seconds is None or math.isnan(seconds):
        return "unknown"
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    m, sec = divmod(s, 60)
    tail = f" {sec} s" if sec else ""
    if m < 120:
        return f"{m} min{tail}"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m:02d} min{tail}"
    d, h = divmod(h, 24)
    return f"{d} d {h} h {m:02d} min{tail}"


def degc(v: float | None, digits: int = 2) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def pct(v: float) -> str:
    """A share in percent; never rounds a shortfall up to 100, nor a
    share that is there down to 0 (20 s unknown in ten days is "<0.01",
    not "0.00" beside "20 s")."""
    if math.isnan(v):
        return "-"
    if 99.995 <= v < 100:
        return ">99.99"
    if 0 < v < 0.005:
        return "<0.01"
    return f"{v:.2f}"
