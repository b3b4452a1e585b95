"""The host's reading of the device's seal (LOG_SEAL, SPEC 5.11): the
golden reply parsed field by field, its tag checked under the key
history, and verify holding a pulled log to the sealed end whatever the
unauthenticated manifest says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import podctl
from podctl.cli import main
from podctl.errors import BadInput
from podctl.seal import Seal
from protocol import cobs
from tests.test_bad_input import _reseal, seal_as_device

ROOT = Path(__file__).resolve().parents[1]


def _golden() -> tuple[dict, bytes]:
    doc = json.loads((ROOT / "protocol" / "vectors" / "golden.json").read_text())
    vec = next(v for v in doc["frames"] if v["name"] == "log seal reply")
    return vec, bytes.fromhex(doc["key"])


def _frame_bytes(wire_hex: str) -> bytes:
    """The raw frame of a golden vector: COBS undone, the CRC taken off."""
    raw = cobs.decode(bytes.fromhex(wire_hex)[:-1])
    return bytes(raw[:-4])


def test_the_golden_seal_reads_field_by_field():
    vec, key = _golden()
    seal = Seal.from_bytes(_frame_bytes(vec["wire"]))
    f = vec["fields"]
    assert seal.device_id == bytes.fromhex(f[0]).rstrip(b"\x00").decode() == "POD00042"
    assert seal.key_id.hex() == f[1]
    assert (seal.boot_count, seal.first_seq, seal.last_seq) == (f[2], f[3], f[4])
    assert seal.last_mac.hex() == f[5] and seal.size == f[6] and seal.counter == f[7]
    assert (seal.uptime, seal.utc, seal.nonce.hex(), seal.fw_hash.hex()) == (
        f[8], f[9], f[10], f[11]
    )
    assert seal.simulated and not seal.head_dropped
    assert seal.key_index([bytes(32), key]) == 1
    assert seal.key_index([bytes(32)]) is None


@pytest.mark.parametrize("cut", [0, 10, 20, 40])
def test_a_damaged_seal_file_is_bad_input(tmp_path, cut):
    vec, _ = _golden()
    raw = _frame_bytes(vec["wire"])
    p = tmp_path / "seal.bin"
    p.write_bytes(raw[:cut])
    with pytest.raises(BadInput, match="seal"):
        Seal.read(p)


def _verdict(d: Path, key: bytes | None = None):
    return podctl.verify(podctl.open_pulled(d), key or (d / "key.bin").read_bytes())


def test_a_sealed_pull_is_verified_and_says_when_and_what(folder):
    v = _verdict(folder)
    assert v.status == "VERIFIED" and v.attested and v.simulated
    assert v.seal is not None and v.seal.last_seq == v.span[1]
    assert "sealed by device SIM00001 at 2027-03-10" in v.sealed_at()


def test_a_seal_with_one_byte_changed_fails(folder):
    raw = bytearray((folder / "seal.bin").read_bytes())
    raw[11 + 18] ^= 1  # last_seq
    (folder / "seal.bin").write_bytes(bytes(raw))
    v = _verdict(folder)
    assert v.status == "FAILED" and [f.code for f in v.failures] == ["seal"]


def test_a_seal_signed_by_another_key_fails(folder):
    seal_as_device(folder, b"\x05" * 32)
    assert [f.code for f in _verdict(folder).failures] == ["seal"]


def test_a_tail_cut_with_every_sidecar_value_rewritten_is_caught(folder):
    """Issue 13: cut at a block boundary, size, hash and last_seq rewritten
    in the manifest, and verify used to accept it without a key. The seal
    is signed: it still says where the log ends."""
    raw = (folder / "log.bin").read_bytes()
    blocks = podctl.open_pulled(folder).blocks
    (folder / "log.bin").write_bytes(raw[: blocks[-5].offset])
    _reseal(folder)
    v = _verdict(folder)
    assert {"tail_missing", "size"} <= {f.code for f in v.failures}
    last = blocks[-1].seq  # what the device sealed (the mission's own count)
    assert f"the device sealed block {last} as its last: 5 block(s) missing" in v.first_failure()


def test_a_seal_from_another_device_fails(folder):
    m = json.loads((folder / "log.bin.manifest.json").read_text())
    m["device_id"] = "OTHER001"
    (folder / "log.bin.manifest.json").write_text(json.dumps(m))
    v = _verdict(folder)
    assert "the seal is device SIM00001's, the manifest names OTHER001" in v.first_failure()


def test_without_a_seal_the_end_is_not_attested(folder, capsys):
    (folder / "seal.bin").unlink()
    v = _verdict(folder)
    assert v.ok and v.status == "END NOT ATTESTED" and not v.verified
    assert main(["logs", "verify", str(folder), "--key-file", str(folder / "key.bin")]) == 1
    assert "END NOT ATTESTED" in capsys.readouterr().err


def test_without_the_key_the_seal_proves_nothing(folder):
    v = podctl.verify(podctl.open_pulled(folder))
    assert v.status == "NOT AUTHENTICATED" and not v.attested


def test_a_seal_under_a_key_from_before_a_rotation_fails(folder):
    """Someone who kept the old key can MAC a cut log and seal it; the
    device, once rotated, seals with its newest key only."""
    old = (folder / "key.bin").read_bytes()
    v = podctl.verify(podctl.open_pulled(folder), [old, b"\x09" * 32])
    assert v.status == "FAILED"
    assert "signed with key 1 of the device's 2, not its newest" in v.first_failure()
