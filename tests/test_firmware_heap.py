"""The whole firmware runs a day-long mission on the micropython binary in
a 64 KiB heap (`-X heapsize=64K`), with a host talking to it every hour:
its steady-state tick allocates nothing, no record is lost, every request is
served.

It runs as a board with ROMFS runs it (MicroPython 1.25 on): the
precompiled firmware is a ROMFS image that the CPU maps like flash, so
bytecode and constant strings are used in place and only the objects the
modules make take heap. host/podctl/romfs.py maps the image outside the unix
port's heap the same way. The board's /main.py lines (host/flash_cmd.
BOARD_PRELUDE) run first: frequent collections while importing, then the
big buffers (firmware/ram.py).

Loaded instead as .mpy files into the heap (a board without ROMFS, or
`podctl flash --mpy` to /lib), the bytecode itself takes heap: about 100 KiB
more on the 64-bit unix port. That deployment is checked too, with the data
(everything but the loaded modules) held to 64 KiB. `make bench` reports the
smallest heap of both (fw_min_heap_kb, fw_min_heap_kb_mpy)."""

import json
import struct
import sys
from pathlib import Path

from podctl import bundle, romfs
from podctl.flash_cmd import BOARD_PRELUDE
from protocol import cobs, frame, message, wire
from protocol import profile_bin as pf
from sim import upy

HERE = Path(__file__).resolve().parent / "mp"
HELPERS = [HERE / n for n in ("_fakehal.py", "_profiles.py", "_support.py")]


KEY = bytes(range(32))  # the key _mission.py provisions
# what tests/mp/_mission.py prints, in order
FIGURES = ("ticks", "tick_us", "alloc_bytes_per_tick", "code_bytes", "data_bytes", "records",
           "lost", "log_bytes", "in_band", "requests", "served", "refused", "replies",
           "reply_bytes", "profile_is_the_new_one")


def figures(r: upy.Result) -> dict:
    return dict(zip(FIGURES, json.loads(r.stdout.strip().splitlines()[-1])))


def unsigned(msg_type: int, seq: int, payload: bytes, counter: int) -> bytes:
    """An authenticated request up to its tag (header, counter, payload),
    COBS-encoded and delimited: the mission signs it over the challenge of
    the STATUS it sends first (tests/mp/_mission.py)."""
    head = struct.pack(frame.HEADER_FMT, wire.PROTOCOL_VERSION, msg_type, wire.FLAG_AUTH, seq,
                       len(payload))
    return cobs.encode(head + struct.pack("<I", counter) + payload) + b"\x00"


def mission_inputs(tmp: Path) -> list[str]:
    """The mission's profile bytes and the host's request frames (see
    tests/mp/_mission.py), made on the host as podctl makes them."""
    sys.path.insert(0, str(HERE))
    try:
        import _profiles
    finally:
        sys.path.remove(str(HERE))
    prof = tmp / "profile.bin"  # given to the board by name, relative to its cwd
    prof.write_bytes(_profiles.make([
        _profiles.phase(b"pad", 3600, interval=60),
        _profiles.phase(b"orbit", 6 * 3600, interval=60),
        _profiles.phase(b"return", 0, interval=60),
    ]))
    nonce = bytes(range(16))
    frames = [
        frame.encode(wire.MSG_STATUS, 1, nonce),
        frame.encode(wire.MSG_LOG_INFO, 2, nonce),
        frame.encode(wire.MSG_LOG_READ, 3, message.pack(wire.MSG_LOG_READ, False, 0, 1016)),
    ] + [
        unsigned(wire.MSG_TIME_SET, 10 + k,
                 message.pack(wire.MSG_TIME_SET, False, 1790000000 + k * 21600), 2 * k + 1)
        for k in range(4)
    ] + [
        # after each TIME_SET, a seal, as podctl logs pull asks for one
        unsigned(wire.MSG_LOG_SEAL, 14 + k,
                 message.pack(wire.MSG_LOG_SEAL, False, bytes([k]) * 16), 2 * k + 2)
        for k in range(4)
    ]
    # at hour 20, a new profile (a warmer orbit phase), as podctl profile
    # upload sends it: BEGIN, chunks, COMMIT, the counters after the seals
    new = _profiles.make([
        _profiles.phase(b"pad", 3600, interval=60),
        _profiles.phase(b"orbit", 6 * 3600, setpoint=6000, interval=60),
        _profiles.phase(b"return", 0, interval=60),
    ])
    ident = pf.ident(new)
    upload = [
        (wire.MSG_PROFILE_BEGIN, message.pack(wire.MSG_PROFILE_BEGIN, False, len(new), ident))
    ]
    upload += [
        (wire.MSG_PROFILE_CHUNK,
         message.pack(wire.MSG_PROFILE_CHUNK, False, at, new[at : at + 96]))
        for at in range(0, len(new), 96)
    ]
    upload += [(wire.MSG_PROFILE_COMMIT, message.pack(wire.MSG_PROFILE_COMMIT, False, ident))]
    frames += [unsigned(t, 20 + k, p, 9 + k) for k, (t, p) in enumerate(upload)]
    reqs = tmp / "requests.bin"
    reqs.write_bytes(b"".join(frames))
    return [prof.name, reqs.name]  # short, fixed argv: the heap is not to vary with the tmp path


def run_mission(tmp: Path, seconds: int, heap: str | None, rom: bool = False) -> upy.Result:
    """The day mission with the firmware as .mpy files loaded into the heap,
    or (rom) from a ROMFS image mapped outside it, as on the board."""
    if rom:
        return run_mission_rom(tmp, seconds, heap)
    lib = tmp / "lib"
    bundle.compile_tree(lib, bundle.sources())
    bundle.compile_tree(lib, HELPERS, base=HERE)
    bundle.compile_tree(lib, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py"])
    return upy.run(HERE / "_mission.py", "flash.img", str(seconds), *mission_inputs(tmp),
                   heapsize=heap, extra_path=(lib,), cwd=tmp, lib_first=True)


# What the board's /main.py does (host/flash_cmd.BOARD_PRELUDE), then the
# firmware's imports at the top level of the script, as on the board: made
# from inside the mission module, the conservative GC kept ~7 KiB of the
# loader's leftovers alive through stale words on the C stack.
BOARD_IMPORTS = (BOARD_PRELUDE  # as the board's /main.py
                 + "from firmware import main, pod, commands, link\n"
                 "import _fakehal, sim.flashdev\n")


def run_mission_rom(tmp: Path, seconds: int, heap: str | None) -> upy.Result:
    img = tmp / "rom.img"
    if not img.exists():
        img.write_bytes(romfs.firmware_image([
            (HERE, [HERE / "_fakehal.py", HERE / "_mission.py"]),
            (upy.ROOT, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py"]),
        ]))
    return romfs.run(img, BOARD_IMPORTS + "import _mission\n", "flash.img", str(seconds),
                     *mission_inputs(tmp), heapsize=heap, cwd=tmp)


DATA_BUDGET = 64 * 1024


def _flew_the_day(got: dict) -> None:
    assert got["ticks"] == 86400 and got["lost"] == 0
    assert got["alloc_bytes_per_tick"] == 0
    assert got["in_band"]
    assert got["records"] == 1441  # one a minute, and one when the new profile took over
    # 24 x (STATUS, LOG_INFO, LOG_READ) + 4 x (TIME_SET, LOG_SEAL) + a
    # profile upload (BEGIN, 3 chunks, COMMIT), each authenticated one after
    # its STATUS (the challenge), each answered and none refused
    assert got["requests"] == got["served"] == got["replies"] == 98 and got["refused"] == 0
    assert got["profile_is_the_new_one"]


def test_whole_firmware_flies_a_day_in_a_64k_heap(tmp_path):
    r = run_mission(tmp_path, 86400, "64K", rom=True)
    assert r.returncode == 0, r.stdout + r.stderr
    _flew_the_day(figures(r))


def qstr_count(tmp_path: Path) -> int:
    """qstrs in use once the board's /main.py lines have run and the
    firmware (with the mission's HAL) is imported."""
    img = tmp_path / "rom.img"
    img.write_bytes(romfs.firmware_image([
        (HERE, [HERE / "_fakehal.py"]),
        (upy.ROOT, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py"]),
    ]))
    p = romfs.run(img, BOARD_IMPORTS + "import micropython\nmicropython.qstr_info()\n",
                  heapsize="64K", cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    return int(p.stdout.split("n_qstr=")[1].split(",")[0])


# Every name the firmware uses is a qstr; the unix port's qstr pools hold
# about 621 before the next pool adds 7 KiB, which the 64 KiB heap does not
# have. The mission adds about 8 of its own; this fails before the step.
QSTRS_MAX = 612


def test_firmware_qstrs_leave_room_in_the_qstr_pools(tmp_path):
    n = qstr_count(tmp_path)
    assert 400 < n <= QSTRS_MAX, n


def test_day_mission_data_fits_64k_and_tick_allocates_nothing(tmp_path):
    # the .mpy deployment: bytecode in the heap, the data held to 64 KiB
    r = run_mission(tmp_path, 86400, "192K")
    assert r.returncode == 0, r.stdout + r.stderr
    got = figures(r)
    _flew_the_day(got)
    assert got["data_bytes"] <= DATA_BUDGET, got


def test_romfs_keeps_the_bytecode_out_of_the_heap(tmp_path):
    # the premise of the 64 KiB run: imported from the mapped image, the
    # firmware's bytecode stays in the image; from .mpy files it is copied
    # into the heap. Same modules, same binary, measured both ways.
    script = ("import gc\ngc.collect()\na = gc.mem_alloc()\n"
              "from firmware import main, pod, commands, link\n"
              "gc.collect()\nprint(gc.mem_alloc() - a)\n")
    img = tmp_path / "rom.img"
    img.write_bytes(romfs.firmware_image())
    p = romfs.run(img, script, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    from_rom = int(p.stdout)
    lib = tmp_path / "lib"
    bundle.compile_tree(lib, bundle.sources())
    r = upy.run(script, extra_path=(lib,), cwd=tmp_path, lib_first=True)
    assert r.returncode == 0, r.stderr
    from_files = int(r.stdout)
    assert from_rom < 48 * 1024 and from_files - from_rom > 20 * 1024, (from_rom, from_files)
