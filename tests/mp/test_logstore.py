# The log on littlefs (MicroPython) or a folder (CPython): append, resume
# after reboot, full-storage policies, damage at the tail, LOG_READ offsets.
from _support import flash

from firmware.logstore import LogStore
from protocol import log
from protocol.auth import Hmac

MAC = Hmac(bytes(range(32)))


def _blocks(store, n, records=20):
    """Append n sample blocks continuing the store's chain; return bytes."""
    w = log.BlockWriter()
    out = b""
    for i in range(n):
        seq = store.next_seq
        w.start_samples(seq * 600, 30, [seq] * log.NCHAN, 0)
        for r in range(1, records):
            w.add_sample([seq + r] * log.NCHAN, 0)
        k = w.seal(seq, 1, MAC, store.last_mac)
        if not store.append(w.block, k):
            break
        out += bytes(w.block[:k])
    return out


def _verify(data):
    """Parse a whole log stream; return (seqs, chain intact)."""
    at = 0
    seqs = []
    prev = None
    ok = True
    while at < len(data):
        blk = log.parse_block(data, at)
        assert isinstance(blk, log.Block), (at, blk)
        if prev is not None:
            ok = ok and (
                log.block_mac(MAC, prev, memoryview(data)[at:], blk.length) == blk.mac(data)
            )
        prev = blk.mac(data)
        seqs.append(blk.seq)
        at += blk.size
    return seqs, ok


def test_append_and_read_back():
    root = flash()
    s = LogStore(root, 200000, segment_bytes=4096).open()
    written = _blocks(s, 30)
    assert s.size == len(written) and len(s.segments) > 1
    assert s.read(0, s.size) == written
    assert s.read(100, 50) == written[100:150]
    seqs, ok = _verify(s.read(0, s.size))
    assert seqs == list(range(30)) and ok
    # LOG_READ's path: into a view of a bigger buffer, across every segment
    # boundary, short at the end of the log
    buf = bytearray(1200)
    base = 0
    for first, size in s.segments:
        for off in (base - 1, base, base + size - 7):
            if 0 <= off <= s.size:
                n = s.read_into(off, memoryview(buf)[100:1116])
                assert n == min(1016, s.size - off), (off, n)
                assert bytes(buf[100 : 100 + n]) == written[off : off + n], off
        base += size
    assert s.read_into(s.size, memoryview(buf)[:10]) == 0


def test_resume_after_reboot():
    root = flash()
    s = LogStore(root, 200000, segment_bytes=4096).open()
    first = _blocks(s, 7)
    s2 = LogStore(root, 200000, segment_bytes=4096).open()
    assert s2.next_seq == 7 and s2.last_mac == s.last_mac and s2.size == len(first)
    second = _blocks(s2, 5)
    seqs, ok = _verify(s2.read(0, s2.size))
    assert s2.read(0, s2.size) == first + second
    assert seqs == list(range(12)) and ok


def test_stop_policy_keeps_what_is_there():
    root = flash()
    s = LogStore(root, 3000, overwrite=False, segment_bytes=1024).open()
    written = _blocks(s, 50)
    assert s.full and s.size <= 3000
    assert s.read(0, s.size) == written
    size = s.size
    assert _blocks(s, 1) == b"" and s.size == size


def test_overwrite_policy_drops_oldest_segments():
    root = flash()
    s = LogStore(root, 3000, overwrite=True, segment_bytes=1024).open()
    _blocks(s, 50)
    assert not s.full and s.dropped[1] > 0 and s.size <= 3000  # blocks dropped, not yet logged
    seqs, ok = _verify(s.read(0, s.size))
    assert seqs[-1] == 49 and seqs == list(range(seqs[0], 50)) and ok


def test_damaged_tail_starts_new_segment():
    root = flash()
    s = LogStore(root, 200000, segment_bytes=65536).open()
    good = _blocks(s, 3)
    with open(s.dir + "/" + "0000000000", "ab") as f:
        f.write(b"PODL\x01torn block")
    s2 = LogStore(root, 200000).open()
    assert s2.next_seq == 3 and s2.damaged_tail == 15
    _blocks(s2, 2)
    assert len(s2.segments) == 2
    # the damage stays visible to the verifier; nothing before it is lost
    assert s2.read(0, len(good)) == good


def test_damaged_first_block_of_newest_segment():
    root = flash()
    s = LogStore(root, 200000, segment_bytes=2048).open()
    good = _blocks(s, 12)
    newest = s.segments[-1][0]
    assert newest > 0
    path = s.dir + "/" + "0" * (10 - len(str(newest))) + str(newest)
    with open(path, "r+b") as f:  # the newest segment's first block torn
        f.seek(30)
        f.write(b"\xff\xff")
    s2 = LogStore(root, 200000, segment_bytes=2048).open()
    # the chain continues from the segment before; the torn seq is skipped
    assert s2.next_seq == newest + 1
    before = s2.read(0, sum(x[1] for x in s2.segments[:-1]))
    blk_seqs, ok = _verify(before)
    assert ok and blk_seqs[-1] == newest - 1
    assert s2.last_mac == before[-16:]  # the MAC of the last good block
    _blocks(s2, 2)
    names = sorted(x[0] for x in s2.segments)
    assert len(names) == len(set(names)) and names[-1] == newest + 1  # no name reused
    assert s2.read(0, len(good))[:30] == good[:30]


def test_empty_segment_left_by_a_cut_is_removed():
    root = flash()
    s = LogStore(root, 200000, segment_bytes=2048).open()
    _blocks(s, 3)
    open(s.dir + "/0000000099", "wb").close()  # created, nothing written
    s2 = LogStore(root, 200000, segment_bytes=2048).open()
    assert s2.next_seq == 3 and s2.last_mac == s.last_mac and s2.damaged_tail == 0
