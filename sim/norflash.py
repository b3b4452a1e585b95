# NOR flash as the board has it, for the unix port's littlefs (vfs.VfsLfs2,
# MicroPython's extended block protocol: readblocks / writeblocks with a
# byte offset, ioctl 6 to erase), with power cuts.
#
# The RP2040's QSPI flash (W25Q16JV): a 4 KiB sector erase sets every bit of
# the sector to 1; a page program (at most 256 bytes, never across a page
# boundary) can only clear bits, so what it leaves is the old byte AND the
# new one. littlefs's blocks are the sectors here (block_size 4096).
#
# Every page program and every sector erase is one operation, counted from 0
# in `ops`. With `cut_at` = N the power goes at operation N: that operation
# does nothing (or, `torn`, half of it: the first half of the page's bytes
# programmed, the first half of the sector erased) and raises OSError(EIO)
# (`cut_error`), and from then on every access raises another; both are
# made in __init__, so the cut itself allocates nothing. `journal`, a list,
# records every operation done as (kind, address, bytes): applied in order
# with apply() to the image the count started from, it makes the image after
# any prefix of the run, which is how the power-cut sweep (tests/powercut.py)
# gets the flash a cut at N leaves without running the workload again.
#
# MicroPython and CPython (no vfs on CPython: the device and apply() only).

BLOCK_SIZE = 4096  # a sector: the erase unit, and littlefs's block
PAGE = 256  # the program unit
PROGRAM = 1  # journal kinds
ERASE = 2
_EIO = 5


def apply(data, kind, addr, buf, torn=False):
    """Do one operation on the image data (a bytearray): PROGRAM buf at addr
    (within one page: the old bytes AND buf), or ERASE the sector at addr
    (buf: its length). torn: only the first half of it."""
    if kind == ERASE:
        n = buf if isinstance(buf, int) else len(buf)
        if torn:
            n //= 2
        data[addr : addr + n] = b"\xff" * n
        return
    n = len(buf)
    if torn:
        n //= 2
    if not n:
        return
    old = int.from_bytes(data[addr : addr + n], "little")
    data[addr : addr + n] = (old & int.from_bytes(buf[:n], "little")).to_bytes(n, "little")


class NorFlash:
    """A NOR flash image in RAM as a littlefs block device."""

    def __init__(self, num_blocks=64, block_size=BLOCK_SIZE, data=None):
        self.block_size = block_size
        self.num_blocks = num_blocks
        if data is None:
            data = bytearray(b"\xff" * (num_blocks * block_size))
        assert len(data) == num_blocks * block_size
        self.data = data
        self.ops = 0  # program and erase operations so far
        self.programs = 0
        self.erases = 0
        self.cut_at = -1  # the operation the power goes at; -1: never
        self.torn = False  # the cut operation is left half done
        self.dead = False  # the power is gone
        self.journal = None  # a list to record (kind, address, bytes) in
        # made now: the cut must not allocate. The cut raises its own, so
        # its traceback says where the firmware was (and where it caught it)
        self.cut_error = OSError(_EIO, "EIO")
        self._eio = OSError(_EIO, "EIO")

    # --- the image ---------------------------------------------------------

    @classmethod
    def load(cls, path, block_size=BLOCK_SIZE):
        """A device on the image saved in the file at path (a copy of that
        flash: the board boots from it)."""
        with open(path, "rb") as f:
            data = bytearray(f.read())
        return cls(len(data) // block_size, block_size, data)

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.data)

    def copy(self):
        """A new, powered device on a copy of this image."""
        return NorFlash(self.num_blocks, self.block_size, bytearray(self.data))

    # --- power -------------------------------------------------------------

    def _op(self, kind, addr, buf):
        """Count one operation and do it, unless the power goes here."""
        if self.dead:
            raise self._eio
        if self.ops == self.cut_at:
            self.dead = True
            if self.torn:
                apply(self.data, kind, addr, buf, True)
            raise self.cut_error
        apply(self.data, kind, addr, buf)
        self.ops += 1
        if kind == ERASE:
            self.erases += 1
        else:
            self.programs += 1
        if self.journal is not None:
            self.journal.append((kind, addr, buf if kind == ERASE else bytes(buf)))

    # --- the block protocol ------------------------------------------------

    def readblocks(self, block_num, buf, offset=0):
        if self.dead:
            raise self._eio
        addr = block_num * self.block_size + (offset or 0)
        buf[:] = memoryview(self.data)[addr : addr + len(buf)]

    def writeblocks(self, block_num, buf, offset=None):
        if self.dead:
            raise self._eio
        if offset is None:  # the simple protocol: whole blocks, erased first
            for i in range(len(buf) // self.block_size):
                self._op(ERASE, (block_num + i) * self.block_size, self.block_size)
            offset = 0
        addr = block_num * self.block_size + offset
        mv = memoryview(buf)
        at = 0
        while at < len(buf):  # one program per page touched
            n = min(len(buf) - at, PAGE - (addr + at) % PAGE)
            self._op(PROGRAM, addr + at, mv[at : at + n])
            at += n

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.num_blocks
        if op == 5:  # block size
            return self.block_size
        if self.dead:
            raise self._eio
        if op == 6:  # erase a block: one sector
            self._op(ERASE, arg * self.block_size, self.block_size)
        return 0  # 1 init, 2 deinit, 3 sync: nothing to do in RAM
