# Probe validation: each fault kind excludes the probe once, recovery,
# the estimate from the good ones (both interpreters).
from firmware.events import EventQueue
from firmware.probes import Probes
from protocol import codes, log


def _probes():
    p = Probes(4)
    p.configure(-40000, 85000, 500, 2000, 30, 10)
    return p, EventQueue()


def _run(p, ev, values, seconds, fail=0, t0=0, wiggle=True):
    for s in range(seconds):
        for i in range(4):
            p.reading[i] = values[i] + ((s + i) % 3 if wiggle else 0)
        p.update(fail, 1, t0 + s, ev)


def _faults(ev):
    return [(e[2], e[3]) for e in ev.pending() if e[1] == log.EV_PROBE_FAULT]


def test_all_good_estimate_is_mean():
    p, ev = _probes()
    _run(p, ev, [5000, 5100, 4900, 5000], 5)
    assert p.good == 0b1111 and p.count == 4
    assert 4990 <= p.estimate <= 5010
    assert ev.count == 0


def test_read_failure_excludes_and_logs_once():
    p, ev = _probes()
    _run(p, ev, [5000] * 4, 5, fail=0b0100)
    assert p.good == 0b1011 and p.count == 3
    assert _faults(ev) == [(2, codes.FAULT_READ)]


def test_range_rate_stuck_disagree():
    p, ev = _probes()
    _run(p, ev, [5000, 5000, 5000, 5000], 3)
    _run(p, ev, [5000, 5000, 5000, -50000], 2, t0=3)  # open thermistor
    assert _faults(ev) == [(3, codes.FAULT_RANGE)]
    p, ev = _probes()
    _run(p, ev, [5000] * 4, 3)
    _run(p, ev, [5000, 5000, 9000, 5000], 1, t0=3)  # 4 degC in one second
    assert _faults(ev) == [(2, codes.FAULT_RATE)]
    p, ev = _probes()
    _run(p, ev, [5000] * 4, 3)
    for s in range(40):  # probe 1 frozen while the others move
        for i in range(4):
            p.reading[i] = 5000 + (0 if i == 1 else s % 5)
        p.update(0, 1, 3 + s, ev)
    assert _faults(ev) == [(1, codes.FAULT_STUCK)], ev.pending()
    p, ev = _probes()
    _run(p, ev, [5000, 5000, 5000, 5000], 3)
    for d in range(0, 4000, 200):  # slow drift: passes rate, fails the median
        _run(p, ev, [5000, 5000, 5000 + d, 5000], 1, t0=3 + d)
    assert _faults(ev) == [(2, codes.FAULT_DISAGREE)]
    assert p.good == 0b1011


def test_two_probes_disagreeing_are_both_kept():
    p, ev = _probes()
    _run(p, ev, [5000, 5000, 5000, 5000], 3, fail=0b1100)
    for d in range(0, 4000, 200):
        _run(p, ev, [5000, 5000 + d, 5000, 5000], 1, fail=0b1100)
    assert p.good == 0b0011  # no majority: neither excluded


def test_recovers_after_passing_recover_s():
    p, ev = _probes()
    _run(p, ev, [5000] * 4, 5, fail=0b0001)
    _run(p, ev, [5000] * 4, 9, t0=5)
    assert p.good == 0b1110
    _run(p, ev, [5000] * 4, 2, t0=14)
    assert p.good == 0b1111
    kinds = [e[1] for e in ev.pending()]
    assert kinds == [log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED]


def test_no_good_probe_holds_last_estimate():
    p, ev = _probes()
    _run(p, ev, [6000] * 4, 3, wiggle=False)
    _run(p, ev, [6000] * 4, 3, fail=0b1111)
    assert p.count == 0 and p.estimate == 6000


def test_drifted_probe_cannot_get_a_good_one_excluded():
    p, ev = _probes()
    _run(p, ev, [5000] * 4, 3, fail=0b0010)  # probe 1 open
    for d in range(0, 6000, 200):  # probe 2 drifts away and is excluded
        _run(p, ev, [5000, 5000, 5000 + d, 5000], 1, fail=0b0010)
    assert p.good == 0b1001
    p.configure(-40000, 85000, 10000, 2000, 0, 10)  # no rate or stuck check here
    for s in range(60):  # probe 3 turns noisy: 0 and 3 are all that is left
        n = 4500 if s & 1 else -4500
        _run(p, ev, [5000, 5000, 11000, 5000 + n], 1, fail=0b0010)
    assert p.good == 0b1001 and p.count == 2


def test_the_last_trusted_probe_is_not_voted_out_by_excluded_ones():
    # issue 15's seed sweep (probe-failure at the 1 s tick): probe 1 open,
    # probe 2 drifted away, probe 3 excluded for a noise burst; on a tick
    # when the noisy probe passes its rate check, the median of the three
    # candidates is an excluded probe's reading, and the one trusted probe
    # was excluded for disagreeing with it: no probe left at all
    p, ev = _probes()
    p.configure(-40000, 85000, 500, 2000, 0, 10)  # no stuck check here
    _run(p, ev, [5000] * 4, 3, fail=0b0010)  # probe 1 open
    for d in range(0, 6000, 200):  # probe 2 drifts away and is excluded
        _run(p, ev, [5000, 5000, 5000 + d, 5000], 1, fail=0b0010)
    assert p.good == 0b1001
    for s in range(40):  # probe 3 noisy: a 2.6 degC jump every other second
        n = 2600 if s & 2 else -2600
        _run(p, ev, [5000, 5000, 11000, 5000 + n], 1, fail=0b0010)
    assert (3, codes.FAULT_RATE) in _faults(ev)
    assert p.good == 0b0001 and p.count == 1 and 4990 <= p.estimate <= 5010
    assert 0 not in [f[0] for f in _faults(ev)]
    # the excluded ones are judged against the trusted one: the drifted
    # probe does not come back, a probe that agrees with it again does
    _run(p, ev, [5000, 5000, 11000, 5000], 12, fail=0b0010)
    assert p.good == 0b1001


def _references(ev):
    """(probe, kind, detail, reference mdegC) of each PROBE_REFERENCE."""
    return [(e[2], e[3] >> 8, e[3] & 0xFF, e[4]) for e in ev.pending() if e[1] == 16]


def test_a_disagree_exclusion_names_its_median_and_the_probes_it_is_of():
    # issue 17: "probe 0 fault: disagree" said nothing of what it disagreed
    # with; the event after it gives the median (value) and whose it is
    p, ev = _probes()
    _run(p, ev, [5000, 5000, 5000, 5000], 3, wiggle=False)
    _run(p, ev, [5000, 5000, 5100, 4900], 1, t0=3, wiggle=False)
    _run(p, ev, [5000, 5000, 7200, 4900], 1, t0=4, wiggle=False)  # rate 2.1 K/s > 0.5
    assert _faults(ev) == [(2, codes.FAULT_RATE)]
    # rate: compared with its own previous reading, 1 s before
    assert _references(ev) == [(2, codes.FAULT_RATE, 1, 5100)]
    p, ev = _probes()
    _run(p, ev, [5000, 5020, 4980, 5000], 3, wiggle=False)
    for d in range(0, 2600, 200):  # slow drift: passes rate, fails the median
        _run(p, ev, [5000, 5020, 4980 + d, 5000], 1, t0=3 + d, wiggle=False)
    pending = ev.pending()
    assert [e[1] for e in pending] == [log.EV_PROBE_FAULT, 16], pending
    fault, ref = pending
    assert fault[2] == 2 and fault[3] == codes.FAULT_DISAGREE and fault[4] == 4980 + 2200
    assert fault[0] == ref[0] and ref[2] == 2  # same second, same probe
    # the median of all four (all trusted): the middle two, (5000 + 5020) / 2;
    # the difference, 2170 mdegC, is over the 2000 limit
    assert ref[3] == codes.FAULT_DISAGREE << 8 | 0x10 | 0b1111 and ref[4] == 5010
    assert fault[4] - ref[4] == 2170


def test_an_excluded_probe_is_judged_against_the_trusted_median_and_says_so():
    p, ev = _probes()
    p.configure(-40000, 85000, 10000, 2000, 0, 10)  # no rate or stuck check here
    _run(p, ev, [5000, 5000, 5000, 5000], 3, fail=0b0010, wiggle=False)  # probe 1 open
    _run(p, ev, [5000, 5000, 9000, 5300], 1, t0=3, fail=0b0010, wiggle=False)
    refs = _references(ev)
    # the median of 0, 2 and 3 (all trusted then): 5300; 9000 is 3.7 K from it
    assert refs == [(2, codes.FAULT_DISAGREE, 0x10 | 0b1101, 5300)], refs
    ev.clear()
    # probe 3 jumps: now 0 and 3 are the trusted ones (no majority to
    # exclude either) and the median is theirs, never the excluded probe's
    _run(p, ev, [5000, 5000, 9000, 5600], 5, t0=4, fail=0b0010, wiggle=False)
    assert _faults(ev) == [] and p.good == 0b1001
    assert p.estimate == 5300


def test_a_sole_trusted_probe_is_never_excluded_and_no_reference_names_it_wrong():
    # probes 1 open, 2 drifted, 3 noisy and excluded: probe 0 is alone; the
    # two excluded candidates are judged against it, never it against them
    p, ev = _probes()
    p.configure(-40000, 85000, 500, 2000, 0, 10)
    _run(p, ev, [5000] * 4, 3, fail=0b0010)
    for d in range(0, 6000, 200):
        _run(p, ev, [5000, 5000, 5000 + d, 5000], 1, fail=0b0010)
    for s in range(200):
        n = 2600 if s & 2 else -2600
        _run(p, ev, [5000, 5000, 11000, 5000 + n], 1, fail=0b0010)
    assert 0 not in [f[0] for f in _faults(ev)]
    for probe, kind, detail, ref in _references(ev):
        if kind == codes.FAULT_DISAGREE and detail & 0x10:
            assert detail & 0x0F in (0b1101, 0b1001, 0b0001), detail  # trusted ones
        assert probe != 0


# Recovery hysteresis (issue 17 follow-up, SPEC 9.3): the test profile's
# disagree limit is 2000 mdegC, so an excluded probe counts towards its
# recover_s (10 s) only within 1000 of the reference.

def _codes(ev, probe):
    return [e[1] for e in ev.pending()
            if e[2] == probe and e[1] in (log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED)]


def _at_the_limit(p, ev, seconds, t0):
    """Probe 2 sits at the limit: 2000 over the others, +/- a wander of
    150 mdegC (15 s below, 5 s above, as noise and the median's own wander
    cross it), the others at 5000 with their ADC wiggle."""
    for s in range(seconds):
        off = 2000 + (150 if (t0 + s) % 20 >= 15 else -150)
        _run(p, ev, [5000, 5000, 5000 + off, 5000], 1, t0=t0 + s)


def test_a_probe_at_the_limit_is_excluded_once_and_stays_out():
    # before the margin it was back after each 15 s below the limit and out
    # again at the next 5 s above: a PROBE_FAULT and a PROBE_RECOVERED
    # every 20 s (probe-failure's probe 2, 7 pairs around hour 138)
    p, ev = _probes()
    p.configure(-40000, 85000, 500, 2000, 0, 10)  # no stuck check here
    _run(p, ev, [5000] * 4, 3)
    for d in range(0, 2000, 100):  # a slow drift up to the limit
        _run(p, ev, [5000, 5000, 5000 + d, 5000], 1, t0=3 + d // 100)
    _at_the_limit(p, ev, 400, 23)
    assert _codes(ev, 2) == [log.EV_PROBE_FAULT], ev.pending()
    assert p.good == 0b1011 and p.fault[2] == codes.FAULT_DISAGREE
    assert 4990 <= p.estimate <= 5010  # the drifting one never in the mean
    # inside the limit but outside the margin (1200 off) for a long time:
    # still out, and nothing more logged
    _run(p, ev, [5000, 5000, 6200, 5000], 100, t0=423)
    assert _codes(ev, 2) == [log.EV_PROBE_FAULT] and p.good == 0b1011


def test_a_probe_that_truly_recovers_comes_back_within_the_hold_time():
    # a noise burst on probe 3 (2.6 degC swings) gets it excluded; when the
    # burst ends it reads with the others and is back recover_s later
    p, ev = _probes()
    p.configure(-40000, 85000, 10000, 2000, 0, 10)  # no rate or stuck check
    _run(p, ev, [5000] * 4, 3)
    for s in range(30):
        n = 2600 if s & 2 else -2600
        _run(p, ev, [5000, 5000, 5000, 5000 + n], 1, t0=3 + s)
    assert _codes(ev, 3) == [log.EV_PROBE_FAULT] and p.good == 0b0111
    _run(p, ev, [5000] * 4, 10, t0=33)  # the burst is over at t = 33
    assert p.good == 0b1111
    back = [e[0] for e in ev.pending() if e[1] == log.EV_PROBE_RECOVERED]
    assert back == [33 + 9]  # the 10th second in a row that it agreed
    # a probe with a real offset inside the margin (the air probe's 0.8 K
    # here, under half the 2 K limit) comes back as well
    p, ev = _probes()
    p.configure(-40000, 85000, 10000, 2000, 0, 10)
    _run(p, ev, [5000, 5000, 5000, 9000], 3)  # excluded: 4 K off
    _run(p, ev, [5000, 5000, 5000, 5800], 10, t0=3)
    assert _codes(ev, 3) == [log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED]
    assert p.good == 0b1111


def test_the_hold_restarts_when_an_excluded_probe_leaves_the_margin():
    # within the margin for 9 s, then once outside it (inside the limit):
    # the 10 s in a row start again, so the probe is not back at t = 13
    p, ev = _probes()
    p.configure(-40000, 85000, 10000, 2000, 0, 10)
    _run(p, ev, [5000, 5000, 5000, 9000], 3)
    _run(p, ev, [5000] * 4, 9, t0=3)
    _run(p, ev, [5000, 5000, 5000, 6500], 1, t0=12)  # 1.5 K off: over the margin
    _run(p, ev, [5000] * 4, 9, t0=13)
    assert p.good == 0b0111
    _run(p, ev, [5000] * 4, 1, t0=22)
    assert p.good == 0b1111
    assert _codes(ev, 3) == [log.EV_PROBE_FAULT, log.EV_PROBE_RECOVERED]


def test_a_sole_trusted_probe_is_never_excluded_whatever_the_margin():
    # probe 1 open, 2 and 3 excluded and wandering in and out of the margin
    # and the limit around probe 0: probe 0 stays, alone, in the estimate
    p, ev = _probes()
    p.configure(-40000, 85000, 10000, 2000, 0, 10)
    _run(p, ev, [5000] * 4, 3, fail=0b0010)
    _run(p, ev, [5000, 5000, 9000, 1000], 2, t0=3, fail=0b0010)
    assert p.good == 0b0001
    back = 0
    for s in range(200):
        w = (s * 37) % 2600  # 0 .. 2.6 K: inside the margin, between, beyond
        _run(p, ev, [5000, 5000, 5000 + w, 5000 - w], 1, t0=5 + s, fail=0b0010)
        assert p.good & 1, s  # probe 0 trusted on every tick
        back |= p.good
    assert 0 not in [f[0] for f in _faults(ev)]
    assert back == 0b1101  # 2 and 3 did come back while inside the margin


def test_an_excluded_probe_beside_one_trusted_probe_is_still_judged():
    # two candidates left, one trusted and one excluded: the excluded one
    # must not earn its way back unjudged (before, with fewer than three
    # candidates no comparison ran, and a drifted probe 4 K off was back
    # after recover_s as the only other probe read)
    p, ev = _probes()
    p.configure(-40000, 85000, 500, 2000, 0, 10)
    _run(p, ev, [5000] * 4, 3)
    for d in range(0, 4000, 100):  # probe 2 drifts 4 K off: excluded
        _run(p, ev, [5000, 5000, 5000 + d, 5000], 1, t0=3 + d // 100)
    assert p.fault[2] == codes.FAULT_DISAGREE
    _run(p, ev, [5000, 5000, 9000, 5000], 60, fail=0b1010, t0=43)  # 1, 3 unread
    assert p.fault[2] == codes.FAULT_DISAGREE and p.good == 0b0001
    assert 4990 <= p.estimate <= 5010
    assert log.EV_PROBE_RECOVERED not in _codes(ev, 2)
    # and back beside it once it reads with it again (the step back is a
    # rate fault first), the hold run out
    _run(p, ev, [5000, 5000, 5000, 5000], 15, fail=0b1010, t0=103)
    assert p.good == 0b0101 and _codes(ev, 2)[-1] == log.EV_PROBE_RECOVERED


# What a trusted probe is judged against (issue 17, SPEC 9.3): the median of
# the trusted probes, itself among them. Of three, that is a majority vote:
# one probe jumping away is excluded and the other two stay. The median of
# the other two would be their mean, pulled half the jump towards the bad
# probe, and would exclude the good ones with it.

def test_of_three_trusted_probes_one_jumping_away_is_outvoted_alone():
    # probe 1 open; probe 3 (the air probe) jumps 4.4 K within one 10 s
    # tick, inside the rate limit there (0.5 K/s x 10 s) and over twice the
    # 2 K disagree limit: the median of 0, 2 and 3 is 5000, of 2 and 3 7200
    p, ev = _probes()
    p.configure(-40000, 85000, 500, 2000, 0, 60)  # no stuck check here
    for s in range(3):
        p.reading[:] = [5000, 5000, 5000, 5000]
        p.update(0b0010, 10, 10 * s, ev)
    p.reading[:] = [5000, 5000, 5020, 9400]
    p.update(0b0010, 10, 30, ev)
    assert _faults(ev) == [(1, codes.FAULT_READ), (3, codes.FAULT_DISAGREE)], ev.pending()
    assert p.good == 0b0101 and p.count == 2 and p.estimate == 5010
    # the reference: the trusted median with probe 3 among its probes
    assert _references(ev) == [(3, codes.FAULT_DISAGREE, 0x10 | 0b1101, 5020)]


def test_of_four_trusted_probes_the_judged_ones_pull_is_at_most_half_a_gap():
    # with four, the median is the mean of the middle two: the judged probe
    # moves it from the others' middle reading by half the gap to the next
    # one (here 5000 to 5100: 50 mdegC), never towards its own reading; the
    # 2120 mdegC the probe reads above it are over the 2 K limit
    p, ev = _probes()
    p.configure(-40000, 85000, 500, 2000, 0, 60)
    for s in range(3):
        p.reading[:] = [4900, 5000, 5100, 5000]
        p.update(0, 10, 10 * s, ev)
    p.reading[:] = [4900, 5000, 5100, 7170]
    p.update(0, 10, 30, ev)
    assert _faults(ev) == [(3, codes.FAULT_DISAGREE)]
    assert _references(ev) == [(3, codes.FAULT_DISAGREE, 0x10 | 0b1111, 5050)]
