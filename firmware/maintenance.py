# Resets and the maintenance boot (issue 16). firmware/main.py imports it
# at a board's boot and when the firmware resets the board; nothing else
# does (its names are qstrs, and the 64 KiB heap has few to spare).
#
# On rp2, machine.reset() is a watchdog reboot: the next boot's
# reset_cause() says WDT_RESET, as after a hang. So before a reset it was
# asked for, the firmware writes the record "reset_intent"
# (firmware/storefile.py, at the storage root): u16 the boot count of the
# boot that writes it, u8 1 = reboot, 2 = maintenance. Pod.boot logs a
# watchdog reset as RESET_SOFT if the record names the boot before it; a
# record is never honoured twice (the boot count moves on), so it is left
# on flash. A fault's reset records nothing: it stays a watchdog reset, a
# firmware failure as a hang is.
#
# The maintenance boot. A started rp2 watchdog cannot be stopped (the port
# has no deinit; a soft reset leaves it running), so MAINTENANCE REPL does
# not stop at the REPL of a running firmware, where it would reset within
# 8 s and cut a deploy short: it writes the record "maintenance" and
# resets. At the next boot, /main.py's main() calls boot() before it makes
# the HAL (whose constructor starts the watchdog): it holds the outputs off,
# turns Ctrl-C on and returns to the REPL, for mpremote. It rewrites the
# record as "reboot", so the reset that ends maintenance reads as commanded
# and runs the firmware again.
import machine

from firmware import storefile

# the heater's MOSFET gate (GP15) and the Peltier H-bridge's inputs (GP16,
# GP17): docs/reference-board.md, firmware/hal/rp2.py
_OUTPUTS = (15, 16, 17)


def boot(root=""):
    """True if this is the maintenance boot (the outputs are then held off
    and Ctrl-C is on); else False, and the firmware runs. It is one only
    right after the reset the firmware made for it: the record says
    "maintenance", names the boot count the firmware last ran as (the
    "boots" record), and the reset was a watchdog one, as machine.reset()
    is (a power cut between the record and the reset powers on). root:
    the storage root; on the board its littlefs, mounted at "/"
    (Rp2Hal.storage_root is ""; the HAL is not made here)."""
    rec = storefile.read(root, "reset_intent")
    if not rec or rec[2:] != b"\x02" or storefile.read(root, "boots") != rec[:2]:
        return False
    if machine.reset_cause() != machine.WDT_RESET:
        return False
    for pin in _OUTPUTS:
        machine.Pin(pin, machine.Pin.OUT, value=0)
    try:
        storefile.write(root, "reset_intent", rec[:2] + b"\x01")
    except OSError:
        pass  # the next boot then logs a watchdog reset: never a hang hidden
    try:
        import micropython

        micropython.kbd_intr(3)  # Ctrl-C for mpremote, in this boot only
    except ImportError:
        pass  # CPython
    return True


def reset(pod, why):
    """Reset the board; first, if it was asked for ("reboot": MAINTENANCE
    REBOOT, "repl": MAINTENANCE REPL), write the record that says so."""
    if pod is not None and (why == "reboot" or why == "repl"):
        import struct

        try:
            storefile.write(pod.root, "reset_intent", struct.pack(
                "<HB", pod.boot_count, 2 if why == "repl" else 1))
        except BaseException:
            pass  # unrecorded: the reset reads as a watchdog one
    machine.reset()
