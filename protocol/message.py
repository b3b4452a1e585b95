# Pack and unpack message payloads with struct, from the formats of
# protocol/wire.py (the catalogue's layouts as the board carries them).
# The host has a second, independent reading of the same catalogue in
# construct (host/podctl/codec.py); the golden vectors hold the two together.
import struct

from protocol import wire


def layout(msg_type, reply):
    """(format, fixed size, has tail) for a message, or None if unknown.

    Worked out on each call, not cached: a cache of every layout in use
    held about 2 KiB of a 64 KiB heap on the board, to save microseconds
    on a request that takes milliseconds on the wire."""
    f = wire.fmt(msg_type, reply)
    if f is None:
        return None
    return f[0], struct.calcsize(f[0]), f[1]


def pack(msg_type, reply, *values):
    """Payload bytes for a message; a '*' field's value is bytes, last."""
    fmt, size, tail = layout(msg_type, reply)
    if tail:
        return struct.pack(fmt, *values[:-1]) + bytes(values[-1])
    return struct.pack(fmt, *values)


def pack_into(buf, offset, msg_type, reply, *values):
    """Pack the fixed part into buf at offset; return its size. A caller
    with a '*' field writes the tail itself at offset + size."""
    fmt, size, tail = layout(msg_type, reply)
    struct.pack_into(fmt, buf, offset, *values)
    return size


def unpack(msg_type, reply, payload):
    """Tuple of field values, or None if the payload does not fit."""
    lay = layout(msg_type, reply)
    if lay is None:
        return None
    fmt, size, tail = lay
    n = len(payload)
    if n < size or (n != size and not tail):
        return None
    values = struct.unpack_from(fmt, payload, 0)
    if tail:
        values = values + (bytes(payload[size:]),)
    return values


def names(msg_type, reply):
    from protocol import catalogue  # host side: field names stay off the board

    return tuple(f[0] for f in catalogue.fields(msg_type, reply))


def to_dict(msg_type, reply, payload):
    """Field name -> value, or None if the payload does not fit."""
    values = unpack(msg_type, reply, payload)
    if values is None:
        return None
    return dict(zip(names(msg_type, reply), values))
