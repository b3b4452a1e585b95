# Log blocks: golden bytes, CRC and MAC chain, delta encoding limits.
from _support import golden, h, hx

from protocol import log
from protocol.auth import Hmac

G = golden()
KEY = h(G["log_key"])  # the MAC chain's key: derived from the device key (SPEC 5.14)


def test_golden_blocks_parse_and_decode():
    for v in G["log_blocks"]:
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
    for v in G["log_blocks"]:
        data = h(v["block"])
        assert hx(prev) == v["prev_mac"]
        blk = log.parse_block(data, 0)
        assert log.block_mac(mac, prev, data, blk.length) == blk.mac(data), v["name"]
        prev = blk.mac(data)


def test_writer_reproduces_golden_delta8_block():
    v = G["log_blocks"][0]
    recs = v["records"]
    w = log.BlockWriter()
    w.start_samples(recs[0][0], 60, recs[0][1], recs[0][2])
    for t, vals, st in recs[1:]:
        assert w.add_sample(vals, st)
    n = w.seal(v["seq"], v["boot"], Hmac(KEY), h(v["prev_mac"]))
    assert hx(w.block[:n]) == v["block"]


def test_every_byte_flip_detected():
    data = h(G["log_blocks"][0]["block"])
    blk = log.parse_block(data, 0)
    body = log.HEADER_LEN + blk.length + log.CRC_LEN
    for i in range(body):
        bad = bytearray(data)
        bad[i] ^= 0x10
        assert not isinstance(log.parse_block(bytes(bad), 0), log.Block), i


def test_delta_overflow_refused_and_block_unchanged():
    w = log.BlockWriter()
    base = [0] * log.NCHAN
    w.start_samples(0, 60, base, 0)
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
    w.start_samples(0, 60, vals, 0)
    while w.add_sample(vals, 0):
        pass
    n = w.seal(1, 1, Hmac(KEY), log.GENESIS_MAC)
    assert n <= log.BLOCK_MAX
    # layout 1's compactness: a full delta8 block of 9 channels + status
    assert w.count == 97
    assert n * 1000 // w.count <= 10800  # bytes per record, all overhead


def test_cut_and_foreign_bytes():
    data = h(G["log_blocks"][2]["block"])
    assert log.parse_block(data[:-1], 0) == log.SHORT
    assert log.parse_block(b"XXXX" + data[4:], 0) == log.BAD_MAGIC
    assert log.parse_block(data[:10], 0) == log.SHORT
