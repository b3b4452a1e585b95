# Alarms as cold-chain loggers raise them, evaluated every tick against the
# current phase's limits:
#   high / low       beyond the band for longer than the phase's event delay
#                    (one continuous excursion: the single-event alarm)
#   cumulative       total time out of band, summed over every phase of the
#                    mission, over the profile's budget
#   abs_high/abs_low beyond the phase's absolute limits, at once
#   shock, lid (open longer than lid_s), battery_low (for BATTERY_S in a
#   row, so a heater's inrush dip does not raise it), probes, storage
# Each alarm latches: it stays set (and in every sample's status) until a
# new profile is accepted; raising one logs ALARM_RAISED with the reading.
from protocol import block as log
from protocol import codes
from protocol import profile_bin as pf

BATTERY_S = 30


class Alarms:
    def __init__(self):
        self.latched = 0  # bit n = alarm n
        self.above_s = 0  # current continuous excursion, seconds
        self.below_s = 0
        self.out_s = 0  # cumulative out-of-band seconds, all phases
        self.lid_s = 0
        self.low_batt_s = 0
        self.excursion = 0  # 1 above, -1 below, 0 in band (this tick)
        self.configure(3600, 0, 0, 0)

    def configure(self, cumulative_s, battery_low, shock, lid_s):
        self.cumulative_s = cumulative_s
        self.battery_low = battery_low
        self.shock = shock
        self.lid_limit = lid_s

    def raise_(self, n, t, phase, value, events):
        if not self.latched >> n & 1:
            self.latched |= 1 << n
            events.push(t, log.EV_ALARM_RAISED, n, phase, value)

    def clear_all(self, t, phase, events):
        """A new profile starts a new judgement: unlatch and log each."""
        for n in range(codes.NALARMS):
            if self.latched >> n & 1:
                events.push(t, log.EV_ALARM_CLEARED, n, phase)
        self.latched = 0
        self.out_s = 0
        self.above_s = 0
        self.below_s = 0

    def temperature(self, temp, ph, phase, dt, t, events):
        """Band and absolute alarms for the estimate temp; ph is the phase's
        value list (protocol.profile P_* indices)."""
        if temp > ph[pf.P_BAND_HIGH]:
            self.excursion = 1
            self.above_s += dt
            self.below_s = 0
        elif temp < ph[pf.P_BAND_LOW]:
            self.excursion = -1
            self.below_s += dt
            self.above_s = 0
        else:
            self.excursion = 0
            self.above_s = 0
            self.below_s = 0
        if self.excursion:
            self.out_s += dt
            if self.out_s >= self.cumulative_s:
                self.raise_(codes.ALARM_CUMULATIVE, t, phase, temp, events)
        if self.above_s and self.above_s >= ph[pf.P_EVENT_S]:
            self.raise_(codes.ALARM_HIGH, t, phase, temp, events)
        if self.below_s and self.below_s >= ph[pf.P_EVENT_S]:
            self.raise_(codes.ALARM_LOW, t, phase, temp, events)
        if temp > ph[pf.P_ABS_HIGH]:
            self.raise_(codes.ALARM_ABS_HIGH, t, phase, temp, events)
        elif temp < ph[pf.P_ABS_LOW]:
            self.raise_(codes.ALARM_ABS_LOW, t, phase, temp, events)

    def environment(self, shock_mg, lid_open, battery_mv, dt, phase, t, events):
        if self.shock and shock_mg >= self.shock:
            self.raise_(codes.ALARM_SHOCK, t, phase, shock_mg, events)
        self.lid_s = self.lid_s + dt if lid_open else 0
        if lid_open and self.lid_s >= self.lid_limit:
            self.raise_(codes.ALARM_LID, t, phase, self.lid_s, events)
        if battery_mv < self.battery_low:
            self.low_batt_s += dt
            if self.low_batt_s >= BATTERY_S:
                self.raise_(codes.ALARM_BATTERY_LOW, t, phase, battery_mv, events)
        else:
            self.low_batt_s = 0
