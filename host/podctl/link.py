"""Request/reply over any byte transport (pyserial port, pipe, socket).

Errors are converted once, here: a silent device or a dropped transport is a
LinkError (exit 3); an ERROR reply is a DeviceRefused naming the code and what
to do (exit 5); a reply that does not fit this podctl's layout is a
DeviceMismatch (exit 3: update one side).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from podctl.errors import DeviceMismatch, DeviceRefused, LinkError
from protocol import catalogue as c
from protocol import frame, message
from protocol.auth import Hmac


class Transport(Protocol):
    def write(self, data: bytes) -> object: ...

    def read(self, size: int) -> bytes:
        """Return what is available (possibly b''), waiting briefly."""
        ...

    def close(self) -> None: ...


def refusal(msg_type: int, code: int, detail: int) -> DeviceRefused:
    """The DeviceRefused for an ERROR reply, naming the request, the code
    and what to do."""
    entry = c.message(msg_type)
    name = entry[1] if entry else f"type 0x{msg_type:02x}"
    if code == c.ERR_BAD_VERSION:
        text = (
            f"device speaks protocol v{detail}, podctl speaks v{c.PROTOCOL_VERSION}: "
            "update podctl or reflash the device"
        )
    else:
        text = f"device refused {name}: {c.error_name(code)}: {c.error_hint(code)}"
    return DeviceRefused(text, code, detail, msg_type)


__all__ = ["DeviceRefused", "Link", "Transport", "refusal"]


class Link:
    def __init__(self, transport: Transport, timeout: float = 2.0, retries: int = 2):
        self.t = transport
        self.timeout = timeout
        self.retries = retries
        self._seq = 0
        self._deframer = frame.Deframer()
        self.wire_bytes_in = 0
        self.payload_bytes_in = 0

    def request(
        self,
        msg_type: int,
        *values,
        hmac: Hmac | None = None,
        counter: int | Callable[[], int] = 0,
    ) -> dict:
        """Send a request, wait for its reply, return the reply's fields.

        Resends on silence (noise eats frames; requests are idempotent at
        this layer, and authenticated ones are refused as replays rather
        than applied twice).
        """
        self._seq = (self._seq + 1) & 0xFFFF
        seq = self._seq
        payload = message.pack(msg_type, False, *values)
        flags = c.FLAG_AUTH if hmac is not None else 0
        for _attempt in range(self.retries + 1):
            # an authenticated resend is signed with a fresh counter (a
            # callable gives one per attempt): the first copy may have been
            # applied and only its reply lost, and the commands are written
            # so that doing one twice is harmless
            ctr = counter() if callable(counter) else counter
            wire = b"\x00" + frame.encode(msg_type, seq, payload, flags, ctr, hmac)
            try:
                self.t.write(wire)
            except OSError as e:
                raise LinkError(f"link lost: {e.strerror or e}: replug and retry") from None
            reply = self._await(seq)
            if reply is not None:
                break
        else:
            raise LinkError(
                f"no answer to {c.message(msg_type)[1]} after {self.retries + 1} tries: "
                "check the cable and that the device runs podctl firmware"
            )
        if reply.type == c.MSG_ERROR:
            code, _refused, detail = message.unpack(c.MSG_ERROR, True, reply.payload)
            raise refusal(msg_type, code, detail)
        fields = message.to_dict(msg_type, True, reply.payload)
        if fields is None:
            raise DeviceMismatch(
                f"device's {c.message(msg_type)[1]} reply does not fit this podctl's layout: "
                "update podctl or reflash the device"
            )
        return fields

    def _await(self, seq: int):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                data = self.t.read(4096)
            except OSError as e:
                raise LinkError(f"link lost: {e.strerror or e}: replug and retry") from None
            if not data:
                continue
            self.wire_bytes_in += len(data)
            for r in self._deframer.feed(data):
                if isinstance(r, frame.Frame) and r.seq == seq and r.flags & c.FLAG_REPLY:
                    self.payload_bytes_in += len(r.payload)
                    return r
        return None
