"""`podctl flash`: put this checkout's firmware on a container.

1. If the podctl firmware is running, ask it (authenticated MAINTENANCE
   REPL) to stop serving and drop to the REPL, so mpremote can work.
2. Deploy the bundle (protocol/ and firmware/ under /lib, the board's
   /main.py) with mpremote's transport, skipping files whose SHA-256 on the
   device already matches, then check every file's SHA-256 on the device.
3. On first flash, provision the device: a new id and secret key; the key
   goes into the host keystore (mode 0600) first, then onto the device, and
   is never printed.
4. Reboot, and confirm the firmware answers with this bundle's version and
   hash.

Running it again after an unplugged cable finishes the job: unchanged files
are skipped, the rest copied.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from podctl import bundle, serialport
from podctl.cli_common import add_port_args, examples
from podctl.device import Device, DeviceInfo
from podctl.errors import BadInput, CheckFailed, DeviceMismatch, DeviceRefused, LinkError
from podctl.keystore import Keystore
from protocol import catalogue as c

STEP_S = 6.0  # longest one file's copy and check may take before the link is deemed gone
# What the board's /main.py does before it starts the firmware: first of
# all Ctrl-C off (a 0x03 on the USB line while the board boots would stop it
# at the REPL, where its key file can be read or rewritten: issue 14, S4;
# only the authenticated MAINTENANCE REPL turns it back on); a collection
# every 2 KiB allocated, so the imports' scratch is freed before the next
# module's objects land (left to one collection at the end, it scatters 16
# KiB of holes that no KiB buffer fits; at every 4 KiB, after the link's
# challenges and derived keys, the day no longer flew in 62 KiB, at 2 KiB it
# does), then the big buffers (firmware/ram.py). tests/test_firmware_heap.py
# runs the same lines in a 64 KiB heap.
BOARD_PRELUDE = """import micropython

micropython.kbd_intr(-1)
import gc

gc.threshold(2048)
from firmware import ram

ram.reserve()
"""
BOARD_MAIN = (
    "# podctl firmware entry (written by podctl flash)\n"
    + BOARD_PRELUDE
    + "from firmware.main import main\n\nmain()\n"
).encode()


def add_parser(sub) -> None:
    p = sub.add_parser(
        "flash",
        help="deploy this firmware to a container (provisions it on first flash)",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1]
        + "\n"
        + examples(
            "podctl flash                                  # the one board attached by USB",
            "podctl flash --port $(cat build/board/port)   # the virtual board",
            "podctl flash --mpy --device-id POD00042 --keystore ~/lab/keys.json",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_port_args(p)
    p.add_argument("--device-id", type=_device_id,
                   help="id to give a new device (up to 16 printable characters; default 13 random"
                   " characters of Crockford base32, 64 bits, not one the keystore has)")
    p.add_argument(
        "--mpy", action="store_true", help="precompile with mpy-cross for the board's .mpy version"
    )
    p.set_defaults(run=cmd_flash)


def _device_id(text: str) -> str:
    if not text or len(text.encode()) > ID_MAX or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"device id must be 1 to {ID_MAX} printable bytes, got {text!r}"
        )
    return text


def _files(mpy: bool, tmp: Path) -> tuple[list[tuple[str, bytes]], bytes]:
    """(device path, bytes) of the bundle with its hash module, and the
    bundle hash (8 bytes). Every source is read once, into tmp, and the
    hash, the compiled modules and the copies are made from that snapshot:
    a checkout edited during the flash cannot make them disagree."""
    snap = tmp / "src"
    srcs = []
    for p in bundle.sources():
        dst = snap / p.relative_to(bundle.ROOT)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(p.read_bytes())
        srcs.append(dst)
    digest = bundle.digest(srcs, snap)[:8]
    out: list[tuple[str, bytes]] = []
    if mpy:
        built = tmp / "mpy"
        try:
            compiled = bundle.compile_tree(built, srcs, snap)
        except RuntimeError as e:  # mpy-cross refused a module of this checkout
            raise BadInput(str(e)) from None
        for p in compiled:
            out.append(("lib/" + p.relative_to(built).as_posix(), p.read_bytes()))
    else:
        for p in srcs:
            out.append(("lib/" + p.relative_to(snap).as_posix(), p.read_bytes()))
    out.append(("lib/firmware/_bundle.py", b"# written by podctl flash\nHASH = %r\n" % digest))
    out.append(("main.py", BOARD_MAIN))
    return out, digest


def _stop_firmware(url: str, keys: Keystore, console: Console) -> str | None:
    """Ask a running podctl firmware to drop to the REPL; its device id, or
    None if nothing answered (blank board, or already at the REPL)."""
    with Device(url, keys, timeout=0.7) as dev:
        try:
            info = dev.info()
        except LinkError:
            return None
        try:
            dev.maintenance("repl")
        except BadInput:
            raise BadInput(
                f"device {info.device_id} is provisioned, but its key is not in "
                f"{keys.path}: wrong board, or give the keystore it was flashed with (--keystore)"
            ) from None
        except DeviceRefused as e:
            raise DeviceRefused(
                f"device {info.device_id} refused maintenance ({c.error_name(e.code)}):"
                " it was provisioned with another key: wrong board, or another host's keystore"
                " (--keystore)",
                e.code, e.detail, e.msg_type,
            ) from None
        console.print(
            f"device {info.device_id} (firmware {info.fw_version}) stopped for maintenance",
            highlight=False,
        )
        return info.device_id


def _transport(url: str):
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        t = SerialTransport(url, baudrate=115200)
    except TransportError as e:
        raise LinkError(f"{url}: {e}") from None
    try:
        t.enter_raw_repl(soft_reset=False)
    except TransportError:
        t.close()
        raise LinkError(
            f"{url}: no MicroPython REPL answered: is it a container with MicroPython? "
            "unplug and replug it, then run podctl flash again"
        ) from None
    return t


def _check_mpy_version(t) -> None:
    """Precompiled modules load only on a MicroPython of the same .mpy
    version; the bundle is bytecode only, so the board's architecture does
    not matter."""
    import subprocess

    mpy = t.eval("__import__('sys').implementation._mpy")
    board = f"{mpy & 0xFF}.{mpy >> 8 & 3}"
    out = subprocess.run(
        [bundle.mpy_cross(), "--version"], capture_output=True, text=True, check=False
    ).stdout
    ours = out.rsplit("mpy v", 1)[-1].strip()
    if board != ours:
        raise DeviceMismatch(
            f"the board loads .mpy v{board}, this mpy-cross makes v{ours}: flash without --mpy, "
            "or install the mpy-cross of the board's MicroPython"
        )


def _ensure_dirs(t, path: str, made: set[str]) -> None:
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in made:
            continue
        if not t.fs_exists(d):
            t.fs_mkdir(d)
        made.add(d)


def cmd_flash(args: argparse.Namespace, console: Console) -> int:
    import tempfile

    from mpremote.transport import TransportError

    url = serialport.resolve(args.port)
    keys = Keystore(args.keystore)
    _stop_firmware(url, keys, console)
    t = _transport(url)
    try:
        if args.mpy:
            _check_mpy_version(t)
        with tempfile.TemporaryDirectory() as tmp:
            files, digest = _files(args.mpy, Path(tmp))
        try:
            copied, skipped = _deploy(t, files, console)
            provisioned = _provision(t, args.device_id, keys, console)
        except TransportError as e:
            raise LinkError(
                f"{url}: the link dropped while flashing ({e}): replug and run podctl flash again"
            ) from None
        except _Stalled:
            raise LinkError(
                f"{url}: the device stopped answering while flashing:"
                " replug and run podctl flash again"
            ) from None
        except OSError as e:
            raise LinkError(
                f"{url}: device unplugged while flashing ({e}): replug and run podctl flash again"
            ) from None
        console.print(
            f"{copied} file(s) copied, {skipped} unchanged;"
            " every file's SHA-256 checked on the device",
            highlight=False,
        )
        try:
            t.exec_raw_no_follow(
                "import sys\nif sys.platform == 'linux':\n sys.exit(75)\n"
                "import machine\nmachine.reset()"
            )
        except (TransportError, OSError):
            pass  # the board goes away as it resets
    finally:
        try:
            t.close()
        except OSError:
            pass
    want = digest.hex()
    info = _await_firmware(url, keys)
    if info.fw_hash != want:
        raise CheckFailed(
            f"the device runs firmware {info.fw_hash}, not the bundle just flashed ({want}): "
            "run podctl flash again"
        )
    console.print(
        f"device {info.device_id} runs firmware {info.fw_version} bundle {want}"
        + (" (provisioned now)" if provisioned else ""),
        highlight=False,
    )
    return 0


class _Stalled(Exception):
    pass


class _Deadline:
    """Raise _Stalled if one step of the transfer takes longer than
    `seconds`: mpremote waits without end for a REPL that went away (a pty
    outlives the board process behind it, so nothing errors)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def _fire(self, _sig, _frame):
        raise _Stalled()

    def __enter__(self):
        import signal

        self._old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._old)
        return False


def _deploy(t, files: list[tuple[str, bytes]], console: Console) -> tuple[int, int]:
    total = sum(len(b) for _, b in files)
    made: set[str] = set()
    copied = skipped = 0
    with Progress(
        TextColumn("[bold]flashing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[file]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("flash", total=total, file="")
        for path, data in files:
            bar.update(task, file=path)
            want = hashlib.sha256(data).digest()
            with _Deadline(STEP_S):
                if t.fs_exists(path) and t.fs_hashfile(path, "sha256") == want:
                    skipped += 1
                else:
                    _ensure_dirs(t, path, made)
                    tmp = path + ".new"
                    t.fs_writefile(tmp, data, chunk_size=1024)
                    if t.fs_hashfile(tmp, "sha256") != want:
                        raise LinkError(
                            f"{path}: SHA-256 on the device differs after copying:"
                            " run podctl flash again"
                        )
                    t.exec(f"import os\nos.rename({'/' + tmp!r}, {'/' + path!r})")
                    copied += 1
            bar.advance(task, len(data))
    # every file, copied or not, checked once more where it now lies
    for path, data in files:
        with _Deadline(STEP_S):
            if t.fs_hashfile(path, "sha256") != hashlib.sha256(data).digest():
                raise LinkError(
                    f"{path}: SHA-256 on the device does not match: run podctl flash again"
                )
    return copied, skipped


# A default device id: 13 characters of Crockford's base32 (no I, L, O, U),
# the first a letter so an id never reads as a number: 22 * 32**12 values,
# 64.5 bits (the wire's device_id is 16 printable bytes, SPEC 5.1), so a
# fleet drawn apart never collides (two of a million devices share an id
# with odds about 2e-8); within one keystore no two ever do.
ID_MAX = 16  # bytes of the wire's device_id
ID_LEN = 13
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FIRST = CROCKFORD[10:]  # the 22 letters
_ID_SPACE = len(_FIRST) * 32 ** (ID_LEN - 1)


def new_device_id(keys: Keystore) -> str:
    """A fresh random default id, drawn again while the keystore has it.
    128 random bits reduced modulo the 22 * 32**12 ids: no measurable bias."""
    taken = set(keys.devices())
    while True:
        n = int.from_bytes(os.urandom(16), "big") % _ID_SPACE
        tail = []
        for _ in range(ID_LEN - 1):
            n, digit = divmod(n, 32)
            tail.append(CROCKFORD[digit])
        new_id = _FIRST[n] + "".join(reversed(tail))
        if new_id not in taken:
            return new_id


def _provision(t, device_id: str | None, keys: Keystore, console: Console) -> bool:
    """Give a new device its id and key, once. Returns True if it did."""
    if t.fs_exists("identity"):
        return False
    if device_id is not None and device_id in keys:  # refused before the device changes
        raise BadInput(
            f"device id {device_id} already has a key history in {keys.path}: podctl never "
            "overwrites one; choose another id for the new device (--device-id), or leave "
            "--device-id out for a fresh random one"
        )
    new_id = device_id or new_device_id(keys)
    key = os.urandom(32)
    path = keys.add(new_id, key)  # the key is safe on the host first (refuses a taken id)
    t.exec(
        "from firmware.guard import Guard\n"
        f"Guard('').provision({(new_id.encode() + bytes(16))[:16]!r}, bytes({key!r}))"
    )
    console.print(f"provisioned device {new_id}; its key is in {path}", highlight=False)
    return True


def _await_firmware(url: str, keys: Keystore, seconds: float = 20.0) -> DeviceInfo:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with Device(url, keys, timeout=1.0) as dev:
                return dev.info()
        except LinkError as e:
            last = e
            time.sleep(0.5)
    raise LinkError(
        f"{url}: the firmware did not answer after the reboot ({last}):"
        " replug and run podctl flash again"
    )
