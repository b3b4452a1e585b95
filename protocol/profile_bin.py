# The handling profile as bytes: what the host compiles from a TOML file a
# person reviewed, uploads, and the firmware stores and runs. Defined once,
# here; check() is the device's verdict and the host's, so a profile the host
# calls valid is one the device takes. protocol/profile.py names the fields
# (and their units) for the host and re-exports all of this; the firmware
# imports only this module, because on the board a module's tables are built
# in RAM at import and the firmware must fit a 64 KiB heap.
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
# Version 2 (issue 17) gives a phase's last byte, reserved (0) in version 1,
# a meaning: max_hold_h, the longest the phase may run before alarm `hold`
# (0: no limit). The layout is the same, so the device takes both versions;
# a version-1 device refuses a version-2 profile (REFUSE_VERSION: update
# it), and the host writes version 1 while no phase sets a limit.
VERSION = const(2)
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

# The header and a phase, little-endian; profile.HEADER_FIELDS and
# PHASE_FIELDS name each code, and tests/mp/test_layout_tables.py checks.
HEADER_FMT = "<4sBBBBBBH16siiiiHHHHHHHHHHHHHHI"
PHASE_FMT = "<8sIiiiiiHHBB"
HEADER_LEN = struct.calcsize(HEADER_FMT)
PHASE_LEN = struct.calcsize(PHASE_FMT)
MAX_SIZE = HEADER_LEN + MAX_PHASES * PHASE_LEN + 4

# Allowed values, a (low, high) pair per field in the order above, flat; a
# value outside is refused with REFUSE_RANGE naming the field. None = not
# range-checked. The same test holds these to the named tables.
HEADER_RANGES = (
    None, None,  # magic
    None, None,  # version
    1, MAX_PHASES,  # nphases
    codes.MODE_PID, codes.MODE_ONOFF,  # control
    codes.MODE_HOLD, codes.MODE_HEAT_ONLY,  # safe_mode
    POLICY_STOP, POLICY_OVERWRITE,  # full_policy
    1, 4,  # min_probes
    0, 0,  # reserved
    None, None,  # name
    T_MIN, T_MAX,  # probe_min
    T_MIN, T_MAX,  # probe_max
    1, 100000,  # rate_max
    100, 50000,  # disagree
    0, 65535,  # stuck_s
    1, 65535,  # recover_s
    0, 5000,  # kp_heat
    0, 5000,  # ki_heat
    0, 5000,  # kp_cool
    0, 5000,  # ki_cool
    0, 10000,  # deadband
    1, 1000,  # slew
    0, 1000,  # heater_max
    0, 1000,  # peltier_max
    0, 1000,  # safe_heat
    0, 60000,  # battery_low
    0, 60000,  # shock
    0, 65535,  # lid_s
    1, 0x7FFFFFFF,  # cumulative_s
)
PHASE_RANGES = (
    None, None,  # name
    0, 0x7FFFFFFF,  # duration
    T_MIN, T_MAX,  # setpoint
    T_MIN, T_MAX,  # band_low
    T_MIN, T_MAX,  # band_high
    T_MIN, T_MAX,  # abs_low
    T_MIN, T_MAX,  # abs_high
    0, 65535,  # event_s
    1, 3600,  # interval
    0, 7,  # flags
    0, 255,  # max_hold_h (version 1: reserved, 0)
)

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

# Indices into Profile.header / a phase, for the tick's fast access.
H_NPHASES = const(2)
H_CONTROL = const(3)
H_SAFE_MODE = const(4)
H_POLICY = const(5)
H_MIN_PROBES = const(6)
H_NAME = const(8)
H_PROBE_MIN = const(9)
_H_PROBE_MAX = const(10)
H_KP_HEAT = const(15)  # kp_heat .. safe_heat: the controller's nine
H_SAFE_HEAT = const(23)
H_BATTERY_LOW = const(24)
H_SHOCK = const(25)
H_LID_S = const(26)
H_CUMULATIVE_S = const(27)
P_DURATION = const(1)
P_SETPOINT = const(2)
P_BAND_LOW = const(3)
P_BAND_HIGH = const(4)
P_ABS_LOW = const(5)
P_ABS_HIGH = const(6)
P_EVENT_S = const(7)
P_INTERVAL = const(8)
P_FLAGS = const(9)
_P_MAX_HOLD = const(10)  # protocol/profile.py P_MAX_HOLD (a public name costs a qstr)


class Profile:
    """A checked profile: header values (HEADER_FMT order, indexed by H_*),
    phases as lists of ints (indexed by P_*)."""

    def __init__(self, data, header, phases):
        self.data = bytes(data)
        self.crc = ident(data)  # names the profile in uploads, events, state
        self.header = header
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


def _range(ranges, values):
    for i in range(len(values)):
        lo = ranges[2 * i]
        if lo is not None and not lo <= values[i] <= ranges[2 * i + 1]:
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
    if not 1 <= header[1] <= VERSION:
        return (REFUSE_VERSION, header[1])
    bad = _range(HEADER_RANGES, header)
    if bad >= 0:
        return (REFUSE_RANGE, bad)
    if n != HEADER_LEN + header[H_NPHASES] * PHASE_LEN + 4:
        return (REFUSE_SIZE, header[H_NPHASES])
    phases = []
    for p in range(header[H_NPHASES]):
        ph = list(struct.unpack_from(PHASE_FMT, data, HEADER_LEN + p * PHASE_LEN))
        bad = _range(PHASE_RANGES, ph)
        if bad < 0 and header[1] < 2 and ph[_P_MAX_HOLD]:
            bad = _P_MAX_HOLD  # reserved in version 1
        if bad >= 0:
            return (REFUSE_RANGE, 0x800 | p << 4 | bad)
        if not (
            ph[P_ABS_LOW] <= ph[P_BAND_LOW] < ph[P_SETPOINT] < ph[P_BAND_HIGH] <= ph[P_ABS_HIGH]
        ):
            return (REFUSE_BAND, 0x800 | p << 4)
        if not header[H_PROBE_MIN] < ph[P_ABS_LOW] or not ph[P_ABS_HIGH] < header[_H_PROBE_MAX]:
            return (REFUSE_PROBES, 0x800 | p << 4)
        phases.append(ph)
    return Profile(data, header, phases)
