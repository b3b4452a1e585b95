# Link framing: header, optional auth, payload, CRC-32, COBS, 0x00 delimiter.
#
#  before COBS:
#  +-----+------+-------+-------+--------+ - - - - - -+-----------+ - - - - -+-------+
#  | ver | type | flags |  seq  | length | counter    | payload   | tag       | crc32 |
#  | u8  |  u8  |  u8   | u16le | u16le  | u32le      | length B  | 16 B      | u32le |
#  +-----+------+-------+-------+--------+ - - - - - -+-----------+ - - - - -+-------+
#                                         only if flags & FLAG_AUTH
#  on the wire: COBS(all of the above) 0x00
#
# crc32 is CRC-32/ISO-HDLC (binascii.crc32, zlib) over every byte before it.
# tag is HMAC-SHA256(link key, ver..length || counter || payload || extra)[:16]
# where extra, never sent, is the device's challenge in a command and the
# host's nonce in a nonce-signed reply (SPEC 4.1); other replies have none.
# ver's position and the trailing CRC are the same in every protocol version,
# so a peer can always tell "other version" from "line noise".
import binascii
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x

from protocol import cobs, wire
from protocol.auth import TAG_LEN
from protocol.wire import (
    ERR_BAD_COBS,
    ERR_BAD_CRC,
    ERR_BAD_LENGTH,
    ERR_BAD_VERSION,
    ERR_OVERSIZE,
    ERR_TRUNCATED,
    ERR_UNKNOWN_TYPE,
    FLAG_AUTH,
    PROTOCOL_VERSION,
)

# (name, struct code): the header in wire order; host/podctl/codec.py reads it too.
HEADER_FIELDS = (
    ("version", "B"),
    ("type", "B"),
    ("flags", "B"),
    ("seq", "H"),
    ("length", "H"),  # payload bytes, counter and tag excluded
)
HEADER_FMT = "<BBBHH"  # the codes above; tests/mp/test_layout_tables.py checks
HEADER_LEN = 7
_COUNTER_LEN = const(4)
CRC_LEN = 4
MAX_PAYLOAD = 1024
# Largest frame before COBS: header, counter, payload, tag, CRC.
MAX_RAW = HEADER_LEN + _COUNTER_LEN + MAX_PAYLOAD + TAG_LEN + CRC_LEN
# Largest frame on the wire, delimiter excluded.
MAX_WIRE = cobs.max_encoded(MAX_RAW)


def crc32(data):
    return binascii.crc32(data) & 0xFFFFFFFF


class Frame:
    """A frame that passed every check the framing layer can make."""

    def __init__(self, version, msg_type, flags, seq, payload, counter, tag, signed):
        self.version = version
        self.type = msg_type
        self.flags = flags
        self.seq = seq
        self.payload = payload  # bytes
        self.counter = counter  # None unless flags & FLAG_AUTH
        self.tag = tag  # None unless flags & FLAG_AUTH
        self.signed = signed  # the bytes the tag covers, for verify()

    def verify(self, hmac, data=b""):
        """True if the tag matches under hmac (an auth.Hmac); data: what the
        tag covers beyond the frame (the device's challenge for a command,
        the host's nonce for a nonce-signed reply; SPEC 4.1). (Named data,
        a name MicroPython has built in: the board's qstrs are few.)"""
        from protocol.auth import compare_digest

        if self.tag is None:
            return False
        return compare_digest(hmac.tag(self.signed, data), self.tag)

    def __repr__(self):
        return "Frame(type=0x%02x seq=%d flags=0x%02x len=%d)" % (
            self.type,
            self.seq,
            self.flags,
            len(self.payload),
        )


class Reject:
    """A delimited chunk of the stream that is not an acceptable frame.

    code is one of wire.ERR_*; detail is code-specific (the peer's
    version, the unknown type); seq and type are set when the header was
    readable and its CRC good, so the receiver can answer with an ERROR.
    """

    def __init__(self, code, detail=0, msg_type=None, seq=None, flags=0):
        self.code = code
        self.detail = detail
        self.type = msg_type
        self.seq = seq
        self.flags = flags

    def reason(self):
        from protocol import catalogue  # the names are the host's: not loaded on the board

        return catalogue.error_name(self.code)

    def __repr__(self):
        return "Reject(%s detail=%d)" % (self.reason(), self.detail)


# The encoder keeps the frame before COBS inside its wire buffer, this far in,
# and encodes it in place: one buffer instead of two (a KiB of the board's
# heap).
_RAW_AT = cobs.in_place_offset(MAX_RAW)
ENCODER_BYTES = max(MAX_WIRE + 1, _RAW_AT + MAX_RAW)


class Encoder:
    """Builds frames in one buffer made once.

    Pack the payload into .raw at .payload_at(flags), then call finish();
    the wire bytes are .wire[:n] and are overwritten by the next frame.
    .raw is a view into .wire.
    """

    def __init__(self, buf=None):
        # buf: ENCODER_BYTES to build frames in (the board's, made early)
        self.wire = buf if buf is not None else bytearray(ENCODER_BYTES)
        self.raw = memoryview(self.wire)[_RAW_AT:]

    @staticmethod
    def payload_at(flags):
        return HEADER_LEN + (_COUNTER_LEN if flags & FLAG_AUTH else 0)

    def finish(self, msg_type, seq, flags, length, counter=0, hmac=None, data=b""):
        """Complete the frame whose payload is already in .raw; return the
        wire length including the trailing 0x00. data: bytes the tag covers
        after the frame's own (the challenge or nonce, never sent)."""
        if length > MAX_PAYLOAD:
            raise ValueError("payload of %d bytes exceeds %d" % (length, MAX_PAYLOAD))
        raw = self.raw
        struct.pack_into(
            HEADER_FMT, raw, 0, PROTOCOL_VERSION, msg_type, flags, seq & 0xFFFF, length
        )
        end = HEADER_LEN + length
        if flags & FLAG_AUTH:
            struct.pack_into("<I", raw, HEADER_LEN, counter)
            end += _COUNTER_LEN
            if hmac is None:
                raise ValueError("an authenticated frame needs a key")
            raw[end : end + TAG_LEN] = hmac.tag(raw[:end], data)
            end += TAG_LEN
        struct.pack_into("<I", raw, end, crc32(raw[:end]))
        end += CRC_LEN
        n = cobs.encode_into(self.wire, end, self.wire, _RAW_AT)
        self.wire[n] = 0
        return n + 1


def encode(msg_type, seq, payload=b"", flags=0, counter=0, hmac=None, data=b""):
    """One frame as wire bytes, delimiter included (host convenience)."""
    enc = Encoder()
    at = enc.payload_at(flags)
    enc.raw[at : at + len(payload)] = payload
    n = enc.finish(msg_type, seq, flags, len(payload), counter, hmac, data)
    return bytes(enc.wire[:n])


class Deframer:
    """Splits a byte stream at 0x00 and checks each frame.

    feed() never raises on bad input and never waits: garbage, noise and cut
    frames come back as Reject verdicts and the stream resynchronises at the
    next delimiter. Empty chunks (two delimiters in a row) are ignored, so a
    sender may lead with 0x00 to flush a peer's partial frame.
    """

    def __init__(self, buf=None):
        # buf: MAX_WIRE bytes to gather a frame in (the board's, made early)
        self._buf = buf if buf is not None else bytearray(MAX_WIRE)
        self._n = 0
        self._oversize = False
        self.rejected = 0  # count of Reject verdicts, for link statistics

    def feed(self, data):
        """Consume bytes; return a list of Frame and Reject, in stream order."""
        out = []
        i = 0
        n = len(data)
        while i < n:
            z = data.find(b"\x00", i)
            end = n if z < 0 else z
            k = end - i
            if not self._oversize:
                if self._n + k > MAX_WIRE:
                    self._oversize = True
                    self._n = 0
                else:
                    self._buf[self._n : self._n + k] = memoryview(data)[i:end]
                    self._n += k
            if z < 0:
                break
            i = z + 1
            if self._oversize:
                self._oversize = False
                v = Reject(ERR_OVERSIZE)
            elif self._n == 0:
                continue
            else:
                v = self._check(self._n)
            self._n = 0
            if isinstance(v, Reject):
                self.rejected += 1
            out.append(v)
        return out

    def _check(self, n):
        buf = self._buf
        m = cobs.decode_into(buf, n, buf)
        if m < 0:
            return Reject(ERR_BAD_COBS)
        if m < HEADER_LEN + CRC_LEN:
            return Reject(ERR_TRUNCATED, m)
        body = memoryview(buf)[: m - CRC_LEN]
        got = buf[m - 4] | buf[m - 3] << 8 | buf[m - 2] << 16 | buf[m - 1] << 24
        if crc32(body) != got:
            return Reject(ERR_BAD_CRC)
        version, msg_type, flags, seq, length = struct.unpack_from(HEADER_FMT, buf, 0)
        if version != PROTOCOL_VERSION:
            return Reject(ERR_BAD_VERSION, version, msg_type, seq, flags)
        extra = _COUNTER_LEN + TAG_LEN if flags & FLAG_AUTH else 0
        if HEADER_LEN + extra + length + CRC_LEN != m:
            return Reject(ERR_BAD_LENGTH, length, msg_type, seq, flags)
        if length > MAX_PAYLOAD:  # fits MAX_WIRE only because it is unsigned
            return Reject(ERR_OVERSIZE, length, msg_type, seq, flags)
        if not wire.known(msg_type):
            return Reject(ERR_UNKNOWN_TYPE, msg_type, msg_type, seq, flags)
        at = HEADER_LEN
        counter = tag = None
        signed = None
        if flags & FLAG_AUTH:
            counter = struct.unpack_from("<I", buf, HEADER_LEN)[0]
            at += _COUNTER_LEN
            # one copy each (a bytearray slice would be a second): a
            # request's transient copies are what a full heap must find room for
            mv = memoryview(buf)
            signed = bytes(mv[: at + length])
            tag = bytes(mv[at + length : at + length + TAG_LEN])
        payload = bytes(memoryview(buf)[at : at + length])
        return Frame(version, msg_type, flags, seq, payload, counter, tag, signed)
