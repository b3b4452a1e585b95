# Helpers shared by the dual-interpreter tests (MicroPython-compatible).
import binascii
import json


def h(s):
    """bytes from a hex string (bytes.fromhex is not on MicroPython)."""
    return binascii.unhexlify(s.replace(" ", ""))


def hx(b):
    return binascii.hexlify(bytes(b)).decode()


def _root():
    f = __file__
    # .../tests/mp/_support.py -> repo root
    for _ in range(3):
        f = f[: f.rfind("/")] if "/" in f else "."
    return f or "."


def golden():
    with open(_root() + "/protocol/vectors/golden.json") as fh:
        return json.load(fh)


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    return False


class RAMBlockDev:
    """A block device in RAM for vfs.VfsLfs2 (MicroPython's littlefs), as in
    the MicroPython filesystem docs; erase is a no-op, as on the board."""

    def __init__(self, block_size=4096, num_blocks=64):
        self.block_size = block_size
        self.data = bytearray(block_size * num_blocks)
        self.writes = 0  # bytes programmed
        self.erases = 0  # block erases

    def readblocks(self, block_num, buf, offset=0):
        addr = block_num * self.block_size + offset
        buf[:] = self.data[addr : addr + len(buf)]

    def writeblocks(self, block_num, buf, offset=None):
        if offset is None:
            offset = 0
        addr = block_num * self.block_size + offset
        self.data[addr : addr + len(buf)] = buf
        self.writes += len(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.block_size
        if op == 5:
            return self.block_size
        if op == 6:
            self.erases += 1
            return 0
        return None


_mounts = [0]


def flash():
    """A fresh filesystem root: littlefs on a RAM block device under
    MicroPython (the board's filesystem), a temporary folder on CPython."""
    import sys

    if sys.implementation.name == "micropython":
        import vfs

        bd = RAMBlockDev()
        vfs.VfsLfs2.mkfs(bd)
        _mounts[0] += 1
        root = "/flash%d" % _mounts[0]
        vfs.mount(vfs.VfsLfs2(bd), root)
        return root
    import tempfile

    return tempfile.mkdtemp(prefix="podflash")


def flash_image(path):
    """Mount a fresh littlefs image file at /flash (unix port only): the
    Pico's 1.4 MB filesystem geometry, as the simulator's board has it."""
    from sim import flashdev

    return flashdev.mount(path, fresh=True)
