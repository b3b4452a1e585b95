"""A pulled log as data: its blocks checked, its samples and events decoded
with units and UTC, its integrity problems named by block.

  data = load(raw, blocks=None)
  data.samples      numpy structured array, one row per sample record
  data.events       list of Event
  data.blocks       list of BlockInfo, in log order (podctl.blocks.walk)
  data.clock        how UTC was rebuilt, for the report

  c = clock(raw, blocks)                       # a log too big to hold decoded:
  for s in sample_chunks(raw, blocks, c.offsets): ...   # about 65k records at a time

UTC (SPEC 7.8): the board keeps uptime seconds per boot and a UTC offset
set by TIME_SET; a TIME_SET event (uptime t, value utc) says UTC was utc at
uptime t of its boot. A record of that boot at uptime u takes the latest
TIME_SET of its boot at or before u (the first one if u precedes them all):
utc = value + (u - t), so a later correction applies from then on. A boot
with no TIME_SET has no UTC: its records keep boot and uptime (UTC NaN)
and the report says so. Only TIME_SET events give UTC: they are records of
the log, under its MAC chain. The manifest's `anchor` (the host's clock at
the pull against the device's uptime) is unauthenticated JSON anyone can
edit, so nothing derives a time from it (issue 13).

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
from protocol import log

__all__ = ["BlockInfo", "BootClock", "Clock", "Event", "LogData", "clock", "load",
           "rebuild_utc", "sample_chunks"]

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


@dataclass(frozen=True)
class BootClock:
    """The clock of one boot: UTC of uptime 0 (`off`) from uptime `t` on,
    one entry per TIME_SET in uptime order (ties: log order). A record at uptime u
    takes the latest entry at or before u, the first if u precedes them
    all (SPEC 7.8)."""

    t: np.ndarray  # float64 uptimes, sorted
    off: np.ndarray  # float64 UTC of uptime 0 from then on

    @property
    def first(self) -> float:
        return float(self.off[0])

    def at(self, u: np.ndarray) -> np.ndarray | float:
        """UTC of uptime 0 in force at each uptime of u (vectorised)."""
        if len(self.off) == 1:
            return float(self.off[0])
        i = np.searchsorted(self.t, u, side="right") - 1
        return self.off[np.maximum(i, 0)]


Offsets = dict[int, BootClock]


def rebuild_utc(samples: np.ndarray, events: list[tuple]) -> tuple[Offsets, list[str]]:
    """The clock of each boot (BootClock), and a description of it."""
    return clock_of(_boots(samples), events)


def never_set(boot: int) -> str:
    """What the report, decode and assess say of a boot with no TIME_SET."""
    return (f"boot {boot}: the device's clock was never set; times are uptime since that boot "
            "(no UTC)")


def clock_of(
    sample_boots: Iterable[int], events: list[tuple]
) -> tuple[Offsets, list[str]]:
    """rebuild_utc from the boots the samples come from: what a streaming
    decode knows before it decodes a sample (the block headers say)."""
    sets: dict[int, list[tuple[int, float]]] = {}
    notes: list[str] = []
    for boot, t, code, _a, _b, value in events:
        if code == log.EV_TIME_SET:
            off = float(value - t)
            prev = sets.setdefault(boot, [])
            if prev and prev[-1][1] != off:
                notes.append(
                    f"boot {boot}: clock set again at uptime {t} s, "
                    f"correcting {off - prev[-1][1]:+.0f} s"
                )
            prev.append((t, off))
    offsets: Offsets = {}
    for boot, pts in sets.items():
        ts = np.array([p[0] for p in pts], dtype=np.float64)
        order = np.argsort(ts, kind="stable")
        offsets[boot] = BootClock(ts[order], np.array([p[1] for p in pts])[order])
    boots = sorted(set(sample_boots) | {e[0] for e in events})
    for boot in boots:
        if boot in offsets:
            n = len(offsets[boot].off)
            notes.append(f"boot {boot}: UTC from the device's TIME_SET events"
                         + (" (each record: the latest at or before it)" if n > 1 else ""))
        else:
            notes.append(never_set(boot))
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
    samples: np.ndarray, offsets: Offsets, runs: tuple[list[int], list[int]] | None = None
) -> None:
    """samples["utc"] = t + the UTC of uptime 0 in force for the record
    (BootClock.at; NaN where its boot has no clock), in place. runs:
    _boot_runs(samples), if known."""
    utc, t = samples["utc"], samples["t"]
    starts, boots = runs or _boot_runs(samples)
    for a, b, boot in zip(starts, starts[1:], boots):
        c = offsets.get(boot)
        # a float: u32 + a Python int would be done in u32
        np.add(t[a:b], np.nan if c is None else c.at(t[a:b]), out=utc[a:b])


def _fast_decoder():
    from podctl import decode  # it imports this module

    return decode.decode


def events_of(events: list[tuple], offsets: Offsets) -> list[Event]:
    return [
        Event(boot, t, _utc_of(offsets.get(boot), t), code, log.event_name(code), a, b, value)
        for boot, t, code, a, b, value in events
    ]


def _utc_of(c: BootClock | None, t: int) -> float:
    if c is None:
        return np.nan
    return t + float(np.asarray(c.at(np.array([t], dtype=np.float64))).reshape(-1)[0])


def load(raw: bytes, blocks: list[BlockInfo] | None = None, decoder: Any = None) -> LogData:
    """Decode a raw log's readable blocks (blocks: from podctl.blocks.walk,
    walked here if not given). decoder(raw, blocks) -> (samples, events):
    host/podctl/decode.py's unless given (_decode, this module's reference,
    is the slow path it is tested against). Whether the log is complete and
    authentic is podctl.verify's to say, not this."""
    if blocks is None:
        blocks = walk(raw)[0]
    samples, events = (decoder or _fast_decoder())(raw, blocks)
    runs = _boot_runs(samples)
    offsets, clock = clock_of(runs[1], events)
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
    offsets: Offsets
    notes: list[str]


def clock(raw: bytes, blocks: list[BlockInfo], decoder: Any = None) -> Clock:
    """The Clock of a log, from its event blocks and the boots its sample
    blocks' headers name: the same offsets and notes load() finds."""
    ev_blocks = [b for b in blocks if b.decodable and b.kind == log.KIND_EVENTS]
    events = (decoder or _fast_decoder())(raw, ev_blocks)[1]
    boots = {b.boot for b in blocks if b.decodable and b.kind == log.KIND_SAMPLES and b.count}
    offsets, notes = clock_of((int(b) for b in boots if b is not None), events)
    return Clock(events_of(events, offsets), offsets, notes)


def sample_chunks(
    raw: bytes, blocks: list[BlockInfo], offsets: Offsets, records: int = 1 << 16,
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


def _chunk(decode, raw: bytes, group: list[BlockInfo], offsets: Offsets) -> np.ndarray:
    samples = decode(raw, group)[0]
    set_utc(samples, offsets)
    return samples
