"""Issue 17, finding 7: in band + out of band + unknown is every phase's
duration to the second, on every scenario of sim/scenarios at its tuned
seed, and on another seed for the two whose boots and probes leave time
unknown (tests/accounting.py, at the 10 s tick: 9 runs, about a minute on
two loaded cores). The wider sweeps: PODCTL_ACCOUNTING_SEEDS=2 adds two
other seeds of every scenario (21 runs); `python -m tests.accounting`;
make soak's accounting.figures() (ten more of each)."""

from __future__ import annotations

import os

from sim import scenario
from tests import accounting

WIDE = int(os.environ.get("PODCTL_ACCOUNTING_SEEDS", 0))


def test_every_phase_of_every_scenario_adds_up():
    names = scenario.scenario_names()
    seeds = [None, *range(301, 301 + WIDE)]
    got = accounting.sweep(names, seeds, tick_s=10)
    more = accounting.sweep(["reset-reentry", "probe-failure"], [301], tick_s=10) if not WIDE \
        else accounting.Sweep()
    assert got.runs == len(seeds) * len(names)
    assert not got.violations + more.violations, "\n".join(got.violations + more.violations)


def test_a_figure_that_does_not_add_up_is_named(tmp_path):
    a = accounting.analyse_run("nominal", None, 60)[0]
    assert accounting.violations(a, "nominal") == []
    a.phases[2].in_band_s += 1  # one second counted twice
    bad = accounting.violations(a, "nominal")
    assert any("phase 2 orbit: in" in b and "!= duration" in b for b in bad)
    assert any("its records stand for" in b for b in bad)


def test_a_record_with_too_few_trusted_probes_counted_in_band_is_named():
    # the analysis counted it in band; with one trusted probe (the profile
    # needs 2) it is no valid reading: the accounting must see the difference
    a = accounting.analyse_run("nominal", None, 60)[0]
    i = int((a.phase == 2).nonzero()[0][5])
    a.probes[i, 1:] = float("nan")
    bad = accounting.violations(a, "nominal")
    assert any("phase 2 orbit: its records with 2+ trusted probes" in b for b in bad), bad


def test_unknown_time_on_no_listed_gap_is_named():
    # issue 17: "20 s without a reading" beside "Data gaps: None". The pad's
    # wait for its first reading is a listed gap; drop it and the
    # accounting must say the pad's unmonitored time is on no gap
    a = accounting.analyse_run("nominal", None, 60)[0]
    assert accounting.violations(a, "nominal") == []
    (head,) = [g for g in a.gaps if g.head]
    a.gaps.remove(head)
    bad = accounting.violations(a, "nominal")
    assert any("phase 0 pad: 60.0 s without a record, its gaps list 0" in b for b in bad), bad


def test_a_reading_cut_short_at_a_phase_change_is_named():
    # the reading before a phase change stands for the time to the next
    # record: drop what it carries into the new phase and it is named
    a = accounting.analyse_run("nominal", None, 10)[0]
    carried = ~a.spans["rec"]
    assert carried.any() and accounting.violations(a, "nominal") == []
    a.spans = a.spans[~carried]
    bad = accounting.violations(a, "nominal")
    assert any("readings stand for less or more than the time to the next record" in b
               for b in bad), bad


def test_reset_reentry_at_60_s_counts_the_silences_around_boot_2_once():
    # at a 60 s tick boot 2 keeps records but no clock: the silences either
    # side of it are each at most 280 s and together exactly that; the
    # accounting counted 560 s (issue 17 item 7)
    got = accounting.sweep(["reset-reentry"], [None, 2], tick_s=60)
    assert got.runs == 2 and not got.violations, "\n".join(got.violations)
    a = accounting.analyse_run("reset-reentry", 2, 60)[0]
    first, second = (g for g in a.gaps if g.shared is not None)
    assert first.shared == second.shared and first.shared.boots == (2,)
    assert first.at_most == second.at_most == first.shared.seconds == a.phases[3].gap_s


def test_silences_that_share_a_budget_counted_each_are_named():
    import dataclasses

    a = accounting.analyse_run("reset-reentry", 2, 60)[0]
    assert accounting.violations(a, "rr") == []
    sh = next(g.shared for g in a.gaps if g.shared is not None)
    # no longer marked shared: each at most counts on its own, 560 s
    b = dataclasses.replace(a, gaps=[dataclasses.replace(g, shared=None) for g in a.gaps])
    bad = accounting.violations(b, "rr")
    assert any("phase 3 return: 280.0 s without a record, its gaps list 560.0 s" in v
               for v in bad), bad
    # a budget that is not what the clocked moments and boot 2's records leave
    wrong = dataclasses.replace(sh, seconds=sh.seconds + 60)
    c = dataclasses.replace(a, gaps=[dataclasses.replace(g, shared=wrong)
                                     if g.shared is not None else g for g in a.gaps])
    bad = accounting.violations(c, "rr")
    assert any("the silences around boot(s) (2,)" in v and "together they say 340.0 s" in v
               for v in bad), bad
    # one of the silences dropped from the list: the budget says two
    d = dataclasses.replace(a, gaps=[g for g in a.gaps if g.shared is None or g.start.boot != 2])
    bad = accounting.violations(d, "rr")
    assert any("1 gaps share it, it says 2" in v for v in bad), bad


def test_the_time_of_recording_is_what_the_readings_stand_for():
    # the report's "N of recording" read 9 d 22 h 19 min 40 s beside
    # 9 d 22 h 19 min 50 s in band: it left out the 10 s a reading carries
    # past a phase change (Analysis.spans)
    a = accounting.analyse_run("nominal", None, 10)[0]
    m = a.mission
    assert a.recorded_s == m.seconds - m.gap_s == m.in_band_s + m.out_band_s + m.no_reading_s
    assert a.recorded_s > float(a.dt.sum())  # the carried time is in it
