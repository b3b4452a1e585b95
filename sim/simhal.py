# The simulated board's HAL: the firmware's view of the plant, the sensors
# and the battery, on a virtual clock that the co-simulation runner owns.
#
# The runner advances hal.now_ms, steps the plant with hal.heater_cmd and
# hal.peltier_cmd (the duties the firmware set during the previous tick),
# steps the sensors and the battery, then runs a firmware tick. uptime_ms()
# wraps at 2**30 like MicroPython's ticks_ms, so the firmware's wrap
# handling is exercised in every run longer than 12.4 days (or from a
# runner-chosen start near the wrap).
#
# API (beyond firmware.hal.Hal)
#   SimHal(sensors, battery, storage_root, reset_cause=RESET_POWER_ON)
#   hal.now_ms            virtual milliseconds since the board booted
#   hal.heater_cmd, hal.peltier_cmd       last commanded duties (unclamped)
#   hal.heater_sets, hal.peltier_sets     how many times each was commanded
#   hal.watchdog_feeds, hal.last_feed_ms
#   hal.cause             what reset_cause() returns; the runner sets it
#   hal.env_reads, hal.probe_reads        call counts (for tests and bench)
#
# Plain classes (CPython and MicroPython).

# Nothing of firmware/ or protocol/ is imported: the virtual board loads the
# simulator before the firmware on its flash image and must not pull those
# packages from the host. The class has every method of firmware.hal.Hal
# (a test checks it) and the firmware's reset numbers (protocol.log.RESET_*).
RESET_POWER_ON = 1

TICKS_MASK = 0x3FFFFFFF  # MicroPython ticks_ms period is 2**30 ms


class SimHal:
    def __init__(self, sensors, battery, storage_root, reset_cause=RESET_POWER_ON):
        self.sensors = sensors
        self.battery = battery
        self._root = storage_root
        self.now_ms = 0
        self.cause = reset_cause
        self.heater_cmd = 0
        self.peltier_cmd = 0
        self.heater_sets = 0
        self.peltier_sets = 0
        self.watchdog_feeds = 0
        self.last_feed_ms = -1
        self.probe_reads = 0
        self.env_reads = 0

    def uptime_ms(self):
        return self.now_ms & TICKS_MASK

    def read_probes(self, out):
        self.probe_reads += 1
        return self.sensors.read_probes(out)

    def read_env(self, out):
        self.env_reads += 1
        return self.sensors.read_env(out)

    def battery_mv(self):
        return self.battery.voltage_mv

    def lid_open(self):
        return self.sensors.lid_open()

    def shock_mg(self):
        return self.sensors.take_shock_mg()

    def set_heater(self, permille):
        self.heater_cmd = permille
        self.heater_sets += 1

    def set_peltier(self, permille):
        self.peltier_cmd = permille
        self.peltier_sets += 1

    def feed_watchdog(self):
        self.watchdog_feeds += 1
        self.last_feed_ms = self.now_ms

    def reset_cause(self):
        return self.cause

    def storage_root(self):
        return self._root

    def simulated(self):
        return True  # LOG_SEAL marks every log of the simulator as such
