"""podctl.export writes in chunks: its files are the ones a one-shot write
of the whole decoded log gives (the reference below: one table, one
pyarrow write, one json.dumps), whatever the chunk size, both from a
LogData (write) and straight from the log (write_log, which decodes a
chunk at a time after a first pass over the event blocks)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from podctl import export, logdata
from podctl.blocks import walk
from protocol import log
from tests.test_decode import seal_log


@pytest.fixture(scope="module")
def mission():
    """The nominal mission at a 60-second tick: its log."""
    from podctl.sim_cmds import load_run_inputs
    from sim import run as simrun

    sc, prof = load_run_inputs("nominal", 60)
    res = simrun.run(sc, prof, "cpython")
    return res.log


def boots_log() -> bytes:
    """Three boots: one set by TIME_SET (twice, the second a correction),
    one never set, the last set once; a damaged block in the middle;
    blocks of both delta widths and no-reading values."""
    rng = random.Random(4)
    specs = []
    t = 0
    for boot in (1, 2, 3):
        if boot == 1:
            specs.append(("e", boot, [(5, log.EV_BOOT, 1, boot, 7),
                                      (30, log.EV_TIME_SET, 0, 0, 1_800_000_000)]))
        if boot == 3:
            specs.append(("e", boot, [(1, log.EV_BOOT, 2, boot, 7),
                                      (2, log.EV_TIME_SET, 0, 0, 1_900_000_000)]))
        for k in range(6):
            vals = [rng.randint(-2000, 2000) for _ in range(log.NCHAN)]
            vals[k % log.NCHAN] = log.NO_READING
            recs = [(vals, rng.randrange(256))]
            for _ in range(rng.randrange(1, 40)):
                vals = [v if v == log.NO_READING else v + rng.randint(-100, 100) for v in vals]
                recs.append((list(vals), rng.randrange(256)))
            specs.append(("s", 1 + k % 2, boot, t, 60, recs))
            t += 60 * len(recs)
        if boot == 1:
            specs.append(("e", boot, [(t, log.EV_TIME_SET, 0, 0, 1_800_000_000 + t + 7)]))
        t = 0
    raw = bytearray(seal_log(specs))
    blocks, _ = walk(bytes(raw))
    raw[blocks[4].offset + 40] ^= 0x10  # one block lost
    return bytes(raw)


# -- the one-shot reference ------------------------------------------------------


def one_shot(data: logdata.LogData, fmt: str, out: Path) -> None:
    if fmt == "json":
        doc = {
            "samples": export.samples_table(data).to_pylist(),
            "events": export.events_table(data).to_pylist(),
            "clock": data.clock,
        }
        out.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
        return
    for p, make in ((out, export.samples_table), (out.with_name(f"{out.stem}.events{out.suffix}"),
                                                  export.events_table)):
        if fmt == "parquet":
            pq.write_table(make(data, "timestamp"), p)
        else:
            t = make(data)
            with open(p, "wb") as f:
                f.write((",".join(t.column_names) + "\n").encode())
                pcsv.write_csv(t, f, pcsv.WriteOptions(include_header=False, quoting_style="none"))


def _files(out: Path, fmt: str) -> list[Path]:
    return [out] if fmt == "json" else [out, out.with_name(f"{out.stem}.events{out.suffix}")]


def assert_same_files(got: Path, want: Path, fmt: str, same_bytes: bool = True) -> None:
    for g, w in zip(_files(got, fmt), _files(want, fmt)):
        if fmt == "parquet" and not same_bytes:
            assert pq.read_table(g).equals(pq.read_table(w)), g
        else:
            assert g.read_bytes() == w.read_bytes(), g


@pytest.mark.parametrize("fmt", export.FORMATS)
@pytest.mark.parametrize("which", ["mission", "boots"])
def test_chunked_equals_one_shot(tmp_path, mission, fmt, which, monkeypatch):
    raw = mission if which == "mission" else boots_log()
    blocks = walk(raw)[0]
    data = logdata.load(raw, blocks)
    want = tmp_path / f"want.{fmt}"
    one_shot(data, fmt, want)
    assert len(data.samples) > 100 and data.events
    # a small log, one chunk: the same bytes, Parquet included
    got = tmp_path / f"whole.{fmt}"
    assert export.write(data, fmt, str(got)) == [str(p) for p in _files(got, fmt)]
    assert_same_files(got, want, fmt)
    written = export.write_log(raw, blocks, fmt, str(got))
    assert (written.samples, written.events) == (len(data.samples), len(data.events))
    assert_same_files(got, want, fmt)
    # tiny chunks: the same bytes (Parquet: the same table, a row group a chunk)
    for chunk in (1, 7, 97, 1000) if which == "boots" else (97, 1000):
        got = tmp_path / f"chunk{chunk}.{fmt}"
        export.write_log(raw, blocks, fmt, str(got), chunk=chunk)
        assert_same_files(got, want, fmt, same_bytes=False)
        monkeypatch.setattr(export, "CHUNK", chunk)
        export.write(data, fmt, str(got))
        assert_same_files(got, want, fmt, same_bytes=False)
        monkeypatch.undo()


def test_json_to_stdout_in_chunks(tmp_path):
    import io

    raw = boots_log()
    blocks = walk(raw)[0]
    want = tmp_path / "want.json"
    one_shot(logdata.load(raw, blocks), "json", want)
    out = io.StringIO()
    assert export.write_log(raw, blocks, "json", "-", out, chunk=5).paths == []
    assert out.getvalue() == want.read_text()


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_log_without_samples(tmp_path, fmt):
    raw = seal_log([("e", 1, [(5, log.EV_BOOT, 1, 1, 7)])])
    blocks = walk(raw)[0]
    want = tmp_path / f"want.{fmt}"
    one_shot(logdata.load(raw, blocks), fmt, want)
    got = tmp_path / f"got.{fmt}"
    assert export.write_log(raw, blocks, fmt, str(got)).samples == 0
    assert_same_files(got, want, fmt)


def test_standard_output_takes_json_only(tmp_path):
    raw = boots_log()
    with pytest.raises(ValueError, match="json only"):
        export.write_log(raw, walk(raw)[0], "csv", "-")


# -- the clock before the samples -----------------------------------------------


def test_clock_and_chunks_are_load(mission):
    for raw in (mission, boots_log()):
        blocks = walk(raw)[0]
        whole = logdata.load(raw, blocks)
        c = logdata.clock(raw, blocks)
        assert c.notes == whole.clock
        assert [repr(e) for e in c.events] == [repr(e) for e in whole.events]
        for records in (1, 50, 1 << 16):
            parts = list(logdata.sample_chunks(raw, blocks, c.offsets, records))
            assert np.concatenate(parts).tobytes() == whole.samples.tobytes()
    assert len({round(x) for x in np.unique(whole.samples["utc"]) if not np.isnan(x)}) > 10
    assert np.isnan(whole.samples["utc"]).any()  # boot 2 was never set
