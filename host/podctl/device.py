"""A session with one container: its identity, its status, and
authenticated commands signed with its key from the keystore.

The counter of an authenticated request must exceed the last one the device
accepted; STATUS reports that, so a session starts from it and counts up
(every resend gets a fresh one: see host/podctl/link.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from podctl import keystore, serialport
from podctl.link import Link
from protocol import catalogue as c
from protocol.auth import Hmac


class Device:
    def __init__(self, url: str, keys: Path | None = None, timeout: float = 2.0):
        self.url = url
        self.keys = keys
        self.transport = serialport.SerialTransport(url)
        self.link = Link(self.transport, timeout=timeout)
        self._ident: dict | None = None
        self._hmac: Hmac | None = None
        self._counter: int | None = None

    def identify(self) -> dict:
        if self._ident is None:
            self._ident = self.link.request(c.MSG_IDENTIFY)
        return self._ident

    @property
    def device_id(self) -> str:
        return self.identify()["device_id"].rstrip(b"\x00").decode(errors="replace")

    @property
    def fw_version(self) -> str:
        v = self.identify()["fw_version"]
        return f"{v >> 16}.{v >> 8 & 255}.{v & 255}"

    def status(self) -> dict:
        st = self.link.request(c.MSG_STATUS)
        if self._counter is None or st["counter"] > self._counter:
            self._counter = st["counter"]
        return st

    def _next_counter(self) -> int:
        if self._counter is None:
            self.status()
        assert self._counter is not None
        self._counter += 1
        return self._counter

    def load_key(self) -> None:
        """The key in force, from the keystore (BadInput if absent)."""
        if self._hmac is None:
            self._hmac = Hmac(keystore.device_key(self.device_id, self.keys))

    def command(self, msg_type: int, *values) -> dict:
        """An authenticated request (raises DeviceRefused, LinkError,
        BadInput when the key is missing)."""
        self.load_key()
        if self._counter is None:
            self.status()
        return self.link.request(msg_type, *values, hmac=self._hmac, counter=self._next_counter)

    def request(self, msg_type: int, *values) -> dict:
        return self.link.request(msg_type, *values)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def add_port_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", help="serial port or pyserial URL (default: $PODCTL_PORT, else the one attached board)")
    p.add_argument("--keystore", type=Path, help="keystore file (default: $PODCTL_KEYSTORE or ~/.config/podctl/keys.json)")


def open_device(args: argparse.Namespace, timeout: float = 2.0) -> Device:
    return Device(serialport.resolve(args.port), getattr(args, "keystore", None), timeout)
