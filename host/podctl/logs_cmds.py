"""`podctl logs ...`: read, check and convert a pulled log.

  podctl logs decode FILE [--format csv|parquet|json] [-o OUT]
  podctl logs verify FILE [--manifest M] [--keystore K | --key-file F] [--after PREV]
                          [--allow-unanchored]
  podctl logs extract IMAGE [-o DIR]
  podctl logs info FILE

Thin verbs over host/podctl/logdata.py (the checks and the UTC rebuild) and
host/podctl/decode.py (the vectorised decoder). Every bad input ends as one
BadInput / CommandError line; a log that does not verify exits 1.

Verification policy (logs verify; SPEC 8.3). A log verifies when every block
parses (CRC, shape), the MAC chain holds under the device key from the
first block to the last, seq has no gap, the file's SHA-256 is the one the
manifest recorded at the pull, it starts at the manifest's first_seq and
ends at the last seq and MAC the device reported.

Unanchored start: when the first block is not seq 0 and does not chain to
the genesis MAC, the device erased or overwrote the blocks before it. The
chain then proves every later block, but not the first block's own header
and records: its MAC is keyed over the MAC of block seq - 1, which this log
does not hold. A QA reviewer cannot call those records authentic, so by
default this FAILS (exit 1, naming the block). It passes when:
  --after PREV    the manifest of the earlier pull that ended at block
                  seq - 1: its last MAC anchors the first block, which is
                  then checked like any other (SPEC 8.3: "the MAC of block
                  seq - 1 kept from an earlier download");
  --allow-unanchored  the reviewer accepts the start explicitly. Even then
                  the manifest must vouch for it: its first_seq (the
                  device's own LOG_INFO.first_seq at the pull) must equal
                  the first block's seq, so blocks cut from the head after
                  the pull are still caught. The first block is reported as
                  not authenticated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from podctl import decode, keystore, logdata, manifest
from podctl.errors import EXIT_CHECK_FAILED, BadInput, CommandError
from protocol import log
from protocol.auth import Hmac
from protocol.frame import crc32

# Subcommands other modules add to `logs` (e.g. the report): each is called
# with the logs subparsers object at the end of add_parser().
EXTRA: list[Callable[[Any], None]] = []

FORMATS = ("csv", "parquet", "json")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "logs",
        help="decode, verify, extract and summarise a pulled log",
        description="Read a log as `podctl logs pull` or `podctl sim run` saved it (LOG.bin with "
        "LOG.bin.manifest.json beside it), or out of a board's flash image.",
    )
    lsub = p.add_subparsers(dest="logs_cmd", required=True, metavar="ACTION")

    d = lsub.add_parser(
        "decode",
        help="samples and events with units and UTC, as CSV, Parquet or JSON",
        description=(
            "Decode every readable block of FILE. Column names carry the unit (probe0_degC, "
            "humidity_pct_rh, battery_V, ...); a channel with no reading is empty (null). "
            "UTC is ISO 8601 (Z) to the second, empty when the log cannot place the record: "
            "from the device's TIME_SET events, else from the manifest beside FILE (the pull's "
            "clock reading) for the last boot. Damaged logs decode up to the first bad block, "
            "with a warning; use `logs verify` to check a log."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "outputs:\n"
            "  csv      OUT (samples) and OUT's name + .events.csv (default FILE.csv)\n"
            "  parquet  OUT (samples) and OUT's name + .events.parquet; utc is a timestamp\n"
            "  json     OUT: {\"samples\": [...], \"events\": [...], \"clock\": [...]}\n"
            "           -o - writes the JSON to standard output"
        ),
    )
    d.add_argument("file", type=Path, metavar="FILE")
    d.add_argument("--format", choices=FORMATS, default="csv")
    d.add_argument("-o", "--out", default=None, metavar="OUT", help="output file")
    d.add_argument("--manifest", type=Path, default=None, help="manifest (default: beside FILE)")
    d.set_defaults(run=cmd_decode)

    v = lsub.add_parser(
        "verify",
        help="check a log is complete and authentic (exit 1 when not)",
        description=__doc__.split("Verification policy (logs verify; SPEC 8.3). ")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("file", type=Path, metavar="FILE")
    v.add_argument("--manifest", type=Path, default=None, help="manifest (default: beside FILE)")
    keys = v.add_mutually_exclusive_group()
    keys.add_argument(
        "--keystore", type=Path, default=None,
        help="keystore (default: PODCTL_KEYSTORE or ~/.config/podctl/keys.json)",
    )
    keys.add_argument(
        "--key-file", type=Path, default=None,
        help="the device key as 32 raw bytes (sim run's key.bin)",
    )
    v.add_argument(
        "--after", type=Path, default=None, metavar="PREV",
        help="manifest of the earlier pull that ended just before this log's first block",
    )
    v.add_argument(
        "--allow-unanchored", action="store_true",
        help="accept a first block that chains to an erased block (see above)",
    )
    v.set_defaults(run=cmd_verify)

    x = lsub.add_parser(
        "extract",
        help="read the log out of a raw flash image of a board that no longer boots",
        description=(
            "Read the log segments out of IMAGE (the board's littlefs, as dumped from its flash "
            "or written by `podctl sim run`) and write DIR/log.bin and DIR/log.bin.manifest.json. "
            "The manifest takes the log's end from the log itself (the board cannot report it), "
            "has no clock anchor, and names the device from the image's identity record."
        ),
    )
    x.add_argument("image", type=Path, metavar="IMAGE")
    x.add_argument(
        "-o", "--out", type=Path, default=None, metavar="DIR",
        help="output folder (default: IMAGE-extract beside IMAGE)",
    )
    x.set_defaults(run=cmd_extract)

    i = lsub.add_parser(
        "info", help="a short summary: blocks, records, time span, boots, integrity"
    )
    i.add_argument("file", type=Path, metavar="FILE")
    i.add_argument("--manifest", type=Path, default=None, help="manifest (default: beside FILE)")
    i.set_defaults(run=cmd_info)

    for extra in EXTRA:
        extra(lsub)


# -- shared ------------------------------------------------------------------


def read_log(path: Path, claimed: bool = False) -> bytes:
    """The raw log; BadInput when it is missing, empty or not a log at all.
    A file that starts like a log but is damaged is returned: the commands
    report its damage by block. `claimed`: a manifest says this file is a
    log, so one that does not start like one is damaged, not the wrong file."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder, not a log file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read the log: {e.strerror}") from None
    if not raw:
        raise BadInput(f"{path}: empty file, no log blocks")
    if raw[:4] != log.MAGIC and not claimed:
        raise BadInput(
            f"{path}: not a podctl log (it does not start with a block: magic {raw[:4].hex()}, "
            f"want {log.MAGIC.hex()} {log.MAGIC.decode()})"
        )
    return raw


def read_manifest(path: Path | None, log_path: Path, required: bool) -> tuple[dict | None, Path]:
    where = path or manifest.beside(log_path)
    if path is None and not where.exists():
        if required:
            raise BadInput(
                f"{log_path}: no manifest at {where}: logs verify needs the one `logs pull` "
                "wrote (the device's account of the log's end); give --manifest"
            )
        return None, where
    return manifest.read(where), where


def _load(raw: bytes, key: bytes | None, anchor: logdata.Anchor | None) -> logdata.LogData:
    try:
        return logdata.load(raw, key, anchor, decoder=decode.decode)
    except decode.DecodeError as e:
        raise BadInput(str(e)) from None


def _unit(u: str) -> str:
    return u.replace("%RH", "pct_rh").replace("%", "pct")


# column name, decimals of the stored resolution
COLUMNS = [(f"{c[0]}_{_unit(c[3])}", max(0, round(-np.log10(c[2])))) for c in log.CHANNELS]


def _iso(utc: np.ndarray) -> list[str | None]:
    """ISO 8601 UTC to the second (the device counts whole seconds), None
    where unknown."""
    known = ~np.isnan(utc)
    secs = np.zeros(len(utc), "int64")
    secs[known] = np.floor(utc[known] + 0.5)
    text = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    return [f"{t}Z" if k else None for t, k in zip(text.tolist(), known.tolist())]


def _flags(status: np.ndarray) -> list[str]:
    names = {
        v: "|".join(n for bit, n in log.STATUS_BITS if v & bit) for v in np.unique(status).tolist()
    }
    return [names[v] for v in status.tolist()]


def samples_table(data: logdata.LogData, utc_type: str = "string"):
    """The samples as a pyarrow table: boot, uptime_s, utc, channels in display
    units (null: no reading), status and its flags."""
    import pyarrow as pa

    s = data.samples
    cols: dict[str, Any] = {
        "boot": pa.array(s["boot"]),
        "uptime_s": pa.array(s["t"]),
        "utc": _utc_column(s["utc"], utc_type),
    }
    for (col, decimals), name in zip(COLUMNS, logdata.CHANNEL_NAMES):
        v = np.round(s[name], decimals)
        cols[col] = pa.array(v, mask=np.isnan(v))
    cols["status"] = pa.array(s["status"])
    cols["status_flags"] = pa.array(_flags(s["status"]), pa.string())
    return pa.table(cols)


def events_table(data: logdata.LogData, utc_type: str = "string"):
    import pyarrow as pa

    ev = data.events
    return pa.table(
        {
            "boot": pa.array([e.boot for e in ev], pa.uint16()),
            "uptime_s": pa.array([e.t for e in ev], pa.uint32()),
            "utc": _utc_column(np.array([e.utc for e in ev], "float64"), utc_type),
            "code": pa.array([e.code for e in ev], pa.uint8()),
            "event": pa.array([e.name for e in ev], pa.string()),
            "a": pa.array([e.a for e in ev], pa.uint8()),
            "b": pa.array([e.b for e in ev], pa.uint16()),
            "value": pa.array([e.value for e in ev], pa.uint32()),
        }
    )


def _utc_column(utc: np.ndarray, utc_type: str):
    import pyarrow as pa

    if utc_type == "timestamp":
        known = ~np.isnan(utc)
        secs = np.zeros(len(utc), "int64")
        secs[known] = np.floor(utc[known] + 0.5)
        return pa.array(secs, pa.timestamp("s", tz="UTC"), mask=~known)
    return pa.array(_iso(utc), pa.string())


# -- decode ------------------------------------------------------------------


def cmd_decode(args: argparse.Namespace, console: Console) -> int:
    raw = read_log(args.file)
    m, _ = read_manifest(args.manifest, args.file, required=False)
    data = _load(raw, None, manifest.anchor(m) if m else None)
    if not len(data.samples) and not data.events:
        raise BadInput(f"{args.file}: no readable block: {data.problems[0]}")
    err = Console(stderr=True)
    if data.problems:
        err.print(
            f"podctl: warning: {args.file}: {data.problems[0]}"
            + (f" (+{len(data.problems) - 1} more)" if len(data.problems) > 1 else "")
            + "; decoded every block that could be read",
            markup=False, highlight=False, soft_wrap=True,
        )
    out = args.out or str(args.file.with_suffix("." + args.format))
    try:
        written = _write(data, args.format, out, console)
    except OSError as e:
        raise BadInput(f"{out}: cannot write: {e.strerror}") from None
    if written:
        err.print(
            f"wrote {', '.join(written)}: {len(data.samples)} samples, {len(data.events)} events",
            markup=False, highlight=False, soft_wrap=True,
        )
    return 0


def _events_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.events{out.suffix}")


def _write(data: logdata.LogData, fmt: str, out: str, console: Console) -> list[str]:
    if fmt == "json":
        doc = {
            "samples": samples_table(data).to_pylist(),
            "events": events_table(data).to_pylist(),
            "clock": data.clock,
        }
        text = json.dumps(doc, indent=None, separators=(",", ":"))
        if out == "-":
            console.file.write(text + "\n")
            return []
        Path(out).write_text(text + "\n")
        return [out]
    if out == "-":
        raise BadInput(f"-o -: standard output takes --format json only, not {fmt}")
    path = Path(out)
    tables = ((path, samples_table), (_events_path(path), events_table))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for p, make in tables:
            pq.write_table(make(data, "timestamp"), p)
    else:
        import pyarrow.csv as pcsv

        for p, make in tables:
            t = make(data)
            with open(p, "wb") as f:
                f.write((",".join(t.column_names) + "\n").encode())
                # no string here holds a comma or a quote: none is quoted
                pcsv.write_csv(t, f, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return [str(p) for p, _ in tables]


# -- verify ------------------------------------------------------------------


def _key(args: argparse.Namespace, m: dict) -> tuple[bytes | list[bytes], str]:
    if args.key_file is not None:
        return keystore.read_key_file(args.key_file), f"key file {args.key_file}"
    device = m.get("device_id")
    if not isinstance(device, str) or not device:
        raise BadInput("the manifest names no device_id: give --key-file")
    ks = args.keystore or keystore.path()
    keys = keystore.device_keys(device, args.keystore)
    told = f"keystore {ks}, device {device}" + (f" ({len(keys)} keys: rotated)" if len(keys) > 1 else "")
    return keys, told


def _manifest_log(m: dict, where: Path) -> dict:
    ml = m.get("log")
    try:
        assert isinstance(ml, dict)
        out = {
            "sha256": str(ml["sha256"]),
            "bytes": int(ml["bytes"]),
            "first_seq": int(ml["first_seq"]),
            "last_seq": int(ml["last_seq"]),
            "last_mac": bytes.fromhex(ml["last_mac"]),
        }
    except (AssertionError, KeyError, TypeError, ValueError):
        raise BadInput(
            f"{where}: manifest has no readable log section (sha256, bytes, seqs, last_mac)"
        ) from None
    return out


def verify(
    raw: bytes,
    key: bytes | list[bytes],
    mlog: dict,
    after: bytes | None = None,
    allow_unanchored: bool = False,
) -> tuple[list[str], list[str], list[logdata.BlockInfo]]:
    """Every check of SPEC 8.3 plus the manifest's hash: (problems, notes,
    blocks). No problem = complete and authentic."""
    blocks, problems = logdata.check_blocks(raw, key)
    problems = [_name_bad_block(raw, blocks, p) for p in problems]
    notes: list[str] = []
    good = [b for b in blocks if b.seq is not None]
    if not good:
        return problems, notes, blocks
    first, last = good[0], good[-1]
    if first.verdict == "unanchored start":
        where = f"block {first.seq} at byte {first.offset}"
        if after is not None:
            blk = log.parse_block(raw, first.offset)
            assert isinstance(blk, log.Block)
            keys = key if isinstance(key, list) else [key]
            if any(log.block_mac(Hmac(k), after, memoryview(raw), blk.length) == blk.mac(raw) for k in keys):
                first.verdict = "ok"
                notes.append(f"{where}: chained to the earlier pull's last MAC (--after)")
            else:
                problems.insert(
                    0, f"{where}: MAC does not chain to the earlier pull's last block (--after)"
                )
        elif allow_unanchored and first.seq == mlog["first_seq"]:
            notes.append(
                f"{where}: unanchored start accepted (--allow-unanchored): blocks before it were "
                f"erased on the device (manifest first_seq {mlog['first_seq']}); its own records "
                "are not authenticated, every later block is"
            )
        else:
            problems.insert(
                0,
                f"{where}: unanchored start: the log begins after an erase or overwrite, chained "
                f"to block {(first.seq or 0) - 1}'s MAC, which this log does not hold, so this "
                "block's records cannot be authenticated (give --after with the earlier pull's "
                "manifest, or --allow-unanchored to accept)",
            )
    if first.seq != mlog["first_seq"]:
        if first.seq > mlog["first_seq"]:
            problems.append(
                f"block {first.seq} at byte {first.offset}: the log starts at block {first.seq}, "
                f"the device's log started at block {mlog['first_seq']}: "
                f"{first.seq - mlog['first_seq']} block(s) missing from the start"
            )
        else:
            problems.append(
                f"block {first.seq} at byte {first.offset}: the log starts at block {first.seq}, "
                f"before the device's first block {mlog['first_seq']} (manifest of another log?)"
            )
    mac = raw[last.offset + last.size - log.MAC_LEN : last.offset + last.size]
    if last.seq != mlog["last_seq"]:
        if last.seq < mlog["last_seq"]:
            problems.append(
                f"block {last.seq} at byte {last.offset}: the log ends at block {last.seq}, the "
                f"device reported block {mlog['last_seq']} as its last: "
                f"{mlog['last_seq'] - last.seq} block(s) missing from the end (cut short)"
            )
        else:
            problems.append(
                f"block {last.seq} at byte {last.offset}: the log goes on past block "
                f"{mlog['last_seq']}, the last one the device reported"
            )
    elif mac != mlog["last_mac"]:
        problems.append(
            f"block {last.seq} at byte {last.offset}: last MAC {mac.hex()} is not the one the "
            f"device reported ({mlog['last_mac'].hex()})"
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != mlog["sha256"] or len(raw) != mlog["bytes"]:
        problems.append(
            f"the file's SHA-256 {digest[:16]}... ({len(raw)} bytes) is not the manifest's "
            f"{mlog['sha256'][:16]}... ({mlog['bytes']} bytes): changed since the pull"
        )
    return problems, notes, blocks


def _name_bad_block(raw: bytes, blocks: list[logdata.BlockInfo], problem: str) -> str:
    """check_blocks names an unreadable block by its byte offset; when its
    header is still there, name it by the seq it claims too (unchecked: the
    CRC failed)."""
    bad = next((b for b in blocks if b.seq is None and problem.startswith(f"byte {b.offset} ")), None)
    if bad is None:
        return problem
    at = bad.offset
    if raw[at : at + 4] != log.MAGIC or len(raw) - at < log.HEADER_LEN:
        return problem
    seq = struct.unpack_from("<I", raw, at + 8)[0]
    return f"block {seq} (by its unchecked header) at {problem}"


SHOWN = 12  # problems listed by logs verify


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    # verify needs a manifest, and a file it names as the log is a damaged
    # log (exit 1) when it does not start like one, not the wrong file
    raw = read_log(args.file, claimed=True)
    m, where = read_manifest(args.manifest, args.file, required=True)
    assert m is not None
    mlog = _manifest_log(m, where)
    key, key_from = _key(args, m)
    after = None
    if args.after is not None:
        prev = _manifest_log(manifest.read(args.after), args.after)
        after = prev["last_mac"]
        first = logdata.check_blocks(raw[: log.BLOCK_MAX], None)[0]
        seq0 = first[0].seq if first and first[0].seq is not None else None
        if seq0 is not None and prev["last_seq"] != seq0 - 1:
            raise BadInput(
                f"{args.after}: the earlier pull ended at block {prev['last_seq']}, "
                f"this log starts at block {seq0}: not the pull just before"
            )
    problems, notes, blocks = verify(raw, key, mlog, after, args.allow_unanchored)
    good = [b for b in blocks if b.seq is not None]
    t = Table(title=f"logs verify {args.file}", show_header=False)
    t.add_row("manifest", f"{where} ({m.get('source', '?')})")
    t.add_row("key", key_from)
    span = f"seq {good[0].seq}..{good[-1].seq}" if good else "none readable"
    t.add_row("blocks", f"{len(good)} ({span}), {len(raw)} bytes")
    console.print(t)
    for n in notes:
        console.print(f"note: {n}", markup=False, highlight=False, soft_wrap=True)
    for p in problems[:SHOWN]:
        console.print(f"FAIL: {p}", markup=False, highlight=False, soft_wrap=True)
    if len(problems) > SHOWN:
        console.print(f"FAIL: ... and {len(problems) - SHOWN} more", highlight=False)
    if problems:
        more = f" (+{len(problems) - 1} more above)" if len(problems) > 1 else ""
        raise CommandError(f"{args.file}: NOT authentic: {problems[0]}{more}", EXIT_CHECK_FAILED)
    console.print(
        f"{args.file}: complete and authentic: {len(good)} blocks, {span}, "
        f"device {m.get('device_id')}",
        markup=False, highlight=False, soft_wrap=True,
    )
    return 0


# -- extract -----------------------------------------------------------------


def _record(files: dict[str, bytes], name: str) -> bytes | None:
    """A firmware/storefile.py record's body (body + CRC-32 LE), or None."""
    data = files.get(name)
    if data is None or len(data) < 4:
        return None
    body = data[:-4]
    return body if crc32(body) == struct.unpack("<I", data[-4:])[0] else None


def _device_name(raw_id: bytes) -> str:
    text = raw_id.rstrip(b"\x00")
    if text and all(0x21 <= c < 0x7F for c in text):
        return text.decode()
    return raw_id.hex()


def cmd_extract(args: argparse.Namespace, console: Console) -> int:
    from protocol import profile
    from sim import flashimage

    try:
        image = args.image.read_bytes()
    except IsADirectoryError:
        raise BadInput(f"{args.image}: is a folder, not a flash image") from None
    except OSError as e:
        raise BadInput(f"{args.image}: cannot read the image: {e.strerror}") from None
    try:
        files = flashimage.files(image)
        raw = flashimage.log_bytes(image)
    except flashimage.ImageError as e:
        raise BadInput(f"{args.image}: {e}") from None
    out = args.out or args.image.with_name(args.image.stem + "-extract")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "log.bin").write_bytes(raw)
    except OSError as e:
        raise BadInput(f"{out}: cannot write: {e.strerror}") from None
    ident = _record(files, "identity")  # 8-byte device id + 32-byte key: never shown
    device = _device_name(ident[:8]) if ident is not None and len(ident) == 40 else "unknown"
    prof = _record(files, "profile")
    blocks, problems = logdata.check_blocks(raw, None)
    good = [b for b in blocks if b.seq is not None]
    first_seq, last_seq, last_mac = logdata.log_ends(raw, blocks) or (0, 0, b"")
    fw = "unknown"
    for b in reversed(good):  # firmware version from the newest BOOT event
        if b.kind == log.KIND_EVENTS:
            blk = log.parse_block(raw, b.offset)
            assert isinstance(blk, log.Block)
            boots = [e for e in log.events(raw, blk) if e[1] == log.EV_BOOT]
            if boots:
                v = boots[-1][4]
                fw = f"{v >> 16 & 0xFF}.{v >> 8 & 0xFF}.{v & 0xFF}"
                break
    m = manifest.make(
        device_id=device,
        fw_version=fw,
        fw_hash="",
        profile_ident=profile.ident(prof) if prof is not None and len(prof) > 4 else None,
        log_sha256=hashlib.sha256(raw).hexdigest(),
        log_bytes=len(raw),
        first_seq=first_seq,
        last_seq=last_seq,
        last_mac=last_mac,
        anchor=None,
        source=f"extract {args.image}",
    )
    manifest.write(manifest.beside(out / "log.bin"), m)
    span = f"blocks {first_seq}..{last_seq}" if good else "no blocks"
    console.print(
        f"wrote {out}/log.bin ({len(raw)} bytes, {span}) and log.bin.manifest.json, "
        f"device {device}"
        + ("" if ident is not None else " (identity record missing or damaged)"),
        highlight=False,
    )
    if problems:
        console.print(f"[yellow]note[/yellow]: {problems[0]}", highlight=False)
    console.print(
        "the log's end comes from the log itself (the board cannot report it): "
        "logs verify proves the chain, not that no block was lost at the end",
        highlight=False,
    )
    return 0


# -- info --------------------------------------------------------------------


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    raw = read_log(args.file)
    m, where = read_manifest(args.manifest, args.file, required=False)
    data = _load(raw, None, manifest.anchor(m) if m else None)
    good = [b for b in data.blocks if b.seq is not None]
    s = data.samples
    t = Table(title=f"logs info {args.file}", show_header=False)
    t.add_row("file", f"{len(raw)} bytes, SHA-256 {data.sha256[:16]}...")
    if m:
        t.add_row("manifest", f"{where}: device {m.get('device_id')}, {m.get('source')}")
    else:
        t.add_row("manifest", "none beside the file")
    nsamp = sum(1 for b in good if b.kind == log.KIND_SAMPLES)
    span = f", seq {good[0].seq}..{good[-1].seq}" if good else ""
    t.add_row("blocks", f"{len(good)} ({nsamp} sample, {len(good) - nsamp} event){span}")
    t.add_row("records", f"{len(s)} samples, {len(data.events)} events")
    boots = sorted({int(b) for b in s["boot"]} | {e.boot for e in data.events})
    t.add_row("boots", ", ".join(map(str, boots)) or "-")
    if len(s):
        for boot in boots:
            sel = s[s["boot"] == boot]
            if not len(sel):
                continue
            lo, hi = int(sel["t"].min()), int(sel["t"].max())
            utc = sel["utc"]
            when = ""
            if not np.isnan(utc).all():
                a, b = _iso(np.array([np.nanmin(utc), np.nanmax(utc)]))
                when = f", UTC {a} .. {b}"
            t.add_row(f"boot {boot}", f"uptime {lo}..{hi} s ({(hi - lo) / 86400:.2f} days){when}")
    if data.problems:
        integrity = f"[red]{len(data.problems)} problem(s)[/red]: " + "; ".join(data.problems[:3])
    else:
        integrity = (
            "every block parses (CRC), seq without gaps; MAC chain not checked (logs verify)"
        )
    t.add_row("integrity", integrity)
    for c in data.clock:
        t.add_row("clock", c)
    console.print(t)
    return 0
