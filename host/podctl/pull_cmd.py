"""`podctl logs pull`: download a container's whole log while it keeps logging.

The device seals its open block first (LOG_INFO), reports the log's size and
the last block's sequence number and MAC, and the host reads [0, size) in
frames of up to 1016 bytes. The bytes go to DIR/log.bin.part as they come,
with DIR/pull.json saying where the pull stands: after a disconnect, the same
command continues from there (if the log's first block is still the same;
an erase or an overwrite in between starts it over). At the end the log is
checked against what the device reported (the last block's seq and MAC) and
saved with its manifest and the profile in force. The work is
podctl.Device.pull; this prints it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from podctl.cli_common import add_port_args, examples, open_device, progress_bar


def add_parser(logs_sub) -> None:
    p = logs_sub.add_parser(
        "pull",
        help="download the whole log with its manifest (resumable; the device keeps logging)",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "podctl logs pull -o build/pulled",
            "podctl logs pull --port /dev/ttyACM0      # into build/logs/DEVICE",
        ),
    )
    add_port_args(p)
    p.add_argument(
        "-o", "--out", type=Path, default=None, help="folder (default: build/logs/DEVICE)"
    )
    p.set_defaults(run=cmd_pull)


def cmd_pull(args: argparse.Namespace, console: Console) -> int:
    pull(args, console)
    return 0


def pull(args: argparse.Namespace, console: Console) -> dict:
    """Pull and print; returns the transfer's figures as tests/bench.py
    reads them (a script of its own would call Device.pull and read
    Device.last_pull)."""
    with open_device(args) as dev:
        dev_id = dev.device_id
        out = args.out or Path("build") / "logs" / dev_id
        with progress_bar(console, "pulling", speed=True) as progress:
            dev.pull(out, progress)
        got = dev.last_pull
        assert got is not None
    console.print(
        f"{dev_id}: {got.log_bytes} bytes, blocks {got.first_seq}..{got.last_seq}"
        f" -> {got.log_path} "
        f"(+ manifest{', profile.bin' if got.profile else ''}); {got.kib_per_s:.0f} KiB/s, "
        f"{100 * got.efficiency:.1f}% of wire bytes were log",
        highlight=False,
    )
    if got.notes:
        console.print(f"note: {got.notes[0]} (podctl logs verify says more)", style="yellow",
                      markup=False, highlight=False)
    return {
        "bytes": got.transferred_bytes,
        "seconds": got.seconds,
        "kib_per_s": got.kib_per_s,
        "efficiency": got.efficiency,
        "path": got.log_path,
    }
