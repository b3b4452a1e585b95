# The board's flash as a file on the host: a block device for MicroPython's
# vfs.VfsLfs2 on the unix port. The image holds the same littlefs the Pico
# carries (4 KiB blocks, 352 of them: 1408 KiB), so podctl reads it like
# one dumped from hardware. Reads and writes go straight to the file, so the
# image costs no heap.
#
# MicroPython only (vfs). Used by the micropython engine of the co-simulation
# and by the virtual board.

BLOCK_SIZE = 4096
BLOCK_COUNT = 352
MOUNT = "/flash"


class FileBlockDev:
    def __init__(self, path, block_size=BLOCK_SIZE, num_blocks=BLOCK_COUNT):
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.f = open(path, "r+b")

    def readblocks(self, block_num, buf, offset=0):
        self.f.seek(block_num * self.block_size + offset)
        self.f.readinto(buf)

    def writeblocks(self, block_num, buf, offset=None):
        self.f.seek(block_num * self.block_size + (offset or 0))
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 3:  # sync: what is written is on the host's disk
            self.f.flush()
            return 0
        if op == 4:
            return self.num_blocks
        if op == 5:
            return self.block_size
        if op == 6:  # erase: NOR erase is implicit in littlefs' writes here
            return 0
        return None


def mount(path, fresh=False, block_size=BLOCK_SIZE, num_blocks=BLOCK_COUNT, at=MOUNT):
    """Mount the image file at `at` (making and formatting it if fresh or
    absent); returns the mount point, the firmware's storage root."""
    import vfs

    vfs.mount(vfs.VfsLfs2(device(path, fresh, block_size, num_blocks)), at)
    return at


def device(path, fresh=False, block_size=BLOCK_SIZE, num_blocks=BLOCK_COUNT):
    """The image file as a block device, made (erased) and formatted first
    if fresh or absent."""
    import vfs

    try:
        open(path, "rb").close()
        exists = True
    except OSError:
        exists = False
    if fresh or not exists:
        # erased flash, 256 bytes at a time: a 4 KiB buffer is more than a
        # 64 KiB heap spares once the firmware is loaded
        erased = b"\xff" * 256
        with open(path, "wb") as f:
            for _ in range(num_blocks * block_size // 256):
                f.write(erased)
    bd = FileBlockDev(path, block_size, num_blocks)
    if fresh or not exists:
        vfs.VfsLfs2.mkfs(bd)
    return bd
