"""The device's seal: its authenticated account of where its log ends
(LOG_SEAL, SPEC 5.11), kept in the pulled folder as seal.bin.

  seal = Seal.parse(folder / "seal.bin")
  seal.last_seq, seal.last_mac, seal.size, seal.nonce, seal.simulated
  seal.key_index(keys)       # which key of the history signed it, or None

seal.bin holds the reply frame as the device signed it: header, counter
and payload (the bytes the tag covers) and then the 16-byte tag, without
COBS or CRC. Nothing in it is trusted until key_index() finds the key
whose HMAC-SHA256 over those bytes is the tag; podctl.verify does that and
then holds the log to the sealed end.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from pathlib import Path

from podctl.errors import BadInput
from protocol import catalogue as c
from protocol import message
from protocol.auth import TAG_LEN
from protocol.keys import LINK, derive

SEAL_NAME = "seal.bin"
_HEADER = struct.Struct("<BBBHH")  # version, type, flags, seq, length (SPEC 2.2)
_SIGNED_HEAD = _HEADER.size + 4  # the header and the counter
_FIELDS = [f[0] for f in c.message(c.MSG_LOG_SEAL)[4]]  # the reply's field names


@dataclass(frozen=True)
class Seal:
    signed: bytes  # header ‖ counter ‖ payload, as the tag covers them
    tag: bytes
    device_id: str
    key_id: bytes
    boot_count: int
    first_seq: int
    last_seq: int
    last_mac: bytes
    size: int
    counter: int
    uptime: int
    utc: int  # the device's UTC when it sealed; 0: its clock was never set
    nonce: bytes
    fw_hash: bytes
    flags: int

    @property
    def simulated(self) -> bool:
        """The device says its HAL is no real hardware (simulator, virtual board)."""
        return bool(self.flags & c.SEAL_SIMULATED)

    @property
    def head_dropped(self) -> bool:
        """The device says the blocks before first_seq went by its overwrite policy."""
        return bool(self.flags & c.SEAL_HEAD_DROPPED)

    def key_index(self, keys: list[bytes]) -> int | None:
        """The index of the key (of a device's history) that signed the
        seal, or None: not this device's, or altered."""
        for i, k in enumerate(keys):
            link = derive(k, LINK)  # the device signs its answers with the link key
            if hmac.compare_digest(hmac.digest(link, self.signed, "sha256")[:TAG_LEN], self.tag):
                return i
        return None

    def to_bytes(self) -> bytes:
        return self.signed + self.tag

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = SEAL_NAME) -> Seal:
        """A seal from seal.bin's bytes; BadInput naming what is wrong."""
        if len(raw) < _SIGNED_HEAD + TAG_LEN:
            raise BadInput(f"{where}: {len(raw)} bytes is no seal: pull the log again")
        version, msg_type, flags, _seq, length = _HEADER.unpack_from(raw, 0)
        want = c.FLAG_REPLY | c.FLAG_AUTH
        if msg_type != c.MSG_LOG_SEAL or flags & want != want:
            raise BadInput(f"{where}: not a signed LOG_SEAL reply (type 0x{msg_type:02x}, "
                           f"flags 0x{flags:02x}): pull the log again")
        if len(raw) != _SIGNED_HEAD + length + TAG_LEN:
            raise BadInput(f"{where}: {len(raw)} bytes, its header says "
                           f"{_SIGNED_HEAD + length + TAG_LEN}: the seal is damaged")
        signed = bytes(raw[: _SIGNED_HEAD + length])
        values = message.unpack(c.MSG_LOG_SEAL, True, signed[_SIGNED_HEAD:])
        if values is None:
            raise BadInput(f"{where}: a LOG_SEAL of protocol version {version} this podctl "
                           "cannot read")
        f = dict(zip(_FIELDS, values))
        return cls(
            signed=signed,
            tag=bytes(raw[_SIGNED_HEAD + length :]),
            device_id=f["device_id"].rstrip(b"\x00").decode(errors="replace"),
            key_id=f["key_id"],
            boot_count=f["boot_count"],
            first_seq=f["first_seq"],
            last_seq=f["last_seq"],
            last_mac=f["last_mac"],
            size=f["size"],
            counter=f["counter"],
            uptime=f["uptime"],
            utc=f["utc"],
            nonce=f["nonce"],
            fw_hash=f["fw_hash"],
            flags=f["flags"],
        )

    @classmethod
    def from_frame(cls, frame) -> Seal:
        """The seal in a checked reply frame (protocol.frame.Frame)."""
        if frame.tag is None:
            raise BadInput("the device's LOG_SEAL reply is not signed")
        return cls.from_bytes(bytes(frame.signed) + bytes(frame.tag), "LOG_SEAL reply")

    @classmethod
    def read(cls, path: Path) -> Seal:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise BadInput(f"{path}: cannot read the seal: {e.strerror}") from None
        return cls.from_bytes(raw, str(path))
