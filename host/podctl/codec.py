"""construct definitions built from the protocol's tables.

The firmware packs with struct; the host reads the same bytes through these
declarative layouts, generated from protocol/catalogue.py, protocol/frame.py
and protocol/log.py rather than written a second time. The frame's CRC is
checked with crcmod here, independently of binascii on the device side.
"""

from __future__ import annotations

from functools import cache

import crcmod.predefined
from construct import (
    Bytes,
    Checksum,
    Construct,
    GreedyBytes,
    If,
    Int8sl,
    Int8ul,
    Int16sl,
    Int16ul,
    Int32sl,
    Int32ul,
    Int64sl,
    Int64ul,
    Struct,
    this,
)

from protocol import catalogue, frame, log
from protocol.auth import TAG_LEN

_INTS: dict[str, Construct] = {
    "B": Int8ul,
    "b": Int8sl,
    "H": Int16ul,
    "h": Int16sl,
    "I": Int32ul,
    "i": Int32sl,
    "Q": Int64ul,
    "q": Int64sl,
}

crc32 = crcmod.predefined.mkCrcFun("crc-32")


def field(code: str) -> Construct:
    """construct type for a struct code from the protocol's tables."""
    if code == "*":
        return GreedyBytes
    if code.endswith("s"):
        return Bytes(int(code[:-1]))
    return _INTS[code]


def table(fields) -> Struct:
    return Struct(*(f[0] / field(f[1]) for f in fields))


@cache
def payload(msg_type: int, reply: bool) -> Struct | None:
    fields = catalogue.fields(msg_type, reply)
    return None if fields is None else table(fields)


Header = table(frame.HEADER_FIELDS)

def _covered(ctx) -> bytes:
    """The bytes the CRC covers: everything before it, rebuilt from fields."""
    out = Header.build(ctx.header)
    if ctx.counter is not None:
        out += Int32ul.build(ctx.counter)
    out += ctx.payload
    if ctx.tag is not None:
        out += ctx.tag
    return out


# A frame after COBS decoding, delimiter removed.
RawFrame = Struct(
    "header" / Header,
    "counter" / If(this.header.flags & catalogue.FLAG_AUTH, Int32ul),
    "payload" / Bytes(this.header.length),
    "tag" / If(this.header.flags & catalogue.FLAG_AUTH, Bytes(TAG_LEN)),
    "crc"
    / Checksum(
        Int32ul,
        lambda data: crc32(data),
        _covered,
    ),
)


BlockHeader = table(log.HEADER_FIELDS)
EventRecord = table(log.EVENT_FIELDS)
