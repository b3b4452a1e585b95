"""What the actuators did around an ACTUATOR_FAULT, read from the records
(issue 17, H10 10): when the heater's failure began to show, and what held
the band after it.

  actuation.onset(data, a, fault)        # "heater duty rising ... from about <UTC>"
  actuation.after_fault(data, a, fault)  # "the Peltier heated from <UTC>; ..."

The firmware judges an output over a window (the fault's b seconds) and
raises the fault at its end; the records before the window show the duty
already climbing while the estimate fell. After the fault the firmware
reverses the Peltier to heat (negative duty) while still commanding the
dead heater: the records say so, nothing is written in.
"""

from __future__ import annotations

import numpy as np

from podctl import fmt
from podctl.analysis import Analysis
from podctl.logdata import Event, LogData

HEATER = 1  # protocol.log.ACTUATORS' bit for the heater
# how far over its usual duty the heater must be to count as climbing
# (per cent points: the duty jitters by a point or two tick to tick)
CLIMB_PCT = 1.0
LOOKBACK_S = 86400  # the day before the window: the heater's usual duty


def _at(a: Analysis, k: int) -> str:
    return fmt.when(float(a.utc[k]), int(a.boot[k]), float(a.t[k]))


def _boot_rows(data: LogData, a: Analysis, e: Event) -> np.ndarray:
    s = data.samples
    if not len(s) or len(s) != len(a.t):
        return np.zeros(0, bool)
    return np.asarray(a.boot == e.boot)


def onset(data: LogData, a: Analysis, e: Event) -> str:
    """The heater's failure bounded: from the last record before the fault
    at its usual duty (the median of the day before the judged window) to
    the fault, the duty rising while the estimate fell. '' when the
    records do not show that (not the heater, no records, no climb)."""
    mine = _boot_rows(data, a, e)
    if not e.a & HEATER or not mine.any():
        return ""
    s = data.samples
    heater = s["heater"].astype(float)
    before = np.flatnonzero(mine & (a.t <= e.t))
    usual = np.flatnonzero(mine & (a.t >= e.t - e.b - LOOKBACK_S) & (a.t < e.t - e.b))
    if not len(before) or not len(usual):
        return ""
    normal = float(np.median(heater[usual]))
    k = int(before[-1])
    first = k
    while first > before[0] and heater[first - 1] > normal + CLIMB_PCT:
        first -= 1
    est = a.estimate
    if first == k or not heater[k] > normal + CLIMB_PCT or not est[k] < est[first]:
        return ""
    peak = float(heater[first:k + 1].max())
    return (f"heater duty rising from {normal:.0f} % to {peak:.0f} % while the estimate fell "
            f"{est[first]:.2f} to {est[k]:.2f} degC: ineffective from about {_at(a, first)}, "
            f"detected {fmt.when(e.utc, e.boot, e.t)}")


def after_fault(data: LogData, a: Analysis, e: Event) -> str:
    """After a heater fault: the records where the Peltier heated (negative
    duty) with the heater still commanded, from the first of them."""
    mine = _boot_rows(data, a, e)
    if not e.a & HEATER or not mine.any():
        return ""
    s = data.samples
    after = mine & (a.t >= e.t)
    heats = after & (s["peltier"] < 0)
    if not heats.any():
        return ""
    both = heats & (s["heater"] > 0)
    k = int(np.flatnonzero(heats)[0])
    return (f"the Peltier heated from {_at(a, k)} (in {int(heats.sum())} of "
            f"{int(after.sum())} records after the fault); heater commanded in "
            f"{int(both.sum())} of them, no effect")
