"""Fixtures shared by the host's tests of pulled logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from podctl.cli import main

# what sim run writes that a pull would have: the log, its manifest, the
# device's seal; and the simulated device's key
PULLED = ("log.bin", "log.bin.manifest.json", "key.bin", "seal.bin")


@pytest.fixture(scope="session")
def sealed_mission(tmp_path_factory) -> Path:
    """One nominal mission at a 60-second tick (a couple of seconds), as
    sim run writes it, sealed by the simulated device at its end."""
    out = tmp_path_factory.mktemp("sim") / "run"
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(out)]) == 0
    return out


@pytest.fixture
def folder(sealed_mission, tmp_path) -> Path:
    """A private copy of that mission's pulled folder, to damage."""
    for name in PULLED:
        shutil.copy(sealed_mission / name, tmp_path / name)
    return tmp_path
