"""rp2's machine.reset() is a watchdog reboot, so every commanded reset
would read as a hang without the firmware's recorded intent (issue 16,
rp2hal_reboots_misreported): on the modelled board, every way it resets,
and the cause each boot logged (tests/rp2_reboots.py)."""

from __future__ import annotations

import pytest

from protocol import block
from tests import rp2_reboots


@pytest.fixture(scope="module")
def flown():
    return rp2_reboots.fly()


def test_every_boot_logs_what_happened(flown):
    assert flown["misreported"] == 0, flown["rows"]
    assert flown["boots"] == flown["logged"] == 13
    causes = [r[1] for r in flown["rows"]]
    # each kind is flown: commanded, hangs and faults, power
    assert causes.count(block.RESET_SOFT) == 5
    assert causes.count(block.RESET_WATCHDOG) == 4
    assert causes.count(block.RESET_POWER_ON) == 4
    # two maintenance boots: no watchdog started, the outputs held low
    assert flown["maintenance_boots"] == 2
    assert flown["maintenance_wdt_running"] == flown["outputs_on"] == 0


def test_without_the_recorded_intent_commanded_resets_read_as_hangs():
    # the control: the same resets, the record deleted before each firmware
    # boot; every commanded one is then logged as a watchdog reset
    got = rp2_reboots.fly(ignore_intent=True)
    assert got["misreported"] == 5, got["rows"]
    wrong = [r for r in got["rows"] if r[1] != r[2]]
    assert {(r[1], r[2]) for r in wrong} == {(block.RESET_SOFT, block.RESET_WATCHDOG)}
