"""A campaign's rows summarised: how likely an excursion is, with its
interval, the worst cases, each expectation's failure rate and the seeds
that fail, and which dispersed parameters drive the failures.

    summary = summarise(rows, params, labels)      # plain data (JSON)

Intervals are two-sided 95 %: Wilson's score interval (good coverage at
small n and near 0) and Clopper-Pearson's exact one (never below nominal
coverage), both from scipy.stats.binomtest. The sensitivity ranking is
Spearman's rank correlation of each parameter with failure (0/1) and with
the band margin (the closest the payload came to a band edge, continuous
even when every run holds): ranks, because a parameter's effect on a
thermal margin is monotone but rarely linear.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

CONFIDENCE = 0.95
# worst-case percentiles: high tails of what hurts, low tails of margins
HIGH = (50, 90, 95, 99, 100)
LOW = (0, 1, 5, 10, 50)


def interval(k: int, n: int, method: str = "wilson") -> list[float] | None:
    """Two-sided 95 % interval of a proportion k/n: method "wilson" or
    "exact" (Clopper-Pearson). None when n is 0."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method=method)
    return [float(ci.low), float(ci.high)]


def rate(seeds: list[int], n: int) -> dict[str, Any]:
    """A failure count as a rate with both intervals, and who failed."""
    k = len(seeds)
    return {
        "count": k,
        "n": n,
        "rate": k / n if n else None,
        "wilson95": interval(k, n, "wilson"),
        "clopper_pearson95": interval(k, n, "exact"),
        "seeds": sorted(seeds),
    }


def percentiles(values: list[float], qs: tuple[int, ...]) -> dict[str, float] | None:
    import numpy as np

    if not values:
        return None
    a = np.asarray(values, dtype=float)
    return {f"p{q}" if q not in (0, 100) else ("min" if q == 0 else "max"):
            float(np.percentile(a, q)) for q in qs}


def _spearman(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None  # no variation: no ranking to speak of
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = spearmanr(x, y)
    rho, p = float(r.statistic), float(r.pvalue)
    if math.isnan(rho):
        return None, None
    return rho, p


def _driver(x: list[float], y: list[float]) -> tuple[float | None, float | None, str]:
    """Spearman's rho of y with x, or with x's distance from its median when
    that is the stronger: a sample loaded too warm fails and so does one
    loaded too cold, which no monotone ranking of x alone can show. The
    third value says which: "value" or "distance"."""
    import numpy as np

    r1, p1 = _spearman(x, y)
    if not x:
        return r1, p1, "value"
    mid = float(np.median(x))
    r2, p2 = _spearman([abs(v - mid) for v in x], y)
    if r2 is not None and (r1 is None or abs(r2) > abs(r1)):
        return r2, p2, "distance"
    return r1, p1, "value"


def sensitivity(rows: list[dict[str, Any]], params: list[str]) -> list[dict[str, Any]]:
    """Each parameter's rank correlation with failure and with the band
    margin, most influential first: by |rho| with failure when some runs
    fail and some pass, else by |rho| with the margin. `by_failure` and
    `by_margin` say whether rho is of the value or of its distance from
    the median (both tails drive it)."""
    flown = [r for r in rows if r["error"] is None]
    fail = [0.0 if r["passed"] else 1.0 for r in flown]
    margin = [r["band_margin_c"] for r in flown]
    out = []
    for p in params:
        x = [r[p] for r in flown]
        rf, pf, hf = _driver(x, fail)
        rm, pm, hm = _driver(x, margin)
        out.append({"param": p, "rho_failure": rf, "p_failure": pf, "by_failure": hf,
                    "rho_margin": rm, "p_margin": pm, "by_margin": hm})

    def key(e: dict[str, Any]) -> tuple[float, float]:
        return (-abs(e["rho_failure"] or 0.0), -abs(e["rho_margin"] or 0.0))

    return sorted(out, key=key)


def summarise(
    rows: list[dict[str, Any]], params: list[str], labels: list[str]
) -> dict[str, Any]:
    """The campaign's verdicts over its rows (one per finished run)."""
    flown = [r for r in rows if r["error"] is None]
    n = len(flown)
    by_seed = sorted(rows, key=lambda r: r["seed"])
    expectations = []
    for lab in labels:
        failed = [r["seed"] for r in flown if r.get(f"expect.{lab}") is False]
        expectations.append({"label": lab, **rate(failed, n)})
    return {
        "runs_flown": n,
        "errors": [{"seed": r["seed"], "error": r["error"]} for r in by_seed
                   if r["error"] is not None],
        "excursion": rate([r["seed"] for r in flown if r["excursion"]], n),
        "failed": rate([r["seed"] for r in flown if not r["passed"]], n),
        "expectations": expectations,
        "worst": {
            "worst_outside_c": percentiles([r["worst_outside_c"] for r in flown], HIGH),
            "out_of_band_s": percentiles([r["out_of_band_s"] for r in flown], HIGH),
            "band_margin_c": percentiles([r["band_margin_c"] for r in flown], LOW),
            "battery_margin_wh": percentiles([r["battery_margin_wh"] for r in flown], LOW),
        },
        "sensitivity": sensitivity(rows, params),
    }
