# A scripted HAL for firmware tests (MicroPython-compatible): a virtual
# clock the test advances, probe readings the test sets, outputs recorded.
from firmware.hal import NPROBES, Hal
from protocol import block as log


class FakeHal(Hal):
    def __init__(self, root, temp=5000):
        self.root = root
        self.now_ms = 0
        self.temps = [temp] * NPROBES
        self.fail = 0
        self.noise = 0  # alternate +/- this many mdegC per tick (no stuck)
        self._flip = 1
        self.env = [450, 10132]
        self.battery = 7800
        self.lid = False
        self.shock = 0
        self.heater = 0
        self.peltier = 0
        self.feeds = 0
        self.cause = log.RESET_POWER_ON

    def uptime_ms(self):
        return self.now_ms & 0x3FFFFFFF

    def read_probes(self, out):
        self._flip = -self._flip
        for i in range(NPROBES):
            out[i] = self.temps[i] + self._flip * self.noise * (1 + (i & 1))
        return self.fail

    def read_env(self, out):
        out[0] = self.env[0]
        out[1] = self.env[1]
        return 0

    def battery_mv(self):
        return self.battery

    def lid_open(self):
        return self.lid

    def shock_mg(self):
        return self.shock

    def set_heater(self, permille):
        self.heater = permille

    def set_peltier(self, permille):
        self.peltier = permille

    def feed_watchdog(self):
        self.feeds += 1

    def reset_cause(self):
        return self.cause

    def storage_root(self):
        return self.root

    def simulated(self):
        return True


class Plant:
    """One thermal node for closed-loop tests, stepped between ticks (floats
    never enter the tick): dT/dt = (ambient - T)/tau + k_heat*heater -
    k_cool*peltier, duties in per mille."""

    def __init__(self, hal, temp, ambient, tau=3000.0, k_heat=0.0004, k_cool=0.0003):
        self.hal = hal
        self.t = float(temp)
        self.ambient = ambient
        self.tau = tau
        self.k_heat = k_heat
        self.k_cool = k_cool
        self.set_probes()

    def set_probes(self):
        v = int(self.t * 1000)
        for i in range(NPROBES):
            self.hal.temps[i] = v

    def step(self, dt=1):
        h = self.hal
        heat = self.k_heat * h.heater - self.k_cool * h.peltier
        self.t += dt * ((self.ambient - self.t) / self.tau + heat)
        self.set_probes()
