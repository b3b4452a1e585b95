# The frame and block CRC is CRC-32/ISO-HDLC; its catalogue check value is
# independent of our code.
from protocol.frame import crc32


def test_check_value():
    assert crc32(b"123456789") == 0xCBF43926


def test_empty_and_range():
    assert crc32(b"") == 0
    assert 0 <= crc32(b"\xff" * 1000) <= 0xFFFFFFFF


def test_memoryview_equals_bytes():
    data = bytearray(b"podctl frame body")
    assert crc32(memoryview(data)[:5]) == crc32(b"podct")
