# Authenticated commands: the derived link key, the monotonic counter on
# flash, the single-use challenge (SPEC 4.1), replay, delay, duplicate and
# reorder refusal, a power cut between persisting the counter and acting, and
# the wrapped key of a rotation (SPEC 5.14). On MicroPython the flash is
# littlefs on a RAM block device, the board's filesystem.
import struct

from _support import flash

from firmware import storefile
from firmware.guard import COUNTER, Guard
from firmware.link import LinkServer
from protocol import catalogue as c
from protocol import frame, message
from protocol.auth import Hmac
from protocol.keys import LINK, derive

KEY = bytes(range(32))
DEV = b"POD00042"
CHALLENGE_MS = 30000  # SPEC 4.4: a challenge is spent 30 s after STATUS made it


class Clock:
    def __init__(self):
        self.ms = 0

    def uptime_ms(self):
        return self.ms


def _frame(counter, challenge, key=KEY, t=c.MSG_TIME_SET, value=1795000000):
    wire = frame.encode(t, 1, message.pack(t, False, value), c.FLAG_AUTH, counter,
                        Hmac(derive(key, LINK)), data=challenge)
    return frame.Deframer().feed(wire)[0]


def _provisioned():
    root = flash()
    g = Guard(root).provision(DEV, KEY)
    g.hal = Clock()
    g.boot = 1
    return root, g


def test_unprovisioned_refuses_everything():
    g = Guard(flash()).load()
    assert g.check(_frame(1, g.next())) == c.ERR_BAD_TAG


def test_accept_then_the_same_frame_again_is_stale():
    root, g = _provisioned()
    f = _frame(5, g.next())
    assert g.check(f) == 0
    assert g.check(f) == c.ERR_STALE  # delivered twice: its challenge is spent
    assert g.counter == 5


def test_counter_still_refuses_a_lower_one_under_a_fresh_challenge():
    root, g = _provisioned()
    assert g.check(_frame(5, g.next())) == 0
    assert g.check(_frame(5, g.next())) == c.ERR_REPLAYED
    assert g.check(_frame(4, g.next())) == c.ERR_REPLAYED
    assert g.check(_frame(6, g.next())) == 0


def test_a_command_without_a_challenge_is_refused():
    root, g = _provisioned()
    assert g.check(_frame(1, b"\x00" * 8)) == c.ERR_BAD_TAG  # none handed out yet
    ch = g.next()
    assert g.check(_frame(1, b"")) == c.ERR_BAD_TAG  # signed without it
    assert g.check(_frame(1, ch)) == 0


def test_held_back_command_is_stale_after_the_challenge_expires():
    # S3: a TIME_SET swallowed on the line and delivered 3,000 s later was
    # accepted and set the clock 3,001 s behind
    root, g = _provisioned()
    late = _frame(1, g.next())
    g.hal.ms += 3000 * 1000
    assert g.check(late) == c.ERR_STALE
    assert g.counter == 0
    ok = _frame(1, g.next())
    g.hal.ms += CHALLENGE_MS  # at the limit: still fresh
    assert g.check(ok) == 0
    old = _frame(2, g.next())
    g.hal.ms += CHALLENGE_MS + 1
    assert g.check(old) == c.ERR_STALE


def test_reordered_commands_the_older_one_is_stale():
    root, g = _provisioned()
    first = _frame(1, g.next())
    second = _frame(2, g.next())  # a new challenge spends the first
    assert g.check(second) == 0
    assert g.check(first) == c.ERR_STALE


def test_a_forgery_does_not_spend_the_hosts_challenge():
    root, g = _provisioned()
    ch = g.next()
    assert g.check(_frame(9, ch, b"x" * 32)) == c.ERR_BAD_TAG
    assert Guard(root).load().counter == 0
    assert g.check(_frame(1, ch)) == 0


def test_challenges_never_repeat_across_boots():
    root, g = _provisioned()
    seen = set()
    for boot in range(1, 4):
        g2 = Guard(root).load()
        g2.hal = Clock()
        g2.boot = boot
        for _ in range(5):
            seen.add(g2.next())
    assert len(seen) == 15
    # and without the port's random bytes (a port with no os.urandom)
    import os

    real = getattr(os, "urandom", None)
    try:
        del os.urandom  # CPython; MicroPython's built-in os cannot be patched
    except AttributeError:
        real = None
    if real is not None:
        try:
            g3 = Guard(root).load()
            g3.hal = Clock()
            g3.boot = 9
            more = {g3.next() for _ in range(5)}
        finally:
            os.urandom = real
        assert len(more) == 5 and not more & seen


def test_counter_survives_reboot():
    root, g = _provisioned()
    f = _frame(41, g.next())
    assert g.check(f) == 0
    g2 = Guard(root).load()
    g2.hal = Clock()
    g2.boot = 2
    assert g2.device_id == DEV + bytes(8) and g2.counter == 41  # NUL-padded to 16
    assert g2.check(f) == c.ERR_BAD_TAG  # its challenge died with the boot
    assert g2.check(_frame(41, g2.next())) == c.ERR_REPLAYED


def test_power_cut_after_persist_keeps_replay_window_closed():
    root, g = _provisioned()
    f = _frame(7, g.next())
    assert g.check(f) == 0
    # power cut here: the command never acted. After reboot the same frame
    # (an attacker's recording of it) is still refused.
    g2 = Guard(root).load()
    g2.hal = Clock()
    g2.next()
    assert g2.check(f) != 0


def test_leftover_temp_file_cleaned_at_boot():
    root, g = _provisioned()
    assert g.check(_frame(3, g.next())) == 0
    with open(root + "/" + COUNTER + ".new", "wb") as fh:
        fh.write(b"\x00\x00")  # a cut during the write of the next counter
    g2 = Guard(root).load()
    assert g2.counter == 3 and not g2.damaged
    assert storefile.read(root, COUNTER + ".new") is None


def test_damaged_counter_refuses_rather_than_guess():
    root, g = _provisioned()
    with open(root + "/" + COUNTER, "wb") as fh:
        fh.write(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    g2 = Guard(root).load()
    g2.hal = Clock()
    assert g2.damaged
    assert g2.check(_frame(100, g2.next())) == c.ERR_BAD_TAG


def _wrap(key, challenge, counter, old=KEY):
    pad = Hmac(derive(old, LINK)).digest(b"podctl key wrap", challenge, struct.pack("<I", counter))
    return bytes(key[i] ^ pad[i] for i in range(32))


def test_key_rotation_takes_the_wrapped_key():
    root, g = _provisioned()
    new = bytes(range(100, 132))
    ch = g.next()
    wrapped = _wrap(new, ch, 1)
    assert wrapped != new
    assert g.check(_frame(1, ch, t=c.MSG_KEY_ROTATE, value=wrapped)) == 0
    g.rotate(wrapped)
    assert g.check(_frame(2, g.next())) == c.ERR_BAD_TAG
    assert g.check(_frame(2, g.next(), new)) == 0
    g2 = Guard(root).load()
    g2.hal = Clock()
    assert g2.check(_frame(3, g2.next(), new)) == 0


def test_a_recorded_rotation_does_not_give_the_key():
    # S2: the 32 bytes of a captured KEY_ROTATE, used as the key, got an
    # authenticated TIME_SET accepted; now they are the key XOR a pad
    root, g = _provisioned()
    new = bytes(range(100, 132))
    ch = g.next()
    wrapped = _wrap(new, ch, 1)
    assert g.check(_frame(1, ch, t=c.MSG_KEY_ROTATE, value=wrapped)) == 0
    g.rotate(wrapped)
    assert g.check(_frame(2, g.next(), wrapped)) == c.ERR_BAD_TAG
    assert derive(wrapped, LINK) != derive(new, LINK)


def test_link_server_refusals_are_reported_for_the_log():
    root, g = _provisioned()
    refused = []
    sent = []
    s = LinkServer(sent.append, {c.MSG_TIME_SET: lambda v, buf, at: message.pack_into(
        buf, at, c.MSG_TIME_SET, True, 60, 0)})
    s.auth = g
    s.on_refused = lambda t, code, ctr, hmac: refused.append((t, code, ctr, hmac is not None))
    good = frame.encode(c.MSG_TIME_SET, 1, message.pack(c.MSG_TIME_SET, False, 1795000000),
                        c.FLAG_AUTH, 8, Hmac(derive(KEY, LINK)), g.next())
    s.feed(good)
    s.feed(good)  # delivered again
    assert s.served == 1
    assert refused == [(c.MSG_TIME_SET, c.ERR_STALE, 8, True)]  # the key that checked it
    # the refusal is signed: the tag checked, under a spent challenge
    r = frame.Deframer().feed(bytes(sent[-1]))[0]
    assert r.flags & c.FLAG_AUTH and r.verify(Hmac(derive(KEY, LINK)))
