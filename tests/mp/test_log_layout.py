# Log blocks: golden bytes, CRC and MAC chain, delta encoding limits; the
# firmware's format 3 (SPEC 7.4): nibble records and their exceptions.
from _support import golden, h, hx

from protocol import log
from protocol.auth import Hmac
from protocol.frame import crc32

G = golden()
KEY = h(G["log_key"])  # the MAC chain's key: derived from the device key (SPEC 5.14)
NR = log.NO_READING


def test_golden_blocks_parse_and_decode():
    for v in G["log_blocks"] + G["delta4_blocks"]:
        data = h(v["block"])
        blk = log.parse_block(data, 0)
        assert isinstance(blk, log.Block), (v["name"], blk)
        assert (blk.seq, blk.boot, blk.kind) == (v["seq"], v["boot"], v["kind"])
        if blk.kind == log.KIND_SAMPLES:
            got = [[t, vals, st] for t, vals, st in log.samples(data, blk)]
        else:
            got = [list(e) for e in log.events(data, blk)]
        assert got == v["records"], v["name"]


def test_golden_mac_chain():
    mac = Hmac(KEY)
    prev = log.GENESIS_MAC
    for v in G["log_blocks"] + G["delta4_blocks"]:  # one chain, seq 41 to 45
        data = h(v["block"])
        assert hx(prev) == v["prev_mac"]
        blk = log.parse_block(data, 0)
        assert log.block_mac(mac, prev, data, blk.length) == blk.mac(data), v["name"]
        prev = blk.mac(data)


def test_writer_reproduces_golden_delta8_block():
    v = G["log_blocks"][0]
    recs = v["records"]
    w = log.BlockWriter()
    w.start_samples(recs[0][0], 60, recs[0][1], recs[0][2], log.FMT_DELTA8)
    for t, vals, st in recs[1:]:
        assert w.add_sample(vals, st)
    n = w.seal(v["seq"], v["boot"], Hmac(KEY), h(v["prev_mac"]))
    assert hx(w.block[:n]) == v["block"]


def test_writer_reproduces_golden_delta4_blocks():
    for v in G["delta4_blocks"]:
        recs = v["records"]
        w = log.BlockWriter()
        w.start_samples(recs[0][0], 60, recs[0][1], recs[0][2], log.FMT_DELTA4)
        for t, vals, st in recs[1:]:
            assert w.add_sample(vals, st)
        n = w.seal(v["seq"], v["boot"], Hmac(KEY), h(v["prev_mac"]))
        assert w.fmt == log.FMT_DELTA4 and hx(w.block[:n]) == v["block"], v["name"]


def test_every_byte_flip_detected():
    for data in (h(G["log_blocks"][0]["block"]), h(G["delta4_blocks"][0]["block"])):
        blk = log.parse_block(data, 0)
        body = log.HEADER_LEN + blk.length + log.CRC_LEN
        for i in range(body):
            bad = bytearray(data)
            bad[i] ^= 0x10
            assert not isinstance(log.parse_block(bytes(bad), 0), log.Block), i


def test_delta_overflow_refused_and_block_unchanged():
    w = log.BlockWriter()
    base = [0] * log.NCHAN
    w.start_samples(0, 60, base, 0, log.FMT_DELTA8)
    jump = list(base)
    jump[0] = 128  # one past int8
    assert not w.add_sample(jump, 0)
    assert w.count == 1
    jump[0] = 127
    assert w.add_sample(jump, 0)
    w16 = log.BlockWriter()
    w16.start_samples(0, 60, base, 0, log.FMT_DELTA16)
    jump[0] = 20000
    assert w16.add_sample(jump, 0)


def test_full_block_refuses_and_fits_limit():
    w = log.BlockWriter()
    vals = [100] * log.NCHAN
    w.start_samples(0, 60, vals, 0, log.FMT_DELTA8)
    while w.add_sample(vals, 0):
        pass
    n = w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    assert n <= log.BLOCK_MAX
    # layout 1's compactness: a full delta8 block of 9 channels + status
    assert w.count == 97
    assert n * 1000 // w.count <= 10800  # bytes per record, all overhead
    # fmt 3: the same records in 5 bytes each, up to the writer's cap (the
    # power-cut bound), not to BLOCK_MAX
    w.start_samples(0, 60, vals, 0, log.FMT_DELTA4)
    while w.add_sample(vals, 0):
        pass
    n = w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    assert w.count == log.RECORDS_MAX == 97
    assert n == 24 + 19 + 96 * 5 + 20  # 5.6 bytes a record, all overhead


def test_cut_and_foreign_bytes():
    data = h(G["log_blocks"][2]["block"])
    assert log.parse_block(data[:-1], 0) == log.SHORT
    assert log.parse_block(b"XXXX" + data[4:], 0) == log.BAD_MAGIC
    assert log.parse_block(data[:10], 0) == log.SHORT


# -- format 3 ----------------------------------------------------------------


def _roundtrip(recs, fmt=log.FMT_DELTA4):
    """Write recs ((values, status), the first the key) into one block,
    seal it and decode it; the decoded (values, status) and the block."""
    w = log.BlockWriter()
    w.start_samples(0, 60, recs[0][0], recs[0][1], fmt)
    for vals, st in recs[1:]:
        assert w.add_sample(vals, st), (len(recs), vals, st)
    n = w.seal(7, 2, Hmac(KEY), log.GENESIS_MAC)
    data = bytes(w.block[:n])
    blk = log.parse_block(data, 0)
    assert isinstance(blk, log.Block), blk
    return [[vals, st] for t, vals, st in log.samples(data, blk)], blk


def _each_channel(base, d):
    """Records stepping each channel in turn by d (then back)."""
    out = []
    for c in range(log.NCHAN):
        v = list(base)
        v[c] += d
        out.append((v, 0x81))
        out.append((list(base), 0x81))
    return out


def test_delta4_limits_and_escapes_in_every_channel():
    base = [0] * log.NCHAN
    for d, escapes in ((7, 0), (-7, 0), (8, 2), (-8, 2), (100, 2), (-32767, 2)):
        recs = [(base, 0x81)] + _each_channel(base, d)
        got, blk = _roundtrip(recs)
        assert got == [[v, s] for v, s in recs], d
        # a record is 5 bytes; every escape adds a 2-byte exception
        assert blk.length == 19 + 5 * (len(recs) - 1) + escapes * (len(recs) - 1), d


def test_delta4_status_changes():
    # XOR masks 0..15 but 8 go in the nibble; 8 and anything wider escape
    statuses = [0, 1, 3, 2, 0x0F, 0x07, 0x0F, 0x8F, 0x80, 0x88, 0xFF, 0, 0x10, 0x18, 0x08]
    recs = [([5] * log.NCHAN, s) for s in statuses]
    got, blk = _roundtrip(recs)
    assert [s for v, s in got] == statuses
    masks = [a ^ b for a, b in zip(statuses, statuses[1:])]
    escapes = len([x for x in masks if x == 8 or x > 15])
    assert blk.length == 19 + 5 * len(masks) + 2 * escapes


def test_delta4_no_reading_and_int16_extremes():
    lo, hi = -32767, 32767
    rows = [
        [NR, 0, hi, lo, 0, 0, 0, 0, 3700],
        [hi, NR, lo, hi, 1, -1, 7, -7, 3700],  # NR -> 32767: +65535
        [NR, hi, hi, lo, 1, -1, 7, -7, 3700],  # 32767 -> NR: -65535
        [lo, NR, NR, NR, -8, 8, -1, 1, 3699],
        [NR, NR, NR, NR, -8, 8, -1, 1, 3699],  # unchanged no reading
        [lo, lo, lo, lo, lo, lo, lo, lo, lo],
        [hi, hi, hi, hi, hi, hi, hi, hi, hi],
    ]
    recs = [(r, 0x88) for r in rows]
    got, _ = _roundtrip(recs)
    assert got == [[r, 0x88] for r in rows]


def test_delta4_block_ends_on_a_full_exception_list():
    """The golden full block: 980 payload bytes, and no record fits after it,
    not even one with no escape; refused, the block is as it was."""
    v = G["delta4_blocks"][1]
    recs = v["records"]
    w = log.BlockWriter()
    w.start_samples(recs[0][0], 60, recs[0][1], recs[0][2], log.FMT_DELTA4)
    for t, vals, st in recs[1:]:
        assert w.add_sample(vals, st)
    assert not w.add_sample(recs[-1][1], recs[-1][2])  # no escape: 5 bytes
    assert w.count == len(recs)
    n = w.seal(v["seq"], v["boot"], Hmac(KEY), h(v["prev_mac"]))
    assert n == log.BLOCK_MAX and w.length == log.PAYLOAD_MAX
    assert hx(w.block[:n]) == v["block"]
    # one record fewer leaves 11 bytes: a record with 4 escapes (13) does
    # not fit, one with 3 (11) does
    w.start_samples(recs[0][0], 60, recs[0][1], recs[0][2], log.FMT_DELTA4)
    for t, vals, st in recs[1:-1]:
        assert w.add_sample(vals, st)
    four = list(recs[-1][1])
    four[1] += 9
    assert not w.add_sample(four, recs[-1][2])
    assert w.add_sample(recs[-1][1], recs[-1][2])


def test_delta4_refused_record_leaves_the_block_unchanged():
    """A record whose exceptions do not fit is not half written: the block
    seals to the bytes it had."""
    w = log.BlockWriter()
    vals = [0] * log.NCHAN
    w.start_samples(0, 60, vals, 0, log.FMT_DELTA4)
    jump = 1
    while True:
        jump = -jump * 2 if abs(jump) < 16000 else -jump
        nxt = [x + jump for x in vals]
        before = (w.count, w.length)
        if not w.add_sample(nxt, 0):
            break
        vals = nxt
    assert (w.count, w.length) == before
    n = w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    data = bytes(w.block[:n])
    blk = log.parse_block(data, 0)
    assert blk.count == before[0] and log.samples(data, blk)[-1][1] == vals


def test_delta4_sealed_block_kept_open_after_a_failed_write():
    """The recorder keeps a block open when its write fails and seals it
    again later: seal() moved the exceptions after the records, and the
    next record moves them back."""
    recs = [([0] * log.NCHAN, 0)]
    w = log.BlockWriter()
    w.start_samples(0, 60, recs[0][0], recs[0][1], log.FMT_DELTA4)
    for i in range(1, 30):
        recs.append(([(i % 3) * 40 * c for c in range(log.NCHAN)], i % 5))
        assert w.add_sample(recs[-1][0], recs[-1][1])
        if i % 7 == 0:
            w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
            if i % 14 == 0:  # sealed twice without a record between
                w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    n = w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    data = bytes(w.block[:n])
    blk = log.parse_block(data, 0)
    assert [[v, s] for t, v, s in log.samples(data, blk)] == [[v, s] for v, s in recs]


def _resealed(data):
    """data with its CRC made right again (a writer's bug, not damage)."""
    out = bytearray(data)
    blk_len = out[22] | out[23] << 8
    end = log.HEADER_LEN + blk_len
    c = crc32(memoryview(out)[:end])
    for i in range(4):
        out[end + i] = c >> (8 * i) & 0xFF
    return bytes(out)


def test_delta4_escape_count_must_match_the_length():
    """A CRC-good fmt 3 block whose nibbles name more or fewer exceptions
    than its length holds is refused, never decoded out of step."""
    data = h(G["delta4_blocks"][0]["block"])
    rec1 = log.HEADER_LEN + 19
    # record 1: status 2, probe0 +7 | probe1 -7, probe2 escape | ...
    assert data[rec1] == 0x72 and data[rec1 + 1] == 0x89
    one_more = bytearray(data)
    one_more[rec1] = 0x82  # probe 0 an escape too
    one_less = bytearray(data)
    one_less[rec1 + 1] = 0x09  # probe 2 no longer one
    for bad in (one_more, one_less):
        assert log.parse_block(_resealed(bad), 0) == log.BAD_SHAPE
    same = bytearray(data)
    same[rec1] = 0x62  # +6 instead of +7: well formed, other values
    assert isinstance(log.parse_block(_resealed(same), 0), log.Block)


def test_delta4_add_sample_allocates_nothing():
    """The tick's add_sample, escapes, refusals and the move back after a
    seal included, under MicroPython's heap lock (CPython: runs unlocked)."""
    try:
        import micropython
    except ImportError:
        micropython = None
    w = log.BlockWriter()
    w.start_samples(0, 60, [0] * log.NCHAN, 0, log.FMT_DELTA4)
    rows = [[(i * 37 % 23 - 11) * (1 + c * 500) for c in range(log.NCHAN)] for i in range(8)]
    w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    added = 0
    if micropython:
        micropython.heap_lock()
    try:
        for i in range(300):
            added += w.add_sample(rows[i % 8], i & 0xFF)
    finally:
        if micropython:
            micropython.heap_unlock()
    assert 0 < added < 300 and w.count == added + 1
