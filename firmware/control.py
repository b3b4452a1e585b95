# Thermal control: from the payload temperature estimate to heater and
# Peltier duty, in fixed-point integers (floats allocate on MicroPython).
#
# PID mode runs two PI loops, one per direction: heat (heater, and the
# Peltier run backwards where the phase allows) and cool (Peltier). Only one
# direction is active; it changes only when the error crosses the far edge
# of the deadband, so noise around the setpoint cannot make the outputs
# chatter between heating and cooling. Anti-windup: the integral term is
# clamped to [0, output max] and stops growing while the output saturates.
# Outputs move at most `slew` per mille per second (Peltier modules crack
# under thermal shock; the battery dislikes current steps).
#
# Units: error in mdegC; kp in per mille of duty per degC; ki in per mille
# per degC per minute; the integral accumulates mdegC * s.
#
# The actuator watch (issue 17: the heater pad failed open in orbit and
# nothing said so). An output driven hard, at 4/5 of its maximum or more,
# for _WATCH_S seconds in a row must have moved the payload its way by
# _MOVE mdegC: a working 15 W heater at 4/5 warms the payload by kelvins in
# that time; one that failed open, or a dead Peltier, leaves it flat or
# losing. If not, the outputs driven hard are found without effect: run()
# returns their bits (_ACT_*) once, the pod logs ACTUATOR_FAULT and raises
# alarm `actuator`. The watch restarts when the set of outputs driven hard
# changes, when there is no temperature, and (the pod) while the lid is
# open, a cause of its own. What still works keeps controlling: with the
# heater found dead, the Peltier runs backwards to heat in every phase that
# may heat, whatever PHASE_PELTIER_HEATS says. The finding is forgotten at
# boot and when a profile is accepted (reset()); the watch finds it again.
# It cannot see a failure the other output covers: with the Peltier heating
# beside it (PHASE_PELTIER_HEATS), a dead heater is outworked, not noticed.
try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from protocol import codes
from protocol import profile_bin as pf

E_CLAMP = 20000  # mdegC: keeps kp * e inside the RP2040's small ints
_WATCH_S = const(1800)  # s an output must be driven hard before it is judged
_MOVE = const(100)  # mdegC it must move the payload its way in that time
# The outputs (ACTUATOR_FAULT a, alarm `actuator`'s value; SPEC 9.4).
_ACT_HEATER = const(1)
_ACT_PELTIER_HEATS = const(2)
_ACT_PELTIER_COOLS = const(4)
# The watch's state lives in acc's two slots after the integrals, packed:
# a name each would cost a qstr, and a list of its own (or a longer acc)
# the heap the day's mission flies in, 62 KiB, has no room for
# (tests/test_firmware_heap.py).
_WATCH = const(2)  # the outputs driven hard now (bits 0-2) | those found
#                    without effect << 3 | the seconds driven hard << 6 (on
#                    a finding: the window just judged)
_FROM = const(3)  # payload temperature when the window began, mdegC


def _slew(now, target, step):
    if target > now + step:
        return now + step
    if target < now - step:
        return now - step
    return target


class Controller:
    def __init__(self):
        self.heater = 0  # per mille, 0..1000
        self.peltier = 0  # per mille, + cools, - heats
        self.direction = 0  # 1 heating, -1 cooling, 0 neither yet
        # integral of the heat loop, of the cool loop (mdegC * s); then the
        # actuator watch (_WATCH, _FROM)
        self.acc = [0, 0, 0, 0]
        self.configure(500, 20, 500, 20, 500, 20, 1000, 1000, 0)
        self.set_phase(5000, pf.PHASE_COOL | pf.PHASE_HEAT)

    def configure(
        self, kp_h, ki_h, kp_c, ki_c, deadband, slew, heater_max, peltier_max, safe_heat
    ):
        self.kp_h = kp_h
        self.ki_h = ki_h
        self.kp_c = kp_c
        self.ki_c = ki_c
        self.deadband = deadband
        self.slew = slew
        self.heater_max = heater_max
        self.peltier_max = peltier_max
        self.safe_heat = safe_heat

    def set_phase(self, setpoint, flags):
        self.setpoint = setpoint
        self.flags = flags

    def _pi(self, e, kp, ki, k, dt, top):
        """One direction's PI step on integral self.acc[k]; returns the
        output (a tuple would allocate). e > 0 asks for this direction."""
        acc = self.acc[k]
        if e > E_CLAMP:
            e = E_CLAMP
        elif e < -E_CLAMP:
            e = -E_CLAMP
        p = kp * e // 1000
        i = ki * acc // 60000 if ki else 0
        u = p + i
        # integrate only while the output is not pinned in e's direction
        if ki and not (u >= top and e > 0) and not (u <= 0 and e < 0):
            acc += e * dt
            lim = top * 60000 // ki
            if acc > lim:
                acc = lim
            elif acc < 0:
                acc = 0
            u = p + ki * acc // 60000
            self.acc[k] = acc
        if u > top:
            u = top
        elif u < 0:
            u = 0
        return u

    def run(self, mode, temp, have_temp, dt):
        """Set heater and peltier for this tick; returns the _ACT_* bits of
        outputs the watch has just found without effect (0: none)."""
        heat = 0
        cool = 0
        e = self.setpoint - temp
        flags = self.flags
        if mode == codes.MODE_HOLD:
            return 0
        if mode == codes.MODE_PID and have_temp:
            db = self.deadband
            if e > db and self.direction != 1 and flags & pf.PHASE_HEAT:
                self.direction = 1
                self.acc[1] = 0
            elif e < -db and self.direction != -1 and flags & pf.PHASE_COOL:
                self.direction = -1
                self.acc[0] = 0
            if self.direction == 1 and flags & pf.PHASE_HEAT:
                heat = self._pi(e, self.kp_h, self.ki_h, 0, dt, 1000)
            elif self.direction == -1 and flags & pf.PHASE_COOL:
                cool = self._pi(-e, self.kp_c, self.ki_c, 1, dt, 1000)
        elif mode == codes.MODE_ONOFF and have_temp:
            # thermostat: full output beyond the deadband, off at setpoint
            db = self.deadband
            if e > db or (self.direction == 1 and e > 0):
                self.direction = 1 if flags & pf.PHASE_HEAT else 0
            elif e < -db or (self.direction == -1 and e < 0):
                self.direction = -1 if flags & pf.PHASE_COOL else 0
            else:
                self.direction = 0
            heat = 1000 if self.direction == 1 else 0
            cool = 1000 if self.direction == -1 else 0
        elif mode == codes.MODE_HEAT_ONLY:
            if have_temp:
                heat = 1000 if e > 0 else 0
            else:
                heat = self.safe_heat
        # MODE_PASSIVE, MODE_IDLE, or no temperature in PID/ONOFF: all off
        if heat > self.heater_max:
            heat = self.heater_max
        if cool > self.peltier_max:
            cool = self.peltier_max
        pelt = cool
        w = self.acc
        found = w[_WATCH] >> 3 & 7
        if heat and not found & _ACT_PELTIER_HEATS and (
            found & _ACT_HEATER
            or flags & pf.PHASE_PELTIER_HEATS and mode != codes.MODE_HEAT_ONLY
        ):
            pelt = -(heat if heat < self.peltier_max else self.peltier_max)
        step = self.slew * dt
        self.heater = _slew(self.heater, heat, step)
        self.peltier = _slew(self.peltier, pelt, step)
        # the actuator watch (above), here: a method's name costs a qstr
        hard = 0
        if have_temp:
            top = self.heater_max
            if top and self.heater >= top - top // 5:
                hard = _ACT_HEATER
            top = self.peltier_max
            if top and -self.peltier >= top - top // 5:
                hard |= _ACT_PELTIER_HEATS
            elif top and self.peltier >= top - top // 5:
                hard = _ACT_PELTIER_COOLS
        since = w[_WATCH] >> 6
        if hard != w[_WATCH] & 7:
            w[_WATCH] = found << 3 | hard
            w[_FROM] = temp
            return 0
        if not hard:
            return 0
        if since >= _WATCH_S:  # judged on the last tick: the next window starts
            since = 0
            w[_FROM] = temp
        since += dt
        w[_WATCH] = since << 6 | found << 3 | hard
        if since < _WATCH_S:
            return 0
        moved = temp - w[_FROM]  # (the pod logs it: the same sum)
        if hard == _ACT_PELTIER_COOLS:
            moved = -moved  # cooling must bring it down
        if moved >= _MOVE:
            return 0
        hard &= ~found  # each output is reported once
        w[_WATCH] |= hard << 3
        if hard & _ACT_HEATER:
            # the Peltier takes over from here: the heating loop's integral,
            # wound up against a dead heater, would overshoot with it
            self.acc[0] = 0
        return hard

    def reset(self):
        self.direction = 0
        w = self.acc
        for i in range(len(w)):  # the integrals and the actuator watch
            w[i] = 0
