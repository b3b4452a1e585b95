# Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999).
#
# The encoded form holds no 0x00 byte, so 0x00 can delimit frames and a
# receiver resynchronises at the next one after any garbage. A block of 254
# non-zero bytes is written as FF + 254 bytes; a decoder also accepts the
# variant that follows such a final block with a redundant 01.
#
# Both functions work on caller-owned buffers so the firmware can reuse
# buffers made once; the host wrappers at the bottom return bytes.

# Longest run a COBS code byte can describe.
_RUN = 254


def max_encoded(n):
    """Worst-case encoded length of n bytes (without the delimiter)."""
    return n + n // _RUN + 1


def in_place_offset(n):
    """Where n bytes must start in a buffer for encode_into to encode them
    into the same buffer from 0: the output is never more than this ahead."""
    return n // _RUN + 2


def encode_into(src, n, dst, at=0):
    """Encode src[at:at + n] into dst (at least max_encoded(n) long) from
    dst[0]; return the encoded length.

    src must be bytes or bytearray (it needs .find). dst may be src itself
    when at >= in_place_offset(n): each code byte is written behind the
    data still to be read, and each run is copied out before it is written.
    """
    out = 0
    i = at
    end = at + n
    while True:
        z = src.find(b"\x00", i, end)
        if z < 0:
            z = end
        while z - i >= _RUN:
            dst[out] = 0xFF
            dst[out + 1 : out + 1 + _RUN] = src[i : i + _RUN]
            out += _RUN + 1
            i += _RUN
            if i == end:  # data ended on a full block: no trailing 01
                return out
        k = z - i
        dst[out] = k + 1
        dst[out + 1 : out + 1 + k] = src[i:z]
        out += k + 1
        if z >= end:
            return out
        i = z + 1


def decode_into(src, n, dst):
    """Decode src[:n] (no delimiter inside) into dst; return length or -1.

    dst may be src itself: the output never overtakes the input. -1 means a
    code byte is zero or points past the end of the frame.
    """
    i = 0
    out = 0
    while i < n:
        code = src[i]
        if code == 0:
            return -1
        i += 1
        end = i + code - 1
        if end > n:
            return -1
        k = end - i
        if k:
            dst[out : out + k] = src[i:end]
            out += k
            i = end
        if code != 0xFF and i < n:
            dst[out] = 0
            out += 1
    return out


def encode(data):
    """COBS-encode bytes; returns bytes without the delimiter."""
    data = bytes(data)
    dst = bytearray(max_encoded(len(data)))
    return bytes(dst[: encode_into(data, len(data), dst)])


def decode(data):
    """COBS-decode bytes (no delimiter); returns bytes, or None if invalid."""
    buf = bytearray(data)
    n = decode_into(buf, len(buf), buf)
    if n < 0:
        return None
    return bytes(buf[:n])
