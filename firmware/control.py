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
from protocol import codes
from protocol import profile_bin as pf

E_CLAMP = 20000  # mdegC: keeps kp * e inside the RP2040's small ints


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
        self.acc = [0, 0]  # integral of heat, of cool loop, mdegC * s
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
        """Set heater and peltier for this tick."""
        heat = 0
        cool = 0
        e = self.setpoint - temp
        flags = self.flags
        if mode == codes.MODE_HOLD:
            return
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
        if heat and flags & pf.PHASE_PELTIER_HEATS and mode != codes.MODE_HEAT_ONLY:
            pelt = -(heat if heat < self.peltier_max else self.peltier_max)
        step = self.slew * dt
        self.heater = _slew(self.heater, heat, step)
        self.peltier = _slew(self.peltier, pelt, step)

    def reset(self):
        self.direction = 0
        self.acc[0] = 0
        self.acc[1] = 0
