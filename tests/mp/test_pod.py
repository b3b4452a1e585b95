# The pod through missions on a scripted HAL (both interpreters): phase
# timeline and per-phase sample interval, what lands in the log, a reboot
# mid-mission, full storage under both policies, and the allocation-free
# tick under micropython.heap_lock() with link traffic between ticks.
import sys

import _profiles
from _fakehal import Plant
from _profiles import phase
from _rig import Client, chain_ok, log_records, pod, read_log, reboot, run

from protocol import catalogue as c
from protocol import codes, log
from protocol import profile as pf


def _mission():
    return _profiles.make([
        phase(b"pad", 600, interval=10),
        phase(b"orbit", 1200, interval=30),
        phase(b"return", 0, interval=60),
    ])


def test_timeline_moves_phases_and_sample_interval():
    p = pod(_mission())
    run(p, 2400)
    assert p.phase == 2
    samples, events, seqs = log_records(read_log(p))
    phases = [(e[0], e[2], e[3]) for e in events if e[1] == log.EV_PHASE]
    assert phases == [(0, 0, 0), (600, 1, 0), (1800, 2, 0)], phases
    ts = [s[0] for s in samples]
    assert ts[:3] == [1, 11, 21]
    gaps = sorted(set(ts[i] - ts[i - 1] for i in range(1, len(ts))))
    assert gaps == [10, 30, 60], gaps
    assert len(samples) == 60 + 40 + 10  # every record, none lost or doubled
    assert seqs == list(range(len(seqs)))
    # the test HAL is simulated: the boot record says so beside the reset cause
    assert events[0][1] == log.EV_BOOT
    assert events[0][2] == log.RESET_POWER_ON | log.BOOT_SIMULATED


def test_dead_probe_is_logged_as_no_reading_and_mode_at_boot():
    p = pod(_profiles.make([phase(interval=10)]))
    run(p, 30)
    p.hal.fail = 0b0100
    p.hal.temps[2] = 4999  # what a HAL may leave behind: must not be logged
    run(p, 30)
    assert Client(p).status()["probe2"] == log.NO_READING_MDEG
    samples, events, _ = log_records(read_log(p))
    assert samples[0][1][2] != log.NO_READING and samples[-1][1][2] == log.NO_READING
    assert (0, log.EV_MODE, codes.MODE_PID, codes.MODE_IDLE, 0) in events
    fault = [e for e in events if e[1] == log.EV_PROBE_FAULT]
    assert fault[0][2:] == (2, codes.FAULT_READ, log.NO_READING_MDEG & 0xFFFFFFFF)


def test_environment_sensor_failure_logged_as_no_reading():
    p = pod(_profiles.make([phase(interval=10)]))
    p.hal.read_env = lambda out: 1  # the BME280 stopped answering
    run(p, 30)
    samples, _, _ = log_records(read_log(p))
    assert samples[-1][1][4] == log.NO_READING and samples[-1][1][5] == log.NO_READING


def test_sample_record_holds_every_channel():
    p = pod(temp=4321, battery=7777, env=[550, 10100])
    run(p, 120)
    samples, _, _ = log_records(read_log(p))
    t, v, status = samples[-1]
    assert 430 <= v[0] <= 434 and v[4] == 550 and v[5] == 10100 and v[8] == 7777
    assert v[7] == p.control.peltier // 10
    assert status == p.status_flags()


def test_reboot_mid_mission_resumes_phase_alarms_and_log():
    p = pod(_mission())
    run(p, 900)  # into orbit, 300 s in
    p.alarms.raise_(codes.ALARM_SHOCK, p.uptime, p.phase, 1, p.events)
    run(p, 700)  # the state save is due on the alarm change
    before = read_log(p)  # flushes what is open, as a pull would
    b_samples, b_events, b_seqs = log_records(before)
    q = reboot(p, cause=log.RESET_WATCHDOG)
    assert q.phase == 1 and q.phase_s >= 1000 - 600 - 5
    assert q.alarms.latched >> codes.ALARM_SHOCK & 1
    assert q.boot_count == 2
    run(q, 600)
    assert q.phase == 2  # the rest of orbit ran on the resumed clock
    after = read_log(q)
    assert after[: len(before)] == before  # nothing earlier lost or changed
    assert chain_ok(after)
    a_samples, a_events, a_seqs = log_records(after)
    assert a_seqs == list(range(len(a_seqs)))  # seq continues across the boot
    boots = [e for e in a_events if e[1] == log.EV_BOOT]
    sim = log.BOOT_SIMULATED
    assert [(e[2], e[3]) for e in boots] == [(log.RESET_POWER_ON | sim, 1),
                                             (log.RESET_WATCHDOG | sim, 2)]
    assert (0, log.EV_PHASE, 1, 2, 0) in a_events  # resumed at boot


def test_power_cut_loses_at_most_the_open_block():
    p = pod(_profiles.make([phase(interval=1)]))
    run(p, 250)
    taken = p.recorder.records
    q = reboot(p)  # no flush: RAM lost
    samples, _, _ = log_records(read_log(q))
    from firmware.recorder import RECORDS_MAX

    assert taken - len(samples) <= RECORDS_MAX
    assert len(samples) >= taken - RECORDS_MAX


def test_full_storage_stop_policy_keeps_controlling():
    p = pod(_profiles.make([phase(interval=1)], full_policy=pf.POLICY_STOP))
    p.store.budget = 8 * 1024
    run(p, 2000)
    assert p.store.full and p.store.size <= 8 * 1024
    assert p.alarms.latched >> codes.ALARM_STORAGE & 1
    assert p.recorder.lost > 0
    queued = [e for e in p.events.pending() if e[1] == log.EV_STORAGE_FULL]
    written = [e for e in log_records(read_log(p))[1] if e[1] == log.EV_STORAGE_FULL]
    assert len(queued) + len(written) == 1  # once, not at every refused block
    samples, _, _ = log_records(read_log(p))
    assert samples[0][0] == 1  # the oldest kept
    # still controlling: a cold spell is answered
    p.hal.temps = [1500] * 4
    run(p, 120)
    assert p.hal.heater > 0
    # the ground erases what it pulled; a new profile clears the alarm for good
    cl = Client(p)
    cl.ok(c.MSG_LOG_ERASE, p.store.last_seq)
    new = _profiles.make([phase(interval=1, setpoint=4000)])
    cl.ok(c.MSG_PROFILE_BEGIN, len(new), pf.ident(new))
    cl.ok(c.MSG_PROFILE_CHUNK, 0, new)
    cl.ok(c.MSG_PROFILE_COMMIT, pf.ident(new))
    run(p, 60)
    assert not p.alarms.latched >> codes.ALARM_STORAGE & 1 and not p.store.full


def test_full_storage_overwrite_policy_drops_oldest_segments():
    p = pod(_profiles.make([phase(interval=1)], full_policy=pf.POLICY_OVERWRITE))
    p.store.budget = 8 * 1024
    p.store.segment_bytes = 2048
    run(p, 3000)
    assert p.store.dropped[2] > 0 and not p.store.full
    assert not p.alarms.latched >> codes.ALARM_STORAGE & 1
    samples, events, seqs = log_records(read_log(p))
    assert samples[-1][0] >= 2990  # the newest kept
    # each drop is named (issue 15, F6): the newest a = 1 event's blocks end
    # where the log now begins, and a = 2 counts every record dropped, so
    # every record taken is held, or named dropped (none lost)
    ranges = [e for e in events if e[1] == log.EV_STORAGE_FULL and e[2] == 1]
    totals = [e for e in events if e[1] == log.EV_STORAGE_FULL and e[2] == 2]
    assert ranges and ranges[-1][4] + ranges[-1][3] == seqs[0]
    assert totals[-1][4] == p.store.dropped[2]
    assert p.recorder.records == len(samples) + totals[-1][4] and p.recorder.lost == 0
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_tick_allocates_nothing_with_logging_and_link_traffic():
    p = pod(_profiles.make([phase(interval=1)]), temp=9000)
    plant = Plant(p.hal, 9.0, 20.0, tau=3000.0, k_heat=1e-5, k_cool=1e-5)
    cl = Client(p)
    run(p, 200, plant)  # cooling, blocks written, probes settled: steady state
    locked = sys.implementation.name == "micropython"
    if locked:
        import micropython
    sealed = p.recorder.blocks
    upload = _profiles.make([phase(interval=1), phase()])
    for s in range(300):
        p.hal.now_ms += 1000
        plant.step()
        if locked:
            micropython.heap_lock()
        try:
            p.tick()
        finally:
            if locked:
                micropython.heap_unlock()
        p.service()
        if s % 3 == 0:  # a status poll and a log download in progress
            cl.ok(c.MSG_STATUS)
            cl.ok(c.MSG_LOG_READ, (s // 3) * 1016 % max(1, p.store.size), 1016)
        if s % 50 == 1:  # and a profile upload, chunk by chunk
            at = (s // 50) * 32
            if at == 0:
                cl.ok(c.MSG_PROFILE_BEGIN, len(upload), pf.ident(upload))
            if at < len(upload):
                cl.ok(c.MSG_PROFILE_CHUNK, at, upload[at : at + 32])
            else:
                cl.ok(c.MSG_PROFILE_COMMIT, pf.ident(upload))
    assert p.recorder.blocks >= sealed + 3  # block seals happened in between
    assert p.recorder.lost == 0
    assert p.control.direction == -1 and p.hal.peltier > 0  # the PI loop ran
    assert p.profile.data == upload  # the upload completed while ticking


def test_flash_stalls_delay_ticks_but_lose_no_sample():
    p = pod(_profiles.make([phase(interval=10)]))
    for s in range(600):
        p.hal.now_ms += 1000
        p.tick()
        p.service()
        if s % 7 == 0:
            p.hal.now_ms += 400  # a NOR sector erase during the flush
    assert p.uptime == p.hal.now_ms // 1000
    samples, _, _ = log_records(read_log(p))
    ts = [x[0] for x in samples]
    assert ts == list(range(ts[0], ts[0] + 10 * len(ts), 10)), ts
    assert len(ts) == (p.uptime - 1) // 10 + 1
    assert p.recorder.blocks <= 3  # one regular series, not split per stall


def _cold_bay(lid=False):
    """A pod holding 5 degC in a -6 degC bay on its heater alone (the
    Peltier may cool, not heat), and the one-node plant it heats."""
    p = pod(_profiles.make([phase(b"orbit", 0, interval=600)]))
    p.hal.lid = lid
    plant = Plant(p.hal, 5.0, -6.0, tau=3000.0, k_heat=1e-5, k_cool=1e-5)
    run(p, 2 * 3600, plant)
    return p, plant


def test_a_heater_driven_hard_without_effect_is_logged_and_alarmed():
    # issue 17: heater-failure's pad failed open and the log said nothing
    p, plant = _cold_bay()
    plant.k_heat = 0.0  # failed open: the duty goes out, no heat comes back
    run(p, 5 * 3600, plant)
    events = log_records(read_log(p))[1]
    found = [e for e in events if e[1] == 17]  # ACTUATOR_FAULT
    assert len(found) == 1, found
    t, _, a, b, value = found[0]
    assert a == 1 and b == 1800  # the heater, judged over 30 min
    assert value >= 0x80000000 or value < 100  # signed: under +0.1 K
    raised = [e for e in events if e[1] == log.EV_ALARM_RAISED and e[2] == 10]
    assert raised == [(t, log.EV_ALARM_RAISED, 10, 0, 1)], raised
    assert p.alarms.latched >> 10 & 1
    # the Peltier reversed took over and holds the band
    run(p, 3 * 3600, plant)
    assert p.control.peltier < 0 and 4700 < p.probes.estimate < 5300, p.probes.estimate


def test_an_open_lid_is_no_actuator_fault():
    p, plant = _cold_bay(lid=True)
    plant.k_heat = 0.0
    run(p, 5 * 3600, plant)
    events = log_records(read_log(p))[1]
    assert [e for e in events if e[1] == 17] == []
    assert not p.alarms.latched >> 10 & 1


def test_a_phase_held_past_its_max_hold_raises_the_hold_alarm_and_a_reboot_keeps_count():
    # issue 17: return-slip's recovery ran "until command" 72 h over plan
    # and nothing said so; a phase may carry a limit (max_hold_h, version 2)
    held = phase(b"recovery", 0, interval=600)
    held[pf.P_MAX_HOLD] = 2  # hours
    p = pod(_profiles.make([phase(b"return", 1800, interval=600), held]))
    assert p.profile.header[1] == 2
    run(p, 1800 + 3600)
    assert not p.alarms.latched >> 11 & 1  # an hour into recovery: inside its limit
    q = reboot(p)  # the time in phase survives the reboot (mission state)
    run(q, 3600 - 1 + 5)
    events = log_records(read_log(q))[1]
    raised = [e for e in events if e[1] == log.EV_ALARM_RAISED and e[2] == 11]
    assert len(raised) == 1 and raised[0][3] == 1, raised  # alarm hold, phase 1
    assert 7200 <= raised[0][4] <= 7200 + 600, raised  # seconds in the phase then
    assert q.alarms.latched >> 11 & 1


def test_no_hold_alarm_without_a_limit_or_inside_it():
    p = pod(_profiles.make([phase(b"return", 1800, interval=600),
                            phase(b"recovery", 0, interval=600)]))
    run(p, 30 * 3600)  # 29.5 h in an unlimited phase
    assert not p.alarms.latched >> 11 & 1
    timed = phase(b"orbit", 3600, interval=600)
    timed[pf.P_MAX_HOLD] = 1  # the timeline ends it on the tick it would raise
    p = pod(_profiles.make([timed, phase(b"return", 0, interval=600)]))
    run(p, 2 * 3600)
    assert p.phase == 1 and not p.alarms.latched >> 11 & 1
