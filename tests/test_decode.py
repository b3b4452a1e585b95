"""host/podctl/decode.py against the reference: protocol.log's slow path
(logdata._decode) record for record, construct (host/podctl/codec.py) for the
block headers and event records, the spec's golden blocks for the values."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import construct
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podctl import codec, decode, logdata
from podctl.blocks import walk
from protocol import log
from protocol.auth import Hmac
from protocol.frame import crc32
from protocol.keys import LOG, derive

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((ROOT / "protocol" / "vectors" / "golden.json").read_text())
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def mission():
    """The nominal mission at a 60-second tick (about 1.5 s): log and key."""
    from podctl.sim_cmds import load_run_inputs
    from sim import run as simrun

    sc, prof = load_run_inputs("nominal", 60)
    res = simrun.run(sc, prof, "cpython")
    return res.log, res.key


def assert_same(fast: np.ndarray, slow: np.ndarray) -> None:
    assert fast.dtype == slow.dtype == logdata.SAMPLE_DTYPE
    assert fast.shape == slow.shape
    for name in slow.dtype.names:
        a, b = fast[name], slow[name]
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), name
        else:
            assert np.array_equal(a, b), name
    assert fast.tobytes() == slow.tobytes()  # NaN included, bit for bit


def both(raw: bytes, key: bytes | None = None):
    blocks, problems = walk(raw, [key])
    fast = decode.decode(raw, blocks)
    slow = logdata._decode(raw, blocks)
    assert_same(fast[0], slow[0])
    assert fast[1] == slow[1]
    assert all(type(x) is int for e in fast[1] for x in e)
    return fast, blocks, problems


def seal_log(specs, key: bytes = KEY, seq0: int = 0, prev: bytes = log.GENESIS_MAC) -> bytes:
    """A log from block specs: ("s", fmt, boot, t0, interval, [(values, status), ...])
    or ("e", boot, [(t, code, a, b, value), ...])."""
    w = log.BlockWriter()
    h = Hmac(derive(key, LOG))  # the MAC chain is under the log key (SPEC 5.14)
    out = bytearray()
    for seq, spec in enumerate(specs, seq0):
        if spec[0] == "s":
            _, fmt, boot, t0, interval, recs = spec
            w.start_samples(t0, interval, recs[0][0], recs[0][1], fmt)
            for values, status in recs[1:]:
                assert w.add_sample(values, status)
        else:
            _, boot, evs = spec
            w.start_events()
            for e in evs:
                assert w.add_event(*e)
        n = w.seal(seq, boot, h, prev)
        prev = bytes(w.block[n - 16 : n])
        out += w.block[:n]
    return bytes(out)


# -- golden vectors ----------------------------------------------------------


def test_golden_blocks_one_by_one():
    scales = [c[2] for c in log.CHANNELS]
    for v in GOLDEN["log_blocks"] + GOLDEN["delta4_blocks"]:
        raw = bytes.fromhex(v["block"])
        (samples, events), blocks, _ = both(raw)
        assert blocks[0].seq == v["seq"]
        if v["kind"] == log.KIND_SAMPLES:
            assert len(samples) == len(v["records"]) and not events
            for row, (t, vals, status) in zip(samples, v["records"]):
                assert (row["boot"], row["t"], row["status"]) == (v["boot"], t, status)
                want = [np.nan if x == NR else x * s for x, s in zip(vals, scales)]
                got = [row[n] for n in logdata.CHANNEL_NAMES]
                assert np.array_equal(got, want, equal_nan=True), (v["name"], t)
        else:
            assert not len(samples)
            assert events == [(v["boot"], *r) for r in v["records"]]


def test_golden_blocks_as_one_log_mixed_widths():
    """delta8, delta16 and events in one authentic chain: the mixed-width path."""
    raw = b"".join(bytes.fromhex(v["block"]) for v in GOLDEN["log_blocks"])
    (samples, events), blocks, problems = both(raw, bytes.fromhex(GOLDEN["key"]))
    assert [b.seq for b in blocks] == [41, 42, 43]
    assert [b.verdict for b in blocks] == ["ok", "ok", "ok"]  # seq 41 chains to genesis
    assert problems == [] and len(samples) == 6 and len(events) == 3
    assert samples["t"].tolist() == [120, 180, 240, 300, 300, 310]


def test_golden_blocks_with_delta4_as_one_log():
    """The fmt 3 vectors continue the chain of the three above (seq 44, 45):
    fmt 1, 2 and 3 in one authentic log, every chunk size."""
    vectors = GOLDEN["log_blocks"] + GOLDEN["delta4_blocks"]
    raw = b"".join(bytes.fromhex(v["block"]) for v in vectors)
    for chunk in (1, 3, 4, 50, 8192):
        old = decode.CHUNK
        decode.CHUNK = chunk
        try:
            (samples, _events), blocks, problems = both(raw, bytes.fromhex(GOLDEN["key"]))
        finally:
            decode.CHUNK = old
        assert problems == [] and [b.verdict for b in blocks] == ["ok"] * 5
        assert len(samples) == 6 + 4 + 40
    assert samples["status"][6:10].tolist() == [0x83, 0x81, 0x89, 0x09]
    assert np.isnan(samples["probe0"][8]) and samples["probe2"][9] == 327.67


def test_spec_worked_example_values():
    """SPEC.md 7.9: record 3 of the delta8 block."""
    raw = bytes.fromhex(GOLDEN["log_blocks"][0]["block"])
    blocks, _ = walk(raw)
    s, _ = decode.decode(raw, blocks)
    r = s[3]
    assert (int(r["t"]), int(r["status"])) == (300, 0x83)
    assert [round(r[n], 3) for n in logdata.CHANNEL_NAMES] == [
        5.19, 4.95, 5.09, 90.03, 45.6, 1013.0, 30, 25, 3.709
    ]


# -- construct is the schema -------------------------------------------------


def _construct_matches(raw: bytes, blocks) -> int:
    buf = np.frombuffer(raw, np.uint8)
    offs, hdr = decode._headers(buf, blocks)
    assert offs.tolist() == [b.offset for b in blocks if b.seq is not None]
    events = []
    for i, off in enumerate(offs.tolist()):
        ref = codec.BlockHeader.parse(raw[off:])
        for name, _code in log.HEADER_FIELDS:
            assert hdr[name][i] == ref[name], (off, name)
        if ref.kind == log.KIND_EVENTS:
            recs = construct.Array(ref.count, codec.EventRecord).parse(raw[off + log.HEADER_LEN :])
            events += [(ref.boot, r.t, r.code, r.a, r.b, r.value) for r in recs]
    assert decode.decode(raw, blocks)[1] == events
    return len(offs)


def test_construct_headers_and_events_golden():
    raw = b"".join(bytes.fromhex(v["block"]) for v in GOLDEN["log_blocks"])
    assert _construct_matches(raw, walk(raw)[0]) == 3


def test_dtypes_built_from_the_protocol_tables():
    assert decode.HEADER_DTYPE.names == tuple(f[0] for f in log.HEADER_FIELDS)
    assert decode.HEADER_DTYPE.itemsize == struct.calcsize(log.HEADER_FMT)
    assert decode.EVENT_DTYPE.names == tuple(f[0] for f in log.EVENT_FIELDS)
    assert decode.EVENT_DTYPE.itemsize == struct.calcsize(log.EVENT_FMT)


# -- a whole simulated mission -----------------------------------------------


def test_whole_mission_fast_equals_slow(mission):
    raw, key = mission
    (samples, events), blocks, problems = both(raw, key)
    assert problems == [] and len(samples) > 10000 and events
    # the firmware writes fmt 3
    fmts = {log.parse_block(raw, b.offset).fmt for b in blocks if b.kind == log.KIND_SAMPLES}
    assert fmts == {log.FMT_DELTA4}
    assert _construct_matches(raw, blocks) == len(blocks)


def test_whole_mission_load_with_either_decoder(mission):
    raw, _key = mission
    slow = logdata.load(raw, None, decoder=logdata._decode)
    fast = logdata.load(raw, None, decoder=decode.decode)
    assert_same(fast.samples, slow.samples)
    assert not np.isnan(fast.samples["utc"]).any()
    assert [repr(e) for e in fast.events] == [repr(e) for e in slow.events]
    assert fast.clock == slow.clock


def test_whole_mission_in_small_chunks(mission, monkeypatch):
    """Chunk boundaries inside runs of full and partial blocks."""
    raw, _ = mission
    for chunk in (1, 97, 100, 1000):
        monkeypatch.setattr(decode, "CHUNK", chunk)
        both(raw)


# -- edge cases ----------------------------------------------------------------

NR = log.NO_READING


def test_no_reading_in_key_then_zero_deltas_stays_no_reading():
    key = [NR, 500, 500, NR, 400, 10000, 0, 0, 3700]
    recs = [(key, 0x08)]
    recs += [([NR, 500 + i, 500, NR, 400, 10000, 0, 0, 3700], 0x08) for i in range(1, 5)]
    raw = seal_log([("s", 1, 1, 0, 60, recs)])
    (s, _), _, _ = both(raw)
    assert np.isnan(s["probe0"]).all() and np.isnan(s["probe3"]).all()
    assert s["probe1"].tolist() == [v * 0.01 for v in range(500, 505)]


def test_no_reading_next_to_real_extremes():
    """-32768 is no reading; -32767 one step above it is a real value."""
    a = [NR, -32767, 32767, 0, 0, 0, 0, 0, 0]
    b = [-32767, NR, 32767 - 127, 0, 0, 0, 0, 0, 0]
    c = [NR, NR, 32767, 0, 0, 0, 0, 0, 0]
    raw = seal_log([("s", 1, 1, 10, 1, [(a, 0), (b, 1), (c, 2)])])
    (s, _), _, _ = both(raw)
    assert np.isnan(s["probe0"][[0, 2]]).all() and s["probe0"][1] == -327.67
    assert s["probe1"][0] == -327.67 and np.isnan(s["probe1"][1:]).all()


def test_wide_swings_in_delta16_blocks_between_delta8_blocks():
    lo = [-32767] * 9
    hi = [32767] * 9
    specs = [
        ("s", 1, 2, 0, 60, [([0] * 9, 0), ([127] * 9, 1), ([-1] * 9, 2)]),
        ("s", 2, 2, 180, 60, [(hi, 3), ([0] * 9, 4), ([-32768 + 1] * 9, 5), ([0] * 9, 6)]),
        ("e", 2, [(200, log.EV_TIME_SET, 0, 0, 1_800_000_000)]),
        ("s", 2, 2, 420, 60, [(lo, 7), ([-32767 + 32767] * 9, 8)]),
        ("s", 1, 2, 540, 60, [(hi, 9)]),
        ("s", 2, 3, 0, 1, [(lo, 10)] + [(lo, 10)] * 50),
    ]
    raw = seal_log(specs)
    (s, events), _, problems = both(raw, KEY)
    assert problems == [] and events == [(2, 200, log.EV_TIME_SET, 0, 0, 1_800_000_000)]
    assert s["heater"].tolist()[:9] == [0, 127, -1, 32767, 0, -32767, 0, -32767, 0]


def test_a_single_record_block_and_an_empty_event_block():
    raw = seal_log([("s", 1, 1, 5, 60, [([1] * 9, 0)]), ("e", 1, [])])
    (s, events), blocks, _ = both(raw)
    assert len(s) == 1 and events == [] and len(blocks) == 2


def test_empty_log():
    (s, events), blocks, _ = both(b"")
    assert s.shape == (0,) and events == [] and blocks == []


def test_decode_stops_where_check_blocks_stops():
    raw = seal_log([("s", 1, 1, 0, 60, [([1] * 9, 0)] * 3)] * 3)
    cut = raw[: len(raw) - 5]  # the last block cut short
    (s, _), blocks, problems = both(cut)
    assert len(s) == 6 and blocks[-1].seq is None and problems


def test_a_block_of_another_channel_count_is_named():
    payload = struct.pack("<8h", *range(8)) + b"\x00"
    hdr = struct.pack(log.HEADER_FMT, log.MAGIC, 1, 1, 1, 8, 7, 1, 1, 0, 60, len(payload))
    body = hdr + payload
    raw = body + struct.pack("<I", crc32(body)) + bytes(16)
    blocks, found = walk(raw)
    assert blocks[0].undecodable and str(found[0]) == (
        "block 7 at byte 0: 8 channels, layout 1 has 9: its 1 records cannot be decoded")
    s, events = decode.decode(raw, blocks)  # skipped, not the whole file refused
    assert len(s) == 0 and events == []


# -- random logs -------------------------------------------------------------


@st.composite
def sample_block(draw):
    fmt = draw(st.sampled_from([1, 2, 3]))
    lim = 127 if fmt == 1 else 32767
    # fmt 3: at most 25 bytes a record (every nibble an escape), so 39 fit
    count = draw(st.integers(1, {1: 97, 2: 51, 3: 39}[fmt]))
    value = st.one_of(st.just(NR), st.integers(-32767, 32767))
    start = draw(st.lists(value, min_size=9, max_size=9))
    recs = [(start, draw(st.integers(0, 255)))]
    vals = list(start)
    # fmt 3: mostly nibble deltas (-8 included, an escape), then any jump
    delta = st.one_of(st.integers(-8, 8), st.integers(-65535, 65535)) if fmt == 3 else (
        st.integers(-lim, lim))
    status = st.integers(0, 255)
    for _ in range(count - 1):
        step = draw(st.lists(delta, min_size=9, max_size=9))
        vals = [max(-32768, min(32767, v + d)) for v, d in zip(vals, step)]
        if fmt == 3:
            status = st.one_of(st.just(recs[-1][1]), st.integers(0, 255))
        recs.append((list(vals), draw(status)))
    boot, t0 = draw(st.integers(0, 65535)), draw(st.integers(0, 2**31))
    return ("s", fmt, boot, t0, draw(st.integers(0, 3600)), recs)


@settings(max_examples=60, deadline=None)
@given(st.lists(sample_block(), min_size=1, max_size=8), st.sampled_from([1, 5, 64, 8192]))
def test_random_logs_agree(specs, chunk):
    old = decode.CHUNK
    decode.CHUNK = chunk
    try:
        both(seal_log(specs))
    finally:
        decode.CHUNK = old


def test_a_clock_correction_is_the_same_with_either_decoder():
    """SPEC 7.8: each record takes the latest TIME_SET of its boot at or
    before it; the reference and the fast decoder agree, also streamed."""
    rec = ([0] * 9, 0)
    v = 1_800_000_000
    raw = seal_log([
        ("s", 1, 4, 0, 30, [rec] * 40),  # uptimes 0 .. 1170
        ("e", 4, [(100, log.EV_TIME_SET, 0, 0, v), (600, log.EV_TIME_SET, 0, 0, v + 560),
                  (900, log.EV_TIME_SET, 0, 0, v + 790)]),
    ])
    slow = logdata.load(raw, None, decoder=logdata._decode)
    fast = logdata.load(raw, None, decoder=decode.decode)
    assert_same(fast.samples, slow.samples)
    t = fast.samples["t"].astype(float)
    want = np.where(t < 600, v - 100 + t, np.where(t < 900, v - 40 + t, v - 110 + t))
    assert fast.samples["utc"].tolist() == want.tolist()
    assert fast.clock == slow.clock


# -- format 3, damaged -----------------------------------------------------------


def _delta4_log() -> bytes:
    rng = np.random.default_rng(4)
    specs = []
    for b in range(6):
        vals = [500, 510, 490, 505, 450, 10130, 30, -10, 3700]
        recs = [(list(vals), 0x81)]
        for i in range(1, 60):
            step = rng.integers(-9, 10, 9) * rng.choice([1, 1, 1, 40], 9)
            vals = [max(-32767, min(32767, v + int(d))) for v, d in zip(vals, step)]
            flip = int(rng.integers(0, 3)) << int(rng.integers(0, 8))
            recs.append((list(vals), (0x81 ^ flip) & 0xFF))
        specs.append(("s", 3, 1, b * 3600, 60, recs))
    return seal_log(specs)


def test_delta4_damaged_blocks_are_refused_never_misdecoded():
    """A flipped byte anywhere in a fmt 3 block costs that block (a bad
    region) and nothing else: the rest decodes as the reference does."""
    raw = _delta4_log()
    blocks, _ = walk(raw, [KEY])
    victim = blocks[2]
    whole, _ = decode.decode(raw, blocks)
    rows = np.concatenate([np.arange(0, 120), np.arange(180, 360)])
    for i in range(0, victim.size - 20, 7):  # header, records, exceptions, CRC
        bad = bytearray(raw)
        bad[victim.offset + i] ^= 0x08
        (s, _), got, problems = both(bytes(bad), KEY)
        assert [b.seq for b in got] == [0, 1, None, 3, 4, 5], i
        assert problems and s.tobytes() == whole[rows].tobytes(), i


def test_delta4_wrong_escape_count_with_a_good_crc_is_refused():
    """A writer's bug, not damage: nibbles that name one exception more than
    the block holds. The CRC is right, the shape is not."""
    raw = bytearray(_delta4_log())
    blocks, _ = walk(bytes(raw), [KEY])
    b = blocks[1]
    at = b.offset + log.HEADER_LEN + 19
    for j in range(at, at + 5 * 58):  # the first nibble that is no escape
        if raw[j] & 15 != 8:
            raw[j] = raw[j] & 0xF0 | 8
            break
    end = b.offset + log.HEADER_LEN + (b.size - log.HEADER_LEN - log.TRAILER_LEN)
    raw[end : end + 4] = struct.pack("<I", crc32(bytes(raw[b.offset : end])))
    (s, _), got, problems = both(bytes(raw), KEY)
    assert got[1].seq is None and got[1].verdict == log.BAD_SHAPE
    assert len(s) == 5 * 60
    assert isinstance(log.parse_block(bytes(raw), b.offset), str)
