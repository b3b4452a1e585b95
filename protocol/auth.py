# HMAC-SHA256 (RFC 2104) on hashlib.sha256, for MicroPython, which has no
# hmac module, and CPython alike. Checked against CPython's hmac and the
# RFC 4231 vectors on both interpreters (tests/mp/test_auth.py).

# Tags on the link and in the log are the first TAG_LEN bytes of the HMAC
# (RFC 2104 section 5 allows truncation to at least half the hash length).
TAG_LEN = 16
KEY_LEN = 32
_BLOCK = 64  # SHA-256 block size


class Hmac:
    """HMAC-SHA256 with one key; the padded key blocks are made once, in
    one buffer (the board holds two of these: a byte saved is the heap's)."""

    def __init__(self, key):
        import hashlib  # no work at import time

        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        pads = bytearray(2 * _BLOCK)  # the inner block, then the outer
        for i in range(_BLOCK):
            k = key[i] if i < len(key) else 0
            pads[i] = k ^ 0x36
            pads[_BLOCK + i] = k ^ 0x5C
        self._pads = memoryview(pads)

    def digest(self, *parts):
        """HMAC of the concatenation of parts (bytes-like), 32 bytes."""
        import hashlib

        pads = self._pads
        inner = hashlib.sha256(pads[:_BLOCK])
        for p in parts:
            inner.update(p)
        outer = hashlib.sha256(pads[_BLOCK:])
        outer.update(inner.digest())
        return outer.digest()

    def tag(self, *parts):
        """The truncated tag used on the link and in log blocks."""
        return self.digest(*parts)[:TAG_LEN]


def hmac_sha256(key, data):
    return Hmac(key).digest(data)


def compare_digest(a, b):
    """Constant-time equality: the time does not depend on where a and b
    differ, so a forger learns nothing from timing. Lengths are public."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
