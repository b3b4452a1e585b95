# The mission as a timeline of phases, each with the environment the
# container sees: ambient (sink) temperature, heat input onto the wall
# (sunlight, radiation from a warm structure), pressure, humidity,
# acceleration, vibration, a shock at the phase's start, and the lid.
#
# API
#   Env()                         the environment at one instant (attributes)
#   Phase(spec)                   spec: a scenario [[phase]] dict, validated
#   Timeline(phases)              phases: list of Phase or of spec dicts
#   timeline.at(t_s) -> (index, env)
#       env is one Env object owned by the timeline and updated in place:
#       copy what you need to keep. Past the last phase the last one holds.
#   timeline.duration_s, timeline.starts (start second of each phase)
#
# Ambient models (spec["ambient"]):
#   constant  ambient_c, heat_w
#   ramp      from_c -> to_c linearly over the phase, heat_w
#   orbit     period_min (90), sunlit_min (55): sunlit first; sunlit_c /
#             eclipse_c and sunlit_heat_w / eclipse_heat_w
#   diurnal   min_c at 05:00, max_c at 15:00 local (cosine between),
#             start_hour: local hour at the phase's start; solar_heat_w
#             scaled by the sun's elevation proxy sin(pi (h - 6) / 12), 6..18 h
#
# Plain classes and `math` only (CPython and MicroPython). at() allocates
# nothing but its result tuple and float arithmetic.

import math

AMBIENT_MODELS = ("constant", "ramp", "orbit", "diurnal")
_CONSTANT = 0
_RAMP = 1
_ORBIT = 2
_DIURNAL = 3
_TWO_PI = 2.0 * math.pi


class Env:
    """The environment at one instant, in the units the sim uses."""

    def __init__(self):
        self.phase = 0  # index in the timeline
        self.name = ""
        self.t_in_phase_s = 0.0
        self.ambient_c = 20.0
        self.heat_w = 0.0  # absorbed onto the wall, W
        self.sunlit = True
        self.pressure_dhpa = 10132  # 0.1 hPa
        self.humidity_permille = 400  # per-mille RH
        self.accel_mg = 1000  # steady acceleration magnitude, milli-g
        self.vibration_mg = 0  # random vibration peak, milli-g
        self.shock_mg = 0  # impulse at the phase's first second, milli-g
        self.lid_open = False


def _f(spec, key, default=None):
    v = spec.get(key, default)
    if v is None:
        raise KeyError("phase %s: missing %s" % (spec.get("name", "?"), key))
    return float(v)


class Phase:
    """One phase of the mission, from a validated scenario spec dict."""

    def __init__(self, spec):
        self.name = spec["name"]
        if "duration_s" in spec:
            self.duration_s = float(spec["duration_s"])
        else:
            self.duration_s = float(spec["duration_h"]) * 3600.0
        model = spec.get("ambient", "constant")
        self.model = AMBIENT_MODELS.index(model)
        self.heat_w = float(spec.get("heat_w", 0.0))
        if self.model == _CONSTANT:
            self.a = _f(spec, "ambient_c")
        elif self.model == _RAMP:
            self.a = _f(spec, "from_c")
            self.b = _f(spec, "to_c")
        elif self.model == _ORBIT:
            self.period_s = _f(spec, "period_min", 90.0) * 60.0
            self.sunlit_s = _f(spec, "sunlit_min", 55.0) * 60.0
            self.a = _f(spec, "sunlit_c")
            self.b = _f(spec, "eclipse_c")
            self.heat_w = _f(spec, "sunlit_heat_w", 0.0)
            self.heat_w2 = _f(spec, "eclipse_heat_w", 0.0)
        else:
            lo = _f(spec, "min_c")
            hi = _f(spec, "max_c")
            self.a = (lo + hi) / 2.0  # mean
            self.b = (hi - lo) / 2.0  # amplitude
            self.start_hour = _f(spec, "start_hour", 12.0)
            self.heat_w = _f(spec, "solar_heat_w", 0.0)
        self.pressure_dhpa = int(round(_f(spec, "pressure_hpa", 1013.25) * 10))
        self.humidity_permille = int(round(_f(spec, "humidity_percent", 40.0) * 10))
        self.accel_mg = int(round(_f(spec, "accel_g", 1.0) * 1000))
        self.vibration_mg = int(round(_f(spec, "vibration_g", 0.0) * 1000))
        self.shock_mg = int(round(_f(spec, "shock_g", 0.0) * 1000))
        self.lid_open = spec.get("lid", "closed") == "open"

    def fill(self, env, tp):
        """Set env for tp seconds into this phase."""
        m = self.model
        if m == _CONSTANT:
            env.ambient_c = self.a
            env.heat_w = self.heat_w
            env.sunlit = self.heat_w > 0
        elif m == _ORBIT:
            if tp % self.period_s < self.sunlit_s:
                env.ambient_c = self.a
                env.heat_w = self.heat_w
                env.sunlit = True
            else:
                env.ambient_c = self.b
                env.heat_w = self.heat_w2
                env.sunlit = False
        elif m == _RAMP:
            f = tp / self.duration_s if self.duration_s > 0 else 1.0
            env.ambient_c = self.a + (self.b - self.a) * (1.0 if f > 1.0 else f)
            env.heat_w = self.heat_w
            env.sunlit = self.heat_w > 0
        else:
            h = (self.start_hour + tp / 3600.0) % 24.0
            env.ambient_c = self.a + self.b * math.cos(_TWO_PI * (h - 15.0) / 24.0)
            if 6.0 < h < 18.0:
                env.heat_w = self.heat_w * math.sin(math.pi * (h - 6.0) / 12.0)
                env.sunlit = True
            else:
                env.heat_w = 0.0
                env.sunlit = False
        env.t_in_phase_s = tp


class Timeline:
    def __init__(self, phases):
        self.phases = [p if isinstance(p, Phase) else Phase(p) for p in phases]
        if not self.phases:
            raise ValueError("timeline: no phases")
        starts = []
        t = 0.0
        for p in self.phases:
            starts.append(t)
            t += p.duration_s
        self.starts = starts
        self.duration_s = t
        self.env = Env()
        self._i = -1
        self._start = 0.0
        self._end = -1.0  # forces the first lookup

    def index_at(self, t_s):
        """Phase index at t_s (the last phase holds past the end)."""
        starts = self.starts
        i = len(starts) - 1
        while i > 0 and starts[i] > t_s:
            i -= 1
        return i

    def _enter(self, i):
        p = self.phases[i]
        env = self.env
        env.phase = i
        env.name = p.name
        env.pressure_dhpa = p.pressure_dhpa
        env.humidity_permille = p.humidity_permille
        env.accel_mg = p.accel_mg
        env.vibration_mg = p.vibration_mg
        env.shock_mg = p.shock_mg
        env.lid_open = p.lid_open
        self._i = i
        self._start = self.starts[i]
        last = i == len(self.phases) - 1
        self._end = 1e300 if last else self.starts[i + 1]

    def at(self, t_s):
        """(phase index, env) at t_s seconds from the start of the mission."""
        if t_s >= self._end or t_s < self._start:
            self._enter(self.index_at(t_s))
        p = self.phases[self._i]
        p.fill(self.env, t_s - self._start)
        return self._i, self.env
