# The simulator's container (sim/container.py: plant, battery, sensors,
# timeline, faults) onto the modelled board, and the board's outputs back
# onto the plant: the rp2 HAL reads what the plant does through ADC codes
# and chip registers, and its PWM duties become heater and Peltier power.
#
#   c = Coupling(board, box)          board: board.Board, box: Container
#   c.duties() -> (heater permille, peltier permille)   from the PWMs
#   c.push(env, dt_s)   the sensors' state (sensors.step ran) onto the
#                       board, then dt_s of board time; a shock since the
#                       last push is a pulse of shock_ms at its start
#   c.step(t_s, dt_s)   one step of the container with the board's duties,
#                       then push(); returns the timeline's phase index;
#                       c.runner_faults: the faults only a runner can act on
#                       BoardReset (the watchdog fired on the way) reaches
#                       the caller, who reboots the board and boots the
#                       firmware again.
#
# What each sensor becomes:
#   probes     sim/sensors.py's reading (lag, offset, drift, noise, its
#              faults) as the NTC's temperature at mux input p: open -> the
#              divider's top alone (full scale), short -> 0 V
#   BME280     the interior air's temperature, the phase's pressure and
#              humidity with the sensors' noise; env_sensor_fail -> the chip
#              stops answering (OSError EIO)
#   LIS3DH     the phase's steady acceleration on z (the container upright),
#              a shock since the last push as a pulse on z
#   battery    the pack's terminal voltage on the GP27 divider; VSYS 5.0 V
#              from the pack's converter while the pack is above 6 V
#   lid        the switch (the phase's lid or a lid fault window)
# The firmware's duties drive the plant exactly as SimHal's commands do.
#
# Plain code for CPython and MicroPython.
from sim.rp2board import board as _board

SHOCK_MS = 20  # a splash-down or landing shock's duration
VSYS_V = 5.0
CONVERTER_MIN_V = 6.0


class Coupling:
    def __init__(self, b, box, shock_ms=SHOCK_MS):
        self.board = b
        self.box = box
        self.shock_ms = shock_ms
        self._probe = [0, 0, 0, 0]
        self._env = [0, 0]
        self.runner_faults = ()  # the last step's reset/brownout/... faults

    def duties(self):
        b = self.board
        return b.heater_permille(), b.peltier_permille()

    def push(self, env, dt_s):
        b = self.board
        s = self.box.sensors
        out = self._probe
        failed = s.read_probes(out)
        for p in range(4):
            if failed >> p & 1:
                if out[p] <= -55000:
                    b.set_probe_short(p)
                else:
                    b.set_probe_open(p)
            else:
                b.set_probe_c(p, out[p] / 1000.0)
        e = self._env
        if s.read_env(e):
            b.i2c_fail(b.bme.addr)
        else:
            b.i2c_fail(b.bme.addr, False)
            b.set_env(self.box.plant.t_air, e[1] * 10.0, e[0] / 10.0)
        mv = self.box.battery.voltage_mv
        b.set_pack_v(mv / 1000.0)
        b.set_vsys_v(VSYS_V if mv >= CONVERTER_MIN_V * 1000 else mv / 1000.0)
        b.set_lid_open(s.lid_open())
        steady = env.accel_mg / 1000.0
        peak = s.take_shock_mg() / 1000.0
        ms = int(dt_s * 1000)
        if peak > steady and ms > self.shock_ms:
            b.set_accel(0.0, 0.0, peak)
            b.advance_ms(self.shock_ms)
            ms -= self.shock_ms
        b.set_accel(0.0, 0.0, steady)
        b.advance_ms(ms)

    def step(self, t_s, dt_s):
        box = self.box
        plant = box.plant
        idx, env = box.timeline.at(t_s)
        self.runner_faults = box.faults.due(t_s, plant, box.sensors)  # the caller's
        heater, peltier = self.duties()
        plant.step(dt_s, heater, peltier, env)
        box.battery.step(dt_s, plant.heater_w + plant.peltier_w)
        box.sensors.step(t_s, dt_s, plant, env)
        self.push(env, dt_s)
        return idx


def new_board(**kw):
    """A fresh current board (board.new), for a coupled run."""
    return _board.new(**kw)
