"""Decoded logs as tables and files: the samples and events of a log as
pyarrow tables with units in the column names and UTC, written as CSV,
Parquet or JSON.

  export.write(data, "csv", "out.csv")              # a LogData -> the paths written
  export.write_log(raw, blocks, "csv", "out.csv")   # straight from the log

Both write in chunks of about CHUNK records: a chunk is decoded (or cut
from the LogData), made a table and appended to the file, so what is held
at once is the log, its events and one chunk, not the decoded log and its
table of strings (a 100 MB log decodes to 850 MB of float64 samples). The
bytes written do not depend on the chunk size, except that a Parquet file
holds a row group per chunk (tests/test_export.py).

Library code: no printing, no exits; a write that fails raises OSError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from podctl import events as event_fields
from podctl import logdata
from podctl.blocks import BlockInfo
from protocol import log

FORMATS = ("csv", "parquet", "json")
# records per chunk: 2.8 MB of decoded samples, their strings and table;
# a Parquet row group each
CHUNK = 1 << 15
# rows made Python dicts at a time for the JSON text
JSON_ROWS = 4096


def _unit(u: str) -> str:
    return u.replace("%RH", "pct_rh").replace("%", "pct")


# column name, decimals of the stored resolution
COLUMNS = [(f"{c[0]}_{_unit(c[3])}", max(0, round(-np.log10(c[2])))) for c in log.CHANNELS]


def _iso(utc: np.ndarray) -> list[str | None]:
    """ISO 8601 UTC to the second (the device counts whole seconds), None
    where unknown."""
    known = ~np.isnan(utc)
    secs = np.zeros(len(utc), "int64")
    secs[known] = np.floor(utc[known] + 0.5)
    text = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    return [f"{t}Z" if k else None for t, k in zip(text.tolist(), known.tolist())]


def _flags(status: np.ndarray) -> list[str]:
    names = {
        v: "|".join(n for bit, n in log.STATUS_BITS if v & bit) for v in np.unique(status).tolist()
    }
    return [names[v] for v in status.tolist()]


def samples_table(data: logdata.LogData, utc_type: str = "string"):
    """The samples as a pyarrow table: boot, uptime_s, utc, the payload
    estimate the alarms and the report judge (payload_degC: the mean of the
    probes the firmware trusted, null when none was), the profile's phase
    (null before the first PHASE event), channels in display units (null:
    no reading), status and its flags."""
    return table_of_samples(data.samples, utc_type, data.events)


@dataclass(frozen=True)
class _Run:
    """A run of a log's records with all of its events: what analysis's
    per-record functions need of a LogData."""

    samples: np.ndarray
    events: list[logdata.Event]


def table_of_samples(
    s: np.ndarray, utc_type: str = "string", events: list[logdata.Event] | None = None
):
    """samples_table of a SAMPLE_DTYPE array (a chunk of a log) and the
    log's events (for the estimate and the phase)."""
    import pyarrow as pa

    from podctl import analysis

    run = cast(logdata.LogData, _Run(s, events or []))
    est = np.round(analysis.estimate(run), 3) if len(s) else np.zeros(0)
    phase = analysis.phase_per_record(run) if len(s) else np.zeros(0, np.int64)
    cols: dict[str, Any] = {
        "boot": pa.array(s["boot"]),
        "uptime_s": pa.array(s["t"]),
        "utc": _utc_column(s["utc"], utc_type),
        "payload_degC": pa.array(est, pa.float64(), mask=np.isnan(est)),
        "phase": pa.array(phase, pa.int16(), mask=phase < 0),
    }
    for (col, decimals), name in zip(COLUMNS, logdata.CHANNEL_NAMES):
        v = np.round(s[name], decimals)
        cols[col] = pa.array(v, mask=np.isnan(v))
    cols["status"] = pa.array(s["status"])
    cols["status_flags"] = pa.array(_flags(s["status"]), pa.string())
    return pa.table(cols)


def events_table(data: logdata.LogData, utc_type: str = "string"):
    return table_of_events(data.events, utc_type)


def table_of_events(ev: list[logdata.Event], utc_type: str = "string"):
    """The events with their fields read (podctl.events): what each is
    about (subject, detail), its reading signed and scaled with its unit,
    and a profile identity or firmware version as text."""
    import pyarrow as pa

    read = [event_fields.read(e.code, e.a, e.b, e.value) for e in ev]
    value = np.array([r.value for r in read], "float64")
    return pa.table(
        {
            "boot": pa.array([e.boot for e in ev], pa.uint16()),
            "uptime_s": pa.array([e.t for e in ev], pa.uint32()),
            "utc": _utc_column(np.array([e.utc for e in ev], "float64"), utc_type),
            "code": pa.array([e.code for e in ev], pa.uint8()),
            "event": pa.array([e.name for e in ev], pa.string()),
            "subject": pa.array([r.subject for r in read], pa.string()),
            "detail": pa.array([r.detail for r in read], pa.string()),
            "value": pa.array(value, pa.float64(), mask=np.isnan(value)),
            "unit": pa.array([r.unit for r in read], pa.string()),
            "text": pa.array([r.text for r in read], pa.string()),
        }
    )


def _utc_column(utc: np.ndarray, utc_type: str):
    import pyarrow as pa

    if utc_type == "timestamp":
        known = ~np.isnan(utc)
        secs = np.zeros(len(utc), "int64")
        secs[known] = np.floor(utc[known] + 0.5)
        return pa.array(secs, pa.timestamp("s", tz="UTC"), mask=~known)
    return pa.array(_iso(utc), pa.string())


def _events_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.events{out.suffix}")


@dataclass(frozen=True)
class Written:
    """What write_log wrote: the paths (none for standard output) and how
    many samples and events went into them."""

    paths: list[str]
    samples: int
    events: int


def write(data: logdata.LogData, fmt: str, out: str, stdout: IO[str] | None = None) -> list[str]:
    """Write data as fmt to out ('-': stdout, JSON only); the paths written."""
    s = data.samples
    chunks = (s[i : i + CHUNK] for i in range(0, len(s), CHUNK))
    return _write(fmt, out, stdout, chunks, data.events, data.clock).paths


def write_log(
    raw: bytes, blocks: list[BlockInfo], fmt: str, out: str,
    stdout: IO[str] | None = None, *, chunk: int = CHUNK,
) -> Written:
    """Decode raw's readable blocks (blocks: podctl.blocks.walk's) and write
    them as fmt to out, as write() would write logdata.load(raw, blocks),
    holding one chunk of `chunk` records decoded at a time: the events and
    the clock come first, from the event blocks alone."""
    c = logdata.clock(raw, blocks)
    return _write(fmt, out, stdout, logdata.sample_chunks(raw, blocks, c.offsets, chunk),
                  c.events, c.notes)


def _write(
    fmt: str, out: str, stdout: IO[str] | None, chunks: Iterable[np.ndarray],
    events: list[logdata.Event], clock: list[str],
) -> Written:
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt}: one of {', '.join(FORMATS)}")
    if fmt == "json":
        if out == "-":
            assert stdout is not None
            n = _write_json(stdout, chunks, events, clock)
            return Written([], n, len(events))
        with open(out, "w") as f:
            n = _write_json(f, chunks, events, clock)
        return Written([out], n, len(events))
    if out == "-":
        raise ValueError(f"-o -: standard output takes --format json only, not {fmt}")
    path, ev_path = Path(out), _events_path(Path(out))
    if fmt == "parquet":
        n = _write_parquet(path, _tables(chunks, "timestamp", events),
                           table_of_samples(_EMPTY, "timestamp"))
        _write_parquet(ev_path, iter([table_of_events(events, "timestamp")]), None)
    else:
        n = _write_csv(path, _tables(chunks, "string", events), table_of_samples(_EMPTY))
        _write_csv(ev_path, iter([table_of_events(events)]), None)
    return Written([str(path), str(ev_path)], n, len(events))


_EMPTY = np.zeros(0, logdata.SAMPLE_DTYPE)


def _tables(
    chunks: Iterable[np.ndarray], utc_type: str, events: list[logdata.Event]
) -> Iterator[Any]:
    for s in chunks:
        if len(s):
            yield table_of_samples(s, utc_type, events)


def _write_csv(path: Path, tables: Iterator[Any], empty: Any) -> int:
    """The tables as one CSV: a header line, then every table's rows."""
    import pyarrow.csv as pcsv

    first = next(tables, None)
    shape = first if first is not None else empty
    rows = 0
    with open(path, "wb") as f:
        f.write((",".join(shape.column_names) + "\n").encode())
        # no string here holds a comma or a quote: none is quoted
        opts = pcsv.WriteOptions(include_header=False, quoting_style="none")
        with pcsv.CSVWriter(f, shape.schema, write_options=opts) as w:
            for t in _chain(first, tables):
                w.write_table(t)
                rows += t.num_rows
    return rows


def _write_parquet(path: Path, tables: Iterator[Any], empty: Any) -> int:
    """The tables as one Parquet file, a row group (or more) per table;
    one table gives the bytes of pyarrow.parquet.write_table."""
    import pyarrow.parquet as pq

    first = next(tables, None)
    if first is None:
        first = empty
    rows = 0
    with pq.ParquetWriter(path, first.schema) as w:
        for t in _chain(first, tables):
            w.write_table(t)
            rows += t.num_rows
    return rows


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
    yield from rest


def _write_json(f: IO[str], chunks: Iterable[np.ndarray], events: list[logdata.Event],
                clock: list[str]) -> int:
    """{"samples": [...], "events": [...], "clock": [...]} and a newline,
    the samples written a chunk at a time: the text json.dumps gives for
    the whole document (no spaces)."""

    def dumps(x: Any) -> str:
        return json.dumps(x, indent=None, separators=(",", ":"))

    f.write('{"samples":[')
    rows = 0
    for s in chunks:
        if not len(s):
            continue
        t = table_of_samples(s, "string", events)
        # a dict per row is ~1 KB: a few thousand rows of them at a time
        for i in range(0, len(s), JSON_ROWS):
            if rows:
                f.write(",")
            f.write(dumps(t.slice(i, JSON_ROWS).to_pylist())[1:-1])
            rows += min(JSON_ROWS, len(s) - i)
    f.write('],"events":' + dumps(table_of_events(events).to_pylist()))
    f.write(',"clock":' + dumps(clock) + "}\n")
    return rows
