"""The container's state at the end of a pulled log, and the history of its
current phase: what a forecast starts from and identifies its parameters on.

    start, hist = read(pulled_data, profile)

Everything comes from the decoded log and the profile (podctl.analysis):
the payload estimate (the trusted probes' mean), the air probe, the outputs,
the battery voltage, the phase from the PHASE events and how long it has
run (by UTC, else by uptime within one boot), the alarms latched (RAISED
and not CLEARED) and the out-of-band time against the cumulative allowance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from podctl import analysis
from podctl.errors import BadInput
from podctl.logdata import LogData
from protocol import log
from protocol import profile as pf

AIR_PROBE = 3  # the reference container's probe on the interior air (docs/reference-container.md)


@dataclass(frozen=True)
class Start:
    """The container at the log's last record."""

    payload_c: float
    air_c: float
    battery_v: float
    heater_pct: float
    peltier_pct: float
    phase: int
    phase_name: str
    phase_s: int  # seconds the phase has run
    mission_s: int
    out_s: int  # out of band so far (the firmware's cumulative count)
    allowance_s: int  # the profile's cumulative allowance
    alarms: int  # latched alarm bits
    alarm_names: tuple[str, ...]
    out_of_band: bool  # the last valid reading is outside the phase's band
    band: tuple[float, float]
    battery_low_v: float  # the profile's battery alarm threshold

    def for_sim(self, soc: float) -> dict:
        """sim.forecast_start's start."""
        return {
            "payload_c": self.payload_c, "air_c": self.air_c, "soc": soc,
            "phase": self.phase, "phase_s": self.phase_s, "mission_s": self.mission_s,
            "out_s": self.out_s, "alarms": self.alarms,
        }


@dataclass(frozen=True)
class History:
    """The current phase's valid records, time in hours before the end (<= 0)."""

    t_h: np.ndarray
    payload_c: np.ndarray
    air_c: np.ndarray
    heater_pct: np.ndarray
    peltier_pct: np.ndarray
    battery_v: np.ndarray
    # every valid record of the log, whatever its phase (the same fields; its
    # own `whole` None): a flat-curved pack's charge is counted from a point
    # where its voltage says something, which may lie phases back
    whole: History | None = None

    @property
    def hours(self) -> float:
        return float(-self.t_h[0]) if len(self.t_h) else 0.0


def read(data: LogData, profile: pf.Profile, where: str = "log") -> tuple[Start, History]:
    """BadInput (one line) when the log cannot start a forecast."""
    s = data.samples
    if not len(s):
        raise BadInput(f"{where}: the log has no records: nothing to start a forecast from")
    an = analysis.analyse(data, profile)
    ok = np.flatnonzero(an.valid & (an.phase >= 0) & ~np.isnan(an.battery))
    if not len(ok):
        raise BadInput(f"{where}: no record with a valid temperature, phase and battery reading")
    i = int(ok[-1])
    phase = int(an.phase[i])
    if phase >= len(an.bands):
        raise BadInput(f"{where}: the log is in phase {phase}, which the profile does not have")
    band = an.bands[phase]
    phase_s = _phase_seconds(data, an, i, phase)
    air = float(s[f"probe{AIR_PROBE}"][i])
    latched, names_ = _latched(data)
    est = float(an.estimate[i])
    start = Start(
        payload_c=est,
        air_c=est if math.isnan(air) else air,
        battery_v=float(an.battery[i]),
        heater_pct=float(s["heater"][i]),
        peltier_pct=float(s["peltier"][i]),
        phase=phase,
        phase_name=band.name,
        phase_s=phase_s,
        mission_s=int(an.recorded_s),
        out_s=int(an.allowance_used_s),
        allowance_s=int(an.allowance_s),
        alarms=latched,
        alarm_names=names_,
        out_of_band=not (band.low <= est <= band.high),
        band=(band.low, band.high),
        battery_low_v=profile.header[pf.H_BATTERY_LOW] / 1000.0,
    )
    # the history: the current phase's run that ends at the last record
    sel = ok[an.phase[ok] == phase]
    same = sel[_since_phase_start(an, sel, i)]
    whole = _history(s, an, ok, i, None)
    return start, _history(s, an, same, i, whole)


def _history(s: np.ndarray, an: analysis.Analysis, rows: np.ndarray, i: int,
             whole: History | None) -> History:
    """Records `rows`, timed in hours before record i (by UTC when it has
    one, else by uptime)."""
    end_utc = float(an.utc[i])
    t_end = end_utc if not math.isnan(end_utc) else float(an.t[i])
    t = an.utc[rows] if not math.isnan(end_utc) else an.t[rows].astype(float)
    return History(
        t_h=(t - t_end) / 3600.0,
        payload_c=an.estimate[rows],
        air_c=np.where(np.isnan(s[f"probe{AIR_PROBE}"][rows]), an.estimate[rows],
                       s[f"probe{AIR_PROBE}"][rows]),
        heater_pct=s["heater"][rows].astype(float),
        peltier_pct=s["peltier"][rows].astype(float),
        battery_v=an.battery[rows],
        whole=whole,
    )


def _since_phase_start(an: analysis.Analysis, sel: np.ndarray, i: int) -> np.ndarray:
    """Which of sel (records of the current phase) belong to its last run: a
    record of another phase between them ends the run."""
    other = np.flatnonzero(an.phase[: i + 1] != an.phase[i])
    if not len(other):
        return np.ones(len(sel), dtype=bool)
    return sel > other[-1]


def _phase_seconds(data: LogData, an: analysis.Analysis, i: int, phase: int) -> int:
    """How long the phase had run at record i: from the first PHASE event
    entering it by the timeline or a command (a resume at boot repeats the
    phase, it does not start it), by UTC when both ends have one, else by
    uptime in one boot."""
    ev = [e for e in data.events if e.code == log.EV_PHASE]
    entered = None
    for e in ev:
        if e.a != phase:
            entered = None
        elif entered is None:
            entered = e
    if entered is None:
        return 0
    if not math.isnan(entered.utc) and not math.isnan(an.utc[i]):
        return max(0, int(an.utc[i] - entered.utc))
    if entered.boot == int(an.boot[i]):
        return max(0, int(an.t[i]) - entered.t)
    return 0


def _latched(data: LogData) -> tuple[int, tuple[str, ...]]:
    from protocol import names

    bits = 0
    for e in data.events:
        if e.code == log.EV_ALARM_RAISED:
            bits |= 1 << e.a
        elif e.code == log.EV_ALARM_CLEARED:
            bits &= ~(1 << e.a)
    return bits, tuple(n for k, n in names.ALARMS if bits >> k & 1)
