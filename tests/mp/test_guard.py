# Authenticated commands: key, monotonic counter on flash, replay refusal,
# power cut between persisting the counter and acting. On MicroPython the
# flash is littlefs on a RAM block device, the board's filesystem.
from _support import flash

from firmware import storefile
from firmware.guard import COUNTER, Guard
from firmware.link import LinkServer
from protocol import catalogue as c
from protocol import frame, message
from protocol.auth import Hmac

KEY = bytes(range(32))
DEV = b"POD00042"


def _frame(counter, key=KEY, t=c.MSG_TIME_SET, value=1795000000):
    wire = frame.encode(t, 1, message.pack(t, False, value), c.FLAG_AUTH, counter, Hmac(key))
    return frame.Deframer().feed(wire)[0]


def _provisioned():
    root = flash()
    return root, Guard(root).provision(DEV, KEY)


def test_unprovisioned_refuses_everything():
    g = Guard(flash()).load()
    assert g.check(_frame(1)) == c.ERR_BAD_TAG


def test_accept_then_replay_refused():
    root, g = _provisioned()
    assert g.check(_frame(5)) == 0
    assert g.check(_frame(5)) == c.ERR_REPLAYED
    assert g.check(_frame(4)) == c.ERR_REPLAYED
    assert g.check(_frame(6)) == 0


def test_wrong_key_refused_and_counter_unchanged():
    root, g = _provisioned()
    assert g.check(_frame(9, b"x" * 32)) == c.ERR_BAD_TAG
    assert Guard(root).load().counter == 0
    assert g.check(_frame(1)) == 0


def test_counter_survives_reboot():
    root, g = _provisioned()
    assert g.check(_frame(41)) == 0
    g2 = Guard(root).load()
    assert g2.device_id == DEV and g2.counter == 41
    assert g2.check(_frame(41)) == c.ERR_REPLAYED


def test_power_cut_after_persist_keeps_replay_window_closed():
    root, g = _provisioned()
    f = _frame(7)
    assert g.check(f) == 0
    # power cut here: the command never acted. After reboot the same frame
    # (an attacker's recording of it) is still refused.
    assert Guard(root).load().check(f) == c.ERR_REPLAYED


def test_leftover_temp_file_cleaned_at_boot():
    root, g = _provisioned()
    assert g.check(_frame(3)) == 0
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
    assert g2.damaged
    assert g2.check(_frame(100)) == c.ERR_BAD_TAG


def test_key_rotation():
    root, g = _provisioned()
    new = bytes(range(100, 132))
    assert g.check(_frame(1, t=c.MSG_KEY_ROTATE, value=new)) == 0
    g.rotate(new)
    assert g.check(_frame(2)) == c.ERR_BAD_TAG
    assert g.check(_frame(2, new)) == 0
    assert Guard(root).load().check(_frame(3, new)) == 0


def test_link_server_refusals_are_reported_for_the_log():
    root, g = _provisioned()
    refused = []
    sent = []
    s = LinkServer(sent.append, {c.MSG_TIME_SET: lambda v, buf, at: message.pack_into(
        buf, at, c.MSG_TIME_SET, True, 60, 0)})
    s.auth = g
    s.on_refused = lambda t, code, ctr: refused.append((t, code, ctr))
    good = frame.encode(c.MSG_TIME_SET, 1, message.pack(c.MSG_TIME_SET, False, 1795000000),
                        c.FLAG_AUTH, 8, Hmac(KEY))
    s.feed(good)
    s.feed(good)  # replayed
    assert s.served == 1
    assert refused == [(c.MSG_TIME_SET, c.ERR_REPLAYED, 8)]
