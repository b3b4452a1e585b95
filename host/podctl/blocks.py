"""The block walk: every block of a raw log found, parsed and, given the
device's key history, its MAC checked against the chain; what is wrong is
returned as findings (data), never printed.

This is the mechanism under podctl.verify (the one place that decides
whether a log is complete and authentic) and under decode, which needs to
know which blocks it can read. One pass, linear in the log's size whatever
the damage: an unreadable block is named from its own header as it is met,
and the search for the next good block (SPEC 8.2) starts after it.

The pass is what a user waits for on a big log (about 1 KiB a block), so
the common case costs a header unpack, one CRC and one HMAC per block and
nothing else: findings are written after the pass, for the few blocks it
flagged. CPython only. The layout is protocol/block.py's; CRC and HMAC run
through zlib and hashlib here (protocol.auth is the MicroPython-compatible
one); tests/test_scale.py holds this walk to a plain reference built on
protocol.log.parse_block and protocol.auth, verdict for verdict.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from zlib import crc32

from protocol import log
from protocol.keys import LOG, derive

_HEADER = struct.Struct(log.HEADER_FMT)
_HLEN = log.HEADER_LEN
_TLEN = log.TRAILER_LEN
_MACLEN = log.MAC_LEN
_EVENT = struct.Struct(log.EVENT_FMT)
# CRC-32 run over a block's bytes and its stored CRC (little-endian) gives
# this constant exactly when the stored CRC is right: one call, no unpack
_CRC_RESIDUE = 0x2144DF1C
# fmt 3 (SPEC 7.4): the escapes (nibbles equal to 8) in each byte value, so
# that a block's are counted by translate() and count(), not a loop
_ESCAPES = bytes((b & 15 == 8) + (b >> 4 == 8) for b in range(256))


def samples_length(raw, at: int, fmt: int, nchan: int, count: int) -> int:
    """The payload length the records of the sample block at raw[at:]
    make (SPEC 8.1 holds its header's length to it): fixed for fmt 1 and 2;
    fmt 3's records are followed by 2 bytes per escape in them."""
    key = 2 * nchan + 1
    if fmt != log.FMT_DELTA4:
        return key + (count - 1) * (nchan * fmt + 1)
    records = key + (count - 1) * ((nchan + 2) // 2)
    if records > log.PAYLOAD_MAX:  # no escape count can make it fit
        return records
    esc = raw[at + _HLEN + key : at + _HLEN + records].translate(_ESCAPES)
    return records + 2 * (esc.count(1) + 2 * esc.count(2))

# why a block is not "ok" (BlockInfo.verdict); the unreadable ones are
# protocol.block's parse verdicts ("CRC mismatch", "cut short", ...)
OK = "ok"
GAP = "gap"  # readable, but its seq does not follow the block before
MAC_MISMATCH = "MAC mismatch"
AFTER_DAMAGE = "after damage"  # chains to a MAC lost in an unreadable region
UNANCHORED = "unanchored start"  # chains to a block erased before this log


@dataclass(slots=True)
class BlockInfo:
    """One block (or one unreadable region, seq None) in log order."""

    offset: int
    size: int
    seq: int | None
    boot: int | None
    kind: int | None
    count: int
    verdict: str
    # why a readable block's records cannot be decoded (another channel
    # count, times past 2**32): the block may still be authentic
    undecodable: str = ""

    @property
    def readable(self) -> bool:
        return self.seq is not None

    @property
    def decodable(self) -> bool:
        return self.seq is not None and not self.undecodable


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth saying) about a log, as data.

    code: a stable name scripts may match (SPEC 8.3's checks):
      unreadable, seq_gap, seq_back, mac, unanchored, after_damage,
      undecodable, empty, head_missing, head_extra, tail_missing,
      tail_extra, last_mac, hash, no_manifest, no_key, anchored
    severity: "fail" (the log is not complete and authentic), "warn" (a
      reviewer must see it; integrity holds) or "note"."""

    code: str
    reason: str
    severity: str = "fail"
    offset: int | None = None  # byte offset in the log
    block: int | None = None  # index into Verdict.blocks
    seq_first: int | None = None  # the block sequence numbers concerned
    seq_last: int | None = None

    def where(self) -> str:
        parts = []
        if self.seq_first is not None:
            parts.append(
                f"block {self.seq_first}"
                if self.seq_last in (None, self.seq_first)
                else f"blocks {self.seq_first}..{self.seq_last}"
            )
        if self.offset is not None:
            parts.append(f"at byte {self.offset}")
        return " ".join(parts)

    def __str__(self) -> str:
        w = self.where()
        return f"{w}: {self.reason}" if w else self.reason


def _claimed_seq(raw, at: int) -> int | None:
    """The seq an unreadable block's header claims, if its header is there
    (unchecked: its CRC failed)."""
    if raw[at : at + 4] == log.MAGIC and len(raw) - at >= _HLEN:
        return int(_HEADER.unpack_from(raw, at)[5])
    return None


def next_block(raw, start: int) -> int | None:
    """Offset of the next block from start that passes its own checks (a
    stray "PODL" in a payload or in damaged bytes fails its CRC), or None."""
    at = raw.find(log.MAGIC, start)
    while at >= 0:
        if not isinstance(_parse(raw, at, len(raw)), str):
            return at
        at = raw.find(log.MAGIC, at + 1)
    return None


def _parse(raw, at: int, n: int):
    """protocol.block.parse_block with zlib's CRC: a header tuple, or the
    verdict string of an unreadable block."""
    if n - at < _HLEN:
        return log.SHORT
    if raw[at : at + 4] != log.MAGIC:
        return log.BAD_MAGIC
    h = _HEADER.unpack_from(raw, at)
    _m, layout, kind, fmt, nchan, _seq, _boot, count, _t0, _iv, length = h
    if layout != log.LAYOUT_VERSION:
        return log.BAD_LAYOUT
    if length > log.PAYLOAD_MAX:
        return log.BAD_SIZE
    end = at + _HLEN + length
    if n < end + _TLEN:
        return log.SHORT
    if crc32(memoryview(raw)[at : end + 4]) != _CRC_RESIDUE:
        return log.BAD_CRC
    if kind == log.KIND_SAMPLES:
        if fmt not in (1, 2, 3) or count < 1:
            return log.BAD_SHAPE
        want = samples_length(raw, at, fmt, nchan, count)
    elif kind == log.KIND_EVENTS:
        want = count * log.EVENT_LEN
    else:
        return log.BAD_KIND
    if want != length:
        return log.BAD_SHAPE
    return h


class _Key:
    """HMAC-SHA256 under one key with its padded key blocks hashed once: a
    tag is then two context copies, the message and one more compression,
    about half what hmac.digest costs on a 1 KiB block (OpenSSL 3 sets a
    context up per call)."""

    def __init__(self, key: bytes):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(k ^ 0x36 for k in key))
        self.outer = hashlib.sha256(bytes(k ^ 0x5C for k in key))

    def tag(self, *parts) -> bytes:
        h = self.inner.copy()
        for p in parts:
            h.update(p)
        o = self.outer.copy()
        o.update(h.digest())
        return o.digest()[:_MACLEN]


def _buffer(raw):
    """raw as something with find() and slicing (bytes, bytearray, mmap
    are used as they are; another buffer is copied once)."""
    if isinstance(raw, (bytes, bytearray)) or hasattr(raw, "find"):
        return raw
    return bytes(raw)


def walk(raw, keys: Sequence[bytes | None] | None = ()) -> tuple[list[BlockInfo], list[Finding]]:
    """Every block of raw in order, and the findings of the walk: unreadable
    regions, sequence gaps, MAC mismatches, undecodable blocks. keys: the
    device's key history, oldest first (empty: no MAC check); the chain
    moves to the next key only at a block opening with KEY_ROTATED.

    Damage does not end the walk (SPEC 8.2): from an unreadable block it
    searches forward for the next block that passes its CRC, reports the
    bytes between as one region (a BlockInfo with seq None) and goes on, so
    a bad byte costs its block, not the rest of the mission. The first
    block after a region chains to a MAC lost in it ("after damage")."""
    raw = _buffer(raw)
    # the log's MAC chain is under the log key derived from each device key
    history = [_Key(derive(bytes(k), LOG)) for k in (keys or ()) if k is not None]
    nk = len(history)
    blocks: list[BlockInfo] = []
    flagged: list[int] = []  # blocks with a finding, written after the pass
    missed: list[int] = []  # readable blocks whose MAC did not chain
    mv = memoryview(raw).cast("B")
    n = len(mv)
    unpack = _HEADER.unpack_from
    crc = crc32
    append = blocks.append
    magic, layout, pmax, tlen = log.MAGIC, log.LAYOUT_VERSION, log.PAYLOAD_MAX, _TLEN
    samples, events, elen, nchan_ok = log.KIND_SAMPLES, log.KIND_EVENTS, log.EVENT_LEN, log.NCHAN
    rotation = log.EV_KEY_ROTATED
    # the key in force, once a block has shown it; with one key there is
    # no choice to make and every block takes the quick path
    current: int | None = 0 if nk == 1 else None
    key = history[0] if nk else _Key(b"")
    inner, outer = key.inner.copy, key.outer.copy
    prev_seq: int | None = None
    chained = False  # the block just before is readable: its MAC ends here
    at = 0
    while at < n:
        if n - at >= _HLEN and raw[at : at + 4] == magic:
            _m, lay, kind, fmt, nchan, seq, boot, count, t0, iv, length = unpack(raw, at)
            end = at + _HLEN + length
            if (lay == layout and length <= pmax and end + tlen <= n
                    and crc(mv[at : end + 4]) == _CRC_RESIDUE):
                if kind == samples:
                    ok = 1 <= fmt <= 3 and count >= 1 and (
                        samples_length(raw, at, fmt, nchan, count) == length)
                else:
                    ok = kind == events and count * elen == length
                if ok:
                    j = len(blocks)
                    flag = False
                    verdict = OK
                    if prev_seq is not None and seq != prev_seq + 1:
                        verdict = GAP
                        flag = True
                    undecodable = ""
                    if kind == samples:
                        if nchan != nchan_ok:
                            undecodable = f"{nchan} channels, layout {layout} has {nchan_ok}"
                        elif t0 + (count - 1) * iv > 0xFFFFFFFF:
                            undecodable = "record times run past uptime 2**32 - 1"
                        flag = flag or bool(undecodable)
                    if nk:
                        stored = raw[end + 4 : end + tlen]
                        if current is not None and not (
                            current + 1 < nk and kind == events and count
                            and raw[at + _HLEN + 4] == rotation
                        ):
                            h = inner()
                            if chained:
                                h.update(mv[at - _MACLEN : end])
                            else:
                                h.update(log.GENESIS_MAC)
                                h.update(mv[at:end])
                            o = outer()
                            o.update(h.digest())
                            if o.digest()[:_MACLEN] != stored:
                                missed.append(j)
                        else:
                            # the key is not known yet, or this block may
                            # be the first under the next one
                            chain = mv[at - _MACLEN : at] if chained else log.GENESIS_MAC
                            hit = None
                            for i in range(nk) if current is None else range(current, nk):
                                if history[i].tag(chain, mv[at:end]) == stored:
                                    hit = i
                                    break
                            if hit is None:
                                missed.append(j)
                            else:
                                current = hit
                                inner, outer = history[hit].inner.copy, history[hit].outer.copy
                    append(BlockInfo(at, end + tlen - at, seq, boot, kind, count, verdict,
                                     undecodable))
                    if flag:
                        flagged.append(j)
                    prev_seq = seq
                    chained = True
                    at = end + tlen
                    continue
        # unreadable: name it (its verdict in parse order) and resume
        # at the next block that passes its checks
        why = _parse(raw, at, n)
        assert isinstance(why, str)
        resume = next_block(raw, at + 1)
        stop = n if resume is None else resume
        flagged.append(len(blocks))
        append(BlockInfo(at, stop - at, None, None, None, 0, why))
        chained = False
        at = stop
    return blocks, _findings(raw, blocks, flagged, missed)


def _findings(
    raw, blocks: list[BlockInfo], flagged: list[int], missed: list[int]
) -> list[Finding]:
    """The findings of the blocks the pass flagged, in log order, and the
    verdicts of those whose MAC did not chain. A region of unreadable bytes
    always ends at a readable block (or the log's end), so the readable
    block before any block is at most two back."""
    found: list[Finding] = []
    misses = set(missed)
    n = len(raw)
    for j in sorted(set(flagged).union(misses)):
        b = blocks[j]
        at = b.offset
        before = blocks[j - 1] if j else None
        if b.seq is None:
            claimed = _claimed_seq(raw, at)
            end = at + b.size
            what = f"{b.verdict} ({f'after block {before.seq}' if before else 'at the start'}"
            what += (f"; its header claims block {claimed}, unchecked)"
                     if claimed is not None else ")")
            what += (
                f"; the {b.size} bytes from here cannot be read"
                if end == n
                else f"; {b.size} bytes cannot be read, the log resumes at byte {end}"
            )
            found.append(Finding("unreadable", what, "fail", at, j, claimed, claimed))
            continue
        seq = b.seq
        damaged = before is not None and before.seq is None
        prev = blocks[j - 2] if damaged and j >= 2 else before
        if prev is not None and prev.seq is not None and seq != prev.seq + 1:
            if seq > prev.seq:
                found.append(Finding(
                    "seq_gap",
                    f"sequence jumps from {prev.seq} to {seq} "
                    f"({seq - prev.seq - 1} block(s) missing)",
                    "fail", at, j, seq, seq,
                ))
            else:
                found.append(Finding(
                    "seq_back", f"sequence goes back from {prev.seq} to {seq}", "fail",
                    at, j, seq, seq,
                ))
        if j in misses:
            if damaged:
                b.verdict = AFTER_DAMAGE
                found.append(Finding(
                    "after_damage",
                    "chains to the MAC of a block lost in the unreadable bytes before it: "
                    "its own records are not proven, the blocks after it are",
                    "warn", at, j, seq, seq,
                ))
            elif before is None and seq != 0:
                b.verdict = UNANCHORED  # verify decides what that means
            else:
                b.verdict = MAC_MISMATCH
                found.append(Finding(
                    "mac", "MAC does not match (altered, or written under another key)",
                    "fail", at, j, seq, seq,
                ))
        if b.undecodable:
            found.append(Finding(
                "undecodable", f"{b.undecodable}: its {b.count} records cannot be decoded",
                "warn", at, j, seq, seq,
            ))
    return found


def log_ends(raw: bytes, blocks: list[BlockInfo]) -> tuple[int, int, bytes] | None:
    """(first seq, last seq, last MAC) of the readable blocks as the log
    itself shows them, or None if it has none."""
    good = [b for b in blocks if b.seq is not None]
    if not good:
        return None
    last = good[-1]
    end = last.offset + last.size
    return good[0].seq or 0, last.seq or 0, bytes(raw[end - _MACLEN : end])
