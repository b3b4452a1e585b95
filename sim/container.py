# The simulated container around one board: thermal plant, battery,
# sensors, mission timeline and fault schedule, and the board's power --
# booting it, losing it with its RAM, bringing it back. The lock-step
# co-simulation (sim/cosim.py) and the virtual board (sim/vboard.py) both
# step this one object; they differ only in who owns the clock and what
# they record.
#
# Plain code for CPython and MicroPython. Nothing of firmware/ or protocol/
# is imported at module level: the virtual board loads the simulator before
# the firmware on its flash image, so boot() imports the Pod when it runs.
from sim.environment import Timeline
from sim.faults import FaultSchedule
from sim.plant import Plant
from sim.power import Battery
from sim.rng import Rng
from sim.sensors import Sensors
from sim.simhal import SimHal

# protocol.log.RESET_*: the firmware's own numbers
RESET_POWER_ON = 1
RESET_WATCHDOG = 2
RESET_BROWNOUT = 4
CAUSES = {"power_on": 1, "watchdog": 2, "soft": 3, "brownout": 4}


class Container:
    def __init__(self, sc, seed, root):
        self.plant = Plant(sc["container"])
        self.battery = Battery(sc["power"])
        self.sensors = Sensors(sc["sensors"], Rng(seed))
        self.timeline = Timeline(sc["phases"])
        self.faults = FaultSchedule(sc["faults"])
        self.hal = SimHal(self.sensors, self.battery, root)
        self.pod = None
        self.on_boot = None  # on_boot(pod): e.g. wire its link to a transport
        self.down_until = -1  # board off (brownout) until this second
        self.storage_full = False
        self.resets = []  # [mission s, cause]: reset faults and power returning
        self.empty_at = None  # mission second the battery ran out
        self.ticks = 0

    def boot(self, cause):
        """Start the firmware: the RAM is new, the flash is what it was."""
        from firmware.pod import Pod

        hal = self.hal
        hal.now_ms = 0
        hal.cause = cause
        pod = Pod(hal).boot()
        if self.storage_full:
            pod.store.budget = pod.store.size
        self.pod = pod
        if self.on_boot is not None:
            self.on_boot(pod)
        return pod

    def down(self):
        """Power lost: RAM (the open block, queued events) is gone."""
        self.pod = None
        self.hal.heater_cmd = 0
        self.hal.peltier_cmd = 0

    def step(self, t, dt):
        """dt seconds of the container up to mission second t, then one tick
        of the board if it is up. Returns the timeline's phase index."""
        plant = self.plant
        hal = self.hal
        idx, env = self.timeline.at(t)
        for f in self.faults.due(t, plant, self.sensors):
            self._fault(f, t)
        pod = self.pod
        if pod is not None:
            plant.step(dt, hal.heater_cmd, hal.peltier_cmd, env)
            self.battery.step(dt, plant.heater_w + plant.peltier_w)
            if self.battery.empty:
                self.empty_at = t
                self.down()
                pod = None
        else:
            plant.step(dt, 0, 0, env)
        self.sensors.step(t, dt, plant, env)
        if pod is None and 0 <= self.down_until <= t and not self.battery.empty:
            self.down_until = -1
            self.resets.append([t, "brownout"])
            pod = self.boot(RESET_BROWNOUT)
        if pod is not None:
            hal.now_ms += dt * 1000
            if pod.tick():
                pod.service()
                hal.feed_watchdog()
            self.ticks += 1
        return idx

    def _fault(self, f, t):
        """The faults only the runner can act on (sim/faults.py applies the
        physical ones itself)."""
        k = f.kind
        if k == "reset":
            if self.pod is not None:
                self.resets.append([t, f.cause])
                self.down()
                self.boot(CAUSES.get(f.cause, RESET_WATCHDOG))
        elif k == "brownout":
            if self.pod is not None:
                self.down()
            self.down_until = t + int(f.duration_s)
        elif k == "storage_full":
            self.storage_full = True
            if self.pod is not None:
                self.pod.store.budget = self.pod.store.size
        # link_loss: whoever owns the link drops its bytes (sim/vboard.py)
