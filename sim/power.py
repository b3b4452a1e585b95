# The battery: a series string of cells with an open-circuit voltage (OCV)
# that is a function of state of charge (SoC), and an internal resistance.
#
# A load of P watts at the terminals draws I from V = OCV - I R, V I = P:
#   I = (OCV - sqrt(OCV^2 - 4 R P)) / (2 R)
# and the charge I dt leaves the cells. The capacity is given in Wh at the
# pack's nominal voltage and held as charge (Ah = Wh / V_nominal), so the
# resistive loss I^2 R comes out of the same charge, as in a real cell.
# The pack is empty (latched) when the charge is gone, when the load cannot
# be delivered (OCV^2 < 4 R P), or when the terminal voltage falls below
# cutoff_mv: the DC-DC converter of the board drops out there -- a brownout.
#
# API
#   Battery(params)           params: the scenario's [power]
#   battery.step(dt_s, load_w)       load beyond base_load_w (heater + Peltier)
#   battery.voltage_mv        terminal voltage under the last load, int mV
#   battery.soc               0..1
#   battery.energy_wh         energy delivered to the loads so far, Wh
#   battery.current_a, battery.load_w     last step's
#   battery.empty             latched True once empty
#   battery.ocv(soc)          open-circuit pack voltage, V
#
# Plain classes and `math` only (CPython and MicroPython).

import math

# Open-circuit voltage per cell at SoC 0, 0.05, 0.1, 0.2 .. 1.0. Typical
# rest-voltage curves, engineering estimates read from published discharge
# curves of the chemistries (not a specific cell's datasheet):
#   li-ion:  NMC/NCA 18650 (e.g. 3.5 Ah cells), 3.0 V empty .. 4.18 V full
#   lifepo4: LFP, flat plateau near 3.3 V
_SOC_POINTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CURVES = {
    "li-ion": (3.00, 3.30, 3.45, 3.55, 3.62, 3.68, 3.74, 3.81, 3.88, 3.96, 4.06, 4.18),
    "lifepo4": (2.50, 3.00, 3.15, 3.22, 3.25, 3.27, 3.29, 3.30, 3.31, 3.32, 3.34, 3.45),
}
NOMINAL_CELL_V = {"li-ion": 3.6, "lifepo4": 3.2}


class Battery:
    def __init__(self, params):
        p = params
        pack = p.get("pack", "li-ion")
        self.curve = CURVES[pack]
        self.cells = int(p.get("cells_series", 3))
        self.capacity_wh = float(p["capacity_wh"])
        self.nominal_v = NOMINAL_CELL_V[pack] * self.cells
        self.capacity_ah = self.capacity_wh / self.nominal_v
        self.r_ohm = float(p.get("internal_resistance_ohm", 0.05))
        self.base_load_w = float(p.get("base_load_w", 0.0))
        self.cutoff_mv = int(p.get("cutoff_mv", 0))
        self.used_ah = (1.0 - float(p.get("initial_soc", 1.0))) * self.capacity_ah
        self.energy_wh = 0.0
        self.current_a = 0.0
        self.load_w = 0.0
        self.empty = False
        self._seg = len(_SOC_POINTS) - 2  # last curve segment used
        self._ocv = self.ocv(self.soc)
        self.voltage_mv = int(self._ocv * 1000)

    @property
    def soc(self):
        s = 1.0 - self.used_ah / self.capacity_ah
        return 0.0 if s < 0.0 else s

    def ocv(self, soc):
        """Open-circuit pack voltage (V) at soc, linear in the table."""
        pts = _SOC_POINTS
        i = self._seg
        # the SoC moves slowly: walk from the last segment
        while i > 0 and soc < pts[i]:
            i -= 1
        while i < len(pts) - 2 and soc > pts[i + 1]:
            i += 1
        self._seg = i
        c = self.curve
        f = (soc - pts[i]) / (pts[i + 1] - pts[i])
        if f < 0.0:
            f = 0.0
        elif f > 1.0:
            f = 1.0
        return (c[i] + (c[i + 1] - c[i]) * f) * self.cells

    def step(self, dt, load_w):
        """Draw base load + load_w for dt seconds."""
        if self.empty:
            self.current_a = 0.0
            self.load_w = 0.0
            self.voltage_mv = 0
            return
        p = self.base_load_w + load_w
        ocv = self._ocv
        r = self.r_ohm
        disc = ocv * ocv - 4.0 * r * p
        if disc < 0.0:
            self._die()
            return
        i = (ocv - math.sqrt(disc)) / (2.0 * r) if r > 0.0 else p / ocv
        self.current_a = i
        self.load_w = p
        self.used_ah += i * dt / 3600.0
        self.energy_wh += p * dt / 3600.0
        self._ocv = ocv = self.ocv(self.soc)
        v = ocv - i * r
        self.voltage_mv = int(v * 1000)
        if self.used_ah >= self.capacity_ah or self.voltage_mv < self.cutoff_mv:
            self._die()

    def _die(self):
        self.empty = True
        self.current_a = 0.0
        self.load_w = 0.0
        self.voltage_mv = 0
