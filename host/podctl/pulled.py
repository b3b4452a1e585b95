"""A pulled log as one object: the raw log, its manifest (typed), the
device's seal (its signed end of the log), the profile the device ran, and
the blocks found in it, read lazily.

  p = podctl.open_pulled("build/pulled")        # a folder, or its log.bin
  p.manifest.device_id, p.manifest.log.last_seq
  p.blocks                                      # BlockInfo list (no key)
  p.data()                                      # samples and events, decoded

Everything read from disk is checked here, once: a file that is not a
regular file (/dev/zero), an empty log, a manifest that is not JSON, too
deep, too big, or has a field of the wrong type or range is refused with a
BadInput naming the file and the field, so no command goes on to crash on
it. What the manifest says is unauthenticated: podctl.verify decides what
it may and may not prove.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podctl.blocks import BlockInfo, Finding, walk
from podctl.errors import BadInput
from podctl.seal import SEAL_NAME, Seal
from protocol import log

FORMAT = "podctl-log-manifest/1"
LOG_NAME = "log.bin"
PROFILE_NAME = "profile.bin"
MANIFEST_MAX = 1 << 20  # a manifest is a few hundred bytes; refuse a huge one unread
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Anchor:
    """The pull's clock reading: at host UTC `utc`, boot `boot` of the
    device had been up `uptime` seconds. A record of when the host pulled,
    unauthenticated: no time of the log is derived from it (UTC comes from
    the log's TIME_SET events, SPEC 7.8)."""

    boot: int
    uptime: int
    utc: float


@dataclass(frozen=True)
class LogEnd:
    """What the pull recorded about the log: its size and hash, and the
    first and last block as the device reported them (LOG_INFO)."""

    size: int  # bytes
    sha256: str
    first_seq: int
    last_seq: int
    last_mac: bytes


@dataclass(frozen=True)
class Manifest:
    device_id: str
    fw_version: str
    fw_hash: str
    profile_ident: int | None
    source: str  # "pull PORT", "extract IMAGE", "sim SCENARIO"
    log: LogEnd
    anchor: Anchor | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "device_id": self.device_id,
            "fw_version": self.fw_version,
            "fw_hash": self.fw_hash,
            "profile_ident": None if self.profile_ident is None else f"{self.profile_ident:08x}",
            "source": self.source,
            "log": {
                "bytes": self.log.size,
                "sha256": self.log.sha256,
                "first_seq": self.log.first_seq,
                "last_seq": self.log.last_seq,
                "last_mac": self.log.last_mac.hex(),
            },
            "anchor": None
            if self.anchor is None
            else {"boot": self.anchor.boot, "uptime": self.anchor.uptime, "utc": self.anchor.utc},
        }

    @classmethod
    def of_log(
        cls,
        raw: bytes,
        *,
        device_id: str,
        fw_version: str,
        fw_hash: str,
        profile_ident: int | None,
        source: str,
        anchor: Anchor | None = None,
        ends: tuple[int, int, bytes] | None = None,
    ) -> Manifest:
        """The manifest of raw: its size and hash, and its end as the device
        reported it (ends: first seq, last seq, last MAC), or, for a log the
        device cannot report on (a flash image, a simulation), as the log
        itself shows it."""
        import hashlib

        if ends is None:
            from podctl.blocks import log_ends

            ends = log_ends(raw, walk(raw)[0]) or (0, 0, bytes(log.MAC_LEN))
        first, last, mac = ends
        return cls(
            device_id,
            fw_version,
            fw_hash,
            profile_ident,
            source,
            LogEnd(len(raw), hashlib.sha256(raw).hexdigest(), first, last, bytes(mac)),
            anchor,
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def parse(cls, doc: Any, where: Path | str = "manifest") -> Manifest:
        """A manifest from its JSON document; BadInput naming the field
        that is missing or of the wrong type or range."""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise BadInput(f"{where}: not a podctl log manifest (format {FORMAT})")
        f = _Fields(doc, where)
        lg = _Fields(f.get("log", dict), f"{where}: log")
        a = doc.get("anchor")
        anchor = None
        if a is not None:
            af = _Fields(f.get("anchor", dict), f"{where}: anchor")
            anchor = Anchor(af.integer("boot", 0xFFFF), af.integer("uptime", _U32), af.utc("utc"))
        ident = doc.get("profile_ident")
        if ident is not None:
            ident = f.hex_int("profile_ident")
        return cls(
            device_id=f.text("device_id", empty=False),
            fw_version=f.text("fw_version"),
            fw_hash=f.text("fw_hash"),
            profile_ident=ident,
            source=f.text("source"),
            log=LogEnd(
                size=lg.integer("bytes", 1 << 48),
                sha256=lg.hex("sha256", 32),
                first_seq=lg.integer("first_seq", _U32),
                last_seq=lg.integer("last_seq", _U32),
                last_mac=bytes.fromhex(lg.hex("last_mac", log.MAC_LEN)),
            ),
            anchor=anchor,
        )


class _Fields:
    """Typed reads of one JSON object, each refusal naming the field."""

    def __init__(self, doc: Any, where: Path | str):
        self.doc, self.where = doc, where

    def _bad(self, name: str, want: str) -> BadInput:
        got = self.doc.get(name, None) if isinstance(self.doc, dict) else None
        shown = "missing" if name not in self.doc else f"{type(got).__name__} {str(got)[:40]!r}"
        return BadInput(f"{self.where}: field {name!r} must be {want}, not {shown}: "
                        "the manifest is damaged; pull the log again")

    def get(self, name: str, kind: type) -> Any:
        v = self.doc.get(name)
        if not isinstance(v, kind):
            raise self._bad(name, f"a {'JSON object' if kind is dict else kind.__name__}")
        return v

    def integer(self, name: str, most: int) -> int:
        v = self.doc.get(name)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= most:
            raise self._bad(name, f"an integer 0..{most}")
        return v

    def utc(self, name: str) -> float:
        v = self.doc.get(name)
        # UTC seconds up to the year 2106 (the device's 32-bit clock)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= _U32 \
                or not math.isfinite(v):
            raise self._bad(name, "UTC seconds (a number 0..4294967295)")
        return float(v)

    def text(self, name: str, empty: bool = True) -> str:
        v = self.doc.get(name)
        if not isinstance(v, str) or (not empty and not v) or len(v) > 200:
            raise self._bad(name, "a short text" if empty else "a non-empty text")
        return v

    def hex(self, name: str, nbytes: int) -> str:
        v = self.doc.get(name)
        try:
            ok = isinstance(v, str) and len(bytes.fromhex(v)) == nbytes
        except ValueError:
            ok = False
        if not ok:
            raise self._bad(name, f"{nbytes} bytes in hex")
        return str(v)

    def hex_int(self, name: str) -> int:
        return int(self.hex(name, 4), 16)


def read_manifest(path: Path) -> Manifest:
    return Manifest.parse(_read_json(path), path)


def _read_json(path: Path) -> Any:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(f"{path}: not a regular file: give the manifest logs pull wrote")
        if st.st_size > MANIFEST_MAX:
            raise BadInput(f"{path}: {st.st_size} bytes is no manifest (they are under 1 KiB)")
        text = path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read the manifest: {e.strerror}") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadInput(f"{path}: manifest is nested too deep to be one") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: manifest is not JSON: {e}") from None


def _log_file(path: Path) -> os.stat_result:
    """BadInput unless path is a regular file (not a folder, not a device
    such as /dev/zero, not a pipe)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise BadInput(f"{path}: cannot read the log: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise BadInput(f"{path}: is a folder with no {LOG_NAME} in it")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{path}: not a regular file (a device or a pipe): give a pulled log file")
    if st.st_size == 0:
        raise BadInput(f"{path}: empty file, no log blocks: pull the log again")
    return st


def read_log(path: Path, st: os.stat_result | None = None) -> bytes:
    """The raw log. BadInput when it is missing, not a regular file, or empty
    (st: the file's _log_file check, when the caller made it already)."""
    st = _log_file(path) if st is None else st
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read the log: {e.strerror}") from None
    except MemoryError:
        raise BadInput(f"{path}: {st.st_size} bytes do not fit in memory") from None
    if not raw:
        raise BadInput(f"{path}: empty file, no log blocks: pull the log again")
    return raw


def manifest_beside(log_path: Path) -> Path:
    """The manifest's place: LOG.manifest.json next to LOG."""
    return log_path.with_name(log_path.name + ".manifest.json")


@dataclass
class Pulled:
    """One pulled log. `blocks` and `walk_findings` are the key-less walk,
    made on first use; podctl.verify(pulled, keys) checks the MAC chain."""

    log_path: Path
    raw: bytes
    manifest: Manifest | None
    manifest_path: Path
    profile: bytes | None = None
    seal: Seal | None = None  # the device's signed end (seal.bin), if the pull got one
    _walk: tuple[list[BlockInfo], list[Finding]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.log_path)

    def _walked(self) -> tuple[list[BlockInfo], list[Finding]]:
        if self._walk is None:
            self._walk = walk(self.raw)
        return self._walk

    @property
    def blocks(self) -> list[BlockInfo]:
        return self._walked()[0]

    @property
    def walk_findings(self) -> list[Finding]:
        return self._walked()[1]

    def data(self, blocks: list[BlockInfo] | None = None):
        """The samples and events, decoded with UTC (podctl.logdata.LogData):
        UTC from the log's own TIME_SET events, never the manifest's anchor.
        blocks: a verdict's (podctl.verify walked them already), else the
        key-less walk's."""
        from podctl import logdata

        return logdata.load(self.raw, self.blocks if blocks is None else blocks)


def open_pulled(
    path: str | os.PathLike[str],
    manifest: str | os.PathLike[str] | None = None,
    *,
    require_manifest: bool = False,
) -> Pulled:
    """Open a pulled log: PATH is the folder `logs pull` wrote or the log
    file itself; the manifest is LOG.manifest.json beside it unless given.
    A manifest that is there but cannot be read is refused (never ignored)."""
    p = Path(path)
    if p.is_dir():
        if not (p / LOG_NAME).exists():
            raise BadInput(f"{p}: is a folder with no {LOG_NAME} in it: give the log file "
                           "or the folder logs pull wrote")
        p = p / LOG_NAME
    where = Path(manifest) if manifest is not None else manifest_beside(p)
    st = _log_file(p)  # before the manifest: a missing log is the first thing to say
    m: Manifest | None = None
    if manifest is not None or where.exists():
        m = read_manifest(where)
    elif require_manifest:
        raise BadInput(
            f"{p}: no manifest at {where}: give the one `logs pull` wrote (--manifest), "
            "the device's account of the log's end"
        )
    raw = read_log(p, st)
    if m is None and raw[:4] != log.MAGIC:
        raise BadInput(
            f"{p}: not a podctl log (it does not start with a block: magic {raw[:4].hex()}, "
            f"want {log.MAGIC.hex()} {log.MAGIC.decode()})"
        )
    seal_path = p.with_name(SEAL_NAME)
    seal = Seal.read(seal_path) if seal_path.exists() else None
    prof_path = p.with_name(PROFILE_NAME)
    profile = None
    if prof_path.is_file():
        try:
            profile = prof_path.read_bytes()
        except OSError:
            profile = None
    return Pulled(p, raw, m, where, profile, seal)
