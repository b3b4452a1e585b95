"""podctl flash is all or nothing (issue 16): a deploy cut at any flash
write leaves the board booting the old bundle or the new one, and running
it again finishes the job. make test cuts at every 6th write and at each
around the switch; tests/deploy_cuts.py (make bench) at every one."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from podctl import flash_cmd
from podctl.errors import BadInput
from tests import deploy_cuts as dc


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    return dc.bundles(tmp_path_factory.mktemp("bundles"))


def test_the_boot_model_tells_old_new_and_a_mix(two):
    old, new = two
    legacy = dc.legacy_board(old)
    assert dc.boot(legacy, old, new) == "old"
    assert dc.boot(dc.flash(legacy, new).image, old, new) == "new"
    # the deploy before the slots: each file renamed into /lib in turn, so a
    # cut after some of them boots a mix of the two
    board = dc.Board(legacy)
    for path, data in new[: len(new) // 2]:
        board.fs.makedirs(f"lib/{path}".rsplit("/", 1)[0], exist_ok=True)
        with board.fs.open(f"lib/{path}", "wb") as f:
            f.write(data)
    assert dc.boot(board.image, old, new) == "mixed"


@pytest.mark.parametrize("start", ["legacy", "slotted"])
def test_a_cut_anywhere_boots_old_or_new_and_flashing_again_finishes(two, start):
    old, new = two
    image = dc.legacy_board(old) if start == "legacy" else dc.slotted_board(old, new)
    got = dc.sweep(image, old, new, every=6)
    assert got["mixed"] == 0 and got["mixed_at"] == [], got
    assert got["again_not_new"] == 0, got
    # the old bundle up to the switch, the new one from it on
    assert got["last_old"] == got["switch_at"] and got["first_new"] == got["switch_at"] + 1, got


def test_flashing_the_bundle_in_force_again_copies_nothing(two):
    _, new = two
    image = dc.flash(dc.legacy_board(two[0]), new).image
    board = dc.Board(image)
    copied, skipped, slot = flash_cmd.deploy(board, new, Console(file=io.StringIO()))
    assert (copied, skipped, board.writes) == (0, len(new), 0)
    assert dc.boot(board.image, *two) == "new"


def test_no_room_for_the_new_bundle_beside_the_old_refuses_before_any_write(two):
    old, new = two
    board = dc.Board(dc.legacy_board(old))
    # a log that filled the flash
    with board.fs.open("log.bin", "wb") as f:
        f.write(b"\xa5" * (board.eval(dc._STATVFS)[3] - 20) * 4096)
    before = board.image
    full = dc.Board(before)
    with pytest.raises(BadInput, match="pull the log and erase it"):
        flash_cmd.deploy(full, new, Console(file=io.StringIO()))
    assert full.writes == 0 and dc.boot(full.image, old, new) == "old"


def test_the_reset_is_recorded_as_commanded(two):
    from protocol.frame import crc32

    old, new = two
    board = dc.flash(dc.legacy_board(old), new)
    rec = board.fs_readfile("reset_intent")
    body = rec[:-4]
    assert body == b"\x05\x00\x01"  # the boot count the firmware last ran as, reboot
    assert int.from_bytes(rec[-4:], "little") == crc32(body)
