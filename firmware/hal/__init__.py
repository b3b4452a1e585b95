# The hardware boundary. Everything the firmware knows of the world goes
# through one object with the methods below; the board (firmware/hal/rp2.py),
# the simulator (sim/simhal.py) and the tests each provide one. Units are
# fixed-point integers so the tick never allocates: milli-degrees Celsius,
# per-mille duty, millivolts, milli-g.
#
# Nothing here touches hardware at import time: a HAL does its set-up in
# its constructor, called once by the firmware's boot code.
#
#   uptime_ms()         monotonic milliseconds since boot (wraps like ticks_ms)
#   read_probes(out)    write NPROBES temperatures (mdegC) into the list out;
#                       return a bitmask of probes that could not be read
#                       (open or short circuit)
#   read_env(out)       write [humidity permille RH, pressure in 0.1 hPa] into
#                       out; return 0, or 1 if the sensor did not answer
#   battery_mv()        battery voltage, mV
#   lid_open()          True while the lid switch is open
#   shock_mg()          peak acceleration magnitude since the last call, milli-g
#   set_heater(p)       heater duty 0..1000 per mille
#   set_peltier(p)      Peltier duty -1000..1000: positive cools the payload
#   feed_watchdog()
#   reset_cause()       one of protocol.block.RESET_*
#   storage_root()      path of the littlefs filesystem holding log, profile,
#                       identity
#   simulated()         True if this is no real hardware (the simulator, a
#                       test's fake): LOG_SEAL says so, inside the seal, so a
#                       simulated log can never pass for a flown one
#
# The interface is this list, not a base class with methods that raise: on
# the board every function object costs heap, and a missing method fails on
# first use all the same (AttributeError). tests/test_sim_sensors.py checks
# that every HAL has every method.

NPROBES = 4

METHODS = (
    "uptime_ms",
    "read_probes",
    "read_env",
    "battery_mv",
    "lid_open",
    "shock_mg",
    "set_heater",
    "set_peltier",
    "feed_watchdog",
    "reset_cause",
    "storage_root",
    "simulated",
)


class Hal:
    """Base of the HALs: the methods are listed above (METHODS)."""
