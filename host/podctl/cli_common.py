"""What the command-line verbs share: the --port and --keystore options, a
Device opened from them, a progress bar for the library's progress
callbacks, and argument types that refuse what cannot be used.

The library (podctl.device) knows nothing of argparse or rich; this is the
glue, and only the verbs import it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from podctl.device import Device

PORT_HELP = "serial port or pyserial URL (default: $PODCTL_PORT, else the one attached board)"
KEYSTORE_HELP = "keystore file (default: $PODCTL_KEYSTORE or ~/.config/podctl/keys.json)"


def add_port_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", help=PORT_HELP)
    p.add_argument("--keystore", type=Path, help=KEYSTORE_HELP)


def open_device(args: argparse.Namespace, timeout: float = 2.0) -> Device:
    from podctl import serialport

    return Device(serialport.resolve(args.port), getattr(args, "keystore", None), timeout)


@contextmanager
def progress_bar(
    console: Console, label: str, speed: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """A transient bar fed by progress(done, total) callbacks. The library's
    first call gives where a resumable transfer starts: a resumed one says
    so once."""
    cols = [TextColumn(f"[bold]{label}"), BarColumn(), DownloadColumn()]
    if speed:
        cols.append(TransferSpeedColumn())
    with Progress(*cols, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        first = True

        def update(done: int, total: int) -> None:
            nonlocal first
            if first and done:
                console.print(f"resuming at byte {done} of {total}", highlight=False)
            first = False
            bar.update(task, completed=done, total=total)

        yield update


def examples(*lines: str) -> str:
    """A verb's --help epilog: the command lines a user would type."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def finite_float(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a number in [low, high] (nan and inf refused)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if not math.isfinite(v) or not low <= v <= high:
            raise argparse.ArgumentTypeError(f"{what} must be {low:g} to {high:g}, got {text!r}")
        return v

    return parse


def whole(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number, got {text!r}"
            ) from None
        if not low <= v <= high:
            raise argparse.ArgumentTypeError(f"{what} must be {low} to {high}, got {text!r}")
        return v

    return parse
