# Every way the modelled Pico resets, through the unchanged firmware and rp2
# HAL, and what each boot logged (issue 16: rp2hal_reboots_misreported).
# MicroPython only (the board's filesystem is mounted at "/", where
# Rp2Hal.storage_root() says it is); tests/rp2_reboots.py runs it:
#
#   micropython _rp2_reboots.py IMAGE [ignore]   prints one JSON object
#
# rp2's machine.reset() is a watchdog reboot, so reset_cause() says
# WDT_RESET after a commanded reset as after a hang; the firmware records
# its intent first (firmware/maintenance.py) and Pod.boot reads it. Each step
# below makes one reset as the board would meet it and names the cause the
# next BOOT event must carry (protocol.block.RESET_*): a commanded one (the
# link's MAINTENANCE REBOOT, MAINTENANCE REPL's maintenance boot and the
# reset out of it, podctl flash's recorded reset) RESET_SOFT; a hang and a
# fault in the loop (no intent recorded: a firmware failure reads as a
# hang) RESET_WATCHDOG; a power cut, a brown-out (the RP2040's brown-out
# detector is a power-on reset: rp2 reports PWRON_RESET) and a cut between
# the record and the reset RESET_POWER_ON. The boots are driven as
# firmware/main.py's main() drives them: maintenance.boot() first, then the
# HAL and Pod.boot(); the link's requests through pod.link (tests/mp/_rig's
# Client), the watchdog fed after each healthy tick.
#
# "ignore": the record is deleted before each firmware boot, as firmware
# that did not read it would boot; the commanded resets then read as hangs
# (the control that the figure can fail).
import json
import os
import sys

from sim.rp2board import board as _board


def fly(image, ignore):
    import vfs

    machine = _board.install(with_time=True)
    # everything the flight imports, while the host's files are still "/"
    import _rig
    from _rig import Client

    import firmware.commands  # noqa: F401
    import firmware.link  # noqa: F401
    import firmware.ram  # noqa: F401
    import protocol.keys  # noqa: F401
    from firmware import maintenance, storefile
    from firmware.guard import Guard
    from firmware.hal import rp2
    from firmware.pod import Pod
    from protocol import block, log  # noqa: F401 (_rig.log_records reads it)
    from protocol import catalogue as c
    from sim import flashdev

    bd = flashdev.device(image, True)
    vfs.umount("/")
    vfs.mount(vfs.VfsLfs2(bd), "/")
    os.chdir("/")
    Guard("").provision(_rig.DEVICE, _rig.KEY)
    b = _board.current
    for p in range(4):
        b.set_probe_c(p, 20.0)
    b.set_env(20.0, 101325.0, 45.0)
    expect = []  # (what happened, the cause its boot must log)
    notes = {"maintenance_boots": 0, "maintenance_wdt_running": 0, "outputs_on": 0}

    def boot(what, cause):
        """main()'s boot: the maintenance boot, or the HAL and the pod."""
        if maintenance.boot():
            notes["maintenance_boots"] += 1
            notes["maintenance_wdt_running"] += b.wdt_running()
            notes["outputs_on"] += b.driven(15) != 0 or b.driven(16) != 0 or b.driven(17) != 0
            return None
        if ignore:
            try:
                os.remove("/reset_intent")
            except OSError:
                pass
        expect.append((what, cause))
        return Pod(rp2.Rp2Hal()).boot()

    def run(pod, seconds):
        for _ in range(seconds):
            b.advance_ms(1000)
            if pod.tick():
                pod.service()
                pod.hal.feed_watchdog()

    def reset(pod, why):
        """main()'s end: the intent recorded (for "reboot", "repl"), then
        machine.reset(), a watchdog reboot on rp2."""
        try:
            maintenance.reset(pod, why)
        except _board.BoardReset:
            pass
        b.reboot()

    def command(pod, code):
        Client(pod).ok(c.MSG_MAINTENANCE, code)
        return pod.maintenance_due()

    def host_reset():
        """The host's reset of the maintenance boot (mpremote: machine.reset())."""
        try:
            machine.reset()
        except _board.BoardReset:
            pass
        b.reboot()

    def hang(pod):
        """The loop stops feeding: the watchdog resets 8 s on."""
        try:
            for _ in range(20):
                b.advance_ms(1000)
        except _board.BoardReset:
            pass
        b.reboot()

    pod = boot("power on", block.RESET_POWER_ON)
    run(pod, 30)
    # the link's MAINTENANCE REBOOT, twice in a row
    for _ in range(2):
        reset(pod, command(pod, c.MAINT_REBOOT))
        pod = boot("maintenance reboot", block.RESET_SOFT)
        run(pod, 30)
    hang(pod)
    pod = boot("hang", block.RESET_WATCHDOG)
    run(pod, 30)
    # MAINTENANCE REPL: the maintenance boot (no watchdog: it waits out 30 s)
    # and the host's reset back into the firmware
    reset(pod, command(pod, c.MAINT_REPL))
    assert boot("maintenance boot", None) is None
    b.advance_ms(30000)
    host_reset()
    pod = boot("out of maintenance", block.RESET_SOFT)
    run(pod, 30)
    # podctl flash: into the maintenance boot, the deploy, the reset it
    # records (flash_cmd.record_reset: the boot count last run, 1 = reboot)
    reset(pod, command(pod, c.MAINT_REPL))
    assert boot("maintenance boot", None) is None
    storefile.write("", "reset_intent", storefile.read("", "boots") + b"\x01")
    host_reset()
    pod = boot("podctl flash", block.RESET_SOFT)
    run(pod, 30)
    hang(pod)  # a hang in the boot after a commanded one is a hang
    pod = boot("hang", block.RESET_WATCHDOG)
    run(pod, 30)
    # a fault in the loop: main() resets with no intent recorded
    reset(pod, None)
    pod = boot("fault in the loop", block.RESET_WATCHDOG)
    run(pod, 30)
    b.power_cycle(0)
    pod = boot("power cut", block.RESET_POWER_ON)
    run(pod, 30)
    b.power_cycle(5000)  # the brown-out detector holds the chip in reset
    pod = boot("brown-out", block.RESET_POWER_ON)
    run(pod, 30)
    # MAINTENANCE REBOOT, the power cut between the record and the reset;
    # then a hang: the record named an earlier boot and is not honoured
    why = command(pod, c.MAINT_REBOOT)
    real = maintenance.machine

    class Cut:
        WDT_RESET = real.WDT_RESET

        def reset(self):
            pass  # the power went as the record landed

    maintenance.machine = Cut()
    try:
        maintenance.reset(pod, why)
    finally:
        maintenance.machine = real
    b.power_cycle(0)
    pod = boot("power cut before the reset", block.RESET_POWER_ON)
    run(pod, 30)
    hang(pod)
    pod = boot("hang", block.RESET_WATCHDOG)
    run(pod, 30)
    reset(pod, command(pod, c.MAINT_REBOOT))
    pod = boot("maintenance reboot", block.RESET_SOFT)
    run(pod, 30)

    _, events, _ = _rig.log_records(_rig.read_log(pod))
    logged = [(e[2] & 0x7F, e[3]) for e in events if e[1] == log.EV_BOOT]
    rows = []
    wrong = abs(len(logged) - len(expect))
    for i in range(min(len(logged), len(expect))):
        what, cause = expect[i]
        rows.append([what, cause, logged[i][0], logged[i][1]])
        if logged[i][0] != cause or logged[i][1] != i + 1:
            wrong += 1
    notes.update({"boots": len(expect), "logged": len(logged), "misreported": wrong,
                  "board_resets": len(b.resets), "rows": rows})
    return notes


print(json.dumps(fly(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "ignore")))
