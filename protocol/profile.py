# The handling profile for the host: each field's name, unit and allowed
# range, why a profile is refused in words, where a refusal points, and
# build(). The format and the device's check are defined in
# protocol/profile_bin.py (all the firmware carries) and re-exported here.
import struct

from protocol import codes
from protocol.frame import crc32
from protocol.profile_bin import *  # noqa: F401,F403 the format and check: defined there
from protocol.profile_bin import (
    HEADER_FMT,
    HEADER_LEN,
    MAX_PHASES,
    PHASE_FMT,
    PHASE_LEN,
    POLICY_OVERWRITE,
    POLICY_STOP,
    REFUSE_BAND,
    REFUSE_CRC,
    REFUSE_MAGIC,
    REFUSE_PROBES,
    REFUSE_RANGE,
    REFUSE_SIZE,
    REFUSE_VERSION,
    T_MAX,
    T_MIN,
)

# (name, struct code, unit, low, high): a value outside [low, high] is
# refused with REFUSE_RANGE naming the field. None = not range-checked.
HEADER_FIELDS = (
    ("magic", "4s", "", None, None),
    ("version", "B", "", None, None),
    ("nphases", "B", "", 1, MAX_PHASES),
    ("control", "B", "", codes.MODE_PID, codes.MODE_ONOFF),
    ("safe_mode", "B", "", codes.MODE_HOLD, codes.MODE_HEAT_ONLY),
    ("full_policy", "B", "", POLICY_STOP, POLICY_OVERWRITE),
    ("min_probes", "B", "", 1, 4),
    ("reserved", "H", "", 0, 0),
    ("name", "16s", "", None, None),
    ("probe_min", "i", "mdegC", T_MIN, T_MAX),
    ("probe_max", "i", "mdegC", T_MIN, T_MAX),
    ("rate_max", "i", "mdegC/s", 1, 100000),
    ("disagree", "i", "mdegC", 100, 50000),
    ("stuck_s", "H", "s", 0, 65535),  # 0: no stuck check
    ("recover_s", "H", "s", 1, 65535),
    ("kp_heat", "H", "permille/degC", 0, 5000),
    ("ki_heat", "H", "permille/(degC*min)", 0, 5000),
    ("kp_cool", "H", "permille/degC", 0, 5000),
    ("ki_cool", "H", "permille/(degC*min)", 0, 5000),
    ("deadband", "H", "mdegC", 0, 10000),
    ("slew", "H", "permille/s", 1, 1000),
    ("heater_max", "H", "permille", 0, 1000),
    ("peltier_max", "H", "permille", 0, 1000),
    ("safe_heat", "H", "permille", 0, 1000),  # heat-only duty with no probe
    ("battery_low", "H", "mV", 0, 60000),
    ("shock", "H", "mg", 0, 60000),  # 0: no shock alarm
    ("lid_s", "H", "s", 0, 65535),
    ("cumulative_s", "I", "s", 1, 0x7FFFFFFF),
)
PHASE_FIELDS = (
    ("name", "8s", "", None, None),
    ("duration", "I", "s", 0, 0x7FFFFFFF),  # 0: until a PHASE_SET command
    ("setpoint", "i", "mdegC", T_MIN, T_MAX),
    ("band_low", "i", "mdegC", T_MIN, T_MAX),
    ("band_high", "i", "mdegC", T_MIN, T_MAX),
    ("abs_low", "i", "mdegC", T_MIN, T_MAX),
    ("abs_high", "i", "mdegC", T_MIN, T_MAX),
    ("event_s", "H", "s", 0, 65535),  # single-event alarm delay
    ("interval", "H", "s", 1, 3600),  # sample interval
    ("flags", "B", "", 0, 7),
    # the longest the phase may run before alarm `hold` (issue 17: a recovery
    # "until command" slipped 72 h and raised nothing); 0: no limit.
    # Version 2; in version 1 this byte is reserved and must be 0.
    ("max_hold_h", "B", "h", 0, 255),
)
P_MAX_HOLD = 10  # its index (the firmware's _P_MAX_HOLD: a name there costs a qstr)


REFUSALS = (
    (REFUSE_CRC, "crc", "CRC mismatch: the file was damaged in transfer, upload again"),
    (REFUSE_MAGIC, "magic", "not a podctl profile"),
    (REFUSE_VERSION, "version", "profile version unknown to this firmware: update it"),
    (REFUSE_SIZE, "size", "length disagrees with the number of phases"),
    (REFUSE_RANGE, "range", "a value is outside its allowed range"),
    (
        REFUSE_BAND,
        "band",
        "a phase needs abs_low <= band_low < setpoint < band_high <= abs_high",
    ),
    (REFUSE_PROBES, "probes", "needs probe_min < abs_low and abs_high < probe_max"),
)


def where(reason, at):
    """The field a refusal points at, e.g. 'phase[2].band_low', or ''."""
    if reason == REFUSE_RANGE:
        if at & 0x800:
            return "phase[%d].%s" % ((at >> 4) & 15, PHASE_FIELDS[at & 15][0])
        return HEADER_FIELDS[at][0]
    if reason in (REFUSE_BAND, REFUSE_PROBES) and at & 0x800:
        return "phase[%d]" % ((at >> 4) & 15)
    return ""


def build(header, phases):
    """Bytes of a profile from header values (HEADER_FIELDS order, magic and
    version included) and phase value lists; CRC appended. No checks."""
    out = bytearray(HEADER_LEN + len(phases) * PHASE_LEN + 4)
    struct.pack_into(HEADER_FMT, out, 0, *header)
    for p in range(len(phases)):
        struct.pack_into(PHASE_FMT, out, HEADER_LEN + p * PHASE_LEN, *phases[p])
    struct.pack_into("<I", out, len(out) - 4, crc32(memoryview(out)[: len(out) - 4]))
    return bytes(out)
