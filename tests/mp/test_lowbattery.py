# A dying battery loses minutes, not an hour and a half: once battery_low is
# latched the recorder seals the open sample block at 20 records instead of
# RECORDS_MAX (97), so a brown-out takes at most the 20 still in RAM
# (firmware/recorder.py, SPEC 7.4). MicroPython-compatible: also run on the
# micropython binary. Samples each second (a phase's interval 1) keep the
# tests short; the bound is in records, whatever the interval.
import _profiles
from _profiles import phase
from _rig import pod, reboot, run

from protocol import block as blk
from protocol import codes, log

LOW = 20  # firmware/recorder.py: a number in flush()


def _pod(**hal):
    return pod(_profiles.make([phase(interval=1)], battery_low=7000), **hal)


def _counts(p):
    """Record counts of the sample blocks on flash, oldest first, and their
    last record's status; the open block (RAM) is not read: no flush."""
    data = p.store.read(0, p.store.size)
    at = 0
    out = []
    while at < len(data):
        b = log.parse_block(data, at)
        assert isinstance(b, log.Block), (at, b)
        if b.kind == log.KIND_SAMPLES:
            out.append((b.count, log.samples(data, b)[-1][2]))
        at += b.size
    return out


def _latched(p):
    return p.alarms.latched >> codes.ALARM_BATTERY_LOW & 1


def test_healthy_battery_closes_blocks_at_records_max():
    p = _pod()
    run(p, 3 * blk.RECORDS_MAX + 50)
    assert [n for n, _ in _counts(p)] == [blk.RECORDS_MAX] * 3, _counts(p)
    assert p.recorder.writer.count == 50  # the open block grows past LOW


def test_latched_alarm_closes_each_block_at_low_records():
    p = _pod(battery=6900)
    run(p, 29)
    assert not _latched(p)
    run(p, 2)
    assert _latched(p)
    rec = p.recorder
    for _ in range(200):
        run(p, 1)
        # after every pass the RAM holds fewer than LOW records: a brown-out
        # between two ticks loses at most LOW - 1 (LOW in the tick itself)
        assert not rec.open or rec.writer.count < LOW, rec.writer.count
    got = _counts(p)
    low = [n for n, s in got if s & blk.STATUS_BATTERY_LOW]
    # the block open when the alarm latched is closed at once (about 30
    # records), each after it at LOW exactly
    assert LOW <= low[0] <= 35 and low[1:] == [LOW] * (len(low) - 1), got
    assert len(low) >= 200 // LOW
    assert rec.lost == 0 and rec.records == sum(n for n, _ in got) + rec.writer.count


def test_a_dip_shorter_than_the_alarm_changes_nothing():
    # below the level for 29 s at a time (a heater's inrush): no alarm, no
    # short blocks
    p = _pod()
    for _ in range(4):
        p.hal.battery = 6900
        run(p, 29)
        p.hal.battery = 7800
        run(p, 30)
    assert not _latched(p)
    assert [n for n, _ in _counts(p)][1:] == [blk.RECORDS_MAX], _counts(p)


def test_still_short_after_a_reboot_with_the_alarm_latched():
    p = _pod(battery=6900)
    run(p, 45)
    assert _latched(p)
    p = reboot(p)  # the latched alarm is in the mission state; RAM is new
    p.hal.battery = 6900
    before = len(_counts(p))
    run(p, 5 * LOW + 3)
    assert _latched(p)
    got = [n for n, _ in _counts(p)[before:]]
    assert got[-3:] == [LOW] * 3 and max(got) <= LOW, got


def test_a_new_profile_unlatches_and_blocks_grow_again():
    p = _pod(battery=6900)
    run(p, 45)
    p.hal.battery = 7800
    run(p, 3)
    assert _latched(p)  # latched: the battery's recovery does not clear it
    run(p, LOW + 1)
    assert p.recorder.writer.count < LOW
    p.alarms.clear_all(p.uptime, 0, p.events)  # what accepting a profile does
    run(p, 3 * LOW)
    assert p.recorder.writer.count > LOW


def test_full_log_in_low_mode_drops_whole_short_blocks_and_goes_on():
    # stop policy, no room: each LOW-record block is tried once and counted
    # lost (never retried every pass), the tick keeps recording
    p = _pod(battery=6900)
    run(p, 40)
    assert _latched(p)
    p.flush()
    size = p.store.size
    p.store.budget = size
    rec = p.recorder
    run(p, 5 * LOW)
    assert p.store.size == size
    assert rec.full and rec.lost in (4 * LOW, 5 * LOW), rec.lost
    assert not rec.open or rec.writer.count < LOW
    assert p.alarms.latched >> codes.ALARM_STORAGE & 1
    p.store.budget = size + 4096  # room again: the next short block is written
    run(p, LOW)
    assert p.store.size > size
    assert _counts(p)[-1][0] == LOW


def test_the_numbers_in_flush_are_the_layouts():
    # recorder.flush() reads the block's last status as _last[9] & 0x40
    # (numbers: a name costs the board's heap); the layout must agree
    assert blk.NCHAN == 9 and blk.STATUS_BATTERY_LOW == 0x40
    w = blk.BlockWriter()
    v = [1] * blk.NCHAN
    w.start_samples(0, 60, v, 0x41, blk.FMT_DELTA4)
    assert w._last[9] == 0x41
    assert w.add_sample(v, 0x05) and w._last[9] == 0x05
