"""Issue 18's live-forecast figures (`make bench`, group monitor): what one
refresh of `podctl monitor --forecast` costs the link and the log.

    python -m tests.bench_monitor

A virtual board (tests/test_e2e.py's short mission, at SPEED x) is flashed,
loaded and flown two hours into its orbit; a LiveForecast pulls its whole
log (what the monitor's first refresh does), then REFRESHES more times, one
each INTERVAL_MIN minutes of the board's time (the monitor's default), each
reading only what was logged since. The forecast a refresh then starts
(seconds of CPU in its worker) is tests/bench_forecast.py's figure.

  monitor_whole_pull_bytes, _s           the first refresh: the whole log
  monitor_refresh_pull_bytes, _s         a later refresh (mean): the log
                                         bytes on the link and the seconds
                                         the link was busy (on the virtual
                                         board's pty, not a USB CDC's speed)
  monitor_refresh_blocks_closed          blocks a refresh's seal closed
                                         before they were full (mean; the
                                         last block of each kind the refresh
                                         read: at most a sample and an event
                                         block)
  monitor_refresh_seal_bytes             the log (and flash) bytes those
                                         cost beyond what the same records
                                         take in a block that runs on: each
                                         block's framing (24 B header, CRC,
                                         16 B MAC) and, for a sample block,
                                         the next block's key record in
                                         place of a 5-byte delta record
  monitor_refresh_log_growth_pct         those bytes over what the board
                                         logged in the interval without them
                                         (orbit, a record a minute): how much
                                         faster the log fills while a monitor
                                         refreshes at INTERVAL_MIN
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

SPEED = 600  # 30 min of the board's time is 3 s of ours
INTERVAL_MIN = 30.0
REFRESHES = 4
_DELTA_RECORD = 5  # sample format 3


def _closed_early(raw: bytes, start: int) -> tuple[int, int]:
    """(blocks, bytes) the seal at raw's end cost: the last block of each
    kind from offset start on."""
    from podctl.blocks import walk
    from protocol import block

    blocks = [b for b in walk(raw)[0] if b.readable and b.offset >= start]
    last = {b.kind: b for b in blocks}
    cost = 0
    for kind in last:
        cost += block.HEADER_LEN + block.CRC_LEN + block.MAC_LEN
        if kind == block.KIND_SAMPLES:
            nchan = raw[last[kind].offset + 7]
            cost += 2 * nchan + 1 - _DELTA_RECORD  # the next block's key record
    return len(last), cost


def figures() -> dict[str, float]:
    from podctl.cli import main
    from podctl.device import Device
    from podctl.monitor_forecast import LiveForecast
    from tests.test_e2e import PROFILE, Board

    with tempfile.TemporaryDirectory(prefix="bench-monitor") as d:
        tmp = Path(d)
        os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")
        board = Board(tmp, speed=SPEED)
        try:
            port = ["--port", board.port]
            assert main(["flash", *port]) == 0
            for cmd in (["profile", "upload", str(PROFILE)], ["time", "sync"]):
                assert any(main([*cmd, *port]) == 0 for _ in range(5)), cmd
            accepted = board.mission_second()
            _wait(board, accepted + 3.2 * 3600)  # 1 h pad, 10 min ascent, 2 h of orbit
            fc = LiveForecast(tmp / "pulled")
            with Device(board.port, timeout=2.0) as dev:
                whole = fc.pull(dev)
                closed: list[tuple[int, int]] = []
                for _ in range(REFRESHES):
                    _wait(board, board.mission_second() + INTERVAL_MIN * 60)
                    before = fc.pulls[-1].log_bytes
                    fc.pull(dev)
                    raw = (tmp / "pulled" / "log.bin").read_bytes()
                    closed.append(_closed_early(raw, before))
        finally:
            board.stop()
            os.environ.pop("PODCTL_KEYSTORE", None)
    later = fc.pulls[1:]
    assert all(p.resumed_from for p in later), "a refresh pulled the whole log"
    seal = statistics.mean(b for _, b in closed)
    logged = statistics.mean(p.transferred_bytes for p in later)
    return {
        "monitor_whole_pull_bytes": float(whole.transferred_bytes),
        "monitor_whole_pull_s": round(whole.seconds, 3),
        "monitor_refresh_pull_bytes": round(logged, 1),
        "monitor_refresh_pull_s": round(statistics.mean(p.seconds for p in later), 3),
        "monitor_refresh_blocks_closed": float(statistics.mean(n for n, _ in closed)),
        "monitor_refresh_seal_bytes": float(seal),
        "monitor_refresh_log_growth_pct": round(100 * seal / (logged - seal), 1),
    }


def _wait(board, second: float) -> None:
    deadline = time.monotonic() + 120
    while board.mission_second() < second:
        if time.monotonic() > deadline:
            raise RuntimeError("the virtual board flies too slowly")
        time.sleep(0.1)


if __name__ == "__main__":
    for k, v in figures().items():
        print(f"{k} = {v}")
