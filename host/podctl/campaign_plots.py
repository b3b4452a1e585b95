"""A campaign's plots (matplotlib, Agg: no display needed), as PNG files:

  margin.png       the band margin of every run (< 0: the payload left its band)
  sensitivity.png  each parameter's rank correlation with failure and margin
  drivers.png      band margin against the two most influential parameters,
                   failed runs marked
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(out: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> list[Path]:
    """Write the plots into out/; returns their paths (none without a
    flown run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flown = [r for r in rows if r["error"] is None]
    if not flown:
        return []
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    title = f"{summary['scenario']}: {len(flown)} runs, dispersion {summary['dispersion']}"

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist([r["band_margin_c"] for r in flown], bins=min(40, max(5, len(flown) // 5)))
    ax.axvline(0.0, color="red", lw=1)
    ax.set_xlabel("band margin, degC (closest approach to a band edge; < 0 outside)")
    ax.set_ylabel("runs")
    ax.set_title(title)
    paths.append(_save(fig, out / "margin.png"))

    sens = summary["sensitivity"]
    if sens:
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(sens) + 1.5))
        names = [s["param"] for s in sens][::-1]
        ax.barh(names, [s["rho_margin"] or 0.0 for s in sens][::-1], label="with margin")
        ax.barh(names, [s["rho_failure"] or 0.0 for s in sens][::-1], height=0.4,
                label="with failure")
        ax.axvline(0.0, color="black", lw=0.5)
        ax.set_xlabel("Spearman rank correlation")
        ax.legend(loc="lower right", fontsize="small")
        ax.set_title(title)
        fig.tight_layout()
        paths.append(_save(fig, out / "sensitivity.png"))

        top = [s["param"] for s in sens[:2]]
        fig, axes = plt.subplots(1, len(top), figsize=(5 * len(top), 4), squeeze=False)
        for ax, p in zip(axes[0], top):
            for ok, colour in ((True, "tab:blue"), (False, "tab:red")):
                pts = [(r[p], r["band_margin_c"]) for r in flown if bool(r["passed"]) == ok]
                if pts:
                    xs, ys = zip(*pts)
                    ax.scatter(xs, ys, s=8, color=colour, label="passed" if ok else "failed")
            ax.set_xlabel(p)
            ax.set_ylabel("band margin, degC")
            ax.legend(fontsize="small")
        fig.suptitle(title)
        fig.tight_layout()
        paths.append(_save(fig, out / "drivers.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
