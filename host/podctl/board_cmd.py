"""`podctl board`: a virtual container on a pseudo-terminal.

The firmware on the micropython binary, the way a board runs it: its REPL and
link on a pty whose path is printed (and written to --port-file once it
accepts connections), its flash a littlefs image file that persists between
runs, its sensors and actuators wired to a simulator scenario running at
--speed times real time. Every podctl command, and mpremote itself
(`mpremote connect PTY resume ...`), works against that path as against a
USB-attached container. Ctrl-C or SIGTERM stops it cleanly.

A fresh image holds no firmware: the board waits at the REPL like a blank
Pico until `podctl flash --port PTY` deploys it.

One board per image: the image is locked (an OS file lock on IMAGE.lock,
held by the board for its life), so a second board on the same image
refuses to start rather than corrupt the log of the first.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

from rich.console import Console

from podctl.errors import BadInput, LinkError
from sim import flashdev, scenario, upy

REBOOT_EXIT = 75  # sim/vboard.py: MAINTENANCE REBOOT or a power cycle


def add_parser(sub) -> None:
    p = sub.add_parser(
        "board",
        help="run a virtual container on a pseudo-terminal",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  podctl board nominal --speed 600 --port-file build/board/port\n"
            "  podctl flash --port $(cat build/board/port)\n"
            "  mpremote connect $(cat build/board/port) resume exec"
            " \"import os; print(os.listdir('/'))\""
        ),
    )
    p.add_argument(
        "scenario", nargs="?", default="nominal", help="simulator scenario (default nominal)"
    )
    p.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="virtual seconds per real second"
        " (default 1; 600 = 10 minutes a second; 0 = as fast as it goes)",
    )
    p.add_argument(
        "--flash",
        type=Path,
        default=Path("build/board/flash.img"),
        help="flash image file (created if absent)",
    )
    p.add_argument("--erase", action="store_true", help="start from a blank flash image")
    p.add_argument(
        "--port-file", type=Path, help="write the pty path here once it accepts connections"
    )
    p.add_argument(
        "--seed", type=int, default=None, help="simulator seed (default: the scenario's)"
    )
    p.set_defaults(run=cmd_board)


def _speed(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number, got {text!r}") from None
    if not math.isfinite(v) or v < 0 or v > 1e6:
        raise argparse.ArgumentTypeError(
            f"speed must be 0 (as fast as possible) to 1e6, got {text!r}"
        )
    return v


IMAGE_BYTES = flashdev.BLOCK_SIZE * flashdev.BLOCK_COUNT


def check_image(image: Path) -> None:
    """BadInput unless image is absent (a new board) or a board's flash:
    a file of the board's size with a littlefs superblock."""
    if image.is_dir():
        raise BadInput(
            f"{image}: is a folder: --flash takes the image file, e.g. {image / 'flash.img'}"
        )
    if not image.exists():
        return
    if not image.is_file():
        raise BadInput(f"{image}: not a regular file: --flash takes a flash image file")
    size = image.stat().st_size
    try:
        with open(image, "rb") as f:
            head = f.read(2 * flashdev.BLOCK_SIZE)
    except OSError as e:
        raise BadInput(f"{image}: cannot read the flash image: {e.strerror}") from None
    # littlefs keeps its superblock in block 0 or 1, the name at byte 8
    magic = b"littlefs"
    if size != IMAGE_BYTES or magic not in (
        head[8:16],
        head[flashdev.BLOCK_SIZE + 8 : flashdev.BLOCK_SIZE + 16],
    ):
        raise BadInput(
            f"{image}: not a board's flash image ({size} bytes, a littlefs of {IMAGE_BYTES} is): "
            "give another --flash, or --erase to start this one blank"
        )


def lock_image(image: Path) -> int:
    """An exclusive lock on IMAGE.lock for as long as the returned fd is
    open (the board process inherits it); LinkError if another board holds
    it. The lock file stays: removing it would race the next board."""
    lock = image.with_name(image.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise BadInput(f"{lock}: cannot make the image's lock file: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise LinkError(
            f"{image}: in use by another virtual board{f' (pid {holder})' if holder else ''}: "
            "stop it first, or give this one another --flash"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def spawn(scenario_name: str, speed: float, image: Path, port_file: Path, log=subprocess.DEVNULL,
          timeout: float = 20.0) -> tuple[subprocess.Popen, str]:
    """Start `podctl board` as a child process; (process, pty path) once it
    accepts connections. Its board.log lands beside the image."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "podctl.cli", "board", str(scenario_name), "--speed", str(speed),
         "--flash", str(image), "--port-file", str(port_file)],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise LinkError(f"the virtual board did not start (see {image.parent / 'board.log'})")
        time.sleep(0.1)
    return proc, port_file.read_text().strip()


def last_status(board_log: Path) -> dict | None:
    """The board's last "status {json}" line in its stderr log."""
    try:
        with open(board_log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            tail = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        if line.startswith("status "):
            try:
                return json.loads(line[7:])
            except ValueError:
                return None
    return None


class VirtualBoard:
    """The supervisor: owns the pty and restarts the board process on a
    reboot (a power cycle keeps the pty and the flash image)."""

    def __init__(self, sc: dict, image: Path, speed: float, seed: int | None, workdir: Path,
                 lock_fd: int | None = None):
        self.sc = sc
        self.lock_fd = lock_fd  # handed to each board process: the lock lives while one does
        self.image = image.resolve()
        self.speed = speed
        self.seed = seed
        self.workdir = workdir.resolve()
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # a serial line: bytes pass untouched
        self.path = os.ttyname(self.slave)
        self.proc: subprocess.Popen | None = None
        self.boots = 0
        self.stopping = False
        self.stderr_path = self.workdir / "board.log"

    def _config(self, fresh: bool) -> Path:
        cfg = {
            "scenario": self.sc,
            "image": str(self.image),
            "speed": self.speed,
            "seed": self.seed if self.seed is not None else self.sc["seed"],
            "fresh": fresh,
        }
        p = self.workdir / "board.json"
        p.write_text(json.dumps(cfg))
        return p

    def start(self, fresh: bool = False) -> None:
        cfg = self._config(fresh)
        env = dict(os.environ, MICROPYPATH=upy.micropypath())
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [upy.binary(), "-i", str(upy.ROOT / "sim" / "vboard.py"), str(cfg)],
                stdin=self.master,
                stdout=self.master,
                stderr=err,
                env=env,
                cwd=self.workdir,
                pass_fds=() if self.lock_fd is None else (self.lock_fd,),
            )
        self.boots += 1

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def status(self) -> dict | None:
        return last_status(self.stderr_path)

    def stop(self) -> None:
        self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def cmd_board(args: argparse.Namespace, console: Console) -> int:
    try:
        sc = scenario.load(args.scenario)
    except scenario.ScenarioError as e:
        raise BadInput(str(e)) from None
    image: Path = args.flash
    if image.is_dir():
        check_image(image)
    try:
        image.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"{image.parent}: cannot create: {e.strerror}") from None
    lock = lock_image(image)
    try:
        return _run(args, console, sc, image, lock)
    finally:
        os.close(lock)


def _run(args: argparse.Namespace, console: Console, sc: dict, image: Path, lock: int) -> int:
    if args.erase and image.exists():
        image.unlink()
    check_image(image)
    if args.port_file:
        try:
            args.port_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"{args.port_file.parent}: cannot create: {e.strerror}") from None
    vb = VirtualBoard(sc, image, args.speed, args.seed, image.parent, lock)
    stop = {"sig": None}

    def on_signal(signum, _frame):
        stop["sig"] = signum

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        vb.start(fresh=not image.exists())
        time.sleep(0.3)
        if vb.poll() is not None and vb.poll() != REBOOT_EXIT:
            raise LinkError(f"virtual board failed to start: see {vb.stderr_path}")
        speed = "as fast as it goes" if args.speed == 0 else f"{args.speed:g}x real time"
        console.print(
            f"virtual board {sc['name']} on [bold]{vb.path}[/bold] ({speed}); flash {image}",
            highlight=False,
        )
        console.print(
            f"  mpremote connect {vb.path} resume ...   |   podctl status --port {vb.path}",
            highlight=False,
        )
        if args.port_file:
            args.port_file.write_text(vb.path + "\n")
        last = 0.0
        while stop["sig"] is None:
            code = vb.poll()
            if code is not None:
                # MAINTENANCE REBOOT, a soft reset at the REPL, or a crash:
                # the board powers up again on the same flash and pty
                console.print(f"board process exited ({code}): rebooting", highlight=False)
                vb.start()
            time.sleep(0.1)
            st = vb.status()
            if st and time.monotonic() - last > 30:
                last = time.monotonic()
                console.print(
                    f"  mission {st['t'] / 3600:.1f} h of {st['end'] / 3600:.1f} h, payload "
                    f"{st['payload_c']:.2f} degC, battery {100 * st['battery_soc']:.0f}%"
                    + ("" if st["board_on"] else ", board off"),
                    highlight=False,
                )
    finally:
        vb.stop()
        for s, h in old.items():
            signal.signal(s, h)
        if args.port_file and args.port_file.exists():
            args.port_file.unlink()
    console.print("virtual board stopped", highlight=False)
    return 0
