"""The rp2 HAL's missions for make soak and make bench (issue 16).

    python -m tests.rp2_missions soak [TICK_S]   nominal and return-slip at
                                                  full length (soak_figures)
    python -m tests.rp2_missions heap [SECONDS]  the smallest heap, in 2 KiB
                                                  steps, the day flies in

soak_figures() is sim/rp2board/fly.py's. heap_figures(): the whole firmware
with the unchanged rp2 HAL on the modelled board, imported from a ROMFS
image as tests/test_firmware_heap.py imports the firmware with its fake HAL
(tests/mp/_rp2_mission.py: _mission.py's day, its host, its plant read
through the NTC dividers and the PWMs), in heaps of 2 KiB steps: the
smallest it flies in, and how much of that the model itself holds (the
machine module, the board and its chips, which on the board are C and
silicon, not heap)."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from podctl import romfs
from podctl.flash_cmd import BOARD_PRELUDE
from sim import upy
from sim.rp2board.fly import soak_figures  # noqa: F401 (make soak's entry)

HERE = Path(__file__).resolve().parent / "mp"
MODEL = [upy.ROOT / "sim" / "rp2board" / n for n in
         ("__init__.py", "board.py", "machine.py", "time.py", "bme280.py", "lis3dh.py")]

FIGURES = ("ticks", "feeds", "alloc_bytes_per_tick", "code_bytes", "data_bytes", "records",
           "lost", "log_bytes", "in_band", "requests", "served", "refused", "replies",
           "reply_bytes", "profile_is_the_new_one", "board_resets", "probes_good",
           "alarms", "model_bytes")

# The board's /main.py lines, then the model in place of the port's machine
# (its heap measured), then the firmware's imports at the top level of the
# script, as tests/test_firmware_heap.py's BOARD_IMPORTS.
BOARD_IMPORTS = (BOARD_PRELUDE
                 + "gc.collect()\n_m = gc.mem_alloc()\n"
                 "from sim.rp2board import board\nboard.install(with_time=True)\n"
                 "import machine\ngc.collect()\nboard.heap_bytes = gc.mem_alloc() - _m\ndel _m\n"
                 "from firmware import main, pod, commands, link\n"
                 "from firmware.hal import rp2\n"
                 "import sim.flashdev\n")


def rom_image(tmp: Path) -> Path:
    img = tmp / "rp2rom.img"
    if not img.exists():
        extra = [
            (HERE, [HERE / "_rp2_mission.py"]),
            (upy.ROOT, [upy.ROOT / "sim" / "__init__.py", upy.ROOT / "sim" / "flashdev.py",
                        *MODEL]),
        ]
        img.write_bytes(romfs.firmware_image(extra))
    return img


def run(tmp: Path, seconds: int, heap: str | None) -> dict:
    """The day (or its first seconds) in heap; the figures, or
    {"failed": the last line of stderr}."""
    from tests.test_firmware_heap import mission_inputs

    tmp.mkdir(parents=True, exist_ok=True)
    args = mission_inputs(tmp)
    r = romfs.run(rom_image(tmp), BOARD_IMPORTS + "import _rp2_mission\n", "flash.img",
                  str(seconds), *args, heapsize=heap, cwd=tmp, timeout=3600)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).strip().splitlines()
        return {"failed": out[-1] if out else "exit %d" % r.returncode,
                "output": (r.stdout + r.stderr)[-1500:]}
    return dict(zip(FIGURES, json.loads(r.stdout.strip().splitlines()[-1]), strict=True))


def flew(got: dict, seconds: int = 86400) -> bool:
    """_mission.py's day, as tests/test_firmware_heap.py holds it."""
    if "failed" in got:
        return False
    return bool(
        got["ticks"] == seconds and got["feeds"] == seconds and got["lost"] == 0
        and got["alloc_bytes_per_tick"] == 0 and got["in_band"] and got["board_resets"] == 0
        and got["requests"] == got["served"] == got["replies"] and got["refused"] == 0
        and (seconds < 21 * 3600 or got["profile_is_the_new_one"])
    )


def smallest_heap(tmp: Path, seconds: int = 86400, lo_kb: int = 64, hi_kb: int = 160) -> dict:
    """The smallest heap (2 KiB steps, lo_kb..hi_kb) the day flies in,
    searched two heaps at a time; its figures under "figures"."""
    tried: dict[int, dict] = {}

    def at(kb: int) -> dict:
        if kb not in tried:
            tried[kb] = run(tmp / ("h%d" % kb), seconds, "%dK" % kb)
        return tried[kb]

    if not flew(at(hi_kb), seconds):
        return {"smallest_kb": None,
                "tried": {k: v.get("failed", "flew") for k, v in tried.items()}}
    lo, hi = lo_kb - 2, hi_kb  # lo fails (or is below the range), hi flies
    with ThreadPoolExecutor(2) as pool:
        while hi - lo > 2:
            # two probes splitting (lo, hi) in three
            a = lo + max(2, (hi - lo) // 3 // 2 * 2)
            c = min(hi - 2, a + max(2, (hi - lo) // 3 // 2 * 2))
            ks = sorted({a, c})
            for kb, got in zip(ks, pool.map(at, ks), strict=True):
                if flew(got, seconds):
                    hi = min(hi, kb)
                else:
                    lo = max(lo, kb)
            lo = max([k for k in tried if k < hi and not flew(tried[k], seconds)] + [lo_kb - 2])
    return {"smallest_kb": hi, "figures": tried[hi],
            "tried": {k: ("flew" if flew(v, seconds) else v.get("failed", "not the day"))
                      for k, v in sorted(tried.items())}}


def heap_figures(tmp: Path, seconds: int = 86400) -> dict:
    got = smallest_heap(tmp, seconds)
    out = {"rp2hal_min_heap_kb": got["smallest_kb"]}
    f = got.get("figures")
    if f:
        out["rp2hal_model_heap_bytes"] = f["model_bytes"]
        out["rp2hal_code_bytes"] = f["code_bytes"]
        out["rp2hal_data_bytes"] = f["data_bytes"]
    out["tried"] = got["tried"]
    return out


if __name__ == "__main__":
    import tempfile

    what = sys.argv[1] if len(sys.argv) > 1 else "soak"
    if what == "soak":
        print(json.dumps(soak_figures(int(sys.argv[2]) if len(sys.argv) > 2 else 1), indent=1))
    else:
        with tempfile.TemporaryDirectory() as d:
            secs = int(sys.argv[2]) if len(sys.argv) > 2 else 86400
            print(json.dumps(heap_figures(Path(d), secs), indent=1))
