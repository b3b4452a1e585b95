# Small records kept on flash with a CRC, replaced atomically.
#
# write(): the new bytes go to NAME.new, are read back and checked, then
# renamed over NAME (littlefs renames atomically), so a power cut leaves the
# old record or the new one, never a torn one. clean() removes a .new left by
# a cut before the rename.
import os
import struct

from protocol.frame import crc32


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
    """Replace the record atomically; raises OSError if storage fails."""
    tmp = _path(root, name + ".new")
    data = bytes(body) + struct.pack("<I", crc32(body))
    with open(tmp, "wb") as f:
        f.write(data)
    with open(tmp, "rb") as f:
        if f.read() != data:
            raise OSError(5, "verify failed")  # EIO
    os.rename(tmp, _path(root, name))


def clean(root, name):
    try:
        os.remove(_path(root, name + ".new"))
        return True
    except OSError:
        return False
