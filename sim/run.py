"""Run a scenario on either engine and keep what it produced.

  result = run(scenario_dict, profile_bytes, engine="cpython" | "micropython")

The cpython engine runs sim.cosim in this process (the firmware on CPython,
its flash a folder, packed into a littlefs image at the end). The
micropython engine runs the same sim.cosim inside the micropython binary
(sim/board_run.py), the firmware on the interpreter that flies, its flash a
littlefs image file. Both write the real log format; the host reads either
image with littlefs-python.

CPython only.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sim import expect, flashimage
from sim.cosim import TABLE_COLUMNS, CoSim

ENGINES = ("cpython", "micropython")
ROOT = Path(__file__).resolve().parent.parent


class RunError(RuntimeError):
    """The run itself failed (not an expectation); one line."""


def sim_key(seed: int) -> bytes:
    """The simulated device's key: derived from the seed, so a run's log
    verifies with a key anyone can rebuild (a simulated log proves nothing
    about a real container)."""
    return hashlib.sha256(b"podctl-sim-device-key:%d" % seed).digest()


@dataclass
class Result:
    engine: str
    summary: dict[str, Any]
    image: bytes
    log: bytes
    key: bytes
    checks: list[expect.Check] = field(default_factory=list)
    table: Path | None = None

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.checks)


def run(
    sc: dict[str, Any],
    profile: bytes,
    engine: str = "cpython",
    seed: int | None = None,
    table: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 86400,
    verify_log: Callable[[bytes, bytes], tuple[bool, str]] | None = None,
) -> Result:
    """One mission. verify_log(log, key) -> (intact, what it found) checks
    the log for the scenario's log_intact expectation: the caller passes
    podctl's verification (podctl.verdict.log_intact), since integrity is
    decided in one place and the simulator does not import the host."""
    seed = sc["seed"] if seed is None else seed
    key = sim_key(seed)
    if engine == "cpython":
        summary, image = _cpython(sc, profile, key, seed, table, progress, progress_every)
    elif engine == "micropython":
        summary, image = _micropython(sc, profile, key, seed, table, progress, progress_every)
    else:
        raise RunError(f"unknown engine {engine!r} (choose {' or '.join(ENGINES)})")
    log = flashimage.log_bytes(image)
    res = Result(engine, summary, image, log, key, table=table)
    res.checks = expect.check(sc, summary, log, key, verify_log)
    return res


def _cpython(sc, profile, key, seed, table, progress, every):
    with tempfile.TemporaryDirectory(prefix="podsim") as d:
        tf = None
        if table is not None:
            tf = open(table, "w")
            tf.write(",".join(TABLE_COLUMNS) + "\n")
        try:
            sim = CoSim(sc, profile, d, key, seed=seed, table=tf)
            summary = sim.run(progress=progress, progress_every=every)
        finally:
            if tf is not None:
                tf.close()
        return summary, flashimage.build(Path(d))


def _micropython(sc, profile, key, seed, table, progress, every):
    from sim import upy  # the binary's location; sim only borrows the helper

    with tempfile.TemporaryDirectory(prefix="podsim") as d:
        cfg = {
            "scenario": sc,
            "profile": binascii.hexlify(profile).decode(),
            "key": binascii.hexlify(key).decode(),
            "image": str(Path(d) / "flash.img"),
            "table": str(table) if table is not None else None,
            "seed": seed,
            "progress_every": every,
        }
        conf = Path(d) / "run.json"
        conf.write_text(json.dumps(cfg))
        env = dict(os.environ, MICROPYPATH=upy.micropypath())
        proc = subprocess.Popen(
            [upy.binary(), "-X", "heapsize=4M", "-m", "sim.board_run", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=d,
        )
        summary = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("progress ") and progress is not None:
                t, end = line.split()[1:3]
                progress(int(t), int(end))
            elif line.startswith("result "):
                summary = json.loads(line[7:])
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0 or summary is None:
            last = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
            raise RunError(f"micropython engine failed: {last}")
        return summary, Path(cfg["image"]).read_bytes()
