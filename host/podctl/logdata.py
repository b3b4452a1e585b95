"""A pulled log as data: its blocks checked, its samples and events decoded
with units and UTC, its integrity problems named by block.

  data = load(raw, blocks=None, anchor=None)
  data.samples      numpy structured array, one row per sample record
  data.events       list of Event
  data.blocks       list of BlockInfo, in log order (podctl.blocks.walk)
  data.clock        how UTC was rebuilt, for the report

  c = clock(raw, blocks, anchor)               # a log too big to hold decoded:
  for s in sample_chunks(raw, blocks, c.offsets): ...   # about 65k records at a time

UTC: the board keeps uptime seconds per boot and a UTC offset set by
TIME_SET; each TIME_SET event (uptime t, value utc) anchors the records of
its boot: utc = value + (t_record - t). A boot with no TIME_SET takes the
pull's anchor (the manifest's device uptime and host UTC) if it is the last
boot; otherwise its records have no UTC (NaN) and the report says so.

load() decodes with host/podctl/decode.py, the vectorised decoder; this
module's _decode is the reference (protocol.log's slow path, one record at
a time) it is checked against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podctl.blocks import BlockInfo, walk
from podctl.pulled import Anchor
from protocol import log

__all__ = ["Anchor", "BlockInfo", "Clock", "Event", "LogData", "clock", "load", "rebuild_utc",
           "sample_chunks"]

CHANNEL_NAMES = [c[0] for c in log.CHANNELS]
# the sample array: boot, uptime second, UTC (NaN unknown), channels in
# display units (NaN = no reading), status byte
SAMPLE_DTYPE = np.dtype(
    [("boot", "<u2"), ("t", "<u4"), ("utc", "<f8")]
    + [(n, "<f8") for n in CHANNEL_NAMES]
    + [("status", "u1")]
)


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
class LogData:
    raw: bytes
    sha256: str
    blocks: list[BlockInfo]
    samples: np.ndarray
    events: list[Event]
    clock: list[str] = field(default_factory=list)


def _decode(raw: bytes, blocks: list[BlockInfo]) -> tuple[np.ndarray, list[tuple]]:
    """Slow path: every sample and event through protocol.log."""
    rows: list[tuple] = []
    events: list[tuple] = []
    scales = [c[2] for c in log.CHANNELS]
    for b in blocks:
        if not b.decodable:
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
    return clock_of(_boots(samples), events, anchor)


def clock_of(
    sample_boots: Iterable[int], events: list[tuple], anchor: Anchor | None
) -> tuple[dict[int, float], list[str]]:
    """rebuild_utc from the boots the samples come from: what a streaming
    decode knows before it decodes a sample (the block headers say)."""
    offsets: dict[int, float] = {}
    notes: list[str] = []
    for boot, t, code, _a, _b, value in events:
        if code == log.EV_TIME_SET:
            off = value - t
            if boot in offsets and offsets[boot] != off:
                notes.append(
                    f"boot {boot}: clock set again at uptime {t} s, "
                    f"correcting {off - offsets[boot]:+.0f} s"
                )
            offsets.setdefault(boot, off)
    boots = sorted(set(sample_boots) | {e[0] for e in events})
    for boot in boots:
        if boot in offsets:
            notes.append(f"boot {boot}: UTC from the device's TIME_SET events")
        elif anchor is not None and boot == anchor.boot:
            offsets[boot] = anchor.utc - anchor.uptime
            notes.append(f"boot {boot}: UTC from the pull (device uptime against the host clock)")
        else:
            notes.append(f"boot {boot}: clock never set; its records have no UTC")
    return offsets, notes


def _boot_runs(samples: np.ndarray) -> tuple[list[int], list[int]]:
    """Where each run of records of one boot starts (and the end), and its
    boot: a log holds a few boots, each in long runs, so UTC is one
    vector add per run instead of a lookup per record."""
    boot = samples["boot"]
    if not len(boot):
        return [0], []
    starts = [0, *(np.flatnonzero(boot[1:] != boot[:-1]) + 1).tolist(), len(boot)]
    return starts, boot[starts[:-1]].tolist()


def _boots(samples: np.ndarray) -> list[int]:
    """The boots the samples come from."""
    return sorted(set(_boot_runs(samples)[1]))


def set_utc(
    samples: np.ndarray, offsets: dict[int, float], runs: tuple[list[int], list[int]] | None = None
) -> None:
    """samples["utc"] = t + the offset of the record's boot (NaN where the
    boot has none), in place. runs: _boot_runs(samples), if known."""
    utc, t = samples["utc"], samples["t"]
    starts, boots = runs or _boot_runs(samples)
    for a, b, boot in zip(starts, starts[1:], boots):
        # a float: u32 + a Python int would be done in u32
        np.add(t[a:b], float(offsets.get(boot, np.nan)), out=utc[a:b])


def _fast_decoder():
    from podctl import decode  # it imports this module

    return decode.decode


def events_of(events: list[tuple], offsets: dict[int, float]) -> list[Event]:
    return [
        Event(boot, t, t + offsets.get(boot, np.nan), code, log.event_name(code), a, b, value)
        for boot, t, code, a, b, value in events
    ]


def load(
    raw: bytes, blocks: list[BlockInfo] | None = None, anchor: Anchor | None = None,
    decoder: Any = None,
) -> LogData:
    """Decode a raw log's readable blocks (blocks: from podctl.blocks.walk,
    walked here if not given). decoder(raw, blocks) -> (samples, events):
    host/podctl/decode.py's unless given (_decode, this module's reference,
    is the slow path it is tested against). Whether the log is complete and
    authentic is podctl.verify's to say, not this."""
    if blocks is None:
        blocks = walk(raw)[0]
    samples, events = (decoder or _fast_decoder())(raw, blocks)
    runs = _boot_runs(samples)
    offsets, clock = clock_of(runs[1], events, anchor)
    set_utc(samples, offsets, runs)
    return LogData(
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        blocks=blocks,
        samples=samples,
        events=events_of(events, offsets),
        clock=clock,
    )


@dataclass
class Clock:
    """What a streaming decode needs before its first sample: the events
    (few: decoded from the event blocks alone), UTC of uptime 0 per boot
    and how UTC was rebuilt."""

    events: list[Event]
    offsets: dict[int, float]
    notes: list[str]


def clock(
    raw: bytes, blocks: list[BlockInfo], anchor: Anchor | None = None, decoder: Any = None
) -> Clock:
    """The Clock of a log, from its event blocks and the boots its sample
    blocks' headers name: the same offsets and notes load() finds."""
    ev_blocks = [b for b in blocks if b.decodable and b.kind == log.KIND_EVENTS]
    events = (decoder or _fast_decoder())(raw, ev_blocks)[1]
    boots = {b.boot for b in blocks if b.decodable and b.kind == log.KIND_SAMPLES and b.count}
    offsets, notes = clock_of((int(b) for b in boots if b is not None), events, anchor)
    return Clock(events_of(events, offsets), offsets, notes)


def sample_chunks(
    raw: bytes, blocks: list[BlockInfo], offsets: dict[int, float], records: int = 1 << 16,
    decoder: Any = None,
) -> Iterator[np.ndarray]:
    """The samples of the log in log order, about `records` at a time
    (whole blocks), UTC set from offsets (Clock.offsets): a decode that
    holds one chunk, not the whole log."""
    decode = decoder or _fast_decoder()
    group: list[BlockInfo] = []
    held = 0
    for b in blocks:
        if b.decodable and b.kind == log.KIND_SAMPLES:
            group.append(b)
            held += b.count
            if held >= records:
                yield _chunk(decode, raw, group, offsets)
                group, held = [], 0
    if group:
        yield _chunk(decode, raw, group, offsets)


def _chunk(decode, raw: bytes, group: list[BlockInfo], offsets: dict[int, float]) -> np.ndarray:
    samples = decode(raw, group)[0]
    set_utc(samples, offsets)
    return samples
