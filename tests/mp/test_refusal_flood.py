# Issue 15, F7: a flood of frames anyone on the line can send (noise, forged
# tags, commands without a tag, unknown types, open requests out of range,
# replays of a signed command) costs the log at most one COMMAND_REFUSED and
# one REFUSALS event an hour (SPEC 4.6), and never displaces an operator's,
# an alarm's or a fault's event. A pod flown with the flood between its
# ticks is held to its quiet twin flown without it: the same operator
# commands, the same alarm, the same events apart from the refusals, and
# every refusal accounted for (logged one by one, or counted in a REFUSALS
# event). fly() gives tests/bench.py (group flood) its figures.
import _rig

from protocol import catalogue as c
from protocol import frame, log, message
from protocol.auth import Hmac

SECONDS = 3 * 3600 + 600  # three windows and a bit
FLOOD = 1 << 20  # bytes of flood in make test (the bench: 10 MiB)


class Lcg:
    """The same pseudo-random bytes on both interpreters."""

    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def bytes(self, n):
        return bytes(self.next(256) for _ in range(n))


def junk(rng, replay):
    """One piece of the flood: a frame nobody holding the key sent, or
    noise. replay: a signed command seen on the line earlier."""
    k = rng.next(7)
    seq = rng.next(65536)
    if k == 0:  # noise, delimiters and all
        return rng.bytes(1 + rng.next(120))
    if k == 1:  # a forged command: FLAG_AUTH, a tag under a guessed key
        payload = message.pack(c.MSG_TIME_SET, False, 1795000000 + rng.next(1000))
        return b"\x00" + frame.encode(c.MSG_TIME_SET, seq, payload, c.FLAG_AUTH,
                                      rng.next(1 << 20), Hmac(rng.bytes(32)), rng.bytes(8))
    if k == 2:  # a command without a tag
        payload = message.pack(c.MSG_PHASE_SET, False, 0)
        return b"\x00" + frame.encode(c.MSG_PHASE_SET, seq, payload)
    if k == 3:  # a type no firmware serves
        return b"\x00" + frame.encode(0x7E, seq, rng.bytes(rng.next(40)))
    if k == 4:  # an open request out of range
        return b"\x00" + frame.encode(c.MSG_LOG_READ, seq,
                                      message.pack(c.MSG_LOG_READ, False, 1 << 30, 64))
    if k == 5 and replay is not None:  # a recording of the operator's command
        return replay
    return b"\x00" + frame.encode(c.MSG_KEY_ROTATE, seq, rng.bytes(32), c.FLAG_AUTH, seq,
                                  Hmac(rng.bytes(32)), rng.bytes(8))


def fly(flood=FLOOD, seconds=SECONDS, seed=1):
    """A provisioned pod flown `seconds`, flood bytes of junk spread evenly
    between its ticks, and an operator at work: a TIME_SET every 20 min, a
    PHASE_SET, a signed command refused (its phase out of range), the lid
    left open long enough to raise its alarm. (pod, flood bytes fed,
    unsigned-or-stale refusals the link made)."""
    p = _rig.pod()
    cl = _rig.Client(p)
    rng = Lcg(seed)
    per_tick = flood // seconds
    fed = 0
    replay = None
    sink = [0]

    def out(data):
        sink[0] += 1

    for s in range(1, seconds + 1):
        p.hal.now_ms += 1000
        p.hal.lid = 2000 <= s < 2400
        p.tick()
        p.service()
        if s % 1200 == 0:
            cl.ok(c.MSG_TIME_SET, 1795000000 + s)
            if flood:
                replay = b"\x00" + frame.encode(c.MSG_TIME_SET, cl.seq, message.pack(
                    c.MSG_TIME_SET, False, 1795000000 + s), c.FLAG_AUTH, cl.counter,
                    cl.hmac, cl.challenge)
        if s == 3000:
            cl.ok(c.MSG_PHASE_SET, 0)  # the phase again: logged, a state save
        if s == 5000:
            assert cl.refused(c.MSG_PHASE_SET, 9) == c.ERR_OUT_OF_RANGE  # signed: logged
        p.out = out
        n = 0
        while n < per_tick:
            piece = junk(rng, replay)
            p.link.feed(piece)
            n += len(piece)
        fed += n
    return p, fed


def events_of(p):
    """The pod's events, all of them on flash (the open block sealed)."""
    p.flush()
    return _rig.log_records(_rig.read_log(p))[1]


def split(events):
    """(refusals logged one by one, REFUSALS counts, every other event)."""
    one = [e for e in events if e[1] == log.EV_COMMAND_REFUSED]
    counted = [e for e in events if e[1] == log.EV_REFUSALS]
    rest = [e for e in events if e[1] not in (log.EV_COMMAND_REFUSED, log.EV_REFUSALS)]
    return one, counted, rest


def figures(flood=FLOOD, seconds=SECONDS):
    """{log bytes per MiB of flood beyond the quiet twin's, operator/alarm/
    fault events the flood cost, refusals made, refusals unaccounted}."""
    quiet, _ = fly(0, seconds)
    loud, fed = fly(flood, seconds)
    q_one, q_counted, q_rest = split(events_of(quiet))
    one, counted, rest = split(events_of(loud))
    lost = len([e for e in q_rest if e not in rest]) + len([e for e in q_one if e not in one])
    made = loud.link.refused
    accounted = len(one) + sum(e[4] for e in counted)
    return {
        "log_bytes_per_mib": (loud.store.size - quiet.store.size) * (1 << 20) // fed,
        "events_lost": lost + loud.events.lost,
        "refused": made,
        "unaccounted": made - accounted,
        "logged": len(one) + len(counted),
        "fed": fed,
    }


def test_a_flood_costs_the_log_a_few_events_an_hour_and_displaces_none():
    got = figures()
    assert got["fed"] >= FLOOD and got["refused"] > 5000, got
    assert got["events_lost"] == 0, got
    assert got["unaccounted"] == 0, got  # every refusal is in the log, one way or the other
    # one COMMAND_REFUSED to open the window, a REFUSALS for each hour
    # (three), one at the end's seal; and the operator's signed refusal
    assert got["logged"] <= 1 + 4 + 1, got
    assert got["log_bytes_per_mib"] <= 1024, got


def test_a_quiet_line_logs_each_refusal_at_once():
    p = _rig.pod()
    cl = _rig.Client(p)
    assert cl.refused(c.MSG_PHASE_SET, 0, auth=False) == c.ERR_AUTH_REQUIRED
    p.service()
    one, counted, _ = split(events_of(p))
    assert [(e[2], e[3]) for e in one] == [(c.MSG_PHASE_SET, c.ERR_AUTH_REQUIRED)]
    assert counted == []
    # a second within the hour is counted; the hour over, the count is logged
    assert cl.refused(c.MSG_PHASE_SET, 0, auth=False) == c.ERR_AUTH_REQUIRED
    _rig.run(p, 3600)
    one, counted, _ = split(events_of(p))
    assert len(one) == 1
    assert [(e[2], e[3], e[4]) for e in counted] == [(c.MSG_PHASE_SET, c.ERR_AUTH_REQUIRED, 1)]
    # an hour with none: the line is quiet again, and the next is logged at once
    _rig.run(p, 3601)
    assert cl.refused(c.MSG_LOG_READ, 1 << 30, 64) == c.ERR_OUT_OF_RANGE
    p.service()
    one, counted, _ = split(events_of(p))
    assert [(e[2], e[3]) for e in one][-1] == (c.MSG_LOG_READ, c.ERR_OUT_OF_RANGE)
    assert len(one) == 2 and len(counted) == 1


def test_a_signed_refusal_is_logged_even_in_a_flood():
    p = _rig.pod()
    cl = _rig.Client(p)
    rng = Lcg(3)
    for _ in range(200):
        p.link.feed(junk(rng, None))
    assert cl.refused(c.MSG_PHASE_SET, 9) == c.ERR_OUT_OF_RANGE  # under the key: the operator's
    for _ in range(200):
        p.link.feed(junk(rng, None))
    one, counted, _ = split(events_of(p))
    signed = [e for e in one if e[2] == c.MSG_PHASE_SET and e[3] == c.ERR_OUT_OF_RANGE]
    assert len(signed) == 1 and signed[0][4] == cl.counter
    assert len(one) == 2 and len(counted) == 1 and counted[0][4] > 100
    assert p.link.refused == len(one) + counted[0][4]


def test_a_late_replay_of_a_signed_command_is_counted_not_logged_each_time():
    p = _rig.pod()
    cl = _rig.Client(p)
    cl.ok(c.MSG_TIME_SET, 1795000000)
    wire = b"\x00" + frame.encode(c.MSG_TIME_SET, cl.seq, message.pack(
        c.MSG_TIME_SET, False, 1795000000), c.FLAG_AUTH, cl.counter, cl.hmac, cl.challenge)
    for _ in range(50):
        p.link.feed(wire)
    one, counted, _ = split(events_of(p))
    assert [(e[2], e[3]) for e in one] == [(c.MSG_TIME_SET, c.ERR_STALE)]
    assert [(e[2], e[3], e[4]) for e in counted] == [(c.MSG_TIME_SET, c.ERR_STALE, 49)]
