"""A log decoder written from protocol/SPEC.md alone (issue 13).

Standard library only (hashlib, hmac, struct, bisect). It was first written
from the SPEC before any of protocol/*.py, host/, firmware/ or sim/ was
read, then held to podctl record by record (tests/test_spec_decoder.py).
Where podctl disagreed because the SPEC was silent, ambiguous or wrong, the
SPEC was amended and this file follows the amended text; each such rule
cites its section:

- 7.5   display values; podctl's tables round them to the scale's decimals
- 7.7   how podctl shows an event's value (unit, scale, text); BOOT's a
        holds the simulated bit 0x80 above the reset cause
- 7.4   format 3 (nibble records and their exception list), taught from
        the SPEC's text when the device began to write it (issue 16)
- 7.8   a TIME_SET's own UTC when another TIME_SET shares its uptime; no
        UTC at all for a boot without TIME_SET (the pull's anchor is not used)
- 7.11  a record's phase (across boots) and payload estimate (new section)
- 8.1   well-formed sample blocks that are not decoded (nchan, uptime
        overflow); records decoded whatever the MAC
- 8.2   the block after a bad region: "after damage", not a MAC mismatch
- 8.3   an "unanchored start"; which key of a history checks which block

    scan = parse_log(data)              # blocks and bad regions (8.1, 8.2)
    macs = check_macs(scan, [key])      # MAC verdict per block (7.3, 8.2, 8.3)
    log = decode_log(data, [key])       # samples and events (7.4 to 7.8, 7.11)
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

# 7.1 header: magic, layout, kind, fmt, nchan, seq, boot, count, t0,
# interval, length
HEADER = struct.Struct("<4sBBBBIHHIHH")
HEADER_LEN = 24
TRAILER_LEN = 20  # CRC 4 + MAC 16
MAGIC = b"PODL"
LAYOUT = 1
PAYLOAD_MAX = 980
GENESIS_MAC = bytes(16)  # 7.3
KIND_SAMPLES = 1
KIND_EVENTS = 2
EVENT = struct.Struct("<IBBHI")  # 7.7: t, code, a, b, value
EVENT_LEN = 12

NO_READING = -32768  # 7.4
NO_READING_MDEG = 0x80000000  # 7.7, stored unsigned (-2147483648 signed)

# 7.5: name, scale (display value = stored x scale)
CHANNELS = (
    ("probe0", 0.01), ("probe1", 0.01), ("probe2", 0.01), ("probe3", 0.01),
    ("humidity", 0.1), ("pressure", 0.1), ("heater", 1), ("peltier", 1),
    ("battery", 0.001),
)
STATUS_BITS = (  # 7.6
    (0x01, "heating"), (0x02, "cooling"), (0x04, "alarm"),
    (0x08, "probe_fault"), (0x10, "safe_mode"), (0x20, "lid_open"),
    (0x40, "battery_low"), (0x80, "time_set"),
)
EVENT_NAMES = {  # 7.7
    1: "BOOT", 2: "PHASE", 3: "ALARM_RAISED", 4: "ALARM_CLEARED",
    5: "PROFILE_ACCEPTED", 6: "PROFILE_REFUSED", 7: "PROBE_FAULT",
    8: "PROBE_RECOVERED", 9: "TIME_SET", 10: "LOG_ERASED",
    11: "COMMAND_REFUSED", 12: "MODE", 13: "STORAGE_FULL", 14: "KEY_ROTATED",
    15: "REFUSALS", 16: "PROBE_REFERENCE", 17: "ACTUATOR_FAULT",
}
(BOOT, PHASE, ALARM_RAISED, PROFILE_ACCEPTED, PROFILE_REFUSED, PROBE_FAULT,
 PROBE_RECOVERED, TIME_SET, LOG_ERASED, COMMAND_REFUSED, STORAGE_FULL,
 KEY_ROTATED, REFUSALS, PROBE_REFERENCE, ACTUATOR_FAULT) = (
    1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17)
BOOT_SIMULATED = 0x80  # 7.7: in BOOT's a, above the reset cause
# 7.7 / 9.2: ALARM_RAISED values that are signed mdegC readings
TEMPERATURE_ALARMS = frozenset({0, 1, 2, 3, 4})  # high low cumulative abs_high abs_low

# the verdicts of 8.1
CUT_SHORT = "cut short"
BAD_MAGIC = "bad magic"
BAD_LAYOUT = "unknown layout version"
BAD_LENGTH = "length out of range"
BAD_CRC = "CRC mismatch"
BAD_COUNT = "record count disagrees with length"
BAD_KIND = "unknown block kind"

LOG_KEY_USE = b"podctl log v2"


def log_mac_key(device_key: bytes) -> bytes:
    """The log key, which MACs the blocks (7.3): derived from the device
    key, HMAC-SHA256(device key, "podctl log v2") (SPEC 1 and 4.7, being
    written with issue 14; 7.1 and 7.3 still said "device key")."""
    return hmac.new(device_key, LOG_KEY_USE, hashlib.sha256).digest()


def mac16(key: bytes, data: bytes) -> bytes:
    """1: HMAC-SHA256 truncated to its first 16 bytes."""
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


@dataclass(frozen=True)
class Block:
    offset: int
    kind: int
    fmt: int
    nchan: int
    seq: int
    boot: int
    count: int
    t0: int
    interval: int
    length: int
    signed: bytes  # header and payload: bytes [0, 24 + length), 7.1
    mac: bytes

    @property
    def size(self) -> int:
        return HEADER_LEN + self.length + TRAILER_LEN

    @property
    def payload(self) -> bytes:
        return self.signed[HEADER_LEN:]


@dataclass(frozen=True)
class BadRegion:
    start: int
    end: int
    verdict: str


@dataclass
class Scan:
    """The walk of 8.2: well-formed blocks and bad regions, in log order."""
    items: list[Block | BadRegion] = field(default_factory=list)

    @property
    def blocks(self) -> list[Block]:
        return [b for b in self.items if isinstance(b, Block)]

    @property
    def bad(self) -> list[BadRegion]:
        return [b for b in self.items if isinstance(b, BadRegion)]


def check_block(data: bytes, o: int) -> Block | str:
    """8.1: the block at offset o, or the first verdict it fails."""
    left = len(data) - o
    if left < HEADER_LEN:
        return CUT_SHORT
    (magic, layout, kind, fmt, nchan, seq, boot, count, t0, interval,
     length) = HEADER.unpack_from(data, o)
    if magic != MAGIC:
        return BAD_MAGIC
    if layout != LAYOUT:
        return BAD_LAYOUT
    if length > PAYLOAD_MAX:
        return BAD_LENGTH
    if left < HEADER_LEN + length + TRAILER_LEN:
        return CUT_SHORT
    end = o + HEADER_LEN + length
    signed = bytes(data[o:end])
    (crc,) = struct.unpack_from("<I", data, end)
    if _crc32(signed) != crc:
        return BAD_CRC
    if kind == KIND_SAMPLES:
        if fmt not in (1, 2, 3) or count < 1 or length != samples_length(
                data[end - length:end], fmt, nchan, count):
            return BAD_COUNT
    elif kind == KIND_EVENTS:
        if length != EVENT_LEN * count:
            return BAD_COUNT
    else:
        return BAD_KIND
    return Block(o, kind, fmt, nchan, seq, boot, count, t0, interval, length,
                 signed, bytes(data[end + 4:end + TRAILER_LEN]))


def samples_length(payload: bytes, fmt: int, nchan: int, count: int) -> int:
    """7.4: the payload length a sample block's records make. Format 3:
    records of ceil((nchan + 1) / 2) bytes and 2 bytes for every nibble 8
    among them."""
    key = 2 * nchan + 1
    if fmt != 3:
        return key + (count - 1) * (nchan * fmt + 1)
    size = (nchan + 2) // 2
    records = payload[key:key + (count - 1) * size]
    escapes = sum((b & 0x0F) == 8 for b in records) + sum((b >> 4) == 8 for b in records)
    return key + (count - 1) * size + 2 * escapes


def _crc32(data: bytes) -> int:
    """1: CRC-32/ISO-HDLC, written out from its parameters (reflected
    0xEDB88320, init and final XOR 0xFFFFFFFF) rather than taken from zlib,
    to show the SPEC's definition is enough."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc_entry(n: int) -> int:
    for _ in range(8):
        n = (n >> 1) ^ 0xEDB88320 if n & 1 else n >> 1
    return n


_CRC_TABLE = [_crc_entry(n) for n in range(256)]
assert _crc32(b"123456789") == 0xCBF43926  # 1: the check value


def parse_log(data: bytes) -> Scan:
    """8.2: walk the log, resynchronising on the next PODL that passes 8.1."""
    scan = Scan()
    o = 0
    while o < len(data):
        got = check_block(data, o)
        if isinstance(got, Block):
            scan.items.append(got)
            o += got.size
            continue
        hit = data.find(MAGIC, o + 1)
        while hit != -1 and not isinstance(check_block(data, hit), Block):
            hit = data.find(MAGIC, hit + 1)
        end = len(data) if hit == -1 else hit
        scan.items.append(BadRegion(o, end, got))
        o = end
    return scan


def first_event_code(block: Block) -> int | None:
    if block.kind != KIND_EVENTS or block.count == 0:
        return None
    return block.payload[4]


# MAC verdicts of a well-formed block (8.2, 8.3 rule 2)
MAC_OK = "ok"
MAC_MISMATCH = "MAC mismatch"
AFTER_DAMAGE = "after damage"
UNANCHORED = "unanchored start"


def check_macs(scan: Scan, keys: list[bytes],
               prev_mac: bytes | None = None) -> list[str]:
    """7.3, 8.2, 8.3 rule 2: the MAC verdict of each well-formed block.

    `keys`: the device's key history, oldest first. Until a block verifies,
    each block is tried under every key, oldest first; then under the key
    in force, and a block whose first event is KEY_ROTATED under the key in
    force and every newer one (8.3). `prev_mac`: the MAC of the block before
    the log's first, kept from an earlier download; None: the first block
    is checked against the genesis MAC."""
    out = []
    current = 0 if len(keys) == 1 else None  # the key in force, once known
    chain = prev_mac  # None: the block before is lost (start, bad region)
    first = True
    for item in scan.items:
        if isinstance(item, BadRegion):
            chain = None
            first = False
            continue
        block = item
        if current is None:
            tries = range(len(keys))
        elif first_event_code(block) == KEY_ROTATED:
            tries = range(current, len(keys))
        else:
            tries = range(current, current + 1)
        signed = (GENESIS_MAC if chain is None else chain) + block.signed
        hit = next((k for k in tries if hmac.compare_digest(
            mac16(log_mac_key(keys[k]), signed), block.mac)), None)
        if hit is not None:
            current = hit
            out.append(MAC_OK)
        elif chain is not None:
            out.append(MAC_MISMATCH)
        elif not first:
            out.append(AFTER_DAMAGE)  # 8.2: it chains to a MAC in the lost bytes
        elif block.seq != 0:
            out.append(UNANCHORED)  # 8.3 rule 2: needs the MAC of block seq - 1
        else:
            out.append(MAC_MISMATCH)
        chain = block.mac
        first = False
    return out


# --- records -------------------------------------------------------------


@dataclass
class Sample:
    boot: int
    seq: int
    index: int  # record index in its block
    uptime: int
    values: list[int]  # stored, per channel (7.5)
    status: int
    utc: int | None = None
    phase: int | None = None
    estimate: float | None = None  # payload estimate, degC (7.11)

    @property
    def flags(self) -> list[str]:
        return [name for bit, name in STATUS_BITS if self.status & bit]

    def display(self) -> dict[str, float | None]:
        """7.5: display value = stored x scale; no reading (7.4) is None."""
        out: dict[str, float | None] = {}
        for (name, scale), v in zip(CHANNELS, self.values):
            out[name] = None if v == NO_READING else v * scale
        return out


@dataclass
class Event:
    boot: int
    seq: int
    index: int
    t: int
    code: int
    a: int
    b: int
    value: int  # as stored, unsigned 32-bit
    utc: int | None = None

    @property
    def name(self) -> str:
        return EVENT_NAMES.get(self.code, f"EVENT_{self.code}")

    @property
    def reset_cause(self) -> int | None:
        """7.7: a BOOT's reset cause, bits 0 to 6 of a."""
        return self.a & 0x7F if self.code == BOOT else None

    @property
    def simulated(self) -> bool:
        """7.7: a BOOT whose a has BOOT_SIMULATED (0x80): no real hardware."""
        return self.code == BOOT and bool(self.a & BOOT_SIMULATED)

    @property
    def signed(self) -> bool:
        """7.7: value is a signed mdegC reading."""
        return self.code in (PROBE_FAULT, PROBE_REFERENCE, ACTUATOR_FAULT) or (
            self.code == ALARM_RAISED and self.a in TEMPERATURE_ALARMS)

    @property
    def reading(self) -> int | None:
        """value as the SPEC says to read it: signed 32-bit where 7.7 says
        so; None for the PROBE_FAULT no-reading sentinel."""
        if not self.signed:
            return self.value
        if self.code == PROBE_FAULT and self.value == NO_READING_MDEG:
            return None
        return self.value - (1 << 32) if self.value & 0x80000000 else self.value

    def shown(self) -> tuple[float | None, str, str]:
        """7.7 "How podctl shows value": (value scaled, unit, text)."""
        code, v = self.code, self.reading
        if code == BOOT:
            return None, "", f"{v >> 16 & 0xFF}.{v >> 8 & 0xFF}.{v & 0xFF}"
        if code in (PROFILE_ACCEPTED, PROFILE_REFUSED):
            return None, "", f"{v:08x}"
        if code in (PROBE_FAULT, PROBE_REFERENCE):
            return (None if v is None else v / 1000), "degC", ""
        if code == ACTUATOR_FAULT:
            return v / 1000, "K", ""
        if code == ALARM_RAISED:
            scale, unit = ALARM_SHOWN.get(self.a, (1, ""))
            return v * scale, unit, ""
        if code == STORAGE_FULL:
            return float(v), {0: "bytes", 1: "seq", 2: "records"}.get(self.a, ""), ""
        if code in VALUE_UNITS:
            return float(v), VALUE_UNITS[code], ""
        if code in EVENT_NAMES:
            return None, "", ""  # 7.7 table: value not used
        return float(v), "", ""


# 7.7 "How podctl shows value": ALARM_RAISED by alarm (scale, unit)
ALARM_SHOWN = {0: (0.001, "degC"), 1: (0.001, "degC"), 2: (0.001, "degC"),
               3: (0.001, "degC"), 4: (0.001, "degC"), 5: (0.001, "g"), 6: (1, "s"),
               7: (0.001, "V"), 8: (1, "count"), 9: (1, "bytes"),
               10: (1, "outputs"), 11: (1, "s")}
VALUE_UNITS = {TIME_SET: "UTC s", LOG_ERASED: "bytes", COMMAND_REFUSED: "counter",
               KEY_ROTATED: "counter", REFUSALS: "refusals"}


def decodable(block: Block) -> bool:
    """8.1: a well-formed sample block is decoded only with layout 1's 9
    channels and record uptimes that fit 32 bits."""
    return block.kind == KIND_EVENTS or (
        block.nchan == len(CHANNELS)
        and block.t0 + (block.count - 1) * block.interval <= 0xFFFFFFFF)


def nibbles(record: bytes) -> list[int]:
    """7.4: a format 3 record's nibbles, low nibble of each byte first."""
    out = []
    for b in record:
        out += [b & 0x0F, b >> 4]
    return out


def wrap16(x: int) -> int:
    """7.4: x brought into -32768 .. 32767 modulo 65536."""
    return (x + 32768) % 65536 - 32768


def samples_of(block: Block) -> list[Sample]:
    """7.4: key record, then cumulative deltas; record i at t0 + i*interval."""
    p = block.payload
    n = block.nchan
    values = list(struct.unpack_from(f"<{n}h", p, 0))
    out = [Sample(block.boot, block.seq, 0, block.t0, list(values), p[2 * n])]
    o = 2 * n + 1
    if block.fmt == 3:
        # the exception list, entry k at length - 2(k + 1), taken in order
        k = 0
        status = p[2 * n]
        size = (n + 2) // 2
        for i in range(1, block.count):
            nib = nibbles(p[o:o + size])[:n + 1]
            o += size
            got = []
            for j, x in enumerate(nib):
                if x == 8:
                    (x,) = struct.unpack_from("<h", p, len(p) - 2 * (k + 1))
                    k += 1
                    got.append(x & 0xFF if j == 0 else x)  # the status: its low byte
                else:
                    got.append(x - 16 if j > 0 and x > 8 else x)
            status ^= got[0]
            values = [wrap16(v + d) for v, d in zip(values, got[1:])]
            out.append(Sample(block.boot, block.seq, i, block.t0 + i * block.interval,
                              list(values), status))
        return out
    code = "b" if block.fmt == 1 else "h"
    for i in range(1, block.count):
        deltas = struct.unpack_from(f"<{n}{code}", p, o)
        o += n * block.fmt
        values = [v + d for v, d in zip(values, deltas)]
        out.append(Sample(block.boot, block.seq, i,
                          block.t0 + i * block.interval, list(values), p[o]))
        o += 1
    return out


def events_of(block: Block) -> list[Event]:
    """7.7: count records of 12 bytes."""
    return [Event(block.boot, block.seq, i, *EVENT.unpack_from(block.payload, EVENT_LEN * i))
            for i in range(block.count)]


# --- UTC (7.8), phase and payload estimate (7.11) --------------------------


def key(boot: int, uptime: int) -> int:
    """7.11: one number that orders (boot, uptime)."""
    return boot << 32 | uptime


def latest(keys: list[int], k: int) -> int:
    """Index of the last of the sorted keys at or before k; -1: none."""
    return bisect_right(keys, k) - 1


@dataclass
class Log:
    scan: Scan
    macs: list[str]  # check_macs, per well-formed block
    samples: list[Sample]
    events: list[Event]

    def blocks_with(self, verdict: str) -> list[int]:
        return [b.seq for b, v in zip(self.scan.blocks, self.macs) if v == verdict]


def decode_log(data: bytes, keys: list[bytes], prev_mac: bytes | None = None) -> Log:
    scan = parse_log(data)
    macs = check_macs(scan, keys, prev_mac)
    samples: list[Sample] = []
    events: list[Event] = []
    for block in scan.blocks:  # 8.1: whatever the MAC
        if not decodable(block):
            continue
        if block.kind == KIND_SAMPLES:
            samples += samples_of(block)
        else:
            events += events_of(block)
    set_utc(samples, events)
    set_phase(samples, events)
    set_estimate(samples, events)
    return Log(scan, macs, samples, events)


def set_utc(samples: list[Sample], events: list[Event]) -> None:
    """7.8: per boot number, the TIME_SET events by uptime (ties in log
    order); a record takes the latest at or before its uptime, else the
    first; no TIME_SET in its boot: no UTC."""
    ts: dict[int, list[int]] = {}
    offs: dict[int, list[int]] = {}
    for e in events:
        if e.code == TIME_SET:
            t = ts.setdefault(e.boot, [])
            i = bisect_right(t, e.t)
            t.insert(i, e.t)
            offs.setdefault(e.boot, []).insert(i, e.value - e.t)

    def utc(boot: int, u: int) -> int | None:
        if boot not in ts:
            return None
        return offs[boot][max(latest(ts[boot], u), 0)] + u

    for s in samples:
        s.utc = utc(s.boot, s.uptime)
    for e in events:
        e.utc = utc(e.boot, e.t)


def set_phase(samples: list[Sample], events: list[Event]) -> None:
    """7.11: the latest PHASE event by (boot, uptime) at or before the record."""
    ph = sorted((key(e.boot, e.t), i, e.a) for i, e in enumerate(events) if e.code == PHASE)
    keys = [k for k, _, _ in ph]
    for s in samples:
        i = latest(keys, key(s.boot, s.uptime))
        s.phase = None if i < 0 else ph[i][2]


NPROBES = 4
PROBE_FAULT_BIT = 0x08  # 7.6


def set_estimate(samples: list[Sample], events: list[Event]) -> None:
    """7.11: the mean of the probes the firmware trusted for the record."""
    spans: list[tuple[int, int, int]] = []  # (probe, from key, to key)
    open_at: dict[int, int] = {}
    boot = None
    for e in events:
        if e.boot != boot:
            if boot is not None:
                spans += [(p, k, key(e.boot, 0)) for p, k in open_at.items()]
                open_at = {}
            boot = e.boot
        if e.code == PROBE_FAULT and e.a < NPROBES:
            open_at.setdefault(e.a, key(e.boot, e.t))
        elif e.code == PROBE_RECOVERED and e.a in open_at:
            spans.append((e.a, open_at.pop(e.a), key(e.boot, e.t)))
    spans += [(p, k, 1 << 62) for p, k in open_at.items()]

    rkeys = [key(s.boot, s.uptime) for s in samples]
    excluded = [{p for p, a, b in spans if a <= k < b} for k in rkeys]
    flagged = [bool(s.status & PROBE_FAULT_BIT) for s in samples]
    unexplained = [f and not x for f, x in zip(flagged, excluded)]
    late: list[set[int]] = [set() for _ in samples]
    for e in events:
        if e.code == PROBE_FAULT and e.a < NPROBES:
            r = bisect_left(rkeys, key(e.boot, e.t)) - 1
            if r >= 0 and unexplained[r] and samples[r].boot == e.boot:
                late[r].add(e.a)
    for s, f, x, lt in zip(samples, flagged, excluded, late):
        shown = s.display()
        probes = [shown[f"probe{p}"] if not (f and p in x | lt) else None
                  for p in range(NPROBES)]
        good = [v for v in probes if v is not None]
        s.estimate = sum(good) / len(good) if good else None


# --- writing blocks (for tests: logs no simulator writes) ------------------


def _delta4(records: list, nchan: int) -> bytes:
    """7.4, format 3: the records after the key and the exception list, stored
    from the payload's end backwards."""
    body = b""
    exceptions: list[int] = []
    prev, pstatus = records[0]
    for values, status in records[1:]:
        nib = []
        for j, d in enumerate([status ^ pstatus] + [wrap16(v - p) for v, p in zip(values, prev)]):
            fits = d != 8 and 0 <= d <= 15 if j == 0 else -7 <= d <= 7
            if fits:
                nib.append(d & 0x0F)
            else:
                nib.append(8)
                exceptions.append(d)
        nib += [0] * (len(nib) % 2)
        body += bytes(nib[i] | nib[i + 1] << 4 for i in range(0, len(nib), 2))
        prev, pstatus = values, status
    return body + b"".join(struct.pack("<h", x) for x in reversed(exceptions))


def encode_block(kind: int, seq: int, boot: int, t0: int, interval: int,
                 records: list, device_key: bytes | None, prev_mac: bytes = GENESIS_MAC,
                 fmt: int = 1, nchan: int = 9) -> bytes:
    """A block as 7.1 lays it out. records: for samples a list of (values,
    status), the first the key record; for events (t, code, a, b, value).
    device_key: its log MAC key MACs the block (7.3); None: a MAC of zeros."""
    if kind == KIND_SAMPLES:
        first, status = records[0]
        payload = struct.pack(f"<{nchan}hB", *first, status)
        code = "b" if fmt == 1 else "h"
        prev = first
        if fmt == 3:
            payload += _delta4(records, nchan)
        else:
            for values, status in records[1:]:
                payload += struct.pack(f"<{nchan}{code}B",
                                       *(v - p for v, p in zip(values, prev)), status)
                prev = values
    else:
        fmt, nchan, interval = 0, EVENT_LEN, 0
        t0 = records[0][0] if records else 0
        payload = b"".join(EVENT.pack(*r) for r in records)
    signed = HEADER.pack(MAGIC, LAYOUT, kind, fmt, nchan, seq, boot,
                         len(records), t0, interval, len(payload)) + payload
    mac = (bytes(16) if device_key is None
           else mac16(log_mac_key(device_key), prev_mac + signed))
    return signed + struct.pack("<I", _crc32(signed)) + mac


def encode_log(blocks: list[tuple], device_key: bytes | None) -> bytes:
    """Blocks chained from the genesis MAC: each (kind, seq, boot, t0,
    interval, records[, fmt])."""
    out = b""
    prev = GENESIS_MAC
    for spec in blocks:
        b = encode_block(*spec[:6], device_key, prev, *spec[6:])
        out += b
        prev = b[-16:]
    return out
