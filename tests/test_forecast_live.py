"""Issue 18, forecast --port: the live path against the virtual board (the
unix port on a pseudo-terminal, tests/test_e2e.py's short mission at 3000x):
the board's log is pulled while it flies and the forecast starts from it."""

from __future__ import annotations

import os
import time

import pytest

from podctl.cli import main
from podctl.errors import EXIT_OK, EXIT_USAGE
from tests.test_e2e import PROFILE, Board


@pytest.fixture(scope="module")
def in_orbit(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")
    board = Board(tmp)
    try:
        port = ["--port", board.port]
        assert main(["flash", *port]) == EXIT_OK
        # at 3000x a signed command can meet the next second's fresh
        # challenge (STALE, status 5, "resend"): the crew's resend, at most 5
        for cmd in (["profile", "upload", str(PROFILE)], ["time", "sync"]):
            assert any(main([*cmd, *port]) == EXIT_OK for _ in range(5)), cmd
        # the firmware's timeline starts when it accepts the profile: 1 h pad,
        # 10 min ascent, then at least 5 h of the 8 h orbit from there
        accepted = board.mission_second()
        deadline = time.monotonic() + 120
        while board.mission_second() < accepted + 6.2 * 3600:
            assert time.monotonic() < deadline, "mission too slow"
            time.sleep(0.2)
        yield board, tmp
    finally:
        board.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)


def test_forecast_from_a_running_board(in_orbit, capsys):
    board, tmp = in_orbit
    kept = tmp / "pulled"
    cmd = ["forecast", "--port", board.port, "--environment", "orbit", "--runs", "2",
           "--horizon", "2", "--workers", "1", "--pull-to", str(kept)]
    # the pull's LOG_SEAL is signed: the same resend as above (STALE at 3000x)
    assert any(main(cmd) == EXIT_OK for _ in range(5))
    out = capsys.readouterr().out
    assert "phase orbit" in out and "identified from" in out and "battery alarm" in out
    assert (kept / "log.bin").exists() and (kept / "profile.bin").exists()


def test_log_folder_or_port_not_both(in_orbit, tmp_path, capsys):
    board, _ = in_orbit
    assert main(["forecast", str(tmp_path), "--port", board.port]) == EXIT_USAGE
    assert main(["forecast"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("podctl: give LOG_FOLDER or --port") == 2
