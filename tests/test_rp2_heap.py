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
