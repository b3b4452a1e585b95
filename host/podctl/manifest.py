"""The manifest beside a pulled log as its JSON document, for scripts that
want the dict: the type, its strict reading and its writing are
podctl.pulled.Manifest (Manifest.of_log, Manifest.write).

The manifest is not authenticated: podctl.verify trusts the device's seal
for where the log ends, and the manifest only for the file's hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podctl.pulled import Anchor, Manifest, manifest_beside, read_manifest

__all__ = ["anchor", "beside", "read"]


def read(path: Path) -> dict[str, Any]:
    """The manifest at path, checked field by field (BadInput if any is
    wrong), as its JSON document."""
    return read_manifest(path).to_json()


def anchor(m: dict[str, Any]) -> Anchor | None:
    return Manifest.parse(m).anchor


beside = manifest_beside
