"""The board's flash image on the host (CPython, littlefs-python): read the
log and the stored records out of a raw image -- one the simulator wrote, or
one dumped from a board that no longer boots -- and build an image from a
folder (the in-process engine's flash).

Geometry: the Pico's 4 KiB x 352 blocks, as sim/flashdev.py formats it.
"""

from __future__ import annotations

from pathlib import Path

from littlefs import LittleFS

from sim.flashdev import BLOCK_COUNT, BLOCK_SIZE

LOG_DIR = "log"


class ImageError(ValueError):
    """An image that cannot be read as the board's littlefs; one line."""


def _mount(data: bytes) -> LittleFS:
    if len(data) % BLOCK_SIZE or not data:
        raise ImageError(
            f"{len(data)} bytes is not a whole number of {BLOCK_SIZE}-byte flash blocks"
        )
    fs = LittleFS(block_size=BLOCK_SIZE, block_count=len(data) // BLOCK_SIZE, mount=False)
    fs.context.buffer[:] = data
    try:
        fs.mount()
    except Exception as e:  # littlefs-python raises LittleFSError subclasses
        raise ImageError(f"no littlefs filesystem found ({e})") from None
    return fs


def files(image: bytes) -> dict[str, bytes]:
    """Every file in the image, by path."""
    fs = _mount(image)
    out: dict[str, bytes] = {}
    for root, _dirs, names in fs.walk("/"):
        for n in names:
            p = f"{root.rstrip('/')}/{n}".lstrip("/")
            with fs.open(p, "rb") as f:
                out[p] = f.read()
    return out


def log_segments(image: bytes) -> list[tuple[str, bytes]]:
    """The log's segment files oldest first (named by their first block's
    sequence number)."""
    got = files(image)
    segs = sorted(
        (p.split("/")[-1], b)
        for p, b in got.items()
        if p.startswith(LOG_DIR + "/") and p.split("/")[-1].isdigit()
    )
    return segs


def log_bytes(image: bytes) -> bytes:
    """The whole log as one stream, as LOG_READ would deliver it."""
    return b"".join(b for _, b in log_segments(image))


def build(folder: Path) -> bytes:
    """A littlefs image holding folder's files (the CPython engine's flash)."""
    fs = LittleFS(block_size=BLOCK_SIZE, block_count=BLOCK_COUNT)
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_dir():
            fs.makedirs(rel, exist_ok=True)
        else:
            with fs.open(rel, "wb") as f:
                f.write(p.read_bytes())
    return bytes(fs.context.buffer)
