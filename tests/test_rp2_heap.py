"""What the rp2 HAL costs the board's heap (issue 16; tests/rp2_missions.py
measures the day's smallest heap, make bench's figure).

firmware/hal/rp2.py imported protocol.log, the host's names for the log's
layout (HEADER_FIELDS, CHANNELS, STATUS_BITS, the event names and the
record decoders: "protocol/block.py ... is all the firmware carries"), to
read three numbers, RESET_WATCHDOG, RESET_POWER_ON and RESET_UNKNOWN, which
protocol.block defines with const() and firmware/pod.py already reads from
there (`from protocol import block as log`). On the unix port, from ROMFS,
the firmware's imports hold 43,680 bytes of heap and 591 qstrs; protocol.log
added 13,888 bytes and 30 qstrs (the 621st opens a sixth qstr pool, 7 KiB),
rp2.py itself 2,848 more. With the HAL on protocol.block (86cd60f) the day
with the model flies in 98 KiB instead of 104 (tests/rp2_missions.py)."""

from __future__ import annotations

import pytest

from sim import upy

SCRIPT = """
import sys
from sim.rp2board import board
board.install()
import firmware.pod
from firmware.hal import rp2
print("protocol.log" in sys.modules)
"""


def test_the_rp2_hal_does_not_load_the_hosts_log_names():
    r = upy.run(SCRIPT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_the_firmware_without_the_hal_does_not_load_them():
    # the premise: it is the HAL's import, not the firmware's
    r = upy.run(SCRIPT.replace("from firmware.hal import rp2\n", ""))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


# -- the firmware with the rp2 HAL in the board's heap (tests/rp2_missions.py)

QSTRS_MAX = 612  # as tests/test_firmware_heap.py's: the pool's step is at about 621


def test_the_rp2_hal_leaves_room_in_the_qstr_pools(tmp_path):
    # 623 with the HAL's 17 private attribute names: past the step, a 7 KiB
    # pool the 64 KiB heap does not have
    from tests import rp2_missions

    q = rp2_missions.qstrs(tmp_path)
    assert 400 < q["rp2hal_qstrs"] <= QSTRS_MAX, q
    # its own: the module, its path and the compensation's four functions;
    # attributes and arguments take names the firmware or the port has
    assert len(q["own_names"]) <= 6, q["own_names"]
    assert q["rp2hal_qstrs_board"] == q["rp2hal_qstrs"] - len(rp2_missions.RP2_BUILTIN)


@pytest.fixture(scope="module")
def minute(tmp_path_factory):
    from tests import rp2_missions

    return rp2_missions.run(tmp_path_factory.mktemp("minute"), 60, "512K")


def test_the_model_is_measured_apart_from_the_firmware(minute):
    # the firmware and the HAL are imported before the model: their qstrs
    # are below the pool's step whatever the model adds after them, and the
    # model's heap (its objects, the pools its names open) is what
    # rp2_missions gives on top of the firmware's heap
    from tests import rp2_missions

    assert "failed" not in minute, minute
    assert minute["qstrs"] < 621 and minute["model_qstrs"] > 200, minute
    assert minute["model_bytes"] > 20000
    assert rp2_missions.with_model(64, minute["model_bytes"]) > 64 * 1024 + minute["model_bytes"]
    # rp2's Pin, PWM, I2C and WDT are static: the model's are made with it,
    # so the HAL's set-up holds only its own objects (and the model's two
    # ADC objects, one GC block each, as rp2 allocates them too); with the
    # model's objects made per call it was 1,760 bytes
    assert minute["hal_bytes"] < 1000, minute


def test_the_day_flies_in_64k_net_of_the_model(tmp_path, minute):
    from tests import rp2_missions

    heap = rp2_missions.with_model(64, minute["model_bytes"])
    got = rp2_missions.run(tmp_path, 86400, str(heap))
    assert rp2_missions.flew(got), got
    assert got["records"] == 1441 and got["requests"] == 98, got
