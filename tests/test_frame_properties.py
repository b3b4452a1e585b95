"""Property tests (CPython, hypothesis): the deframer never raises on any
input, and every frame that follows a delimiter is recovered intact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import catalogue as c
from protocol import cobs, frame

payloads = st.binary(max_size=frame.MAX_PAYLOAD)


@given(st.binary(max_size=4000))
def test_cobs_round_trip(data):
    enc = cobs.encode(data)
    assert b"\x00" not in enc
    assert cobs.decode(enc) == data


# Runs of zeros and of non-zero bytes longer than a COBS block, at every
# length up to the largest frame: the encoder's in-place path must give the
# same bytes as encoding into a separate buffer.
_frames = st.lists(
    st.one_of(st.binary(max_size=300), st.just(b"\x00" * 3), st.just(b"\xab" * 254)),
    max_size=12,
).map(lambda parts: b"".join(parts)[: frame.MAX_RAW])


@given(_frames)
def test_cobs_in_place_is_the_same_encoding(data):
    at = cobs.in_place_offset(len(data))
    buf = bytearray(at + frame.MAX_RAW)
    buf[at : at + len(data)] = data
    n = cobs.encode_into(buf, len(data), buf, at)
    assert bytes(buf[:n]) == cobs.encode(data)
    assert cobs.decode(bytes(buf[:n])) == data


@given(st.binary(max_size=3000))
@settings(max_examples=300)
def test_deframer_never_raises_on_garbage(data):
    d = frame.Deframer()
    for r in d.feed(data):
        assert isinstance(r, (frame.Frame, frame.Reject))


@given(
    st.lists(st.tuples(st.binary(max_size=200), payloads, st.integers(0, 0xFFFF)), max_size=5),
    st.integers(1, 64),
)
@settings(max_examples=150)
def test_frames_survive_garbage_between_them(items, chunk):
    stream = b""
    want = []
    for garbage, payload, seq in items:
        stream += garbage + b"\x00" + frame.encode(c.MSG_LOG_READ, seq, payload, c.FLAG_REPLY)
        want.append((seq, payload))
    d = frame.Deframer()
    got = []
    for i in range(0, len(stream), chunk):  # arbitrary read sizes
        got += [
            (r.seq, r.payload)
            for r in d.feed(stream[i : i + chunk])
            if isinstance(r, frame.Frame)
        ]
    # garbage may by chance form a valid frame only with probability ~2^-32
    assert [g for g in got if g in want] == want
