# The log on flash: sealed blocks appended to segment files.
#
# <root>/log/<first seq, 10 digits>  one segment file, blocks back to back
# <root>/logseq    the next seq, kept while the log is empty after an erase
# <root>/dropped   <II: the first seq held after the overwrite policy last
#                  dropped segments (while that is still the oldest block,
#                  the head went by the policy, not by an erase: LOG_SEAL),
#                  and the sample records it has dropped since the log
#                  began (or was last erased)
# (the names are written where they are used: a module-level name is a qstr
# and a dict entry on the board)
#
# Blocks are appended with open(..., "ab"): littlefs rewrites a file's last
# flash block on every flush, and seeking to the end instead of appending
# costs far more erases (littlefs issues #581, #368), so a segment is only
# ever opened for append and closed after each block. A segment is closed
# for good at segment_bytes; a new one starts with the next block, so the
# oldest segment can be dropped whole when the log's budget is spent and the
# profile says to overwrite.
#
# The budget: what the log may hold is derived at open() from the
# filesystem's own free space (statvfs), less RESERVE blocks for the other
# records, their .new copies, littlefs's metadata pairs and its
# copy-on-write of a file's last block; a segment of segment_bytes is
# counted at its most (open(): 16 bytes of each block for littlefs's CTZ
# pointers, and one block more for a partly filled last one). The
# profile's budget, or the constructor's, is a cap on top (issue 15, F6:
# a fixed 1,360 KiB did not fit the Pico's 1,408 KiB littlefs, with the
# firmware's own files in /lib even less).
#
# Power cut: littlefs commits a file's data at close, so a cut loses at most
# the block being written (and the records still in RAM); on boot open()
# scans the newest segment and appending resumes after its last good block.
import os
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x

from firmware import storefile
from protocol import block as log

_SEGMENT_BYTES = const(64 * 1024)
_RESERVE = const(16)  # blocks kept free for everything but the log (see above)


def _name(seq):
    s = str(seq)
    return "0" * (10 - len(s)) + s


class LogStore:
    def __init__(self, root, budget, overwrite=False, segment_bytes=_SEGMENT_BYTES):
        self.root = root
        self.dir = root + "/log"
        self.budget = budget  # bytes the log may hold on flash
        self.overwrite = overwrite  # profile's policy when the budget is spent
        self.segment_bytes = segment_bytes
        self.segments = []  # [first seq, bytes] oldest first
        self.size = 0
        self.next_seq = 0
        self.last_mac = log.GENESIS_MAC
        self.full = False  # True once a block was refused (stop policy)
        from array import array  # here: a global would grow the module's dict on the heap

        # the overwrite policy's drops not yet logged: [first seq dropped,
        # blocks dropped from it on, sample records dropped since the log
        # began]; the pod logs them (STORAGE_FULL a = 1, 2) and zeroes [1]
        self.dropped = array("I", bytes(12))
        self.damaged_tail = 0  # bytes after the last good block at boot
        self._sealed = False  # newest segment takes no more blocks

    def open(self, scratch=None):
        """Find the segments and where appending resumes. scratch: a
        BLOCK_MAX buffer to read blocks into (the boot lends the recorder's,
        idle until then), else one is made."""
        try:
            os.mkdir(self.dir)
        except OSError:
            pass  # exists
        names = sorted(n for n in os.listdir(self.dir) if len(n) == 10 and n.isdigit())
        for n in names:
            self.segments.append([int(n), os.stat(self.dir + "/" + n)[6]])
            self.size += self.segments[-1][1]
        # a cut between creating a segment and writing its first block
        # leaves it empty: it holds nothing, so it goes
        while self.segments and self.segments[-1][1] == 0:
            os.remove(self.dir + "/" + _name(self.segments.pop()[0]))
        storefile.clean(self.root, "dropped")  # a cut mid-write leaves its .new
        kept = storefile.read(self.root, "dropped")
        if kept and len(kept) == 8 and self.segments:
            if self.segments[0][0] == struct.unpack_from("<I", kept)[0]:
                # the head is still the one the policy dropped to
                self.dropped[2] = struct.unpack_from("<I", kept, 4)[0]
        st = os.statvfs(self.dir)
        # blocks the log may take: free now, and what its segments hold
        have = st[3] - _RESERVE
        per = -(-self.segment_bytes // (st[0] - 16)) + 1  # a segment's blocks at most
        for seg in self.segments:
            have += -(-seg[1] // (st[0] - 16))
        # segments the flash holds; all but the newest are closed, each with
        # more than segment_bytes - BLOCK_MAX (it closed when a block did
        # not fit), so a log of this many bytes never needs more of them
        fill = self.segment_bytes - log.BLOCK_MAX
        if fill < self.segment_bytes // 2:  # the tests' small segments: per is loose there
            fill = self.segment_bytes // 2
        fits = (have // per - 1) * fill
        if fits < self.budget:
            self.budget = fits if fits > 0 else 0
        if self.segments:
            self._resume(scratch if scratch is not None else bytearray(log.BLOCK_MAX))
        else:
            kept = storefile.read(self.root, "logseq")
            if kept and len(kept) == 4:
                self.next_seq = struct.unpack("<I", kept)[0]
        return self

    def _scan(self, first, buf):
        """(bytes of good blocks, seq after the last, its MAC or None) of a
        segment, one block-sized read at a time: a whole segment would not
        fit the board's heap. buf: BLOCK_MAX bytes to read into."""
        at = 0
        seq = first
        mac = None
        with open(self.dir + "/" + _name(first), "rb") as f:
            while True:
                f.seek(at)
                n = f.readinto(buf)
                if not n:
                    break
                chunk = memoryview(buf)[:n]
                blk = log.parse_block(chunk, 0)
                if not isinstance(blk, log.Block):
                    break
                seq = blk.seq + 1
                mac = blk.mac(chunk)
                at += blk.size
        return at, seq, mac

    def _resume(self, buf):
        """Append after the newest segment's last good block. If even its
        first block is damaged, the chain continues from the segment before
        and that block's seq is skipped (a visible gap, which is the truth)."""
        first, size = self.segments[-1]
        good, seq, mac = self._scan(first, buf)
        if mac is None:
            seq = first + 1
            mac = log.GENESIS_MAC
            if len(self.segments) > 1:
                mac = self._scan(self.segments[-2][0], buf)[2] or log.GENESIS_MAC
        self.next_seq = seq
        self.last_mac = mac
        self.damaged_tail = size - good
        # never append after damage: the next block opens a new segment
        self._sealed = self.damaged_tail > 0

    def first(self):
        """Seq of the oldest block held; the next block's if none is."""
        return self.segments[0][0] if self.segments else self.next_seq

    @property
    def last_seq(self):
        return self.next_seq - 1

    def append(self, block, n):
        """Write a sealed block of n bytes; False if refused (log full under
        the stop policy). Raises OSError if the flash itself fails."""
        while self.size + n > self.budget:
            if not self.overwrite or len(self.segments) < 2:
                self.full = True
                return False
            first, size = self.segments.pop(0)
            d = self.dropped
            if not d[1]:
                d[0] = first
            d[1] += self.segments[0][0] - first  # its blocks: seqs run on across segments
            # its sample records, from its block headers (24 bytes read
            # each; inline: a method costs the board's heap a function and a
            # qstr). A damaged block ends the count: what could be read.
            path = self.dir + "/" + _name(first)
            hdr = bytearray(log.HEADER_LEN)
            at = 0
            with open(path, "rb") as f:
                while at < size:
                    f.seek(at)
                    if f.readinto(hdr) != log.HEADER_LEN or hdr[:4] != log.MAGIC:
                        break
                    if hdr[5] == log.KIND_SAMPLES:
                        d[2] += hdr[14] | hdr[15] << 8  # count
                    at += log.HEADER_LEN + (hdr[22] | hdr[23] << 8) + log.TRAILER_LEN
            os.remove(path)
            self.size -= size
            if self.size + n <= self.budget:
                # rare (once a segment, days apart) and after the tick. If
                # the write fails the head is unexplained, which a verifier
                # takes as the worse case.
                try:
                    storefile.write(
                        self.root, "dropped", struct.pack("<II", self.segments[0][0], d[2]))
                except OSError:
                    pass
        seq = struct.unpack_from("<I", block, 8)[0]
        if not self.segments or self._sealed or self.segments[-1][1] + n > self.segment_bytes:
            self.segments.append([seq, 0])
            self._sealed = False
        path = self.dir + "/" + _name(self.segments[-1][0])
        with open(path, "ab") as f:
            f.write(memoryview(block)[:n])
        self.segments[-1][1] += n
        self.size += n
        self.next_seq = seq + 1
        self.last_mac = bytes(block[n - log.MAC_LEN : n])
        return True

    def head_dropped(self):
        """True if the blocks before first() were dropped by the overwrite
        policy, not erased by LOG_ERASE (an erase moves the head past the
        seq the policy recorded)."""
        kept = storefile.read(self.root, "dropped")
        return bool(self.segments and kept and len(kept) == 8
                    and struct.unpack_from("<I", kept)[0] == self.segments[0][0])

    def erase_through(self, last_seq):
        """LOG_ERASE: remove the segments whose every block is at or before
        last_seq (the newest block the host holds); a segment holding any
        newer block stays whole. Returns the bytes removed. When nothing is
        left, the next block chains to GENESIS_MAC; seq keeps rising."""
        erased = 0
        kept = False
        while self.segments:
            last = self.segments[1][0] - 1 if len(self.segments) > 1 else self.last_seq
            if last > last_seq:
                break
            if not kept:
                # where numbering resumes, on flash before the first segment
                # goes: a power cut mid-erase that leaves no segment must not
                # restart the seq at 0 nor reuse a stale one (issue 15, F3/F4)
                storefile.write(self.root, "logseq", struct.pack("<I", self.next_seq))
                kept = True
            first, size = self.segments.pop(0)
            os.remove(self.dir + "/" + _name(first))
            self.size -= size
            erased += size
        if erased:
            self.dropped[2] = 0  # the head is the host's erase now, not a drop
        if not self.segments:
            self.last_mac = log.GENESIS_MAC  # seq keeps rising: "logseq" above
        self.full = False
        return erased

    def read(self, offset, length):
        """Bytes [offset, offset + length) of the log as one stream (oldest
        segment first); short at the end."""
        buf = memoryview(bytearray(length))
        return bytes(buf[: self.read_into(offset, buf)])

    def read_into(self, offset, dest):
        """Read the log from offset into dest (a memoryview) as one stream,
        across segments; return the bytes read (fewer at the end). LOG_READ
        reads straight into the reply frame: no KiB-sized copy on the heap."""
        got = 0
        want = len(dest)
        base = 0
        for first, size in self.segments:
            if offset + got < base + size and got < want:
                with open(self.dir + "/" + _name(first), "rb") as f:
                    f.seek(max(0, offset + got - base))
                    n = f.readinto(dest[got : min(want, base + size - offset)])
                    got += n or 0
            base += size
        return got
