# Profiles for firmware tests, built from field values (MicroPython-compatible).
from protocol import codes
from protocol import profile as pf

HEADER = {
    "magic": pf.MAGIC,
    "version": pf.VERSION,
    "nphases": 0,  # set from the phases
    "control": codes.MODE_PID,
    "safe_mode": codes.MODE_PASSIVE,
    "full_policy": pf.POLICY_STOP,
    "min_probes": 2,
    "reserved": 0,
    "name": b"test",
    "probe_min": -40000,
    "probe_max": 85000,
    "rate_max": 2000,
    "disagree": 3000,
    "stuck_s": 600,
    "recover_s": 60,
    "kp_heat": 400,
    "ki_heat": 40,
    "kp_cool": 400,
    "ki_cool": 40,
    "deadband": 300,
    "slew": 50,
    "heater_max": 1000,
    "peltier_max": 1000,
    "safe_heat": 200,
    "battery_low": 7000,
    "shock": 15000,
    "lid_s": 60,
    "cumulative_s": 3600,
}


def phase(name=b"hold", duration=0, setpoint=5000, low=2000, high=8000, abs_low=0,
          abs_high=15000, event_s=1800, interval=60, flags=pf.PHASE_COOL | pf.PHASE_HEAT):
    return [name, duration, setpoint, low, high, abs_low, abs_high, event_s, interval, flags, 0]


def make(phases=None, **over):
    if phases is None:
        phases = [phase()]
    h = dict(HEADER)
    h.update(over)
    h["nphases"] = len(phases)
    return pf.build([h[f[0]] for f in pf.HEADER_FIELDS], phases)
