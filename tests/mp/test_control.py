# Thermal control on a one-node plant (both interpreters): convergence both
# ways, no heat/cool chatter inside the deadband, anti-windup, slew limit,
# the fallback thermostat and the safe modes.
from _fakehal import FakeHal, Plant

from firmware.control import Controller
from protocol import codes
from protocol import profile as pf

BOTH = pf.PHASE_COOL | pf.PHASE_HEAT


class Trace:
    """What a test asks of a run, kept as running figures (a list of every
    second would not fit MicroPython's default heap)."""

    def __init__(self):
        self.lo = 10**9
        self.hi = -(10**9)
        self.switches = 0  # active direction flipped between heat and cool
        self.heated = False
        self.max_step = 0  # largest heater change in one second
        self.first = None
        self._dir = 0
        self._heater = 0

    def add(self, temp, heater, peltier):
        self.lo = min(self.lo, temp)
        self.hi = max(self.hi, temp)
        if self.first is None:
            self.first = heater
        self.max_step = max(self.max_step, abs(heater - self._heater))
        self._heater = heater
        self.heated = self.heated or heater > 0
        d = 1 if heater > 0 else -1 if peltier > 0 else 0
        if d and self._dir and d != self._dir:
            self.switches += 1
        if d:
            self._dir = d


def _loop(ctl, plant, seconds, mode=codes.MODE_PID, trace=None):
    hal = plant.hal
    for s in range(seconds):
        plant.step()
        ctl.run(mode, hal.temps[0], True, 1)
        hal.heater = ctl.heater
        hal.peltier = ctl.peltier
        if trace is not None:
            trace.add(hal.temps[0], ctl.heater, ctl.peltier)


def _rig(temp, ambient, setpoint=5000, flags=BOTH, peltier_max=1000):
    ctl = Controller()
    ctl.configure(400, 40, 400, 40, 300, 50, 1000, peltier_max, 200)
    ctl.set_phase(setpoint, flags)
    hal = FakeHal("/", int(temp * 1000))
    plant = Plant(hal, temp, ambient, tau=3000.0, k_heat=1e-5, k_cool=1e-5)
    return ctl, plant


def test_cools_to_setpoint_and_holds():
    ctl, plant = _rig(15.0, 20.0)
    _loop(ctl, plant, 4 * 3600)
    last = Trace()
    _loop(ctl, plant, 2 * 3600, trace=last)
    assert 2000 <= last.lo and last.hi <= 8000
    assert abs(plant.t - 5.0) < 0.2, plant.t
    assert last.switches == 0
    assert not last.heated  # never heats while cooling holds


def test_heats_to_setpoint_in_the_cold():
    ctl, plant = _rig(-5.0, -10.0, setpoint=37000 - 32000)
    _loop(ctl, plant, 6 * 3600)
    assert abs(plant.t - 5.0) < 0.2, plant.t
    assert ctl.peltier == 0 and ctl.heater > 0


def test_no_chatter_inside_deadband():
    ctl, plant = _rig(5.0, 5.0)
    plant.hal.noise = 100  # +-0.2 degC of noise, inside the 0.3 degC deadband
    trace = Trace()
    for s in range(3600):
        plant.step()
        plant.hal.read_probes(plant.hal.temps)  # noisy reading
        ctl.run(codes.MODE_PID, plant.hal.temps[0], True, 1)
        plant.hal.heater = ctl.heater
        plant.hal.peltier = ctl.peltier
        trace.add(0, ctl.heater, ctl.peltier)
    assert trace.switches == 0


def test_anti_windup_after_long_saturation():
    # too hot to hold with a weak Peltier for 5 hours, then the sun sets
    ctl, plant = _rig(5.0, 40.0, peltier_max=300)
    _loop(ctl, plant, 5 * 3600)
    assert ctl.peltier == 300
    assert ctl.ki_c * ctl.acc[1] // 60000 <= 1000  # integral never beyond full
    plant.ambient = 10.0
    trace = Trace()
    _loop(ctl, plant, 4 * 3600, trace=trace)
    assert trace.lo >= 2000  # no undershoot out of band
    assert abs(plant.t - 5.0) < 0.3


def test_slew_limits_output_steps():
    ctl, plant = _rig(-20.0, -20.0)
    trace = Trace()
    _loop(ctl, plant, 60, trace=trace)
    assert trace.max_step == 50 and trace.first == 50
    assert ctl.heater == 1000


def test_onoff_fallback_holds_the_band():
    ctl, plant = _rig(15.0, 20.0)
    _loop(ctl, plant, 4 * 3600, mode=codes.MODE_ONOFF)
    trace = Trace()
    _loop(ctl, plant, 2 * 3600, mode=codes.MODE_ONOFF, trace=trace)
    assert 2000 <= trace.lo and trace.hi <= 8000


def test_safe_modes():
    ctl, plant = _rig(15.0, 20.0)
    _loop(ctl, plant, 600)
    held = (ctl.heater, ctl.peltier)
    assert held[1] > 0
    _loop(ctl, plant, 60, mode=codes.MODE_HOLD)
    assert (ctl.heater, ctl.peltier) == held
    _loop(ctl, plant, 60, mode=codes.MODE_PASSIVE)
    assert (ctl.heater, ctl.peltier) == (0, 0)
    ctl, plant = _rig(0.0, -10.0)
    _loop(ctl, plant, 60, mode=codes.MODE_HEAT_ONLY)
    assert ctl.heater == 1000 and ctl.peltier == 0
    ctl.run(codes.MODE_HEAT_ONLY, 0, False, 100)  # no probe left: fixed duty
    assert ctl.heater == 200 and ctl.peltier == 0


def test_peltier_helps_heat_only_where_the_phase_allows():
    ctl, plant = _rig(0.0, -10.0, flags=BOTH | pf.PHASE_PELTIER_HEATS)
    _loop(ctl, plant, 120)
    assert ctl.peltier < 0 and ctl.heater > 0
    ctl, plant = _rig(0.0, -10.0, flags=pf.PHASE_HEAT)
    _loop(ctl, plant, 120)
    assert ctl.peltier == 0
