# The handling profile as bytes: what the host compiles from a TOML file a
# person reviewed, uploads, and the firmware stores and runs. Defined once,
# here; check() is the device's verdict and the host's, so a profile the host
# calls valid is one the device takes.
#
#   header (HEADER_FIELDS) | phase x nphases (PHASE_FIELDS) | crc32 (u32)
#
# all little-endian; crc32 is CRC-32/ISO-HDLC over everything before it.
# Temperatures are milli-degrees Celsius, durations seconds, duties per mille.
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from protocol import codes
from protocol.frame import crc32

MAGIC = b"PODP"
VERSION = const(1)
MAX_PHASES = const(16)

# Full-storage policy (header.full_policy).
POLICY_STOP = const(0)
POLICY_OVERWRITE = const(1)

# Phase flags.
PHASE_COOL = const(0x01)  # the Peltier may cool
PHASE_HEAT = const(0x02)  # the heater may heat
PHASE_PELTIER_HEATS = const(0x04)  # the Peltier runs backwards to help heat

T_MIN = -60000  # mdegC: the widest temperature any field may name
T_MAX = 90000

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
    ("reserved", "B", "", 0, 0),
)


def _fmt(fields):
    return "<" + "".join(f[1] for f in fields)


HEADER_FMT = _fmt(HEADER_FIELDS)
PHASE_FMT = _fmt(PHASE_FIELDS)
HEADER_LEN = struct.calcsize(HEADER_FMT)
PHASE_LEN = struct.calcsize(PHASE_FMT)
MAX_SIZE = HEADER_LEN + MAX_PHASES * PHASE_LEN + 4

# Why a profile is refused (EV_PROFILE_REFUSED a; ERR_BAD_PROFILE detail is
# reason << 12 | where). `where` (event b) is a header field index, or
# 0x800 | phase << 4 | phase field index, or 0x800 | phase << 4 for a rule
# across a phase's fields.
REFUSE_CRC = const(1)
REFUSE_MAGIC = const(2)
REFUSE_VERSION = const(3)
REFUSE_SIZE = const(4)
REFUSE_RANGE = const(5)
REFUSE_BAND = const(6)  # band_low < setpoint < band_high, abs outside band
REFUSE_PROBES = const(7)  # probe_min < probe_max, band inside them

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

# Indices into Profile.header / a phase, for the tick's fast access.
H_NPHASES = const(2)
H_CONTROL = const(3)
H_SAFE_MODE = const(4)
H_POLICY = const(5)
H_MIN_PROBES = const(6)
H_NAME = const(8)
H_PROBE_MIN = const(9)
H_PROBE_MAX = const(10)
P_DURATION = const(1)
P_SETPOINT = const(2)
P_BAND_LOW = const(3)
P_BAND_HIGH = const(4)
P_ABS_LOW = const(5)
P_ABS_HIGH = const(6)
P_EVENT_S = const(7)
P_INTERVAL = const(8)
P_FLAGS = const(9)


class Profile:
    """A checked profile: header values by name, phases as lists of ints."""

    def __init__(self, data, header, phases):
        self.data = bytes(data)
        self.crc = ident(data)  # names the profile in uploads, events, state
        self.header = header
        for i in range(len(HEADER_FIELDS)):
            setattr(self, HEADER_FIELDS[i][0], header[i])
        self.phases = phases

    def phase_name(self, i):
        n = self.phases[i][0]
        end = n.find(b"\x00")
        return (n if end < 0 else n[:end]).decode()


def ident(data):
    """The profile's identity: CRC-32 of everything before its trailer (so
    the trailer's own value when intact). A CRC over the whole file would be
    the same constant for every intact profile (the CRC residue)."""
    return crc32(memoryview(data)[: len(data) - 4])


def _range(fields, values):
    for i in range(len(fields)):
        lo = fields[i][3]
        if lo is not None and not lo <= values[i] <= fields[i][4]:
            return i
    return -1


def check(data):
    """A Profile, or (reason, where): the device's and the host's verdict."""
    n = len(data)
    if n < HEADER_LEN + 4:
        return (REFUSE_SIZE, 0)
    if crc32(memoryview(data)[: n - 4]) != struct.unpack_from("<I", data, n - 4)[0]:
        return (REFUSE_CRC, 0)
    header = list(struct.unpack_from(HEADER_FMT, data, 0))
    if header[0] != MAGIC:
        return (REFUSE_MAGIC, 0)
    if header[1] != VERSION:
        return (REFUSE_VERSION, header[1])
    bad = _range(HEADER_FIELDS, header)
    if bad >= 0:
        return (REFUSE_RANGE, bad)
    if n != HEADER_LEN + header[H_NPHASES] * PHASE_LEN + 4:
        return (REFUSE_SIZE, header[H_NPHASES])
    phases = []
    for p in range(header[H_NPHASES]):
        ph = list(struct.unpack_from(PHASE_FMT, data, HEADER_LEN + p * PHASE_LEN))
        bad = _range(PHASE_FIELDS, ph)
        if bad >= 0:
            return (REFUSE_RANGE, 0x800 | p << 4 | bad)
        if not (
            ph[P_ABS_LOW] <= ph[P_BAND_LOW] < ph[P_SETPOINT] < ph[P_BAND_HIGH] <= ph[P_ABS_HIGH]
        ):
            return (REFUSE_BAND, 0x800 | p << 4)
        if not header[H_PROBE_MIN] < ph[P_ABS_LOW] or not ph[P_ABS_HIGH] < header[H_PROBE_MAX]:
            return (REFUSE_PROBES, 0x800 | p << 4)
        phases.append(ph)
    return Profile(data, header, phases)


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
