"""The report's "Forecast from the log's end" (issue 18): when the log ends
before recovery, how long the samples can still wait, as podctl.forecast
flies the simulator forward from the container's last state.

  why = before_recovery(data, a)               # None: the mission reached its end
  part = make(data, profile, a, Options(runs=20))   # None when why is None

"Before recovery", decided from the log's own events (nothing from the
manifest or the host): the log ends before the container was recovered
and handed over when
  - the profile's last phase was never entered (no PHASE event into it), or
  - the last phase is timed and the log ends before its planned duration
    has run, or
  - the last phase runs until a command and nothing in the log shows the
    hand-over: the lid was not opened in it (no lid ALARM_RAISED in that
    phase). The receiving crew opens the container at hand-over; a lid
    opened in orbit or on the pad does not count.

A forecast is a model, not evidence: the reference container's plant,
identified on this log's history and dispersed with the environment, flown
forward with the unchanged firmware. It changes no verdict and is not part
of the report id. Deterministic: the same log, options and seed give the
same figures (podctl.forecast is a pure function of its seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podctl import fmt
from podctl.analysis import Analysis
from podctl.errors import BadInput
from podctl.logdata import LogData
from protocol import codes, log
from protocol import profile as pf

DEFAULT_RUNS = 20  # about 35 s on two cores at a 10 s tick and 240 h
DEFAULT_HORIZON_H = 240.0
SEED = 1  # fixed: regenerating the report gives the same forecast
LABELS = (("first_excursion", "first excursion (out of band longer than the excursion delay)"),
          ("budget", "cumulative allowance spent"),
          ("battery", "battery alarm (or empty)"))


@dataclass(frozen=True)
class Options:
    """How the report's forecast is made; runs 0: none."""

    runs: int = DEFAULT_RUNS
    horizon_h: float = DEFAULT_HORIZON_H
    environment: str = "recovery"
    seed: int = SEED
    tick_s: int = 10
    workers: int | None = None
    # the container's battery (podctl.forecast_pack); None: the reference's
    pack: str | None = None
    cells: int | None = None
    capacity_wh: float | None = None


@dataclass(frozen=True)
class Part:
    why: str  # why the log ends before recovery
    options: Options
    forecast: Any = None  # podctl.forecast.Forecast; None: not made
    refused: str = ""  # why it could not be made (one line), or ""

    @property
    def made(self) -> bool:
        return self.forecast is not None

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(what, P10, P50, P90, driven most by) per quantity, hours."""
        f = self.forecast
        out = []
        for q, label in LABELS:
            h = f.hours[q]
            top = f.drivers[q][:2]
            drv = "; ".join(f"{d['param']} (rho {d['rho']:+.2f})" for d in top) or "-"
            p10, p50, p90 = (_hours(h[k], f.horizon_h) for k in ("p10", "p50", "p90"))
            out.append((label, p10, p50, p90, drv))
        return out


def _hours(v: float | None, horizon: float) -> str:
    if v is None:
        return f"more than {horizon:g} h"
    return "0 h (already)" if v == 0 else f"{v:.1f} h"


def before_recovery(data: LogData, a: Analysis) -> str | None:
    """Why the log ends before recovery, in words; None when it does not."""
    if not a.bands:
        return None
    last = a.bands[-1]
    entered = [e for e in data.events if e.code == log.EV_PHASE and e.a == last.index]
    if not entered:
        reached = max((int(p) for p in a.phase if 0 <= p < len(a.bands)), default=-1)
        at = a.bands[reached].name if reached >= 0 else "no phase"
        return (f"the log ends in {at}: the profile's last phase, {last.index} {last.name}, "
                "was never entered")
    ps = a.phases[last.index]
    if last.duration_s:
        if ps.seconds < last.duration_s:
            return (f"the log ends {fmt.dur(last.duration_s - ps.seconds)} before the last phase, "
                    f"{last.index} {last.name}, has run its planned {fmt.dur(last.duration_s)}")
        return None
    since = (entered[-1].boot, entered[-1].t)
    lid = [e for e in data.events if e.code == log.EV_ALARM_RAISED and e.a == codes.ALARM_LID
           and (e.boot, e.t) >= since]
    if lid:
        return None
    return (f"the last phase, {last.index} {last.name}, runs until a command and the log shows "
            "no hand-over in it (the lid was never opened): the container was not yet recovered")


def make(data: LogData, profile: pf.Profile, a: Analysis, opts: Options | None) -> Part | None:
    """The section when the log ends before recovery (None otherwise);
    the forecast itself only when opts asks for runs."""
    why = before_recovery(data, a)
    if why is None:
        return None
    opts = opts or Options(runs=0)
    if opts.runs <= 0:
        return Part(why, opts)
    from podctl import forecast as fc
    from podctl import forecast_state

    # the state and history from the log the report already decoded, the
    # profile given: podctl.forecast.forecast would read them from a folder
    try:
        start, hist = forecast_state.read(data, profile, "the log")
        f = fc.from_state(start, hist, profile, environment=opts.environment, runs=opts.runs,
                          horizon_h=opts.horizon_h, tick_s=opts.tick_s, seed=opts.seed,
                          workers=opts.workers, pack=opts.pack, cells=opts.cells,
                          capacity_wh=opts.capacity_wh, where="the log")
    except BadInput as e:
        return Part(why, opts, refused=str(e))
    return Part(why, opts, f)
