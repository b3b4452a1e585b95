# The container as a lumped-parameter thermal network.
#
#                 G_pa               G_aw               G_we
#   payload P ---/\/\/--- air A ---/\/\/--- wall W ---/\/\/--- environment Te
#                           |  \                 ^ heat_w (sun, radiation)
#                   G_pcm   |   \ G_leak (Peltier module conduction, lid open)
#                 PCM pack -+    +------------------------------ Te
#                           ^ heater, electronics, Peltier (cold/hot plate)
#
# Nodes: payload (samples and their rack), interior air (with the inner liner
# and fan), wall (outer shell and insulation lumped at mid-thickness), and an
# optional phase-change pack held as an enthalpy node (temperature is a
# function of enthalpy: sensible below and above the melt range, latent
# across it).
#
# Integration: backward (implicit) Euler on the linear part, because it is
# stable for any step and any capacity -- a small air node (C/G of a minute)
# and a multi-day wall sit in one model -- and because its discrete heat
# flows balance exactly: heat in - heat out = change in stored energy to
# rounding, which the energy-accounting tests rely on. Its first-order error
# is dt/(2 tau) of the step response (1.4e-4 for dt = 1 s, tau = 1 h).
# The matrix depends only on dt and the lid state, so its inverse is made
# once per (dt, lid) and a step is 9 multiply-adds. The PCM and the Peltier
# are coupled explicitly (their temperature / lift at the start of the step
# enters as a source); this is stable while C_pcm / G_pcm >> dt (checked by
# the scenario loader) and the Peltier's lift feedback is weak.
#
# Peltier (datasheet linearisation, e.g. rmtltd.ru TE notes: at fixed current
# Q = Qmax (1 - dT/dTmax)), driven by PWM at full supply voltage:
#   cooling, duty d > 0:  Qc = d Qmax max(0, 1 - lift/dTmax), lift = Th - Tair
#                         P  = d Qmax / COP0(d) (drawn whatever the lift), so
#                         COP = Qc / P = COP0(d) (1 - lift/dTmax) falls with
#                         lift. COP0(d) runs linearly from cop0 at small duty
#                         to cop0_full at full duty: with the H-bridge output
#                         filtered, current grows with duty and Joule loss
#                         with its square, so a module is most efficient at
#                         low drive (give cop0_full = cop0 for a flat COP).
#                         Qc + P is rejected on the hot side: a fraction into
#                         the wall node, the rest to the environment.
#   heating, duty d < 0:  the module reversed; Qh = Qabs + P into the air,
#                         COP_heat = COP + 1, Qabs taken from the environment.
# The hot-side plate sits at Te + R_sink * (Qc + P); that equation is solved
# in closed form each step (no one-step lag). The module's conduction when
# idle is the linear leak conductance air <-> environment.
#
# API
#   Plant(params)                      params: the scenario's [container]
#   plant.step(dt_s, heater_permille, peltier_permille, env)
#       env: any object with ambient_c, heat_w, lid_open (environment.Env)
#   plant.t_payload, t_air, t_wall, t_pcm      node temperatures, degC
#   plant.pcm_liquid_fraction                  0..1 (0 without a PCM)
#   plant.heater_w, peltier_w                  electrical power last step, W
#   plant.peltier_qc_w                         heat pumped out of the air, W
#                                              (negative when heating)
#   plant.heat_in_w                            net heat into the container
#                                              last step, W (energy account)
#   plant.stored_j()                           energy stored (0 = all at 0 degC)
#   plant.fail_heater(), fail_peltier(), stick_peltier()
#   plant.electronics_on                       False while the board is off
#   plant.set_temperatures(t_c)                all nodes to t_c (PCM too)
#
# Plain classes and `math` only: runs on CPython and the MicroPython unix
# port alike (no allocation in step() beyond float results).

_DEFAULTS = {
    "lid_open_conductance_w_per_k": 2.0,
    "electronics_w": 0.0,
    "heater_max_w": 0.0,
    "initial_c": 20.0,
}
_PELTIER_DEFAULTS = {
    "qmax_w": 0.0,
    "dtmax_k": 66.0,
    "cop0": 0.7,
    "cop0_full": -1.0,  # -1: same as cop0
    "sink_k_per_w": 0.0,
    "leak_w_per_k": 0.0,
    "wall_fraction": 0.0,
}


def _get(d, key, defaults):
    if key in d:
        return float(d[key])
    return float(defaults[key])


class Plant:
    def __init__(self, params):
        p = params
        self.c_payload = float(p["payload_heat_capacity_j_per_k"])
        self.c_air = float(p["air_heat_capacity_j_per_k"])
        self.c_wall = float(p["wall_heat_capacity_j_per_k"])
        self.g_pa = float(p["payload_air_conductance_w_per_k"])
        self.g_aw = float(p["air_wall_conductance_w_per_k"])
        self.g_we = float(p["wall_conductance_w_per_k"])
        self.g_lid = _get(p, "lid_open_conductance_w_per_k", _DEFAULTS)
        self.heater_max_w = _get(p, "heater_max_w", _DEFAULTS)
        self.electronics_w = _get(p, "electronics_w", _DEFAULTS)
        pe = p.get("peltier") or {}
        self.pel_qmax = _get(pe, "qmax_w", _PELTIER_DEFAULTS)
        self.pel_dtmax = _get(pe, "dtmax_k", _PELTIER_DEFAULTS)
        self.pel_cop0 = _get(pe, "cop0", _PELTIER_DEFAULTS)
        c = _get(pe, "cop0_full", _PELTIER_DEFAULTS)
        self.pel_cop_slope = (c - self.pel_cop0) if c > 0 else 0.0
        self.pel_sink = _get(pe, "sink_k_per_w", _PELTIER_DEFAULTS)
        self.g_leak = _get(pe, "leak_w_per_k", _PELTIER_DEFAULTS)
        self.pel_wall_fraction = _get(pe, "wall_fraction", _PELTIER_DEFAULTS)
        pcm = p.get("pcm")
        if pcm:
            self.has_pcm = True
            self.pcm_c = float(pcm["heat_capacity_j_per_k"])
            self.pcm_latent = float(pcm["latent_j"])
            w = float(pcm.get("melt_range_k", 1.0))
            self.pcm_lo = float(pcm["melt_c"]) - w / 2
            self.pcm_w = w
            self.g_pcm = float(pcm["conductance_w_per_k"])
            self.pcm_initial_c = pcm.get("initial_c")
            self._pcm_c_melt = self.pcm_c + self.pcm_latent / w  # J/K across the melt
            self._pcm_h_hi = self._pcm_c_melt * w  # enthalpy at the liquidus
        else:
            self.has_pcm = False
            self.pcm_c = self.pcm_latent = self.pcm_lo = self.pcm_w = 0.0
            self.g_pcm = self._pcm_c_melt = self._pcm_h_hi = 0.0
            self.pcm_initial_c = None
        # actuator state
        self.heater_failed = False
        self.peltier_failed = False
        self.peltier_stuck = False
        self.peltier_duty = 0  # duty applied last step (kept while stuck)
        self.heater_duty = 0
        self.electronics_on = True
        # outputs of the last step
        self.heater_w = 0.0
        self.peltier_w = 0.0
        self.peltier_qc_w = 0.0
        self.peltier_hot_c = 0.0
        self.heat_in_w = 0.0
        self.q_env_w = 0.0  # conducted in from the environment (wall + leak)
        self.q_pcm_w = 0.0  # into the PCM
        self._dt = 0.0
        self._lid = None
        self._inv = None
        self.set_temperatures(_get(p, "initial_c", _DEFAULTS), self.pcm_initial_c)

    # -- state -----------------------------------------------------------

    def set_temperatures(self, t_c, pcm_c=None):
        """All nodes to t_c; the PCM to pcm_c if given (a pack conditioned
        apart, e.g. frozen) else t_c."""
        self.t_payload = self.t_air = self.t_wall = float(t_c)
        if pcm_c is None:
            pcm_c = t_c
        self.pcm_h = self._pcm_enthalpy(float(pcm_c)) if self.has_pcm else 0.0
        self.t_pcm = self._pcm_temperature(self.pcm_h) if self.has_pcm else float(t_c)

    def _pcm_enthalpy(self, t):
        """J relative to solid at the solidus."""
        x = t - self.pcm_lo
        if x <= 0:
            return self.pcm_c * x
        if x <= self.pcm_w:
            return self._pcm_c_melt * x
        return self._pcm_h_hi + self.pcm_c * (x - self.pcm_w)

    def _pcm_temperature(self, h):
        if h <= 0:
            return self.pcm_lo + h / self.pcm_c
        if h <= self._pcm_h_hi:
            return self.pcm_lo + h / self._pcm_c_melt
        return self.pcm_lo + self.pcm_w + (h - self._pcm_h_hi) / self.pcm_c

    @property
    def pcm_liquid_fraction(self):
        if not self.has_pcm:
            return 0.0
        f = self.pcm_h / self._pcm_h_hi
        return 0.0 if f < 0 else (1.0 if f > 1 else f)

    def stored_j(self):
        """Energy stored relative to every node at 0 degC (PCM: solid at its
        solidus is its own zero, constant, so differences are exact)."""
        return (
            self.c_payload * self.t_payload
            + self.c_air * self.t_air
            + self.c_wall * self.t_wall
            + self.pcm_h
        )

    # -- faults ----------------------------------------------------------

    def fail_heater(self):
        self.heater_failed = True

    def fail_peltier(self):
        self.peltier_failed = True

    def stick_peltier(self):
        self.peltier_stuck = True

    # -- integration -----------------------------------------------------

    def _prepare(self, dt, lid):
        """Invert the (symmetric, tridiagonal) backward-Euler matrix."""
        cp = self.c_payload / dt
        ca = self.c_air / dt
        cw = self.c_wall / dt
        gl = self.g_leak + (self.g_lid if lid else 0.0)
        a = cp + self.g_pa
        b = -self.g_pa
        d = ca + self.g_pa + self.g_aw + self.g_pcm + gl
        e = -self.g_aw
        f = cw + self.g_aw + self.g_we
        # inverse of [[a b 0] [b d e] [0 e f]] by cofactors
        det = a * (d * f - e * e) - b * b * f
        inv = (
            (d * f - e * e) / det,
            -b * f / det,
            b * e / det,
            a * f / det,
            -a * e / det,
            (a * d - b * b) / det,
        )  # m00 m01 m02 m11 m12 m22 (symmetric)
        self._inv = inv
        self._dt = dt
        self._lid = lid
        self._cp = cp
        self._ca = ca
        self._cw = cw
        self._gl = gl

    def _peltier(self, duty, te, ta):
        """Set peltier_w, peltier_qc_w, peltier_hot_c for this step; return
        (heat into the air, heat into the wall) in W."""
        if duty == 0 or self.peltier_failed or self.pel_qmax <= 0:
            self.peltier_w = 0.0
            self.peltier_qc_w = 0.0
            self.peltier_hot_c = te
            return 0.0, 0.0
        dtmax = self.pel_dtmax
        r = self.pel_sink
        if duty > 0:
            dq = duty * 0.001 * self.pel_qmax
            p = dq / (self.pel_cop0 + self.pel_cop_slope * duty * 0.001)
            # Th = te + r (Qc + p), Qc = dq (1 - (Th - ta) / dtmax)
            k = r * dq / dtmax
            th = (te + r * (dq * (1.0 + ta / dtmax) + p)) / (1.0 + k)
            lift = th - ta
            if lift <= 0.0:
                qc = dq
                th = te + r * (qc + p)
            elif lift >= dtmax:
                qc = 0.0
                th = te + r * p
            else:
                qc = dq * (1.0 - lift / dtmax)
            self.peltier_w = p
            self.peltier_qc_w = qc
            self.peltier_hot_c = th
            rej = qc + p
            fw = self.pel_wall_fraction
            return -qc, fw * rej
        # heating: the outside plate is the cold side, at te - r * Qabs
        dq = -duty * 0.001 * self.pel_qmax
        p = dq / (self.pel_cop0 - self.pel_cop_slope * duty * 0.001)
        k = r * dq / dtmax
        tc = (te - r * dq * (1.0 - ta / dtmax)) / (1.0 + k)
        lift = ta - tc
        if lift <= 0.0:
            qa = dq
            tc = te - r * qa
        elif lift >= dtmax:
            qa = 0.0
            tc = te
        else:
            qa = dq * (1.0 - lift / dtmax)
        self.peltier_w = p
        self.peltier_qc_w = -(qa + p)
        self.peltier_hot_c = tc
        return qa + p, 0.0

    def step(self, dt, heater_permille, peltier_permille, env):
        """Advance dt seconds with the duties applied from the start of the
        step (saturated to their ranges; a stuck Peltier keeps its duty)."""
        te = env.ambient_c
        lid = env.lid_open
        if dt != self._dt or lid != self._lid:
            self._prepare(dt, lid)
        # actuators
        h = heater_permille
        h = 0 if h < 0 else (1000 if h > 1000 else h)
        self.heater_duty = h
        qh = 0.0 if self.heater_failed else h * 0.001 * self.heater_max_w
        self.heater_w = qh
        if not self.peltier_stuck:
            d = peltier_permille
            self.peltier_duty = -1000 if d < -1000 else (1000 if d > 1000 else d)
        ta = self.t_air
        q_pel_air, q_pel_wall = self._peltier(self.peltier_duty, te, ta)
        q_el = self.electronics_w if self.electronics_on else 0.0
        t_pcm = self.t_pcm
        g_pcm = self.g_pcm
        gl = self._gl
        g_we = self.g_we
        q_wall = env.heat_w + q_pel_wall
        # right-hand side and solve
        b0 = self._cp * self.t_payload
        b1 = self._ca * ta + g_pcm * t_pcm + gl * te + qh + q_el + q_pel_air
        b2 = self._cw * self.t_wall + g_we * te + q_wall
        m00, m01, m02, m11, m12, m22 = self._inv  # type: ignore[misc]  # set by _prepare
        tp = m00 * b0 + m01 * b1 + m02 * b2
        ta = m01 * b0 + m11 * b1 + m12 * b2
        tw = m02 * b0 + m12 * b1 + m22 * b2
        self.t_payload = tp
        self.t_air = ta
        self.t_wall = tw
        # flows at the new temperatures (backward Euler): they balance exactly
        q_env = g_we * (te - tw) + gl * (te - ta)
        self.q_env_w = q_env
        if self.has_pcm:
            q_pcm = g_pcm * (ta - t_pcm)
            self.q_pcm_w = q_pcm
            self.pcm_h += q_pcm * dt
            self.t_pcm = self._pcm_temperature(self.pcm_h)
        self.heat_in_w = q_env + qh + q_el + q_pel_air + q_wall
