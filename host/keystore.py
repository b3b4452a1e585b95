"""The host's keystore: each device's secret key, by device id.

A JSON file readable only by its owner (mode 0600): ~/.config/podctl/keys.json,
or the file named by PODCTL_KEYSTORE. podctl flash adds a device's key when
it provisions it; logs verify and every authenticated command read it. A key
is never printed or logged.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from host.errors import BadInput


def path() -> Path:
    env = os.environ.get("PODCTL_KEYSTORE")
    if env:
        return Path(env)
    return Path.home() / ".config" / "podctl" / "keys.json"


def _read(p: Path) -> dict[str, str]:
    if not p.exists():
        return {}
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        raise BadInput(f"{p}: keystore is readable by others (mode {mode:o}): chmod 600 {p}")
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f"{p}: keystore unreadable: {e}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{p}: keystore is not a JSON object of device id -> key")
    return data


def device_key(device_id: str, keystore: Path | None = None) -> bytes:
    p = keystore or path()
    data = _read(p)
    if device_id not in data:
        raise BadInput(f"no key for device {device_id} in {p}: flash it with podctl flash, or give --keystore")
    try:
        key = bytes.fromhex(data[device_id])
    except ValueError:
        raise BadInput(f"{p}: key of {device_id} is not hex") from None
    if len(key) != 32:
        raise BadInput(f"{p}: key of {device_id} is {len(key)} bytes, not 32")
    return key


def add(device_id: str, key: bytes, keystore: Path | None = None) -> Path:
    """Store a device's key (creating the file with mode 0600)."""
    p = keystore or path()
    data = _read(p)
    data[device_id] = key.hex()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, p)
    return p
