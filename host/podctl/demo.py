"""`make demo`: the crew's job on a whole mission, nothing faked.

1. the protocol's golden vectors on CPython and on the micropython binary;
2. a virtual container (`podctl board nominal --speed 0`: the firmware on the
   micropython binary, its flash a littlefs image, its sensors a simulated
   container flying the 10-day nominal mission as fast as the simulator
   goes) is flashed (`podctl flash`, which provisions its key), loaded
   (`podctl profile upload`), its clock set (`podctl time sync`);
3. the mission flies, with progress on screen;
4. the ground crew pulls the log (`podctl logs pull`), verifies it
   (`podctl logs verify`) and writes the QA report with its plots
   (`podctl logs report --pdf`).

Everything lands in build/demo/. The keystore of this demo is
build/demo/keys.json, never the user's own.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from podctl import cli, selftest
from podctl.board_cmd import last_status, spawn
from podctl.errors import CommandError, LinkError
from sim import upy

OUT = upy.ROOT / "build" / "demo"


def main() -> int:
    con = Console()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    os.environ["PODCTL_KEYSTORE"] = str(OUT / "keys.json")
    board = None
    t0 = time.monotonic()
    try:
        con.rule("1. golden vectors")
        selftest.cmd_selftest(None, con)  # type: ignore[arg-type]
        con.rule("2. a virtual container: flash, profile, clock")
        board = _start_board(con)
        port = ["--port", board["port"]]
        _podctl(con, "flash", *port)
        _podctl(con, "profile", "upload", "nominal", *port)
        _podctl(con, "time", "sync", *port)
        con.rule("3. the nominal mission, as fast as the simulator goes")
        _fly(con, board)
        _podctl(con, "status", *port)
        con.rule("4. pull, verify, report")
        pulled = OUT / "pulled"
        _podctl(con, "logs", "pull", *port, "-o", str(pulled))
        _podctl(con, "logs", "verify", str(pulled / "log.bin"))
        _podctl(
            con, "logs", "report", str(pulled / "log.bin"), "-o", str(OUT / "report.html"), "--pdf"
        )
    except CommandError as e:
        con.print(f"[red]demo failed: {e}")
        return e.status
    finally:
        if board is not None:
            board["proc"].terminate()
            board["proc"].wait(timeout=20)
    con.rule("done")
    con.print(
        f"in {time.monotonic() - t0:.0f} s:\n"
        f"  QA report   {OUT / 'report.html'} (and report.pdf, plots beside it)\n"
        f"  raw log     {OUT / 'pulled' / 'log.bin'} with its manifest and profile.bin\n"
        f"  flash image {OUT / 'board' / 'flash.img'}\n"
        "The virtual board flew its 10 days faster than real time, so its clock ran\n"
        "ahead of this machine's: the report's product verdict names that (reason\n"
        "clock) as it would a real container's clock off by as much.",
        highlight=False,
    )
    return 0


def _podctl(con: Console, *args: str) -> None:
    con.print("[bold]$ podctl " + " ".join(args), highlight=False)
    code = cli.main(list(args))
    if code != 0:
        raise CommandError(f"podctl {args[0]} exited {code}", code)


def _start_board(con: Console) -> dict:
    folder = OUT / "board"
    folder.mkdir()
    con.print(
        "[bold]$ podctl board nominal --speed 0 --flash build/demo/board/flash.img",
        highlight=False,
    )
    proc, port = spawn("nominal", 0, folder / "flash.img", folder / "port",
                       log=open(folder / "supervisor.log", "w"))
    con.print(f"virtual board on {port}", highlight=False)
    return {"proc": proc, "port": port, "log": folder / "board.log"}


def _fly(con: Console, board: dict) -> None:
    from sim import scenario

    end = scenario.load("nominal")["duration_s"]
    with Progress(TextColumn("[bold]mission"), BarColumn(), TextColumn("{task.fields[what]}"),
                  TimeElapsedColumn(), console=con) as bar:
        task = bar.add_task("m", total=end, what="")
        t = 0
        while t < end:
            if board["proc"].poll() is not None:
                raise LinkError("the virtual board stopped during the mission")
            st = last_status(board["log"])
            if st:
                t = st["t"]
                bar.update(task, completed=min(t, end),
                           what=f"day {t / 86400:.1f}, payload {st['payload_c']:.2f} degC, "
                                f"battery {100 * st['battery_soc']:.0f}%")
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
