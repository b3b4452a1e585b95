"""`podctl logs extract` on a whole-chip dump (issue 16): a dead Pico's
2 MiB of flash holds the firmware first and the littlefs at the RPI_PICO
filesystem offset (0xA0000); the filesystem is found there, by its
superblock anywhere else, or at the --offset given."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podctl import extract
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, BadInput

CHIP = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "run"
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(out)]) == 0
    return out


def _dump(fs: bytes, at: int, size: int = CHIP) -> bytes:
    """A chip dump: code-like bytes, the filesystem at `at`, erased flash after."""
    head = (os.urandom(64) * (at // 64 + 1))[:at]
    return (head + fs + b"\xff" * size)[:size]


def test_a_whole_pico_dump_is_read_at_the_rpi_pico_offset(run, tmp_path, capsys):
    fs = (run / "flash.img").read_bytes()
    assert extract.PICO_FS_OFFSET + len(fs) == CHIP  # 1408 KiB, the chip's last
    dump = tmp_path / "pico.bin"
    dump.write_bytes(_dump(fs, extract.PICO_FS_OFFSET))
    out = tmp_path / "x"
    assert main(["logs", "extract", str(dump), "-o", str(out)]) == 0
    assert (out / "log.bin").read_bytes() == (run / "log.bin").read_bytes()
    got = extract.from_image(dump)
    assert got.identity_ok and got.manifest.source.endswith(" at 0xa0000")


def test_elsewhere_by_its_superblock_or_at_the_offset_given(run, tmp_path):
    fs = (run / "flash.img").read_bytes()
    want = (run / "log.bin").read_bytes()
    dump = tmp_path / "other.bin"
    dump.write_bytes(_dump(fs, 0x40000, 0x40000 + len(fs) + 0x10000))
    assert extract.from_image(dump).raw == want  # found by its superblock
    assert extract.from_image(dump, 0x40000).raw == want
    with pytest.raises(BadInput, match="no littlefs filesystem at offset 0xa0000"):
        extract.from_image(dump, extract.PICO_FS_OFFSET)
    out = tmp_path / "x"
    assert main(["logs", "extract", str(dump), "--offset", "0x40000", "-o", str(out)]) == 0
    assert (out / "log.bin").read_bytes() == want


def test_the_filesystem_alone_still_reads_at_zero(run):
    got = extract.from_image(run / "flash.img")
    assert got.raw == (run / "log.bin").read_bytes()
    assert got.manifest.source == f"extract {run / 'flash.img'}"


def test_a_dump_with_no_filesystem_says_to_give_the_offset(tmp_path, capsys):
    dump = tmp_path / "blank.bin"
    dump.write_bytes(os.urandom(4096) * 512)
    assert main(["logs", "extract", str(dump), "-o", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "no littlefs filesystem found" in err and "--offset" in err
    assert main(["logs", "extract", str(dump), "--offset", "-5"]) != 0
