"""The log of a board that no longer boots, read out of a raw image of its
flash (littlefs, as dumped from the chip or written by `podctl sim run`).

  got = podctl.extract.from_image(Path("dump.img"))
  got.raw, got.manifest, got.identity_ok

The image may be the filesystem alone or a whole chip: a 2 MiB dump of a
Pico holds the firmware first and the littlefs at the RPI_PICO filesystem
offset (0xA0000, its last 1408 KiB). The filesystem is looked for at the
offset given, else at 0, at 0xA0000, then at every 4 KiB block holding a
littlefs superblock; its size is the superblock's block count.

The manifest takes the log's end from the log itself: the board cannot
report it, so a verify of an extracted log proves the chain, not that no
block was lost at the end. Library code: BadInput for an image it cannot
read, nothing printed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from podctl.errors import BadInput
from podctl.pulled import Manifest
from protocol import log
from protocol import profile as pf
from protocol.frame import crc32

PICO_FS_OFFSET = 0xA0000  # RPI_PICO: 2 MiB of flash, the littlefs in its last 1408 KiB
BLOCK = 4096


@dataclass
class Extracted:
    raw: bytes
    manifest: Manifest
    identity_ok: bool  # the identity record was there and intact
    profile: bytes | None


def _record(files: dict[str, bytes], name: str) -> bytes | None:
    """A firmware/storefile.py record's body (body + CRC-32 LE), or None."""
    data = files.get(name)
    if data is None or len(data) < 4:
        return None
    body = data[:-4]
    return body if crc32(body) == struct.unpack("<I", data[-4:])[0] else None


def _device_name(raw_id: bytes) -> str:
    text = raw_id.rstrip(b"\x00")
    if text and all(0x21 <= c < 0x7F for c in text):
        return text.decode()
    return raw_id.hex()


def _fw_version(raw: bytes) -> str:
    """The firmware version of the newest BOOT event, or "unknown"."""
    from podctl.blocks import walk

    for b in reversed(walk(raw)[0]):
        if b.seq is None or b.kind != log.KIND_EVENTS:
            continue
        blk = log.parse_block(raw, b.offset)
        if not isinstance(blk, log.Block):
            continue
        boots = [e for e in log.events(raw, blk) if e[1] == log.EV_BOOT]
        if boots:
            v = boots[-1][4]
            return f"{v >> 16 & 0xFF}.{v >> 8 & 0xFF}.{v & 0xFF}"
    return "unknown"


def _fs_at(image: bytes, off: int) -> bytes | None:
    """The littlefs starting at off, as many blocks as its superblock
    says (the superblock is in the first block or, mid-compaction, only in
    the second), or None."""
    for sb in (off, off + BLOCK):
        if 0 <= sb and image[sb + 8 : sb + 16] == b"littlefs":
            size, count = struct.unpack_from("<II", image, sb + 24)
            if size == BLOCK and count and off + count * size <= len(image):
                return image[off : off + count * size]
    return None


def locate(image: bytes, offset: int | None = None) -> tuple[bytes, int]:
    """(the filesystem's bytes, where they start in image): at offset if
    given, else found (see the module's docstring). Raises ImageError."""
    from sim import flashimage

    if offset is not None:
        fs = _fs_at(image, offset)
        if fs is None:
            raise flashimage.ImageError(f"no littlefs filesystem at offset {offset:#x}")
        flashimage.files(fs)  # it mounts, or ImageError says why
        return fs, offset
    if not image or len(image) % BLOCK:
        flashimage.files(image)  # ImageError: not a whole number of blocks
    found = [b * BLOCK for b in range(len(image) // BLOCK)
             if image[b * BLOCK + 8 : b * BLOCK + 16] == b"littlefs"]
    tried = set()
    for off in [0, PICO_FS_OFFSET] + [o for f in found for o in (f, f - BLOCK)]:
        if off in tried or off < 0:
            continue
        tried.add(off)
        fs = _fs_at(image, off)
        if fs is None:
            continue
        try:
            flashimage.files(fs)
        except flashimage.ImageError:
            continue
        return fs, off
    raise flashimage.ImageError(
        "no littlefs filesystem found (not at 0, not at the RPI_PICO filesystem offset "
        f"{PICO_FS_OFFSET:#x}, in no 4 KiB block a superblock that mounts): give its --offset"
    )


def from_image(path: Path, offset: int | None = None) -> Extracted:
    """The log and records of the littlefs in the image at path (at offset,
    or found: locate())."""
    from sim import flashimage

    try:
        image = path.read_bytes()
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, not a flash image") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read the image: {e.strerror}") from None
    try:
        image, at = locate(image, offset)
        files = flashimage.files(image)
        raw = flashimage.log_bytes(image)
    except flashimage.ImageError as e:
        raise BadInput(f"{path}: {e}") from None
    # the device id (16 bytes; 8 from an older podctl) and the 32-byte key: never shown
    ident = _record(files, "identity")
    ok = ident is not None and len(ident) in (40, 48)
    prof = _record(files, "profile")
    m = Manifest.of_log(
        raw,
        device_id=_device_name(ident[:-32]) if ident is not None and ok else "unknown",
        fw_version=_fw_version(raw),
        fw_hash="",
        profile_ident=pf.ident(prof) if prof is not None and len(prof) > 4 else None,
        source=(f"extract {path}" + (f" at {at:#x}" if at else ""))[:200],
    )
    return Extracted(raw, m, ok, prof)
