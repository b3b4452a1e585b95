"""The host's keystore: each device's secret keys, by device id.

A JSON file readable only by its owner (mode 0600): ~/.config/podctl/keys.json,
or the file named by PODCTL_KEYSTORE, mapping each device id to its keys,
oldest first (a lone string is a history of one). The first `podctl flash`
of a blank device provisions it and writes its first key here; `podctl key
rotate` appends the next; authenticated commands use the newest, logs verify
the whole history (a log spans its rotations). A key is never printed or
logged.

    ks = Keystore()                  # PODCTL_KEYSTORE or ~/.config/podctl/keys.json
    ks.keys("POD1A2B3")              # [oldest, ..., newest]
    ks.key("POD1A2B3")               # the newest: the one in force
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from podctl.errors import BadInput


def default_path() -> Path:
    """The default keystore: PODCTL_KEYSTORE, else ~/.config/podctl/keys.json."""
    env = os.environ.get("PODCTL_KEYSTORE")
    if env:
        return Path(env)
    return Path.home() / ".config" / "podctl" / "keys.json"


path = default_path  # the name the log verbs call


class Keystore:
    """One keystore file. Every method reads the file afresh (another podctl
    may have rotated a key since) and writes it whole, atomically."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else default_path()

    def __repr__(self) -> str:
        return f"Keystore({str(self.path)!r})"

    def devices(self) -> list[str]:
        """The device ids that have keys here."""
        return sorted(self._read())

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._read()

    def keys(self, device_id: str) -> list[bytes]:
        """The device's keys, oldest first (BadInput if it has none here)."""
        p = self.path
        data = self._read()
        if device_id not in data:
            raise BadInput(
                f"no key for device {device_id} in {p}: a device's key is kept by the keystore "
                "of the computer whose `podctl flash` provisioned it (its first flash): "
                "give that keystore with --keystore or PODCTL_KEYSTORE"
            )
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

    def key(self, device_id: str) -> bytes:
        """The key in force: the newest."""
        return self.keys(device_id)[-1]

    def add(self, device_id: str, key: bytes) -> Path:
        """A provisioned device's first key (creating the file with mode 0600)."""
        data = self._read()
        data[device_id] = [_hex(key)]
        return self._write(data)

    def append(self, device_id: str, key: bytes) -> Path:
        """The next key of a device (written before it is sent: a key is
        never lost)."""
        data = self._read()
        old: Any = data.get(device_id, [])
        data[device_id] = (old if isinstance(old, list) else [old]) + [_hex(key)]
        return self._write(data)

    def drop_newest(self, device_id: str) -> None:
        """Take back a key the device refused (never the last one)."""
        data = self._read()
        entry = data.get(device_id)
        if isinstance(entry, list) and len(entry) > 1:
            entry.pop()
            self._write(data)

    def _read(self) -> dict[str, Any]:
        p = self.path
        try:
            mode = stat.S_IMODE(p.stat().st_mode)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise BadInput(f"{p}: keystore unreadable: {e.strerror}") from None
        if mode & 0o077:
            raise BadInput(f"{p}: keystore is readable by others (mode {mode:o}): chmod 600 {p}")
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError, RecursionError) as e:
            raise BadInput(f"{p}: keystore unreadable: {e}") from None
        if not isinstance(data, dict):
            raise BadInput(f"{p}: keystore is not a JSON object of device id -> key")
        return data

    def _write(self, data: dict[str, Any]) -> Path:
        p = self.path
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".new")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, p)
        except OSError as e:
            raise BadInput(f"{p}: cannot write the keystore: {e.strerror}") from None
        return p


def _hex(key: bytes) -> str:
    if len(key) != 32:
        raise BadInput(f"a device key is 32 bytes, not {len(key)}")
    return key.hex()


def read_key_file(p: Path) -> bytes:
    """A device key given as a file of 32 raw bytes (sim run's key.bin)."""
    try:
        key = p.read_bytes()
    except OSError as e:
        raise BadInput(f"{p}: cannot read the key: {e.strerror}") from None
    if len(key) != 32:
        raise BadInput(
            f"{p}: a device key is 32 raw bytes, this file has {len(key)}: "
            "give the 32 bytes as sim run writes them (key.bin)"
        )
    return key


# The functions the log verbs and the tests call: each a Keystore of the
# given file (None: the default one).


def device_keys(device_id: str, keystore: Path | None = None) -> list[bytes]:
    """The device's keys, oldest first."""
    return Keystore(keystore).keys(device_id)


def device_key(device_id: str, keystore: Path | None = None) -> bytes:
    """The key in force: the newest."""
    return Keystore(keystore).key(device_id)


def add(device_id: str, key: bytes, keystore: Path | None = None) -> Path:
    """A provisioned device's first key."""
    return Keystore(keystore).add(device_id, key)
