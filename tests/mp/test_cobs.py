# COBS against the examples published with it (../shared/reference.md).
from _support import h, hx

from protocol import cobs

PUBLISHED = (
    ("00", "0101"),
    ("0000", "010101"),
    ("001100", "01021101"),
    ("11220033", "0311220233"),
    ("11223344", "0511223344"),
    ("11000000", "0211010101"),
)


def test_published_examples_encode():
    for data, enc in PUBLISHED:
        assert hx(cobs.encode(h(data))) == enc, data


def test_published_examples_decode():
    for data, enc in PUBLISHED:
        assert cobs.decode(h(enc)) == h(data), enc


def test_254_nonzero_bytes():
    data = bytes(range(1, 255))
    enc = cobs.encode(data)
    assert enc == b"\xff" + data
    assert cobs.decode(enc) == data
    # the variant with a redundant final 01 decodes the same
    assert cobs.decode(enc + b"\x01") == data


def test_long_runs_and_zeros_round_trip():
    for n in (0, 1, 253, 254, 255, 508, 509, 1100):
        for fill in (0, 1, 0xFF):
            data = bytes([fill]) * n
            enc = cobs.encode(data)
            assert b"\x00" not in enc
            assert len(enc) <= cobs.max_encoded(n)
            assert cobs.decode(enc) == data, (n, fill)
        data = bytes([(i * 7) & 0xFF for i in range(n)])
        assert cobs.decode(cobs.encode(data)) == data


def test_code_past_end_is_invalid():
    assert cobs.decode(h("0511")) is None
    assert cobs.decode(h("ff0102")) is None
