# LOG_SEAL and authenticated replies, on a running pod (both interpreters):
# the seal covers every record to now, echoes the host's nonce, names the
# key without showing it, and is signed with the key that checked the
# request, as every answer to an authenticated request is (SPEC 4.1, 5.11).
import _profiles
from _profiles import phase
from _rig import DEVICE, KEY, Client, log_records, pod, read_log, reboot, run
from _support import golden, h

from protocol import catalogue as c
from protocol import frame, log, message
from protocol import profile as pf
from protocol.auth import TAG_LEN, Hmac
from protocol.keys import LINK, derive

NONCE = b"\x5a" * 8 + b"\xa5" * 8
LINK_KEY = derive(KEY, LINK)  # the device signs its answers with the link key


def _tag(key, signed):
    """The reply's tag as an outside party computes it: CPython's hmac; on
    MicroPython, which has none, protocol.auth's (held to CPython's hmac and
    RFC 4231 by test_auth)."""
    try:
        import hashlib
        import hmac

        return hmac.new(key, signed, hashlib.sha256).digest()[:TAG_LEN]
    except ImportError:
        return Hmac(key).tag(signed)


def _raw(wire):
    """A reply's bytes before COBS, delimiter removed."""
    from protocol import cobs

    return cobs.decode(wire[:-1])


def _seal(cl, nonce=NONCE):
    """The seal's fields by name (Client checked its tag and counter)."""
    cl.ok(c.MSG_LOG_SEAL, nonce)
    return message.to_dict(c.MSG_LOG_SEAL, True, cl.reply.payload)


def test_seal_reply_tag_verifies_over_the_reply_bytes():
    p = pod()
    run(p, 90)
    cl = Client(p)
    v = _seal(cl)
    raw = _raw(cl.sent[0])
    n = len(raw)
    assert raw[2] == c.FLAG_REPLY | c.FLAG_AUTH and raw[1] == c.MSG_LOG_SEAL
    # header, counter, payload, then the tag over all of them, then the CRC
    assert raw[7:11] == cl.counter.to_bytes(4, "little")
    assert raw[n - 4 - TAG_LEN : n - 4] == _tag(LINK_KEY, raw[: n - 4 - TAG_LEN])
    assert raw[n - 4 - TAG_LEN : n - 4] != _tag(KEY, raw[: n - 4 - TAG_LEN])
    assert v["counter"] == cl.counter == p.guard.counter


def test_seal_echoes_the_nonce_and_names_device_key_and_clock():
    p = pod()
    run(p, 100)
    cl = Client(p)
    cl.ok(c.MSG_TIME_SET, 1_800_000_000)
    run(p, 20)
    v = _seal(cl)
    assert v["nonce"] == NONCE
    assert _seal(cl, b"\x01" * 16)["nonce"] == b"\x01" * 16  # the host's, each time
    assert v["device_id"] == DEVICE + bytes(8) and v["fw_hash"] == p.fw_hash
    assert v["key_id"] == _tag(KEY, b"podctl key id")[:4]
    assert v["boot_count"] == 1 and v["uptime"] == 120 and v["utc"] == 1_800_000_020


def test_seal_flushes_the_open_block_and_ends_where_the_log_ends():
    p = pod(_profiles.make([phase(interval=10)]))
    run(p, 305)
    assert p.recorder.open  # records in RAM only
    cl = Client(p)
    v = _seal(cl)
    assert not p.recorder.open
    data = read_log(p)
    samples, _, seqs = log_records(data)
    assert len(samples) == p.recorder.records  # every record taken, on flash
    assert v["first_seq"] == seqs[0] == 0 and v["last_seq"] == seqs[-1]
    assert v["size"] == len(data)
    at = 0
    while at < len(data):
        blk = log.parse_block(data, at)
        at += blk.size
    assert v["last_mac"] == blk.mac(data) and blk.seq == v["last_seq"]


def test_seal_writes_no_more_than_log_info_would():
    # two pods, the same inputs: one asked LOG_INFO, the other LOG_SEAL;
    # the logs they hold after are the same bytes
    a = pod()
    b = pod()
    run(a, 150)
    run(b, 150)
    Client(a).ok(c.MSG_LOG_INFO)
    Client(b).ok(c.MSG_LOG_SEAL, NONCE)
    run(a, 1)
    run(b, 1)
    assert read_log(a) == read_log(b)


def test_seal_without_auth_is_auth_required_and_unsigned():
    p = pod()
    run(p, 10)
    cl = Client(p)
    assert cl.refused(c.MSG_LOG_SEAL, NONCE, auth=False) == c.ERR_AUTH_REQUIRED
    assert cl.reply.counter is None and not cl.reply.flags & c.FLAG_AUTH


def test_replayed_seal_is_refused_with_a_signed_error():
    p = pod()
    run(p, 10)
    cl = Client(p)
    _seal(cl)
    used = cl.counter
    assert cl.refused(c.MSG_LOG_SEAL, NONCE, counter=used) == c.ERR_REPLAYED
    r = cl.reply
    assert r.type == c.MSG_ERROR and r.flags & c.FLAG_AUTH and r.counter == used
    assert _tag(LINK_KEY, r.signed) == r.tag
    # a forged ERROR (no key) does not pass for the device's
    forged = frame.Deframer().feed(frame.encode(
        c.MSG_ERROR, r.seq, r.payload, c.FLAG_REPLY | c.FLAG_AUTH, used, Hmac(b"\x00" * 32)))[0]
    assert not forged.verify(Hmac(LINK_KEY))


def test_wrong_key_is_bad_tag_unsigned():
    p = pod()
    cl = Client(p, key=b"\x55" * 32)
    cl.counter = 5
    assert cl.refused(c.MSG_LOG_SEAL, NONCE) == c.ERR_BAD_TAG
    assert cl.reply.counter is None


def test_simulated_flag_from_the_hal():
    p = pod()
    v = _seal(Client(p))
    assert v["flags"] == c.SEAL_SIMULATED  # the test HAL is no hardware; head not dropped
    p.hal.simulated = lambda: False
    assert _seal(Client(p))["flags"] == 0


def test_head_dropped_by_overwrite_is_stated_until_an_erase():
    p = pod(_profiles.make([phase(interval=1)], full_policy=pf.POLICY_OVERWRITE))
    p.store.budget = 8 * 1024
    p.store.segment_bytes = 2048
    run(p, 200)
    assert p.store.dropped[2] == 0
    assert not _seal(Client(p))["flags"] & c.SEAL_HEAD_DROPPED
    run(p, 1800)
    assert p.store.dropped[2] > 0  # sample records dropped
    v = _seal(Client(p))
    assert v["flags"] & c.SEAL_HEAD_DROPPED and v["first_seq"] > 0
    q = reboot(p)  # said across a reboot
    q.store.budget = 8 * 1024
    q.store.segment_bytes = 2048
    assert _seal(Client(q))["flags"] & c.SEAL_HEAD_DROPPED
    # the ground erases through an older block: the head is now the erase's
    cl = Client(q)
    cl.ok(c.MSG_LOG_ERASE, q.store.segments[1][0])
    v = _seal(cl)
    assert v["first_seq"] == q.store.first() and not v["flags"] & c.SEAL_HEAD_DROPPED


def test_replies_to_authenticated_requests_are_signed_with_the_checking_key():
    p = pod()
    run(p, 10)
    cl = Client(p)  # its request() holds every reply to SPEC 4.1
    cl.ok(c.MSG_TIME_SET, 1_800_000_000)
    assert cl.reply.flags == c.FLAG_REPLY | c.FLAG_AUTH
    # refused by the request itself, after the tag: signed
    assert cl.refused(c.MSG_PROFILE_COMMIT, 1) == c.ERR_BAD_STATE
    assert cl.reply.counter == cl.counter
    # an open request is answered unsigned, FLAG_AUTH or not; STATUS and
    # LOG_INFO are signed over their nonce (Client.request checks that tag)
    cl.ok(c.MSG_LOG_READ, 0, 16)
    assert cl.reply.counter is None and not cl.reply.flags & c.FLAG_AUTH
    cl.ok(c.MSG_LOG_INFO, NONCE)
    assert cl.reply.counter == 0 and cl.reply.verify(Hmac(LINK_KEY), NONCE)
    assert not cl.reply.verify(Hmac(LINK_KEY), bytes(16))  # an old answer fits no other nonce
    # KEY_ROTATE's answer is signed with the key that checked it, the old one
    new = bytes(range(100, 132))
    cl.rotate(new)
    assert cl.reply.verify(Hmac(LINK_KEY)) and not cl.reply.verify(Hmac(derive(new, LINK)))
    v = _seal(cl)
    assert v["key_id"] == _tag(new, b"podctl key id")[:4]
    assert cl.reply.verify(Hmac(derive(new, LINK)))


def test_golden_seal_reply():
    # the vector SPEC 5.11 works through: its tag under the test key, the
    # nonce of the request, the end of the golden blocks
    g = golden()
    req = [v for v in g["frames"] if v["name"] == "log seal"][0]
    rep = [v for v in g["frames"] if v["name"] == "log seal reply"][0]
    r = frame.Deframer().feed(h(rep["wire"]))[0]
    assert r.flags == c.FLAG_REPLY | c.FLAG_AUTH and r.counter == req["counter"]
    assert r.seq == req["seq"] and _tag(h(g["link_key"]), r.signed) == r.tag
    v = message.to_dict(c.MSG_LOG_SEAL, True, r.payload)
    assert (
        v["nonce"] == h(req["payload"])
        and v["key_id"] == _tag(h(g["key"]), b"podctl key id")[:4]
    )
    blocks = b"".join(h(b["block"]) for b in g["log_blocks"])
    assert v["size"] == len(blocks) and v["last_mac"] == blocks[-16:]
    assert (v["first_seq"], v["last_seq"]) == (
        g["log_blocks"][0]["seq"],
        g["log_blocks"][-1]["seq"],
    )
