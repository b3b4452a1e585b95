"""The spread of the trusted probes, record by record (issue 17, H10 11).

With only two trusted probes the firmware's disagree check has no majority:
when they differ by more than the profile's limit it cannot tell which one
is wrong and keeps averaging both, so the estimate is no better than the
worse of them. Each run of such records is a Disagreement; with three or
more trusted probes the median check excludes the odd one, so nothing is
said there (nominal stays silent).

  for d in probespread.disagreements(a): d.probes, d.start, d.worst, d.words()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from podctl.analysis import Analysis, When


@dataclass(frozen=True)
class Disagreement:
    probes: tuple[int, int]  # the two trusted probes
    start: When  # the first record over the limit
    end: When  # the end of the last one
    records: int
    least: float  # K, the smallest and largest spread in the run
    worst: float
    limit: float  # K, the profile's disagree limit
    to_end: bool  # the run reaches the last record of the log

    def words(self) -> str:
        a, b = self.probes
        until = "the end of the log" if self.to_end else str(self.end)
        return (f"probes {a} and {b}, the last two trusted, disagree by up to {self.worst:.2f} K "
                f"(limit {self.limit:g} K) from {self.start} to {until}: the estimate cannot "
                "be relied on there")

    def figure(self) -> str:
        return (f"{self.least:.2f} to {self.worst:.2f} K apart in {self.records} record(s), "
                f"limit {self.limit:g} K")


def disagreements(a: Analysis) -> list[Disagreement]:
    """Runs of records (one boot, one pair) whose two trusted probes differ
    by more than the profile's disagree limit."""
    p = a.probes
    if not len(p):
        return []
    trusted = ~np.isnan(p)
    two = trusted.sum(axis=1) == 2
    with np.errstate(all="ignore"):
        spread = np.where(two, np.nanmax(np.where(trusted, p, -np.inf), axis=1)
                          - np.nanmin(np.where(trusted, p, np.inf), axis=1), 0.0)
    limit = float(a.limits.disagree)
    over = two & (spread > limit)
    out: list[Disagreement] = []
    idx = np.flatnonzero(over)
    if not len(idx):
        return out
    pair = trusted[idx] @ (1 << np.arange(p.shape[1]))
    # a new run where the records are not consecutive, the boot or the pair changes
    cut = np.flatnonzero((np.diff(idx) != 1) | (np.diff(a.boot[idx]) != 0) | (np.diff(pair) != 0))
    for run in np.split(np.arange(len(idx)), cut + 1):
        ks = idx[run]
        i, j = int(ks[0]), int(ks[-1])
        probes = tuple(int(x) for x in np.flatnonzero(trusted[i]))
        sp = spread[ks]
        out.append(Disagreement(
            (probes[0], probes[1]), When(int(a.boot[i]), float(a.t[i]), float(a.utc[i])),
            When(int(a.boot[j]), float(a.t[j] + a.dt[j]), float(a.utc[j] + a.dt[j])),
            len(ks), float(sp.min()), float(sp.max()), limit, j == len(p) - 1))
    return out
