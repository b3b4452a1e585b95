"""The one verification: is this pulled log complete and authentic?

  verdict = podctl.verify(pulled, keys)        # keys: the device's key history
  verdict.ok, verdict.status                   # "VERIFIED", "FAILED", "NOT AUTHENTICATED"
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
anchors it, or `allow_unanchored` accepts it with a warning when the
manifest's first_seq vouches for the start.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from podctl.blocks import AFTER_DAMAGE, OK, UNANCHORED, BlockInfo, Finding, walk
from podctl.pulled import Manifest, Pulled
from protocol import log

VERIFIED = "VERIFIED"
FAILED = "FAILED"
NOT_AUTHENTICATED = "NOT AUTHENTICATED"


@dataclass
class Verdict:
    """What verify found, as data: the text output and the report render it."""

    findings: list[Finding]
    blocks: list[BlockInfo] = field(repr=False)
    authenticated: bool  # the MAC chain was checked with the device's key history
    end_checked: bool  # a manifest said where the log ends, and that was checked
    keys: int = 0  # keys in the history used

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
        with the key and the end against the manifest."""
        return self.ok and self.authenticated and self.end_checked

    @property
    def status(self) -> str:
        if not self.ok:
            return FAILED
        return VERIFIED if self.verified else NOT_AUTHENTICATED

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
        return sum(1 for b in self.blocks if b.verdict in (AFTER_DAMAGE, UNANCHORED))

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
    good = [b for b in blocks if b.seq is not None]
    if not good:
        found.append(Finding("empty", "the log holds no readable block", "fail"))
    else:
        first = good[0]
        if first.verdict == UNANCHORED:
            found.insert(0, _unanchored(raw, first, blocks.index(first), ks, m, after, allow_unanchored))
    if m is None:
        found.append(Finding(
            "no_manifest", "no manifest: the log's end (last block, size, hash) is not checked", "warn"
        ))
    elif good:
        found += _against_manifest(raw, good, blocks, m)
    if not ks:
        found.append(Finding(
            "no_key", "MAC chain not checked: no device key was given, so the log is not "
            "authenticated (anyone could have written it)", "warn",
        ))
    return Verdict(found, blocks, authenticated=bool(ks), end_checked=m is not None, keys=len(ks))


def _unanchored(
    raw: bytes, first: BlockInfo, index: int, ks: list[bytes], m: Manifest | None,
    after: Manifest | None, allow: bool,
) -> Finding:
    seq = first.seq or 0
    at = first.offset
    if after is not None:
        if after.log.last_seq != seq - 1:
            return Finding(
                "unanchored", f"the earlier pull (--after) ended at block {after.log.last_seq}, "
                f"this log starts at block {seq}: not the pull just before", "fail", at, index, seq, seq,
            )
        signed = after.log.last_mac + raw[at : at + first.size - log.TRAILER_LEN]
        mac = raw[at + first.size - log.MAC_LEN : at + first.size]
        if any(hmac.compare_digest(hmac.digest(k, signed, "sha256")[: log.MAC_LEN], mac) for k in ks):
            first.verdict = OK
            return Finding("anchored", "chained to the earlier pull's last MAC (--after)", "note",
                           at, index, seq, seq)
        return Finding("unanchored", "MAC does not chain to the earlier pull's last block (--after)",
                       "fail", at, index, seq, seq)
    if allow and m is not None and m.log.first_seq == seq:
        return Finding(
            "unanchored", f"unanchored start accepted (--allow-unanchored): blocks before it were "
            f"erased on the device (manifest first_seq {m.log.first_seq}); its own records are not "
            "authenticated, every later block is", "warn", at, index, seq, seq,
        )
    return Finding(
        "unanchored", f"unanchored start: the log begins after an erase or overwrite, chained to "
        f"block {seq - 1}'s MAC, which this log does not hold, so this block's records cannot be "
        "authenticated (give --after with the earlier pull's manifest, or --allow-unanchored to "
        "accept)", "fail", at, index, seq, seq,
    )


def _against_manifest(raw: bytes, good: list[BlockInfo], blocks: list[BlockInfo], m: Manifest) -> list[Finding]:
    out: list[Finding] = []
    want = m.log
    first, last = good[0], good[-1]
    fi, li = blocks.index(first), blocks.index(last)
    fs, ls = first.seq or 0, last.seq or 0
    if fs > want.first_seq:
        out.append(Finding(
            "head_missing", f"the log starts at block {fs}, the device's log started at block "
            f"{want.first_seq}: {fs - want.first_seq} block(s) missing from the start",
            "fail", first.offset, fi, want.first_seq, fs - 1,
        ))
    elif fs < want.first_seq:
        out.append(Finding(
            "head_extra", f"the log starts at block {fs}, before the device's first block "
            f"{want.first_seq} (manifest of another log?)", "fail", first.offset, fi, fs, fs,
        ))
    end = last.offset + last.size
    mac = raw[end - log.MAC_LEN : end]
    if ls < want.last_seq:
        # where the missing blocks would be: after the last one here
        out.append(Finding(
            "tail_missing", f"the log ends at block {ls}, the device reported block "
            f"{want.last_seq} as its last: {want.last_seq - ls} block(s) missing from the end "
            "(cut short)", "fail", end, li, ls + 1, want.last_seq,
        ))
    elif ls > want.last_seq:
        out.append(Finding(
            "tail_extra", f"the log goes on past block {want.last_seq}, the last one the device "
            "reported", "fail", last.offset, li, want.last_seq + 1, ls,
        ))
    elif mac != want.last_mac:
        out.append(Finding(
            "last_mac", f"last MAC {mac.hex()} is not the one the device reported "
            f"({want.last_mac.hex()})", "fail", last.offset, li, ls, ls,
        ))
    digest = hashlib.sha256(raw).hexdigest()
    if digest != want.sha256 or len(raw) != want.size:
        out.append(Finding(
            "hash", f"the file's SHA-256 {digest[:16]}... ({len(raw)} bytes) is not the "
            f"manifest's {want.sha256[:16]}... ({want.size} bytes): changed since the pull", "fail",
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
