# sim/norflash.py, the NOR flash model the power-cut sweep cuts (issue 15),
# on both interpreters; littlefs on it on MicroPython only (vfs).
import sys

from sim.norflash import ERASE, PAGE, PROGRAM, NorFlash, apply


def _dead(dev, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e
    return None


def test_erase_sets_ones_and_program_only_clears_bits():
    dev = NorFlash(2)
    assert dev.data == b"\xff" * 8192
    dev.writeblocks(0, b"\xf0\x0f\x55", 10)
    dev.writeblocks(0, b"\x0f\x0f\xff", 10)  # over programmed bytes: AND
    buf = bytearray(3)
    dev.readblocks(0, buf, 10)
    assert buf == b"\x00\x0f\x55"
    dev.ioctl(6, 0)
    dev.readblocks(0, buf, 10)
    assert buf == b"\xff\xff\xff"
    assert dev.data[4096:] == b"\xff" * 4096  # the other sector untouched


def test_operations_are_counted_a_page_program_each():
    dev = NorFlash(2)
    dev.writeblocks(0, b"\x00" * 300, PAGE - 10)  # touches three pages: 10, 256, 34 bytes
    assert (dev.ops, dev.programs, dev.erases) == (3, 3, 0)
    dev.ioctl(6, 1)
    assert (dev.ops, dev.programs, dev.erases) == (4, 3, 1)
    dev.writeblocks(1, b"\x00" * 4096)  # the simple protocol: erase, then 16 pages
    assert (dev.ops, dev.programs, dev.erases) == (21, 19, 2)
    assert dev.ioctl(4, 0) == 2 and dev.ioctl(5, 0) == 4096


def test_power_cut_at_the_nth_operation():
    dev = NorFlash(2)
    dev.cut_at = 2
    dev.writeblocks(0, b"\x00" * 10, 0)
    dev.writeblocks(0, b"\x00" * 10, 16)
    e = _dead(dev, dev.writeblocks, 0, b"\x00" * 10, 32)  # operation 2: not done
    assert e is dev.cut_error and e.errno == 5 and dev.dead and dev.ops == 2
    assert dev.data[32:42] == b"\xff" * 10
    buf = bytearray(4)
    # from then on every access fails, with the other exception made beforehand
    after = _dead(dev, dev.readblocks, 0, buf, 0)
    assert after is not e and after.errno == 5
    for fn, args in ((dev.writeblocks, (1, buf, 0)), (dev.ioctl, (6, 1)), (dev.ioctl, (3, 0))):
        assert _dead(dev, fn, *args) is after
    assert dev.data[4096:] == b"\xff" * 4096 and dev.ops == 2


def test_a_cut_allocates_nothing():
    dev = NorFlash(2)
    dev.cut_at = 0
    buf = bytearray(8)
    _dead(dev, dev.writeblocks, 0, buf, 0)
    got = [None, None, None]  # made before the lock; the calls below are direct
    locked = sys.implementation.name == "micropython"
    if locked:
        import micropython

        micropython.heap_lock()
    try:
        try:
            dev.readblocks(0, buf, 0)
        except OSError as e:
            got[0] = e
        try:
            dev.writeblocks(0, buf, 0)
        except OSError as e:
            got[1] = e
        try:
            dev.ioctl(6, 0)
        except OSError as e:
            got[2] = e
    finally:
        if locked:
            micropython.heap_unlock()
    assert got[0] is got[1] is got[2] and got[0].errno == 5


def test_torn_operations_are_half_done():
    dev = NorFlash(2)
    dev.writeblocks(0, b"\x00" * 4096, 0)
    dev.cut_at = dev.ops
    dev.torn = True
    assert _dead(dev, dev.ioctl, 6, 0) is not None  # half the sector erased
    assert dev.data[:2048] == b"\xff" * 2048 and dev.data[2048:4096] == b"\x00" * 2048
    dev = NorFlash(2)
    dev.cut_at = 0
    dev.torn = True
    assert _dead(dev, dev.writeblocks, 1, b"\x12" * 100, 0) is not None
    assert dev.data[4096:4146] == b"\x12" * 50 and dev.data[4146:4196] == b"\xff" * 50


def test_journal_replays_the_image_and_files_keep_it():
    dev = NorFlash(2)
    base = bytearray(dev.data)
    dev.journal = []
    dev.writeblocks(0, b"\x5a" * 600, 100)
    dev.ioctl(6, 0)
    dev.writeblocks(1, b"\xa5" * 40, 8)
    kinds = [j[0] for j in dev.journal]
    assert kinds == [PROGRAM, PROGRAM, PROGRAM, ERASE, PROGRAM]
    for kind, addr, buf in dev.journal:
        apply(base, kind, addr, buf)
    assert base == dev.data
    path = "/tmp/norflash_test.img"
    dev.save(path)
    again = NorFlash.load(path)
    assert again.data == dev.data and again.num_blocks == 2 and again.ops == 0
    c = again.copy()
    c.ioctl(6, 1)
    assert again.data == dev.data and c.data[4096:] == b"\xff" * 4096


def test_littlefs_on_it_keeps_the_old_or_the_new_file():
    if sys.implementation.name != "micropython":
        return  # vfs.VfsLfs2 is the unix port's
    import vfs

    dev = NorFlash(16)
    vfs.VfsLfs2.mkfs(dev, progsize=256)
    vfs.mount(vfs.VfsLfs2(dev, progsize=256, mtime=False), "/nor")
    with open("/nor/f", "wb") as f:
        f.write(b"old" * 500)
    vfs.umount("/nor")
    start = dev.ops
    ends = 0
    for torn in (False, True):
        n = start
        while True:  # a cut at every operation of a rewrite
            d = NorFlash(16, data=bytearray(dev.data))
            d.ops = start
            d.cut_at = n
            d.torn = torn
            vfs.mount(vfs.VfsLfs2(d, progsize=256, mtime=False), "/nor")
            try:
                with open("/nor/f", "wb") as f:
                    f.write(b"new" * 700)
                done = True
            except OSError:
                done = False
            vfs.umount("/nor")
            b = d.copy()
            vfs.mount(vfs.VfsLfs2(b, progsize=256, mtime=False), "/nor")
            with open("/nor/f", "rb") as f:
                got = f.read()
            vfs.umount("/nor")
            assert got in (b"old" * 500, b"new" * 700), (n, torn, got[:10])
            if done:
                break
            n += 1
        ends += 1
        assert n > start + 3  # several operations were cut
    assert ends == 2
