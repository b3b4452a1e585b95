"""The one verification: is this pulled log complete and authentic?

  verdict = podctl.verify(pulled, keys)        # keys: the device's key history
  verdict.ok, verdict.status                   # VERIFIED, FAILED, NOT AUTHENTICATED, ...
  for f in verdict.findings: f.code, f.seq_first, f.offset, f.reason

Every command that says anything about a log's integrity (logs verify,
logs info, the end of logs pull, the QA report, the simulator's log
expectation) calls this and renders its findings; nothing else decides.

Policy (SPEC 8.3). A log verifies when every block parses (CRC, shape),
the MAC chain holds under the device key from the first block to the last
(across key rotations, at the blocks that open with KEY_ROTATED), seq has
no gap, the file's SHA-256 and size are the manifest's, it starts at the
manifest's first_seq and ends at the last seq and MAC the device reported.

Unanchored start: when the first block is not seq 0 and does not chain to
the genesis MAC, the device erased or overwrote the blocks before it, and
the first block's own records cannot be authenticated. That fails, unless
`after` (the manifest of the earlier pull that ended at block seq - 1)
anchors it, or the device's seal states it dropped the head (head_dropped:
the head is attested, the verdict can be VERIFIED), or `allow_unanchored`
accepts it when the seal's (else the manifest's) first_seq vouches for the
start: then the status is HEAD NOT ATTESTED, never VERIFIED, since anyone
could have written that first block (issue 13: a head cut with a forged
first block passed as VERIFIED).

Statuses, weakest claim last: VERIFIED; HEAD NOT ATTESTED; END NOT
ATTESTED (no seal); NOT AUTHENTICATED (no key); FAILED. Only VERIFIED is
green: the CLI exits 1 for every other (README's exit-status table).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from podctl import events
from podctl.blocks import AFTER_DAMAGE, OK, UNANCHORED, BlockInfo, Finding, walk
from podctl.pulled import Manifest, Pulled
from podctl.seal import Seal
from protocol import log
from protocol.keys import LOG, derive

VERIFIED = "VERIFIED"
FAILED = "FAILED"
NOT_AUTHENTICATED = "NOT AUTHENTICATED"
# every check held, but no seal says where the log ends (a dead board's
# flash image, a pull without the key): never the same green as VERIFIED
NOT_ATTESTED = "END NOT ATTESTED"
# every check held, but the first block chains to a block the log does not
# hold and only --allow-unanchored accepted it: its records are anyone's
HEAD_NOT_ATTESTED = "HEAD NOT ATTESTED"
STATUSES = (VERIFIED, HEAD_NOT_ATTESTED, NOT_ATTESTED, NOT_AUTHENTICATED, FAILED)
# the finding of a start --allow-unanchored accepted (a warning)
ACCEPTED = "head_not_attested"
# the most the device's clock may differ from the host's at the pull before
# it is a finding (issue 17): a minute is far beyond a set clock's drift
# over a mission (a 20 ppm crystal: 35 s in 20 days) and far below a clock
# set wrong or never
CLOCK_TOLERANCE_S = 60


@dataclass
class Verdict:
    """What verify found, as data: the text output and the report render it."""

    findings: list[Finding]
    blocks: list[BlockInfo] = field(repr=False)
    authenticated: bool  # the MAC chain was checked with the device's key history
    end_checked: bool  # a manifest or a seal said where the log ends, and that was checked
    keys: int = 0  # keys in the history used
    seal: Seal | None = None  # the device's seal, once its tag checked under the key history
    # False: the first block chains to a block not in the log, and neither
    # the device (its seal's head_dropped) nor an earlier pull (--after)
    # vouches for it; only --allow-unanchored let it through
    head_attested: bool = True
    # boots whose BOOT event says the HAL was simulated (EV_BOOT a & 0x80)
    simulated_boots: list[int] = field(default_factory=list)
    # the device's clock less the host's at the pull (s): the seal's UTC
    # against the manifest's anchor of the same boot; None: not known (no
    # seal, no anchor, another boot, or the device's clock never set)
    clock_offset_s: float | None = None

    @property
    def attested(self) -> bool:
        """The device itself signed where the log ends (a checked seal)."""
        return self.seal is not None

    @property
    def simulated(self) -> bool:
        """The device says it is no real hardware: its seal, or a BOOT event
        of its log (a log without a seal: a dead simulated board's flash).
        The mark can only make a log less than evidence, so it is believed
        wherever it is read, authenticated or not."""
        return (self.seal is not None and self.seal.simulated) or bool(self.simulated_boots)

    @property
    def simulated_by(self) -> str:
        """What says the board is simulated, in words ('' when nothing does)."""
        said = []
        if self.seal is not None and self.seal.simulated:
            said.append("its seal")
        if self.simulated_boots:
            boots = ", ".join(str(b) for b in self.simulated_boots)
            said.append(f"the BOOT event of boot {boots}")
        return " and ".join(said)

    def sealed_at(self) -> str:
        """When the device sealed the log, by its own clock and counter."""
        s = self.seal
        if s is None:
            return "not sealed by the device"
        import time

        when = (time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(s.utc)) if s.utc
                else f"uptime {s.uptime} s of boot {s.boot_count} (clock never set)")
        return f"sealed by device {s.device_id} at {when}, command counter {s.counter}"

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warn"]

    @property
    def ok(self) -> bool:
        """No check failed (with or without a key)."""
        return not self.failures

    @property
    def verified(self) -> bool:
        """Complete and authentic: nothing failed, the chain was checked
        with the key, its start is attested and the log ends where the
        device's seal says."""
        return self.ok and self.authenticated and self.head_attested and self.attested

    @property
    def status(self) -> str:
        """One of STATUSES. A log accepted with --allow-unanchored is HEAD
        NOT ATTESTED whether or not its end is sealed (its findings say
        both): the head is what the user chose to take on trust."""
        if not self.ok:
            return FAILED
        if not self.authenticated:
            return NOT_AUTHENTICATED
        if not self.head_attested:
            return HEAD_NOT_ATTESTED
        return VERIFIED if self.attested else NOT_ATTESTED

    @property
    def readable(self) -> list[BlockInfo]:
        return [b for b in self.blocks if b.seq is not None]

    @property
    def span(self) -> tuple[int, int] | None:
        r = self.readable
        return (r[0].seq or 0, r[-1].seq or 0) if r else None

    @property
    def unproven(self) -> int:
        """Readable blocks whose own records the chain does not prove."""
        return len(self.unproven_blocks)

    @property
    def unproven_blocks(self) -> list[BlockInfo]:
        return [b for b in self.blocks if b.verdict in (AFTER_DAMAGE, UNANCHORED)]

    def first_failure(self) -> str:
        f = self.failures
        return "" if not f else str(f[0]) + (f" (+{len(f) - 1} more)" if len(f) > 1 else "")


def _key_list(keys: bytes | Sequence[bytes] | None) -> list[bytes]:
    if keys is None:
        return []
    if isinstance(keys, (bytes, bytearray, memoryview)):
        return [bytes(keys)]
    return [bytes(k) for k in keys]


def verify(
    pulled: Pulled,
    keys: bytes | Sequence[bytes] | None = None,
    *,
    after: Manifest | None = None,
    allow_unanchored: bool = False,
) -> Verdict:
    """Check pulled against SPEC 8.3 (module docstring). keys None: every
    check but the MAC chain; the verdict is then NOT AUTHENTICATED at best."""
    ks = _key_list(keys)
    raw = pulled.raw
    blocks, found = walk(raw, ks) if ks else (pulled.blocks, list(pulled.walk_findings))
    found = list(found)
    m = pulled.manifest
    sealed = _check_seal(pulled, ks, found)
    readable = [i for i, b in enumerate(blocks) if b.seq is not None]
    good = [blocks[i] for i in readable]
    ends = (readable[0], readable[-1]) if readable else (0, 0)  # indices of good[0], good[-1]
    if not good:
        found.append(Finding("empty", "the log holds no readable block", "fail"))
    head_attested = True
    if good:
        first = good[0]
        if first.verdict == UNANCHORED:
            f = _unanchored(raw, first, ends[0], ks, m, after, allow_unanchored, sealed, good)
            found.insert(0, f)
            head_attested = f.code != ACCEPTED
    if sealed is not None and good:
        found += _against_seal(raw, good, ends, sealed)
    if m is None:
        if sealed is None:
            found.append(Finding(
                "no_manifest",
                "no manifest: the log's end (last block, size, hash) is not checked",
                "warn",
            ))
    elif good:
        found += _against_manifest(raw, good, ends, m, sealed is not None)
    if sealed is None and ks and good:
        found.append(Finding(
            "not_attested", "the end of the log is not attested by the device: no seal (a log "
            "read from a flash image, or pulled without the device's key), so where it ends is "
            "the manifest's word, which anyone can edit", "warn",
        ))
    if not ks:
        found.append(Finding(
            "no_key", "MAC chain not checked: no device key was given, so the log is not "
            "authenticated (anyone could have written it)", "warn",
        ))
    offset = _clock(sealed, m, found)
    return Verdict(found, blocks, authenticated=bool(ks),
                   end_checked=m is not None or sealed is not None, keys=len(ks), seal=sealed,
                   head_attested=head_attested, simulated_boots=_simulated_boots(raw, blocks),
                   clock_offset_s=offset)


def _clock(seal: Seal | None, m: Manifest | None, found: list[Finding]) -> float | None:
    """The device's clock against the host's at the pull: the seal's UTC
    (signed) at its uptime, the anchor's host UTC (the manifest, the host's
    own clock) at its uptime of the same boot. Beyond CLOCK_TOLERANCE_S, or
    never set, it is a warning: every UTC of the log is the device's clock,
    so the report's times are off by as much. Nothing else is derived from
    the anchor (it is unauthenticated: it can raise a doubt, never settle one)."""
    if seal is None:
        return None
    if not seal.utc:
        found.append(Finding(
            "clock", f"the device's clock was not set in boot {seal.boot_count}, the boot that "
            "sealed the log: times after its last reset are uptime, not UTC", "warn"))
        return None
    a = m.anchor if m is not None else None
    if a is None or a.boot != seal.boot_count:
        return None
    offset = seal.utc + (a.uptime - seal.uptime) - a.utc
    if abs(offset) > CLOCK_TOLERANCE_S:
        days = f" ({abs(offset) / 86400:.1f} days)" if abs(offset) >= 86400 else ""
        found.append(Finding(
            "clock", f"the device's clock differed from the host's by {offset:+,.0f} s{days} at "
            f"the pull, beyond the {CLOCK_TOLERANCE_S} s tolerance: every UTC of the log is the "
            f"device's clock, {'ahead' if offset > 0 else 'behind'} by as much", "warn"))
    return offset


def _simulated_boots(raw: bytes, blocks: list[BlockInfo]) -> list[int]:
    """The boots whose BOOT event marks a simulated board, read from every
    readable event block (few: protocol.log's slow path is enough)."""
    evs = []
    for b in blocks:
        if b.decodable and b.kind == log.KIND_EVENTS:
            blk = log.parse_block(raw, b.offset)
            if isinstance(blk, log.Block):
                evs += [(blk.boot, *e) for e in log.events(raw, blk)]
    return events.simulated_boots(evs)


def _check_seal(pulled: Pulled, ks: list[bytes], found: list[Finding]) -> Seal | None:
    """The pulled folder's seal once its tag checks under the key history,
    else None (a failure when there is a seal that does not check)."""
    seal = pulled.seal
    if seal is None or not ks:
        return None
    i = seal.key_index(ks)
    if i is None:
        found.append(Finding(
            "seal", "the seal's tag does not verify under the device's keys: altered, forged "
            "or another device's seal", "fail",
        ))
        return None
    if i != len(ks) - 1:
        # the device seals with the key it holds: an older key's seal is an
        # older pull's, or made by whoever kept the key from before a rotation
        found.append(Finding(
            "seal", f"the seal is signed with key {i + 1} of the device's {len(ks)}, not its "
            "newest: an older pull, or forged with a key from before a rotation", "fail",
        ))
        return None
    m = pulled.manifest
    if m is not None and m.device_id != seal.device_id:
        found.append(Finding(
            "seal",
            f"the seal is device {seal.device_id}'s, the manifest names {m.device_id}",
            "fail",
        ))
        return None
    return seal


def _against_end(
    raw: bytes, good: list[BlockInfo], ends: tuple[int, int], want: tuple[int, int, bytes],
    said: str,
) -> list[Finding]:
    """The log must hold every block from the first block the device said
    to the last it said, and end exactly there with that block's MAC.
    want: (first seq, last seq, last MAC); said: "sealed" (the device's
    signed word) or "reported" (LOG_INFO, as the manifest recorded it)."""
    out: list[Finding] = []
    first_seq, last_seq, last_mac = want
    first, last = good[0], good[-1]
    fi, li = ends
    fs, ls = first.seq or 0, last.seq or 0
    if fs > first_seq:
        out.append(Finding(
            "head_missing", f"the log starts at block {fs}, the device {said} a log from block "
            f"{first_seq}: {fs - first_seq} block(s) missing from the start",
            "fail", first.offset, fi, first_seq, fs - 1,
        ))
    elif fs < first_seq:
        out.append(Finding(
            "head_extra", f"the log starts at block {fs}, before the first block the device "
            f"{said} ({first_seq}): another log's?", "fail", first.offset, fi, fs, fs,
        ))
    end = last.offset + last.size
    mac = raw[end - log.MAC_LEN : end]
    if ls < last_seq:
        # where the missing blocks would be: after the last one here
        out.append(Finding(
            "tail_missing", f"the log ends at block {ls}, the device {said} block {last_seq} "
            f"as its last: {last_seq - ls} block(s) missing from the end (cut short)",
            "fail", end, li, ls + 1, last_seq,
        ))
    elif ls > last_seq:
        out.append(Finding(
            "tail_extra", f"the log goes on past block {last_seq}, the last one the device "
            f"{said}", "fail", last.offset, li, last_seq + 1, ls,
        ))
    elif mac != last_mac:
        out.append(Finding(
            "last_mac", f"last MAC {mac.hex()} is not the one the device {said} "
            f"({last_mac.hex()})", "fail", last.offset, li, ls, ls,
        ))
    return out


def _against_seal(
    raw: bytes, good: list[BlockInfo], ends: tuple[int, int], seal: Seal
) -> list[Finding]:
    """The sealed end, and the size the device signed."""
    out = _against_end(raw, good, ends, (seal.first_seq, seal.last_seq, seal.last_mac), "sealed")
    if len(raw) != seal.size:
        out.append(Finding(
            "size", f"the log is {len(raw)} bytes, the device sealed {seal.size}", "fail"
        ))
    return out


def _dropped(raw: bytes, good: Sequence[BlockInfo], head: int) -> str:
    """What the device's own events say its overwrite policy dropped before
    block head (SPEC 7.7, STORAGE_FULL a = 1 and 2; issue 15, F6), read
    from the authenticated blocks only: "N records (blocks A..head-1)"."""
    ranges: list[tuple[int, int]] = []
    total = None
    for b in good:
        if b.kind != log.KIND_EVENTS or b.verdict != OK:
            continue
        blk = log.parse_block(raw, b.offset)
        for e in log.events(raw, blk):
            if e[1] == log.EV_STORAGE_FULL and e[2] == 1:
                ranges.append((e[4], e[3]))
            elif e[1] == log.EV_STORAGE_FULL and e[2] == 2:
                total = e[4]
    if total is None or not ranges or sum(ranges[-1]) != head:
        return (f"blocks 0..{head - 1} (no authenticated event of this log names the drop: "
                "the records it held are not counted)")
    start = ranges[-1][0]
    for first, n in reversed(ranges[:-1]):  # earlier drops still named, back to back
        if first + n == start:
            start = first
    return f"{total} records (blocks {start if start else 0}..{head - 1} named by its events)"


def _unanchored(
    raw: bytes, first: BlockInfo, index: int, ks: list[bytes], m: Manifest | None,
    after: Manifest | None, allow: bool, sealed: Seal | None = None,
    good: Sequence[BlockInfo] = (),
) -> Finding:
    seq = first.seq or 0
    at = first.offset
    if after is None and sealed is not None and sealed.head_dropped and sealed.first_seq == seq:
        # the device itself states it dropped the head (overwrite policy)
        return Finding(
            "unanchored",
            f"head dropped by the device: {_dropped(raw, good, seq)} by its overwrite policy "
            "(stated in its seal): this first block's own records are not authenticated, "
            "every later block is",
            "warn", at, index, seq, seq,
        )
    if after is not None:
        if after.log.last_seq != seq - 1:
            return Finding(
                "unanchored", f"the earlier pull (--after) ended at block {after.log.last_seq}, "
                f"this log starts at block {seq}: not the pull just before",
                "fail", at, index, seq, seq,
            )
        signed = after.log.last_mac + raw[at : at + first.size - log.TRAILER_LEN]
        mac = raw[at + first.size - log.MAC_LEN : at + first.size]
        if any(
            hmac.compare_digest(hmac.digest(derive(k, LOG), signed, "sha256")[: log.MAC_LEN], mac)
            for k in ks
        ):
            first.verdict = OK
            return Finding("anchored", "chained to the earlier pull's last MAC (--after)", "note",
                           at, index, seq, seq)
        return Finding("unanchored",
                       "MAC does not chain to the earlier pull's last block (--after)",
                       "fail", at, index, seq, seq)
    # the start the device vouches for: its seal's first block, or without
    # a seal the manifest's (LOG_INFO at the pull)
    vouched = (
        sealed.first_seq if sealed is not None else m.log.first_seq if m is not None else None
    )
    if allow and vouched == seq:
        return Finding(
            ACCEPTED, f"unanchored start accepted (--allow-unanchored): blocks before it were "
            f"erased on the device ({'sealed' if sealed is not None else 'manifest'} first_seq "
            f"{vouched}), and the device does not say it dropped them; this block's own records "
            "are not authenticated (anyone could have written them), every later block is: "
            "HEAD NOT ATTESTED, never VERIFIED", "warn", at, index, seq, seq,
        )
    return Finding(
        "unanchored", f"unanchored start: the log begins after an erase or overwrite, chained to "
        f"block {seq - 1}'s MAC, which this log does not hold, so this block's records cannot be "
        "authenticated (give --after with the earlier pull's manifest, or --allow-unanchored to "
        "accept)", "fail", at, index, seq, seq,
    )


def _against_manifest(
    raw: bytes, good: list[BlockInfo], ends: tuple[int, int], m: Manifest, sealed: bool = False
) -> list[Finding]:
    """The log against what the pull recorded: the end the device reported
    (unless a checked seal has said it) and the file's hash."""
    want = m.log
    out = [] if sealed else _against_end(
        raw, good, ends, (want.first_seq, want.last_seq, want.last_mac), "reported")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != want.sha256 or len(raw) != want.size:
        out.append(Finding(
            "hash", f"the file's SHA-256 {digest[:16]}... ({len(raw)} bytes) is not the "
            f"manifest's {want.sha256[:16]}... ({want.size} bytes): changed since the pull",
            "fail",
        ))
    return out


def log_intact(raw: bytes, key: bytes) -> tuple[bool, str]:
    """The simulator's log_intact expectation (sim.run's verify_log): the
    log parses, its sequence has no gap and its MAC chain holds under key.
    A simulated log has no device-reported end, so the end is not checked."""
    from pathlib import Path

    from podctl.pulled import Pulled

    if not raw:
        return False, "log intact: the log is empty"
    v = verify(Pulled(Path("sim-log.bin"), raw, None, Path("-")), key)
    if not v.ok:
        return False, f"log not intact: {v.first_failure()}"
    return True, f"log intact: {len(v.readable)} blocks, {len(raw)} bytes, chain verified"
