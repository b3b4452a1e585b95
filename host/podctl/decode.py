"""The vectorised log decoder: every sample block of a log in a handful of
numpy passes, no Python loop per record.

  samples, events = decode(raw, blocks)      # same contract as logdata._decode
  data = logdata.load(raw, key, anchor, decoder=decode)

pyulog's way (accumulate, then one frombuffer), adapted to a layout whose
records sit at computed offsets inside CRC-checked blocks:

1. the headers of the blocks check_blocks parsed are read in one gather
   through a little-endian dtype built from protocol.log.HEADER_FIELDS, and
   every key record (2 * nchan + 1 bytes, whatever the delta width) in a
   second one;
2. the sample blocks are taken in runs of about CHUNK records, so that a
   run's intermediates and its slice of the output stay in the core's cache;
3. a block's delta records are contiguous (nchan * fmt + 1 bytes each): the
   runs of one delta width are joined into one buffer and viewed through a
   structured dtype (deltas, status) -- one frombuffer per width and chunk.
   fmt 3's records are 5 bytes each: the runs are joined the same way, split
   into nibbles (a (records, 10) matrix), the escapes (nibble 8) found as a
   mask and the exception lists, joined in reverse block order and read
   backwards (each block's is stored from its payload's end), scattered into
   it in record order; the status column is XOR-accumulated per block;
4. keys and deltas go into an int32 matrix in log order and a cumulative sum
   runs down each column: per block when the chunk's blocks are all full
   (the common case), else across the chunk with each block's running total
   before its key record taken off again. int32 sums wrap, but the
   difference of two wrapped sums is exact modulo 2**32 and every decoded
   value of a well-formed fmt 1 or 2 block fits int32, so nothing is lost;
   fmt 3's values are taken modulo 2**16 (its deltas are) as int16;
5. values are scaled (protocol.log.CHANNELS) to float64, NO_READING
   (-32768) becomes NaN, t = t0 + i * interval; each record is assembled in
   cached scratch and the chunk copied into the output as bytes, so the
   output's fresh pages are written once.

tests/test_decode.py holds it to protocol.log's slow path record for record.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

import numpy as np

from podctl.blocks import BlockInfo
from podctl.logdata import CHANNEL_NAMES, SAMPLE_DTYPE
from protocol import log

_NP_CODES = {"B": "u1", "b": "i1", "H": "<u2", "h": "<i2", "I": "<u4", "i": "<i4"}


def _np_dtype(fields) -> np.dtype:
    """numpy dtype, packed little-endian, of a (name, struct code) table."""
    out = []
    for name, code in fields:
        out.append((name, "S" + code[:-1] if code.endswith("s") else _NP_CODES[code]))
    return np.dtype(out)


HEADER_DTYPE = _np_dtype(log.HEADER_FIELDS)
EVENT_DTYPE = _np_dtype(log.EVENT_FIELDS)
assert HEADER_DTYPE.itemsize == log.HEADER_LEN and EVENT_DTYPE.itemsize == log.EVENT_LEN

_SCALES = np.array([c[2] for c in log.CHANNELS], dtype=np.float64)
# the channel columns are contiguous in SAMPLE_DTYPE: one (n, 9) float64
# view of the output takes every channel in one ufunc call
_FIELDS: Mapping[str, Any] = SAMPLE_DTYPE.fields or {}
_CH0 = _FIELDS[CHANNEL_NAMES[0]][1]
assert all(_FIELDS[n][1] == _CH0 + 8 * i for i, n in enumerate(CHANNEL_NAMES))


class DecodeError(ValueError):
    """A well-formed block this layout cannot turn into samples; names it."""


def _rows(buf: np.ndarray, offsets: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The records of `dtype` starting at each byte offset, as one array."""
    size = dtype.itemsize
    if not len(offsets):
        return np.zeros(0, dtype)
    win = np.lib.stride_tricks.sliding_window_view(buf, size)
    return win[offsets].view(dtype).reshape(len(offsets))


def _headers(buf: np.ndarray, blocks: list[BlockInfo]) -> tuple[np.ndarray, np.ndarray]:
    # BlockInfo.decodable, spelt out: a property call per block costs more
    offs = np.array(
        [b.offset for b in blocks if b.seq is not None and not b.undecodable], np.int64)
    return offs, _rows(buf, offs, HEADER_DTYPE)


def decode(raw: bytes, blocks: list[BlockInfo]) -> tuple[np.ndarray, list[tuple]]:
    """Samples (SAMPLE_DTYPE, utc NaN) and events (boot, t, code, a, b,
    value) of every block check_blocks parsed, in log order."""
    buf = np.frombuffer(raw, np.uint8)
    offs, hdr = _headers(buf, blocks)
    kind = hdr["kind"]
    sel = kind == log.KIND_SAMPLES
    samples = _samples(buf, memoryview(raw).cast("B"), offs[sel], hdr[sel])
    events = _events(buf, offs[kind == log.KIND_EVENTS], hdr[kind == log.KIND_EVENTS])
    return samples, events


# records decoded per pass: the pass's intermediates and its slice of the
# output (87 bytes a record) stay in the core's cache, so the output is
# written once instead of once per field
CHUNK = 8192


def _samples(buf: np.ndarray, mv: memoryview, offs: np.ndarray, hdr: np.ndarray) -> np.ndarray:
    counts = hdr["count"].astype(np.int64)
    total = int(counts.sum())
    out = np.empty(total, SAMPLE_DTYPE)
    if not total:
        return out
    n = log.NCHAN
    bad = hdr["nchan"] != n
    if bad.any():
        i = int(np.argmax(bad))
        raise DecodeError(
            f"block {int(hdr['seq'][i])} at byte {int(offs[i])}: {int(hdr['nchan'][i])} channels, "
            f"layout {log.LAYOUT_VERSION} has {n}"
        )
    last_t = hdr["t0"].astype(np.int64) + (counts - 1) * hdr["interval"]
    late = last_t > 0xFFFFFFFF
    if late.any():
        i = int(np.argmax(late))
        raise DecodeError(
            f"block {int(hdr['seq'][i])} at byte {int(offs[i])}: "
            "record times run past uptime 2**32 - 1"
        )
    # where each block's records start in the output (log order)
    first = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=first[1:])
    # every key record in one gather (same size whatever the delta width)
    key_dt = _record_dtypes(1, n)[0]
    keys = _rows(buf, offs + log.HEADER_LEN, key_dt)
    # block ranges of about CHUNK records each, and scratch for the largest
    starts = np.unique(np.searchsorted(first[:-1], np.arange(0, total, CHUNK), side="right") - 1)
    cuts: list[int] = np.append(starts, len(counts)).tolist()
    most = int(np.diff(first[cuts]).max())
    vals = np.empty((most, n), np.int32)
    status = np.empty(most, np.uint8)
    flt = np.empty((most, n), np.float64)
    scales = np.tile(_SCALES, most)
    # each chunk's rows are built in scratch that stays in cache and then
    # copied into the output in one contiguous move: the output's fresh
    # pages are touched once
    rows = np.empty(most, SAMPLE_DTYPE)
    rows["utc"] = np.nan
    # the channel columns of the scratch and a float64 (most, n) block, both
    # as one opaque item per record: a strided copy moves 72 bytes at once
    width = 8 * n
    ch = rows.view(np.uint8).reshape(most, SAMPLE_DTYPE.itemsize)[:, _CH0 : _CH0 + width]
    ch = ch.view(f"V{width}").reshape(most)
    flt_items = flt.view(f"V{width}").reshape(most)
    row_bytes = rows.view(np.uint8)
    out_bytes = out.view(np.uint8)
    size = SAMPLE_DTYPE.itemsize
    fmts = hdr["fmt"]
    lengths = hdr["length"].astype(np.int64)
    uniform = np.unique(fmts).size == 1
    for b0, b1 in pairwise(cuts):
        r0, r1 = int(first[b0]), int(first[b1])
        m = r1 - r0
        c = counts[b0:b1]
        f = first[b0:b1] - r0
        v, st = vals[:m], status[:m]
        if uniform and int(fmts[b0]) == log.FMT_DELTA4:
            summed = _fill4(mv, offs[b0:b1], c, lengths[b0:b1], f, keys[b0:b1], v, st, True)
        elif uniform:
            summed = _fill(mv, offs[b0:b1], c, f, keys[b0:b1], int(fmts[b0]), v, st, True)
        else:
            summed = False
            for fmt in np.unique(fmts[b0:b1]).tolist():
                g = fmts[b0:b1] == fmt
                if fmt == log.FMT_DELTA4:
                    _fill4(mv, offs[b0:b1][g], c[g], lengths[b0:b1][g], f[g], keys[b0:b1][g],
                           v, st, False)
                else:
                    _fill(mv, offs[b0:b1][g], c[g], f[g], keys[b0:b1][g], fmt, v, st, False)
        if not summed:
            # one running sum down each column, then each block's total
            # before its key record taken off again: wrapping int32
            # arithmetic, exact for the differences (module docstring)
            np.cumsum(v, axis=0, out=v)
            before = np.zeros((len(c), n), np.int32)
            before[1:] = v[f[1:] - 1]
            v -= np.repeat(before, c, axis=0)
            wrap = fmts[b0:b1] == log.FMT_DELTA4
            if wrap.all():
                _int16(v)
            elif wrap.any():
                rows16 = np.repeat(wrap, c)
                v[rows16] = v[rows16].astype(np.int16)
        o = rows[:m]
        o["boot"] = np.repeat(hdr["boot"][b0:b1], c)
        within = np.arange(m, dtype=np.int64) - np.repeat(f, c)
        t0 = np.repeat(hdr["t0"][b0:b1].astype(np.int64), c)
        o["t"] = t0 + within * np.repeat(hdr["interval"][b0:b1], c)
        o["status"] = st
        # display units (flat, so the multiply runs as one vector loop);
        # NO_READING -> NaN
        fl = flt[:m].reshape(-1)
        np.copyto(fl, v.reshape(-1))
        np.multiply(fl, scales[: m * n], out=fl)
        nr = v == log.NO_READING
        if nr.any():
            flt[:m][nr] = np.nan
        ch[:m] = flt_items[:m]
        # bytes, not records: a structured copy goes field by field
        out_bytes[r0 * size : r1 * size] = row_bytes[: m * size]
    return out


def _fill(
    mv: memoryview,
    offs: np.ndarray,
    counts: np.ndarray,
    first: np.ndarray,
    keys: np.ndarray,
    fmt: int,
    vals: np.ndarray,
    status: np.ndarray,
    whole: bool,
) -> bool:
    """Put the key and delta records of sample blocks of one delta width,
    whose records start at rows `first`, into vals and status. When the
    blocks are all the chunk's (`whole`) and all the same size (full blocks:
    the common case) the values are summed here, block by block, and True
    returned; otherwise the caller sums the chunk."""
    n = vals.shape[1]
    key_dt, delta_dt = _record_dtypes(fmt, n)
    # the delta records of a block are contiguous: join the blocks' runs
    starts = (offs + (log.HEADER_LEN + key_dt.itemsize)).tolist()
    lens = ((counts - 1) * delta_dt.itemsize).tolist()
    deltas = np.frombuffer(b"".join([mv[s : s + m] for s, m in zip(starts, lens)]), delta_dt)
    c = int(counts[0])
    if whole and (counts == c).all():
        v3 = vals.reshape(len(counts), c, n)
        s2 = status.reshape(len(counts), c)
        v3[:, 0] = keys["v"]
        s2[:, 0] = keys["s"]
        v3[:, 1:] = deltas["v"].reshape(len(counts), c - 1, n)
        s2[:, 1:] = deltas["s"].reshape(len(counts), c - 1)
        np.cumsum(v3, axis=1, out=v3)
        return True
    vals[first] = keys["v"]
    status[first] = keys["s"]
    nd = counts - 1
    dfirst = np.zeros(len(nd), np.int64)
    np.cumsum(nd[:-1], out=dfirst[1:])
    rows = np.repeat(first + 1 - dfirst, nd) + np.arange(int(nd.sum()), dtype=np.int64)
    vals[rows] = deltas["v"]
    status[rows] = deltas["s"]
    return False


def _int16(v: np.ndarray) -> None:
    """int32 values taken modulo 2**16 into int16's range, in place (fmt 3's
    sums: module docstring, step 4)."""
    v <<= 16
    v >>= 16


def _fill4(
    mv: memoryview,
    offs: np.ndarray,
    counts: np.ndarray,
    lengths: np.ndarray,
    first: np.ndarray,
    keys: np.ndarray,
    vals: np.ndarray,
    status: np.ndarray,
    whole: bool,
) -> bool:
    """Put the key records and deltas of fmt 3 blocks (SPEC 7.4), whose
    records start at rows `first`, into vals, and their statuses, already
    accumulated, into status. As _fill: when the blocks are all the chunk's
    and all the same size the values are summed here and True returned."""
    n = vals.shape[1]
    size = (n + 2) // 2
    nd = counts - 1
    starts = offs + (log.HEADER_LEN + 2 * n + 1)
    ends = starts + nd * size  # where each block's exception list lies
    stops = offs + log.HEADER_LEN + lengths
    body = np.frombuffer(
        b"".join([mv[s:e] for s, e in zip(starts.tolist(), ends.tolist())]), np.uint8
    ).reshape(-1, size)
    # the nibbles as int8, low first, then signed (x ^ 8) - 8: the escape,
    # 8, reads -8, which no delta is in place
    nib8 = np.empty((len(body), 2 * size), np.int8)
    np.bitwise_and(body, 15, out=nib8[:, 0::2], casting="unsafe")
    np.right_shift(body, 4, out=nib8[:, 1::2], casting="unsafe")
    nib8 ^= 8
    nib8 -= 8
    esc = nib8[:, : n + 1] == -8
    nib = nib8[:, : n + 1].astype(np.int32)
    # every block's list stored from its payload's end: joined in reverse
    # block order and read backwards, each is in record order, in log order
    tails = b"".join([mv[s:e] for s, e in zip(ends[::-1].tolist(), stops[::-1].tolist())])
    exc = np.frombuffer(tails, "<i2")[::-1]
    if int(np.count_nonzero(esc)) != len(exc):  # the walk refuses such blocks
        raise DecodeError("a format 3 block's exceptions disagree with its escapes")
    nib[esc] = exc
    # the status nibble is a mask, not a delta: its 4 bits, or the
    # exception's low byte
    change = nib[:, 0] & np.where(esc[:, 0], 0xFF, 0x0F)
    c = int(counts[0])
    if whole and (counts == c).all():
        b = len(counts)
        v3 = vals.reshape(b, c, n)
        s2 = status.reshape(b, c)
        v3[:, 0] = keys["v"]
        s2[:, 0] = keys["s"]
        v3[:, 1:] = nib[:, 1:].reshape(b, c - 1, n)
        s2[:, 1:] = change.reshape(b, c - 1)
        np.cumsum(v3, axis=1, out=v3)
        _int16(v3)
        np.bitwise_xor.accumulate(s2, axis=1, out=s2)
        return True
    dfirst = np.zeros(len(nd), np.int64)
    np.cumsum(nd[:-1], out=dfirst[1:])
    rows = np.repeat(first + 1 - dfirst, nd) + np.arange(int(nd.sum()), dtype=np.int64)
    vals[first] = keys["v"]
    vals[rows] = nib[:, 1:]
    # status: the key's, then each record's change XORed in, block by block
    status[first] = keys["s"]
    status[rows] = change
    kfirst = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=kfirst[1:])
    own = np.repeat(first - kfirst, counts) + np.arange(int(counts.sum()), dtype=np.int64)
    acc = np.bitwise_xor.accumulate(status[own])
    before = np.zeros(len(counts), np.uint8)
    before[1:] = acc[kfirst[1:] - 1]
    status[own] = acc ^ np.repeat(before, counts)
    return False


_DTYPES: dict[tuple[int, int], tuple[np.dtype, np.dtype]] = {}


def _record_dtypes(fmt: int, n: int) -> tuple[np.dtype, np.dtype]:
    """(key record, delta record) dtypes for a delta width and channel count."""
    got = _DTYPES.get((fmt, n))
    if got is None:
        got = _DTYPES[(fmt, n)] = (
            np.dtype([("v", "<i2", (n,)), ("s", "u1")]),
            np.dtype([("v", "i1" if fmt == 1 else "<i2", (n,)), ("s", "u1")]),
        )
    return got


def _events(buf: np.ndarray, offs: np.ndarray, hdr: np.ndarray) -> list[tuple]:
    counts = hdr["count"].astype(np.int64)
    total = int(counts.sum())
    if not total:
        return []
    first = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    j = np.arange(total, dtype=np.int64) - np.repeat(first, counts)
    recs = _rows(buf, np.repeat(offs + log.HEADER_LEN, counts) + j * log.EVENT_LEN, EVENT_DTYPE)
    boots = np.repeat(hdr["boot"], counts).tolist()
    return [
        (boot, t, code, a, b, value)
        for boot, (t, code, a, b, value) in zip(boots, recs.tolist())
    ]
