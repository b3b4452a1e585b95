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


# The actuator watch (issue 17): an output driven hard without effect.
_HEATER, _PELTIER_HEATS, _PELTIER_COOLS = 1, 2, 4


def _watch(ctl, plant, seconds, dt=1, lid_at=None):
    """Run the loop; returns [(second, found bits, moved, judged s)] of
    each finding (what the pod logs then)."""
    hal = plant.hal
    found = []
    for s in range(0, seconds, dt):
        plant.step(dt)
        got = ctl.run(codes.MODE_PID, hal.temps[0], True, dt)
        hal.heater = ctl.heater
        hal.peltier = ctl.peltier
        if got:
            found.append((s, got, hal.temps[0] - ctl.acc[3], ctl.acc[2] >> 6))
    return found


def test_a_dead_heater_is_found_and_the_peltier_takes_over():
    # cold bay, heater only (no PHASE_PELTIER_HEATS): the pad fails open
    ctl, plant = _rig(5.0, -6.0, flags=BOTH)  # the heater holds it at about 2/5
    _watch(ctl, plant, 3 * 3600)
    assert abs(plant.t - 5.0) < 0.3 and ctl.peltier == 0  # the heater holds it
    plant.k_heat = 0.0  # failed open: duty, and no heat
    found = _watch(ctl, plant, 6 * 3600)
    assert [f[1] for f in found] == [_HEATER], found
    _, _, moved, judged = found[0]
    assert moved < 100 and judged == 1800  # moved under 0.1 K in the window judged
    assert ctl.acc[2] >> 3 & 7 == _HEATER
    # from then on the Peltier reversed heats; the band comes back
    _watch(ctl, plant, 4 * 3600)
    assert ctl.peltier < 0 and abs(plant.t - 5.0) < 0.3, (ctl.peltier, plant.t)


def test_a_working_heater_driven_hard_is_not_a_fault():
    # a cold start far below the setpoint: full heat for hours, but warming
    ctl, plant = _rig(-15.0, -20.0, flags=BOTH)
    plant.k_heat = 2e-5
    found = _watch(ctl, plant, 8 * 3600, dt=10)
    assert found == [] and ctl.acc[2] >> 3 & 7 == 0
    assert ctl.heater > 0


def test_a_dead_peltier_is_found_cooling_and_reported_once():
    ctl, plant = _rig(5.0, 25.0)
    plant.k_cool = 0.0  # the module is dead: it is driven, nothing cools
    found = _watch(ctl, plant, 12 * 3600, dt=10)
    assert [f[1] for f in found] == [_PELTIER_COOLS], found  # once, not each window
    assert found[0][2] > 0 and found[0][3] == 1800  # the payload warmed in the window


def test_both_heating_outputs_dead_are_found_together():
    ctl, plant = _rig(5.0, -6.0, flags=BOTH | pf.PHASE_PELTIER_HEATS)
    plant.k_heat = 0.0
    plant.k_cool = 0.0
    found = _watch(ctl, plant, 8 * 3600, dt=10)
    assert [f[1] for f in found] == [_HEATER | _PELTIER_HEATS], found


def test_the_watch_needs_a_temperature_and_restarts_without_one():
    ctl, plant = _rig(5.0, -6.0, flags=BOTH)
    plant.k_heat = 0.0
    hal = plant.hal
    found = []
    for s in range(0, 12 * 3600, 10):
        plant.step(10)
        # every 20 min the probes are lost for a tick: no window completes
        have = s % 1200 != 0
        found.append(ctl.run(codes.MODE_PID, hal.temps[0], have, 10))
        hal.heater = ctl.heater
        hal.peltier = ctl.peltier
    assert not any(found) and ctl.acc[2] >> 3 & 7 == 0


def test_a_new_profile_forgets_the_finding():
    ctl, plant = _rig(5.0, -6.0, flags=BOTH)
    plant.k_heat = 0.0
    _watch(ctl, plant, 8 * 3600, dt=10)
    assert ctl.acc[2] >> 3 & 7 == _HEATER
    ctl.reset()
    assert ctl.acc == [0, 0, 0, 0]
