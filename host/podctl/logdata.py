"""A pulled log as data: its blocks checked, its samples and events decoded
with units and UTC, its integrity problems named by block.

  data = load(raw, blocks=None, anchor=None)
  data.samples      numpy structured array, one row per sample record
  data.events       list of Event
  data.blocks       list of BlockInfo, in log order (podctl.blocks.walk)
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

from podctl.blocks import BlockInfo, walk
from podctl.pulled import Anchor
from protocol import log

__all__ = ["Anchor", "BlockInfo", "Event", "LogData", "load", "rebuild_utc"]

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
    boots = sorted(set(_boots(samples)) | {e[0] for e in events})
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


def set_utc(samples: np.ndarray, offsets: dict[int, float]) -> None:
    """samples["utc"] = t + the offset of the record's boot (NaN where the
    boot has none), in place."""
    utc, t = samples["utc"], samples["t"]
    starts, boots = _boot_runs(samples)
    for a, b, boot in zip(starts, starts[1:], boots):
        np.add(t[a:b], offsets.get(boot, np.nan), out=utc[a:b])


def load(
    raw: bytes, blocks: list[BlockInfo] | None = None, anchor: Anchor | None = None,
    decoder: Any = None,
) -> LogData:
    """Decode a raw log's readable blocks (blocks: from podctl.blocks.walk,
    walked here if not given). decoder(raw, blocks) -> (samples, events)
    may replace the slow path (host/podctl/decode.py). Whether the log is
    complete and authentic is podctl.verify's to say, not this."""
    if blocks is None:
        blocks = walk(raw)[0]
    samples, events = (decoder or _decode)(raw, blocks)
    offsets, clock = rebuild_utc(samples, events, anchor)
    set_utc(samples, offsets)
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
        clock=clock,
    )
