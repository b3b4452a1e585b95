"""`podctl flash` cut at every flash operation (issue 16): the board must
boot the old bundle or the new one, never a mix.

The deploy is host/podctl/flash_cmd.py's own (deploy(), then
record_reset()), driven through a model of mpremote's transport over the
board's littlefs (littlefs-python, the Pico's geometry as sim/flashdev.py
formats it: the image the virtual board and `logs extract` read). Every
operation that writes the flash counts (a folder made or removed, a file
opened, each 1 KiB piece written, a file closed, renamed or removed); a cut
at operation k lets the first k happen and then takes the flash as it is:
a file open and not closed is what littlefs holds of it then (its entry,
none of its data). Each cut image is then booted: the modules the board's
/main.py would import are resolved as MicroPython's importer does (the
folders on sys.path in order, a package's submodules in its own folder
only, a folder before NAME.py before NAME.mpy), and each module's bytes
are compared with the old bundle's and the new one's. Both ways in are
swept: a board of the layout before the slots (the bundle straight in
/lib), and one with the old bundle in a slot and a cut deploy's leftovers
in the spare one. After every cut, podctl flash run again must finish the
job (the new bundle in force).

  python -m tests.deploy_cuts          prints the figures
  bench_figures()                      {"rp2hal_deploy_cuts": N, "rp2hal_deploy_mixed": M}
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections import namedtuple
from pathlib import Path

from littlefs import LittleFS
from littlefs.errors import LittleFSError
from rich.console import Console

from podctl import bundle, flash_cmd
from sim.flashdev import BLOCK_COUNT, BLOCK_SIZE

Entry = namedtuple("Entry", ["name", "st_mode", "st_ino", "st_size"])  # mpremote's listdir_result
_RENAME = re.compile(r"^import os\nos\.rename\('/([^']*)', '/([^']*)'\)$")
_STATVFS = "__import__('os').statvfs('/')"


class Cut(Exception):
    """The power went: the flash holds what the operations before it wrote."""


def _mount(image: bytes) -> LittleFS:
    fs = LittleFS(block_size=BLOCK_SIZE, block_count=BLOCK_COUNT, mount=False)
    fs.context.buffer[:] = image
    fs.mount()
    return fs


def blank() -> bytes:
    return bytes(LittleFS(block_size=BLOCK_SIZE, block_count=BLOCK_COUNT).context.buffer)


class Board:
    """mpremote's transport operations, as podctl flash uses them, on a
    littlefs image. cut_at: the number of flash-writing operations that
    happen before the power goes (None: never)."""

    def __init__(self, image: bytes, cut_at: int | None = None):
        self.fs = _mount(image)
        self.cut_at = cut_at
        self.writes = 0
        self.cut_image: bytes | None = None
        self.switch_at: int | None = None  # the write that renames /main.py into place

    def _write(self) -> None:
        if self.cut_at is not None and self.writes >= self.cut_at:
            self.cut_image = bytes(self.fs.context.buffer)
            raise Cut()
        self.writes += 1

    @property
    def image(self) -> bytes:
        return bytes(self.fs.context.buffer)

    # reads

    def fs_stat(self, path: str):
        try:
            return self.fs.stat(path.lstrip("/"))
        except LittleFSError:
            raise OSError(2, path) from None

    def fs_exists(self, path: str) -> bool:
        try:
            self.fs_stat(path)
            return True
        except OSError:
            return False

    def fs_readfile(self, path: str, chunk_size: int = 256) -> bytes:
        try:
            with self.fs.open(path.lstrip("/"), "rb") as f:
                return f.read()
        except LittleFSError:
            raise OSError(2, path) from None

    def fs_hashfile(self, path: str, algo: str, chunk_size: int = 256) -> bytes:
        return hashlib.new(algo, self.fs_readfile(path)).digest()

    def fs_listdir(self, path: str = "") -> list[Entry]:
        try:
            return [Entry(e.name, 0x4000 if e.type == 2 else 0x8000, 0, 0)
                    for e in self.fs.scandir(path.lstrip("/"))]
        except LittleFSError:
            raise OSError(2, path) from None

    def eval(self, expr: str):
        assert expr == _STATVFS, expr
        free = BLOCK_COUNT - self.fs.used_block_count
        return (BLOCK_SIZE, BLOCK_SIZE, BLOCK_COUNT, free, free, 0, 0, 0, 0, 255)

    # writes: each one a point where the power may go

    def fs_mkdir(self, path: str) -> None:
        self._write()
        self.fs.mkdir(path.lstrip("/"))

    def fs_rmdir(self, path: str) -> None:
        self._write()
        self.fs.rmdir(path.lstrip("/"))

    def fs_rmfile(self, path: str) -> None:
        self._write()
        self.fs.remove(path.lstrip("/"))

    def fs_writefile(self, path: str, data: bytes, chunk_size: int = 256) -> None:
        self._write()
        f = self.fs.open(path.lstrip("/"), "wb")
        for at in range(0, len(data), chunk_size):
            self._write()
            f.write(data[at : at + chunk_size])
        self._write()
        f.close()

    def exec(self, code: str) -> None:
        m = _RENAME.match(code)
        assert m, f"the model does not run {code!r}"
        self._write()
        if m.group(2) == "main.py":
            self.switch_at = self.writes - 1
        self.fs.rename(*m.groups())  # lfs_rename: over an existing file, atomically


# -- the two bundles ------------------------------------------------------------


def bundles(tmp: Path) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(old, new): new is this checkout's bundle as podctl flash makes it
    (source form); old differs in every file, has a module new dropped and
    lacks one new added."""
    new, _ = flash_cmd._files(False, tmp)
    old = [(p, b + b"\n# the old bundle\n") for p, b in new if p != "firmware/maintenance.py"]
    old.append(("firmware/retired.py", b"# a module the new bundle dropped\n"))
    return old, new


def _modules(files: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """{dotted module name: bytes}."""
    out = {}
    for p, b in files:
        name = p.rsplit(".", 1)[0].replace("/", ".").removesuffix(".__init__")
        out[name] = b
    return out


LEGACY_MAIN = (b"# podctl firmware entry (written by podctl flash)\nimport micropython\n\n"
               b"micropython.kbd_intr(-1)\nimport gc\n\ngc.threshold(2048)\n"
               b"from firmware import ram\n\nram.reserve()\n"
               b"from firmware.main import main\n\nmain()\n")


def legacy_board(old: list[tuple[str, bytes]]) -> bytes:
    """A board flashed before the slots: the bundle in /lib, its /main.py,
    the firmware's records."""
    fs = LittleFS(block_size=BLOCK_SIZE, block_count=BLOCK_COUNT)
    for p, b in old:
        fs.makedirs(str(Path("lib", p).parent), exist_ok=True)
        with fs.open(f"lib/{p}", "wb") as f:
            f.write(b)
    from protocol.frame import crc32

    boots = b"\x05\x00" + crc32(b"\x05\x00").to_bytes(4, "little")  # storefile: boot 5
    for name, data in (("main.py", LEGACY_MAIN), ("boots", boots), ("identity", b"\x01" * 52)):
        with fs.open(name, "wb") as f:
            f.write(data)
    return bytes(fs.context.buffer)


def _quiet() -> Console:
    return Console(file=io.StringIO())


def flash(image: bytes, files: list[tuple[str, bytes]], cut_at: int | None = None) -> Board:
    """podctl flash's writes (deploy, then the reset's record) on image,
    cut after cut_at of them (raises Cut, the board's .cut_image set)."""
    board = Board(image, cut_at)
    flash_cmd.deploy(board, files, _quiet())
    flash_cmd.record_reset(board)
    return board


def slotted_board(old: list[tuple[str, bytes]], new: list[tuple[str, bytes]]) -> bytes:
    """The old bundle in force in slot a (flashed over a legacy board), and
    in slot b what a deploy of the new one cut after 20 writes left."""
    image = flash(legacy_board(old), old).image
    board = Board(image, cut_at=20)
    try:
        flash_cmd.deploy(board, new, _quiet())
    except Cut:
        pass
    assert board.cut_image is not None
    return board.cut_image


# -- booting a flash image ------------------------------------------------------


def _find(fs: LittleFS, base: str, name: str) -> tuple[str, bool] | None:
    """MicroPython's stat order in one folder: NAME/ (a package), NAME.py,
    NAME.mpy. (path, is a package) or None."""
    stem = f"{base}/{name}".lstrip("/")
    for path, pkg in ((stem, True), (stem + ".py", False), (stem + ".mpy", False)):
        try:
            st = fs.stat(path)
        except LittleFSError:
            continue
        if (st.type == 2) == pkg:
            return path, pkg
    return None


def boot(image: bytes, old: list[tuple[str, bytes]], new: list[tuple[str, bytes]]) -> str:
    """What the board runs after a reset on image: "old", "new", or
    "mixed" (modules of both, or a module missing: it would not start)."""
    fs = _mount(image)
    try:
        with fs.open("main.py", "rb") as f:
            main_py = f.read()
    except LittleFSError:
        return "mixed"  # no /main.py: nothing runs (a flash never removes it)
    slot = bundle.slot_of(main_py)
    if main_py not in (LEGACY_MAIN, flash_cmd.board_main(0), flash_cmd.board_main(1)):
        return "mixed"  # a /main.py neither bundle's (a torn one, say)
    path = ([f"/{bundle.SLOTS[slot]}"] if slot is not None else []) + ["", "/lib"]
    olds, news = _modules(old), _modules(new)
    got = {}
    for name in set(olds) | set(news):
        parts = name.split(".")
        where = None
        for d in path:  # the package from the first folder on the path holding it
            where = _find(fs, d, parts[0])
            if where:
                break
        for part in parts[1:]:  # submodules in the package's own folder only
            if where is None or not where[1]:
                where = None
                break
            where = _find(fs, where[0], part)
        if where is None:
            got[name] = None
            continue
        target = where[0] + "/__init__.py" if where[1] else where[0]
        try:
            with fs.open(target, "rb") as f:
                got[name] = f.read()
        except LittleFSError:
            got[name] = None
    if all(got[n] == b for n, b in olds.items()):
        return "old"
    if all(got[n] == b for n, b in news.items()):
        return "new"
    return "mixed"


# -- the sweep ------------------------------------------------------------------


def sweep(image: bytes, old, new, every: int = 1) -> dict:
    """Cut podctl flash of new over image at every write (every: at every
    every-th, and at each of the ten around the switch); boot each cut,
    then flash again uncut and boot that."""
    whole = flash(image, new)
    writes, switch = whole.writes, whole.switch_at
    assert switch is not None
    ks = set(range(0, writes, every)) | set(range(max(0, switch - 5), min(writes, switch + 5)))
    got = {"writes": writes, "switch_at": switch, "cuts": 0, "old": 0, "new": 0, "mixed": 0,
           "again_not_new": 0, "mixed_at": [], "last_old": -1, "first_new": writes}
    for k in sorted(ks):
        board = Board(image, k)
        try:
            flash_cmd.deploy(board, new, _quiet())
            flash_cmd.record_reset(board)
        except Cut:
            pass
        assert board.cut_image is not None, k
        got["cuts"] += 1
        what = boot(board.cut_image, old, new)
        got[what] += 1
        if what == "mixed":
            got["mixed_at"].append(k)
        elif what == "old":
            got["last_old"] = max(got["last_old"], k)
        else:
            got["first_new"] = min(got["first_new"], k)
        if boot(flash(board.cut_image, new).image, old, new) != "new":
            got["again_not_new"] += 1
    return got


def run(every: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as d:
        old, new = bundles(Path(d))
    legacy = sweep(legacy_board(old), old, new, every)
    slotted = sweep(slotted_board(old, new), old, new, every)
    return {"legacy": legacy, "slotted": slotted}


def bench_figures() -> dict:
    got = run()
    return {
        "rp2hal_deploy_cuts": got["legacy"]["cuts"] + got["slotted"]["cuts"],
        "rp2hal_deploy_mixed": got["legacy"]["mixed"] + got["slotted"]["mixed"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
