"""The whole firmware runs a day-long mission on the micropython binary,
precompiled with mpy-cross as it is deployed to the board: its steady-state
tick allocates nothing, and its data (everything but the loaded code) fits
in 64 KiB.

Why not `-X heapsize=64K` whole: on the 64-bit unix port the loaded
bytecode of protocol/ and firmware/ alone takes ~110 KiB of heap (every
pointer and object header twice the RP2040's). On the board the firmware is
frozen into flash, where code takes no heap; what must fit the heap there
is the data measured here. `make bench` reports both and the smallest heap
that runs the mission on the unix port (fw_min_heap_kb)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from host import bundle, romfs, upy
from protocol import frame, message, wire
from protocol.auth import Hmac

HERE = Path(__file__).resolve().parent / "mp"
HELPERS = [HERE / n for n in ("_fakehal.py", "_profiles.py", "_support.py")]


KEY = bytes(range(32))  # the key _mission.py provisions
# what tests/mp/_mission.py prints, in order
FIGURES = ("ticks", "tick_us", "alloc_bytes_per_tick", "code_bytes", "data_bytes", "records",
           "lost", "log_bytes", "in_band", "requests", "served", "refused", "replies",
           "reply_bytes")


def figures(r: upy.Result) -> dict:
    return dict(zip(FIGURES, json.loads(r.stdout.strip().splitlines()[-1])))


def mission_inputs(tmp: Path) -> list[str]:
    """The mission's profile bytes and the host's request frames (see
    tests/mp/_mission.py), made on the host as podctl makes them."""
    sys.path.insert(0, str(HERE))
    try:
        import _profiles
    finally:
        sys.path.remove(str(HERE))
    prof = tmp / "profile.bin"
    prof.write_bytes(_profiles.make([
        _profiles.phase(b"pad", 3600, interval=60),
        _profiles.phase(b"orbit", 6 * 3600, interval=60),
        _profiles.phase(b"return", 0, interval=60),
    ]))
    mac = Hmac(KEY)
    frames = [
        frame.encode(wire.MSG_STATUS, 1),
        frame.encode(wire.MSG_LOG_INFO, 2),
        frame.encode(wire.MSG_LOG_READ, 3, message.pack(wire.MSG_LOG_READ, False, 0, 1016)),
    ] + [
        frame.encode(wire.MSG_TIME_SET, 10 + k,
                     message.pack(wire.MSG_TIME_SET, False, 1790000000 + k * 21600),
                     wire.FLAG_AUTH, k + 1, mac)
        for k in range(4)
    ]
    reqs = tmp / "requests.bin"
    reqs.write_bytes(b"".join(frames))
    return [str(prof), str(reqs)]


def run_mission(tmp: Path, seconds: int, heap: str | None, rom: bool = False) -> upy.Result:
    """The day mission with the firmware as .mpy files loaded into the heap,
    or (rom) from a ROMFS image mapped outside it, as on the board."""
    if rom:
        return run_mission_rom(tmp, seconds, heap)
    lib = tmp / "lib"
    bundle.compile_tree(lib, bundle.sources())
    bundle.compile_tree(lib, HELPERS, base=HERE)
    bundle.compile_tree(lib, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py"])
    return upy.run(HERE / "_mission.py", str(tmp / "flash.img"), str(seconds), *mission_inputs(tmp),
                   heapsize=heap, extra_path=(lib,), cwd=tmp, lib_first=True)


# What the board's main.py imports, at the top level of the script as on the
# board: imported from inside the mission module, the conservative GC kept
# ~7 KiB of the loader's leftovers alive through stale words on the C stack.
BOARD_IMPORTS = "from firmware import main, pod, commands, link\nimport _fakehal, sim.flashdev\n"


def run_mission_rom(tmp: Path, seconds: int, heap: str | None) -> upy.Result:
    img = tmp / "rom.img"
    if not img.exists():
        img.write_bytes(romfs.firmware_image([
            (HERE, [HERE / "_fakehal.py", HERE / "_mission.py"]),
            (upy.ROOT, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py"]),
        ]))
    cmd = [sys.executable, "-m", "host.romfs", str(img)]
    if heap:
        cmd += ["-X", f"heapsize={heap}"]
    cmd += ["-c", romfs.MOUNT + BOARD_IMPORTS + "import _mission\n", str(tmp / "flash.img"), str(seconds),
            *mission_inputs(tmp)]
    env = dict(os.environ, MICROPYPATH=".frozen", PYTHONPATH=str(upy.ROOT))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=600)
    return upy.Result(p.returncode, p.stdout, p.stderr)


DATA_BUDGET = 64 * 1024


def test_day_mission_data_fits_64k_and_tick_allocates_nothing(tmp_path):
    r = run_mission(tmp_path, 86400, "192K")
    assert r.returncode == 0, r.stdout + r.stderr
    got = figures(r)
    assert got["ticks"] == 86400 and got["lost"] == 0
    assert got["alloc_bytes_per_tick"] == 0
    assert got["data_bytes"] <= DATA_BUDGET, got
    assert got["in_band"]
    assert got["records"] == 1440
