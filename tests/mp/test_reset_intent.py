# Commanded resets and the maintenance boot (issue 16), on both
# interpreters: rp2's machine.reset() is a watchdog reboot, so the firmware
# records why it resets (firmware/maintenance.py) and the next boot logs a
# commanded reset as RESET_SOFT, a hang as RESET_WATCHDOG. MAINTENANCE REPL
# resets into a boot that never makes the HAL (so never starts the
# watchdog), holds the heater and Peltier pins low and turns Ctrl-C on.
#
# `machine` is a model of rp2's here: reset_cause() as the port reports it
# (machine.reset() -> WDT_RESET), Pin recording what is driven, reset()
# counted.
import sys

from _rig import Client, log_records, pod, read_log, reboot

from firmware import storefile
from protocol import catalogue as c
from protocol import log

WDT_RESET = 3  # rp2's machine.WDT_RESET
PWRON_RESET = 1


class _Pin:
    OUT = 1
    IN = 0

    def __init__(self, n, mode=-1, value=None):
        _Pin.driven[n] = (mode, value)


class Machine:
    """rp2's machine, as far as firmware/maintenance.py uses it."""

    WDT_RESET = WDT_RESET
    PWRON_RESET = PWRON_RESET
    Pin = _Pin

    def __init__(self, cause=WDT_RESET):
        self.cause = cause
        self.resets = 0
        _Pin.driven = {}

    def reset_cause(self):
        return self.cause

    def reset(self):
        self.resets += 1
        self.cause = WDT_RESET  # rp2: machine.reset() is a watchdog reboot


def _maintenance(machine):
    """firmware.maintenance with machine as its `machine` (CPython has
    none; the unix port's has no reset_cause)."""
    had = sys.modules.get("machine")
    sys.modules["machine"] = machine
    try:
        from firmware import maintenance
    finally:
        if had is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = had
    maintenance.machine = machine
    return maintenance


def _boots(p):
    """[(reset cause, boot count)] of every BOOT event in p's log."""
    _, events, _ = log_records(read_log(p))
    return [(e[2] & 0x7F, e[3]) for e in events if e[1] == log.EV_BOOT]


def _boot(p, m):
    """The board boots after m's last reset: main() first asks the
    maintenance module, then (not a maintenance boot) the firmware boots
    with the reset cause the HAL reads (rp2.py's mapping)."""
    if _maintenance(m).boot(p.root):
        return None
    cause = log.RESET_WATCHDOG if m.cause == WDT_RESET else log.RESET_POWER_ON
    return reboot(p, cause=cause)


def test_maintenance_reboot_is_logged_soft_and_a_hang_watchdog():
    m = Machine(PWRON_RESET)
    p = pod()
    maint = _maintenance(m)
    Client(p).ok(c.MSG_MAINTENANCE, c.MAINT_REBOOT)
    assert p.maintenance_due() == "reboot"
    maint.reset(p, "reboot")
    assert m.resets == 1
    assert storefile.read(p.root, "reset_intent") == b"\x01\x00\x01"  # boot 1, reboot
    q = _boot(p, m)
    assert q.boot_count == 2
    # a hang: the watchdog resets with no record for this boot
    m.cause = WDT_RESET
    r = _boot(q, m)
    assert _boots(r) == [(log.RESET_POWER_ON, 1), (log.RESET_SOFT, 2), (log.RESET_WATCHDOG, 3)]


def test_a_fault_or_the_end_of_input_records_nothing():
    m = Machine()
    p = pod()
    maint = _maintenance(m)
    maint.reset(p, None)  # a fault in the loop
    maint.reset(p, "eof")
    maint.reset(None, "reboot")  # the pod never started: nothing to name
    assert m.resets == 3 and storefile.read(p.root, "reset_intent") is None
    q = _boot(p, m)
    assert _boots(q)[-1] == (log.RESET_WATCHDOG, 2)


def test_a_power_cut_between_the_record_and_the_reset_is_no_commanded_reset():
    m = Machine(PWRON_RESET)
    p = pod()
    maint = _maintenance(m)
    m.reset = lambda: None  # the power goes as the record lands: no reset
    maint.reset(p, "reboot")
    q = _boot(p, m)  # powered on again
    m.cause = WDT_RESET  # then a real hang, one boot later
    r = _boot(q, m)
    # the record named boot 1: boot 3 does not honour it
    assert _boots(r) == [(log.RESET_POWER_ON, 1), (log.RESET_POWER_ON, 2),
                         (log.RESET_WATCHDOG, 3)]
    # nor any boot after (the boot count moves on)
    s = _boot(r, m)
    assert _boots(s)[-1] == (log.RESET_WATCHDOG, 4)


def test_maintenance_repl_resets_into_a_boot_without_the_firmware():
    m = Machine(PWRON_RESET)
    p = pod()
    maint = _maintenance(m)
    Client(p).ok(c.MSG_MAINTENANCE, c.MAINT_REPL)
    assert p.maintenance_due() == "repl"
    maint.reset(p, "repl")
    assert storefile.read(p.root, "reset_intent") == b"\x01\x00\x02"  # boot 1, maintenance
    assert m.resets == 1
    assert _boot(p, m) is None  # the maintenance boot: no Pod, no HAL, no watchdog
    assert _Pin.driven == {15: (_Pin.OUT, 0), 16: (_Pin.OUT, 0), 17: (_Pin.OUT, 0)}
    # mpremote's work done, a reset (podctl flash's, or anyone's) runs the
    # firmware again, and it was commanded
    m.reset()
    q = _boot(p, m)
    assert q is not None and q.boot_count == 2
    assert _boots(q) == [(log.RESET_POWER_ON, 1), (log.RESET_SOFT, 2)]
    # and the next watchdog reset is a hang again, not maintenance
    m.reset()
    r = _boot(q, m)
    assert r is not None and _boots(r)[-1] == (log.RESET_WATCHDOG, 3)


def test_a_power_cut_before_the_maintenance_reset_boots_the_firmware():
    m = Machine(PWRON_RESET)
    p = pod()
    maint = _maintenance(m)
    m.reset = lambda: None  # cut between the record and the reset
    maint.reset(p, "repl")
    q = _boot(p, m)  # power-on: the firmware, not maintenance
    assert q is not None and _Pin.driven == {}
    # a hang in that boot: the stale "maintenance" record names boot 1, the
    # firmware ran as boot 2: the firmware boots, and logs a watchdog reset
    m.cause = WDT_RESET
    r = _boot(q, m)
    assert r is not None
    assert _boots(r) == [(log.RESET_POWER_ON, 1), (log.RESET_POWER_ON, 2),
                         (log.RESET_WATCHDOG, 3)]


def test_no_record_or_a_reboot_record_is_no_maintenance_boot():
    m = Machine()
    p = pod()
    maint = _maintenance(m)
    assert not maint.boot(p.root)  # no record
    storefile.write(p.root, "reset_intent", b"\x01\x00\x01")
    assert not maint.boot(p.root)  # a reboot's
    storefile.write(p.root, "reset_intent", b"\x01\x00")
    assert not maint.boot(p.root)  # not one this firmware writes
    assert _Pin.driven == {}
