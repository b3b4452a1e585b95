"""The host's Link against the firmware's link server running on the real
micropython binary, over pipes: identify, errors, noise, a dead device."""

from __future__ import annotations

import pytest

from podctl.errors import EXIT_LINK, EXIT_REFUSED, CommandError
from podctl.link import DeviceRefused, Link
from podctl.pipe import spawn_stdio_device
from protocol import catalogue as c


@pytest.fixture
def device():
    t = spawn_stdio_device("POD00042")
    yield t
    t.close()


def test_identify_over_micropython(device):
    r = Link(device).request(c.MSG_IDENTIFY)
    assert r["device_id"] == b"POD00042" + bytes(8)
    assert r["protocol"] == c.PROTOCOL_VERSION
    assert r["max_payload"] == 1024


def test_unserved_request_is_refused_with_code(device):
    with pytest.raises(DeviceRefused) as e:
        Link(device).request(c.MSG_LOG_INFO, bytes(16))
    assert e.value.code == c.ERR_UNKNOWN_TYPE and e.value.status == EXIT_REFUSED


def test_noise_before_request_is_survived(device):
    device.write(b"\xde\xad\xbe\xef\x00\x05\x05\x05")
    assert Link(device).request(c.MSG_IDENTIFY)["device_id"] == b"POD00042" + bytes(8)


def test_dead_device_is_a_link_error(device):
    device.proc.kill()
    device.proc.wait()
    with pytest.raises(CommandError) as e:
        Link(device, timeout=0.3, retries=0).request(c.MSG_IDENTIFY)
    assert e.value.status == EXIT_LINK
