"""Request/reply over any byte transport (pyserial port, pipe, socket).

Errors are converted once, here: a silent device or a dropped transport is a
LinkError (exit 3); an ERROR reply is a DeviceRefused naming the code and what
to do (exit 5); a reply that does not fit this podctl's layout is a
DeviceMismatch (exit 3: update one side).

The answer to an authenticated request is authenticated (SPEC 4.1): signed
with the key that checked the request, carrying its counter. A signed reply
whose tag does not verify or whose counter is not the request's, or an
unsigned one where the device signs, is a LinkError: it is not the device's
word. Only refusals made before the device checked the tag come unsigned.
A command's tag also covers the device's challenge (from STATUS), which is
never sent: the device takes it once, so a copy held back, repeated or
reordered is refused as STALE (SPEC 4.1).

STATUS and LOG_INFO (NONCE_SIGNED) are open requests carrying a fresh nonce;
a device with a key signs the answer over it. Given the device's link keys
(`keys=`), request() checks that signature and sets .reply_key to the index
of the key that made it: how the host learns which key the device holds.
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

# refusals the device makes before it has checked a tag, so has no key to
# sign with (SPEC 4.1): the only unsigned answers to an authenticated request
UNSIGNED_REFUSALS = (
    c.ERR_AUTH_REQUIRED,
    c.ERR_BAD_TAG,
    c.ERR_BAD_VERSION,
    c.ERR_BAD_LENGTH,
    c.ERR_OVERSIZE,
    c.ERR_UNKNOWN_TYPE,
)


class Link:
    def __init__(self, transport: Transport, timeout: float = 2.0, retries: int = 2):
        self.t = transport
        self.timeout = timeout
        self.retries = retries
        self._seq = 0
        self._deframer = frame.Deframer()
        self.wire_bytes_in = 0
        self.payload_bytes_in = 0
        # the last reply frame (frame.Frame): for a signed one, .signed and
        # .tag are the device's word as it came, to keep as evidence
        self.last_reply: frame.Frame | None = None
        # which of request()'s keys= signed the last nonce-signed reply
        self.reply_key: int | None = None

    def request(
        self,
        msg_type: int,
        *values,
        hmac: Hmac | None = None,
        counter: int | Callable[[], int] = 0,
        challenge: bytes = b"",
        keys: list[Hmac] | None = None,
        retries: int | None = None,
    ) -> dict:
        """Send a request, wait for its reply, return the reply's fields.

        Resends on silence (noise eats frames; requests are idempotent at
        this layer, and authenticated ones are refused as replays rather
        than applied twice). With hmac, the reply must be signed with it
        (SPEC 4.1); see the module's docstring.
        """
        self._seq = (self._seq + 1) & 0xFFFF
        seq = self._seq
        self.last_reply = None  # never an earlier request's answer
        self.reply_key = None
        payload = message.pack(msg_type, False, *values)
        flags = c.FLAG_AUTH if hmac is not None else 0
        counters = []
        tries = (self.retries if retries is None else retries) + 1
        for _attempt in range(tries):
            # an authenticated resend is signed with a fresh counter (a
            # callable gives one per attempt): the first copy may have been
            # applied and only its reply lost, and the commands are written
            # so that doing one twice is harmless
            ctr = counter() if callable(counter) else counter
            counters.append(ctr)
            wire = b"\x00" + frame.encode(msg_type, seq, payload, flags, ctr, hmac, challenge)
            try:
                self.t.write(wire)
            except OSError as e:
                raise LinkError(f"link lost: {e.strerror or e}: replug and retry") from None
            reply = self._await(seq, msg_type)
            if reply is not None:
                break
        else:
            raise LinkError(
                f"no answer to {c.message(msg_type)[1]} after {tries} tries: "
                "check the cable and that the device runs podctl firmware"
            )
        self.last_reply = reply
        if msg_type in c.NONCE_SIGNED:
            self.reply_key = _check_nonce_signed(msg_type, reply, keys, payload[:16])
        else:
            _check_signed(msg_type, reply, hmac, counters)
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

    def _await(self, seq: int, msg_type: int):
        """The reply to request seq of msg_type: the device answers with the
        request's type or an ERROR. A frame of another type carrying this
        seq answers another request (a session before this one numbered its
        requests from 1 too, and its late answer is still on the line):
        LOG_READ and PROFILE_READ answers have the same layout, so one taken
        for the other would pass its bytes off as the log's."""
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
                if (isinstance(r, frame.Frame) and r.seq == seq and r.flags & c.FLAG_REPLY
                        and r.type in (msg_type, c.MSG_ERROR)):
                    self.payload_bytes_in += len(r.payload)
                    return r
        return None


def _check_nonce_signed(
    msg_type: int, r: frame.Frame, keys: list[Hmac] | None, nonce: bytes
) -> int | None:
    """The index of the key of keys that signed r over nonce (SPEC 4.1);
    None when no keys are given (nothing to check with). LinkError when
    the reply is unsigned or signed under none of them."""
    if keys is None:
        return None
    name = c.message(msg_type)[1]
    if not r.flags & c.FLAG_AUTH:
        if r.type == c.MSG_ERROR and r.payload[:1] and r.payload[0] in UNSIGNED_REFUSALS:
            return None  # refused before the device read it (another version, ...)
        raise LinkError(
            f"{name} reply is not signed, though a provisioned device signs it: "
            "not this device's answer, or the device has lost its key"
        )
    for i, k in enumerate(keys):
        if r.verify(k, nonce):
            return i
    raise LinkError(
        f"{name} reply is signed under none of this device's keys in the keystore: "
        "forged on the way, or another device answers; retry, and suspect the link if it repeats"
    )


def _check_signed(msg_type: int, r: frame.Frame, hmac: Hmac | None, counters: list[int]) -> None:
    """Raise LinkError unless the reply r is signed as SPEC 4.1 says the
    device signs the answer to this request; counters: those the request
    was sent with (a late answer to an earlier try is the device's too)."""
    name = c.message(msg_type)[1]
    if r.flags & c.FLAG_AUTH:
        if hmac is None:
            raise LinkError(
                f"{name} reply is signed, but the request was not: not this device's answer"
            )
        if not r.verify(hmac):
            raise LinkError(
                f"{name} reply's tag does not verify under the device's key: "
                "forged or damaged on the way; retry, and suspect the link if it repeats"
            )
        if r.counter not in counters:
            raise LinkError(
                f"{name} reply carries counter {r.counter}, not its request's: a replayed answer"
            )
        return
    if hmac is None or not c.message(msg_type)[2]:
        return  # the request was not checked, so the answer is not signed
    if r.type == c.MSG_ERROR and r.payload[:1] and r.payload[0] in UNSIGNED_REFUSALS:
        return
    raise LinkError(
        f"{name} reply is not signed, though the device signs every answer to an "
        "authenticated request: not this device's answer"
    )
