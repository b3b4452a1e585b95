# The link server's answers to good and bad requests (both interpreters).
from _support import golden, h

from firmware.identity import identify_handler
from firmware.link import LinkServer
from protocol import catalogue as c
from protocol import frame, message


def _server():
    sent = []
    s = LinkServer(lambda b: sent.append(bytes(b)), {
        c.MSG_IDENTIFY: identify_handler(b"POD00042", b"\x01" * 8)})
    return s, sent


def _replies(sent):
    d = frame.Deframer()
    out = []
    for b in sent:
        out += d.feed(b)
    return out


def test_identify():
    s, sent = _server()
    s.feed(b"\x00" + frame.encode(c.MSG_IDENTIFY, 5))
    (r,) = _replies(sent)
    assert r.type == c.MSG_IDENTIFY and r.seq == 5 and r.flags & c.FLAG_REPLY
    v = message.to_dict(c.MSG_IDENTIFY, True, r.payload)
    assert v["device_id"] == b"POD00042" + bytes(8)  # 16 bytes, NUL-padded
    assert v["protocol"] == c.PROTOCOL_VERSION


def _error(sent):
    (r,) = _replies(sent)
    assert r.type == c.MSG_ERROR
    return r.seq, message.unpack(c.MSG_ERROR, True, r.payload)


def test_unknown_type_gets_error_reply():
    s, sent = _server()
    v = [v for v in golden()["bad_streams"] if v["name"] == "unknown type"][0]
    s.feed(h(v["stream"]))
    assert _error(sent) == (7, (c.ERR_UNKNOWN_TYPE, 0x55, 0x55))


def test_wrong_version_refused_with_our_version():
    s, sent = _server()
    v = [v for v in golden()["bad_streams"] if v["name"] == "wrong version"][0]
    s.feed(h(v["stream"]))
    assert _error(sent) == (7, (c.ERR_BAD_VERSION, c.MSG_STATUS, c.PROTOCOL_VERSION))


def test_catalogued_but_not_served():
    s, sent = _server()
    s.feed(frame.encode(c.MSG_LOG_INFO, 8))
    assert _error(sent) == (8, (c.ERR_UNKNOWN_TYPE, c.MSG_LOG_INFO, c.MSG_LOG_INFO))


def test_state_change_without_auth_refused():
    s, sent = _server()
    s.feed(frame.encode(c.MSG_LOG_ERASE, 9, message.pack(c.MSG_LOG_ERASE, False, 3)))
    assert _error(sent) == (9, (c.ERR_AUTH_REQUIRED, c.MSG_LOG_ERASE, 0))


def test_auth_without_key_refused():
    from protocol.auth import Hmac

    s, sent = _server()
    wire = frame.encode(c.MSG_LOG_ERASE, 10, message.pack(c.MSG_LOG_ERASE, False, 3),
                        c.FLAG_AUTH, 1, Hmac(b"k" * 32))
    s.feed(wire)
    assert _error(sent) == (10, (c.ERR_BAD_TAG, c.MSG_LOG_ERASE, 0))


def test_bad_payload_refused():
    s, sent = _server()
    s.feed(frame.encode(c.MSG_IDENTIFY, 11, b"\x01"))
    assert _error(sent) == (11, (c.ERR_BAD_PAYLOAD, c.MSG_IDENTIFY, 1))


def test_noise_gets_no_reply_and_link_recovers():
    s, sent = _server()
    s.feed(b"\x13\x37 line noise \xff\x00")
    assert sent == [] and s.noise == 1
    s.feed(frame.encode(c.MSG_IDENTIFY, 12))
    assert _replies(sent)[0].seq == 12


def test_stray_reply_ignored():
    s, sent = _server()
    s.feed(frame.encode(c.MSG_IDENTIFY, 13, b"", c.FLAG_REPLY))
    assert sent == []
