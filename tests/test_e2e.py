"""What a crew does, end to end, against the virtual board: flash, upload
the profile, set the clock, fly a short mission, pull the log, verify it,
report it -- and the report's figures against the simulator's ground truth.
Plus the failures a bench engineer meets: no device, a busy port, the wrong
keystore."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podctl.board_cmd import spawn
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_LINK, EXIT_OK

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "e2e" / "short.toml"
PROFILE = HERE / "e2e" / "short-profile.toml"
SPEED = 3000  # virtual seconds per real second


class Board:
    def __init__(self, tmp: Path, speed: float = SPEED):
        self.tmp = tmp
        self.proc, self.port = spawn(str(SCENARIO), speed, tmp / "flash.img", tmp / "port",
                                     log=subprocess.PIPE)

    def truth(self) -> list[tuple[int, float, int]]:
        """The simulator's (mission second, payload degC, board on) each minute,
        from the current board process's log."""
        out = []
        for line in (self.tmp / "board.log").read_text().splitlines():
            if line.startswith("truth "):
                _, t, c, on = line.split()
                if int(t) == 60 and out:
                    out = []  # a power cycle: the board process started again
                out.append((int(t), float(c), int(on)))
        return out

    def mission_second(self) -> int:
        t = self.truth()
        return t[-1][0] if t else 0

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        return out


@pytest.fixture(scope="module")
def flown(tmp_path_factory):
    """A board flashed, loaded and flown through the short mission."""
    tmp = tmp_path_factory.mktemp("e2e")
    os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")
    board = Board(tmp)
    try:
        port = ["--port", board.port]
        assert main(["flash", *port]) == EXIT_OK
        assert main(["profile", "upload", str(PROFILE), *port]) == EXIT_OK
        assert main(["time", "sync", *port]) == EXIT_OK
        # fly the whole mission (the board then sits in the lab in real time)
        from sim import scenario

        end = scenario.load(SCENARIO)["duration_s"]
        deadline = time.monotonic() + 120
        while board.mission_second() < end - 60:
            assert time.monotonic() < deadline, "mission too slow"
            time.sleep(0.5)
        assert main(["logs", "pull", *port, "-o", str(tmp / "pulled")]) == EXIT_OK
        yield board, tmp
    finally:
        board.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)


def test_pulled_log_verifies(flown, capsys):
    _, tmp = flown
    log = tmp / "pulled" / "log.bin"
    assert log.exists() and (tmp / "pulled" / "log.bin.manifest.json").exists()
    assert main(["logs", "verify", str(log)]) == EXIT_OK


def test_report_matches_the_simulators_ground_truth(flown, capsys):
    board, tmp = flown
    log = tmp / "pulled" / "log.bin"
    out = tmp / "report" / "report.html"
    # its short mission ends before recovery: the forecast it would carry is
    # test_report_forecast's; here the report against the truth
    assert main(["logs", "report", str(log), "-o", str(out), "--pdf", "--no-forecast"]) == EXIT_OK
    assert out.exists() and out.with_suffix(".pdf").exists()
    html = out.read_text()
    assert "VERIFIED" in html.upper() and "MKT" in html.upper()
    # the same figures through the library, against the simulator's truth
    from podctl import manifest, open_pulled, verify
    from podctl import report as rpt
    from podctl.report_cmd import load_profile

    m = manifest.read(manifest.beside(log))
    pulled = open_pulled(log)
    verdict = verify(pulled, _key(tmp, m["device_id"]) if (tmp / "keys.json").exists() else None)
    rep = rpt.build(pulled.data(), verdict, load_profile(None, log), m, log_name=str(log))
    assert rep.green
    boot = int(rep.boot.max())
    mine = rep.t[rep.boot == boot]
    truth = [(t, c) for t, c, on in board.truth() if on and mine.min() <= t <= mine.max()]
    assert len(truth) > 600  # 10 h and more of the mission
    true_c = [c for _, c in truth]
    # probes read the payload with offsets up to 0.08 degC, 0.02 noise and
    # a 20 s lag; one reads the air node: 0.3 degC covers it
    assert abs(rep.mission.t_mean - sum(true_c) / len(true_c)) < 0.3
    assert (
        abs(rep.mission.t_min - min(true_c)) < 0.3 and abs(rep.mission.t_max - max(true_c)) < 0.3
    )
    true_in_band = sum(1 for c in true_c if 2.0 <= c <= 8.0) / len(true_c)
    report_in_band = rep.mission.in_band_s / (rep.mission.in_band_s + rep.mission.out_band_s)
    assert abs(true_in_band - report_in_band) < 0.01
    assert any("shock" in a.what.lower() for a in rep.alarms)  # the splashdown
    assert [b.name for b in rep.bands] == ["pad", "ascent", "orbit", "return", "recovery"]


def _key(tmp, device_id):
    from podctl import keystore

    return keystore.device_key(device_id, tmp / "keys.json")


def test_one_changed_byte_fails_verify_naming_the_block(flown, capsys):
    _, tmp = flown
    log = tmp / "pulled" / "log.bin"
    bad = tmp / "bad" / "log.bin"
    bad.parent.mkdir(exist_ok=True)
    data = bytearray(log.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    (bad.parent / "log.bin.manifest.json").write_text(
        (tmp / "pulled" / "log.bin.manifest.json").read_text()
    )
    capsys.readouterr()
    assert main(["logs", "verify", str(bad)]) == EXIT_CHECK_FAILED
    out = capsys.readouterr()
    assert "block" in (out.out + out.err)


def test_no_device_busy_port_wrong_keystore(flown, tmp_path, capsys):
    board, tmp = flown
    assert main(["status", "--port", str(tmp_path / "ttyNONE")]) == EXIT_LINK
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the port" in err
    from podctl.serialport import SerialTransport

    held = SerialTransport(board.port)
    try:
        assert main(["status", "--port", board.port]) == EXIT_LINK
        assert "busy" in capsys.readouterr().err
    finally:
        held.close()
    os.environ["PODCTL_KEYSTORE"] = str(tmp_path / "other.json")
    try:
        assert main(["time", "sync", "--port", board.port]) == EXIT_BAD_INPUT
        assert "no key for device" in capsys.readouterr().err
    finally:
        os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")


def test_mpremote_works_on_the_board_and_writes_into_its_image(tmp_path, capsys):
    """At the REPL (podctl maintenance repl), the unchanged mpremote runs
    code on the virtual board; what it writes lands in the flash image."""
    os.environ["PODCTL_KEYSTORE"] = str(tmp_path / "keys.json")
    board = Board(tmp_path, speed=1)
    try:
        port = ["--port", board.port]
        assert main(["flash", *port]) == EXIT_OK
        assert main(["maintenance", "repl", *port]) == EXIT_OK
        r = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", board.port, "resume", "exec",
             "f = open('hello.txt', 'w'); f.write('from mpremote'); f.close();"
             " import os; print(sorted(os.listdir('/')))"],
            capture_output=True, text=True, timeout=30, cwd=tmp_path, check=False,
        )
        assert r.returncode == 0, r.stderr
        assert "hello.txt" in r.stdout and "lib" in r.stdout
        assert not (tmp_path / "hello.txt").exists()  # not in the host's folder
        from sim import flashimage

        files = flashimage.files((tmp_path / "flash.img").read_bytes())
        assert files["hello.txt"] == b"from mpremote"
        # a reset brings the firmware back
        subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, "resume", "exec",
                        "import sys; sys.exit(75)"], capture_output=True, timeout=30, check=False)
        deadline = time.monotonic() + 20
        while main(["status", *port]) != EXIT_OK:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    finally:
        out = board.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)
    assert "virtual board stopped" in out


def test_flash_cut_short_then_run_again_finishes(tmp_path, capsys, monkeypatch):
    """The cable goes mid-copy: podctl flash says so in one line; the same
    command again copies what is missing and confirms the firmware."""
    from mpremote.transport_serial import SerialTransport

    os.environ["PODCTL_KEYSTORE"] = str(tmp_path / "keys.json")
    board = Board(tmp_path, speed=1)
    real = SerialTransport.fs_writefile
    written = []

    def writefile(self, dest, data, **kw):
        written.append(dest)
        if len(written) == 6:  # the plug is pulled during the sixth file
            subprocess.run(["pkill", "-f", f"vboard.py {tmp_path}"], check=False)
            time.sleep(0.3)
        return real(self, dest, data, **kw)

    try:
        monkeypatch.setattr(SerialTransport, "fs_writefile", writefile)
        assert main(["flash", "--port", board.port]) == EXIT_LINK
        err = capsys.readouterr().err
        assert "podctl flash again" in err and err.count("\n") == 1
        monkeypatch.setattr(SerialTransport, "fs_writefile", real)
        time.sleep(1.0)  # the board powers up again, blank but for what was copied
        assert main(["flash", "--port", board.port]) == EXIT_OK
        out = capsys.readouterr().out
        assert "runs firmware" in out and " unchanged" in out
        copied = int(out.split(" file(s) copied, ")[0].split()[-1])
        from podctl.flash_cmd import _files

        total = len(_files(False, tmp_path / "bundle")[0])
        assert copied <= total - 5  # the five files the first run copied were kept
    finally:
        board.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)
