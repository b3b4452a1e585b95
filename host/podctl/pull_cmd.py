"""`podctl logs pull`: download a container's whole log while it keeps logging.

The device seals its open block first (LOG_INFO), reports the log's size and
the last block's sequence number and MAC, and the host reads [0, size) in
frames of up to 1016 bytes. The bytes go to DIR/log.bin.part as they come,
with DIR/pull.json saying where the pull stands: after a disconnect, the same
command continues from there (if the log's first block is still the same;
an erase or an overwrite in between starts it over). At the end the log is
checked against what the device reported (the last block's seq and MAC) and
saved with its manifest (host/podctl/manifest.py) and the profile in force.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from podctl import logdata, manifest
from podctl.blocks import log_ends, walk
from podctl.device import add_port_args, open_device
from podctl.errors import CommandError, LinkError
from podctl.profile_cmds import read_profile
from protocol import catalogue as c
from protocol import profile as pf

READ = 1016  # LOG_READ data per frame (MAX_PAYLOAD - 8)


def add_parser(logs_sub) -> None:
    p = logs_sub.add_parser(
        "pull",
        help="download the whole log with its manifest (resumable; the device keeps logging)",
        description=__doc__.split("\n\n")[1],
    )
    add_port_args(p)
    p.add_argument("-o", "--out", type=Path, default=None, help="folder (default: build/logs/DEVICE)")
    p.set_defaults(run=cmd_pull)


def cmd_pull(args: argparse.Namespace, console: Console) -> int:
    pull(args, console)
    return 0


def pull(args: argparse.Namespace, console: Console) -> dict:
    """Pull and save; returns the transfer's figures (for make bench)."""
    with open_device(args) as dev:
        ident = dev.identify()
        dev_id = dev.device_id
        out = args.out or Path("build") / "logs" / dev_id
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CommandError(f"{out}: cannot create the folder: {e.strerror}") from None
        info = dev.request(c.MSG_LOG_INFO)  # seals the open block first
        st = dev.status()
        anchor = logdata.Anchor(st["boot_count"], st["uptime"], time.time())
        part = out / "log.bin.part"
        state_path = out / "pull.json"
        have = _resume(state_path, part, dev_id, info)
        if have:
            console.print(f"resuming at byte {have} of {info['size']}", highlight=False)
        else:
            part.write_bytes(b"")
        state_path.write_text(json.dumps({"device_id": dev_id, "first_seq": info["first_seq"], "size": info["size"]}))
        t0 = time.monotonic()
        wire0, pay0 = dev.link.wire_bytes_in, dev.link.payload_bytes_in
        with open(part, "ab") as f, Progress(
            TextColumn("[bold]pulling"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=console, transient=True,
        ) as bar:
            task = bar.add_task("pull", total=info["size"], completed=have)
            at = have
            while at < info["size"]:
                try:
                    got = dev.request(c.MSG_LOG_READ, at, min(READ, info["size"] - at))
                except LinkError as e:
                    raise LinkError(f"{e}; run the same podctl logs pull again to continue from byte {at}") from None
                data = got["data"]
                if got["offset"] != at or not data:
                    raise CommandError(f"device answered offset {got['offset']} with {len(data)} bytes for {at}: pull again")
                f.write(data)
                at += len(data)
                bar.update(task, completed=at)
        seconds = time.monotonic() - t0
        wire = dev.link.wire_bytes_in - wire0
        payload = dev.link.payload_bytes_in - pay0
        profile = read_profile(dev)
    raw = part.read_bytes()[: info["size"]]
    blocks, problems = walk(raw)
    ends = log_ends(raw, blocks)
    if ends is None or ends[1:] != (info["last_seq"], info["last_mac"]):
        raise CommandError(
            f"the pulled log ends at block {ends[1] if ends else None}, the device reported "
            f"{info['last_seq']}: pull again"
        )
    log_path = out / "log.bin"
    log_path.write_bytes(raw)
    part.unlink()
    state_path.unlink()
    if profile:
        (out / "profile.bin").write_bytes(profile)
    v = ident["fw_version"]
    m = manifest.make(
        device_id=dev_id,
        fw_version=f"{v >> 16}.{v >> 8 & 255}.{v & 255}",
        fw_hash=ident["fw_hash"].hex(),
        profile_ident=pf.ident(profile) if profile else None,
        log_sha256=hashlib.sha256(raw).hexdigest(),
        log_bytes=len(raw),
        first_seq=info["first_seq"],
        last_seq=info["last_seq"],
        last_mac=info["last_mac"],
        anchor=anchor,
        source=f"pull {dev.url}",
    )
    manifest.write(manifest.beside(log_path), m)
    rate = (len(raw) - have) / 1024 / seconds if seconds > 0 else 0.0
    eff = (len(raw) - have) / wire if wire else 0.0  # log bytes over bytes on the wire
    console.print(
        f"{dev_id}: {len(raw)} bytes, blocks {info['first_seq']}..{info['last_seq']} -> {log_path} "
        f"(+ manifest{', profile.bin' if profile else ''}); {rate:.0f} KiB/s, {100 * eff:.1f}% of wire bytes were log",
        highlight=False,
    )
    if problems:
        console.print(f"[yellow]note: {problems[0]} (podctl logs verify says more)[/yellow]")
    return {"bytes": len(raw) - have, "seconds": seconds, "kib_per_s": rate, "efficiency": eff, "path": log_path}


def _resume(state_path: Path, part: Path, dev_id: str, info: dict) -> int:
    """Bytes already pulled that still belong to this log, or 0."""
    try:
        st = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return 0
    if st.get("device_id") != dev_id or st.get("first_seq") != info["first_seq"] or not part.exists():
        return 0
    return min(part.stat().st_size, info["size"])
