"""The container commands on a virtual board, and their refusals: profile
validate's field errors, port discovery, flash --mpy, time sync's drift,
an interrupted pull resumed, the monitor across a replugged cable."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest

from podctl import serialport
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_LINK, EXIT_OK, LinkError
from tests.test_e2e import Board

HERE = Path(__file__).resolve().parent


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    "change, field",
    [
        (("setpoint_c = 5.0", "setpoint_c = 9.0"), "phase[0]"),
        (("min_probes = 2", "min_probes = 7"), "min_probes"),
        (('mode = "pid"', 'mode = "fuzzy"'), "mode"),
        (("sample_interval_s = 60", "sample_interval_s = 0"), "phase[0].sample_interval_s"),
        (("band_c = [2.0, 8.0]", "band_c = [2.0]"), "phase[0].band_c"),
        (("kp_heat = 400", "kp_heat = 400\nkp_warm = 3"), "control.kp_warm"),
    ],
)
def test_validate_names_file_field_and_rule(tmp_path, capsys, change, field):
    src = (HERE.parent / "examples" / "profiles" / "nominal.toml").read_text()
    assert change[0] in src
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace(change[0], change[1], 1))
    assert main(["profile", "validate", str(bad)]) == EXIT_BAD_INPUT
    err = _one_line(capsys)
    assert f"bad.toml: {field}:" in err, err


def test_validate_good_and_missing(tmp_path, capsys):
    assert main(["profile", "validate", "nominal"]) == EXIT_OK
    assert "is valid" in capsys.readouterr().out
    assert main(["profile", "validate", str(tmp_path / "none.toml")]) == EXIT_BAD_INPUT
    assert "no such profile file" in _one_line(capsys)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = [")
    assert main(["profile", "validate", str(broken)]) == EXIT_BAD_INPUT
    assert "not valid TOML" in _one_line(capsys)


def test_port_discovery(monkeypatch):
    class P:
        def __init__(self, device, vid, pid):
            self.device, self.vid, self.pid = device, vid, pid

    monkeypatch.delenv("PODCTL_PORT", raising=False)
    monkeypatch.setattr(serialport, "comports", lambda: [P("/dev/ttyS0", None, None)])
    with pytest.raises(LinkError, match="no container found"):
        serialport.resolve(None)
    two = [P("/dev/ttyACM0", 0x2E8A, 0x0005), P("/dev/ttyACM1", 0x2E8A, 0x0005)]
    monkeypatch.setattr(serialport, "comports", lambda: two)
    with pytest.raises(LinkError, match="several containers"):
        serialport.resolve(None)
    monkeypatch.setattr(serialport, "comports", lambda: two[:1])
    assert serialport.resolve(None) == "/dev/ttyACM0"
    monkeypatch.setenv("PODCTL_PORT", "socket://localhost:9")
    assert serialport.resolve(None) == "socket://localhost:9"
    assert serialport.resolve("/dev/x") == "/dev/x"


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dev")
    os.environ["PODCTL_KEYSTORE"] = str(tmp / "keys.json")
    b = Board(tmp, speed=20)
    try:
        yield b
    finally:
        b.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)


def test_flash_precompiled_then_commands(board, capsys):
    port = ["--port", board.port]
    assert main(["flash", "--mpy", *port]) == EXIT_OK
    out = capsys.readouterr().out
    assert "runs firmware" in out and "provisioned" in out
    assert main(["profile", "upload", "nominal", *port]) == EXIT_OK
    assert main(["profile", "show", "--diff", "nominal", *port]) == EXIT_OK
    assert "exactly" in capsys.readouterr().out
    assert main(["profile", "show", "--diff", "incubation", *port]) == 1
    assert "+name = 'incubation'" in capsys.readouterr().out
    assert main(["info", *port]) == EXIT_OK
    assert "nominal" in capsys.readouterr().out
    # the clock: first set, then the drift of a board running 20x fast
    assert main(["time", "sync", *port]) == EXIT_OK
    assert "never been set" in capsys.readouterr().out
    time.sleep(1.5)
    assert main(["time", "sync", *port]) == EXIT_OK
    out = capsys.readouterr().out
    assert " s fast" in out  # 1.5 s of real time was ~30 s of the board's


def test_pull_resumes_after_a_disconnect(board, tmp_path, capsys, monkeypatch):
    from podctl import device
    from podctl.device import Device

    out = tmp_path / "pulled"
    real = Device.request
    calls = {"n": 0}

    def flaky(self, msg_type, *values):
        from protocol import catalogue as c

        if msg_type == c.MSG_LOG_READ:
            calls["n"] += 1
            if calls["n"] == 2:
                raise LinkError("link lost: device unplugged")
        return real(self, msg_type, *values)

    monkeypatch.setattr(Device, "request", flaky)
    monkeypatch.setattr(device, "LOG_READ_SIZE", 64)  # many reads for a young log
    assert main(["logs", "pull", "--port", board.port, "-o", str(out)]) == EXIT_LINK
    assert f"pull again into {out} to continue from byte 64" in _one_line(capsys)
    assert (out / "log.bin.part").stat().st_size > 0
    monkeypatch.setattr(Device, "request", real)
    assert main(["logs", "pull", "--port", board.port, "-o", str(out)]) == EXIT_OK
    assert "resuming at byte" in capsys.readouterr().out
    assert main(["logs", "verify", str(out / "log.bin")]) == EXIT_OK


def test_monitor_waits_for_a_replugged_cable(board, capsys, monkeypatch):
    from podctl import device_cmds
    from podctl.device import Device

    real = Device.status
    polls = {"n": 0}

    def unplug_on_second_poll(self):
        polls["n"] += 1
        if polls["n"] == 2:
            raise LinkError("link lost: device unplugged")
        return real(self)

    opened = {"n": 0}
    real_init = Device.__init__

    def counting_init(self, *a, **kw):
        opened["n"] += 1
        real_init(self, *a, **kw)

    monkeypatch.setattr(Device, "status", unplug_on_second_poll)
    monkeypatch.setattr(Device, "__init__", counting_init)
    shown = []
    monkeypatch.setattr(device_cmds.Live, "update", lambda self, r, **kw: shown.append(r))
    args = argparse.Namespace(port=board.port, keystore=None, every=0.05, count=4)
    from rich.console import Console

    assert device_cmds.cmd_monitor(args, Console(width=100)) == 0
    assert any("waiting for the container" in str(r) for r in shown)
    assert opened["n"] == 2 and polls["n"] == 4  # reopened and polled on


def test_key_rotation_and_a_log_that_spans_it(board, tmp_path, capsys):
    from podctl import keystore

    port = ["--port", board.port]
    assert main(["status", *port]) == EXIT_OK  # flashed by the first test
    dev_id = next(
        ln for ln in capsys.readouterr().out.splitlines() if "container" in ln
    ).split()[-1]
    before = keystore.device_keys(dev_id)
    assert main(["key", "rotate", *port]) == EXIT_OK
    after = keystore.device_keys(dev_id)
    assert after[:-1] == before and len(after) == len(before) + 1
    assert main(["time", "sync", *port]) == EXIT_OK  # the new key is the one in force
    time.sleep(0.5)
    out = tmp_path / "pulled"
    assert main(["logs", "pull", *port, "-o", str(out)]) == EXIT_OK
    capsys.readouterr()
    assert main(["logs", "verify", str(out / "log.bin")]) == EXIT_OK
    assert "rotated" in capsys.readouterr().out
    # with the old key alone the chain breaks at the rotation, naming the block
    from podctl.blocks import walk

    _, problems = walk((out / "log.bin").read_bytes(), [before[-1]])
    assert problems and problems[0].code == "mac" and "MAC does not match" in str(problems[0])
