"""A log event as a reviewer reads it: what it is about named, its reading
signed and scaled, with its unit (SPEC 7.7, 9.2).

The log stores an event as (t, code, a, b, value), all unsigned integers;
what a, b and value mean depends on the code. `read(code, a, b, value)`
gives the meaning once, for the decoded tables (CSV, Parquet, JSON) and
anyone who scripts podctl:

  subject    what a names: "probe 2", "alarm high", "mode pid", "phase 1", ...
  detail     what b names: "fault rate", "phase 3", "error BAD_TAG", ...
  value      value scaled to its unit and signed where it is a reading
             (NaN for an event without one, or a probe with no reading)
  unit       degC, V, g, s, bytes, count, UTC s, ... ("" without a value)
  text       what value is when it is not a quantity: a profile identity
             in hex, a firmware version

BOOT's a is the reset cause (protocol.log RESET_*) in its low seven bits;
bit 0x80 (protocol.log.BOOT_SIMULATED) says the HAL was no real hardware
(the simulator, the virtual board): the log itself marks a simulated
board, with or without a seal (`simulated_boots`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from protocol import catalogue, log, names
from protocol import codes as c

RESETS = {
    log.RESET_UNKNOWN: "unknown",
    log.RESET_POWER_ON: "power-on",
    log.RESET_WATCHDOG: "watchdog",
    log.RESET_SOFT: "soft reset",
    log.RESET_BROWNOUT: "brownout",
}
RESET_CAUSE = 0x7F  # BOOT's a: the reset cause; the bit above it is BOOT_SIMULATED
# protocol.block.BOOT_SIMULATED; the default only bridges checkouts whose
# protocol/ predates the constant (drop it once every one has it)
BOOT_SIMULATED: int = getattr(log, "BOOT_SIMULATED", 0x80)
PHASE_SOURCES = {0: "timeline", 1: "command", 2: "resumed at boot"}
NAN = math.nan

# ALARM_RAISED value per alarm: (scale to the unit, unit, signed)
_ALARM_VALUES = {
    c.ALARM_HIGH: (0.001, "degC", True),
    c.ALARM_LOW: (0.001, "degC", True),
    c.ALARM_CUMULATIVE: (0.001, "degC", True),
    c.ALARM_ABS_HIGH: (0.001, "degC", True),
    c.ALARM_ABS_LOW: (0.001, "degC", True),
    c.ALARM_SHOCK: (0.001, "g", False),
    c.ALARM_LID: (1, "s", False),
    c.ALARM_BATTERY_LOW: (0.001, "V", False),
    c.ALARM_PROBES: (1, "count", False),
    c.ALARM_STORAGE: (1, "bytes", False),
    names.ALARM_ACTUATOR: (1, "outputs", False),  # the ACTUATOR_FAULT's bits (outputs())
    names.ALARM_HOLD: (1, "s", False),  # seconds in the phase when it reached its limit
}
# PROBE_REFERENCE b: the fault kind above, below it what the reference is of
REF_TRUSTED = 0x10  # disagree: the median was of trusted probes only
REF_PROBES = 0x0F  # disagree: the probes of the median, bit n = probe n


def outputs(bits: int) -> list[str]:
    """An ACTUATOR_FAULT's a (or alarm actuator's value) as output names."""
    return [name for bit, name in log.ACTUATORS if bits & bit] or [f"outputs {bits}"]


def probes_of(mask: int) -> list[int]:
    """The probes a disagree reference's median was taken over."""
    return [p for p in range(4) if mask >> p & 1]


class Reading(NamedTuple):
    subject: str
    detail: str
    value: float
    unit: str
    text: str


def signed(v: int) -> int:
    """A u32 field that holds a signed reading (SPEC 7.7)."""
    return v - (1 << 32) if v & 0x80000000 else v


def version(v: int) -> str:
    return f"{v >> 16 & 0xFF}.{v >> 8 & 0xFF}.{v & 0xFF}"


def reset_name(a: int) -> str:
    """A BOOT event's reset cause in words (its a, the simulated bit aside)."""
    cause = a & RESET_CAUSE
    return RESETS.get(cause, f"cause {cause}")


def boot_simulated(a: int) -> bool:
    """A BOOT event's a says the board's HAL was simulated."""
    return bool(a & BOOT_SIMULATED)


def simulated_boots(events: Iterable[Any]) -> list[int]:
    """The boots whose BOOT event says the board was simulated. events:
    anything with .code, .a and .boot (logdata.Event), or the decoder's
    (boot, t, code, a, b, value) tuples."""
    out = []
    for e in events:
        boot, code, a = (e[0], e[2], e[3]) if isinstance(e, tuple) else (e.boot, e.code, e.a)
        if code == log.EV_BOOT and boot_simulated(a) and boot not in out:
            out.append(boot)
    return out


def _message(t: int) -> str:
    m = catalogue.message(t)
    return m[1] if m else f"message {t}"


def read(code: int, a: int, b: int, value: int) -> Reading:
    """The meaning of one event's fields (module docstring)."""
    if code == log.EV_BOOT:
        sim = " (simulated board)" if boot_simulated(a) else ""
        return Reading(f"reset {reset_name(a)}", f"boot {b}{sim}", NAN, "", version(value))
    if code == log.EV_PHASE:
        return Reading(f"phase {a}", PHASE_SOURCES.get(b, f"source {b}"), NAN, "", "")
    if code in (log.EV_ALARM_RAISED, log.EV_ALARM_CLEARED):
        subject, detail = f"alarm {names.name(names.ALARMS, a)}", f"phase {b}"
        if code == log.EV_ALARM_CLEARED:
            return Reading(subject, detail, NAN, "", "")
        scale, unit, is_signed = _ALARM_VALUES.get(a, (1, "", False))
        v = signed(value) if is_signed else value
        return Reading(subject, detail, v * scale, unit, "")
    if code == log.EV_PROFILE_ACCEPTED:
        return Reading("profile", "", NAN, "", f"{value:08x}")
    if code == log.EV_PROFILE_REFUSED:
        from protocol import profile as pf

        reason = next((r[1] for r in pf.REFUSALS if r[0] == a), f"reason {a}")
        return Reading(
            "profile", f"{reason} {pf.where(a, b) or ''}".strip(), NAN, "", f"{value:08x}"
        )
    if code == log.EV_PROBE_FAULT:
        v = signed(value)
        reading = NAN if v == log.NO_READING_MDEG else v / 1000
        return Reading(f"probe {a}", f"fault {names.name(names.FAULTS, b)}", reading, "degC", "")
    if code == log.EV_PROBE_RECOVERED:
        return Reading(f"probe {a}", "recovered", NAN, "", "")
    if code == log.EV_PROBE_REFERENCE:  # what its PROBE_FAULT was compared with
        kind, low = b >> 8, b & 0xFF
        if kind == c.FAULT_RATE:
            detail = f"reference rate: its previous reading, {low} s before"
        elif kind == c.FAULT_DISAGREE:
            # no commas: the decoded CSV is written unquoted (podctl.export)
            # the judged probe named apart when the median included it
            # (a trusted probe among three or more trusted: SPEC 9.3)
            of = probes_of(low & REF_PROBES)
            who = "trusted " if low & REF_TRUSTED else ""
            detail = (f"reference disagree: the median of {who}probes "
                      + " ".join(str(p) for p in of if p != a)
                      + (" and the probe itself" if a in of else ""))
        else:
            detail = f"reference {names.name(names.FAULTS, kind)}: b {low}"
        return Reading(f"probe {a}", detail, signed(value) / 1000, "degC", "")
    if code == log.EV_ACTUATOR_FAULT:
        return Reading(" + ".join(outputs(a)), f"driven hard {b} s without effect",
                       signed(value) / 1000, "K", "")
    if code == log.EV_TIME_SET:
        return Reading("clock", "", float(value), "UTC s", "")
    if code == log.EV_LOG_ERASED:
        return Reading("log", "", float(value), "bytes", "")
    if code == log.EV_COMMAND_REFUSED:
        return Reading(
            _message(a), f"error {catalogue.error_name(b)}", float(value), "counter", ""
        )
    if code == log.EV_MODE:
        new, old = names.name(names.MODES, a), names.name(names.MODES, b)
        return Reading(f"mode {new}", f"from {old}", NAN, "", "")
    if code == log.EV_STORAGE_FULL:
        if a == 0:
            return Reading("log", "policy stop", float(value), "bytes", "")
        if a == 1:  # b blocks dropped from seq value on (SPEC 7.7)
            return Reading("log", f"policy overwrite: {b} blocks dropped from", float(value),
                           "seq", "")
        if a == 2:
            return Reading("log", "policy overwrite: records dropped so far", float(value),
                           "records", "")
        return Reading("log", f"a {a}", float(value), "", "")
    if code == log.EV_KEY_ROTATED:
        return Reading("key", "", float(value), "counter", "")
    if code == log.EV_REFUSALS:
        return Reading(
            _message(a), f"error {catalogue.error_name(b)} (last of those counted)",
            float(value), "refusals", "")
    return Reading(f"a {a}", f"b {b}", float(value), "", "")
