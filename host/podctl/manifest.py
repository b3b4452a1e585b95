"""The manifest saved beside a pulled log: who the log is from and what the
device said about its end when it was pulled.

A hash chain cannot see a dropped tail, so the manifest records the last
block's sequence number and MAC as the device reported them (STATUS /
LOG_INFO), and the SHA-256 of the raw bytes; logs verify checks the log
against both. The anchor (host UTC at a known device uptime) lets the
decoder put UTC on a boot that never had its clock set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from podctl.errors import BadInput
from podctl.logdata import Anchor

FORMAT = "podctl-log-manifest/1"


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
    return {
        "format": FORMAT,
        "device_id": device_id,
        "fw_version": fw_version,
        "fw_hash": fw_hash,
        "profile_ident": None if profile_ident is None else f"{profile_ident:08x}",
        "source": source,  # "pull PORT", "extract IMAGE", "sim SCENARIO"
        "log": {
            "bytes": log_bytes,
            "sha256": log_sha256,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "last_mac": last_mac.hex(),
        },
        "anchor": None
        if anchor is None
        else {"boot": anchor.boot, "uptime": anchor.uptime, "utc": anchor.utc},
    }


def write(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def read(path: Path) -> dict[str, Any]:
    try:
        m = json.loads(path.read_text())
    except OSError as e:
        raise BadInput(f"{path}: cannot read the manifest: {e.strerror}") from None
    except ValueError as e:
        raise BadInput(f"{path}: manifest is not JSON: {e}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise BadInput(f"{path}: not a podctl log manifest (format {FORMAT})")
    return m


def anchor(m: dict[str, Any]) -> Anchor | None:
    a = m.get("anchor")
    return None if not a else Anchor(int(a["boot"]), int(a["uptime"]), float(a["utc"]))


def beside(log_path: Path) -> Path:
    """The manifest's conventional place: LOG.manifest.json next to LOG."""
    return log_path.with_name(log_path.name + ".manifest.json")
