# Small records kept on flash with a CRC, replaced atomically.
#
# write(): the new bytes go to NAME.new, are read back and checked, then
# renamed over NAME (littlefs renames atomically), so a power cut leaves the
# old record or the new one, never a torn one. clean() removes a .new left by
# a cut before the rename.
import binascii
import os
import struct

from protocol.frame import crc32

# The profile in force: the pod reads it at boot, a link upload seals it.
# Here, not in pod.py or commands.py, so both can name it.
PROFILE = "profile"


def _path(root, name):
    return root + "/" + name


def read(root, name):
    """The record's bytes, None if absent, or False if damaged."""
    try:
        with open(_path(root, name), "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) < 4:
        return False
    body = data[:-4]
    if crc32(body) != struct.unpack("<I", data[-4:])[0]:
        return False
    return body


def write(root, name, body):
    """Replace the record atomically; raises OSError if storage fails.

    The read-back goes through a small buffer with a running CRC, not a
    copy of the record: a profile is several hundred bytes, and a 64 KiB
    heap mid-mission has no such run to spare."""
    tmp = _path(root, name + ".new")
    crc = crc32(body)
    tail = struct.pack("<I", crc)
    with open(tmp, "wb") as w:
        w.write(body)
        w.write(tail)
    del w  # free before the next open (as in seal)
    n = len(body)
    chunk = bytearray(32)
    got = 0
    seen = 0
    with open(tmp, "rb") as f:
        while seen < n:
            k = f.readinto(memoryview(chunk)[: min(32, n - seen)])
            if not k:
                break
            got = binascii.crc32(memoryview(chunk)[:k], got)
            seen += k
        ok = seen == n and got & 0xFFFFFFFF == crc and f.read(5) == tail  # and nothing after
    if not ok:
        raise OSError(5, "verify failed")  # EIO
    os.rename(tmp, _path(root, name))


def seal(root, name, body):
    """Make NAME.new, which already holds body (written piece by piece, as
    a profile upload is, and read back by the caller), the record: append
    the CRC, check it, rename over NAME."""
    tmp = _path(root, name + ".new")
    tail = struct.pack("<I", crc32(body))
    with open(tmp, "ab") as w:
        w.write(tail)
    # the closed file stays referenced by its name until that is rebound,
    # which is after the next open: let it go first, so its ~300 bytes of
    # buffers can be the next file's (a 64 KiB heap mid-mission has few
    # such runs)
    del w
    with open(tmp, "rb") as f:
        f.seek(len(body))
        ok = f.read(5) == tail  # the CRC, and nothing after it
    if not ok:
        raise OSError(5, "verify failed")  # EIO
    os.rename(tmp, _path(root, name))


def clean(root, name):
    try:
        os.remove(_path(root, name + ".new"))
        return True
    except OSError:
        return False
