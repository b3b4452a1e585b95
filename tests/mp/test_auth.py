# HMAC-SHA256 against RFC 4231 (independent of our code), on both interpreters.
from _support import h, hx

from protocol.auth import TAG_LEN, Hmac, compare_digest, hmac_sha256

RFC4231 = (
    # case 1
    (h("0b" * 20), b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    # case 2
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    # case 3
    (h("aa" * 20), h("dd" * 50),
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    # case 4
    (h("0102030405060708090a0b0c0d0e0f10111213141516171819"), h("cd" * 50),
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    # case 6: key longer than the block, hashed first
    (h("aa" * 131), b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    # case 7
    (h("aa" * 131),
     b"This is a test using a larger than block-size key and a larger than "
     b"block-size data. The key needs to be hashed before being used by the "
     b"HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)


def test_rfc4231_vectors():
    for key, data, want in RFC4231:
        assert hx(hmac_sha256(key, data)) == want, want


def test_rfc4231_case5_truncated_128_bits():
    tag = Hmac(h("0c" * 20)).tag(b"Test With Truncation")
    assert TAG_LEN == 16
    assert hx(tag) == "a3b6167473100ee06e0c796c2955552b"


def test_digest_of_parts_equals_digest_of_whole():
    m = Hmac(b"k" * 32)
    assert m.digest(b"ab", b"", memoryview(b"cd")) == m.digest(b"abcd")


def test_compare_digest():
    assert compare_digest(b"\x01\x02", b"\x01\x02")
    assert not compare_digest(b"\x01\x02", b"\x01\x03")
    assert not compare_digest(b"\x01\x02", b"\x01")
