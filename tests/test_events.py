"""Each event's fields read as SPEC 7.7 and 9.2 say, with units: a reading
signed (the vectors store -40000 as 4294927296), scaled, a profile
identity in hex, the no-reading sentinel as no value."""

from __future__ import annotations

import math

import pytest

from podctl import events
from protocol import log

U32 = 1 << 32


@pytest.mark.parametrize(
    "code, a, b, value, want",
    [
        (log.EV_PROBE_FAULT, 2, 5, U32 - 40000, ("probe 2", "fault disagree", -40.0, "degC", "")),
        (log.EV_PROBE_FAULT, 0, 1, 0x80000000, ("probe 0", "fault read", math.nan, "degC", "")),
        (log.EV_ALARM_RAISED, 0, 2, 8450, ("alarm high", "phase 2", 8.45, "degC", "")),
        (log.EV_ALARM_RAISED, 1, 2, U32 - 1500, ("alarm low", "phase 2", -1.5, "degC", "")),
        (log.EV_ALARM_RAISED, 7, 3, 10400, ("alarm battery_low", "phase 3", 10.4, "V", "")),
        (log.EV_ALARM_RAISED, 5, 4, 20000, ("alarm shock", "phase 4", 20.0, "g", "")),
        (log.EV_ALARM_RAISED, 6, 1, 90, ("alarm lid", "phase 1", 90.0, "s", "")),
        (log.EV_ALARM_CLEARED, 0, 1, 0, ("alarm high", "phase 1", math.nan, "", "")),
        (log.EV_PROFILE_ACCEPTED, 0, 0, 0x4C617899, ("profile", "", math.nan, "", "4c617899")),
        (log.EV_BOOT, 2, 4, 0x000100, ("reset watchdog", "boot 4", math.nan, "", "0.1.0")),
        (log.EV_TIME_SET, 0, 0, 1804717200, ("clock", "", 1804717200.0, "UTC s", "")),
        (log.EV_MODE, 4, 1, 0, ("mode passive", "from pid", math.nan, "", "")),
        (log.EV_STORAGE_FULL, 1, 31, 96,
         ("log", "policy overwrite: 31 blocks dropped from", 96.0, "seq", "")),
        (log.EV_STORAGE_FULL, 2, 0, 5820,
         ("log", "policy overwrite: records dropped so far", 5820.0, "records", "")),
        (log.EV_REFUSALS, 16, 10, 4711,
         ("TIME_SET", "error BAD_TAG (last of those counted)", 4711.0, "refusals", "")),
        (log.EV_PHASE, 1, 2, 0, ("phase 1", "resumed at boot", math.nan, "", "")),
    ],
)
def test_fields_read_as_the_spec_says(code, a, b, value, want):
    got = events.read(code, a, b, value)
    assert got.subject == want[0] and got.detail == want[1]
    assert (math.isnan(got.value) and math.isnan(want[2])) or got.value == pytest.approx(want[2])
    assert (got.unit, got.text) == (want[3], want[4])


def test_an_unknown_code_keeps_its_numbers():
    got = events.read(99, 1, 2, 3)
    assert (got.subject, got.detail, got.value) == ("a 1", "b 2", 3.0)
