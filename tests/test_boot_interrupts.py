"""Issue 14, S4: a Ctrl-C (0x03) at boot never leaves the board at its REPL.

MicroPython turns Ctrl-C on while it runs /main.py (shared/runtime/
pyexec.c: after compiling it, before running it). A 0x03 that arrives
before /main.py's first line has turned it off stays pending and is raised
at the VM's next check, wherever that falls: so a KeyboardInterrupt may
surface before any statement of /main.py, in its try. Each such place is
tried here on the micropython binary (tests/boot_interrupts.py): the board
resets, never stops at the REPL; the flat /main.py of before did. And a
storm of SIGINTs from process start (the unix port's path to the same
pending KeyboardInterrupt) never ends at the REPL either."""

from __future__ import annotations

import pytest

from podctl.flash_cmd import board_main
from tests import boot_interrupts as bi


@pytest.mark.parametrize("slot", [0, 1])
def test_a_ctrl_c_pending_anywhere_in_main_py_resets_the_board(slot):
    text = board_main(slot)
    n = bi.positions(text)
    assert n >= 10  # every statement of the prelude and main()
    got = {k: bi.run(bi.pending_at(text, k)) for k in range(n)}
    assert set(got.values()) == {"reset"}, got


def test_the_flat_main_py_of_before_stopped_at_the_repl():
    """The check can fail: /main.py without its try, a 0x03 pending after
    its first line (Ctrl-C off, the exception already on its way)."""
    text = bi.flat_main(0)
    assert bi.run(bi.pending_at(text, 2)) == "repl"
    assert bi.run(text) == "reset"  # without one: main() resets (no HAL on the unix port)


def test_a_storm_of_ctrl_c_from_power_on_never_reaches_the_repl():
    got = bi.storm(board_main(0), [i * 4.0 for i in range(40)])
    assert got["repl"] == 0 and got["ended"] == 0, got
    assert got["ran"] + got["reset"] > 10, got  # the storm reached MicroPython
