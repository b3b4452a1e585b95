# Cold-chain alarms through the whole pod (both interpreters): single-event
# delay, cumulative budget across phases, absolute limits at once, shock,
# lid, battery; latched, logged with time and reading, shown in status.
import _profiles
from _profiles import phase
from _rig import Client, pod, run

from protocol import codes, log


def _raised(p):
    return [(e[0], e[2], e[3], e[4]) for e in _events(p) if e[1] == log.EV_ALARM_RAISED]


def _events(p):
    """Every event the pod queued since _watch (kept across flushes)."""
    return p._test_events


def _watch(p):
    """Record every event the pod raises, as well as queueing it."""
    p._test_events = []
    push = p.events.push

    def spy(t, code, a=0, b=0, value=0):
        p._test_events.append((t, code, a, b, value))
        push(t, code, a, b, value)

    p.events.push = spy
    return p


def test_single_event_alarm_waits_for_its_delay():
    p = _watch(pod(_profiles.make([phase(event_s=600)], rate_max=10000), temp=5000))
    run(p, 10)
    p.hal.temps = [9000] * 4  # above the 8 degC band edge
    run(p, 599)
    assert not p.alarms.latched >> codes.ALARM_HIGH & 1
    run(p, 1)
    assert p.alarms.latched >> codes.ALARM_HIGH & 1
    (t, n, ph, value), = [r for r in _raised(p) if r[1] == codes.ALARM_HIGH]
    assert t == 610 and ph == 0 and 8900 <= value <= 9100
    p.hal.temps = [5000] * 4
    run(p, 60)
    assert p.alarms.latched >> codes.ALARM_HIGH & 1  # latched
    assert Client(p).status()["alarms"] >> codes.ALARM_HIGH & 1
    assert p.status_flags() & log.STATUS_ALARM


def test_short_excursions_sum_to_the_cumulative_alarm_across_phases():
    prof = _profiles.make([phase(b"a", 1200, event_s=600), phase(b"b", 0, event_s=600)],
                          cumulative_s=900, rate_max=10000)
    p = _watch(pod(prof))
    for k in range(4):  # 4 x 300 s below the band, each shorter than 600 s
        p.hal.temps = [1000] * 4
        run(p, 300)
        p.hal.temps = [5000] * 4
        run(p, 300)
    assert p.phase == 1
    got = [r[1] for r in _raised(p)]
    assert got == [codes.ALARM_CUMULATIVE], got
    assert 900 <= p.alarms.out_s <= 1210


def test_absolute_limits_raise_at_once():
    p = _watch(pod(_profiles.make([phase(abs_low=0, abs_high=15000)])))
    p.hal.temps = [16000] * 4
    run(p, 1)
    assert p.alarms.latched >> codes.ALARM_ABS_HIGH & 1


def test_shock_lid_battery():
    p = _watch(pod(_profiles.make(shock=15000, lid_s=60, battery_low=7000)))
    p.hal.shock = 20000
    run(p, 1)
    p.hal.shock = 0
    p.hal.lid = True
    run(p, 59)
    assert not p.alarms.latched >> codes.ALARM_LID & 1
    run(p, 1)
    p.hal.lid = False
    p.hal.battery = 6900
    run(p, 5)
    p.hal.battery = 7500  # an inrush dip: not an alarm
    run(p, 1)
    p.hal.battery = 6900
    run(p, 30)
    got = [r[1] for r in _raised(p)]
    assert got == [codes.ALARM_SHOCK, codes.ALARM_LID, codes.ALARM_BATTERY_LOW], got
    assert p.status_flags() & log.STATUS_BATTERY_LOW


def test_too_few_probes_enters_the_profiles_safe_mode():
    p = _watch(pod(_profiles.make(min_probes=3, safe_mode=codes.MODE_HEAT_ONLY), temp=1000))
    run(p, 5)
    assert p.mode == codes.MODE_PID
    p.hal.fail = 0b0110
    run(p, 2)
    assert p.mode == codes.MODE_HEAT_ONLY and p.hal.peltier == 0
    assert p.alarms.latched >> codes.ALARM_PROBES & 1
    modes = [(e[2], e[3]) for e in _events(p) if e[1] == log.EV_MODE]
    assert modes[-1] == (codes.MODE_HEAT_ONLY, codes.MODE_PID)
    assert p.status_flags() & log.STATUS_SAFE_MODE
