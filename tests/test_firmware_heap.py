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
from pathlib import Path

from host import bundle, upy

HERE = Path(__file__).resolve().parent / "mp"
HELPERS = [HERE / n for n in ("_fakehal.py", "_profiles.py", "_support.py")]


def run_mission(tmp: Path, seconds: int, heap: str | None) -> upy.Result:
    lib = tmp / "lib"
    bundle.compile_tree(lib, bundle.sources())
    bundle.compile_tree(lib, HELPERS, base=HERE)
    bundle.compile_tree(lib, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py"])
    return upy.run(HERE / "_mission.py", str(tmp / "flash.img"), str(seconds),
                   heapsize=heap, extra_path=(lib,), cwd=tmp, lib_first=True)


DATA_BUDGET = 64 * 1024


def test_day_mission_data_fits_64k_and_tick_allocates_nothing(tmp_path):
    r = run_mission(tmp_path, 86400, "192K")
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["ticks"] == 86400 and got["lost"] == 0
    assert got["alloc_bytes_per_tick"] == 0
    assert got["data_bytes"] <= DATA_BUDGET, got
    assert got["in_band"]
    assert got["records"] == 1440
