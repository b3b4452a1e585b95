# Bad frames: each is refused with its reason and the stream resynchronises.
from _support import golden, h

from protocol import catalogue as c
from protocol import frame

G = golden()


def _summary(results):
    out = []
    for r in results:
        if isinstance(r, frame.Frame):
            out.append(["frame", r.type, r.seq])
        else:
            out.append(["reject", r.reason(), r.detail])
    return out


def test_bad_stream_vectors():
    for v in G["bad_streams"]:
        got = _summary(frame.Deframer().feed(h(v["stream"])))
        assert got == v["expect"], (v["name"], got)


def test_bad_stream_vectors_byte_at_a_time():
    for v in G["bad_streams"]:
        d = frame.Deframer()
        got = []
        for b in h(v["stream"]):
            got += d.feed(bytes([b]))
        assert _summary(got) == v["expect"], v["name"]


def test_every_single_bit_flip_is_caught():
    good = frame.encode(c.MSG_LOG_READ, 77, b"\x00\x08\x00\x00\xe8\x03")
    for i in range(len(good) - 1):  # the delimiter itself splits the frame
        for bit in range(8):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            got = frame.Deframer().feed(bytes(bad) + b"\x00" + good)
            frames = [g for g in got if isinstance(g, frame.Frame)]
            # the corrupted frame never passes; the next good one always does
            assert len(frames) == 1 and frames[0].seq == 77, (i, bit, got)
            assert any(isinstance(g, frame.Reject) for g in got), (i, bit)


def test_reject_carries_header_for_error_reply():
    v = [v for v in G["bad_streams"] if v["name"] == "unknown type"][0]
    r = frame.Deframer().feed(h(v["stream"]))[0]
    assert r.code == c.ERR_UNKNOWN_TYPE and r.seq == 7 and r.type == 0x55


def test_oversize_then_recovery():
    d = frame.Deframer()
    good = frame.encode(c.MSG_STATUS, 3)
    chunk = b"\x01" * 300
    got = []
    for _ in range(10):  # 3000 bytes with no delimiter, fed in pieces
        got += d.feed(chunk)
    assert got == []
    got += d.feed(b"\x00" + good)
    assert _summary(got) == [["reject", "OVERSIZE", 0], ["frame", c.MSG_STATUS, 3]]
    assert d.rejected == 1


def test_encoder_refuses_oversize_payload():
    try:
        frame.encode(c.MSG_LOG_READ, 1, b"x" * (frame.MAX_PAYLOAD + 1), c.FLAG_REPLY)
    except ValueError:
        return
    assert False, "oversize payload was encoded"


def test_max_payload_frame_round_trips():
    payload = bytes([i & 0xFF for i in range(frame.MAX_PAYLOAD)])
    wire = frame.encode(c.MSG_LOG_READ, 1, payload, c.FLAG_REPLY)
    assert len(wire) <= frame.MAX_WIRE + 1
    got = frame.Deframer().feed(wire)
    assert len(got) == 1 and got[0].payload == payload


def test_payload_that_does_not_fit_layout():
    from protocol import message

    assert message.unpack(c.MSG_TIME_SET, False, b"\x01\x02") is None
    assert message.unpack(c.MSG_TIME_SET, False, b"\x01\x02\x03\x04\x05") is None
    assert message.unpack(c.MSG_LOG_READ, True, b"\x00" * 7) is None
    assert message.unpack(0x55, False, b"") is None


def test_unauthenticated_payload_over_max_is_oversize():
    from protocol import cobs

    n = frame.MAX_PAYLOAD + 1
    raw = (
        bytes([c.PROTOCOL_VERSION, c.MSG_LOG_READ, c.FLAG_REPLY, 5, 0, n & 0xFF, n >> 8])
        + b"\x11" * n
    )
    raw += frame.crc32(raw).to_bytes(4, "little")
    got = frame.Deframer().feed(cobs.encode(raw) + b"\x00")
    assert _summary(got) == [["reject", "OVERSIZE", n]]
