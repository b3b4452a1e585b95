"""Ctrl-C on the board (issue 14, S4): a 0x03 on the USB line while the board
boots would stop it at the REPL, where its key file can be read or
rewritten. The board's /main.py turns Ctrl-C off before anything else runs,
and the firmware turns it back on only for the authenticated MAINTENANCE
REPL; a fault resets the board instead of leaving it at the REPL.

The unix port's raw pty does not turn 0x03 into KeyboardInterrupt, so the
board's behaviour itself is shown on the RP2040 machine model (issue 16);
here: the order of /main.py's statements, and every way serve() ends."""

from __future__ import annotations

import ast
import os
import sys
import types
from pathlib import Path

import pytest

from podctl.flash_cmd import BOARD_MAIN

HERE = Path(__file__).resolve().parent / "mp"


def test_main_py_turns_ctrl_c_off_before_anything_else():
    body = ast.parse(BOARD_MAIN.decode()).body
    first, second = body[0], body[1]
    assert isinstance(first, ast.Import) and [a.name for a in first.names] == ["micropython"]
    call = second.value  # type: ignore[attr-defined]
    assert ast.unparse(call) == "micropython.kbd_intr(-1)"
    # nothing imported or run before it: the firmware's imports come after
    later = ast.unparse(ast.Module(body=body[2:], type_ignores=[]))
    assert "firmware" in later and "kbd_intr(3)" not in later


@pytest.fixture
def kbd(monkeypatch):
    """micropython.kbd_intr, recorded (CPython has no micropython module)."""
    calls: list[int] = []
    mod = types.ModuleType("micropython")
    mod.kbd_intr = calls.append  # type: ignore[attr-defined]
    mod.const = lambda x: x  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "micropython", mod)
    return calls


def _pod(tmp_path, hal_cls=None):
    sys.path.insert(0, str(HERE))
    try:
        import _profiles
        from _fakehal import FakeHal

        from firmware import storefile
        from firmware.guard import Guard
        from firmware.pod import Pod

        root = str(tmp_path)
        storefile.write(root, "profile", _profiles.make())
        Guard(root).provision(b"POD00042", bytes(range(32)))
        hal = (hal_cls or FakeHal)(root)
        return Pod(hal).boot()
    finally:
        sys.path.remove(str(HERE))


def _serve(pod, data: bytes, eof: bool = True):
    """serve() on a pipe holding data; closed behind it (eof) or kept open."""
    from firmware.main import serve

    r, w = os.pipe()
    os.write(w, data)
    if eof:
        os.close(w)
    try:
        with open(r, "rb", buffering=0) as inp, open(os.devnull, "wb") as out:
            return serve(pod, inp, out, poll_ms=1)
    finally:
        if not eof:
            os.close(w)


def test_eof_and_reboot_leave_ctrl_c_off(kbd, tmp_path):
    pod = _pod(tmp_path)
    assert _serve(pod, b"\x03" * 64) == "eof"  # a stream of Ctrl-C is line noise
    assert kbd == [-1]
    pod.reboot_requested = True
    kbd.clear()
    assert _serve(pod, b"", eof=False) == "reboot"
    assert kbd == [-1]


def test_only_maintenance_repl_turns_ctrl_c_back_on(kbd, tmp_path):
    pod = _pod(tmp_path)
    pod.repl_requested = True  # as MAINTENANCE REPL's handler leaves it
    assert _serve(pod, b"", eof=False) == "repl"
    assert kbd == [-1, 3]


@pytest.fixture
def resets(monkeypatch):
    """machine.reset, recorded (CPython has no machine module)."""
    calls: list[bool] = []
    machine = types.ModuleType("machine")
    machine.reset = lambda: calls.append(True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "machine", machine)
    return calls


def test_a_fault_resets_the_board_rather_than_leave_it_at_the_repl(kbd, resets, tmp_path,
                                                                   monkeypatch):
    from firmware import main as fw_main

    pod = _pod(tmp_path)

    def broken(*a, **k):
        raise OSError(5, "ADC bus stuck")

    monkeypatch.setattr(fw_main, "serve", broken)
    monkeypatch.setattr(fw_main, "Pod", lambda hal, fw_hash: types.SimpleNamespace(
        boot=lambda: pod))
    fw_main.main(hal=pod.hal)
    assert resets == [True] and 3 not in kbd


@pytest.mark.parametrize("how", ["hal", "boot", "eof", "repl"])
def test_main_resets_unless_maintenance_repl(kbd, resets, tmp_path, monkeypatch, how):
    # the HAL or the pod failing to start, or the USB input ending, used to
    # leave the board at its REPL (found in the SPEC review of issue 14)
    from firmware import main as fw_main

    pod = _pod(tmp_path)

    def broken(*a, **k):
        raise OSError(5, "bus stuck")

    rp2 = types.ModuleType("firmware.hal.rp2")
    rp2.Rp2Hal = broken if how == "hal" else (lambda: pod.hal)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "firmware.hal.rp2", rp2)
    monkeypatch.setattr(fw_main, "Pod", lambda hal, fw_hash: types.SimpleNamespace(
        boot=broken if how == "boot" else (lambda: pod)))
    monkeypatch.setattr(fw_main, "serve", lambda *a: "repl" if how == "repl" else "eof")
    fw_main.main()
    assert resets == ([] if how == "repl" else [True])
