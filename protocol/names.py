# The names of the numbers in protocol/codes.py, for the host's tables,
# reports and profile files. The firmware never imports this module.
from protocol.codes import *  # noqa: F401,F403 the numbers: defined there

# Alarms the firmware writes as numbers (protocol/codes.py says why).
ALARM_ACTUATOR = 10
ALARM_HOLD = 11

MODES = (
    (MODE_IDLE, "idle"),
    (MODE_PID, "pid"),
    (MODE_ONOFF, "onoff"),
    (MODE_HOLD, "hold"),
    (MODE_PASSIVE, "passive"),
    (MODE_HEAT_ONLY, "heat_only"),
)
ALARMS = (
    (ALARM_HIGH, "high"),
    (ALARM_LOW, "low"),
    (ALARM_CUMULATIVE, "cumulative"),
    (ALARM_ABS_HIGH, "abs_high"),
    (ALARM_ABS_LOW, "abs_low"),
    (ALARM_SHOCK, "shock"),
    (ALARM_LID, "lid"),
    (ALARM_BATTERY_LOW, "battery_low"),
    (ALARM_PROBES, "probes"),
    (ALARM_STORAGE, "storage"),
    (ALARM_ACTUATOR, "actuator"),
    (ALARM_HOLD, "hold"),
)

FAULTS = (
    (FAULT_READ, "read"),
    (FAULT_RANGE, "range"),
    (FAULT_RATE, "rate"),
    (FAULT_STUCK, "stuck"),
    (FAULT_DISAGREE, "disagree"),
)


def name(table, number):
    for n, s in table:
        if n == number:
            return s
    return str(number)


def number(table, label):
    for n, s in table:
        if s == label:
            return n
    return None
