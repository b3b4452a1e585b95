"""Every malformed input a new user met, given to each verb that reads a
log: logs verify, decode, info and report. Each ends in the status the
README's table names -- 4 for input podctl cannot read, 1 for a log that
reads but fails a check, 0 for a log it can decode past damage -- with one
line on stderr and never a traceback. A manifest podctl cannot read never
yields exit 0.

Cases are data (name, how to damage a copy of a simulated mission's
folder, the status each verb must give); a failure names the case, and
`pytest -k CASE` reruns it alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from podctl.blocks import walk
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK
from protocol import log
from protocol.auth import Hmac
from protocol.frame import crc32
from protocol.keys import LINK, LOG, derive, key_id

PROFILE = Path("examples/profiles/nominal.toml")
VERBS = ("verify", "decode", "info", "report")
BAD, FAIL, OK = EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK


# -- how to damage a folder --------------------------------------------------


def _manifest(d: Path) -> dict:
    return json.loads((d / "log.bin.manifest.json").read_text())


def _edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        m = _manifest(d)
        change(m)
        (d / "log.bin.manifest.json").write_text(json.dumps(m))

    return apply


def _write_manifest(text: str | bytes) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        p = d / "log.bin.manifest.json"
        p.write_bytes(text if isinstance(text, bytes) else text.encode())

    return apply


def _reseal(d: Path) -> None:
    """The manifest as a pull of the current log.bin would have written it."""
    raw = (d / "log.bin").read_bytes()
    m = _manifest(d)
    blocks, _ = walk(raw)
    good = [b for b in blocks if b.seq is not None]
    m["log"].update(sha256=hashlib.sha256(raw).hexdigest(), bytes=len(raw))
    if good:
        end = good[-1].offset + good[-1].size
        m["log"].update(first_seq=good[0].seq, last_seq=good[-1].seq,
                        last_mac=raw[end - log.MAC_LEN : end].hex())
    (d / "log.bin.manifest.json").write_text(json.dumps(m))


def seal_as_device(d: Path, key: bytes | None = None, **fields) -> None:
    """seal.bin made again over the current log.bin, signed with key (the
    device's own, key.bin, by default), as the device would seal this log:
    tests that play the device use it; an attacker without the key cannot."""
    from podctl.seal import Seal
    from protocol import catalogue as c
    from protocol import message

    key = (d / "key.bin").read_bytes() if key is None else key
    old = Seal.read(d / "seal.bin")
    raw = (d / "log.bin").read_bytes()
    blocks = [b for b in walk(raw)[0] if b.seq is not None]
    end = blocks[-1].offset + blocks[-1].size
    v = dict(device_id=old.device_id.encode().ljust(8, b"\x00"),
             key_id=key_id(key), boot_count=old.boot_count,
             first_seq=blocks[0].seq, last_seq=blocks[-1].seq,
             last_mac=raw[end - log.MAC_LEN : end], size=len(raw), counter=old.counter,
             uptime=old.uptime, utc=old.utc, nonce=old.nonce, fw_hash=old.fw_hash, flags=old.flags)
    v.update(fields)
    names = [f[0] for f in c.message(c.MSG_LOG_SEAL)[4]]
    payload = message.pack(c.MSG_LOG_SEAL, True, *[v[n] for n in names])
    signed = struct.pack("<BBBHHI", c.PROTOCOL_VERSION, c.MSG_LOG_SEAL, c.FLAG_REPLY | c.FLAG_AUTH,
                         1, len(payload), old.counter) + payload
    (d / "seal.bin").write_bytes(signed + Hmac(derive(key, LINK)).tag(signed))


def _rechain(raw: bytes, key: bytes) -> bytes:
    """Every block's MAC made again in order under key, as the device would
    have sealed these bytes: a spliced block is then authentic."""
    out = bytearray(raw)
    h = Hmac(derive(key, LOG))  # the log's MAC chain is under the log key
    prev = log.GENESIS_MAC
    at = 0
    while at < len(out):
        length = struct.unpack_from("<H", out, at + log.HEADER_LEN - 2)[0]
        end = at + log.HEADER_LEN + length
        out[end : end + 4] = struct.pack("<I", crc32(bytes(out[at:end])))
        mac = h.tag(prev, bytes(out[at:end]))
        out[end + 4 : end + 4 + log.MAC_LEN] = mac
        prev = mac
        at = end + log.TRAILER_LEN
    return bytes(out)


def _block(
    kind: int, nchan: int, seq: int, count: int, t0: int, interval: int, payload: bytes
) -> bytes:
    hdr = struct.pack(log.HEADER_FMT, log.MAGIC, log.LAYOUT_VERSION, kind, 1, nchan, seq, 1,
                      count, t0, interval, len(payload))
    return hdr + payload + bytes(log.TRAILER_LEN)


def _splice(make: Callable[[int], bytes]) -> Callable[[Path], None]:
    """Put a block made by make(seq) after the log's first block, renumber
    what follows and seal the whole log again with the device's key."""

    def apply(d: Path) -> None:
        raw = (d / "log.bin").read_bytes()
        blocks, _ = walk(raw)
        first = blocks[0]
        rest = bytearray(raw[first.offset + first.size :])
        at = 0
        while at < len(rest):  # renumber: every later block moves up one
            seq = struct.unpack_from("<I", rest, at + 8)[0]
            struct.pack_into("<I", rest, at + 8, seq + 1)
            at += log.HEADER_LEN + struct.unpack_from("<H", rest, at + 22)[0] + log.TRAILER_LEN
        new = raw[: first.size] + make(1) + bytes(rest)
        (d / "log.bin").write_bytes(_rechain(new, (d / "key.bin").read_bytes()))
        _reseal(d)
        seal_as_device(d)

    return apply


def _eight_channels(seq: int) -> bytes:
    return _block(log.KIND_SAMPLES, 8, seq, 1, 100, 60, struct.pack("<8h", *range(8)) + b"\x00")


def _t0_overflow(seq: int) -> bytes:
    n = log.NCHAN
    payload = struct.pack(f"<{n}h", *([0] * n)) + b"\x00" + (bytes(n) + b"\x00") * 2
    return _block(log.KIND_SAMPLES, n, seq, 3, 0xFFFFFFF0, 60, payload)


def _empty_events(seq: int) -> bytes:
    return _block(log.KIND_EVENTS, 12, seq, 0, 0, 0, b"")


def _log_bytes(change: Callable[[bytearray], bytes | bytearray]) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        raw = bytearray((d / "log.bin").read_bytes())
        (d / "log.bin").write_bytes(bytes(change(raw)))

    return apply


def _flip(i: int) -> Callable[[bytearray], bytearray]:
    def change(raw: bytearray) -> bytearray:
        raw[i] ^= 0xFF
        return raw

    return change


def _dev_zero(d: Path) -> None:
    (d / "log.bin").unlink()
    os.symlink("/dev/zero", d / "log.bin")


def _anchor(**fields) -> Callable[[dict], None]:
    return lambda m: m["anchor"].update(fields)


def _log_field(**fields) -> Callable[[dict], None]:
    return lambda m: m["log"].update(fields)


def _drop(*path: str) -> Callable[[dict], None]:
    def change(m: dict) -> None:
        del (m[path[0]] if len(path) == 2 else m)[path[-1]]

    return change


# (case, damage, expected status of verify, decode, info, report, text in the line)
CASES = [
    # the manifest: unreadable, or a field of the wrong type or range -> 4 everywhere
    ("anchor-string", _edit(lambda m: m.update(anchor="yesterday")), (BAD,) * 4, "'anchor'"),
    ("anchor-list", _edit(lambda m: m.update(anchor=[1, 2, 3])), (BAD,) * 4, "'anchor'"),
    ("anchor-utc-null", _edit(_anchor(utc=None)), (BAD,) * 4, "'utc'"),
    ("anchor-utc-huge", _edit(_anchor(utc=10**400)), (BAD,) * 4, "'utc'"),
    ("anchor-boot-negative", _edit(_anchor(boot=-1)), (BAD,) * 4, "'boot'"),
    ("anchor-uptime-float", _edit(_anchor(uptime=1.5)), (BAD,) * 4, "'uptime'"),
    ("utc-nan", _write_manifest('{"format": "podctl-log-manifest/1", "anchor": {"utc": NaN}}'),
     (BAD,) * 4, "must be"),
    ("nested-100000", _write_manifest("[" * 100000 + "]" * 100000), (BAD,) * 4, "nested too deep"),
    ("manifest-a-list", _write_manifest("[]"), (BAD,) * 4, "not a podctl log manifest"),
    ("manifest-huge", _write_manifest(b" " * (2 << 20) + b"{}"), (BAD,) * 4, "is no manifest"),
    ("manifest-not-utf8", _write_manifest(b"\xff\xfe\x00{"), (BAD,) * 4, "not JSON"),
    ("no-last-seq", _edit(_drop("log", "last_seq")), (BAD,) * 4, "'last_seq'"),
    ("last-seq-bool", _edit(_log_field(last_seq=True)), (BAD,) * 4, "'last_seq'"),
    ("bytes-as-text", _edit(_log_field(bytes="154991")), (BAD,) * 4, "'bytes'"),
    ("last-mac-short", _edit(_log_field(last_mac="abcd")), (BAD,) * 4, "'last_mac'"),
    ("no-log-section", _edit(_drop("log")), (BAD,) * 4, "'log'"),
    ("device-id-empty", _edit(lambda m: m.update(device_id="")), (BAD,) * 4, "'device_id'"),
    ("profile-ident-number", _edit(lambda m: m.update(profile_ident=12)), (BAD,) * 4,
     "'profile_ident'"),
    # the log file itself
    ("dev-zero", _dev_zero, (BAD,) * 4, "not a regular file"),
    ("empty-log", _log_bytes(lambda raw: b""), (BAD,) * 4, "empty file"),
    ("garbage-log", _log_bytes(lambda raw: bytes(range(7, 250)) * 40), (FAIL, BAD, BAD, FAIL),
     "no readable block"),
    # damage inside a log that still reads: decode and info go past it
    ("magic-flipped", _log_bytes(_flip(0)), (FAIL, OK, OK, FAIL), "bad magic"),
    ("magic-byte-3", _log_bytes(_flip(3)), (FAIL, OK, OK, FAIL), "bad magic"),
    ("cut-mid-block", _log_bytes(lambda raw: raw[:-300]), (FAIL, OK, OK, FAIL), "cut short"),
    # authentic blocks this layout cannot decode: named, skipped, integrity holds
    ("eight-channels", _splice(_eight_channels), (OK, OK, OK, OK), "8 channels"),
    ("t0-overflow", _splice(_t0_overflow), (OK, OK, OK, OK), "past uptime"),
    ("empty-event-block", _splice(_empty_events), (OK, OK, OK, OK), ""),
]


def _run(verb: str, d: Path) -> list[str]:
    args = ["logs", verb, str(d / "log.bin")]
    if verb in ("verify", "report"):
        args += ["--key-file", str(d / "key.bin")]
    if verb == "report":
        args += ["--profile", str(PROFILE), "-o", str(d / "out" / "report.html")]
    if verb == "decode":
        args += ["-o", str(d / "out.csv")]
    return args


@pytest.mark.parametrize("case, damage, want, text", CASES, ids=[c[0] for c in CASES])
def test_each_verb_answers_bad_input_in_one_line(folder, capfd, case, damage, want, text):
    damage(folder)
    for verb, status in zip(VERBS, want):
        got = main(_run(verb, folder))
        out, err = capfd.readouterr()
        assert "Traceback" not in out + err, f"{case}: logs {verb}: traceback\n{err}"
        assert got == status, f"{case}: logs {verb} exit {got}, want {status}: {err.strip()}"
        if status == OK:
            # decode and info go past damage with a warning line at most
            assert err.count("\n") <= 1 or verb == "decode", f"{case}: logs {verb}: {err}"
            continue
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("podctl: "), f"{case}: logs {verb}: {err}"
        if status == BAD:
            assert text in lines[0], f"{case}: logs {verb}: {lines[0]}"


def test_undecodable_blocks_are_named_and_the_rest_decoded(folder, capfd):
    """A block of another channel count costs its own records, named; the
    other blocks decode (decode used to refuse the whole file)."""
    whole = main(_run("decode", folder))
    assert whole == OK
    rows = (folder / "out.csv").read_text().count("\n")
    capfd.readouterr()
    _splice(_eight_channels)(folder)
    assert main(_run("decode", folder)) == OK
    err = capfd.readouterr().err
    assert "block 1 at byte" in err and "8 channels, layout 1 has 9" in err
    assert (folder / "out.csv").read_text().count("\n") == rows


def test_a_flipped_magic_byte_costs_one_block(folder, capfd):
    """decode and info used to refuse the whole log when any of bytes 0-3
    was flipped: now they resynchronise at the next good block."""
    assert main(_run("decode", folder)) == OK
    whole = (folder / "out.csv").read_text().count("\n")
    blocks = walk((folder / "log.bin").read_bytes())[0]
    first = next(b for b in blocks if b.kind == log.KIND_SAMPLES)
    _log_bytes(_flip(first.offset + 1))(folder)
    assert main(_run("decode", folder)) == OK
    left = (folder / "out.csv").read_text().count("\n")
    assert left == whole - first.count
    err = capfd.readouterr().err
    assert f"at byte {first.offset}: bad magic" in err
