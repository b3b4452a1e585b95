# The profile's bytes and the verdict the device and host share (both
# interpreters).
import struct

import _profiles
from _profiles import phase

from protocol import codes
from protocol import profile as pf
from protocol.frame import crc32


def _recrc(data):
    b = bytearray(data)
    struct.pack_into("<I", b, len(b) - 4, crc32(b[:-4]))
    return bytes(b)


def test_valid_profile_is_read_back_field_by_field():
    data = _profiles.make([phase(b"pad", 3600), phase(b"orbit", 0, setpoint=37000,
                          low=36000, high=38000, abs_low=30000, abs_high=45000)])
    p = pf.check(data)
    assert isinstance(p, pf.Profile), p
    h = p.header
    assert h[pf.H_NPHASES] == 2 and h[pf.H_MIN_PROBES] == 2 and h[pf.H_CONTROL] == codes.MODE_PID
    assert p.phase_name(0) == "pad" and p.phase_name(1) == "orbit"
    assert p.phases[1][pf.P_SETPOINT] == 37000 and p.phases[0][pf.P_DURATION] == 3600
    assert p.crc == pf.ident(data) == struct.unpack("<I", data[-4:])[0]
    other = _profiles.make([phase(setpoint=4000)])
    assert pf.ident(other) != pf.ident(data)  # the identity tells profiles apart
    assert len(data) == pf.HEADER_LEN + 2 * pf.PHASE_LEN + 4


def test_damaged_profile_refused_crc():
    data = bytearray(_profiles.make())
    data[30] ^= 1
    assert pf.check(bytes(data)) == (pf.REFUSE_CRC, 0)


def test_refusals_name_their_reason_and_field():
    assert pf.check(_recrc(b"XXXX" + _profiles.make()[4:])) == (pf.REFUSE_MAGIC, 0)
    assert pf.check(_profiles.make(version=9)) == (pf.REFUSE_VERSION, 9)
    r = pf.check(_profiles.make(min_probes=5))
    assert r[0] == pf.REFUSE_RANGE and pf.where(*r) == "min_probes"
    r = pf.check(_profiles.make([phase(), phase(interval=0)]))
    assert r[0] == pf.REFUSE_RANGE and pf.where(*r) == "phase[1].interval", pf.where(*r)
    r = pf.check(_profiles.make([phase(), phase(), phase(setpoint=9000)]))
    assert r == (pf.REFUSE_BAND, 0x800 | 2 << 4) and pf.where(*r) == "phase[2]"
    r = pf.check(_profiles.make([phase(abs_high=90000)], probe_max=85000))
    assert r[0] == pf.REFUSE_PROBES
    assert pf.check(_profiles.make()[:-8] + b"\x00" * 4)[0] in (pf.REFUSE_CRC, pf.REFUSE_SIZE)
    # a phase count that disagrees with the length
    data = bytearray(_profiles.make([phase(), phase()]))
    data[5] = 3  # nphases
    assert pf.check(_recrc(data)) == (pf.REFUSE_SIZE, 3)
    assert pf.check(b"") == (pf.REFUSE_SIZE, 0)


def test_version_2_carries_a_phase_hold_limit_and_version_1_is_still_taken():
    held = phase(b"recovery", 0)
    held[pf.P_MAX_HOLD] = 12
    p = pf.check(_profiles.make([phase(b"return", 3600), held]))
    assert isinstance(p, pf.Profile), p
    assert p.header[1] == pf.VERSION == 2
    assert p.phases[1][pf.P_MAX_HOLD] == 12 and p.phases[0][pf.P_MAX_HOLD] == 0
    # a version-1 profile (what older hosts wrote): the byte is reserved, 0
    old = pf.check(_profiles.make([phase(b"return", 3600), phase(b"recovery", 0)], version=1))
    assert isinstance(old, pf.Profile) and old.phases[1][pf.P_MAX_HOLD] == 0
    # ... and a version-1 profile that sets it is refused, naming the field
    r = pf.check(_profiles.make([phase(b"return", 3600), held], version=1))
    assert r == (pf.REFUSE_RANGE, 0x800 | 1 << 4 | pf.P_MAX_HOLD), r
    assert pf.where(*r) == "phase[1].max_hold_h"
    for v in (0, 3, 255):  # no version before 1; none after this firmware's
        assert pf.check(_profiles.make(version=v)) == (pf.REFUSE_VERSION, v)
