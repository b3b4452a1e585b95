# Faults at scheduled times, data-driven from the scenario's [[fault]] list.
#
# Physical faults act on the plant or the sensors as soon as they are due;
# the ones only the co-simulation runner can act on (the board losing power
# or resetting, the flash filling, the link dropping) come back to it as
# events, each exactly once.
#
#   kind            target / params                  acts on
#   probe_open      probe                            sensors
#   probe_short     probe                            sensors
#   probe_stuck     probe                            sensors
#   probe_drift     probe, rate_mdegc_per_h          sensors
#   probe_noise     probe, sigma_mdegc, duration_s   sensors
#   probe_recover   probe                            sensors
#   env_sensor_fail                                  sensors
#   lid_open        duration_s                       sensors (switch; the
#                                                    thermal lid is the phase's)
#   heater_fail                                      plant
#   peltier_fail                                     plant
#   peltier_stuck                                    plant (keeps its duty)
#   brownout        duration_s (board off)           runner
#   reset           cause: watchdog | soft | brownout | power_on
#   storage_full                                     runner
#   link_loss       duration_s                       runner (also link_down(t))
#
# API
#   Fault(spec)                    spec: a validated scenario [[fault]] dict
#   FaultSchedule(specs)
#   schedule.due(t_s, plant, sensors) -> list of runner Faults now due
#       (physical ones are applied here; returns () quickly when nothing is)
#   schedule.link_down(t_s) -> bool
#
# Plain classes (CPython and MicroPython).

PROBE_KINDS = (
    "probe_open",
    "probe_short",
    "probe_stuck",
    "probe_drift",
    "probe_noise",
    "probe_recover",
)
PLANT_KINDS = ("heater_fail", "peltier_fail", "peltier_stuck")
SENSOR_KINDS = ("env_sensor_fail", "lid_open")
RUNNER_KINDS = ("brownout", "reset", "storage_full", "link_loss")
KINDS = PROBE_KINDS + PLANT_KINDS + SENSOR_KINDS + RUNNER_KINDS
RESET_CAUSES = ("power_on", "watchdog", "soft", "brownout")
_EMPTY = ()


class Fault:
    def __init__(self, spec):
        self.kind = spec["kind"]
        if self.kind not in KINDS:
            raise ValueError("unknown fault kind %r" % self.kind)
        if "at_s" in spec:
            self.at_s = float(spec["at_s"])
        else:
            self.at_s = float(spec["at_h"]) * 3600.0
        if "duration_s" in spec:
            self.duration_s = float(spec["duration_s"])
        else:
            self.duration_s = float(spec.get("duration_h", 0.0)) * 3600.0
        self.probe = int(spec.get("probe", 0))
        self.rate_mdegc_per_h = float(spec.get("rate_mdegc_per_h", 0.0))
        self.sigma_mdegc = float(spec.get("sigma_mdegc", 0.0))
        self.cause = spec.get("cause", "watchdog")
        self.end_s = self.at_s + self.duration_s

    def __repr__(self):
        return "Fault(%s at %ds)" % (self.kind, int(self.at_s))


class FaultSchedule:
    def __init__(self, specs):
        faults = [f if isinstance(f, Fault) else Fault(f) for f in specs]
        faults.sort(key=lambda f: f.at_s)
        self.faults = faults
        self.fired = []  # faults applied or returned so far, in order
        self._next = 0
        self._next_at = faults[0].at_s if faults else 1e300
        self._links = [f for f in faults if f.kind == "link_loss"]

    def due(self, t_s, plant, sensors):
        if t_s < self._next_at:
            return _EMPTY
        out = []
        faults = self.faults
        while self._next < len(faults) and faults[self._next].at_s <= t_s:
            f = faults[self._next]
            self._next += 1
            self.fired.append(f)
            if not self._apply(f, plant, sensors):
                out.append(f)
        self._next_at = faults[self._next].at_s if self._next < len(faults) else 1e300
        return out

    def _apply(self, f, plant, sensors):
        """Act on a physical fault; False if it is the runner's."""
        k = f.kind
        if k == "probe_open":
            sensors.probe_open(f.probe)
        elif k == "probe_short":
            sensors.probe_short(f.probe)
        elif k == "probe_stuck":
            sensors.probe_stuck(f.probe)
        elif k == "probe_drift":
            sensors.probe_drift(f.probe, f.rate_mdegc_per_h)
        elif k == "probe_noise":
            sensors.probe_noise(f.probe, f.sigma_mdegc, f.end_s)
        elif k == "probe_recover":
            sensors.probe_recover(f.probe)
        elif k == "env_sensor_fail":
            sensors.env_fail()
        elif k == "lid_open":
            sensors.lid_window(f.end_s)
        elif k == "heater_fail":
            plant.fail_heater()
        elif k == "peltier_fail":
            plant.fail_peltier()
        elif k == "peltier_stuck":
            plant.stick_peltier()
        else:
            return False
        return True

    def link_down(self, t_s):
        for f in self._links:
            if f.at_s <= t_s < f.end_s:
                return True
        return False
