"""The host's construct reading of the catalogue agrees with the firmware's
struct codec on every golden vector; crcmod is the independent CRC."""

from __future__ import annotations

import json

import construct
import pytest

from podctl import codec
from protocol import catalogue, cobs, log, message
from tests.upy import ROOT

GOLDEN = json.loads((ROOT / "protocol" / "vectors" / "golden.json").read_text())


def test_crcmod_check_value():
    assert codec.crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("v", GOLDEN["frames"], ids=lambda v: v["name"])
def test_construct_reads_golden_frame(v):
    wire = bytes.fromhex(v["wire"])
    raw = cobs.decode(wire[:-1])
    parsed = codec.RawFrame.parse(raw)
    assert parsed.header.type == v["type"]
    assert parsed.header.seq == v["seq"]
    assert parsed.header.flags == v["flags"]
    assert parsed.counter == v["counter"]
    fields = codec.payload(v["type"], v["reply"]).parse(parsed.payload)
    by_struct = message.to_dict(v["type"], v["reply"], parsed.payload)
    for name, value in by_struct.items():
        assert fields[name] == value, name


@pytest.mark.parametrize("v", GOLDEN["frames"], ids=lambda v: v["name"])
def test_construct_builds_same_payload(v):
    values = message.to_dict(v["type"], v["reply"], bytes.fromhex(v["payload"]))
    assert codec.payload(v["type"], v["reply"]).build(values).hex() == v["payload"]


def test_construct_catches_crc_error():
    raw = bytearray(cobs.decode(bytes.fromhex(GOLDEN["frames"][0]["wire"])[:-1]))
    raw[3] ^= 1
    with pytest.raises(construct.ChecksumError):
        codec.RawFrame.parse(bytes(raw))


def test_every_message_has_a_construct_layout():
    for m in catalogue.MESSAGES:
        for reply in (False, True):
            assert codec.payload(m[0], reply) is not None


@pytest.mark.parametrize("v", GOLDEN["log_blocks"], ids=lambda v: v["name"])
def test_construct_reads_golden_block_header(v):
    data = bytes.fromhex(v["block"])
    hdr = codec.BlockHeader.parse(data)
    assert hdr.magic == log.MAGIC
    assert (hdr.seq, hdr.boot, hdr.kind) == (v["seq"], v["boot"], v["kind"])
    assert codec.crc32(data[: log.HEADER_LEN + hdr.length]) == int.from_bytes(
        data[log.HEADER_LEN + hdr.length : log.HEADER_LEN + hdr.length + 4], "little"
    )
    if hdr.kind == log.KIND_EVENTS:
        recs = construct.Array(hdr.count, codec.EventRecord).parse(data[log.HEADER_LEN :])
        assert [[r.t, r.code, r.a, r.b, r.value] for r in recs] == v["records"]
