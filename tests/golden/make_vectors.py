"""Regenerate protocol/vectors/*.json from the cases below.

    .venv/bin/python -m tests.golden.make_vectors

The vectors are committed; tests check that both interpreters reproduce them
byte for byte and that the host's construct codec reads them the same way.
Regenerate only on a deliberate protocol change, and say so in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from protocol import catalogue as c
from protocol import frame, log, message
from protocol.auth import Hmac
from protocol.keys import LINK, LOG, derive, key_id

OUT = Path(__file__).resolve().parents[2] / "protocol" / "vectors"
KEY = bytes(range(32))  # test key: 00 01 02 .. 1f

DEVICE = b"POD00042".ljust(16, b"\x00")  # 16 bytes on the wire, NUL-padded
NONCE = bytes(range(0xA0, 0xB0))  # the host's fresh random in "log seal"
STATUS_NONCE = bytes(range(0xC0, 0xD0))  # the host's fresh random in "status request"
CHALLENGE = bytes(range(0xE0, 0xE8))  # the device's, from that STATUS: commands' tags cover it


def _seal_reply():
    """LOG_SEAL's fields for a device whose log is the three golden blocks
    (seq 41 to 43, the first chained to the genesis MAC)."""
    logbytes = b"".join(bytes.fromhex(b["block"]) for b in blocks())
    return [DEVICE, key_id(KEY), 3, 41, 43, logbytes[-16:], len(logbytes),
            13, 3600, 1795000000, NONCE, bytes.fromhex("8f3a6b00c1d2e3f4"), c.SEAL_SIMULATED]


# (name, type, reply, seq, counter or None, field values). Replies to
# authenticated requests are authenticated, with the request's counter.
FRAMES = [
    ("identify request", c.MSG_IDENTIFY, False, 1, None, []),
    (
        "identify reply",
        c.MSG_IDENTIFY,
        True,
        1,
        None,
        [DEVICE, 0x000100, bytes.fromhex("8f3a6b00c1d2e3f4"), c.PROTOCOL_VERSION, 1, 1024],
    ),
    ("status request", c.MSG_STATUS, False, 2, None, [STATUS_NONCE]),
    (
        "status reply",
        c.MSG_STATUS,
        True,
        2,
        0,  # signed over the request's nonce (counter 0)
        [3600, 1795000000, 3, 2, 1, 0x0004, 0x0B, 0x8D, 5120, 5000, 2000, 8000,
         5110, 5130, -40000, 5125, 0, 250, 3712, 42, 17, bytes(range(16)), 24576, 9, CHALLENGE],
    ),
    ("time set", c.MSG_TIME_SET, False, 3, 10, [1795000000]),
    ("time set reply", c.MSG_TIME_SET, True, 3, 10, [3600, 1794999993]),
    ("profile chunk", c.MSG_PROFILE_CHUNK, False, 4, 11, [0, bytes(range(40))]),
    ("log info", c.MSG_LOG_INFO, False, 14, None, [STATUS_NONCE]),
    ("log read", c.MSG_LOG_READ, False, 5, None, [2048, 1000]),
    ("log read reply", c.MSG_LOG_READ, True, 5, None, [2048, 4096, bytes([0] * 8 + [255] * 300)]),
    ("log erase", c.MSG_LOG_ERASE, False, 6, 12, [17]),
    # the same request again: refused after its tag checked, so signed
    ("error replayed", c.MSG_ERROR, True, 6, 12, [c.ERR_REPLAYED, c.MSG_LOG_ERASE, 0]),
    ("error unknown type", c.MSG_ERROR, True, 7, None, [c.ERR_UNKNOWN_TYPE, 0x55, 0x55]),
    ("log seal", c.MSG_LOG_SEAL, False, 8, 13, [NONCE]),
    ("log seal reply", c.MSG_LOG_SEAL, True, 8, 13, None),
    ("key rotate", c.MSG_KEY_ROTATE, False, 0xFFFF, 0xFFFFFFFF, [bytes(range(100, 132))]),
]


def jsonable(v):
    return v.hex() if isinstance(v, bytes) else v


def extra_of(t, reply, counter):
    """What a frame's tag covers beyond its bytes (SPEC 4.1): a command's
    the device's challenge, a nonce-signed reply the request's nonce."""
    if counter is None:
        return b""
    if not reply:
        return CHALLENGE
    return STATUS_NONCE if t in c.NONCE_SIGNED else b""


def frames():
    h = Hmac(derive(KEY, LINK))  # the link's tags are under the link key
    out = []
    for name, t, reply, seq, counter, values in FRAMES:
        if values is None:
            values = _seal_reply()
        payload = message.pack(t, reply, *values)
        flags = (c.FLAG_REPLY if reply else 0) | (c.FLAG_AUTH if counter is not None else 0)
        extra = extra_of(t, reply, counter)
        wire = frame.encode(
            t, seq, payload, flags, counter or 0, h if counter is not None else None, extra
        )
        out.append(
            {
                "name": name,
                "type": t,
                "reply": reply,
                "seq": seq,
                "flags": flags,
                "counter": counter,
                "extra": extra.hex(),
                "fields": [jsonable(v) for v in values],
                "payload": payload.hex(),
                "wire": wire.hex(),
            }
        )
    return out


def raw_frame(header: bytes, body: bytes = b"") -> bytes:
    """A frame with a correct CRC around arbitrary header/body bytes."""
    from protocol import cobs

    raw = header + body
    raw += frame.crc32(raw).to_bytes(4, "little")
    return cobs.encode(raw) + b"\x00"


def bad():
    good = frame.encode(c.MSG_STATUS, 9, b"")
    bad_crc = bytearray(good)
    bad_crc[4] ^= 0x40  # a flipped bit in the seq field, not a COBS code byte
    streams = [
        ("bad crc", bytes(bad_crc), [["reject", "BAD_CRC", 0]]),
        ("truncated", good[:6] + b"\x00", [["reject", "TRUNCATED", 5]]),
        ("oversize", b"\x01" * (frame.MAX_WIRE + 10) + b"\x00", [["reject", "OVERSIZE", 0]]),
        ("bad cobs", b"\x09\x11\x22\x00", [["reject", "BAD_COBS", 0]]),
        (
            "unknown type",
            raw_frame(bytes([c.PROTOCOL_VERSION, 0x55, 0, 7, 0, 0, 0])),
            [["reject", "UNKNOWN_TYPE", 0x55]],
        ),
        (
            # a version 1 host's STATUS request
            "wrong version",
            raw_frame(bytes([1, c.MSG_STATUS, 0, 7, 0, 0, 0])),
            [["reject", "BAD_VERSION", 1]],
        ),
        (
            "length disagrees",
            raw_frame(bytes([c.PROTOCOL_VERSION, c.MSG_STATUS, 0, 7, 0, 5, 0])),
            [["reject", "BAD_LENGTH", 5]],
        ),
        (
            "garbage between frames",
            b"\x00" + good + b"\xde\xad\xbe\xef garbage" + b"\x00" + good,
            [["frame", c.MSG_STATUS, 9], ["reject", "BAD_COBS", 0], ["frame", c.MSG_STATUS, 9]],
        ),
        (
            # a cut frame swallows what follows up to the next delimiter,
            # which is why the host leads every request with 0x00
            "cut frame then delimiter-led frame",
            good[:6] + b"\x00" + good,
            [["reject", "TRUNCATED", 5], ["frame", c.MSG_STATUS, 9]],
        ),
        ("empty frames ignored", b"\x00\x00\x00" + good, [["frame", c.MSG_STATUS, 9]]),
    ]
    return [{"name": n, "stream": s.hex(), "expect": e} for n, s, e in streams]


def blocks():
    h = Hmac(derive(KEY, LOG))  # the MAC chain is under the log key
    w = log.BlockWriter()
    out = []
    prev = log.GENESIS_MAC
    # 1: samples with 8-bit deltas; 2: one delta needs 16 bits; 3: events.
    w.start_samples(120, 60, [512, 498, 505, 9000, 455, 10132, 35, -12, 3712], 0x81,
                    log.FMT_DELTA8)
    recs = [([515, 497, 505, 9001, 455, 10131, 40, -10, 3711], 0x81),
            ([520, 496, 507, 9001, 457, 10131, 45, 0, 3710], 0x81),
            ([519, 495, 509, 9003, 456, 10130, 30, 25, 3709], 0x83)]
    for v, s in recs:
        assert w.add_sample(v, s)
    n = w.seal(41, 3, h, prev)
    out.append(block_entry("samples delta8", w.block[:n], prev))
    prev = bytes(w.block[n - 16 : n])
    w.start_samples(
        300, 10, [519, 495, 509, 9003, 456, 10130, 30, 25, 3709], 0x83, log.FMT_DELTA16
    )
    assert w.add_sample([719, 495, 509, -9000, 456, 10130, 100, -100, 3600], 0x8B)
    n = w.seal(42, 3, h, prev)
    out.append(block_entry("samples delta16", w.block[:n], prev))
    prev = bytes(w.block[n - 16 : n])
    w.start_events()
    w.add_event(0, log.EV_BOOT, log.RESET_WATCHDOG, 3, 0x000100)
    w.add_event(61, log.EV_TIME_SET, 0, 0, 1795000000)
    w.add_event(3599, log.EV_PROBE_FAULT, 2, 1, (-40000) & 0xFFFFFFFF)
    n = w.seal(43, 3, h, prev)
    out.append(block_entry("events", w.block[:n], prev))
    return out


# fmt 3 (SPEC 7.4, 7.9): one record of each kind of nibble, then a block
# filled to BLOCK_MAX that ends on its exception list
NR = log.NO_READING
DELTA4 = [
    ([519, 495, 509, 9003, 456, 10130, 30, 25, 3709], 0x83),  # key
    # +7, -7, -8 (an escape), 0, +1, -1; status XOR 0x02
    ([526, 488, 501, 9003, 457, 10129, 30, 25, 3709], 0x81),
    # into no reading; +70, -125; status XOR 0x08 (nibble 8: an escape)
    ([NR, 489, 501, 9003, 460, 10129, 100, -100, 3708], 0x89),
    # out of no reading, to both int16 extremes (deltas modulo 2**16);
    # status XOR 0x80 (wider than a nibble: an escape)
    ([520, 489, 32767, -32767, 460, 10129, 100, -100, 3708], 0x09),
]


def full_delta4_records():
    """40 records whose exceptions fill the payload to PAYLOAD_MAX: 38
    with an escape in every nibble, status too (25 bytes each), then one
    with three (11 bytes), after the 19-byte key: 19 + 38 * 25 + 11 = 980."""
    recs = [([1000 * c for c in range(9)], 0x80)]
    for i in range(1, 39):
        step = 100 if i % 2 else -100
        recs.append(([v + step for v in recs[-1][0]], recs[-1][1] ^ 0x90))
    last = list(recs[-1][0])
    last[0] += 20
    last[4] -= 9
    last[8] += 8
    recs.append((last, recs[-1][1]))
    return recs


def delta4_blocks(prev):
    """The fmt 3 vectors, chained after the events block (seq 44, 45)."""
    h = Hmac(derive(KEY, LOG))
    w = log.BlockWriter()
    out = []
    for name, seq, t0, recs in (("samples delta4", 44, 600, DELTA4),
                                ("samples delta4 full", 45, 840, full_delta4_records())):
        w.start_samples(t0, 60, recs[0][0], recs[0][1], log.FMT_DELTA4)
        for v, st in recs[1:]:
            assert w.add_sample(v, st)
        n = w.seal(seq, 3, h, prev)
        out.append(block_entry(name, w.block[:n], prev))
        prev = bytes(w.block[n - 16 : n])
    assert len(out[1]["block"]) // 2 == log.BLOCK_MAX  # full to the byte
    return out


def block_entry(name, data, prev):
    data = bytes(data)
    blk = log.parse_block(data, 0)
    assert isinstance(blk, log.Block), blk
    if blk.kind == log.KIND_SAMPLES:
        recs = [[t, vals, st] for t, vals, st in log.samples(data, blk)]
    else:
        recs = [list(e) for e in log.events(data, blk)]
    return {
        "name": name,
        "prev_mac": prev.hex(),
        "block": data.hex(),
        "seq": blk.seq,
        "boot": blk.boot,
        "kind": blk.kind,
        "records": recs,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {
        "key": KEY.hex(),  # the device key; the link and log keys derive from it
        "link_key": derive(KEY, LINK).hex(),
        "log_key": derive(KEY, LOG).hex(),
        "frames": frames(),
        "bad_streams": bad(),
        "log_blocks": blocks(),
        # fmt 3, apart: the three blocks above are the log of LOG_SEAL's
        # vector (SPEC 5.11), which these would change
        "delta4_blocks": delta4_blocks(bytes.fromhex(blocks()[-1]["block"])[-16:]),
    }
    (OUT / "golden.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT / 'golden.json'}")


if __name__ == "__main__":
    main()
