"""`podctl logs`: decode formats, verify (passes on a simulated mission's
output, fails naming the block for each kind of damage), extract from the
flash image, info; one-line errors and exit statuses for bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from podctl import keystore, logdata, logs_cmds, manifest
from podctl.blocks import walk
from podctl.cli import build_parser, main
from podctl.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_USAGE
from podctl.pulled import open_pulled
from podctl.seal import Seal
from podctl.verdict import HEAD_NOT_ATTESTED, VERIFIED, verify
from protocol import log
from protocol.frame import crc32
from protocol.wire import SEAL_HEAD_DROPPED
from tests.test_bad_input import seal_as_device
from tests.test_decode import NR, seal_log


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """Rich tables one row a line, whatever the terminal."""
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One nominal mission at a 60-second tick (about 1.5 s), as sim run writes it."""
    out = tmp_path_factory.mktemp("sim") / "run"
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(out)]) == 0
    return out


@pytest.fixture
def copy(run, tmp_path) -> Path:
    """A private copy of the run's log, manifest and key."""
    for name in ("log.bin", "log.bin.manifest.json", "key.bin", "seal.bin"):
        shutil.copy(run / name, tmp_path / name)
    return tmp_path


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("podctl: "), err
    return err


def _blocks(raw: bytes) -> list[logdata.BlockInfo]:
    blocks, problems = walk(raw)
    assert not problems
    return blocks


def _counted(raw: bytes) -> tuple[int, int, int]:
    """(blocks, sample blocks, event blocks) of a log, counted from it: the
    counts follow the firmware's sample format (format 3 since d4d8c66
    packs a block until 97 records, where format 1 also closed one at a
    delta beyond a byte), so the tests read them from the log they check."""
    blocks = _blocks(raw)
    samples = sum(b.kind == log.KIND_SAMPLES for b in blocks)
    return len(blocks), samples, sum(b.kind == log.KIND_EVENTS for b in blocks)


def _verify(d: Path, *extra: str) -> int:
    return main(["logs", "verify", str(d / "log.bin"), "--key-file", str(d / "key.bin"), *extra])


def _reseal_manifest(d: Path, **log_fields) -> None:
    """Rewrite the manifest as a pull of the current log.bin would have."""
    path = manifest.beside(d / "log.bin")
    m = json.loads(path.read_text())
    raw = (d / "log.bin").read_bytes()
    m["log"].update(sha256=hashlib.sha256(raw).hexdigest(), bytes=len(raw), **log_fields)
    path.write_text(json.dumps(m))


# -- verify ------------------------------------------------------------------


def test_verify_passes_on_a_simulated_mission(copy, capsys):
    assert _verify(copy) == 0
    out = capsys.readouterr().out
    n = _counted((copy / "log.bin").read_bytes())[0]
    assert n > 100  # ten days of minute records
    assert f"complete and authentic: {n} blocks, seq 0..{n - 1}, device SIM00001" in out
    assert "sealed by device SIM00001 at 2027-03-10" in out and "(SIMULATED board)" in out


def test_verify_with_the_keystore(copy, capsys, tmp_path):
    ks = tmp_path / "keys.json"
    keystore.add("SIM00001", (copy / "key.bin").read_bytes(), ks)
    assert main(["logs", "verify", str(copy / "log.bin"), "--keystore", str(ks)]) == 0
    assert "complete and authentic" in capsys.readouterr().out


def test_flipped_payload_byte_names_the_block(copy, capsys):
    p = copy / "log.bin"
    raw = bytearray(p.read_bytes())
    b = _blocks(bytes(raw))[100]
    raw[b.offset + log.HEADER_LEN + 30] ^= 0x01
    p.write_bytes(raw)
    assert _verify(copy) == EXIT_CHECK_FAILED
    err = _err(capsys)
    want = (
        f"block 100 at byte {b.offset}: CRC mismatch"
        " (after block 99; its header claims block 100, unchecked)"
    )
    assert want in err


def test_damage_mid_log_costs_its_blocks_not_the_rest(copy, capsys):
    # SPEC 8.2: one flipped byte in block 100, and 3,000 zeroed bytes over
    # blocks 150..: the walk resumes at the next block that passes its CRC,
    # the records after the damage are decoded, their chain is proven from
    # there on, and verify names the regions and the blocks they cost
    p = copy / "log.bin"
    raw = bytearray(p.read_bytes())
    blocks = _blocks(bytes(raw))
    hit, wiped = blocks[100], blocks[150]
    raw[hit.offset + log.HEADER_LEN + 30] ^= 0x01
    raw[wiped.offset + 10 : wiped.offset + 3010] = bytes(3000)
    p.write_bytes(raw)
    _reseal_manifest(copy)
    found, problems = walk(bytes(raw), [(copy / "key.bin").read_bytes()])
    regions = [b for b in found if b.seq is None]
    assert [r.offset for r in regions] == [hit.offset, wiped.offset]
    assert regions[0].size == hit.size  # the flipped byte costs its own block
    lost = {b.seq for b in blocks} - {b.seq for b in found if b.seq is not None}
    assert 100 in lost and 150 in lost and len(lost) == 1 + sum(
        1 for b in blocks if wiped.offset <= b.offset < wiped.offset + 3010)
    after = [b.verdict for b in found if b.seq is not None and b.offset > hit.offset]
    assert after[0] == "after damage" and all(v in ("ok", "after damage", "gap") for v in after)
    assert not [x for x in problems if x.code == "mac"]
    assert found[-1].seq == blocks[-1].seq  # the walk reached the end
    assert _verify(copy) == EXIT_CHECK_FAILED
    err = _err(capsys)
    assert (
        f"block 100 at byte {hit.offset}: CRC mismatch"
        " (after block 99; its header claims block 100" in err
    )
    assert "the log resumes at byte" in err
    # decode keeps every record outside the damaged blocks
    data = logdata.load(bytes(raw))
    assert len(data.samples) == sum(
        b.count for b in found if b.seq is not None and b.kind == log.KIND_SAMPLES
    )
    assert len(data.samples) > 0.9 * sum(b.count for b in blocks if b.kind == log.KIND_SAMPLES)


def test_flipped_byte_with_a_recomputed_crc_breaks_the_mac(copy, capsys):
    p = copy / "log.bin"
    raw = bytearray(p.read_bytes())
    b = _blocks(bytes(raw))[100]
    raw[b.offset + log.HEADER_LEN + 30] ^= 0x01
    end = b.offset + b.size - log.TRAILER_LEN
    struct.pack_into("<I", raw, end, crc32(bytes(raw[b.offset : end])))
    p.write_bytes(raw)
    assert _verify(copy) == EXIT_CHECK_FAILED
    err = _err(capsys)
    assert f"block 100 at byte {b.offset}: MAC does not match" in err


def test_block_removed_from_the_middle(copy, capsys):
    p = copy / "log.bin"
    raw = p.read_bytes()
    b = _blocks(raw)[120]
    p.write_bytes(raw[: b.offset] + raw[b.offset + b.size :])
    _reseal_manifest(copy)  # even a manifest written after the removal
    assert _verify(copy) == EXIT_CHECK_FAILED
    err = _err(capsys)
    want = f"block 121 at byte {b.offset}: sequence jumps from 119 to 121 (1 block(s) missing)"
    assert want in err


def test_tail_cut_after_the_pull(copy, capsys):
    p = copy / "log.bin"
    raw = p.read_bytes()
    last = _blocks(raw)[-1]
    p.write_bytes(raw[: last.offset])  # to the previous block boundary
    assert _verify(copy) == EXIT_CHECK_FAILED
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    prev = _blocks(raw)[-2]
    assert (
        f"block {last.seq} at byte {prev.offset + prev.size}: the log ends at block {prev.seq},"
        f" the device sealed block {last.seq} as its last: 1 block(s) missing from the end"
        in captured.err
    )
    assert "SHA-256" in captured.out and "+2 more" in captured.err  # the size and the hash


def test_tail_cut_even_with_a_rewritten_hash(copy, capsys):
    p = copy / "log.bin"
    raw = p.read_bytes()
    p.write_bytes(raw[: _blocks(raw)[-1].offset])
    _reseal_manifest(copy)
    assert _verify(copy) == EXIT_CHECK_FAILED
    assert "1 block(s) missing from the end" in _err(capsys)


def test_wrong_key(copy, capsys):
    (copy / "key.bin").write_bytes(bytes(32))
    assert _verify(copy) == EXIT_CHECK_FAILED
    err = _err(capsys)
    assert "block 0 at byte 0: MAC does not match (altered, or written under another key)" in err
    n = _counted((copy / "log.bin").read_bytes())[0]
    assert f"+{n} more" in err  # every block but the first, and the seal


def test_missing_manifest(copy, capsys):
    manifest.beside(copy / "log.bin").unlink()
    assert _verify(copy) == EXIT_BAD_INPUT
    err = _err(capsys)
    assert "no manifest at" in err and "--manifest" in err


def test_missing_keystore_entry(copy, capsys, tmp_path):
    ks = tmp_path / "keys.json"
    keystore.add("OTHER001", bytes(32), ks)
    assert main(["logs", "verify", str(copy / "log.bin"), "--keystore", str(ks)]) == EXIT_BAD_INPUT
    err = _err(capsys)
    assert "no key for device SIM00001 in" in err


def test_key_file_of_wrong_size(copy, capsys):
    (copy / "key.bin").write_bytes(bytes(16))
    assert _verify(copy) == EXIT_BAD_INPUT
    assert "a device key is 32 raw bytes, this file has 16" in _err(capsys)


def test_keystore_and_key_file_together_is_a_usage_error(copy, capsys):
    assert _verify(copy, "--keystore", "x.json") == EXIT_USAGE
    _err(capsys)


# -- unanchored start ----------------------------------------------------------


def _drop_head(
    d: Path, n: int, sealed: bool = True, dropped: bool = False
) -> tuple[bytes, logdata.BlockInfo]:
    """Keep blocks n.. as the device would after an erase (or, dropped, an
    overwrite); the manifest says its log starts there and, sealed, so does
    the device's seal. Returns the MAC of block n - 1."""
    p = d / "log.bin"
    raw = p.read_bytes()
    blocks = _blocks(raw)
    prev = blocks[n - 1]
    p.write_bytes(raw[blocks[n].offset :])
    _reseal_manifest(d, first_seq=n)
    if sealed:
        flags = Seal.read(d / "seal.bin").flags | (SEAL_HEAD_DROPPED if dropped else 0)
        seal_as_device(d, flags=flags)
    return raw[prev.offset + prev.size - 16 : prev.offset + prev.size], prev


def test_unanchored_start_fails_by_default(copy, capsys):
    _drop_head(copy, 77)
    assert _verify(copy) == EXIT_CHECK_FAILED
    err = _err(capsys)
    assert "block 77 at byte 0: unanchored start" in err and "cannot be authenticated" in err


def test_unanchored_start_accepted_when_asked_is_head_not_attested(copy, capsys):
    """--allow-unanchored takes the first block on trust: a weaker, labelled
    verdict (exit 1), never VERIFIED (it used to be, with a warning)."""
    _drop_head(copy, 77)
    assert _verify(copy, "--allow-unanchored") == EXIT_CHECK_FAILED
    out, err = capsys.readouterr()
    assert "unanchored start accepted" in out and "complete and authentic" not in out
    assert err.count("\n") == 1 and "HEAD NOT ATTESTED: block 77 chains to a block" in err
    v = verify(open_pulled(copy), (copy / "key.bin").read_bytes(), allow_unanchored=True)
    assert v.ok and v.attested and not v.head_attested and not v.verified
    assert v.status == HEAD_NOT_ATTESTED
    assert [f.code for f in v.warnings] == ["head_not_attested"]


def _forge_first_block(d: Path) -> int:
    """An insider rewrites the first block's first reading (its CRC made
    again) and the manifest's hash: the block's MAC chains to a block the
    log does not hold, so the chain cannot tell. Returns the new reading."""
    p = d / "log.bin"
    raw = bytearray(p.read_bytes())
    first = _blocks(bytes(raw))[0]
    assert first.kind == log.KIND_SAMPLES
    at = first.offset + log.HEADER_LEN  # the first record's probe 0, absolute
    forged = struct.unpack_from("<h", raw, at)[0] + 300  # 3 degC warmer
    struct.pack_into("<h", raw, at, forged)
    end = first.offset + first.size - log.TRAILER_LEN
    raw[end : end + 4] = crc32(bytes(raw[first.offset : end])).to_bytes(4, "little")
    p.write_bytes(bytes(raw))
    _reseal_manifest(d)
    return forged


def _first_sample_block(d: Path, after: int) -> int:
    blocks = _blocks((d / "log.bin").read_bytes())
    return next(b.seq for b in blocks[after:] if b.kind == log.KIND_SAMPLES)


def test_a_head_cut_with_a_forged_first_block_is_never_verified(copy, capsys):
    """Issue 13: a head cut passed with --allow-unanchored and a forged
    first block. Now verify, report and assess each name HEAD NOT ATTESTED
    and exit 1; the report's first page says it; the product is not
    RELEASE (the forged block's records are not evidence)."""
    n = _first_sample_block(copy, 77)
    _drop_head(copy, n)
    forged = _forge_first_block(copy)
    key = ["--key-file", str(copy / "key.bin")]
    assert _verify(copy) == EXIT_CHECK_FAILED  # not without the flag
    capsys.readouterr()
    assert _verify(copy, "--allow-unanchored") == EXIT_CHECK_FAILED
    assert "HEAD NOT ATTESTED" in capsys.readouterr().err
    pulled = open_pulled(copy)
    v = verify(pulled, (copy / "key.bin").read_bytes(), allow_unanchored=True)
    assert v.status == HEAD_NOT_ATTESTED != VERIFIED and not v.verified
    assert pulled.data(v.blocks).samples["probe0"][0] == pytest.approx(forged / 100)
    profile = ["--profile", "examples/profiles/nominal.toml"]
    page = copy / "r" / "report.html"
    assert main(["logs", "report", str(copy), *key, *profile, "--allow-unanchored",
                 "-o", str(page)]) == EXIT_CHECK_FAILED
    assert "HEAD IS NOT ATTESTED" in capsys.readouterr().err
    text = page.read_text()
    first_page = text[: text.index("<h2>Log and device</h2>")]
    assert '<div class="verdict HEAD_NOT_ATTESTED">HEAD NOT ATTESTED</div>' in first_page
    assert "accepted only because --allow-unanchored was given" in first_page
    assert "integrity HEAD NOT ATTESTED" in text  # the running footer, on every PDF page
    assert "verdict VERIFIED" not in text
    assert main(["logs", "assess", str(copy), *key, *profile]) == EXIT_CHECK_FAILED
    assert "integrity: FAILED" in capsys.readouterr().out  # without the flag
    code = main(["logs", "assess", str(copy), *key, *profile, "--allow-unanchored"])
    out, err = capsys.readouterr()
    assert code == EXIT_CHECK_FAILED and "integrity: HEAD NOT ATTESTED" in out
    assert "INCOMPLETE (unproven)" in out and "product RELEASE" not in out + err
    assert "integrity HEAD NOT ATTESTED, product INCOMPLETE" in err


def test_unanchored_start_not_vouched_by_the_seal(copy, capsys):
    """A head cut after the pull: the manifest rewritten to match, but the
    device's seal says its log starts at block 0."""
    _drop_head(copy, 77, sealed=False)
    assert _verify(copy, "--allow-unanchored") == EXIT_CHECK_FAILED
    out, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert "block 77 at byte 0: unanchored start" in err and "+2 more" in err
    assert (
        "FAIL: blocks 0..76 at byte 0: the log starts at block 77,"
        " the device sealed a log from block 0" in out
    )
    assert "77 block(s) missing from the start" in out


def test_a_head_the_device_dropped_is_stated_in_its_seal(copy, capsys):
    """The overwrite policy dropped blocks 0..76 and the device says so in
    its seal: the log verifies, the first block labelled as not proven."""
    _drop_head(copy, 77, dropped=True)
    assert _verify(copy) == 0
    out = capsys.readouterr().out
    # no STORAGE_FULL event names this hand-made drop: the blocks, not the records
    assert "head dropped by the device: blocks 0..76 (no authenticated event" in out
    assert "by its overwrite policy (stated in its seal)" in out


def test_a_dropped_head_verifies_but_its_first_block_is_not_evidence(copy, capsys):
    """The device attests it dropped the head (its seal): VERIFIED, as
    before. Its first block's own records still chain to a block the log
    does not hold, so a forged one is not caught by the chain: the product
    verdict counts them as unproven (INCOMPLETE), never RELEASE."""
    n = _first_sample_block(copy, 77)
    _drop_head(copy, n, dropped=True)
    _forge_first_block(copy)
    v = verify(open_pulled(copy), (copy / "key.bin").read_bytes())
    assert v.status == VERIFIED and v.head_attested and v.unproven == 1
    key = ["--key-file", str(copy / "key.bin")]
    code = main(["logs", "assess", str(copy), *key, "--profile", "examples/profiles/nominal.toml"])
    out = capsys.readouterr().out
    assert code == EXIT_CHECK_FAILED and "integrity: VERIFIED" in out
    assert "INCOMPLETE (unproven): records the MAC chain does not prove" in out
    assert f"block(s) {n}: " in out


def test_unanchored_start_anchored_by_the_earlier_pull(copy, capsys, tmp_path):
    mac, prev = _drop_head(copy, 77)
    earlier = tmp_path / "earlier.manifest.json"
    m = json.loads(manifest.beside(copy / "log.bin").read_text())
    m["log"].update(last_seq=76, last_mac=mac.hex())
    earlier.write_text(json.dumps(m))
    assert _verify(copy, "--after", str(earlier)) == 0
    assert "chained to the earlier pull's last MAC" in capsys.readouterr().out
    m["log"].update(last_mac=bytes(16).hex())
    earlier.write_text(json.dumps(m))
    assert _verify(copy, "--after", str(earlier)) == EXIT_CHECK_FAILED
    assert "block 77 at byte 0: MAC does not chain to the earlier pull" in _err(capsys)
    m["log"].update(last_seq=70)
    earlier.write_text(json.dumps(m))
    assert _verify(copy, "--after", str(earlier)) == EXIT_BAD_INPUT
    assert "not the pull just before" in _err(capsys)


# -- extract -----------------------------------------------------------------


def test_extract_from_the_flash_image(run, tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["logs", "extract", str(run / "flash.img"), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "log.bin").read_bytes() == (run / "log.bin").read_bytes()
    m = manifest.read(manifest.beside(out / "log.bin"))
    assert m["device_id"] == "SIM00001" and m["anchor"] is None
    assert m["source"] == f"extract {run / 'flash.img'}"
    last = _blocks((run / "log.bin").read_bytes())[-1].seq
    assert m["log"]["last_seq"] == last and m["fw_version"] == "0.1.0"
    key = (run / "key.bin").read_bytes()
    assert key.hex() not in text and key.hex() not in json.dumps(m)
    shutil.copy(run / "key.bin", out / "key.bin")
    # the chain holds, but a dead board cannot seal: never the same green
    assert _verify(out) == EXIT_CHECK_FAILED
    err = _err(capsys)
    assert "END NOT ATTESTED: the chain is complete and authentic" in err


@pytest.mark.parametrize(
    "data, msg",
    [
        (b"", "is not a whole number of 4096-byte flash blocks"),
        (bytes(100), "is not a whole number"),
        (bytes(range(256)) * 64, "no littlefs filesystem found"),
    ],
)
def test_extract_bad_image(tmp_path, capsys, data, msg):
    img = tmp_path / "bad.img"
    img.write_bytes(data)
    assert main(["logs", "extract", str(img), "-o", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    assert msg in _err(capsys)


def test_extract_missing_image(tmp_path, capsys):
    assert main(["logs", "extract", str(tmp_path / "none.img")]) == EXIT_BAD_INPUT
    assert "cannot read the image: No such file or directory" in _err(capsys)


# -- decode ------------------------------------------------------------------


def test_decode_csv_with_units_and_utc(run, tmp_path, capsys):
    out = tmp_path / "s.csv"
    shutil.copy(run / "log.bin", tmp_path / "log.bin")
    shutil.copy(manifest.beside(run / "log.bin"), manifest.beside(tmp_path / "log.bin"))
    assert main(["logs", "decode", str(tmp_path / "log.bin"), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    head = lines[0].split(",")
    assert head[:6] == ["boot", "uptime_s", "utc", "payload_degC", "phase", "probe0_degC"]
    units = {"humidity_pct_rh", "pressure_hPa", "heater_pct", "peltier_pct", "battery_V"}
    assert units <= set(head)
    assert head[-2:] == ["status", "status_flags"]
    assert len(lines) == 1 + 14300
    row = dict(zip(head, lines[1].split(",")))
    assert row["utc"] == "2027-03-01T00:01:00Z" and row["status_flags"] == "time_set"
    # the estimate the alarms judge: the mean of the trusted probes
    probes = [float(row[f"probe{i}_degC"]) for i in range(4)]
    assert float(row["payload_degC"]) == pytest.approx(sum(probes) / 4, abs=0.006)
    assert row["phase"] == "0"
    events = (tmp_path / "s.events.csv").read_text().splitlines()
    assert events[0] == "boot,uptime_s,utc,code,event,subject,detail,value,unit,text"
    # a simulated board's BOOT says so (once the firmware sets EV_BOOT's bit 0x80)
    sim = " (simulated board)" if verify(open_pulled(run)).simulated_boots else ""
    assert events[1] == f"1,0,2027-03-01T00:00:00Z,1,BOOT,reset power-on,boot 1{sim},,,0.1.0"
    clock = next(e for e in events if ",TIME_SET," in e).split(",")
    assert clock[2] == "2027-03-01T00:00:00Z"
    assert clock[5:9] == ["clock", "", "1803859200", "UTC s"]


def test_decode_json_and_parquet_agree(run, tmp_path, capsys):
    log_path = tmp_path / "log.bin"
    shutil.copy(run / "log.bin", log_path)
    assert main(["logs", "decode", str(log_path), "--format", "json"]) == 0
    doc = json.loads((tmp_path / "log.json").read_text())
    assert set(doc) == {"samples", "events", "clock"}
    assert len(doc["samples"]) == 14300 and doc["clock"]
    assert main(["logs", "decode", str(log_path), "--format", "parquet"]) == 0
    t = pq.read_table(tmp_path / "log.parquet")
    utc_type = t.schema.field("utc").type
    assert t.num_rows == 14300 and pa.types.is_timestamp(utc_type) and utc_type.tz == "UTC"
    first = t.slice(0, 1).to_pylist()[0]
    assert first["utc"].isoformat() == "2027-03-01T00:01:00+00:00"
    assert {k: v for k, v in first.items() if k != "utc"} == {
        k: v for k, v in doc["samples"][0].items() if k != "utc"
    }
    ev = pq.read_table(tmp_path / "log.events.parquet").to_pylist()
    assert [e["event"] for e in ev] == [e["event"] for e in doc["events"]]


def test_decode_no_reading_and_unknown_utc_are_empty(tmp_path, capsys):
    """No TIME_SET and no manifest: utc unknown; a dead probe: no value."""
    recs = [([NR, 500, 501, 502, 450, 10130, 10, -5, 3700], 0x08)] * 3
    p = tmp_path / "log.bin"
    p.write_bytes(seal_log([("s", 1, 2, 0, 60, recs)]))
    assert main(["logs", "decode", str(p)]) == 0
    lines = (tmp_path / "log.csv").read_text().splitlines()
    # the estimate is the mean of the probes that read; no PHASE event: no phase
    assert lines[1] == "2,0,,5.01,,,5,5.01,5.02,45,1013,10,-5,3.7,8,probe_fault"
    assert main(["logs", "decode", str(p), "--format", "json", "-o", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["samples"][0]["utc"] is None and doc["samples"][0]["probe0_degC"] is None
    assert doc["clock"] == [
        "boot 2: the device's clock was never set; times are uptime since that boot (no UTC)"]


def test_decode_a_damaged_log_warns_and_decodes_the_good_part(run, tmp_path, capsys):
    raw = (run / "log.bin").read_bytes()
    p = tmp_path / "log.bin"
    p.write_bytes(raw[:-7])
    assert main(["logs", "decode", str(p)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "cut short" in err
    assert len((tmp_path / "log.csv").read_text().splitlines()) > 14000


# -- info --------------------------------------------------------------------


def test_info(run, capsys):
    assert main(["logs", "info", str(run / "log.bin")]) == 0
    out = capsys.readouterr().out
    n, samples, events = _counted((run / "log.bin").read_bytes())
    data = open_pulled(run / "log.bin").data()
    for text in (
        f"{n} ({samples} sample, {events} event), seq 0..{n - 1}",
        # 238 h 20 min of minute records; the events as decoded
        f"14300 samples, {len(data.events)} events",
        "boot 1",
        "SIM00001",
    ):
        assert text in out


# -- bad input: one line, the right status ----------------------------------


@pytest.mark.parametrize("cmd", ["decode", "info", "verify"])
@pytest.mark.parametrize(
    "content, msg",
    [
        (None, "cannot read the log: No such file or directory"),
        (b"", "empty file, no log blocks"),
        (bytes(range(7, 250)) * 5, "not a podctl log"),
    ],
)
def test_malformed_log_files(tmp_path, capsys, cmd, content, msg):
    p = tmp_path / "log.bin"
    if content is not None:
        p.write_bytes(content)
    if cmd == "verify" and content:
        msg = "no manifest at"  # verify asks for the manifest first
    assert main(["logs", cmd, str(p)]) == EXIT_BAD_INPUT
    assert msg in _err(capsys)


def test_verify_a_manifested_log_that_is_not_one_fails(copy, capsys):
    """The manifest names the file as the log: a broken first magic is
    damage (exit 1, naming byte 0), not the wrong file."""
    p = copy / "log.bin"
    raw = bytearray(p.read_bytes())
    raw[0] ^= 0xFF
    p.write_bytes(raw)
    assert _verify(copy) == EXIT_CHECK_FAILED
    assert "at byte 0: bad magic (at the start)" in _err(capsys)


def test_a_folder_is_not_a_log(tmp_path, capsys):
    assert main(["logs", "info", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "is a folder" in _err(capsys)


def test_magic_then_garbage_is_no_readable_block(tmp_path, capsys):
    p = tmp_path / "log.bin"
    p.write_bytes(log.MAGIC + bytes(100))
    assert main(["logs", "decode", str(p)]) == EXIT_BAD_INPUT
    assert (
        "no readable block: block 0 at byte 0: unknown layout version (at the start"
        in _err(capsys)
    )


def test_bad_manifest_is_one_line(copy, capsys):
    manifest.beside(copy / "log.bin").write_text("{not json")
    assert _verify(copy) == EXIT_BAD_INPUT
    assert "manifest is not JSON" in _err(capsys)


def test_logs_verbs_are_declared_in_one_table():
    """The logs group lists its verbs itself (no module adds to another's
    list): every one is reachable and has its own --help."""
    verbs = {f.__name__ for f in logs_cmds.VERBS}
    assert len(verbs) == 6
    for verb in ("pull", "verify", "decode", "extract", "info", "report"):
        args = build_parser().parse_known_args(["logs", verb, "x"])[0]
        assert args.logs_cmd == verb and callable(args.run)
