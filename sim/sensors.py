# What the board's sensors report, from the plant's true state and the
# phase's environment, in the HAL's integer units.
#
# Temperature probe p (NPROBES of them) reads one node ("payload" or "air"):
#   lagged  += (true - lagged) * (1 - exp(-dt / lag_s))   first-order lag
#   reading  = lagged + offset + drift + N(0, sigma)      noise per read
#   output   = round(reading / quant) * quant             int mdegC
# Faults (set by sim/faults.py): open (fail bit, value not written), short
# (fail bit, value -55000 mdegC written), stuck (the last output, exactly,
# no fail bit), drift (offset grows K mdegC per hour), noise burst (sigma
# multiplied until a time), recover (all cleared).
#
# Humidity (per-mille RH) and pressure (0.1 hPa) come from the phase with
# Gaussian noise; the env sensor can fail (read_env returns 1). The
# accelerometer peak since the last read is max(steady + vibration * u)
# over the steps, plus the phase's shock in its first step; the lid switch
# is the phase's lid or a lid fault window.
#
# API
#   Sensors(params, rng)            params: the scenario's [sensors]
#   sensors.step(t_s, dt_s, plant, env)   once per plant step, after it
#   sensors.read_probes(out) -> fail bitmask      (HAL semantics)
#   sensors.read_env(out) -> 0 or 1
#   sensors.take_shock_mg() -> int  peak since the last call, resets it
#   sensors.lid_open() -> bool
#   sensors.probe_open(p), probe_short(p), probe_stuck(p),
#   probe_drift(p, mdegc_per_h), probe_noise(p, sigma_mdegc, until_s),
#   probe_recover(p), env_fail(), lid_window(until_s)
#
# Plain classes and `math` only (CPython and MicroPython).

import math

# the firmware HAL's probe count (firmware.hal.NPROBES; a test holds them
# equal). Not imported: the virtual board loads the simulator before the
# firmware on its flash image, and must not pull firmware/ from the host.
NPROBES = 4

NODES = ("payload", "air")
SHORT_MDEGC = -55000  # what a shorted NTC divider decodes to (off the table)

OK = 0
OPEN = 1
SHORT = 2
STUCK = 3


class Probe:
    def __init__(self, spec):
        self.node = NODES.index(spec.get("node", "payload"))
        self.offset = float(spec.get("offset_mdegc", 0.0))
        self.sigma = float(spec.get("noise_mdegc", 0.0))
        self.lag_s = float(spec.get("lag_s", 0.0))
        self.quant = int(spec.get("quant_mdegc", 10))
        self.lagged = None  # mdegC float, set on the first step
        self.state = OK
        self.drift = 0.0  # mdegC accumulated
        self.drift_rate = 0.0  # mdegC per second
        self.burst_sigma = 0.0
        self.burst_until = -1.0
        self.last = 0  # last output, mdegC
        self._dt = -1.0
        self._alpha = 1.0


class Sensors:
    def __init__(self, params, rng):
        p = params or {}
        specs = p.get("probe") or []
        self.probes = [Probe(specs[i] if i < len(specs) else {}) for i in range(NPROBES)]
        self.humidity_sigma = float(p.get("humidity_noise_permille", 0.0))
        self.pressure_sigma = float(p.get("pressure_noise_dhpa", 0.0))
        self.rng = rng
        self.t_s = 0.0
        self.env_failed = False
        self.lid_until = -1.0
        self._lid = False
        self._humidity = 0
        self._pressure = 0
        self._peak = 0
        self._phase = -1

    def step(self, t_s, dt, plant, env):
        self.t_s = t_s
        tp = plant.t_payload * 1000.0
        ta = plant.t_air * 1000.0
        for pr in self.probes:
            x = tp if pr.node == 0 else ta
            if pr.lagged is None:
                pr.lagged = x
            elif pr.lag_s > 0.0:
                if dt != pr._dt:
                    pr._dt = dt
                    pr._alpha = 1.0 - math.exp(-dt / pr.lag_s)
                pr.lagged += (x - pr.lagged) * pr._alpha
            else:
                pr.lagged = x
            if pr.drift_rate != 0.0:
                pr.drift += pr.drift_rate * dt
        self._humidity = env.humidity_permille
        self._pressure = env.pressure_dhpa
        self._lid = env.lid_open or t_s < self.lid_until
        # accelerometer
        g = env.accel_mg
        v = env.vibration_mg
        if v:
            g += int(v * self.rng.uniform())
        if env.phase != self._phase:
            self._phase = env.phase
            if env.shock_mg > g:
                g = env.shock_mg
        if g > self._peak:
            self._peak = g

    def read_probes(self, out):
        failed = 0
        rng = self.rng
        t = self.t_s
        for i in range(NPROBES):
            pr = self.probes[i]
            s = pr.state
            if s == OPEN:
                failed |= 1 << i
                continue
            if s == SHORT:
                failed |= 1 << i
                out[i] = SHORT_MDEGC
                continue
            if s == STUCK or pr.lagged is None:
                out[i] = pr.last
                continue
            v = pr.lagged + pr.offset + pr.drift
            sigma = pr.burst_sigma if t < pr.burst_until else pr.sigma
            if sigma > 0.0:
                v += rng.gauss(0.0, sigma)
            q = pr.quant
            r = int(math.floor(v / q + 0.5)) * q
            pr.last = r
            out[i] = r
        return failed

    def read_env(self, out):
        if self.env_failed:
            return 1
        h = self._humidity
        p = self._pressure
        if self.humidity_sigma > 0.0:
            h += int(math.floor(self.rng.gauss(0.0, self.humidity_sigma) + 0.5))
        if self.pressure_sigma > 0.0:
            p += int(math.floor(self.rng.gauss(0.0, self.pressure_sigma) + 0.5))
        out[0] = 0 if h < 0 else (1000 if h > 1000 else h)
        out[1] = 0 if p < 0 else p
        return 0

    def take_shock_mg(self):
        g = self._peak
        self._peak = 0
        return g

    def lid_open(self):
        return self._lid

    # -- faults ----------------------------------------------------------

    def probe_open(self, p):
        self.probes[p].state = OPEN

    def probe_short(self, p):
        self.probes[p].state = SHORT

    def probe_stuck(self, p):
        self.probes[p].state = STUCK

    def probe_drift(self, p, mdegc_per_h):
        self.probes[p].drift_rate = mdegc_per_h / 3600.0

    def probe_noise(self, p, sigma_mdegc, until_s):
        pr = self.probes[p]
        pr.burst_sigma = float(sigma_mdegc)
        pr.burst_until = until_s

    def probe_recover(self, p):
        pr = self.probes[p]
        pr.state = OK
        pr.drift = 0.0
        pr.drift_rate = 0.0
        pr.burst_until = -1.0

    def env_fail(self):
        self.env_failed = True

    def lid_window(self, until_s):
        self.lid_until = until_s
