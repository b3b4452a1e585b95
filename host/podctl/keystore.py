"""The host's keystore: each device's secret key, by device id.

A JSON file readable only by its owner (mode 0600): ~/.config/podctl/keys.json,
or the file named by PODCTL_KEYSTORE, mapping each device id to its keys,
oldest first (a lone string is a history of one). podctl flash writes a
device's first key when it provisions it; podctl key rotate appends the next;
authenticated commands use the newest, logs verify the whole history (a log
spans its rotations). A key is never printed or logged.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from podctl.errors import BadInput


def path() -> Path:
    env = os.environ.get("PODCTL_KEYSTORE")
    if env:
        return Path(env)
    return Path.home() / ".config" / "podctl" / "keys.json"


def _read(p: Path) -> dict[str, Any]:
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


def read_key_file(p: Path) -> bytes:
    """A device key given as a file of 32 raw bytes (sim run's key.bin)."""
    try:
        key = p.read_bytes()
    except OSError as e:
        raise BadInput(f"{p}: cannot read the key: {e.strerror}") from None
    if len(key) != 32:
        raise BadInput(f"{p}: a device key is 32 raw bytes, this file has {len(key)}: give the 32 bytes as sim run writes them (key.bin)")
    return key


def device_keys(device_id: str, keystore: Path | None = None) -> list[bytes]:
    """The device's keys, oldest first."""
    p = keystore or path()
    data = _read(p)
    if device_id not in data:
        raise BadInput(f"no key for device {device_id} in {p}: flash it with podctl flash, or give --keystore")
    entry = data[device_id]
    history = entry if isinstance(entry, list) else [entry]
    keys = []
    for text in history:
        try:
            key = bytes.fromhex(text)
        except (TypeError, ValueError):
            raise BadInput(f"{p}: a key of {device_id} is not hex") from None
        if len(key) != 32:
            raise BadInput(f"{p}: a key of {device_id} is {len(key)} bytes, not 32")
        keys.append(key)
    if not keys:
        raise BadInput(f"{p}: device {device_id} has an empty key history")
    return keys


def device_key(device_id: str, keystore: Path | None = None) -> bytes:
    """The key in force: the newest."""
    return device_keys(device_id, keystore)[-1]


def _write(p: Path, data: dict) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, p)
    return p


def add(device_id: str, key: bytes, keystore: Path | None = None) -> Path:
    """A provisioned device's first key (creating the file with mode 0600)."""
    p = keystore or path()
    data = _read(p)
    data[device_id] = [key.hex()]
    return _write(p, data)


def append(device_id: str, key: bytes, keystore: Path | None = None) -> Path:
    """The next key of a device (before it is sent: a key is never lost)."""
    p = keystore or path()
    data = _read(p)
    old: Any = data.get(device_id, [])
    data[device_id] = (old if isinstance(old, list) else [old]) + [key.hex()]
    return _write(p, data)


def drop_newest(device_id: str, keystore: Path | None = None) -> None:
    """Take back a key the device refused."""
    p = keystore or path()
    data = _read(p)
    entry = data.get(device_id)
    if isinstance(entry, list) and len(entry) > 1:
        entry.pop()
        _write(p, data)
