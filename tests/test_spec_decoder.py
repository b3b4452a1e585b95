"""Issue 13, "The SPEC says it all": tests/spec_decoder.py was written from
protocol/SPEC.md alone (standard library only); here it decodes simulated
missions and hand-made logs, and podctl (podctl.blocks.walk, logdata.load,
analysis.estimate, export's tables, events.read) must agree with it on every
block's verdict, every sample record and every event."""

from __future__ import annotations

import json
import math
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

from podctl import analysis, export, logdata
from podctl import events as event_fields
from podctl.blocks import walk
from podctl.cli import main
from tests import spec_decoder as sd

GOLDEN = Path(__file__).resolve().parent.parent / "protocol" / "vectors" / "golden.json"
S, E = sd.KIND_SAMPLES, sd.KIND_EVENTS
KEY = bytes(range(32))
KEY2 = bytes(range(1, 33))
EV_LEN = sd.HEADER_LEN + sd.EVENT_LEN + sd.TRAILER_LEN  # a block of one event


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _close(x, y, tol: float) -> bool:
    if _nan(x) or _nan(y):
        return _nan(x) and _nan(y)
    return abs(x - y) <= tol if isinstance(x, float) or isinstance(y, float) else x == y


def _first_difference(name: str, spec: list, ours: list, tol: float = 0.0) -> None:
    """Fail naming the first row where the spec decoder and podctl differ."""
    assert len(spec) == len(ours), f"{name}: spec decoder {len(spec)}, podctl {len(ours)}"
    for i, (a, b) in enumerate(zip(spec, ours)):
        if len(a) != len(b) or not all(_close(x, y, tol) for x, y in zip(a, b)):
            pytest.fail(f"{name} {i}: spec decoder {a} != podctl {b}")


def agree(raw: bytes, keys: list[bytes]) -> sd.Log:
    """Decode raw both ways and hold them equal; the spec decoder's answer."""
    mine = sd.decode_log(raw, keys)
    blocks, _ = walk(raw, keys)
    data = logdata.load(raw, blocks)

    # blocks and bad regions, in log order, with their MAC verdicts (8.1 to 8.3)
    macs = iter(mine.macs)
    spec_items = []
    for it in mine.scan.items:
        if isinstance(it, sd.BadRegion):
            spec_items.append((it.start, it.end - it.start, None, it.verdict, False))
        else:
            spec_items.append((it.offset, it.size, it.seq, next(macs), not sd.decodable(it)))
    ours = [(b.offset, b.size, b.seq, "ok" if b.verdict == "gap" else b.verdict,
             bool(b.undecodable)) for b in blocks]
    _first_difference("block", spec_items, ours)

    # samples: raw fields, display values, UTC, phase, payload estimate (7.4 to 7.11)
    s = data.samples
    names = [c[0] for c in sd.CHANNELS]
    spec_rows = []
    for m in mine.samples:
        shown = m.display()
        spec_rows.append((m.boot, m.uptime, m.utc, *(shown[n] for n in names), m.status,
                          m.phase, m.estimate))
    table = export.samples_table(data).to_pylist() if len(s) else []
    est = analysis.estimate(data) if len(s) else []
    our_rows = [
        (int(r["boot"]), int(r["t"]), float(r["utc"]), *(float(r[n]) for n in names),
         int(r["status"]), x["phase"], float(e))
        for r, x, e in zip(s, table, est)
    ]
    _first_difference("sample", spec_rows, our_rows, 1e-9)

    # the decode verb's table: UTC as ISO 8601, each channel to its resolution,
    # the flags, the estimate to 0.001 (7.5, 7.8, 7.11)
    spec_table = []
    for m in mine.samples:
        shown = m.display()
        spec_table.append((
            _iso(m.utc),
            *(None if shown[n] is None else round(shown[n], dec)
              for n, (_, dec) in zip(names, export.COLUMNS)),
            "|".join(m.flags), None if m.estimate is None else round(m.estimate, 3)))
    our_table = [(x["utc"], *(x[c] for c, _ in export.COLUMNS), x["status_flags"],
                  x["payload_degC"]) for x in table]
    _first_difference("table row", spec_table, our_table, 1.0001e-3)

    # events: fields, UTC, name, the value as shown with its unit and text (7.7, 7.8)
    spec_ev = [(m.boot, m.t, m.code, m.a, m.b, m.value, m.utc, m.name, *m.shown(),
                m.simulated) for m in mine.events]
    our_ev = []
    for e in data.events:
        r = event_fields.read(e.code, e.a, e.b, e.value)
        our_ev.append((e.boot, e.t, e.code, e.a, e.b, e.value, e.utc, e.name,
                       r.value, r.unit, r.text,
                       e.code == sd.BOOT and event_fields.boot_simulated(e.a)))
    _first_difference("event", spec_ev, our_ev, 1e-9)
    our_utc = [e["utc"] for e in export.events_table(data).to_pylist()] if data.events else []
    assert [_iso(m.utc) for m in mine.events] == our_utc
    return mine


def _iso(utc: int | None) -> str | None:
    """7.8: UTC in the tables, ISO 8601 to the second."""
    if utc is None:
        return None
    return datetime.fromtimestamp(utc, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- simulated


def _folder_log(folder: Path) -> tuple[bytes, list[bytes]]:
    return (folder / "log.bin").read_bytes(), [(folder / "key.bin").read_bytes()]


@pytest.fixture(scope="module", params=[("reset-reentry", 2), ("probe-failure", 3),
                                        ("stranded", 1)], ids=lambda p: f"{p[0]}-{p[1]}")
def mission(request, tmp_path_factory) -> Path:
    name, seed = request.param
    out = tmp_path_factory.mktemp("spec") / name
    argv = ["sim", "run", name, "--seed", str(seed), "--tick-s", "60", "-o", str(out)]
    assert main(argv) in (0, 1)  # 1: an expectation of the scenario failed at this tick
    return out


def test_nominal_mission_agrees(sealed_mission):
    mine = agree(*_folder_log(sealed_mission))
    assert mine.samples and mine.events and set(mine.macs) == {sd.MAC_OK}
    assert all(s.utc is not None and s.phase is not None for s in mine.samples)
    boots = [e for e in mine.events if e.code == sd.BOOT]
    assert boots and {e.reset_cause for e in boots} <= {0, 1, 2, 3, 4}


def test_missions_agree(mission):
    mine = agree(*_folder_log(mission))
    assert set(mine.macs) == {sd.MAC_OK} and not mine.scan.bad
    if mission.name == "reset-reentry":  # several boots, one never clocked
        boots = {s.boot for s in mine.samples}
        assert len(boots) >= 3
        assert {s.boot for s in mine.samples if s.utc is None}
    if mission.name == "probe-failure":  # faults, no-reading sentinel, estimate
        assert any(v == sd.NO_READING for s in mine.samples for v in s.values)
        assert any(e.code == sd.PROBE_FAULT and e.reading is None for e in mine.events)


def test_damaged_mission_both_find_the_same_blocks(sealed_mission):
    """A flipped byte costs its block (a bad region) and leaves the next one
    unproven ("after damage"); the same flip with the CRC redone is a MAC
    mismatch of that block alone."""
    raw, keys = _folder_log(sealed_mission)
    blocks = sd.parse_log(raw).blocks
    victim = blocks[len(blocks) // 2]
    flipped = bytearray(raw)
    flipped[victim.offset + sd.HEADER_LEN + 5] ^= 0x10
    mine = agree(bytes(flipped), keys)
    assert [(b.start, b.end) for b in mine.scan.bad] == [(victim.offset,
                                                           victim.offset + victim.size)]
    assert mine.blocks_with(sd.AFTER_DAMAGE) == [victim.seq + 1]
    assert mine.blocks_with(sd.MAC_MISMATCH) == []

    crc_at = victim.offset + sd.HEADER_LEN + victim.length
    flipped[crc_at:crc_at + 4] = struct.pack(
        "<I", sd._crc32(bytes(flipped[victim.offset:crc_at])))
    mine = agree(bytes(flipped), keys)
    assert not mine.scan.bad
    assert mine.blocks_with(sd.MAC_MISMATCH) == [victim.seq]


# ---------------------------------------------------------------- hand-made


def _row(p: int, status: int = 0x80, probes: list[int] | None = None):
    return ((probes or [p, p + 10, p + 20, p + 30]) + [450, 10130, 10, -5, 3700], status)


FIVE = [(E, i, 1, 0, 0, [(i, 1, 1, 1, 0x000100)]) for i in range(5)]


def _forged() -> bytes:
    raw = bytearray(sd.encode_log(FIVE, KEY))
    at = 2 * EV_LEN
    raw[at + sd.HEADER_LEN] ^= 1
    raw[at + 36:at + 40] = struct.pack("<I", sd._crc32(bytes(raw[at:at + 36])))
    return bytes(raw)


def _flipped() -> bytes:
    raw = bytearray(sd.encode_log(FIVE, KEY))
    raw[2 * EV_LEN + 30] ^= 1
    return bytes(raw)


def _rotation() -> bytes:
    b0 = sd.encode_block(E, 0, 1, 0, 0, [(0, 1, 1, 1, 256)], KEY)
    b1 = sd.encode_block(E, 1, 1, 0, 0, [(5, 14, 0, 0, 7)], KEY2, b0[-16:])
    b2 = sd.encode_block(E, 2, 1, 0, 0, [(6, 9, 0, 0, 7)], KEY2, b1[-16:])
    return b0 + b1 + b2


F = 0x88  # time_set | probe_fault
NR = sd.NO_READING
# 7.4 format 3: every kind of nibble -- int4 deltas at the limits, escapes
# (-8, wide jumps, into and out of no reading, int16 extremes), status
# changes in the nibble and escaped
DELTA4 = [_row(500, 0x80), _row(507, 0x81), _row(500, 0x83), _row(492, 0x8B),
          _row(492, 0x03), _row(492, 0x03, [NR, 510, 520, 530]),
          _row(492, 0x0B, [32767, -32767, NR, 530]), _row(492, 0x0B, [-32767, 32767, 0, NR]),
          _row(493, 0xFF), _row(493, 0x00)]
# 7.4: format 3 between format 1 blocks, one record per block too
DELTA4_LOG = sd.encode_log([
    (E, 0, 1, 0, 0, [(0, 1, 1, 1, 256), (0, 9, 0, 0, 1800000000)]),
    (S, 1, 1, 0, 60, [_row(500 + i) for i in range(3)]),
    (S, 2, 1, 180, 60, DELTA4, 3),
    (S, 3, 1, 780, 60, DELTA4[:1], 3),
    (S, 4, 1, 840, 60, [_row(500 + i) for i in range(3)])], KEY)


def _delta4_flipped() -> bytes:
    """The "delta4" case's log with a byte of its first format 3 block's
    exception list flipped (the block before its trailer)."""
    raw = bytearray(DELTA4_LOG)
    at = 0
    for _ in range(3):  # to the block of seq 2
        at += sd.check_block(bytes(raw), at).size
    raw[at - sd.TRAILER_LEN - 3] ^= 0x40
    return bytes(raw)


CASES = {
    # 7.8: TIME_SETs out of uptime order, two at one uptime (the later wins, its
    # own event's UTC too), records before the first
    "clock": (sd.encode_log([
        (E, 0, 5, 0, 0, [(0, 1, 1, 5, 256), (50, 9, 0, 0, 1000050), (100, 9, 0, 0, 2000100),
                         (100, 9, 0, 0, 2000107), (100, 8, 0, 0, 0), (20, 9, 0, 0, 3000020),
                         (150, 2, 1, 0, 0)]),
        (S, 1, 5, 0, 30, [_row(500 + i) for i in range(8)])], KEY), [KEY]),
    # 7.11: the phase carries into a boot with no PHASE event yet
    "phase across boots": (sd.encode_log([
        (E, 0, 1, 0, 0, [(0, 1, 1, 1, 256), (0, 2, 2, 0, 0)]),
        (S, 1, 1, 0, 60, [_row(500 + i) for i in range(3)]),
        (E, 2, 2, 0, 0, [(0, 1, 1, 2, 256), (130, 2, 3, 1, 0)]),
        (S, 3, 2, 0, 60, [_row(500 + i) for i in range(4)])], KEY), [KEY]),
    # 8.1: 8 channels, record times past 2**32 - 1, and a delta16 block
    "undecodable": (sd.encode_log([
        (E, 0, 1, 0, 0, [(0, 1, 1, 1, 256)]),
        (S, 1, 1, 0, 60, [([1, 2, 3, 4, 5, 6, 7, 8], 0)] * 2, 1, 8),
        (S, 2, 1, 2**32 - 60, 60, [_row(500)] * 3),
        (S, 3, 1, 0, 60, [_row(500), _row(900)], 2)], KEY), [KEY]),
    "delta4": (DELTA4_LOG, [KEY]),
    "delta4 flipped": (_delta4_flipped(), [KEY]),  # 8.2 in format 3's exceptions
    "flipped byte": (_flipped(), [KEY]),  # 8.2: after damage
    "forged block": (_forged(), [KEY]),  # 8.3: MAC mismatch of that block only
    "cut head": (sd.encode_log(FIVE, KEY)[2 * EV_LEN:], [KEY]),  # 8.3: unanchored start
    "damaged start": (b"junk" + sd.encode_log(FIVE, KEY)[EV_LEN + 4:], [KEY]),
    "rotation": (_rotation(), [KEY, KEY2]),  # 8.3: the key moves at KEY_ROTATED
    # 8.3: a log that starts under the newer key of the history
    "after rotation": (sd.encode_block(E, 3, 1, 0, 0, [(6, 9, 0, 0, 7)], KEY2), [KEY, KEY2]),
    # 7.7: how each value is shown, and an unknown code
    "values": (sd.encode_log([(E, 0, 1, 0, 0, [
        (0, 99, 1, 2, 3), (0, 1, 3, 1, 0x000102), (0, 1, 0x82, 2, 0x010203),
        (1, 3, 5, 1, 2500), (1, 3, 0, 1, 2**32 - 500), (1, 3, 7, 1, 3300),
        (1, 3, 12, 1, 9), (2, 13, 0, 0, 100), (2, 13, 1, 0, 3),
        (3, 7, 2, 1, 0x80000000), (3, 7, 1, 3, 2**32 - 40000), (3, 6, 3, 0x23, 0xDEADBEEF),
        (4, 5, 0, 0, 0x4C617899), (4, 10, 0, 0, 4096), (4, 11, 0x10, 10, 77),
        (4, 14, 0, 0, 78), (5, 12, 3, 1, 0), (5, 4, 1, 2, 0)])], KEY), [KEY]),
    # 7.11: exclusion spans, a fault read a tick late, a boot closing the spans,
    # a record whose status says no probe was excluded, no reading
    "estimate": (sd.encode_log([
        (E, 0, 1, 0, 0, [(0, 1, 1, 1, 256), (125, 7, 2, 3, 9000), (130, 7, 5, 1, 0),
                         (300, 8, 2, 0, 0), (310, 7, 1, 1, 0x80000000)]),
        (S, 1, 1, 0, 60, [_row(500), _row(500), _row(500, F), _row(500, F), _row(500),
                          _row(500, F)]),
        (S, 2, 1, 360, 60, [_row(500, F, [-32768, 700, 800, 900])] * 2),
        (E, 3, 2, 0, 0, [(0, 1, 1, 2, 256)]),
        (S, 4, 2, 0, 60, [_row(500, F), _row(510, F)]),
        (E, 5, 2, 0, 0, [(200, 7, 0, 4, 4000)]),
        (S, 6, 2, 180, 60, [_row(500, F), _row(520, F)])], KEY), [KEY]),
}


@pytest.mark.parametrize("name", CASES)
def test_hand_made_logs_agree(name):
    raw, keys = CASES[name]
    mine = agree(raw, keys)
    want = {
        "flipped byte": {sd.AFTER_DAMAGE: [3]},
        "delta4 flipped": {sd.AFTER_DAMAGE: [3]},
        "forged block": {sd.MAC_MISMATCH: [2]},
        "cut head": {sd.UNANCHORED: [2]},
        "damaged start": {sd.AFTER_DAMAGE: [2]},
    }.get(name, {})
    for verdict in (sd.MAC_MISMATCH, sd.AFTER_DAMAGE, sd.UNANCHORED):
        assert mine.blocks_with(verdict) == want.get(verdict, []), verdict


def test_hand_made_cases_mean_what_they_say():
    """The rules the hand-made logs pin, read off the spec decoder."""
    clock = sd.decode_log(*CASES["clock"])
    ts = [e.utc for e in clock.events if e.code == sd.TIME_SET]
    assert ts == [1000050, 2000107, 2000107, 3000020]
    assert [s.utc for s in clock.samples][:5] == [3000000, 3000030, 1000060, 1000090, 2000127]
    phases = sd.decode_log(*CASES["phase across boots"])
    assert [(s.boot, s.phase) for s in phases.samples] == [(1, 2)] * 3 + [(2, 2)] * 3 + [(2, 3)]
    est = sd.decode_log(*CASES["estimate"]).samples
    # 120: probe 2 read a tick before its fault at 125; 240: status says none
    # excluded; 300: recovered, and probe 1's fault at 310 was read late
    assert [round(s.estimate, 4) for s in est[:6]] == [5.15, 5.15, 5.1333, 5.1333, 5.15, 5.1667]
    assert est[6].estimate == 8.5 and est[8].estimate == 5.15


def test_delta4_spec_encoder_writes_the_firmware_bytes():
    """7.4: a format 3 block built from the SPEC's text alone is the
    firmware writer's, byte for byte; its records decode to themselves."""
    from protocol import log
    from protocol.auth import Hmac
    from protocol.keys import LOG, derive

    mine = sd.encode_block(S, 2, 1, 180, 60, DELTA4, KEY, fmt=3)
    w = log.BlockWriter()
    w.start_samples(180, 60, DELTA4[0][0], DELTA4[0][1], log.FMT_DELTA4)
    for values, status in DELTA4[1:]:
        assert w.add_sample(values, status)
    n = w.seal(2, 1, Hmac(derive(KEY, LOG)), sd.GENESIS_MAC)
    assert bytes(w.block[:n]) == mine
    got = sd.decode_log(mine, [KEY]).samples
    assert [(s.values, s.status) for s in got] == [(list(v), st) for v, st in DELTA4]


def test_delta4_escape_count_is_the_shape():
    """8.1 with 7.4: one escape more than the exception list holds (CRC
    redone) is "record count disagrees with length" for both decoders."""
    good = sd.encode_block(S, 2, 1, 180, 60, DELTA4, KEY, fmt=3)
    bad = bytearray(good)
    at = sd.HEADER_LEN + 19  # record 1: status nibble low, probe 0 high
    bad[at] = bad[at] & 0x0F | 0x80
    end = len(good) - sd.TRAILER_LEN
    bad[end:end + 4] = struct.pack("<I", sd._crc32(bytes(bad[:end])))
    assert sd.check_block(bytes(bad), 0) == sd.BAD_COUNT
    mine = agree(bytes(bad), [KEY])
    assert [b.verdict for b in mine.scan.bad] == [sd.BAD_COUNT] and not mine.samples


def test_every_scenario_three_decoders_agree(tmp_path):
    """Issue 16: every scenario's log (sim/scenarios, 60 s tick), written in
    format 3 by the firmware, decodes to the same records in the spec
    decoder, protocol.log.samples and podctl's numpy decoder."""
    import numpy as np

    from podctl import decode
    from podctl.sim_cmds import load_run_inputs
    from protocol import log
    from sim import run as simrun
    from sim import scenario

    for name in scenario.scenario_names():
        sc, prof = load_run_inputs(name, 60)
        res = simrun.run(sc, prof, "cpython")
        raw = res.log
        blocks, _ = walk(raw, [res.key])
        fmts = {log.parse_block(raw, b.offset).fmt for b in blocks if b.kind == S}
        assert fmts == {log.FMT_DELTA4}, name
        spec = [(m.boot, m.uptime, *m.values, m.status) for m in sd.decode_log(raw, []).samples]
        slow = logdata._decode(raw, blocks)[0]
        fast = decode.decode(raw, blocks)[0]
        assert fast.tobytes() == slow.tobytes(), name
        assert len(spec) == len(fast) > 1000, name
        stored = np.array([r[2:11] for r in spec], np.float64)
        scales = np.array([c[1] for c in sd.CHANNELS])
        want = np.where(stored == NR, np.nan, stored * scales)
        got = np.stack([fast[c[0]] for c in sd.CHANNELS], axis=1)
        assert np.array_equal(got, want, equal_nan=True), name
        assert fast["status"].tolist() == [r[11] for r in spec], name
        assert fast["t"].tolist() == [r[1] for r in spec], name
        assert fast["boot"].tolist() == [r[0] for r in spec], name


def test_golden_blocks():
    """The SPEC's own vectors (7.9): records and the MAC chain under the
    vectors' key."""
    doc = json.loads(GOLDEN.read_text())
    vectors = doc["log_blocks"] + doc["delta4_blocks"]  # one chain, seq 41 to 45
    raw = b"".join(bytes.fromhex(v["block"]) for v in vectors)
    mine = sd.decode_log(raw, [KEY], bytes.fromhex(vectors[0]["prev_mac"]))
    assert mine.macs == [sd.MAC_OK] * len(vectors)
    samples = iter(mine.samples)
    events = iter(mine.events)
    for v in vectors:
        for rec in v["records"]:
            if v["kind"] == S:
                s = next(samples)
                assert [s.uptime, s.values, s.status] == rec
            else:
                e = next(events)
                assert [e.t, e.code, e.a, e.b, e.value] == rec
