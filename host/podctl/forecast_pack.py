"""The battery pack a forecast reads: its chemistry, cells in series and
rated capacity, as the person forecasting declares them
(`podctl forecast --pack lifepo4 --cells 4 --capacity-wh 900`).

The pack is the container's hardware, not a flight setting: the profile's
bytes do not carry it and a pulled folder (log.bin, profile.bin) holds
nothing else, so it is declared where the forecast is asked for. Undeclared,
it is the reference container's (sim/scenarios/nominal.toml: 3S li-ion,
900 Wh). The log can refuse a declaration but cannot make one: a voltage no
such pack can show is a one-line error naming the packs that could (4 li-ion
cells and 4 LiFePO4 cells overlap at 13 V, so the log alone cannot choose).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from podctl.errors import BadInput
from sim import power
from sim.scenario import PACKS

MAX_CELLS = 8  # sim/scenario.py's power.cells_series range
# a terminal voltage this far outside the pack's open-circuit range is
# impossible for it (load and probe error stay well inside)
SLACK = 0.03


@dataclass(frozen=True)
class Pack:
    chemistry: str  # a sim.power.CURVES name
    cells: int  # in series
    capacity_wh: float | None  # rated; None: the reference container's
    declared: bool  # told by the user (else the reference's)

    def power(self, pw: dict[str, Any]) -> dict[str, Any]:
        """The model scenario's [power] with this pack in it."""
        out = dict(pw, pack=self.chemistry, cells_series=self.cells)
        if self.capacity_wh is not None:
            out["capacity_wh"] = self.capacity_wh
        return out

    def span_v(self) -> tuple[float, float]:
        """The pack's open-circuit range, empty to full, V."""
        c = power.CURVES[self.chemistry]
        return c[0] * self.cells, c[-1] * self.cells

    def flag(self) -> str:
        return f"--pack {self.chemistry} --cells {self.cells}"


def of(pack: str | None, cells: Any, capacity_wh: Any, pw: dict[str, Any]) -> Pack:
    """The declared pack over the reference [power] pw; BadInput (one line)
    for an unknown chemistry, a cell count or a capacity out of range."""
    if pack is not None and pack not in PACKS:
        raise BadInput(f"unknown pack {pack!r}: choose {' or '.join(PACKS)}")
    if cells is not None and (isinstance(cells, bool) or not isinstance(cells, int)
                              or not 1 <= cells <= MAX_CELLS):
        raise BadInput(f"cells must be a whole number from 1 to {MAX_CELLS}, got {cells!r}")
    if capacity_wh is not None and (
        isinstance(capacity_wh, bool) or not isinstance(capacity_wh, (int, float))
        or not math.isfinite(capacity_wh) or not 0 < capacity_wh <= 100_000
    ):
        raise BadInput(f"capacity must be 0 to 100000 Wh, got {capacity_wh!r}")
    declared = pack is not None or cells is not None or capacity_wh is not None
    return Pack(pack or pw.get("pack", "li-ion"),
                int(cells if cells is not None else pw.get("cells_series", 3)),
                None if capacity_wh is None else float(capacity_wh), declared)


def check_log(pack: Pack, volts: np.ndarray, where: str) -> None:
    """BadInput when the log's battery voltages are impossible for the pack:
    above its full open-circuit voltage, or below its empty one while the
    board still ran. The message names the packs the voltages fit."""
    v = volts[np.isfinite(volts) & (volts > 0)]
    if not len(v):
        return
    lo, hi = float(v.min()), float(v.max())
    empty, full = pack.span_v()
    if hi <= full * (1 + SLACK) and lo >= empty * (1 - SLACK):
        return
    fits = [f"--pack {c} --cells {n}" for c in PACKS for n in range(1, MAX_CELLS + 1)
            if hi <= power.CURVES[c][-1] * n * (1 + SLACK)
            and lo >= power.CURVES[c][0] * n * (1 - SLACK)]
    said = "declared" if pack.declared else "the reference container's, undeclared"
    raise BadInput(
        f"{where}: the battery reads {lo:.2f} to {hi:.2f} V, impossible for "
        f"{pack.cells} {pack.chemistry} cells ({empty:.2f} to {full:.2f} V, {said}): "
        + (f"give the container's pack ({', '.join(fits)})" if fits
           else "no pack podctl models shows that")
    )
