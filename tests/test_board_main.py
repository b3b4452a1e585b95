"""Ctrl-C on the board (issue 14, S4): a 0x03 on the USB line while the board
boots would stop it at the REPL, where its key file can be read or
rewritten. The board's /main.py turns Ctrl-C off before anything else runs,
and only the maintenance boot turns it back on (MAINTENANCE REPL resets into
it, issue 16: firmware/maintenance.py); every other way the firmware ends
resets the board instead of leaving it at the REPL.

The unix port's raw pty does not turn 0x03 into KeyboardInterrupt, so the
board's behaviour itself is shown on the RP2040 machine model (issue 16);
here: the order of /main.py's statements, and every way serve() and main()
end."""

from __future__ import annotations

import ast
import os
import sys
import types
from pathlib import Path

import pytest

from podctl.flash_cmd import board_main

HERE = Path(__file__).resolve().parent / "mp"


@pytest.mark.parametrize("slot", [0, 1])
def test_main_py_turns_ctrl_c_off_before_anything_else(slot):
    # all of /main.py is one try whose bare, straight-line handler resets
    # (tests/test_boot_interrupts.py runs it with a Ctrl-C at every step)
    (block,) = ast.parse(board_main(slot).decode()).body
    assert isinstance(block, ast.Try) and not block.finalbody and not block.orelse
    (handler,) = block.handlers
    assert handler.type is None  # bare: matching a type is a jump, where a 0x03 would escape
    assert ast.unparse(ast.Module(body=handler.body, type_ignores=[])) == (
        "import machine\nmachine.reset()")
    body = block.body
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


def test_serve_never_turns_ctrl_c_back_on(kbd, tmp_path):
    # MAINTENANCE REPL ends the loop with Ctrl-C still off: main() resets
    # into the maintenance boot, which turns it on (issue 16)
    pod = _pod(tmp_path)
    pod.repl_requested = True  # as MAINTENANCE REPL's handler leaves it
    assert _serve(pod, b"", eof=False) == "repl"
    assert kbd == [-1]


@pytest.fixture
def resets(monkeypatch):
    """machine.reset, recorded (CPython has no machine module); the
    maintenance module takes it as its machine, and is no maintenance boot
    (the board's storage root "" is the host's /, so boot() is replaced)."""
    calls: list[bool] = []
    machine = types.ModuleType("machine")
    machine.reset = lambda: calls.append(True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "machine", machine)
    from firmware import maintenance

    monkeypatch.setattr(maintenance, "machine", machine)
    monkeypatch.setattr(maintenance, "boot", lambda: False)
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
    assert not (tmp_path / "reset_intent").exists()  # a fault: no commanded reset


@pytest.mark.parametrize("how", ["hal", "boot", "eof", "repl", "reboot"])
def test_main_always_resets(kbd, resets, tmp_path, monkeypatch, how):
    # the HAL or the pod failing to start, or the USB input ending, used to
    # leave the board at its REPL (found in the SPEC review of issue 14);
    # MAINTENANCE REPL resets too, into the maintenance boot (issue 16)
    from firmware import main as fw_main
    from firmware import storefile

    pod = _pod(tmp_path)

    def broken(*a, **k):
        raise OSError(5, "bus stuck")

    rp2 = types.ModuleType("firmware.hal.rp2")
    rp2.Rp2Hal = broken if how == "hal" else (lambda: pod.hal)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "firmware.hal.rp2", rp2)
    monkeypatch.setattr(fw_main, "Pod", lambda hal, fw_hash: types.SimpleNamespace(
        boot=broken if how == "boot" else (lambda: pod)))
    monkeypatch.setattr(fw_main, "serve", lambda *a: how if how in ("repl", "reboot") else "eof")
    fw_main.main()
    assert resets == [True] and 3 not in kbd
    intent = storefile.read(str(tmp_path), "reset_intent")
    assert intent == {"repl": b"\x01\x00\x02", "reboot": b"\x01\x00\x01"}.get(how), intent


def test_the_maintenance_boot_makes_no_hal_and_returns_to_the_repl(kbd, resets, tmp_path,
                                                                   monkeypatch):
    from firmware import main as fw_main
    from firmware import maintenance

    monkeypatch.setattr(maintenance, "boot", lambda: True)
    rp2 = types.ModuleType("firmware.hal.rp2")
    made: list[bool] = []
    rp2.Rp2Hal = lambda: made.append(True)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "firmware.hal.rp2", rp2)
    assert fw_main.main() is None
    assert made == [] and resets == []  # no HAL (no watchdog), no reset: the REPL


def test_the_maintenance_boot_turns_ctrl_c_on_and_only_it(kbd, tmp_path, monkeypatch):
    from firmware import maintenance, storefile

    driven: list[int] = []

    def pin(n, mode, value):
        assert mode == 1 and value == 0
        driven.append(n)

    pin.OUT = 1  # type: ignore[attr-defined]
    machine = types.SimpleNamespace(WDT_RESET=3, reset_cause=lambda: 3, Pin=pin)
    monkeypatch.setattr(maintenance, "machine", machine)
    root = str(tmp_path)
    storefile.write(root, "boots", b"\x07\x00")
    storefile.write(root, "reset_intent", b"\x07\x00\x01")  # a reboot's: the firmware runs
    assert not maintenance.boot(root) and kbd == [] and driven == []
    storefile.write(root, "reset_intent", b"\x07\x00\x02")  # MAINTENANCE REPL's, boot 7
    assert maintenance.boot(root)
    assert kbd == [3] and driven == [15, 16, 17]
    assert storefile.read(root, "reset_intent") == b"\x07\x00\x01"  # its reset: commanded
