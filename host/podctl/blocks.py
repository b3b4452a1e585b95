"""The block walk: every block of a raw log found, parsed and, given the
device's key history, its MAC checked against the chain; what is wrong is
returned as findings (data), never printed.

This is the mechanism under podctl.verify (the one place that decides
whether a log is complete and authentic) and under decode, which needs to
know which blocks it can read. One pass, linear in the log's size whatever
the damage: an unreadable block is named from its own header as it is met,
and the search for the next good block (SPEC 8.2) starts after it.

CPython only. The layout is protocol/block.py's; CRC and HMAC run through
zlib and the C hmac here (protocol.auth is the MicroPython-compatible one,
and tests/test_verify.py holds the two to the same tags).
"""

from __future__ import annotations

import hmac
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from protocol import log

_HEADER = struct.Struct(log.HEADER_FMT)
_HLEN = log.HEADER_LEN
_TLEN = log.TRAILER_LEN
_MACLEN = log.MAC_LEN
_EVENT = struct.Struct(log.EVENT_FMT)

# why a block is not "ok" (BlockInfo.verdict); the unreadable ones are
# protocol.block's parse verdicts ("CRC mismatch", "cut short", ...)
OK = "ok"
GAP = "gap"  # readable, but its seq does not follow the block before
MAC_MISMATCH = "MAC mismatch"
AFTER_DAMAGE = "after damage"  # chains to a MAC lost in an unreadable region
UNANCHORED = "unanchored start"  # chains to a block erased before this log


@dataclass
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


def _claimed_seq(raw: bytes, at: int) -> int | None:
    """The seq an unreadable block's header claims, if its header is there
    (unchecked: its CRC failed)."""
    if raw[at : at + 4] == log.MAGIC and len(raw) - at >= _HLEN:
        return int(_HEADER.unpack_from(raw, at)[5])
    return None


def next_block(raw: bytes, start: int) -> int | None:
    """Offset of the next block from start that passes its own checks (a
    stray "PODL" in a payload or in damaged bytes fails its CRC), or None."""
    at = raw.find(log.MAGIC, start)
    while at >= 0:
        if isinstance(log.parse_block(raw, at), log.Block):
            return at
        at = raw.find(log.MAGIC, at + 1)
    return None


def _parse(raw: bytes, at: int, n: int):
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
    if zlib.crc32(raw[at:end]) != int.from_bytes(raw[end : end + 4], "little"):
        return log.BAD_CRC
    if kind == log.KIND_SAMPLES:
        if fmt not in (1, 2) or count < 1:
            return log.BAD_SHAPE
        want = nchan * 2 + 1 + (count - 1) * (nchan * fmt + 1)
    elif kind == log.KIND_EVENTS:
        want = count * log.EVENT_LEN
    else:
        return log.BAD_KIND
    if want != length:
        return log.BAD_SHAPE
    return h


def _opens_with_rotation(raw: bytes, at: int, kind: int, count: int) -> bool:
    """Whether the block is where the device switched keys: the firmware
    seals all it holds under the old key, so the first block under the new
    one is an event block opening with KEY_ROTATED."""
    return (
        kind == log.KIND_EVENTS
        and count > 0
        and _EVENT.unpack_from(raw, at + _HLEN)[1] == log.EV_KEY_ROTATED
    )


def walk(raw: bytes, keys: Sequence[bytes | None] | None = ()) -> tuple[list[BlockInfo], list[Finding]]:
    """Every block of raw in order, and the findings of the walk: unreadable
    regions, sequence gaps, MAC mismatches, undecodable blocks. keys: the
    device's key history, oldest first (empty: no MAC check); the chain
    moves to the next key only at a block opening with KEY_ROTATED.

    Damage does not end the walk (SPEC 8.2): from an unreadable block it
    searches forward for the next block that passes its CRC, reports the
    bytes between as one region (a BlockInfo with seq None) and goes on, so
    a bad byte costs its block, not the rest of the mission. The first
    block after a region chains to a MAC lost in it ("after damage")."""
    blocks: list[BlockInfo] = []
    found: list[Finding] = []
    history = [bytes(k) for k in (keys or ()) if k is not None]
    current: int | None = None  # index of the key in force, once known
    prev_mac: bytes | None = None
    prev_seq: int | None = None
    damaged = False
    at = 0
    n = len(raw)
    nchan_ok = log.NCHAN
    digest = hmac.digest
    while at < n:
        h = _parse(raw, at, n)
        if isinstance(h, str):
            resume = next_block(raw, at + 1)
            end = n if resume is None else resume
            claimed = _claimed_seq(raw, at)
            blocks.append(BlockInfo(at, end - at, None, None, None, 0, h))
            after = f"after block {prev_seq}" if prev_seq is not None else "at the start"
            what = f"{h} ({after}"
            what += f"; its header claims block {claimed}, unchecked)" if claimed is not None else ")"
            what += (
                f"; the {end - at} bytes from here cannot be read"
                if resume is None
                else f"; {end - at} bytes cannot be read, the log resumes at byte {end}"
            )
            found.append(Finding("unreadable", what, "fail", at, len(blocks) - 1, claimed, claimed))
            at = end
            prev_mac = None
            damaged = True
            continue
        _m, _lay, kind, _fmt, nchan, seq, boot, count, t0, interval, length = h
        size = _HLEN + length + _TLEN
        end = at + size
        mac = raw[end - _MACLEN : end]
        verdict = OK
        index = len(blocks)
        if prev_seq is not None and seq != prev_seq + 1:
            if seq > prev_seq:
                found.append(Finding(
                    "seq_gap",
                    f"sequence jumps from {prev_seq} to {seq} ({seq - prev_seq - 1} block(s) missing)",
                    "fail", at, index, seq, seq,
                ))
            else:
                found.append(Finding(
                    "seq_back", f"sequence goes back from {prev_seq} to {seq}", "fail", at, index, seq, seq
                ))
            verdict = GAP
        if history:
            chain_from = prev_mac if prev_mac is not None else log.GENESIS_MAC
            signed = chain_from + raw[at : at + _HLEN + length]
            if current is None:
                order: Sequence[int] = range(len(history))
            elif current + 1 < len(history) and _opens_with_rotation(raw, at, kind, count):
                order = range(current, len(history))
            else:
                order = (current,)
            hit = None
            for i in order:
                if hmac.compare_digest(digest(history[i], signed, "sha256")[:_MACLEN], mac):
                    hit = i
                    break
            if hit is not None:
                current = hit
            elif damaged:
                verdict = AFTER_DAMAGE
                found.append(Finding(
                    "after_damage",
                    "chains to the MAC of a block lost in the unreadable bytes before it: "
                    "its own records are not proven, the blocks after it are",
                    "warn", at, index, seq, seq,
                ))
            elif prev_mac is None and seq != 0:
                verdict = UNANCHORED  # verify decides what that means
            else:
                verdict = MAC_MISMATCH
                found.append(Finding(
                    "mac", "MAC does not match (altered, or written under another key)",
                    "fail", at, index, seq, seq,
                ))
        undecodable = ""
        if kind == log.KIND_SAMPLES:
            if nchan != nchan_ok:
                undecodable = f"{nchan} channels, layout {log.LAYOUT_VERSION} has {nchan_ok}"
            elif t0 + (count - 1) * interval > 0xFFFFFFFF:
                undecodable = "record times run past uptime 2**32 - 1"
            if undecodable:
                found.append(Finding(
                    "undecodable", f"{undecodable}: its {count} records cannot be decoded",
                    "warn", at, index, seq, seq,
                ))
        blocks.append(BlockInfo(at, size, seq, boot, kind, count, verdict, undecodable))
        prev_mac = mac
        prev_seq = seq
        damaged = False
        at = end
    return blocks, found


def log_ends(raw: bytes, blocks: list[BlockInfo]) -> tuple[int, int, bytes] | None:
    """(first seq, last seq, last MAC) of the readable blocks as the log
    itself shows them, or None if it has none."""
    good = [b for b in blocks if b.seq is not None]
    if not good:
        return None
    last = good[-1]
    end = last.offset + last.size
    return good[0].seq or 0, last.seq or 0, bytes(raw[end - _MACLEN : end])
