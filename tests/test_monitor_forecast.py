"""Issue 18: `podctl monitor --forecast` on the virtual board (the unix port
on a pseudo-terminal, tests/test_e2e.py's short mission at 3000x). The
forecasts are kept short (2 runs, 2 h horizon, 10 s tick, one worker).

A person watching is modelled by Live.update: each screen the monitor shows
is rendered to text, and "Ctrl-C" (KeyboardInterrupt) is pressed when the
test has seen what it waits for."""

from __future__ import annotations

import os
import time

import pytest
from rich.console import Console

from podctl import device_cmds
from podctl.cli import main
from podctl.device import Device
from podctl.errors import EXIT_BAD_INPUT, EXIT_OK
from podctl.monitor_forecast import LiveForecast
from tests.test_e2e import PROFILE, Board

SHORT = ["--runs", "2", "--horizon", "2", "--tick-s", "10", "--workers", "1",
         "--environment", "orbit"]
KW = dict(environment="orbit", runs=2, horizon_h=2.0, tick_s=10, seed=1, workers=1)
WAIT_S = 240  # a monitor run's bound: a short forecast takes seconds, a loaded machine more


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A flashed board, no profile yet (the unhappy test uses it so)."""
    tmp = tmp_path_factory.mktemp("monitor")
    os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")
    b = Board(tmp)
    try:
        assert main(["flash", "--port", b.port]) == EXIT_OK
        yield b, tmp
    finally:
        b.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)


@pytest.fixture(scope="module")
def flying(board):
    b, tmp = board
    port = ["--port", b.port]
    # at 3000x a signed command can meet the next second's fresh challenge
    # (STALE): the crew's resend, at most 5 (as tests/test_forecast_live.py)
    for cmd in (["profile", "upload", str(PROFILE)], ["time", "sync"]):
        assert any(main([*cmd, *port]) == EXIT_OK for _ in range(5)), cmd
    accepted = b.mission_second()
    deadline = time.monotonic() + 120
    while b.mission_second() < accepted + 6.2 * 3600:  # into the orbit
        assert time.monotonic() < deadline, "mission too slow"
        time.sleep(0.2)
    return b, tmp


class Watched:
    """The monitor's screens as text, its LiveForecast, and every STATUS
    poll's time; stops the monitor (Ctrl-C) when until(self) holds."""

    def __init__(self, monkeypatch, until):
        self.screens: list[str] = []
        self.polls: list[float] = []
        self.computed: list[tuple[float, float]] = []  # each forecast's (start, end)
        self.fc: LiveForecast | None = None
        self.until = until
        self.t0 = time.monotonic()
        watched = self
        real_status = Device.status

        def status(dev):
            watched.polls.append(time.monotonic())
            return real_status(dev)

        class Recorded(LiveForecast):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                watched.fc = self

            def poll(self):
                began = self.started
                ended = super().poll()
                if ended:
                    assert began is not None
                    watched.computed.append((began, time.monotonic()))
                return ended

        def update(live, renderable, **kw):
            con = Console(width=120, record=True, file=open(os.devnull, "w"))
            con.print(renderable)
            watched.screens.append(con.export_text())
            if until(watched):
                raise KeyboardInterrupt
            assert time.monotonic() - watched.t0 < WAIT_S, (
            f"the monitor never got there: {watched.fc and watched.fc.error}")

        monkeypatch.setattr(Device, "status", status)
        monkeypatch.setattr(device_cmds, "LiveForecast", Recorded)
        monkeypatch.setattr(device_cmds.Live, "update", update)


def _monitor(port, *extra):
    return main(["monitor", "--port", port, "--every", "0.1", "--forecast", *SHORT, *extra])


def test_a_forecast_that_fails_is_one_line_and_the_monitor_goes_on(board, tmp_path,
                                                                   monkeypatch):
    b, _ = board
    with Device(b.port) as dev:  # first in this file: the flying fixture uploads one
        assert dev.profile() == b""

    def after_failure(w):
        # (a pull cut by the link is retried once the link is back)
        if w.fc is None or not w.computed or w.fc.error is None:
            return False
        at = w.computed[-1][1]
        return sum(t > at for t in w.polls) >= 5

    w = Watched(monkeypatch, after_failure)
    # a pull refused at 3000x (STALE) is tried again after the interval: a short one
    assert _monitor(b.port, "--forecast-every", "0.05") == EXIT_OK
    shown = [sc for sc in w.screens if "forecast failed:" in sc]
    assert shown and "no profile.bin beside the log" in shown[-1]
    line = next(ln for ln in shown[-1].splitlines() if "forecast failed:" in ln)
    assert "Traceback" not in shown[-1] and "forecast needs the profile" in line
    assert "container" in shown[-1] and w.fc.made == 0


def test_panel_shows_the_forecast_of_the_pulled_folder(flying, tmp_path, monkeypatch):
    from podctl.forecast import forecast
    from podctl.forecast_cmd import _h

    b, _ = flying
    w = Watched(monkeypatch, lambda w: w.fc is not None and w.fc.made >= 1)
    kept = tmp_path / "pulled"
    assert _monitor(b.port, "--pull-to", str(kept)) == EXIT_OK
    got = w.fc.forecast
    assert got is not None and w.fc.error is None
    # the same folder and seed through the library: the same forecast
    direct = forecast(kept, **KW)
    assert got.start == direct.start and got.identified == direct.identified
    assert got.rows == direct.rows and got.hours == direct.hours
    screen = w.screens[-1]
    assert "container" in screen  # the status table is still there, above
    assert "forecast as of " in screen and "2 runs, orbit, 2 h horizon" in screen
    for label, q in (("first excursion", "first_excursion"), ("battery alarm", "battery")):
        row = next(ln for ln in screen.splitlines() if ln.lstrip("│ ").startswith(label))
        assert _h(direct.hours[q]["p50"], 2.0) in row, row
    s = direct.start
    assert f"phase {s.phase_name} for {s.phase_s / 3600:.1f} h" in screen
    assert f"payload {s.payload_c:.2f} degC, battery {s.battery_v:.2f} V" in screen
    # while it flew the panel said so, and STATUS went on being polled
    assert any("computing..." in sc and "2 runs" in sc for sc in w.screens)
    (began, ended), = w.computed
    during = [t for t in w.polls if began < t < ended]
    # never frozen: polled all along, no gap near the forecast's seconds
    # (a loaded machine stretches the 0.1 s; a monitor that waited would
    # show one gap as long as the forecast)
    gaps = [b - a for a, b in zip([began, *during], [*during, ended])]
    assert len(during) >= 5 and max(gaps) < min(1.5, (ended - began) / 3), (len(during), gaps)


def test_the_forecast_is_refreshed_with_only_the_new_log(flying, tmp_path, monkeypatch):
    b, _ = flying
    w = Watched(monkeypatch, lambda w: w.fc is not None and w.fc.made >= 2)
    # 0.02 min: the next refresh is due 1.2 s after the last began
    assert _monitor(b.port, "--forecast-every", "0.02", "--pull-to",
                    str(tmp_path / "p")) == EXIT_OK
    fc = w.fc
    assert fc.made == 2 and len(fc.pulls) == 2 and fc.error is None
    first, second = fc.pulls
    assert first.resumed_from == 0 and first.transferred_bytes == first.log_bytes
    # the second read only what the board logged since (none, when the
    # board sits in the lab after its mission and logs a record a minute)
    assert second.resumed_from == first.log_bytes
    assert second.transferred_bytes == second.log_bytes - first.log_bytes < second.log_bytes
    (_, end1), (begin2, _) = w.computed
    assert begin2 > end1
    assert main(["logs", "verify", str(tmp_path / "p" / "log.bin")]) == EXIT_OK


def test_a_forecast_flies_on_while_the_cable_is_out(flying, tmp_path, monkeypatch):
    from podctl.errors import LinkError

    b, _ = flying
    w = Watched(monkeypatch, lambda w: w.fc is not None and w.fc.made >= 1)
    polled = Device.status

    def unplugged_while_it_computes(dev):
        if w.fc is not None and w.fc.computing and w.fc.elapsed_s() > 0.5:
            raise LinkError("link lost: device unplugged")
        return polled(dev)

    monkeypatch.setattr(Device, "status", unplugged_while_it_computes)
    assert _monitor(b.port, "--pull-to", str(tmp_path / "p")) == EXIT_OK
    assert any("waiting for the container" in sc and "computing..." in sc for sc in w.screens)
    assert "waiting for the container" in w.screens[-1]  # made while the cable was out
    assert "forecast as of" in w.screens[-1] and w.fc.error is None


def test_status_is_polled_between_the_frames_of_a_pull(flying, tmp_path, monkeypatch):
    from podctl import device

    b, _ = flying
    monkeypatch.setattr(device, "LOG_READ_SIZE", 64)  # many frames for a young log
    fc = LiveForecast(tmp_path, **KW)
    seen = []
    with Device(b.port) as dev:
        # the monitor's between(): a STATUS on the same link, between two LOG_READs
        got = fc.pull(dev, between=lambda: seen.append(dev.status().uptime_s))
        assert fc.pulling is None
    assert len(seen) >= got.log_bytes // 64 and seen == sorted(seen)
    assert main(["logs", "verify", str(tmp_path / "log.bin")]) == EXIT_OK


def test_a_pull_cut_by_the_link_is_due_again_and_resumes(flying, tmp_path, monkeypatch):
    from podctl import device
    from podctl.errors import LinkError
    from protocol import catalogue as c

    b, _ = flying
    monkeypatch.setattr(device, "LOG_READ_SIZE", 64)
    real = Device.request
    reads = {"n": 0}

    def cut_at_the_third_read(dev, msg_type, *values):
        if msg_type == c.MSG_LOG_READ:
            reads["n"] += 1
            if reads["n"] == 3:
                raise LinkError("link lost: device unplugged")
        return real(dev, msg_type, *values)

    fc = LiveForecast(tmp_path, **KW)
    monkeypatch.setattr(Device, "request", cut_at_the_third_read)
    with Device(b.port) as dev:
        with pytest.raises(LinkError):
            fc.refresh(dev)
        assert not fc.computing and fc.error.startswith("link lost") and fc.due()
        try:
            assert fc.refresh(dev)  # the monitor's reopened link: where it stopped
        finally:
            fc.close()
    assert fc.pulls[-1].resumed_from == 128 and fc.error is None


def test_a_forecast_option_without_forecast_is_a_usage_error(capsys):
    from podctl.errors import EXIT_USAGE

    assert main(["monitor", "--runs", "5", "--port", "/dev/null"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--runs is a forecast option: add --forecast" in err, err
    # the container's pack is one too (podctl forecast's --pack, --cells, --capacity-wh)
    assert main(["monitor", "--pack", "lifepo4", "--port", "/dev/null"]) == EXIT_USAGE
    assert "--pack is a forecast option: add --forecast" in capsys.readouterr().err


def test_the_monitors_pack_reaches_its_forecasts_keywords(monkeypatch, tmp_path):
    from podctl import device_cmds

    seen = {}

    def stop(args, console, url, fc):
        seen.update(fc.kw)
        return 0

    monkeypatch.setattr(device_cmds, "_monitor", stop)
    assert main(["monitor", "--forecast", "--pack", "lifepo4", "--cells", "4",
                 "--capacity-wh", "500", "--port", "/dev/null",
                 "--pull-to", str(tmp_path / "p")]) == 0
    assert (seen["pack"], seen["cells"], seen["capacity_wh"]) == ("lifepo4", 4, 500.0)


def test_an_unwritable_pull_folder_is_refused_before_the_monitor_starts(flying, tmp_path,
                                                                        capsys):
    b, _ = flying
    (tmp_path / "file").write_text("")
    assert main(["monitor", "--port", b.port, "--forecast", "--pull-to",
                 str(tmp_path / "file" / "sub"), "--count", "1"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create the folder" in err, err


def test_a_resumed_pull_on_wrong_bytes_pulls_the_whole_log(flying, tmp_path):
    b, _ = flying
    fc = LiveForecast(tmp_path, **KW)
    with Device(b.port) as dev:
        fc.pull(dev)
        log = tmp_path / "log.bin"
        raw = bytearray(log.read_bytes())
        raw[len(raw) // 2] ^= 0xFF  # the kept copy damaged on the host's disk
        log.write_bytes(bytes(raw))
        again = fc.pull(dev)
    assert again.resumed_from == 0 and again.transferred_bytes == again.log_bytes
    assert main(["logs", "verify", str(log)]) == EXIT_OK


def test_a_worker_that_dies_is_one_line(flying, tmp_path, monkeypatch):
    import signal

    b, _ = flying

    def kill_then_wait(w):
        fc = w.fc
        if fc is not None and fc.computing and not fc.failed:
            os.kill(fc._proc.pid, signal.SIGKILL)  # noqa: SLF001 - the test plays the OOM killer
        return fc is not None and fc.failed >= 1

    w = Watched(monkeypatch, kill_then_wait)
    assert _monitor(b.port, "--pull-to", str(tmp_path / "p")) == EXIT_OK
    assert "forecast failed: the forecast's worker process died (exit -9)" in w.screens[-1]


def test_leaving_while_it_computes_ends_the_runs(flying, tmp_path, monkeypatch):
    b, _ = flying
    group = []

    def computing_a_while(w):
        fc = w.fc
        if fc is None or not fc.computing:
            return False
        pid = fc._proc.pid  # noqa: SLF001 - the worker leads its process group
        group[:] = _members(pid)
        return len(group) >= 3  # Ctrl-C while the worker's pool of 2 flies

    Watched(monkeypatch, computing_a_while)
    assert main(["monitor", "--port", b.port, "--every", "0.1", "--forecast",
                 "--runs", "8", "--horizon", "48", "--workers", "2",
                 "--pull-to", str(tmp_path / "p")]) == EXIT_OK
    assert _members(group[0]) == []  # no process of the forecast's group is left


def _members(pgid: int) -> list[int]:
    """The processes of a process group (Linux /proc)."""
    out = []
    for stat in os.listdir("/proc"):
        try:
            with open(f"/proc/{stat}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # not a process, or gone meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat))
    return out


def test_a_bad_environment_is_refused_before_the_monitor_starts(flying, tmp_path, capsys):
    b, _ = flying
    bad = tmp_path / "hangar.toml"
    bad.write_text("[[phase]]\nambient = 'sideways'\n")
    assert main(["monitor", "--port", b.port, "--forecast", "--environment", str(bad),
                 "--count", "1"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hangar.toml" in err, err
