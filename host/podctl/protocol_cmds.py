"""`podctl protocol ...`: look at the protocol itself — the message
catalogue, the error codes, and what a captured byte stream contains."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from podctl.cli_common import examples
from podctl.errors import BadInput
from protocol import catalogue, frame, message


def add_parser(sub) -> None:
    p = sub.add_parser(
        "protocol",
        help="show the message catalogue or decode captured frames",
        description="Inspect the link protocol (protocol/SPEC.md) without a device.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples("podctl protocol messages", "podctl protocol decode --file capture.bin"),
    )
    psub = p.add_subparsers(dest="protocol_cmd", required=True, metavar="ACTION")
    m = psub.add_parser("messages", help="list every message with its fields and units",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog=examples("podctl protocol messages"))
    m.set_defaults(run=cmd_messages)
    e = psub.add_parser("errors", help="list the error codes a device or decoder reports",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog=examples("podctl protocol errors"))
    e.set_defaults(run=cmd_errors)
    d = psub.add_parser(
        "decode",
        help="decode frames from hex or a capture file",
        description=(
            "Split a byte stream at 0x00 delimiters and show each frame with its "
            "fields, or why it was refused. Give hex on the command line, or "
            "--file with raw bytes as captured from the serial port."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "podctl protocol decode '03 01 01 02 00'",
            "podctl protocol decode --file capture.bin",
            "xxd -p capture.bin | podctl protocol decode",
        ),
    )
    d.add_argument("hex", nargs="?", help="wire bytes as hex (spaces allowed)")
    d.add_argument("--file", type=Path, help="raw capture file instead of hex")
    d.set_defaults(run=cmd_decode)


def cmd_messages(args: argparse.Namespace, console: Console) -> int:
    t = Table(title=f"podctl protocol v{catalogue.PROTOCOL_VERSION} messages")
    for col in ("id", "name", "auth", "request", "reply"):
        t.add_column(col)
    for mid, name, auth, req, rep in catalogue.MESSAGES:
        t.add_row(f"0x{mid:02x}", name, "yes" if auth else "", _fields(req), _fields(rep))
    console.print(t)
    return 0


def _fields(fields) -> str:
    return "\n".join(f"{n}:{c}" + (f" [{u}]" if u else "") for n, c, u in fields) or "-"


def cmd_errors(args: argparse.Namespace, console: Console) -> int:
    t = Table(title="error codes")
    for col in ("code", "name", "what to do"):
        t.add_column(col)
    for code, name, hint in catalogue.ERRORS:
        t.add_row(str(code), name, hint)
    console.print(t)
    return 0


def _read_stream(args: argparse.Namespace) -> bytes:
    if args.file is not None:
        try:
            return args.file.read_bytes()
        except OSError as e:
            raise BadInput(f"cannot read {args.file}: {e.strerror}") from None
    text = args.hex if args.hex is not None else sys.stdin.read()
    try:
        return bytes.fromhex(text.replace(" ", "").replace("\n", ""))
    except ValueError:
        raise BadInput("not hex: give bytes like '03 01 01 02 ...' or use --file") from None


def cmd_decode(args: argparse.Namespace, console: Console) -> int:
    data = _read_stream(args)
    results = frame.Deframer().feed(data)
    if data and not data.endswith(b"\x00"):
        console.print(
            "[yellow]note: stream does not end with a 0x00 delimiter; last bytes ignored"
        )
    bad = 0
    for r in results:
        if isinstance(r, frame.Reject):
            bad += 1
            console.print(
                f"[red]refused[/] {r.reason()} (detail {r.detail}): "
                f"{catalogue.error_hint(r.code)}"
            )
            continue
        m = catalogue.message(r.type)
        reply = bool(r.flags & catalogue.FLAG_REPLY)
        kind = "reply" if reply else "request"
        auth = f" counter={r.counter} tag={r.tag.hex()}" if r.counter is not None else ""
        console.print(f"[green]{m[1]}[/] {kind} seq={r.seq}{auth}")
        fields = message.to_dict(r.type, reply, r.payload)
        if fields is None:
            bad += 1
            console.print(f"  [red]payload of {len(r.payload)} bytes does not fit {m[1]}")
            continue
        for k, v in fields.items():
            console.print(f"  {k} = {v.hex() if isinstance(v, bytes) else v}")
    return 1 if bad else 0
