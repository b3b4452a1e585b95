"""The command counter's end (issue 15, F9) from the host's side: at
0xFFFFFFFF the host refuses to count past it (COUNTER_END, one line, what
to do), `key rotate` still works there (the device takes the rotation at
the end counter itself) and the new key's counter starts again, so the
device goes on taking commands."""

from __future__ import annotations

import pytest

import tests.link_attacks as la
from podctl.device import Device
from podctl.errors import DeviceRefused
from protocol import catalogue as c


def test_the_host_rekeys_at_the_counters_end_and_goes_on(tmp_path):
    end = la.PodEnd(tmp_path)
    end.pod.guard.counter = 0xFFFFFFFE
    with Device("pod", keystore=end.keystore, timeout=end.timeout, transport=end) as dev:
        dev.time_sync(utc=1_800_000_000)  # takes the last counter, 0xFFFFFFFF
        assert dev.status().counter == 0xFFFFFFFF
        with pytest.raises(DeviceRefused) as e:
            dev.time_sync(utc=1_800_000_100)
        assert e.value.code == c.ERR_COUNTER_END and "key rotate" in str(e.value)
        before = end.keystore.keys(la.DEVICE)
        dev.key_rotate()
        assert len(end.keystore.keys(la.DEVICE)) == len(before) + 1
        assert dev.status().counter == 0  # the new key's counter starts again
        dev.time_sync(utc=1_800_000_200)
        assert dev.status().counter == 1
    with Device("pod", keystore=end.keystore, timeout=end.timeout, transport=end) as fresh:
        assert fresh.key_check()[0] == len(before) + 1
