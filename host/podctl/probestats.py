"""Every probe's own figures, excluded readings included: what each probe
read in each phase, beside the payload estimate the firmware judged.

  rows = probestats.probe_stats(data, a)     # a: analysis.analyse(data, profile)
  [r for r in rows if r.probe == 2 and r.phase == 2][0].t_max   # orbit, probe 2
  [r for r in rows if r.probe == ESTIMATE and r.phase == WHOLE]

The estimate's figures (analysis.PhaseStats) judge the controller, its
valid readings only (Analysis.valid); a QA
reviewer also wants to see a probe the firmware stopped trusting (drifting,
stuck, disagreeing): where it read, how long above or below the band and
beyond the absolute limits, and for how long it was excluded. A reading of
an excluded probe counts here in that probe's figures (it is what the probe
read) and never in the estimate's.

Each record stands for the time analysis gives it (Analysis.dt); per probe
and phase, in_band_s + above_s + below_s + no_reading_s is the time the
phase's records stand for (the phase's duration less its gap_s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from podctl.analysis import NPROBES, Analysis, When
from podctl.logdata import LogData

ESTIMATE = -1  # ProbeStats.probe of the payload estimate
WHOLE = -1  # ProbeStats.phase of the whole mission


@dataclass(frozen=True)
class ProbeStats:
    probe: int  # 0..3, or ESTIMATE
    phase: int  # the profile's phase index, or WHOLE
    readings: int  # records with a reading of this probe (excluded ones too)
    t_min: float  # degC, NaN: no reading
    t_max: float
    t_min_at: When | None  # the first record at the minimum
    t_max_at: When | None
    in_band_s: float  # readings inside the phase's band (limits included)
    above_s: float
    below_s: float
    abs_high_s: float  # beyond the absolute limits (part of above_s / below_s)
    abs_low_s: float
    no_reading_s: float  # records without a reading of this probe
    excluded_s: float  # readings the firmware had excluded (counted above: they are the probe's)
    # out of band while the firmware trusted it and the estimate was not out
    # of band (the time the estimate's mean averaged away): above and below
    # the band, the reading furthest beyond it (NaN: none), the first record
    trusted_above_s: float = 0.0
    trusted_below_s: float = 0.0
    trusted_peak: float = math.nan
    trusted_out_at: When | None = None

    @property
    def recorded_s(self) -> float:
        """The time the records stand for: in band + above + below + no reading."""
        return self.in_band_s + self.above_s + self.below_s + self.no_reading_s


def _raw(data: LogData) -> np.ndarray:
    s = data.samples
    if not len(s):
        return np.zeros((0, NPROBES))
    return np.column_stack([s[f"probe{i}"] for i in range(NPROBES)]).astype(float)


def _one(probe: int, phase: int, vals: np.ndarray, trusted: np.ndarray, sel: np.ndarray,
         a: Analysis, lims: tuple[np.ndarray, ...], hidden: np.ndarray) -> ProbeStats:
    lo, hi, alo, ahi = (x[sel] for x in lims)
    of = a.spans["of"]  # each span's record: what a reading stands for, phase by phase
    v, w = vals[of][sel], a.spans["dt"][sel]
    have = ~np.isnan(v)
    vh, wh = v[have], w[have]
    with np.errstate(invalid="ignore"):
        up, down = vh > hi[have], vh < lo[have]
        aup, adown = vh > ahi[have], vh < alo[have]
    idx = of[np.flatnonzero(sel)[have]]

    def at(j: int) -> When:
        r = int(idx[j])
        return When(int(a.boot[r]), float(a.t[r]), float(a.utc[r]))

    found = bool(have.any())
    # the same readings while trusted (the estimate's own are all "trusted")
    ok = ~np.isnan(trusted[of][sel][have])
    tup, tdown = up & ok & hidden[sel][have], down & ok & hidden[sel][have]
    beyond = np.where(tup, vh - hi[have], np.where(tdown, lo[have] - vh, -np.inf))
    far = int(np.argmax(beyond)) if (tup | tdown).any() else -1
    return ProbeStats(
        probe=probe, phase=phase, readings=len(np.unique(idx)),  # records: a span is part of one
        t_min=float(vh.min()) if found else math.nan,
        t_max=float(vh.max()) if found else math.nan,
        t_min_at=at(int(np.argmin(vh))) if found else None,
        t_max_at=at(int(np.argmax(vh))) if found else None,
        in_band_s=float(wh[~up & ~down].sum()), above_s=float(wh[up].sum()),
        below_s=float(wh[down].sum()), abs_high_s=float(wh[aup].sum()),
        abs_low_s=float(wh[adown].sum()), no_reading_s=float(w[~have].sum()),
        excluded_s=float(wh[~ok].sum()),
        trusted_above_s=float(wh[tup].sum()), trusted_below_s=float(wh[tdown].sum()),
        trusted_peak=float(vh[far]) if far >= 0 else math.nan,
        trusted_out_at=at(int(np.flatnonzero(tup | tdown)[0])) if far >= 0 else None,
    )


def probe_stats(data: LogData, a: Analysis) -> list[ProbeStats]:
    """Per phase of the profile (in order) and then for the whole mission
    (WHOLE): each probe 0..3, then the estimate (ESTIMATE). Records in no
    phase of the profile are not judged, as in the analysis."""
    raw = _raw(data)
    nb = len(a.bands)
    ph, of = a.spans["phase"], a.spans["of"]
    judged = (ph >= 0) & (ph < nb)
    table = {k: np.array([getattr(b, k) for b in a.bands] + [math.nan])
             for k in ("low", "high", "abs_low", "abs_high")}
    at = np.where(judged, ph, nb)
    lims = tuple(table[k][at] for k in ("low", "high", "abs_low", "abs_high"))
    # the estimate as the analysis counts it: a record with fewer trusted
    # probes than the profile's min_probes has no valid reading
    judged_est = np.where(a.valid, a.estimate, np.nan)
    # records whose estimate was not out of band: a trusted probe out there
    # is on no excursion (the estimate's own rows have none by construction)
    with np.errstate(invalid="ignore"):
        hidden = ~((judged_est[of] > lims[1]) | (judged_est[of] < lims[0]))
    out = []
    for phase in [*range(nb), WHOLE]:
        sel = judged & ((ph == phase) if phase != WHOLE else True)
        for p in range(NPROBES):
            out.append(_one(p, phase, raw[:, p], a.probes[:, p], sel, a, lims, hidden))
        out.append(_one(ESTIMATE, phase, judged_est, judged_est, sel, a, lims, hidden))
    return out
