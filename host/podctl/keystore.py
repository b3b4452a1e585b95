"""The host's keystore: each device's secret keys, by device id.

A JSON file (SPEC 8.5): ~/.config/podctl/keys.json, or the file named by
PODCTL_KEYSTORE, mapping each device id to its key history, oldest first,
and, during a key rotation, the key the device may be about to hold (its
pending key). The first `podctl flash` of a blank device provisions it and
adds its first key here; a rotation records its new key as pending before
it is sent, then confirms it (it joins the history) or drops it, by what
the device proves it holds. Authenticated commands use the newest key of
the history; logs verify under the history (a log spans its rotations). A
key is never printed or logged.

The file is kept like ssh keeps a private key: a plain file (never a
symbolic link), owned by the user running podctl, mode 0600; podctl
refuses any other and changes nothing. It is rewritten whole: a fresh
`keys.json.new` (mode 0600, never an old one reused, never through a
link), flushed to disk, then renamed over the keystore.

    ks = Keystore()                  # PODCTL_KEYSTORE or ~/.config/podctl/keys.json
    ks.keys("K3ZQ7M1D")              # [oldest, ..., newest]: the history
    ks.key("K3ZQ7M1D")               # the newest: the one in force
    ks.candidates("K3ZQ7M1D")        # the history, then the pending key if any
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from podctl.errors import BadInput

KEY_BYTES = 32
_SYMLINK = (
    "{p}: keystore is a symbolic link: podctl keeps keys only in a plain file; "
    "replace the link with the file it points to"
)
_HEX = frozenset("0123456789abcdefABCDEF")
_ENTRY_FORMS = (
    'a list of keys oldest first, each 64 hex digits, or {"keys": [...], "pending": "<hex>"}'
)


def default_path() -> Path:
    """The default keystore: PODCTL_KEYSTORE, else ~/.config/podctl/keys.json."""
    env = os.environ.get("PODCTL_KEYSTORE")
    if env:
        return Path(env)
    return Path.home() / ".config" / "podctl" / "keys.json"


path = default_path  # the name the log verbs call


class Keystore:
    """One keystore file. Every method reads the file afresh (another podctl
    may have rotated a key since) and writes it whole, atomically; a method
    that refuses (BadInput) changes nothing."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else default_path()

    def __repr__(self) -> str:
        return f"Keystore({str(self.path)!r})"

    def devices(self) -> list[str]:
        """The device ids that have keys here."""
        return sorted(self._read())

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._read()

    # -- the history ---------------------------------------------------------

    def keys(self, device_id: str) -> list[bytes]:
        """The device's key history, oldest first (BadInput if it has none
        here). A pending key is not part of it."""
        return self._entry(self._read(), device_id)[0]

    def key(self, device_id: str) -> bytes:
        """The key in force: the newest of the history."""
        return self.keys(device_id)[-1]

    def add(self, device_id: str, key: bytes) -> Path:
        """A newly provisioned device's first key (creating the file with
        mode 0600). Refused when the id already has a history, unless its
        newest key is this one (adding it again changes nothing): a
        history is never overwritten."""
        _check_key(key)
        data = self._read()
        if device_id in data:
            history, _ = self._entry(data, device_id)
            if history[-1] == key:
                return self.path
            raise BadInput(
                f"device id {device_id} already has a key history in {self.path}: "
                "podctl never overwrites one; choose another id for the new device"
            )
        data[device_id] = [key.hex()]
        return self._write(data)

    def append(self, device_id: str, key: bytes) -> Path:
        """The next key of a device's history (a pending key is kept)."""
        _check_key(key)
        data = self._read()
        history, pending = self._entry(data, device_id) if device_id in data else ([], None)
        _store(data, device_id, history + [bytes(key)], pending)
        return self._write(data)

    def drop_newest(self, device_id: str) -> None:
        """Take back the newest key of the history (never the last one)."""
        data = self._read()
        if device_id not in data:
            return
        history, pending = self._entry(data, device_id)
        if len(history) > 1:
            _store(data, device_id, history[:-1], pending)
            self._write(data)

    # -- the pending key of a rotation ----------------------------------------

    def pending(self, device_id: str) -> bytes | None:
        """The key a rotation may have given the device, not yet settled;
        None if there is none (BadInput if the device has no history)."""
        return self._entry(self._read(), device_id)[1]

    def candidates(self, device_id: str) -> list[bytes]:
        """The keys the device may hold: the history oldest first, then the
        pending key if any. What a host tries when it must learn which key
        the device holds."""
        history, pending = self._entry(self._read(), device_id)
        return history + ([pending] if pending is not None else [])

    def set_pending(self, device_id: str, key: bytes) -> Path:
        """Record the key a rotation is about to send, before it is sent (a
        key the device may hold is never lost). Setting the same key again
        changes nothing; another pending key (an unsettled rotation), a key
        of the history, or a device without a history is refused."""
        _check_key(key)
        key = bytes(key)
        data = self._read()
        history, pending = self._entry(data, device_id)
        if pending == key:
            return self.path
        if pending is not None:
            raise BadInput(
                f"a key rotation of {device_id} is unsettled: the device may hold the "
                f"pending key in {self.path}: run `podctl key check` to learn which key "
                "it holds before rotating again"
            )
        if key in history:
            raise BadInput(
                f"that key is already in the history of {device_id}: a rotation needs a new key"
            )
        _store(data, device_id, history, key)
        return self._write(data)

    def confirm_pending(self, device_id: str) -> None:
        """The device proved it holds the pending key: it becomes the newest
        of the history and is no longer pending (nothing to do if none)."""
        data = self._read()
        history, pending = self._entry(data, device_id)
        if pending is None:
            return
        _store(data, device_id, history + [pending], None)
        self._write(data)

    def drop_pending(self, device_id: str) -> None:
        """The device proved it still holds the newest key of the history,
        and no earlier request can still give it the pending one: forget
        the pending key (nothing to do if none)."""
        data = self._read()
        history, pending = self._entry(data, device_id)
        if pending is None:
            return
        _store(data, device_id, history, None)
        self._write(data)

    # -- the file ------------------------------------------------------------

    def _entry(self, data: dict[str, Any], device_id: str) -> tuple[list[bytes], bytes | None]:
        """(history oldest first, pending key or None) of one device, parsed
        strictly: any other shape is BadInput naming the device and the fix."""
        p = self.path
        if device_id not in data:
            raise BadInput(
                f"no key for device {device_id} in {p}: a device's key is kept by the keystore "
                "of the computer whose `podctl flash` provisioned it (its first flash): "
                "give that keystore with --keystore or PODCTL_KEYSTORE"
            )
        entry = data[device_id]
        fix = f"fix the entry of {device_id} in {p}: {_ENTRY_FORMS}"
        pending_text: object = None
        texts: list[Any]
        if isinstance(entry, str):
            texts = [entry]
        elif isinstance(entry, list):
            texts = entry
        elif isinstance(entry, dict):
            extra = sorted(set(entry) - {"keys", "pending"})
            if extra:
                raise BadInput(f"{p}: the entry of {device_id} has unknown field(s) "
                               f"{', '.join(map(repr, extra))}: {fix}")
            if "keys" not in entry:
                raise BadInput(f"{p}: the entry of {device_id} has no \"keys\": {fix}")
            if not isinstance(entry["keys"], list):
                raise BadInput(f"{p}: the \"keys\" of {device_id} are not a list: {fix}")
            texts = entry["keys"]
            pending_text = entry.get("pending")
            if "pending" in entry and not isinstance(pending_text, str):
                raise BadInput(f"{p}: the pending key of {device_id} is not a hex string: {fix}")
        else:
            raise BadInput(f"{p}: the entry of {device_id} is a {type(entry).__name__}: {fix}")
        if not texts:
            raise BadInput(f"{p}: device {device_id} has an empty key history: {fix}")
        history = [_parse_key(t, f"a key of {device_id}", p, fix) for t in texts]
        pending = (
            _parse_key(pending_text, f"the pending key of {device_id}", p, fix)
            if pending_text is not None
            else None
        )
        return history, pending

    def _read(self) -> dict[str, Any]:
        p = self.path
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise BadInput(f"{p}: keystore unreadable: {e.strerror}") from None
        _check_file(p, st)
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ELOOP:  # made a link since the lstat
                raise BadInput(_SYMLINK.format(p=p)) from None
            raise BadInput(f"{p}: keystore unreadable: {e.strerror}") from None
        try:
            with os.fdopen(fd, "rb") as f:
                _check_file(p, os.fstat(f.fileno()))  # the file opened is the one checked
                raw = f.read()
        except OSError as e:
            raise BadInput(f"{p}: keystore unreadable: {e.strerror}") from None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise BadInput(f"{p}: keystore unreadable: {e}") from None
        if not isinstance(data, dict):
            raise BadInput(f"{p}: keystore is not a JSON object of device id -> key")
        return data

    def _write(self, data: dict[str, Any]) -> Path:
        p = self.path
        tmp = p.with_name(p.name + ".new")
        try:
            p.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                os.unlink(tmp)  # a crashed write's leftover: never reused, never followed
            except FileNotFoundError:
                pass
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(tmp, flags, 0o600)
            try:
                with os.fdopen(fd, "w") as f:
                    os.fchmod(f.fileno(), 0o600)  # 0600 whatever the umask
                    json.dump(data, f, indent=1, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, p)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            dfd = os.open(p.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)  # the rename itself reaches the disk
            finally:
                os.close(dfd)
        except OSError as e:
            raise BadInput(f"{p}: cannot write the keystore: {e.strerror}") from None
        return p


def _check_file(p: Path, st: os.stat_result) -> None:
    """Refuse a keystore that is not a plain file of this user's, mode 0600."""
    if stat.S_ISLNK(st.st_mode):
        raise BadInput(_SYMLINK.format(p=p))
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{p}: keystore is not a regular file: give the path of a keys.json file")
    if st.st_uid != os.getuid():
        raise BadInput(
            f"{p}: keystore is owned by another user (uid {st.st_uid}): podctl reads keys "
            "only from a file of the user running it; copy it into a file of yours, mode 600"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        bits = ((0o044, "readable"), (0o022, "writable"), (0o011, "executable"))
        how = " and ".join(word for b, word in bits if mode & b)
        raise BadInput(f"{p}: keystore is {how} by others (mode {mode:o}): chmod 600 {p}")


def _parse_key(text: object, what: str, p: Path, fix: str) -> bytes:
    if not isinstance(text, str):
        raise BadInput(f"{p}: {what} is not a hex string: {fix}")
    if not set(text) <= _HEX:
        raise BadInput(f"{p}: {what} is not hex: {fix}")
    if len(text) != 2 * KEY_BYTES:
        raise BadInput(f"{p}: {what} is {len(text)} hex digits, not {2 * KEY_BYTES}: {fix}")
    return bytes.fromhex(text)


def _store(data: dict[str, Any], device_id: str, history: list[bytes],
           pending: bytes | None) -> None:
    """Put one device's entry back: a plain list when nothing is pending,
    the form every podctl reads."""
    keys = [k.hex() for k in history]
    data[device_id] = keys if pending is None else {"keys": keys, "pending": pending.hex()}


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise BadInput(f"a device key is {KEY_BYTES} bytes, not {len(key)}")


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
