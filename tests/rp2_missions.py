"""The rp2 HAL's missions for make soak and make bench (issue 16).

    python -m tests.rp2_missions soak [TICK_S]   nominal, return-slip,
                                                  heater-failure, reset-reentry
                                                  at full length (soak_figures)
    python -m tests.rp2_missions heap [SECONDS]  the smallest heap, in 2 KiB
                                                  steps, the day flies in

soak_figures() is sim/rp2board/fly.py's. heap_figures(): the whole firmware
with the unchanged rp2 HAL on the modelled board, imported from a ROMFS
image as tests/test_firmware_heap.py imports the firmware with its fake HAL
(tests/mp/_rp2_mission.py: _mission.py's day, its host, its plant read
through the NTC dividers and the PWMs).

How the model is kept out of the firmware's figures. On the board,
`machine` is C and the chips are silicon; here they are Python (sim/
rp2board), and they take heap and qstrs the board never spends:
  - their bytecode is in the ROMFS image with the firmware's, outside the
    heap (as the firmware's is);
  - they are loaded last: the board's /main.py lines, the firmware, the
    HAL (on the unix port's own machine: rp2's is built in, so importing
    the HAL spends nothing on it) and the mission's harness first, then
    _rp2_mission.model() installs the model and points the HAL at its
    machine. So the firmware's qstrs fill the pools as on the board, and
    what the model adds, counted from a collection before to one after, is
    MODEL BYTES: its objects and the qstr pools its names open;
  - every heap tried is then the firmware's heap plus the model's bytes and
    their share of the GC's allocation tables (the unix port keeps 3 bytes
    of table for every 253 of heap: 1 bit in 32-byte blocks, 2 in ATB, 1 in
    FTB), so `rp2hal_min_heap_kb_net` is the smallest heap in 2 KiB steps
    the day flies in with the model's bytes given on top, not subtracted
    after. What stays charged to the firmware, and is not on the board: the
    machine objects the HAL makes (the model's Pin, ADC, PWM, I2C and WDT
    are Python instances, rp2's mostly static C objects; `hal_bytes` is
    the whole Rp2Hal() with them, an upper bound of that share), and the
    model's names the harness and HAL share with it (interned first by
    them).
qstrs: `rp2hal_qstrs` counts them as tests/test_firmware_heap.py's
fw_qstrs does (the board's /main.py lines, then the firmware with the HAL
imported), on the unix port's machine: the machine API names the HAL
calls (ADC, PWM, read_u16, ...: RP2_BUILTIN) are among them although rp2
has them built in; `rp2hal_qstrs_board` takes them out. `rp2hal_model_qstrs`
are the ones the model adds after the firmware's."""

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
           "alarms", "hal_bytes")

# The board's /main.py lines and the firmware's imports at the top level of
# the script (as tests/test_firmware_heap.py's BOARD_IMPORTS), the HAL; the
# qstrs then; the model installed and the HAL pointed at its machine, the
# heap that took printed (exec'd from a string: the script's own names are
# interned before everything, its string's when it runs); the qstrs again;
# the harness (sim.flashdev, the flash device, is the port's C rp2.Flash on
# the board; _rp2_mission drives the model); the qstrs; the day; the qstrs
# at its end.
BOARD_IMPORTS = (BOARD_PRELUDE
                 + "from firmware import main, pod, commands, link\n"
                 "from firmware.hal import rp2\n"
                 "import micropython\n"
                 "micropython.qstr_info()\n"
                 "gc.collect()\nx = gc.mem_alloc()\n"
                 "exec('from sim.rp2board import board\\n"
                 "rp2.machine = board.install(with_time=True)')\n"
                 "gc.collect()\nprint(gc.mem_alloc() - x)\n"
                 "micropython.qstr_info()\n"
                 "import sim.flashdev, _rp2_mission\n"
                 "micropython.qstr_info()\n")
RUN = BOARD_IMPORTS + "_rp2_mission.run()\nmicropython.qstr_info()\n"

# The names firmware/hal/rp2.py calls on machine. rp2 has each of them built
# in (they are its API: ports/rp2/machine_*.c, extmod/machine_*.c), so on the
# board they are no qstrs of the firmware's; the unix port has none of them.
RP2_BUILTIN = ("ADC", "I2C", "IN", "OUT", "PULL_UP", "PWM", "Pin", "WDT",
               "WDT_RESET", "duty_u16", "freq", "read_u16", "readfrom_mem_into", "scl", "sda",
               "writeto_mem")
# The GC's allocation tables on the unix port: 3 bytes for every 253 of heap
# (gc.mem_free() + gc.mem_alloc() is 253/256 of -X heapsize)
GC_TABLES = (256, 253)


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


def _qstrs(out: str) -> list[int]:
    return [int(x.split(",")[0]) for x in out.split("n_qstr=")[1:]]


def run(tmp: Path, seconds: int, heap: str | None) -> dict:
    """The day (or its first seconds) in heap (bytes, or with a K suffix);
    the figures, or {"failed": the last line of stderr}. Besides FIGURES:
    model_bytes (the model's heap, measured in the run), qstrs (after the
    firmware and HAL), model_qstrs (the model's, after them), qstrs_harness
    and qstrs_end (all but the model's, once the harness is imported and at
    the end of the day)."""
    from tests.test_firmware_heap import mission_inputs

    tmp.mkdir(parents=True, exist_ok=True)
    args = mission_inputs(tmp)
    r = romfs.run(rom_image(tmp), RUN, "flash.img", str(seconds), *args, heapsize=heap, cwd=tmp,
                  timeout=3600)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).strip().splitlines()
        return {"failed": out[-1] if out else "exit %d" % r.returncode,
                "output": (r.stdout + r.stderr)[-1500:]}
    lines = r.stdout.strip().splitlines()
    got = dict(zip(FIGURES, json.loads(next(x for x in lines if x.startswith("["))),
                   strict=True))
    q = _qstrs(r.stdout)
    got["model_bytes"] = int(next(x for x in lines if x.isdigit()))
    model = q[1] - q[0]
    got["qstrs"], got["model_qstrs"] = q[0], model
    # the firmware's, the harness's and (at the end) any the day made: all
    # but the model's
    got["qstrs_harness"], got["qstrs_end"] = q[2] - model, q[3] - model
    return got


def model_bytes(tmp: Path) -> int:
    """The model's heap (MODEL BYTES above), from a minute's flight."""
    got = run(tmp / "model", 60, "512K")
    if "failed" in got:
        raise RuntimeError("the model's own run failed: %s" % got["failed"])
    return int(got["model_bytes"])


def with_model(net_kb: int, model: int) -> int:
    """-X heapsize, in bytes, for net_kb KiB of the firmware's heap and the
    model's bytes on top, with their share of the GC's tables (in blocks)."""
    extra = -(-model * GC_TABLES[0] // GC_TABLES[1])
    return net_kb * 1024 + -(-extra // 256) * 256


def _qstr_names(img: Path, tmp: Path, hal: bool) -> tuple[int, set[str]]:
    script = (BOARD_PRELUDE + "from firmware import main, pod, commands, link\n"
              + ("from firmware.hal import rp2\n" if hal else "")
              + "import micropython\nmicropython.qstr_info(1)\n")
    p = romfs.run(img, script, heapsize="256K", cwd=tmp, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-500:])
    return _qstrs(p.stdout)[0], {x[2:-1] for x in p.stdout.splitlines() if x.startswith("Q(")}


def qstrs(tmp: Path) -> dict:
    """rp2hal_qstrs as fw_qstrs is counted: the board's /main.py lines, the
    firmware and the rp2 HAL imported (on the port's machine); without
    rp2's built-in names (rp2hal_qstrs_board); and the names the HAL adds
    that are neither the firmware's nor rp2's (own_names)."""
    tmp.mkdir(parents=True, exist_ok=True)
    img = rom_image(tmp)
    n, names = _qstr_names(img, tmp, True)
    _, core = _qstr_names(img, tmp, False)
    builtin = len(names & set(RP2_BUILTIN))
    return {"rp2hal_qstrs": n, "rp2hal_qstrs_board": n - builtin,
            "own_names": sorted(names - core - set(RP2_BUILTIN))}


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


def smallest_heap(tmp: Path, seconds: int = 86400, lo_kb: int = 56, hi_kb: int = 96) -> dict:
    """The smallest heap for the firmware (2 KiB steps, lo_kb..hi_kb), the
    model's bytes given on top (with_model), that the day flies in,
    searched two heaps at a time; its figures under "figures"."""
    model = model_bytes(tmp)
    tried: dict[int, dict] = {}

    def at(kb: int) -> dict:
        if kb not in tried:
            tried[kb] = run(tmp / ("h%d" % kb), seconds, str(with_model(kb, model)))
        return tried[kb]

    if not flew(at(hi_kb), seconds):
        return {"smallest_kb": None, "model_bytes": model,
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
    return {"smallest_kb": hi, "model_bytes": model, "figures": tried[hi],
            "tried": {k: ("flew" if flew(v, seconds) else v.get("failed", "not the day"))
                      for k, v in sorted(tried.items())}}


def heap_figures(tmp: Path, seconds: int = 86400) -> dict:
    got = smallest_heap(tmp, seconds)
    out: dict = {"rp2hal_min_heap_kb_net": got["smallest_kb"],
                 "rp2hal_model_heap_kb": round(got["model_bytes"] / 1024, 1)}
    f = got.get("figures")
    if f:
        out["rp2hal_model_qstrs"] = f["model_qstrs"]
        out["rp2hal_hal_heap_bytes"] = f["hal_bytes"]
        out["rp2hal_data_bytes"] = f["data_bytes"]
        out["rp2hal_qstrs_with_harness"] = f["qstrs_harness"]
        out["rp2hal_qstrs_end_of_day"] = f["qstrs_end"]
    q = qstrs(tmp / "q")
    out["rp2hal_qstrs"], out["rp2hal_qstrs_board"] = q["rp2hal_qstrs"], q["rp2hal_qstrs_board"]
    out["own_names"] = q["own_names"]
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
