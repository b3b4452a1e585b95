"""The firmware as a ROMFS image, and the unix port run with it outside the heap.

On a board with ROMFS (MicroPython 1.25 on; the rp2 port has VfsRom, and
its ROMFS partition is a build option, MICROPY_HW_ROMFS_BYTES) the
precompiled firmware sits in a read-only flash partition that
the CPU maps into its address space, and bytecode, strings and bytes
constants are used where they lie: only the objects a module creates when it
runs (functions, classes, tables, dictionaries) take heap. That is how the
firmware fits a 64 KiB heap (tests/test_firmware_heap.py).

The unix port has VfsRom but no flash: `python -m podctl.romfs IMAGE ARGS...`
maps IMAGE into the process read-only, as the board maps its partition,
names its address in PODCTL_ROMFS, and runs the same micropython binary with
ARGS. Scripts mount it with mount() below (the board's port does that at
boot), so `-X heapsize=64K` measures the heap alone, as on the board.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mpremote.romfs import VfsRomWriter

from podctl import bundle
from sim import upy

ENV = "PODCTL_ROMFS"

# Board side, run by a script before it imports the firmware: mount the
# image at /rom and put it first on the path, as the port does at boot.
MOUNT = """
import os, sys, uctypes, vfs
_r = os.getenv("PODCTL_ROMFS").split(":")
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(int(_r[0]), int(_r[1]))), "/rom")
sys.path.insert(0, "/rom")
del _r
"""


def image(tree: Path) -> bytes:
    """A ROMFS image of a folder (of .mpy files), in mpremote's format."""
    w = VfsRomWriter()

    def walk(d: Path) -> None:
        for p in sorted(d.iterdir()):
            if p.is_dir():
                w.opendir(p.name)
                walk(p)
                w.closedir()
            else:
                w.mkfile(p.name, p.read_bytes())

    walk(tree)
    return bytes(w.finalise())


def firmware_image(extra: Sequence[tuple[Path, list[Path]]] = ()) -> bytes:
    """The firmware bundle (protocol/ and firmware/) precompiled for the unix
    port, plus (base, files) pairs of extra modules, as one image."""
    with tempfile.TemporaryDirectory() as d:
        bundle.compile_tree(Path(d), bundle.sources())
        for base, files in extra:
            bundle.compile_tree(Path(d), files, base=base)
        return image(Path(d))


def run(image: Path, script: str, *args: str, heapsize: str | None = None,
        cwd: Path | None = None, timeout: float = 600) -> upy.Result:
    """Run source text under the micropython binary with image mapped and
    mounted at /rom (first on the path); the frozen modules stay reachable."""
    cmd = [sys.executable, "-m", "podctl.romfs", str(image)]
    if heapsize:
        cmd += ["-X", f"heapsize={heapsize}"]
    cmd += ["-c", MOUNT + script, *args]
    env = dict(os.environ, MICROPYPATH=".frozen", PYTHONPATH=str(upy.ROOT))
    p = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=cwd or upy.ROOT, timeout=timeout
    )
    return upy.Result(p.returncode, p.stdout, p.stderr)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m podctl.romfs IMAGE [micropython args...]", file=sys.stderr)
        return 2
    import micropython_run  # the binary's interpreter, as a CPython extension

    try:
        with open(argv[0], "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError) as e:  # absent, unreadable, or empty
        print(
            f"podctl.romfs: cannot map {argv[0]}: {e};"
            " build one with podctl.romfs.firmware_image()",
            file=sys.stderr,
        )
        return 2
    # ACCESS_COPY so ctypes can take its address; nothing writes to it
    addr = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
    os.environ[ENV] = f"{addr}:{len(mapped)}"
    return int(micropython_run.run_main(["micropython", *argv[1:]]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
