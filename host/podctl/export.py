"""Decoded logs as tables and files: the samples and events of a
podctl.logdata.LogData as pyarrow tables with units in the column names
and UTC, written as CSV, Parquet or JSON.

  export.write(data, "csv", "out.csv")     # -> the paths written

Library code: no printing, no exits; a write that fails raises OSError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import numpy as np

from podctl import logdata
from protocol import log

FORMATS = ("csv", "parquet", "json")


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
    """The samples as a pyarrow table: boot, uptime_s, utc, channels in display
    units (null: no reading), status and its flags."""
    import pyarrow as pa

    s = data.samples
    cols: dict[str, Any] = {
        "boot": pa.array(s["boot"]),
        "uptime_s": pa.array(s["t"]),
        "utc": _utc_column(s["utc"], utc_type),
    }
    for (col, decimals), name in zip(COLUMNS, logdata.CHANNEL_NAMES):
        v = np.round(s[name], decimals)
        cols[col] = pa.array(v, mask=np.isnan(v))
    cols["status"] = pa.array(s["status"])
    cols["status_flags"] = pa.array(_flags(s["status"]), pa.string())
    return pa.table(cols)


def events_table(data: logdata.LogData, utc_type: str = "string"):
    import pyarrow as pa

    ev = data.events
    return pa.table(
        {
            "boot": pa.array([e.boot for e in ev], pa.uint16()),
            "uptime_s": pa.array([e.t for e in ev], pa.uint32()),
            "utc": _utc_column(np.array([e.utc for e in ev], "float64"), utc_type),
            "code": pa.array([e.code for e in ev], pa.uint8()),
            "event": pa.array([e.name for e in ev], pa.string()),
            "a": pa.array([e.a for e in ev], pa.uint8()),
            "b": pa.array([e.b for e in ev], pa.uint16()),
            "value": pa.array([e.value for e in ev], pa.uint32()),
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


def write(data: logdata.LogData, fmt: str, out: str, stdout: IO[str] | None = None) -> list[str]:
    """Write data as fmt to out ('-': stdout, JSON only); the paths written."""
    if fmt == "json":
        doc = {
            "samples": samples_table(data).to_pylist(),
            "events": events_table(data).to_pylist(),
            "clock": data.clock,
        }
        text = json.dumps(doc, indent=None, separators=(",", ":"))
        if out == "-":
            assert stdout is not None
            stdout.write(text + "\n")
            return []
        Path(out).write_text(text + "\n")
        return [out]
    if out == "-":
        raise ValueError(f"-o -: standard output takes --format json only, not {fmt}")
    path = Path(out)
    tables = ((path, samples_table), (_events_path(path), events_table))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for p, make in tables:
            pq.write_table(make(data, "timestamp"), p)
    else:
        import pyarrow.csv as pcsv

        for p, make in tables:
            t = make(data)
            with open(p, "wb") as f:
                f.write((",".join(t.column_names) + "\n").encode())
                # no string here holds a comma or a quote: none is quoted
                pcsv.write_csv(t, f, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return [str(p) for p, _ in tables]


# -- verify ------------------------------------------------------------------
