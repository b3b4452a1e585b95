"""`podctl logs ...`: read, check and convert a pulled log.

  podctl logs pull [--port P] [-o DIR]
  podctl logs verify LOG [--manifest M] [--keystore K | --key-file F] [--after PREV]
                         [--allow-unanchored]
  podctl logs decode LOG [--format csv|parquet|json] [-o OUT]
  podctl logs extract IMAGE [-o DIR]
  podctl logs info LOG
  podctl logs report LOG [--pdf] [--profile FILE] [--keystore K | --key-file F | --no-key]

Thin verbs over the library: podctl.open_pulled reads the log and its
manifest (refusing a malformed one with one line, exit 4), podctl.verify
decides integrity (exit 1 when a check fails), podctl.logdata and
podctl.decode decode. LOG is the log file or the folder `logs pull` wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from podctl import assess_cmd, export, extract, keystore, logdata, pull_cmd, report_cmd
from podctl.blocks import walk
from podctl.errors import EXIT_CHECK_FAILED, BadInput, CommandError
from podctl.pulled import Manifest, Pulled, manifest_beside, open_pulled, read_manifest
from podctl.verdict import HEAD_NOT_ATTESTED, NOT_ATTESTED, Verdict, verify
from protocol import log


def add_parser(sub) -> None:
    p = sub.add_parser(
        "logs",
        help="pull, verify, decode, extract, summarise and report a log",
        description="Read a log as `podctl logs pull` or `podctl sim run` saved it (a folder with "
        "log.bin and log.bin.manifest.json), or out of a board's flash image.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  podctl logs pull -o build/pulled\n"
            "  podctl logs verify build/pulled\n"
            "  podctl logs report build/pulled --pdf\n"
            "  podctl logs decode build/pulled --format parquet -o mission.parquet"
        ),
    )
    lsub = p.add_subparsers(dest="logs_cmd", required=True, metavar="ACTION")
    for add in VERBS:
        add(lsub)


def _log_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="LOG",
                   help="the log file, or the folder logs pull wrote (LOG/log.bin)")
    p.add_argument("--manifest", type=Path, default=None, help="manifest (default: beside LOG)")


def add_key_args(p: argparse.ArgumentParser, no_key: bool = False) -> None:
    """The device key options, spelt the same on every verb that checks a log."""
    keys = p.add_mutually_exclusive_group()
    keys.add_argument(
        "--keystore", type=Path, default=None,
        help="keystore (default: PODCTL_KEYSTORE or ~/.config/podctl/keys.json)",
    )
    keys.add_argument(
        "--key-file", type=Path, default=None,
        help="the device key as 32 raw bytes (sim run's key.bin)",
    )
    if no_key:
        keys.add_argument("--no-key", action="store_true",
                          help="go on without the key: the log is then NOT AUTHENTICATED")


def add_anchor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--after", type=Path, default=None, metavar="PREV",
        help="manifest of the earlier pull that ended just before this log's first block",
    )
    p.add_argument(
        "--allow-unanchored", action="store_true",
        help="accept a first block that chains to an erased block the device does not say it "
        "dropped: the verdict is then HEAD NOT ATTESTED (exit 1), never VERIFIED",
    )


def keys_for(args: argparse.Namespace, m: Manifest | None) -> tuple[list[bytes] | None, str]:
    """The device's key history and where it came from, as the options say."""
    if getattr(args, "no_key", False):
        return None, "none (--no-key)"
    if args.key_file is not None:
        return [keystore.read_key_file(args.key_file)], f"key file {args.key_file}"
    if m is None:
        raise BadInput("no manifest names the device: give --key-file")
    ks = args.keystore or keystore.path()
    keys = keystore.device_keys(m.device_id, args.keystore)
    told = f"keystore {ks}, device {m.device_id}" + (
        f" ({len(keys)} keys: rotated)" if len(keys) > 1 else "")
    return keys, told


def verdict_for(args: argparse.Namespace, pulled: Pulled, keys: list[bytes] | None) -> Verdict:
    after = read_manifest(args.after) if getattr(args, "after", None) is not None else None
    first = next((b for b in pulled.blocks if b.seq is not None), None)
    if after is not None and first is not None and after.log.last_seq != (first.seq or 0) - 1:
        raise BadInput(
            f"{args.after}: the earlier pull ended at block {after.log.last_seq}, "
            f"this log starts at block {first.seq}: not the pull just before"
        )
    return verify(
        pulled, keys, after=after, allow_unanchored=getattr(args, "allow_unanchored", False)
    )


SHOWN = 12  # findings listed by logs verify


def print_findings(console: Console, verdict: Verdict, shown: int = SHOWN) -> None:
    label = {"fail": "FAIL", "warn": "warning", "note": "note"}
    for f in verdict.findings[:shown]:
        console.print(f"{label[f.severity]}: {f}", markup=False, highlight=False, soft_wrap=True)
    if len(verdict.findings) > shown:
        console.print(f"... and {len(verdict.findings) - shown} more", highlight=False)


# -- verify ------------------------------------------------------------------


def add_verify(lsub) -> None:
    v = lsub.add_parser(
        "verify",
        help="check a log is complete and authentic (exit 1 when not)",
        description=(
            "Check LOG against SPEC 8.3: every block parses (CRC, shape), the MAC chain holds "
            "under the device's key history, seq has no gap, the file is the one pulled "
            "(SHA-256) and ends at the block and MAC the device sealed. An unanchored start "
            "(the log begins after an erase) fails unless --after anchors it or the device's "
            "seal says it dropped the head; --allow-unanchored accepts it as HEAD NOT ATTESTED, "
            "never VERIFIED (its first block's records are not authenticated)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  podctl logs verify build/pulled\n"
            "  podctl logs verify build/sim/nominal/log.bin --key-file build/sim/nominal/key.bin\n"
            "  podctl logs verify new/log.bin --after old/log.bin.manifest.json\n\n"
            "exit status: 0 VERIFIED (complete and authentic, its end sealed by the device);\n"
            "1 a check failed, or HEAD / END NOT ATTESTED; 4 bad input"
        ),
    )
    _log_arg(v)
    add_key_args(v)
    add_anchor_args(v)
    v.set_defaults(run=cmd_verify)


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    pulled = open_pulled(args.file, args.manifest, require_manifest=True)
    assert pulled.manifest is not None
    keys, key_from = keys_for(args, pulled.manifest)
    verdict = verdict_for(args, pulled, keys)
    span = verdict.span
    t = Table(title=f"logs verify {pulled.log_path}", show_header=False)
    t.add_row("manifest", f"{pulled.manifest_path} ({pulled.manifest.source})")
    t.add_row("key", key_from)
    shown = f"seq {span[0]}..{span[1]}" if span else "none readable"
    t.add_row("blocks", f"{len(verdict.readable)} ({shown}), {len(pulled.raw)} bytes")
    t.add_row("end", verdict.sealed_at() + (" (SIMULATED board)" if verdict.simulated else ""))
    console.print(t)
    print_findings(console, verdict)
    if not verdict.ok:
        raise CommandError(f"{pulled.log_path}: NOT authentic: {verdict.first_failure()}",
                           EXIT_CHECK_FAILED)
    if verdict.status == HEAD_NOT_ATTESTED:
        raise CommandError(
            f"{pulled.log_path}: HEAD NOT ATTESTED: block {span[0] if span else 0} chains to a "
            "block this log does not hold and only --allow-unanchored accepted it: its records "
            "are not authenticated (anyone could have written them); every later block is: not "
            "evidence of a complete log", EXIT_CHECK_FAILED)
    if verdict.status == NOT_ATTESTED:
        raise CommandError(
            f"{pulled.log_path}: END NOT ATTESTED: the chain is complete and authentic, but no "
            "seal of the device says where the log ends (a flash image's log, or a pull "
            "without the key): not evidence of a complete log", EXIT_CHECK_FAILED)
    console.print(
        f"{pulled.log_path}: complete and authentic: {len(verdict.readable)} blocks, {shown}, "
        f"device {pulled.manifest.device_id}"
        + (" (with warnings above)" if verdict.warnings else ""),
        markup=False, highlight=False, soft_wrap=True,
    )
    return 0


# -- decode ------------------------------------------------------------------


def add_decode(lsub) -> None:
    d = lsub.add_parser(
        "decode",
        help="samples and events with units and UTC, as CSV, Parquet or JSON",
        description=(
            "Decode every readable block of LOG. Column names carry the unit (probe0_degC, "
            "humidity_pct_rh, battery_V, ...); a channel with no reading is empty (null). "
            "UTC is ISO 8601 (Z) to the second, from the device's TIME_SET events in the log "
            "(authenticated by its MAC chain); empty for a boot whose clock was never set, whose "
            "records are placed by boot and uptime_s alone (the manifest's pull anchor is not "
            "used: anyone can edit it). Past a damaged block decoding resumes at the next "
            "good one (SPEC 8.2) and what was lost is named; `logs verify` checks the log."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "outputs:\n"
            "  csv      OUT (samples) and OUT's name + .events.csv (default LOG.csv)\n"
            "  parquet  OUT (samples) and OUT's name + .events.parquet; utc is a timestamp\n"
            "  json     OUT: {\"samples\": [...], \"events\": [...], \"clock\": [...]}\n"
            "           -o - writes the JSON to standard output\n\n"
            "examples:\n"
            "  podctl logs decode build/pulled\n"
            "  podctl logs decode build/pulled/log.bin --format parquet -o mission.parquet\n"
            "  podctl logs decode log.bin --format json -o - | jq '.events[0]'"
        ),
    )
    _log_arg(d)
    d.add_argument("--format", choices=export.FORMATS, default="csv")
    d.add_argument("-o", "--out", default=None, metavar="OUT", help="output file")
    d.set_defaults(run=cmd_decode)


def load_data(pulled: Pulled, verdict: Verdict | None = None) -> logdata.LogData:
    """The decoded log; with a verdict, decoded from the blocks verify walked
    (no second walk)."""
    return pulled.data(verdict.blocks if verdict is not None else None)


def warn_damage(verdict: Verdict, name: str, what: str) -> None:
    """One warning line for damage decode and info went past."""
    bad = [
        f
        for f in verdict.findings
        if f.code in ("unreadable", "undecodable", "seq_gap", "seq_back")
    ]
    if bad:
        Console(stderr=True).print(
            f"podctl: warning: {name}: {bad[0]}"
            + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "") + f"; {what}",
            markup=False, highlight=False, soft_wrap=True,
        )


def cmd_decode(args: argparse.Namespace, console: Console) -> int:
    pulled = open_pulled(args.file, args.manifest)
    verdict = verify(pulled, None)
    if not any(b.decodable for b in verdict.blocks):
        raise BadInput(f"{pulled.log_path}: no readable block: {verdict.first_failure()}")
    warn_damage(verdict, str(pulled.log_path), "decoded every block that could be read")
    out = args.out or str(pulled.log_path.with_suffix("." + args.format))
    try:
        # streamed a chunk of records at a time: memory does not grow with the log
        got = export.write_log(pulled.raw, verdict.blocks, args.format, out, console.file)
    except ValueError as e:
        raise BadInput(str(e)) from None
    except OSError as e:
        raise BadInput(f"{out}: cannot write: {e.strerror}") from None
    if got.paths:
        Console(stderr=True).print(
            f"wrote {', '.join(got.paths)}: {got.samples} samples, {got.events} events",
            markup=False, highlight=False, soft_wrap=True,
        )
    return 0


# -- extract -----------------------------------------------------------------


def add_extract(lsub) -> None:
    x = lsub.add_parser(
        "extract",
        help="read the log out of a raw flash image of a board that no longer boots",
        description=(
            "Read the log segments out of IMAGE (the board's littlefs, as dumped from its flash, "
            "the whole chip or the filesystem alone, or written by `podctl sim run`) and write "
            "DIR/log.bin and DIR/log.bin.manifest.json. "
            "The manifest takes the log's end from the log itself (the board cannot report it), "
            "has no clock anchor, and names the device from the image's identity record. No "
            "seal: its verdict is END NOT ATTESTED at best."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  podctl logs extract dump.img -o build/recovered\n"
            "  podctl logs extract pico-2MiB.bin --offset 0xA0000 -o build/recovered\n"
            "  podctl logs verify build/recovered --keystore keys.json"
        ),
    )
    x.add_argument("image", type=Path, metavar="IMAGE")
    x.add_argument(
        "-o", "--out", type=Path, default=None, metavar="DIR",
        help="output folder (default: IMAGE-extract beside IMAGE)",
    )
    x.add_argument(
        "--offset", type=_offset, default=None, metavar="BYTES",
        help="where the littlefs starts in IMAGE (e.g. 0xA0000, the RPI_PICO filesystem in a "
        "whole-chip dump; default: found: at 0, at 0xA0000, or by its superblock)",
    )
    x.set_defaults(run=cmd_extract)


def _offset(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"offset {text!r}: a number of bytes (0xA0000)") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"offset {text!r}: not negative")
    return n


def cmd_extract(args: argparse.Namespace, console: Console) -> int:
    got = extract.from_image(args.image, args.offset)
    out = args.out or args.image.with_name(args.image.stem + "-extract")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "log.bin").write_bytes(got.raw)
        got.manifest.write(manifest_beside(out / "log.bin"))
    except OSError as e:
        raise BadInput(f"{out}: cannot write: {e.strerror}") from None
    end = got.manifest.log
    found = walk(got.raw)[1]
    span = f"blocks {end.first_seq}..{end.last_seq}" if got.raw else "no blocks"
    console.print(
        f"wrote {out}/log.bin ({len(got.raw)} bytes, {span}) and log.bin.manifest.json, "
        f"device {got.manifest.device_id}"
        + ("" if got.identity_ok else " (identity record missing or damaged)"),
        highlight=False,
    )
    if found:
        console.print(f"[yellow]note[/yellow]: {found[0]}", highlight=False)
    console.print(
        "the log's end comes from the log itself (the board cannot report it): "
        "logs verify proves the chain, not that no block was lost at the end",
        highlight=False,
    )
    return 0


# -- info --------------------------------------------------------------------


def add_info(lsub) -> None:
    i = lsub.add_parser(
        "info", help="a short summary: blocks, records, time span, boots, integrity",
        description="Summarise LOG without its key: blocks, records, boots and their time span, "
        "and what podctl.verify finds short of the MAC chain.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n  podctl logs info build/pulled\n  podctl logs info dump-extract/log.bin"
        ),
    )
    _log_arg(i)
    i.set_defaults(run=cmd_info)


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    pulled = open_pulled(args.file, args.manifest)
    verdict = verify(pulled, None)
    if not verdict.readable:
        raise BadInput(f"{pulled.log_path}: no readable block: {verdict.first_failure()}")
    data = load_data(pulled)
    raw, m = pulled.raw, pulled.manifest
    good = verdict.readable
    s = data.samples
    t = Table(title=f"logs info {pulled.log_path}", show_header=False)
    t.add_row("file", f"{len(raw)} bytes, SHA-256 {data.sha256[:16]}...")
    if m:
        t.add_row("manifest", f"{pulled.manifest_path}: device {m.device_id}, {m.source}")
    else:
        t.add_row("manifest", "none beside the file")
    nsamp = sum(1 for b in good if b.kind == log.KIND_SAMPLES)
    span = f", seq {good[0].seq}..{good[-1].seq}" if good else ""
    t.add_row("blocks", f"{len(good)} ({nsamp} sample, {len(good) - nsamp} event){span}")
    t.add_row("records", f"{len(s)} samples, {len(data.events)} events")
    boots = sorted({int(b) for b in s["boot"]} | {e.boot for e in data.events})
    t.add_row("boots", ", ".join(map(str, boots)) or "-")
    for boot in boots:
        sel = s[s["boot"] == boot]
        if not len(sel):
            continue
        lo, hi = int(sel["t"].min()), int(sel["t"].max())
        utc = sel["utc"]
        when = ""
        if not np.isnan(utc).all():
            a, b = export._iso(np.array([np.nanmin(utc), np.nanmax(utc)]))
            when = f", UTC {a} .. {b}"
        t.add_row(f"boot {boot}", f"uptime {lo}..{hi} s ({(hi - lo) / 86400:.2f} days){when}")
    problems = [f for f in verdict.findings if f.code not in ("no_key",)]
    if verdict.failures:
        integrity = f"[red]{len(verdict.failures)} problem(s)[/red]: " + "; ".join(
            str(f) for f in verdict.failures[:3])
    else:
        integrity = "every block parses (CRC), seq without gaps" + (
            ", ends where the manifest says" if verdict.end_checked else "") + (
            "; MAC chain not checked (logs verify)")
    t.add_row("integrity", integrity)
    if verdict.simulated:
        t.add_row("board", f"SIMULATED — NOT FOR RELEASE ({verdict.simulated_by} says so)")
    for f in problems:
        if f.severity == "warn":
            t.add_row("warning", str(f))
    for c in data.clock:
        t.add_row("clock", c)
    console.print(t)
    return 0


VERBS = (
    pull_cmd.add_parser,
    assess_cmd.add_parser,
    add_verify,
    add_decode,
    add_extract,
    add_info,
    report_cmd.add_report_parser,
)
