# The hardware boundary. Everything the firmware knows of the world goes
# through one object with these methods; the board (firmware/hal/rp2.py),
# the simulator and the tests each provide one. Units are fixed-point
# integers so the tick never allocates: milli-degrees Celsius, per-mille
# duty, millivolts, milli-g.
#
# Nothing here touches hardware at import time: a HAL does its set-up in
# its constructor, called once by the firmware's boot code.

NPROBES = 4


class Hal:
    """The interface; methods a HAL must provide. Defaults raise so a
    missing method is found on first use, not guessed."""

    def uptime_ms(self):
        """Monotonic milliseconds since boot (wraps like ticks_ms)."""
        raise NotImplementedError

    def read_probes(self, out):
        """Write NPROBES temperatures (mdegC) into the list out; return a
        bitmask of probes that could not be read (open/short circuit)."""
        raise NotImplementedError

    def read_env(self, out):
        """Write [humidity permille RH, pressure in 0.1 hPa] into out;
        return 0, or 1 if the sensor did not answer."""
        raise NotImplementedError

    def battery_mv(self):
        raise NotImplementedError

    def lid_open(self):
        raise NotImplementedError

    def shock_mg(self):
        """Peak acceleration magnitude since the last call, milli-g."""
        raise NotImplementedError

    def set_heater(self, permille):
        """Heater duty 0..1000."""
        raise NotImplementedError

    def set_peltier(self, permille):
        """Peltier duty -1000..1000: positive cools the payload."""
        raise NotImplementedError

    def feed_watchdog(self):
        raise NotImplementedError

    def reset_cause(self):
        """One of protocol.log.RESET_*."""
        raise NotImplementedError

    def storage_root(self):
        """Path of the littlefs filesystem holding log, profile, identity."""
        raise NotImplementedError
