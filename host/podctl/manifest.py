"""The manifest saved beside a pulled log, as the commands that write it
(logs pull, logs extract, sim run) make it. The type and its strict
reading are podctl.pulled.Manifest; this is the dict-shaped face of it.

A hash chain cannot see a dropped tail, so the manifest records the last
block's sequence number and MAC as the device reported them (LOG_INFO),
and the SHA-256 of the raw bytes; podctl.verify checks the log against
both. The anchor (host UTC at a known device uptime) lets the decoder put
UTC on a boot that never had its clock set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podctl.pulled import FORMAT, Anchor, LogEnd, Manifest, manifest_beside, read_manifest

__all__ = ["FORMAT", "anchor", "beside", "make", "read", "write"]


def make(
    *,
    device_id: str,
    fw_version: str,
    fw_hash: str,
    profile_ident: int | None,
    log_sha256: str,
    log_bytes: int,
    first_seq: int,
    last_seq: int,
    last_mac: bytes,
    anchor: Anchor | None,
    source: str,
) -> dict[str, Any]:
    return Manifest(
        device_id, fw_version, fw_hash, profile_ident, source,
        LogEnd(log_bytes, log_sha256, first_seq, last_seq, bytes(last_mac)), anchor,
    ).to_json()


def write(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def read(path: Path) -> dict[str, Any]:
    """The manifest at path, checked field by field (BadInput if any is
    wrong), as its JSON document."""
    return read_manifest(path).to_json()


def anchor(m: dict[str, Any]) -> Anchor | None:
    return Manifest.parse(m).anchor


beside = manifest_beside
