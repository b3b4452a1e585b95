# Numbers the firmware reports in STATUS and in log events: controller modes,
# alarms, probe fault kinds. Defined once, here; protocol/names.py gives the
# host their names (kept off the board, where every table costs heap).
try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Controller modes (STATUS.mode, EV_MODE a/b).
MODE_IDLE = const(0)  # no profile: outputs off
MODE_PID = const(1)  # two PI loops, heat and cool, with a deadband
MODE_ONOFF = const(2)  # thermostat with hysteresis: the simple fallback
MODE_HOLD = const(3)  # safe mode: keep the last outputs
MODE_PASSIVE = const(4)  # safe mode: outputs off, insulation only
MODE_HEAT_ONLY = const(5)  # safe mode: heater only, never cool

SAFE_MODES = (MODE_HOLD, MODE_PASSIVE, MODE_HEAT_ONLY)

# Alarms: bit n of STATUS.alarms is alarm n; EV_ALARM_* carry n in `a`.
# Each latches when raised and stays latched until the profile is replaced.
ALARM_HIGH = const(0)  # above band_high longer than the phase's event delay
ALARM_LOW = const(1)  # below band_low longer than the phase's event delay
ALARM_CUMULATIVE = const(2)  # total time out of band over the mission budget
ALARM_ABS_HIGH = const(3)  # above the phase's absolute limit, at once
ALARM_ABS_LOW = const(4)
ALARM_SHOCK = const(5)
ALARM_LID = const(6)  # lid open longer than the profile's delay
ALARM_BATTERY_LOW = const(7)
ALARM_PROBES = const(8)  # fewer good probes than the profile needs
ALARM_STORAGE = const(9)  # log full (stop policy) or flash failed
# 10 actuator: an output driven hard without effect (firmware/control.py)
# 11 hold: a phase held longer than its max_hold_h
# (protocol/names.py names them; the firmware writes them as numbers: a
# name here would cost the board a qstr, and its pools have few to spare)
NALARMS = const(12)  # bits 0 .. NALARMS - 1 of STATUS.alarms

# Probe fault kinds (EV_PROBE_FAULT b).
FAULT_READ = const(1)  # open or short circuit: the HAL could not read it
FAULT_RANGE = const(2)  # outside the profile's plausible range
FAULT_RATE = const(3)  # changed faster than physics allows
FAULT_STUCK = const(4)  # same value for longer than the profile allows
FAULT_DISAGREE = const(5)  # far from the median of the others
