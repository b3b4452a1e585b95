"""One container over its link, with typed verbs.

    from podctl import Device

    with Device("/dev/ttyACM0") as dev:      # keys: PODCTL_KEYSTORE or ~/.config/podctl/keys.json
        dev.info().device_id                 # DeviceInfo
        dev.status().payload_c               # Status, units in the field names
        dev.time_sync()                      # TimeSync: the drift it corrected
        dev.profile_upload(blob, progress=lambda done, total: ...)
        log = dev.pull("pulled/", progress=lambda done, total: ...)

Every failure is one of podctl.errors' PodctlError: LinkError (no answer,
port gone, busy), DeviceRefused (the device said no: code and detail),
BadInput (no key for the device in the keystore, a profile that cannot be
sent), CheckFailed (the pulled log does not end where the device said).
Nothing here prints or exits; long verbs report through
`progress(done, total)`.

The counter of an authenticated request must exceed the last one the device
accepted, and its tag must cover the single-use challenge the device handed
out in its last STATUS answer (SPEC 4.1): every command is preceded by a
STATUS (with a fresh nonce, so its answer, signed, also says which key the
device holds), and a resend gets a fresh counter (host/podctl/link.py).

A key rotation is a transaction the host can always finish: the new key is
kept in the keystore as pending before it is sent (wrapped under the old
link key, never in the clear), and whatever happens to the request or its
answer, a STATUS signed over a fresh nonce settles which key the device
holds; an unsettled rotation is settled by the next contact with the device.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Self

from podctl.errors import BadInput, CheckFailed, DeviceRefused, LinkError
from podctl.keystore import Keystore
from podctl.link import Link, Transport
from podctl.pulled import Manifest, Pulled, manifest_beside
from podctl.seal import SEAL_NAME, Seal
from podctl.verdict import verify
from protocol import catalogue as c
from protocol import log
from protocol import profile as pf
from protocol.auth import KEY_LEN, Hmac
from protocol.keys import LINK, derive

# findings that say the bytes pulled are not the log the device reported:
# the transfer went wrong, and pulling again mends it
_TRANSFER = frozenset(
    ("empty", "tail_missing", "tail_extra", "last_mac", "head_missing", "head_extra")
)

Progress = Callable[[int, int], object]  # progress(done, total), in bytes

LOG_READ_SIZE = 1016  # LOG_READ data per frame (MAX_PAYLOAD - 8)
# TIME_SET counts only if its answer comes this soon: the clock is set at
# most this far behind by a copy held back on the line
SYNC_RTT_S = 1.0
SYNC_TRIES = 5
STALE_TRIES = 4  # a command refused STALE is signed again over a fresh challenge
# the host's clock for the round trips above (a simulated link, whose
# device runs on simulated time, gives its own)
monotonic = time.monotonic
PROFILE_CHUNK = 512
LOG_NAME = "log.bin"
PROFILE_NAME = "profile.bin"


@dataclass(frozen=True)
class DeviceInfo:
    """IDENTIFY: who the container is and what it runs."""

    device_id: str
    fw_version: str  # "major.minor.patch"
    fw_hash: str  # hex: the first 8 bytes of the flashed bundle's SHA-256
    protocol: int
    log_layout: int
    max_payload_bytes: int


def _mdeg(v: int) -> int | None:
    return None if v == log.NO_READING_MDEG else v


@dataclass(frozen=True)
class Status:
    """STATUS: the container's state now. Temperatures in milli-degrees
    Celsius (None: no reading), outputs in per mille, battery in mV."""

    uptime_s: int
    utc_at_boot: int | None  # UTC seconds of uptime 0; None: never set this boot
    boot_count: int
    phase: int  # index into the profile's phases
    mode: int  # protocol.names.MODES
    alarms: int  # latched alarm bits, protocol.names.ALARMS
    probe_ok: int  # bit n set: probe n passes validation
    flags: int  # the log's status flags (protocol.log.STATUS_BITS)
    payload_mdeg: int | None  # the controller's estimate
    setpoint_mdeg: int
    band_low_mdeg: int
    band_high_mdeg: int
    probes_mdeg: tuple[int | None, ...]
    heater_permille: int
    peltier_permille: int  # + cools, - heats
    battery_mv: int
    out_of_band_s: int  # cumulative, all phases
    log_seq: int  # last flushed block's sequence number
    log_mac: bytes
    log_bytes: int
    counter: int  # last accepted authentication counter
    authenticated: bool = False  # signed by the device over this request's nonce

    @classmethod
    def from_fields(cls, st: dict, authenticated: bool = False) -> Status:
        return cls(
            authenticated=authenticated,
            uptime_s=st["uptime"],
            utc_at_boot=st["utc_at_boot"] or None,
            boot_count=st["boot_count"],
            phase=st["phase"],
            mode=st["mode"],
            alarms=st["alarms"],
            probe_ok=st["probe_ok"],
            flags=st["flags"],
            payload_mdeg=_mdeg(st["payload_temp"]),
            setpoint_mdeg=st["setpoint"],
            band_low_mdeg=st["band_low"],
            band_high_mdeg=st["band_high"],
            probes_mdeg=tuple(_mdeg(st[f"probe{i}"]) for i in range(4)),
            heater_permille=st["heater"],
            peltier_permille=st["peltier"],
            battery_mv=st["battery"],
            out_of_band_s=st["out_of_band"],
            log_seq=st["log_seq"],
            log_mac=st["log_mac"],
            log_bytes=st["log_bytes"],
            counter=st["counter"],
        )

    @property
    def payload_c(self) -> float | None:
        return None if self.payload_mdeg is None else self.payload_mdeg / 1000

    @property
    def utc_now(self) -> int | None:
        """The device's clock (UTC seconds), None if never set this boot."""
        return None if self.utc_at_boot is None else self.utc_at_boot + self.uptime_s

    def to_json(self) -> dict:
        """The fields as JSON values (the MAC as hex)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["log_mac"] = self.log_mac.hex()
        out["probes_mdeg"] = list(self.probes_mdeg)
        return out


@dataclass(frozen=True)
class LogInfo:
    """LOG_INFO (asking seals the open block first)."""

    size_bytes: int
    first_seq: int
    last_seq: int
    last_mac: bytes


@dataclass(frozen=True)
class TimeSync:
    utc: int  # what the device's clock was set to
    previous_utc: int | None  # what it read just before; None: never set this boot
    uptime_s: int

    @property
    def drift_s(self) -> int | None:
        """How far the device's clock was off (+ fast), None if unset."""
        return None if self.previous_utc is None else self.previous_utc - self.utc


@dataclass(frozen=True)
class PullStats:
    """The last pull's figures (Device.last_pull)."""

    log_path: Path
    log_bytes: int  # the whole log
    transferred_bytes: int  # this time (less when resumed)
    resumed_from: int
    seconds: float
    wire_bytes: int  # bytes read off the link meanwhile
    first_seq: int
    last_seq: int
    profile: bool  # profile.bin written beside the log
    notes: tuple[str, ...]  # what the end check saw besides the end

    @property
    def kib_per_s(self) -> float:
        return self.transferred_bytes / 1024 / self.seconds if self.seconds > 0 else 0.0

    @property
    def efficiency(self) -> float:
        """Log bytes over bytes on the wire."""
        return self.transferred_bytes / self.wire_bytes if self.wire_bytes else 0.0


def _version(v: int) -> str:
    return f"{v >> 16}.{v >> 8 & 255}.{v & 255}"


class Device:
    """A session with one container: `url` is a serial port or pyserial URL
    (/dev/ttyACM0, socket://host:port, the virtual board's pty); `keystore`
    a Keystore, its file, or None for the default one. Opening the port
    raises LinkError (missing, busy)."""

    def __init__(
        self,
        url: str,
        keystore: Keystore | str | os.PathLike[str] | None = None,
        timeout: float = 2.0,
        *,
        transport: Transport | None = None,
    ):
        self.url = url
        self.keystore = keystore if isinstance(keystore, Keystore) else Keystore(keystore)
        if transport is None:
            from podctl.serialport import SerialTransport

            transport = SerialTransport(url)
        self.transport = transport
        self.link = Link(transport, timeout=timeout)
        self._ident: dict | None = None
        self._hmac: Hmac | None = None  # the link key in force
        self._counter: int | None = None
        self._challenge = b""  # the device's, from the last STATUS
        self.last_pull: PullStats | None = None

    # -- what the device is and how it is

    def info(self) -> DeviceInfo:
        i = self._identify()
        return DeviceInfo(
            device_id=self.device_id,
            fw_version=_version(i["fw_version"]),
            fw_hash=i["fw_hash"].hex(),
            protocol=i["protocol"],
            log_layout=i["log_layout"],
            max_payload_bytes=i["max_payload"],
        )

    @property
    def device_id(self) -> str:
        return self._identify()["device_id"].rstrip(b"\x00").decode(errors="replace")

    def status(self) -> Status:
        """The device's state, signed over a fresh nonce when the keystore
        has its key (LinkError if that signature is wrong or missing)."""
        st = self._status(self._link_keys())
        return Status.from_fields(st, authenticated=self.link.reply_key is not None)

    def _status(self, keys: list[Hmac] | None) -> dict:
        """STATUS with a fresh nonce, checked under keys; keeps the counter
        and the challenge for the next command."""
        try:
            st = self.link.request(c.MSG_STATUS, secrets.token_bytes(16), keys=keys)
        except LinkError:
            r = self.link.last_reply
            if keys is None or r is None or not r.flags & c.FLAG_AUTH:
                raise
            # signed, but under none of our keys: most often the wrong keystore
            raise BadInput(
                f"{self.device_id} signs its STATUS under none of its keys in "
                f"{self.keystore.path}: give the keystore that provisioned it (--keystore or "
                "PODCTL_KEYSTORE); if it is that one, the answer was forged on the line"
            ) from None
        if self._counter is None or st["counter"] > self._counter:
            self._counter = st["counter"]
        self._challenge = st["challenge"]
        return st

    def seal(self, nonce: bytes | None = None) -> Seal:
        """The device's authenticated end of its log (LOG_SEAL): it seals
        what it holds into log blocks first, then signs where the log ends,
        its counters and clock and our fresh nonce (SPEC 5.11)."""
        nonce = secrets.token_bytes(16) if nonce is None else bytes(nonce)
        self.command(c.MSG_LOG_SEAL, nonce)
        reply = self.link.last_reply
        got = Seal.from_frame(reply)
        if got.nonce != nonce:
            raise LinkError("the device's seal does not echo this pull's nonce: a replayed answer")
        return got

    def log_info(self) -> LogInfo:
        """The log's extent on the device's flash (records still in its open
        block are not there yet: seal() puts them there), signed over a
        fresh nonce when the keystore has the key."""
        li = self.link.request(c.MSG_LOG_INFO, secrets.token_bytes(16), keys=self._link_keys())
        return LogInfo(li["size"], li["first_seq"], li["last_seq"], bytes(li["last_mac"]))

    def profile(self) -> bytes:
        """The bytes of the profile in force (b"" if none)."""
        out = b""
        size = None
        while size is None or len(out) < size:
            got = self.request(c.MSG_PROFILE_READ, len(out), LOG_READ_SIZE)
            if got["offset"] != len(out):
                raise LinkError(
                    f"the device answered a profile read of byte {len(out)} with byte "
                    f"{got['offset']}: retry"
                )
            size = got["size"]
            if not got["data"] and len(out) < size:
                raise LinkError("the device's profile read stopped short: retry")
            out += got["data"]
        return out

    # -- the authenticated verbs

    def time_sync(self, utc: int | None = None) -> TimeSync:
        """Set the device's UTC (default: this computer's clock). Each try
        takes a fresh challenge and the clock as it is sent, is sent once,
        and counts only if its signed answer comes within SYNC_RTT_S: a copy
        held back on the line and let through late (within the challenge's
        30 s) would otherwise set the clock behind, and the next try's
        STATUS spends the challenge any held copy was bound to."""
        t0 = monotonic()  # utc is the UTC now, before IDENTIFY or a settling STATUS
        self._load_key()
        for _ in range(SYNC_TRIES):
            self._status(self._link_keys())
            sent = monotonic()
            # utc given: the UTC at this call, carried forward to the send
            now = int(time.time()) if utc is None else int(utc + (sent - t0))
            try:
                got = self.link.request(c.MSG_TIME_SET, now, hmac=self._hmac,
                                        counter=self._next_counter(), challenge=self._challenge,
                                        retries=0)
            except LinkError:
                continue  # no answer: the next try's STATUS spends this one's challenge
            except DeviceRefused as e:
                if e.code == c.ERR_STALE:
                    continue
                raise
            if monotonic() - sent <= SYNC_RTT_S:
                return TimeSync(now, got["previous_utc"] or None, got["uptime"])
        raise LinkError(
            f"could not set the clock: no signed answer within {SYNC_RTT_S:g} s in "
            f"{SYNC_TRIES} tries (a slow link, or one holding frames back): retry, and check "
            "the cable"
        )

    def profile_upload(self, blob: bytes, progress: Progress | None = None) -> int:
        """Send a profile and put it in force; returns its identity. An
        upload of the same profile cut short resumes where the device is
        (progress starts there). BadInput if the device's own check refuses
        blob here; DeviceRefused naming the field if the device does."""
        from podctl import profile_file

        checked = pf.check(blob)
        if not isinstance(checked, pf.Profile):
            field, rule = profile_file.explain(*checked)
            raise BadInput(f"profile not sent, the device would refuse it: {field}: {rule}")
        ident = pf.ident(blob)
        try:
            self.command(c.MSG_PROFILE_BEGIN, len(blob), ident)
            at = self.command(c.MSG_PROFILE_CHUNK, 0, b"")["received"]
            if progress:
                progress(at, len(blob))
            while at < len(blob):
                got = self.command(
                    c.MSG_PROFILE_CHUNK, at, blob[at : at + PROFILE_CHUNK]
                )["received"]
                if got == at:
                    raise LinkError(
                        f"the device took none of the profile at byte {at}: upload again"
                    )
                at = got
                if progress:
                    progress(at, len(blob))
            # a COMMIT the device took whose answer was lost: the device
            # answers the resend OK, signed, as the profile is in force
            self.command(c.MSG_PROFILE_COMMIT, ident)
        except DeviceRefused as e:
            if e.code != c.ERR_BAD_PROFILE:
                raise
            field, rule = profile_file.explain(e.detail >> 12, e.detail & 0xFFF)
            raise DeviceRefused(
                f"{self.device_id} refused the profile: {field}: {rule}",
                e.code,
                e.detail,
                e.msg_type,
            ) from None
        return ident

    def key_rotate(self, new_key: bytes | None = None) -> Path:
        """Give the device a new key (default: 32 random bytes); returns the
        keystore path. A transaction (SPEC 5.14): the key is kept in the
        keystore as pending before it is sent, wrapped under the link key
        with the request's challenge and counter; then, whatever came back
        (an answer, an ERROR, silence, a forgery), a STATUS signed over a
        fresh nonce says which key the device holds, and the keystore takes
        the new key or drops it. The key is never lost, never in the clear
        on the link, and a dropped answer never locks the owner out."""
        dev_id = self.device_id
        self._load_key()  # settles a rotation an earlier run left open
        assert self._hmac is not None
        new = os.urandom(KEY_LEN) if new_key is None else bytes(new_key)
        path = self.keystore.set_pending(dev_id, new)
        self._status(self._link_keys())  # a fresh challenge, from the device
        # at the counter's end the device takes this one rotation at the end
        # counter itself (SPEC 4.4), and the new key's counter starts at 0
        counter = _COUNTER_END if self._counter == _COUNTER_END else self._next_counter()
        pad = self._hmac.digest(b"podctl key wrap", self._challenge, counter.to_bytes(4, "little"))
        wrapped = bytes(a ^ b for a, b in zip(new, pad))
        failure: Exception | None = None
        try:
            # one counter for every try: the wrap is bound to it
            self.link.request(c.MSG_KEY_ROTATE, wrapped, hmac=self._hmac, counter=counter,
                              challenge=self._challenge)
        except (DeviceRefused, LinkError) as e:
            failure = e
        holds_new = self._settle(dev_id)
        if holds_new:
            return path
        if isinstance(failure, DeviceRefused):
            raise failure
        raise LinkError(
            f"{dev_id} did not take the new key (its signed STATUS is under the old one): "
            "the keystore keeps the old key; rotate again"
        )

    def key_check(self) -> tuple[int, int]:
        """Which key of the keystore's history the device holds, proven by
        a STATUS it signs over a fresh nonce; a rotation left unsettled is
        settled first. (1-based index, history length); LinkError if the
        device answers under none of them or under an old one."""
        dev_id = self.device_id
        self._settle(dev_id)
        n = len(self.keystore.keys(dev_id))
        return n, n

    def _settle(self, dev_id: str) -> bool:
        """Learn which key the device holds from a STATUS signed over a
        fresh nonce, and settle a pending rotation: True if the device holds
        the pending key (now the keystore's newest), False if it still holds
        the newest of the history (pending dropped: the STATUS spent the
        challenge any copy of the rotation was bound to, so none can still
        apply). LinkError, both keys kept, when no signed answer came."""
        ks = self.keystore
        history = ks.keys(dev_id)
        pending = ks.pending(dev_id)
        keys = history + ([pending] if pending is not None else [])
        try:
            st = self._status([Hmac(derive(k, LINK)) for k in keys])
        except (LinkError, DeviceRefused, BadInput) as e:
            # no answer, a forgery (signed under none of the keys), or an
            # unsigned refusal (anyone can make one)
            raise LinkError(
                f"{e}; a key rotation of {dev_id} is unsettled: both keys stay in "
                f"{ks.path}, and the next podctl command to the device settles it"
            ) from None
        held = self.link.reply_key
        assert held is not None
        if pending is not None and held == len(history):
            self._counter = st["counter"]  # the new key's counter starts again
            ks.confirm_pending(dev_id)
            self._hmac = Hmac(derive(pending, LINK))
            return True
        if held != len(history) - 1:
            raise LinkError(
                f"{dev_id} answers under key {held + 1} of {len(history)} in {ks.path}, "
                "not the newest: the keystore is not this device's or was restored from "
                "an old copy"
            )
        if pending is not None:
            ks.drop_pending(dev_id)
        self._hmac = Hmac(derive(history[-1], LINK))
        return False

    def erase(self, through_seq: int) -> int:
        """Erase the log's blocks up to through_seq, the newest block the
        host holds (pulled and verified); returns the bytes freed. The
        device keeps any block it has not been shown to be held."""
        return self.command(c.MSG_LOG_ERASE, int(through_seq))["erased"]

    def maintenance(self, action: str) -> None:
        """"repl": stop serving and wait at the REPL (for mpremote);
        "reboot": reset."""
        codes = {"repl": c.MAINT_REPL, "reboot": c.MAINT_REBOOT}
        if action not in codes:
            raise BadInput(f"maintenance action {action!r}: choose repl or reboot")
        self.command(c.MSG_MAINTENANCE, codes[action])

    # -- the log

    def pull(self, out_dir: str | os.PathLike[str], progress: Progress | None = None) -> Path:
        """Download the whole log into out_dir while the device keeps
        logging: log.bin, its manifest beside it and profile.bin. The bytes
        land in log.bin.part with pull.json saying where the pull stands, so
        after a lost link the same call continues (if the log's first block
        is still the same). Returns log.bin's path; the figures are in
        last_pull."""
        out = Path(out_dir)
        ident = self._identify()
        dev_id = self.device_id
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"{out}: cannot create the folder: {e.strerror}") from None
        # the device's signed end of the log when we hold its key; without
        # it the log's end is LOG_INFO's, and its verdict says not attested
        seal = self.seal() if self._has_key() else None
        info = (LogInfo(seal.size, seal.first_seq, seal.last_seq, seal.last_mac) if seal
                else self.log_info())
        st = self.status()
        part = out / (LOG_NAME + ".part")
        state_path = out / "pull.json"
        have = _resume(state_path, part, dev_id, info)
        t0 = time.monotonic()
        wire0 = self.link.wire_bytes_in
        try:
            if not have:
                part.write_bytes(b"")
            state_path.write_text(
                json.dumps(
                    {"device_id": dev_id, "first_seq": info.first_seq, "size": info.size_bytes}
                )
            )
            if progress:
                progress(have, info.size_bytes)
            with open(part, "ab") as f:
                at = have
                while at < info.size_bytes:
                    try:
                        got = self.request(
                            c.MSG_LOG_READ, at, min(LOG_READ_SIZE, info.size_bytes - at)
                        )
                    except LinkError as e:
                        raise LinkError(
                            f"{e}; pull again into {out} to continue from byte {at}"
                        ) from None
                    data = got["data"]
                    if got["offset"] != at or not data:
                        raise LinkError(
                            f"device answered offset {got['offset']} with {len(data)} bytes"
                            f" for {at}: pull again"
                        )
                    f.write(data)
                    at += len(data)
                    if progress:
                        progress(at, info.size_bytes)
            seconds = time.monotonic() - t0
            wire = self.link.wire_bytes_in - wire0
            profile = self.profile()
            raw = part.read_bytes()[: info.size_bytes]
            log_path = out / LOG_NAME
            m = Manifest.of_log(
                raw,
                device_id=dev_id,
                fw_version=_version(ident["fw_version"]),
                fw_hash=ident["fw_hash"].hex(),
                profile_ident=pf.ident(profile) if profile else None,
                source=f"pull {self.url}",
                anchor=_anchor(st),
                ends=(info.first_seq, info.last_seq, info.last_mac),
            )
            try:
                notes = self._check_pull(
                    Pulled(log_path, raw, m, manifest_beside(log_path), seal=seal)
                )
            except CheckFailed:
                # bytes that are not the device's log: a pull resumed on them
                # would fail the same way, so the next one starts over
                part.unlink()
                state_path.unlink()
                raise
            log_path.write_bytes(raw)
            part.unlink()
            state_path.unlink()
            prof_path = out / PROFILE_NAME
            if profile:
                prof_path.write_bytes(profile)
            elif prof_path.exists():
                prof_path.unlink()  # an earlier pull's: not this device's profile now
            m.write(manifest_beside(log_path))
            if seal is not None:
                (out / SEAL_NAME).write_bytes(seal.to_bytes())
            elif (out / SEAL_NAME).exists():
                (out / SEAL_NAME).unlink()  # an earlier pull's: it does not seal this log
        except OSError as e:
            raise BadInput(f"{out}: cannot write the pulled log: {e.strerror or e}") from None
        self.last_pull = PullStats(
            log_path=log_path,
            log_bytes=len(raw),
            transferred_bytes=len(raw) - have,
            resumed_from=have,
            seconds=seconds,
            wire_bytes=wire,
            first_seq=info.first_seq,
            last_seq=info.last_seq,
            profile=bool(profile),
            notes=tuple(notes),
        )
        return log_path

    # -- requests, for what the verbs above do not cover

    def request(self, msg_type: int, *values) -> dict:
        """One request and its reply's fields (LinkError, DeviceRefused)."""
        return self.link.request(msg_type, *values)

    def command(self, msg_type: int, *values) -> dict:
        """An authenticated request, signed with the link key of the
        device's newest key over a fresh challenge (BadInput when the
        keystore has none for it). STALE (the challenge was spent: by our
        own resend after a lost answer, by someone else's STATUS, or it
        outlived its 30 s of device time, which on a board flown faster
        than real time is milliseconds of ours) is answered with a fresh
        challenge, up to STALE_TRIES times in all, each at once: waiting
        would only age the next challenge too. Every command is written so
        that doing it twice is harmless."""
        self._load_key()
        for attempt in range(STALE_TRIES):
            self._status(self._link_keys())
            try:
                return self.link.request(msg_type, *values, hmac=self._hmac,
                                         counter=self._next_counter, challenge=self._challenge)
            except DeviceRefused as e:
                if e.code != c.ERR_STALE or attempt == STALE_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_pull(self, pulled: Pulled) -> list[str]:
        """What the pull got, judged by podctl.verify against the device's
        LOG_INFO (with the key when the keystore has it): CheckFailed when
        the bytes do not end where the device said (pull again); what the
        log itself holds (damage on the device's flash) as notes."""
        assert pulled.manifest is not None
        try:
            keys: list[bytes] | None = self.keystore.keys(pulled.manifest.device_id)
        except BadInput:
            keys = None  # no key here: the end and the blocks are still checked
        verdict = verify(pulled, keys)
        transfer = [f for f in verdict.failures if f.code in _TRANSFER]
        if transfer:
            raise CheckFailed(
                f"the pulled log does not end as the device reported: {transfer[0]}: pull again"
            )
        return [str(f) for f in verdict.findings if f.code not in ("no_key",)]

    def _has_key(self) -> bool:
        try:
            return bool(self.keystore.keys(self.device_id))
        except BadInput:
            return False

    def _identify(self) -> dict:
        if self._ident is None:
            self._ident = self.request(c.MSG_IDENTIFY)
        return self._ident

    def _load_key(self) -> None:
        """The link key in force; an unsettled rotation is settled first."""
        if self._hmac is None:
            dev_id = self.device_id
            if self.keystore.pending(dev_id) is not None:
                self._settle(dev_id)
            else:
                self._hmac = Hmac(derive(self.keystore.key(dev_id), LINK))

    def _link_keys(self) -> list[Hmac] | None:
        """The link key in force, to check signed answers with; None when
        the keystore has no key for the device (answers taken unchecked)."""
        if self._hmac is None:
            try:
                self._load_key()
            except BadInput:
                return None
        assert self._hmac is not None
        return [self._hmac]

    def _next_counter(self) -> int:
        if self._counter is None:
            self.status()
        assert self._counter is not None
        if self._counter >= _COUNTER_END:
            raise DeviceRefused(
                f"{self.device_id}'s command counter is at its end ({_COUNTER_END:#x}): "
                "podctl key rotate restarts it under a new key",
                c.ERR_COUNTER_END, 0, c.MSG_STATUS,
            )
        self._counter += 1
        return self._counter


_COUNTER_END = 0xFFFFFFFF  # SPEC 4.4: the last counter; only KEY_ROTATE, which restarts it


def _anchor(st: Status):
    """The pull's clock reading: this boot's uptime against the host's UTC."""
    from podctl.pulled import Anchor

    return Anchor(st.boot_count, st.uptime_s, time.time())


def resume_from(out_dir: str | os.PathLike[str], device_id: str, first_seq: int,
                raw: bytes) -> None:
    """Leave `raw`, a kept copy of this device's log (its first block
    `first_seq`), in out_dir as an interrupted pull of it, so the next
    Device.pull there reads only the bytes since (_resume checks the
    device and the first block; the caller, that the copy is intact)."""
    out = Path(out_dir)
    (out / (LOG_NAME + ".part")).write_bytes(raw)
    (out / "pull.json").write_text(
        json.dumps({"device_id": device_id, "first_seq": first_seq, "size": len(raw)}))


def _resume(state_path: Path, part: Path, dev_id: str, info: LogInfo) -> int:
    """Bytes already pulled that still belong to this log, or 0."""
    try:
        st = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return 0
    if (
        not isinstance(st, dict)
        or st.get("device_id") != dev_id
        or st.get("first_seq") != info.first_seq
        or not part.is_file()
    ):
        return 0
    return min(part.stat().st_size, info.size_bytes)
