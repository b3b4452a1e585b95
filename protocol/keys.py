# The keys of one device key (SPEC 5.14). The device key is never used as
# it is: each use has its own key, HMAC-SHA256(device key, use), so a link
# tag can never stand for a log block's MAC, nor the other way round, and the
# key id names the device key without revealing it.
#
# For the host, the simulator and the tests; the firmware spells the same
# uses out in firmware/guard.py (the board does not load this module: its
# names would cost qstrs, tests/test_firmware_heap.py), and
# tests/mp/test_frame_golden.py holds the two to the golden vectors.
from protocol.auth import Hmac

LINK = b"podctl link v2"  # the link's tags, both ways
LOG = b"podctl log v2"  # the log's MAC chain


def derive(key, use):
    """The 32-byte key for one use (LINK, LOG) of a device key."""
    return Hmac(key).digest(use)


def key_id(key):
    """Four bytes that name a device key without revealing it:
    HMAC(key, "podctl key id")[:4]. LOG_SEAL carries it, so a host learns
    which key of a device's history the device holds."""
    return Hmac(key).digest(b"podctl key id")[:4]
