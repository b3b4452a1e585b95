"""The log's events in words: each a row a reviewer reads (when, in which
phase, what happened, the detail that matters), grouped by category.

  rows = narration.narrate(data, bands, own_ident, profile=profile)
  [r for r in rows if r.category == "alarm"]

A probe exclusion says what the reading was compared with and by how much
(issue 17, finding 3): the PROBE_REFERENCE that follows a rate or disagree
PROBE_FAULT is read into the fault's row, never a row of its own, and with
the profile given the row names its limit ("read 6.01 degC, 1.51 K from the
trusted median 4.50 degC of probes 0, 3 and probe 2 itself (limit 1.5 K)":
the readings of the tick that excluded it, which the records, a minute
apart in orbit, need not show). An ACTUATOR_FAULT
says which output was driven how hard, for how long, with what effect, its
duty read from the records of the window the firmware judged; alarm hold
names the phase's maximum hold time.

Readings in events are the firmware's integers (milli-degC, mV, per mille,
stored as unsigned 32-bit): they are turned back into signed values in their
units here, so no row shows 4294927296 for -40 degC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from podctl import __version__, events, fmt
from podctl.analysis import Band, ProbeLimits, phase_of_events, probe_limits
from podctl.logdata import Event, LogData
from protocol import catalogue, codes, log, names
from protocol import profile as pf

# event categories, in the order the report lists them
CATEGORIES = (
    ("alarm", "Alarms"),
    ("probe", "Probe faults"),
    ("actuator", "Actuator faults"),
    ("reset", "Resets"),
    ("clock", "Clock settings"),
    ("mode", "Controller mode changes"),
    ("storage", "Storage"),
    ("command", "Commands refused"),
    ("profile", "Profile and key changes"),
)

# alarms whose ALARM_RAISED value is the payload estimate (firmware/alarms.py)
_TEMP_ALARMS = (codes.ALARM_HIGH, codes.ALARM_LOW, codes.ALARM_CUMULATIVE,
                codes.ALARM_ABS_HIGH, codes.ALARM_ABS_LOW)


@dataclass(frozen=True)
class EventRow:
    category: str  # one of CATEGORIES' keys
    utc: float  # NaN when the boot's clock is unknown
    when: str
    boot: int
    t: int  # uptime, s
    phase: str  # "2 orbit", "-" before the first phase
    what: str
    detail: str
    code: int  # the event code (protocol.log.EV_*)
    a: int  # its first argument (the alarm, the probe, ...)


def signed(v: int) -> int:
    """An event's 32-bit value as the signed reading it holds."""
    return v - (1 << 32) if v & 0x80000000 else v


def version(v: int) -> str:
    return f"{v >> 16 & 0xFF}.{v >> 8 & 0xFF}.{v & 0xFF}"


def _alarm(e: Event, bands: Sequence[Band]) -> tuple[str, str]:
    name = names.name(names.ALARMS, e.a)
    if e.code == log.EV_ALARM_CLEARED:
        return f"{name} cleared", ""
    v = signed(e.value)
    if e.a in _TEMP_ALARMS:
        detail = f"estimate {v / 1000:.2f} degC"
    elif e.a == codes.ALARM_BATTERY_LOW:
        detail = f"battery {v / 1000:.3f} V"
    elif e.a == codes.ALARM_SHOCK:
        detail = f"shock {v / 1000:.1f} g"
    elif e.a == codes.ALARM_LID:
        detail = f"lid open past its {v} s threshold"  # the event holds the threshold
    elif e.a == codes.ALARM_PROBES:
        detail = f"{v} good probe(s)"
    elif e.a == codes.ALARM_STORAGE:
        detail = f"log store {v} bytes"
    elif e.a == names.ALARM_ACTUATOR:
        detail = f"{' and '.join(events.outputs(v))} without effect"
    elif e.a == names.ALARM_HOLD:
        hold = bands[e.b].max_hold_s if e.b < len(bands) else 0
        limit = f" (maximum hold {fmt.dur(hold)})" if hold else ""
        detail = f"raised after {fmt.dur(v)} in the phase{limit}"  # when raised, not how long
    else:
        detail = f"value {v}"
    return f"{name} raised", detail


def exclusion(fault: Event, ref: Event | None, limits: ProbeLimits | None = None) -> str:
    """Why a PROBE_FAULT excluded its probe, in words: the reading, what it
    was compared with (its PROBE_REFERENCE, ref) and by how much, and the
    profile's limit when limits are given."""
    kind = fault.b
    if fault.value == (log.NO_READING_MDEG & 0xFFFFFFFF):
        return "no reading (open or short circuit)"
    v = signed(fault.value) / 1000
    read = f"read {v:.2f} degC"
    lim = limits
    if kind == codes.FAULT_RANGE:
        return read + (f", outside the plausible range {lim.probe_min:g}..{lim.probe_max:g} degC"
                       if lim else ", outside the profile's plausible range")
    if kind == codes.FAULT_STUCK:
        return read + (f", the same value for {fmt.dur(lim.stuck_s)}" if lim
                       else ", the same value too long")
    if ref is None or ref.b >> 8 != kind:
        if kind in (codes.FAULT_RATE, codes.FAULT_DISAGREE):
            return read + " (what it was compared with is not in the log)"
        return read
    r = signed(ref.value) / 1000
    off = abs(v - r)
    if kind == codes.FAULT_RATE:
        secs = ref.b & 0xFF  # 255: that long or longer
        rate = [f"{off / secs:.2f} K/s"] if secs else []
        rate += [f"limit {lim.rate_max:g} K/s"] if lim else []
        return (f"{read}, {off:.2f} K from its previous reading {r:.2f} degC {secs} s before"
                + (f" ({', '.join(rate)})" if rate else ""))
    low = ref.b & 0xFF
    of = median_of(fault.a, low)
    if low & events.REF_TRUSTED:
        median = f"the trusted median {r:.2f} degC of {of}"
    else:
        median = f"the median {r:.2f} degC of {of} (no trusted probe among them)"
    return f"{read}, {off:.2f} K from {median}" + (f" (limit {lim.disagree:g} K)" if lim else "")


def median_of(probe: int, low: int) -> str:
    """The probes a disagree median was taken over (a PROBE_REFERENCE's b
    bits 0-7), the judged probe named apart: a trusted probe is judged
    against the median of the trusted ones, itself among them (SPEC 9.3:
    of three, a majority vote), and a reviewer must not take its own
    reading for another probe's ("probes 0, 3 and probe 2 itself")."""
    of = events.probes_of(low & events.REF_PROBES)
    others = [p for p in of if p != probe]
    words = ("probe " if len(others) == 1 else "probes ") + ", ".join(map(str, others))
    if probe not in of:
        return words
    return f"{words} and probe {probe} itself" if others else f"probe {probe} itself"


def references(evs: Sequence[Event]) -> dict[int, Event]:
    """Each PROBE_FAULT's PROBE_REFERENCE, by the fault's index in evs: the
    reference follows its fault (same boot, uptime and probe)."""
    out: dict[int, Event] = {}
    last: dict[tuple[int, int, int], int] = {}
    for i, e in enumerate(evs):
        if e.code == log.EV_PROBE_FAULT:
            last[(e.boot, e.t, e.a)] = i
        elif e.code == log.EV_PROBE_REFERENCE:
            k = last.pop((e.boot, e.t, e.a), None)
            if k is not None:
                out[k] = e
    return out


def _probe(e: Event, ref: Event | None, limits: ProbeLimits | None) -> tuple[str, str]:
    if e.code == log.EV_PROBE_RECOVERED:
        return f"probe {e.a} recovered", "trusted again"
    if e.code == log.EV_PROBE_REFERENCE:  # one whose fault is not in the log
        r = events.read(e.code, e.a, e.b, e.value)
        return f"probe {e.a} compared", f"{r.detail}: {r.value:.2f} degC"
    kind = names.name(names.FAULTS, e.b)
    return f"probe {e.a} fault: {kind}", exclusion(e, ref, limits) + "; excluded from the estimate"


def actuator(data: LogData, e: Event) -> str:
    """An ACTUATOR_FAULT in words: "heater: driven at 100 % for 30 min with
    no effect (actuator fault)". The duty is the mean over the records of
    the window the firmware judged (b seconds to the event); without one,
    the watch's own threshold."""
    s = data.samples
    mine = (s["boot"] == e.boot) & (s["t"] <= e.t) & (s["t"] >= e.t - e.b) if len(s) else []
    parts = []
    for bit, name in log.ACTUATORS:
        if not e.a & bit:
            continue
        duty = math.nan
        if len(s) and np.any(mine):
            col = s["heater"][mine] if bit == 1 else s["peltier"][mine]
            col = -col if bit == 2 else col  # the Peltier heats below 0 %
            duty = float(np.nanmean(col)) if (~np.isnan(col)).any() else math.nan
        at = "at 4/5 of its maximum or more" if math.isnan(duty) else f"at {duty:.0f} %"
        parts.append((name.replace("_", " "), at))
    who = " and ".join(n for n, _ in parts) or f"outputs {e.a}"
    ats = sorted({a for _, a in parts})
    return (f"{who}: driven {' and '.join(ats)} for {fmt.dur(e.b)} with no effect "
            "(actuator fault)")


def _actuator(data: LogData, e: Event) -> tuple[str, str]:
    moved = signed(e.value) / 1000
    return actuator(data, e), (f"the payload moved {moved:+.2f} K in that time (the firmware "
                               "looks for 0.1 K its way)")


def _storage(e: Event) -> tuple[str, str]:
    if e.code == log.EV_LOG_ERASED:
        return "log erased", f"{e.value} bytes erased"
    if e.a == 0:
        return "storage full", f"policy stop: recording stopped at {e.value} bytes"
    if e.a == 1:
        return ("oldest blocks dropped",
                f"policy overwrite: blocks {e.value}..{e.value + e.b - 1} removed to make room")
    return ("records dropped", f"policy overwrite: {e.value} sample records removed so far "
            "(since the log began or was last erased)")


def _command(e: Event) -> tuple[str, str]:
    m = catalogue.message(e.a)
    if e.code == log.EV_REFUSALS:  # counted in the hour after a logged refusal (SPEC 4.6)
        return (f"{e.value} more refusals on the link",
                f"unsigned or stale frames in the hour before; the last "
                f"{m[1] if m else f'message type {e.a}'}: {catalogue.error_name(e.b)}")
    return (f"{m[1] if m else f'message type {e.a}'} refused",
            f"{catalogue.error_name(e.b)} (counter {e.value})")


def _profile(e: Event, own_ident: int) -> tuple[str, str]:
    if e.code == log.EV_PROFILE_ACCEPTED:
        other = "" if e.value == own_ident else " (not the profile this report judges against)"
        return "profile accepted", f"identity {e.value:08x}{other}"
    if e.code == log.EV_PROFILE_REFUSED:
        reason = next((r[1] for r in pf.REFUSALS if r[0] == e.a), str(e.a))
        try:
            where = pf.where(e.a, e.b)
        except IndexError:  # a field this podctl's profile layout does not have (newer firmware)
            where = f"field {e.b} (unknown to podctl {__version__})"
        at = f" at {where}" if where else ""
        return "profile refused", f"{reason}{at}, identity {e.value:08x}"
    return "key rotated", f"counter {e.value}"


def narrate(data: LogData, bands: Sequence[Band], own_ident: int, *,
            profile: pf.Profile | None = None) -> list[EventRow]:
    """The events a reviewer reads, in log order; PHASE events are the
    per-phase table's, not rows here, and a PROBE_REFERENCE is read into
    its fault's row. own_ident: the identity of the profile the report
    judges against, to flag an upload of another; profile: that profile,
    for the limits a probe exclusion is judged by (None: not named)."""
    limits = probe_limits(profile) if profile is not None else None
    refs = references(data.events)
    merged = {id(r) for r in refs.values()}

    def phase_name(i: int) -> str:
        if i < 0:
            return "-"
        return f"{i} {bands[i].name}" if i < len(bands) else str(i)

    phases = phase_of_events(data).tolist()
    rows: list[EventRow] = []
    first_offset: dict[int, int] = {}  # boot -> its first clock offset (UTC - uptime)
    for k, (e, ph) in enumerate(zip(data.events, phases)):
        phase = phase_name(ph)
        if id(e) in merged:
            continue
        if e.code in (log.EV_ALARM_RAISED, log.EV_ALARM_CLEARED):
            cat = "alarm"
            what, detail = _alarm(e, bands)
            phase = phase_name(e.b)  # the phase the alarm judged, as the firmware recorded it
        elif e.code in (log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED, log.EV_PROBE_REFERENCE):
            cat = "probe"
            what, detail = _probe(e, refs.get(k), limits)
        elif e.code == log.EV_ACTUATOR_FAULT:
            cat = "actuator"
            what, detail = _actuator(data, e)
        elif e.code == log.EV_BOOT:
            cat = "reset"
            what = f"boot {e.b}: {events.reset_name(e.a)}"
            detail = f"firmware {version(e.value)}"
            if events.boot_simulated(e.a):
                detail += "; simulated board (no real hardware): not a flight's record"
        elif e.code == log.EV_TIME_SET:
            cat = "clock"
            what = "clock set"
            offset = e.value - e.t
            detail = f"UTC {fmt.utc(e.value)} at uptime {e.t} s"
            if e.boot in first_offset and first_offset[e.boot] != offset:
                detail += f"; corrects the clock by {offset - first_offset[e.boot]:+.0f} s"
            first_offset.setdefault(e.boot, offset)
        elif e.code == log.EV_MODE:
            cat = "mode"
            what = f"mode {names.name(names.MODES, e.a)}"
            detail = f"from {names.name(names.MODES, e.b)}"
            if e.a in codes.SAFE_MODES:
                detail += "; safe mode"
        elif e.code in (log.EV_STORAGE_FULL, log.EV_LOG_ERASED):
            cat = "storage"
            what, detail = _storage(e)
        elif e.code in (log.EV_COMMAND_REFUSED, log.EV_REFUSALS):
            cat = "command"
            what, detail = _command(e)
        elif e.code in (log.EV_PROFILE_ACCEPTED, log.EV_PROFILE_REFUSED, log.EV_KEY_ROTATED):
            cat = "profile"
            what, detail = _profile(e, own_ident)
        else:
            continue
        rows.append(EventRow(cat, e.utc, fmt.when(e.utc, e.boot, e.t), e.boot, e.t, phase, what,
                             detail, e.code, e.a))
    return rows


def alarms_raised(rows: Sequence[EventRow]) -> list[EventRow]:
    return [r for r in rows if r.category == "alarm" and r.code == log.EV_ALARM_RAISED]
