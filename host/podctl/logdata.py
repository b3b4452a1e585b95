"""A pulled log as data: its blocks checked, its samples and events decoded
with units and UTC, its integrity problems named by block.

  data = load(raw, key=None, anchor=None)
  data.samples      numpy structured array, one row per sample record
  data.events       list of Event
  data.blocks       list of BlockInfo, in log order
  data.problems     integrity problems, each naming the block (empty = intact)
  data.clock        how UTC was rebuilt, for the report

UTC: the board keeps uptime seconds per boot and a UTC offset set by
TIME_SET; each TIME_SET event (uptime t, value utc) anchors the records of
its boot: utc = value + (t_record - t). A boot with no TIME_SET takes the
pull's anchor (the manifest's device uptime and host UTC) if it is the last
boot; otherwise its records have no UTC (NaN) and the report says so.

This module is the reference decoder (protocol.log's slow path, one record
at a time); host/podctl/decode.py is the vectorised one checked against it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protocol import log
from protocol.auth import Hmac

CHANNEL_NAMES = [c[0] for c in log.CHANNELS]
# the sample array: boot, uptime second, UTC (NaN unknown), channels in
# display units (NaN = no reading), status byte
SAMPLE_DTYPE = np.dtype(
    [("boot", "<u2"), ("t", "<u4"), ("utc", "<f8")]
    + [(n, "<f8") for n in CHANNEL_NAMES]
    + [("status", "u1")]
)


@dataclass
class BlockInfo:
    offset: int
    size: int
    seq: int | None
    boot: int | None
    kind: int | None
    count: int
    verdict: str  # "ok", a parse verdict, "MAC mismatch", ...


@dataclass
class Event:
    boot: int
    t: int
    utc: float  # NaN when unknown
    code: int
    name: str
    a: int
    b: int
    value: int


@dataclass
class Anchor:
    """The pull's clock reading: at host UTC `utc`, boot `boot` of the
    device had been up `uptime` seconds."""

    boot: int
    uptime: int
    utc: float


@dataclass
class LogData:
    raw: bytes
    sha256: str
    blocks: list[BlockInfo]
    samples: np.ndarray
    events: list[Event]
    problems: list[str] = field(default_factory=list)
    clock: list[str] = field(default_factory=list)
    authenticated: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems


def _rotation_block(raw: bytes, blk: log.Block) -> bool:
    """Whether blk is where the device switched keys: the firmware seals all
    it holds under the old key, so the first block under the new one is an
    event block opening with KEY_ROTATED."""
    return blk.kind == log.KIND_EVENTS and blk.count > 0 and log.events(raw, blk)[0][1] == log.EV_KEY_ROTATED


def check_blocks(
    raw: bytes, key: bytes | list[bytes] | None
) -> tuple[list[BlockInfo], list[str]]:
    """Walk the log block by block: CRC, layout, sequence, MAC chain (with
    key). key may be the device's key history, oldest first: the chain moves
    to the next key only at a block opening with KEY_ROTATED. Returns every
    block found and the problems, each naming a block.

    Damage does not end the walk (SPEC 8.2): from an unreadable block it
    searches forward for the next block that passes its CRC, reports the
    bytes between as one unreadable region (a BlockInfo with seq None) and
    goes on from there, so a bad byte costs its block, not the rest of the
    mission. The chain cannot be proven across the region: the first block
    after it is "after damage", the blocks after that chain to it."""
    blocks: list[BlockInfo] = []
    problems: list[str] = []
    keys = [] if key is None else [key] if isinstance(key, (bytes, bytearray)) else list(key)
    macs = [Hmac(k) for k in keys]
    current: int | None = None  # index of the key in force, once known
    prev_mac: bytes | None = None
    prev_seq: int | None = None
    at = 0
    view = memoryview(raw)
    damaged = False  # a region was skipped just before this block
    while at < len(raw):
        blk = log.parse_block(raw, at)
        if not isinstance(blk, log.Block):
            resume = _next_block(raw, at + 1)
            end = len(raw) if resume is None else resume
            blocks.append(BlockInfo(at, end - at, None, None, None, 0, blk))
            after = f"after block {prev_seq}" if prev_seq is not None else "at the start"
            if resume is None:
                problems.append(f"byte {at} ({after}): {blk}; the {end - at} bytes from here cannot be read")
                break
            problems.append(f"byte {at} ({after}): {blk}; {end - at} bytes cannot be read, "
                            f"the log resumes at byte {end}")
            at = end
            prev_mac = None
            damaged = True
            continue
        verdict = "ok"
        if prev_seq is not None and blk.seq != prev_seq + 1:
            problems.append(
                f"block {blk.seq} at byte {at}: sequence jumps from {prev_seq} to {blk.seq} "
                f"({blk.seq - prev_seq - 1} block(s) missing)"
                if blk.seq > prev_seq
                else f"block {blk.seq} at byte {at}: sequence goes back from {prev_seq}"
            )
            verdict = "gap"
        if macs:
            chain_from = prev_mac if prev_mac is not None else log.GENESIS_MAC
            want = blk.mac(raw)
            # the key in force; then, at a rotation block, the ones after it;
            # before any block has verified, every key of the history
            if current is None:
                order = list(range(len(macs)))
            else:
                order = [current] + (list(range(current + 1, len(macs))) if _rotation_block(raw, blk) else [])
            hit = next((i for i in order if log.block_mac(macs[i], chain_from, view[at:], blk.length) == want), None)
            if hit is not None:
                current = hit
            elif damaged:
                # it chains to the MAC of a block lost in the region; the
                # region is the problem, already reported
                verdict = "after damage"
            elif prev_mac is None and blk.seq != 0:
                # the log starts after an erase or an overwrite: the first
                # block chains to a MAC the device no longer holds
                verdict = "unanchored start"
            else:
                problems.append(f"block {blk.seq} at byte {at}: MAC does not match (altered, or another key)")
                verdict = "MAC mismatch"
        blocks.append(BlockInfo(at, blk.size, blk.seq, blk.boot, blk.kind, blk.count, verdict))
        prev_mac = blk.mac(raw)
        prev_seq = blk.seq
        damaged = False
        at += blk.size
    return blocks, problems


def _next_block(raw: bytes, start: int) -> int | None:
    """Offset of the next block from start that passes its own checks (a
    stray "PODL" in a payload or in damaged bytes fails its CRC), or None."""
    at = raw.find(log.MAGIC, start)
    while at >= 0:
        if isinstance(log.parse_block(raw, at), log.Block):
            return at
        at = raw.find(log.MAGIC, at + 1)
    return None


def log_ends(raw: bytes, blocks: list[BlockInfo]) -> tuple[int, int, bytes] | None:
    """(first seq, last seq, last MAC) of the readable blocks as the log
    itself shows them, or None if it has none."""
    good = [b for b in blocks if b.seq is not None]
    if not good:
        return None
    last = good[-1]
    end = last.offset + last.size
    return good[0].seq or 0, last.seq or 0, bytes(raw[end - log.MAC_LEN : end])


def _decode(raw: bytes, blocks: list[BlockInfo]) -> tuple[np.ndarray, list[tuple]]:
    """Slow path: every sample and event through protocol.log."""
    rows: list[tuple] = []
    events: list[tuple] = []
    scales = [c[2] for c in log.CHANNELS]
    for b in blocks:
        if b.seq is None:
            continue
        blk = log.parse_block(raw, b.offset)
        assert isinstance(blk, log.Block)
        if blk.kind == log.KIND_SAMPLES:
            for t, vals, status in log.samples(raw, blk):
                ch = [np.nan if v == log.NO_READING else v * s for v, s in zip(vals, scales)]
                rows.append((blk.boot, t, np.nan, *ch, status))
        elif blk.kind == log.KIND_EVENTS:
            for t, code, a, bb, value in log.events(raw, blk):
                events.append((blk.boot, t, code, a, bb, value))
    return np.array(rows, dtype=SAMPLE_DTYPE), events


def rebuild_utc(
    samples: np.ndarray, events: list[tuple], anchor: Anchor | None
) -> tuple[dict[int, float], list[str]]:
    """UTC of uptime 0 for each boot, and a description of the clock."""
    offsets: dict[int, float] = {}
    notes: list[str] = []
    for boot, t, code, _a, _b, value in events:
        if code == log.EV_TIME_SET:
            off = value - t
            if boot in offsets and offsets[boot] != off:
                notes.append(
                    f"boot {boot}: clock set again at uptime {t} s, correcting {off - offsets[boot]:+.0f} s"
                )
            offsets.setdefault(boot, off)
    boots = sorted({int(b) for b in samples["boot"]} | {e[0] for e in events})
    for boot in boots:
        if boot in offsets:
            notes.append(f"boot {boot}: UTC from the device's TIME_SET events")
        elif anchor is not None and boot == anchor.boot:
            offsets[boot] = anchor.utc - anchor.uptime
            notes.append(f"boot {boot}: UTC from the pull (device uptime against the host clock)")
        else:
            notes.append(f"boot {boot}: clock never set; its records have no UTC")
    return offsets, notes


def load(
    raw: bytes, key: bytes | list[bytes] | None = None, anchor: Anchor | None = None, decoder: Any = None
) -> LogData:
    """Check and decode a raw log. decoder(raw, blocks) -> (samples, events)
    may replace the slow path (host/podctl/decode.py)."""
    blocks, problems = check_blocks(raw, key)
    samples, events = (decoder or _decode)(raw, blocks)
    offsets, clock = rebuild_utc(samples, events, anchor)
    if len(samples):
        off = np.array([offsets.get(int(b), np.nan) for b in samples["boot"]])
        samples["utc"] = samples["t"] + off
    evs = [
        Event(boot, t, t + offsets.get(boot, np.nan), code, log.event_name(code), a, b, value)
        for boot, t, code, a, b, value in events
    ]
    return LogData(
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        blocks=blocks,
        samples=samples,
        events=evs,
        problems=problems,
        clock=clock,
        authenticated=key is not None,
    )
