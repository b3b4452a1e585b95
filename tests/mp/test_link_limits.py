# The link at the edges of its fields (issue 15, both interpreters): a
# TIME_SET whose clock a u32 cannot hold (F5), a handler that raises (F8),
# the command counter at its end, 0xFFFFFFFF (F9). Each is refused with a
# named error, logged, and the pod serves on.
from _rig import NONCE, Client, chain_ok, log_records, pod, read_log, reboot, run

from protocol import catalogue as c
from protocol import log
from protocol.auth import Hmac
from protocol.keys import LOG, derive

END = 0xFFFFFFFF  # the last counter a u32 holds
NEW = bytes(range(100, 132))


def _refusals(p):
    return [(e[2], e[3]) for e in p.events.pending() if e[1] == log.EV_COMMAND_REFUSED]


# --- F5: TIME_SET ------------------------------------------------------------


def test_time_set_refuses_a_utc_the_clock_cannot_hold():
    # utc_at_boot + uptime must stay a u32 for 2**30 s of uptime (the log's
    # event times hold that much), and utc_at_boot 0 reads "never set"
    p = pod()
    run(p, 100)
    cl = Client(p)
    for utc in (0, 99, 100, 0xC0000000, END):
        assert cl.refused(c.MSG_TIME_SET, utc) == c.ERR_OUT_OF_RANGE, utc
        assert p.utc_at_boot == 0 and not p.status_flags() & log.STATUS_TIME_SET
    assert _refusals(p)[-1] == (c.MSG_TIME_SET, c.ERR_OUT_OF_RANGE)
    assert cl.ok(c.MSG_TIME_SET, 101) == (100, 0)  # the earliest it takes
    assert cl.ok(c.MSG_TIME_SET, 0xBFFFFFFF) == (100, 101)  # the latest
    run(p, 50)
    # what it believed, a u32 (struct.error escaped feed here on CPython
    # when the clock was set at 0xFFFFFFFF and asked again a second on)
    assert cl.ok(c.MSG_TIME_SET, 1_800_000_000) == (150, 0xBFFFFFFF + 50)
    assert cl.ok(c.MSG_LOG_SEAL, NONCE)[9] == 1_800_000_000  # its utc


# --- F8: a handler that raises ----------------------------------------------


def test_a_handler_that_raises_is_refused_and_the_pod_serves_on():
    p = pod()
    run(p, 100)
    cl = Client(p)

    def bad_flash(offset, dest):
        raise OSError(5, "flash read")  # EIO

    def bug():
        raise ValueError("a bug")

    p.store.read_into = bad_flash
    # the flash's fault: STORAGE, its errno in the detail
    assert cl.request(c.MSG_LOG_READ, 0, 100) == (c.MSG_ERROR, (c.ERR_STORAGE, c.MSG_LOG_READ, 5))
    del p.store.read_into
    p.store.first = bug
    # anything else: BUSY (retry)
    assert cl.request(c.MSG_LOG_INFO)[1] == (c.ERR_BUSY, c.MSG_LOG_INFO, 0)
    assert cl.reply.flags & c.FLAG_AUTH  # a refusal after the nonce was taken: signed
    del p.store.first
    assert _refusals(p) == [(c.MSG_LOG_READ, c.ERR_STORAGE), (c.MSG_LOG_INFO, c.ERR_BUSY)]
    # an authenticated command whose handler fails: refused, signed, logged
    p.erase_through = bug
    assert cl.refused(c.MSG_LOG_ERASE, 3) == c.ERR_BUSY
    del p.erase_through
    run(p, 5)  # the tick runs on, the refusals go to the log
    assert cl.ok(c.MSG_LOG_READ, 0, 16)[1] == p.store.size
    events = log_records(read_log(p))[1]
    assert [(e[2], e[3]) for e in events if e[1] == log.EV_COMMAND_REFUSED] == [
        (c.MSG_LOG_READ, c.ERR_STORAGE), (c.MSG_LOG_INFO, c.ERR_BUSY),
        (c.MSG_LOG_ERASE, c.ERR_BUSY)]


# --- F9: the counter's end ----------------------------------------------------


def test_at_the_counters_end_only_key_rotate_is_taken():
    p = pod()
    run(p, 10)
    cl = Client(p)
    cl.ok(c.MSG_TIME_SET, 1_800_000_000, counter=END)  # a host may jump there
    assert cl.status()["counter"] == END
    # nothing is above the end: every command but KEY_ROTATE is refused by
    # name, after its tag checked (signed: Client.request holds it to that)
    assert cl.refused(c.MSG_TIME_SET, 1_800_000_001, counter=END) == c.ERR_COUNTER_END
    assert cl.refused(c.MSG_LOG_SEAL, NONCE, counter=END) == c.ERR_COUNTER_END
    assert cl.refused(c.MSG_KEY_ROTATE, NEW, counter=5) == c.ERR_COUNTER_END
    assert cl.refused(c.MSG_TIME_SET, 1_800_000_001, counter=5) == c.ERR_COUNTER_END
    assert p.utc_at_boot == 1_800_000_000 - 10
    assert (c.MSG_TIME_SET, c.ERR_COUNTER_END) in _refusals(p)
    # a reboot keeps the end (the counter is on flash)
    p = reboot(p)
    run(p, 10)
    cl = Client(p)
    assert cl.status()["counter"] == END
    assert cl.refused(c.MSG_PHASE_SET, 0, counter=END) == c.ERR_COUNTER_END
    # KEY_ROTATE with the end as its counter re-keys the device, and the new
    # key's counter starts at 0: the host learns it from STATUS.counter
    cl.counter = END - 1  # Client.rotate takes the next
    cl.rotate(NEW)
    assert cl.status()["counter"] == 0
    cl.counter = 0
    assert cl.ok(c.MSG_TIME_SET, 1_800_000_100) == (10, 0)
    assert cl.reply.counter == 1 and cl.status()["counter"] == 1
    data = read_log(p)
    rotated = [e for e in log_records(data)[1] if e[1] == log.EV_KEY_ROTATED]
    assert [e[4] for e in rotated] == [END]  # the rotating command's counter
    assert not chain_ok(data, Hmac(derive(NEW, LOG)))  # the blocks before are the old key's
    # and a second rotation far from the end starts the counter at 0 again
    cl.counter = 40
    cl.rotate(bytes(range(200, 232)))
    assert cl.status()["counter"] == 0


def test_a_key_rotate_below_the_end_needs_a_higher_counter():
    p = pod()
    cl = Client(p)
    cl.ok(c.MSG_TIME_SET, 1_800_000_000, counter=70)
    # below the end a KEY_ROTATE's counter must rise as any command's must
    assert cl.refused(c.MSG_KEY_ROTATE, NEW, counter=70) == c.ERR_REPLAYED
    assert cl.status()["counter"] == 70
