"""Issue 17's firmware findings, flown: the device notices and logs what a
QA reviewer asked for (findings 3, 4 and 9), on the scenarios the reviewer
read, at make test's 10 s tick (PODCTL_SIM_TICK=1: the board's own).

3  probe-failure: probe 0, the good one, is never excluded, and every rate
   or disagree exclusion is followed by PROBE_REFERENCE naming what it was
   compared with, the difference over the profile's limit;
4  heater-failure: the heater pad fails open at 56 h; the firmware finds it
   driven hard without effect (ACTUATOR_FAULT, alarm actuator), the Peltier
   reversed takes over, the band holds; no other scenario raises it;
9  return-slip: the recovery phase's 12 h limit (max_hold_h) raises alarm
   hold in the 72 h slip; the on-time missions do not.
"""

from __future__ import annotations

import os

import pytest

from firmware import control, pod, probes
from podctl.sim_cmds import load_run_inputs
from podctl.verdict import log_intact
from protocol import codes, log, names
from protocol import profile as pf
from sim import run as simrun

TICK_S = int(os.environ.get("PODCTL_SIM_TICK", "10"))
_runs: dict[str, simrun.Result] = {}


def _fly(name: str) -> simrun.Result:
    if name not in _runs:
        sc, prof = load_run_inputs(name, TICK_S)
        _runs[name] = simrun.run(sc, prof, "cpython", verify_log=log_intact)
    return _runs[name]


def _events(raw: bytes) -> list[tuple[int, int, int, int, int]]:
    out = []
    at = 0
    while at < len(raw):
        blk = log.parse_block(raw, at)
        assert isinstance(blk, log.Block), (at, blk)
        if blk.kind == log.KIND_EVENTS:
            out += log.events(raw, blk)
        at += blk.size
    return out


def _signed(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def test_the_firmwares_numbers_are_the_hosts_names():
    # the firmware writes these as private consts (a name costs the board a qstr)
    assert pod._ALARM_ACTUATOR == names.ALARM_ACTUATOR == 10
    assert pod._ALARM_HOLD == names.ALARM_HOLD == 11
    assert codes.NALARMS == len(names.ALARMS) == 12
    assert pod._EV_ACTUATOR_FAULT == log.EV_ACTUATOR_FAULT == 17
    assert probes._EV_PROBE_REFERENCE == log.EV_PROBE_REFERENCE == 16
    assert pod._P_MAX_HOLD == pf.P_MAX_HOLD == pf.PHASE_FIELDS.index(
        next(f for f in pf.PHASE_FIELDS if f[0] == "max_hold_h"))
    assert dict(log.ACTUATORS) == {
        control._ACT_HEATER: "heater",
        control._ACT_PELTIER_HEATS: "peltier_heating",
        control._ACT_PELTIER_COOLS: "peltier_cooling",
    }


def test_probe_failure_never_excludes_the_good_probe_and_names_every_reference():
    res = _fly("probe-failure")
    assert res.passed, [t for ok, t in res.checks if not ok]
    ev = _events(res.log)
    faults = [e for e in ev if e[1] == log.EV_PROBE_FAULT]
    assert faults and all(e[2] != 0 for e in faults), faults
    disagree = 1500  # examples/profiles/nominal.toml disagree_c
    rate = 500  # rate_max_c_per_s, mdegC/s
    judged = 0
    for i, e in enumerate(ev):
        if e[1] != log.EV_PROBE_FAULT or e[3] not in (codes.FAULT_RATE, codes.FAULT_DISAGREE):
            continue
        ref = ev[i + 1]
        assert ref[:3] == (e[0], log.EV_PROBE_REFERENCE, e[2]), (e, ref)
        assert ref[3] >> 8 == e[3]
        diff = _signed(e[4]) - _signed(ref[4])
        if e[3] == codes.FAULT_DISAGREE:
            probes_of = ref[3] & 0x0F
            if probes_of >> e[2] & 1:  # a trusted probe, outvoted by a majority of them
                assert ref[3] & 0x10 and bin(probes_of).count("1") >= 3, (e, ref)
            assert abs(diff) > disagree, (e, ref)
        else:
            assert abs(diff) > rate * (ref[3] & 0xFF), (e, ref)
        judged += 1
    assert judged >= 2  # the drifting probe and the noisy one, at least


def test_heater_failure_is_found_and_the_peltier_takes_over():
    res = _fly("heater-failure")
    assert res.passed, [t for ok, t in res.checks if not ok]
    fault_s = 56 * 3600
    at = res.summary["alarms"].get("actuator")
    assert at is not None and 0 < at - fault_s <= 4 * 3600, at
    found = [e for e in _events(res.log) if e[1] == log.EV_ACTUATOR_FAULT]
    assert len(found) == 1, found
    _, _, a, b, value = found[0]
    assert a == 1 and b >= 1800 and _signed(value) < 100  # the heater; moved < 0.1 K
    orbit = next(p for p in res.summary["phases"] if p["name"] == "orbit")
    assert orbit["in_band_s"] == orbit["seconds"] and orbit["min_c"] > 4.0


@pytest.mark.parametrize(
    "name", ["nominal", "incubation", "return-slip", "probe-failure", "reset-reentry", "stranded"]
)
def test_no_actuator_fault_where_every_output_works(name):
    res = _fly(name)
    assert "actuator" not in res.summary["alarms"]
    assert [e for e in _events(res.log) if e[1] == log.EV_ACTUATOR_FAULT] == []


def test_return_slip_raises_the_hold_alarm_twelve_hours_into_recovery():
    res = _fly("return-slip")
    recovery_start = (8 + 220 + 1) * 3600 + 600  # pad, orbit, return, ascent
    at = res.summary["alarms"].get("hold")
    assert at is not None and abs(at - (recovery_start + 12 * 3600)) <= TICK_S, at
    raised = [e for e in _events(res.log)
              if e[1] == log.EV_ALARM_RAISED and e[2] == names.ALARM_HOLD]
    assert len(raised) == 1 and raised[0][3] == 4  # the recovery phase
    assert 12 * 3600 <= raised[0][4] <= 12 * 3600 + TICK_S  # seconds in it


@pytest.mark.parametrize("name", ["nominal", "probe-failure", "reset-reentry"])
def test_an_on_time_recovery_raises_no_hold_alarm(name):
    assert "hold" not in _fly(name).summary["alarms"]
