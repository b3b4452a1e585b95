"""`podctl flash`: put this checkout's firmware on a container.

1. If the podctl firmware is running, ask it (authenticated MAINTENANCE
   REPL) to stop: it resets into its maintenance boot (no watchdog, heater
   and Peltier off, Ctrl-C on, at the REPL), so mpremote can work.
2. Deploy the bundle (protocol/ and firmware/, precompiled to .mpy by
   mpy-cross for the board's .mpy version: the smallest form, which leaves
   the log the most of the board's flash; `--py` deploys the sources) into
   the board's spare slot
   (/lib/bundle_a or /lib/bundle_b) with mpremote's transport, skipping
   files whose SHA-256 there already matches, and check every file's
   SHA-256 on the device; then switch: the board's /main.py, which names
   the slot in force, is written new and renamed over the old (one atomic
   step), and the old slot is removed. A cut anywhere leaves the board
   booting the old bundle or the new one, never a mix.
3. On first flash, provision the device: a new id and secret key; the key
   goes into the host keystore (mode 0600) first, then onto the device, and
   is never printed.
4. Reboot (recorded as a commanded reset, not a watchdog one), and confirm
   the firmware answers with this bundle's version and hash.

Running it again after an unplugged cable finishes the job: the files
already in the spare slot are skipped, the rest copied. The spare slot
needs room beside the bundle in force: on a board whose log has filled its
flash, pull the log and erase it first.
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
RESET_WAIT_S = 15.0  # for the board to come back in its maintenance boot (USB re-enumerates)
_CTRL_C_OFF = "import micropython\n\nmicropython.kbd_intr(-1)\n"


def prelude(slot: int) -> str:
    """What the board's /main.py does before it starts the firmware: first
    of all Ctrl-C off (a 0x03 on the USB line while the board boots would
    stop it at the REPL, where its key file can be read or rewritten: issue
    14, S4; only the maintenance boot turns it back on, firmware/
    maintenance.py); the bundle slot in force first on the path (the switch
    of an all-or-nothing deploy, bundle.SLOTS); a collection every 2 KiB
    allocated, so the imports' scratch is freed before the next module's
    objects land (left to one collection at the end, it scatters 16 KiB of
    holes that no KiB buffer fits; at every 4 KiB, after the link's
    challenges and derived keys, the day no longer flew in 62 KiB, at 2 KiB
    it does), then the big buffers (firmware/ram.py)."""
    return (
        _CTRL_C_OFF
        + "import sys\n\n"
        + bundle.SLOT_LINE % bundle.SLOTS[slot]
        + "\nimport gc\n\ngc.threshold(2048)\nfrom firmware import ram\n\nram.reserve()\n"
    )


# tests/test_firmware_heap.py runs the same lines in a 64 KiB heap
BOARD_PRELUDE = prelude(0)


def board_main(slot: int) -> bytes:
    """The board's /main.py with the bundle in slot in force.

    All of it inside one try whose handler resets the board (issue 14, S4).
    MicroPython turns Ctrl-C on while it runs /main.py, and a 0x03 that
    arrives before kbd_intr(-1) has run (the file's compile included) stays
    pending after it: the VM raises it at the next jump, in the imports
    below, where it would end /main.py at the REPL. Caught here, it resets
    the board. The handler is a bare except (matching BaseException is a
    jump, where a second pending 0x03 would escape) and straight-line, as
    the try's first line is the import that turns Ctrl-C off, so nothing
    before it can be interrupted (tests/boot_interrupts.py)."""
    body = prelude(slot) + "from firmware.main import main\n\nmain()\n"
    lines = "".join("    " + line + "\n" if line else "\n" for line in body.split("\n")[:-1])
    return (
        "# podctl firmware entry (written by podctl flash)\n"
        "try:\n" + lines
        + "except:  # a Ctrl-C at boot, or a bundle that will not load: never the REPL\n"
        "    import machine\n\n"
        "    machine.reset()\n"
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
            "podctl flash --device-id POD00042 --keystore ~/lab/keys.json",
            "podctl flash --py          # the .py sources: a board of another .mpy version",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_port_args(p)
    p.add_argument("--device-id", type=_device_id,
                   help="id to give a new device (up to 16 printable characters; default 13 random"
                   " characters of Crockford base32, 64 bits, not one the keystore has)")
    form = p.add_mutually_exclusive_group()
    form.add_argument(
        "--py", dest="mpy", action="store_false",
        help="deploy the .py sources instead of .mpy (about 74 KiB more of the flash the"
        " log shares, so fewer days of log: for a board whose .mpy version this mpy-cross"
        " cannot make)",
    )
    form.add_argument(
        "--mpy", dest="mpy", action="store_true",
        help="precompile with mpy-cross for the board's .mpy version (the default)",
    )
    p.set_defaults(mpy=True)
    p.set_defaults(run=cmd_flash)


def _device_id(text: str) -> str:
    if not text or len(text.encode()) > ID_MAX or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"device id must be 1 to {ID_MAX} printable bytes, got {text!r}"
        )
    return text


def _files(mpy: bool, tmp: Path) -> tuple[list[tuple[str, bytes]], bytes]:
    """(path in a slot, bytes) of the bundle with its hash module, and the
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
            out.append((p.relative_to(built).as_posix(), p.read_bytes()))
    else:
        for p in srcs:
            out.append((p.relative_to(snap).as_posix(), p.read_bytes()))
    out.append(("firmware/_bundle.py", b"# written by podctl flash\nHASH = %r\n" % digest))
    return out, digest


def _stop_firmware(url: str, keys: Keystore, console: Console) -> str | None:
    """Ask a running podctl firmware to stop (it resets into its maintenance
    boot); its device id, or None if nothing answered (blank board, or
    already at the REPL)."""
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


def _transport(url: str, wait: float = 0.0):
    """mpremote's transport at the board's raw REPL. wait: seconds to keep
    trying while the board resets into its maintenance boot (its USB port
    goes away and comes back)."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    deadline = time.monotonic() + wait
    while True:
        try:
            t = SerialTransport(url, baudrate=115200)
        except TransportError as e:
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise LinkError(f"{url}: {e}") from None
        try:
            t.enter_raw_repl(soft_reset=False)
            return t
        except TransportError:
            t.close()
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise LinkError(
                f"{url}: no MicroPython REPL answered: is it a container with MicroPython? "
                "unplug and replug it, then run podctl flash again"
            ) from None


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
            f"the board loads .mpy v{board}, this mpy-cross makes v{ours}: flash with --py, "
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
    stopped = _stop_firmware(url, keys, console)
    t = _transport(url, RESET_WAIT_S if stopped else 0.0)
    try:
        if args.mpy:
            _check_mpy_version(t)
        with tempfile.TemporaryDirectory() as tmp:
            files, digest = _files(args.mpy, Path(tmp))
        try:
            copied, skipped, slot = deploy(t, files, console)
            provisioned = _provision(t, args.device_id, keys, console, slot)
            record_reset(t)
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


def _rename(t, src: str, dst: str) -> None:
    """Rename on the board (littlefs: atomic, replacing dst)."""
    t.exec(f"import os\nos.rename({'/' + src!r}, {'/' + dst!r})")


def _read(t, path: str) -> bytes | None:
    return bytes(t.fs_readfile(path)) if t.fs_exists(path) else None


def _put(t, path: str, data: bytes) -> None:
    """Write path as path.new, check its SHA-256 on the board, rename it
    over path: the file is the old one or the whole new one."""
    tmp = path + ".new"
    t.fs_writefile(tmp, data, chunk_size=1024)
    if t.fs_hashfile(tmp, "sha256") != hashlib.sha256(data).digest():
        raise LinkError(
            f"{path}: SHA-256 on the device differs after copying: run podctl flash again"
        )
    _rename(t, tmp, path)


def _same(t, path: str, data: bytes) -> bool:
    """The board holds data at path (by SHA-256)."""
    with _Deadline(STEP_S):
        return bool(t.fs_exists(path)) and t.fs_hashfile(path, "sha256") == hashlib.sha256(
            data
        ).digest()


def _walk(t, top: str) -> list[tuple[str, bool]]:
    """(path, is a folder) of everything under top, deepest first; [] if
    top is not there."""
    try:
        entries = t.fs_listdir(top)
    except OSError:
        return []
    out: list[tuple[str, bool]] = []
    for e in entries:
        path = f"{top}/{e.name}"
        if e.st_mode & 0x4000:
            out += _walk(t, path)
            out.append((path, True))
        else:
            out.append((path, False))
    return out


def _remove(t, top: str, keep: frozenset[str] | set[str] = frozenset()) -> None:
    """Remove top and everything under it but the files in keep (and the
    folders holding them)."""
    for path, is_dir in _walk(t, top):
        if path in keep:
            continue
        with _Deadline(STEP_S):
            if is_dir:
                if not any(k.startswith(path + "/") for k in keep):
                    t.fs_rmdir(path)
            else:
                t.fs_rmfile(path)
    if not keep and t.fs_exists(top):
        with _Deadline(STEP_S):
            t.fs_rmdir(top)


def _free_bytes(t) -> int:
    st = t.eval("__import__('os').statvfs('/')")
    return st[0] * st[3]


def deploy(t, files: list[tuple[str, bytes]], console: Console) -> tuple[int, int, int]:
    """Put the bundle (paths in a slot, bytes) in force on the board, all
    or nothing: (files copied, files unchanged, the slot now in force).

    The bundle in force stays untouched until the new one is whole: the
    files go to the spare slot (one left by a cut deploy keeps what is
    already right there; anything else in it is removed first), each
    checked, then all checked again where they lie; then /main.py, naming
    the spare slot, is written new and renamed over the old one: the one
    step that switches. Only then is the old slot (and a bundle of the
    layout before the slots, straight under /lib) removed. Re-flashing the
    bundle in force changes nothing."""
    main_now = _read(t, "main.py")
    active = bundle.slot_of(main_now)
    if active is not None and main_now == board_main(active) and all(
        _same(t, f"{bundle.SLOTS[active]}/{p}", b) for p, b in files
    ):
        return 0, len(files), active  # this bundle is the one in force
    slot = 0 if active is None else 1 - active
    base = bundle.SLOTS[slot]
    wanted = {f"{base}/{p}" for p, _ in files}
    _remove(t, base, keep=wanted)  # a cut deploy's leftovers of another bundle
    todo = []
    skipped = 0
    for path, data in files:
        with _Deadline(STEP_S):
            dest = f"{base}/{path}"
            if _same(t, dest, data):
                skipped += 1
            else:
                todo.append((dest, data))
    need = sum(-(-len(d) // 4096) + 1 for _, d in todo) * 4096  # blocks, and some metadata
    free = _free_bytes(t)
    if need > free:
        raise BadInput(
            f"the board's flash has {free // 1024} KiB free and the new bundle needs about "
            f"{need // 1024} KiB beside the one in force: pull the log and erase it "
            "(podctl logs pull, podctl logs erase), then run podctl flash again"
        )
    made: set[str] = set()
    with Progress(
        TextColumn("[bold]flashing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[file]}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("flash", total=sum(len(d) for _, d in todo), file="")
        for dest, data in todo:
            bar.update(task, file=dest)
            with _Deadline(STEP_S):
                _ensure_dirs(t, dest, made)
                _put(t, dest, data)
            bar.advance(task, len(data))
    # every file, copied or not, checked once more where it now lies
    for path, data in files:
        with _Deadline(STEP_S):
            if t.fs_hashfile(f"{base}/{path}", "sha256") != hashlib.sha256(data).digest():
                raise LinkError(
                    f"{path}: SHA-256 on the device does not match: run podctl flash again"
                )
    with _Deadline(STEP_S):
        _put(t, "main.py", board_main(slot))  # the switch
    _remove(t, bundle.SLOTS[1 - slot])
    for old in bundle.LEGACY:
        _remove(t, old)
    return len(todo), skipped, slot


def record_reset(t) -> None:
    """Record the reset podctl flash is about to make as commanded (the
    firmware's record "reset_intent", firmware/maintenance.py: the boot
    count the firmware last ran as, 1 = reboot), so the next boot logs
    RESET_SOFT and not a watchdog reset: rp2's machine.reset() is a
    watchdog reboot. (The maintenance boot wrote the same already; a board
    that was blank, or stopped by older firmware, had none.)"""
    import struct

    from protocol.frame import crc32

    with _Deadline(STEP_S):
        boots = _read(t, "boots") or b""  # storefile: u16, CRC-32
        ok = len(boots) == 6 and boots[2:] == struct.pack("<I", crc32(boots[:2]))
        count = boots[:2] if ok else b"\x00\x00"
        body = count + b"\x01"
        _put(t, "reset_intent", body + struct.pack("<I", crc32(body)))


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


def _provision(
    t, device_id: str | None, keys: Keystore, console: Console, slot: int = 0
) -> bool:
    """Give a new device its id and key, once, with the Guard of the bundle
    just put in slot. Returns True if it did."""
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
        "import sys\n"
        "for m in [m for m in sys.modules if m.split('.')[0] in ('firmware', 'protocol')]:\n"
        " del sys.modules[m]\n"
        f"{bundle.SLOT_LINE % bundle.SLOTS[slot]}\n"
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
