"""The log's events in words: each a row a reviewer reads (when, in which
phase, what happened, the detail that matters), grouped by category.

  rows = narration.narrate(data, bands, own_ident)
  [r for r in rows if r.category == "alarm"]

Readings in events are the firmware's integers (milli-degC, mV, per mille,
stored as unsigned 32-bit): they are turned back into signed values in their
units here, so no row shows 4294927296 for -40 degC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podctl import __version__, events, fmt
from podctl.analysis import Band, phase_of_events
from podctl.logdata import Event, LogData
from protocol import catalogue, codes, log, names
from protocol import profile as pf

# event categories, in the order the report lists them
CATEGORIES = (
    ("alarm", "Alarms"),
    ("probe", "Probe faults"),
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


def _alarm(e: Event) -> tuple[str, str]:
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
        detail = f"lid open {v} s"
    elif e.a == codes.ALARM_PROBES:
        detail = f"{v} good probe(s)"
    elif e.a == codes.ALARM_STORAGE:
        detail = f"log store {v} bytes"
    else:
        detail = f"value {v}"
    return f"{name} raised", detail


def _probe(e: Event) -> tuple[str, str]:
    if e.code == log.EV_PROBE_RECOVERED:
        return f"probe {e.a} recovered", "trusted again"
    kind = names.name(names.FAULTS, e.b)
    if e.value == (log.NO_READING_MDEG & 0xFFFFFFFF):
        detail = "no reading"
    else:
        detail = f"read {signed(e.value) / 1000:.2f} degC"
    return f"probe {e.a} fault: {kind}", detail + "; excluded from the estimate"


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


def narrate(data: LogData, bands: Sequence[Band], own_ident: int) -> list[EventRow]:
    """The events a reviewer reads, in log order; PHASE events are the
    per-phase table's, not rows here. own_ident: the identity of the profile
    the report judges against, to flag an upload of another."""

    def phase_name(i: int) -> str:
        if i < 0:
            return "-"
        return f"{i} {bands[i].name}" if i < len(bands) else str(i)

    phases = phase_of_events(data).tolist()
    rows: list[EventRow] = []
    first_offset: dict[int, int] = {}  # boot -> its first clock offset (UTC - uptime)
    for e, ph in zip(data.events, phases):
        phase = phase_name(ph)
        if e.code in (log.EV_ALARM_RAISED, log.EV_ALARM_CLEARED):
            cat = "alarm"
            what, detail = _alarm(e)
            phase = phase_name(e.b)  # the phase the alarm judged, as the firmware recorded it
        elif e.code in (log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED):
            cat = "probe"
            what, detail = _probe(e)
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
