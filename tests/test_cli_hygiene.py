"""What a new user meets at the keyboard, outside the log verbs: values
argparse let through (a folder as the board's flash, a speed of nan), two
boards on one flash image, Ctrl-C before a command's own code runs, exit
statuses against the README's table, examples in every --help, one
spelling per option. Each error is one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podctl import cli
from podctl.cli import main
from podctl.errors import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LINK,
    EXIT_OK,
    EXIT_USAGE,
)

ROOT = Path(__file__).resolve().parents[1]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("podctl: "), err
    assert "Traceback" not in err
    return err


# -- podctl board: values that cannot be used


@pytest.fixture
def no_board(monkeypatch):
    """The refusals come before any board starts (without them, the test
    fails here instead of running a board for ever)."""
    from podctl import board_cmd

    def started(*a, **kw):
        raise AssertionError("a virtual board was started")

    monkeypatch.setattr(board_cmd, "VirtualBoard", started)


@pytest.mark.parametrize("speed", ["nan", "NaN", "inf", "-inf", "-1", "1e7", "fast"])
def test_board_refuses_a_speed_it_cannot_run(speed, capsys, tmp_path, no_board):
    assert (
        main(["board", "nominal", f"--speed={speed}", "--flash", str(tmp_path / "f.img")])
        == EXIT_USAGE
    )
    assert "speed must be" in _one_line(capsys)
    assert not (tmp_path / "f.img").exists()


def test_board_refuses_a_folder_as_its_flash(capsys, tmp_path, no_board):
    assert main(["board", "nominal", "--flash", str(tmp_path)]) == EXIT_BAD_INPUT
    assert f"{tmp_path}: is a folder" in _one_line(capsys)


def test_board_refuses_a_file_that_is_not_a_flash_image(capsys, tmp_path, no_board):
    img = tmp_path / "notes.txt"
    img.write_text("not a flash image")
    assert main(["board", "nominal", "--flash", str(img)]) == EXIT_BAD_INPUT
    err = _one_line(capsys)
    assert "not a board's flash image" in err and "--erase" in err
    assert img.read_text() == "not a flash image"  # changed nothing


def test_two_boards_on_one_image_the_second_refuses(tmp_path, capsys, no_board):
    from podctl.board_cmd import check_image, lock_image, spawn

    img = tmp_path / "flash.img"
    first, pty = spawn("nominal", 1, img, tmp_path / "port")  # a process of its own: a real board
    try:
        assert os.path.exists(pty)
        t0 = time.monotonic()
        assert (
            main(["board", "nominal", "--flash", str(img), "--port-file", str(tmp_path / "port2")])
            == EXIT_LINK
        )
        err = _one_line(capsys)
        assert f"{img}: in use by another virtual board (pid {first.pid})" in err
        assert time.monotonic() - t0 < 5 and not (tmp_path / "port2").exists()
        assert first.poll() is None  # the first board runs on
        # --erase of the held image is refused too, before anything is touched
        before = img.stat().st_mtime_ns
        assert main(["board", "nominal", "--flash", str(img), "--erase"]) == EXIT_LINK
        _one_line(capsys)
        assert img.exists() and img.stat().st_mtime_ns >= before
    finally:
        first.terminate()
        first.wait(timeout=20)
    # the lock went with the board: the image is free and intact
    check_image(img)
    os.close(lock_image(img))


# -- Ctrl-C anywhere in main(): one line, status 130


def test_ctrl_c_in_a_command_handler(monkeypatch, capsys):
    from podctl import protocol_cmds

    def interrupted(args, console):
        raise KeyboardInterrupt

    monkeypatch.setattr(protocol_cmds, "cmd_messages", interrupted)
    assert main(["protocol", "messages"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "podctl: interrupted\n"


def test_ctrl_c_while_parsing_arguments(monkeypatch, capsys):
    def interrupted(self, args=None, namespace=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", interrupted)
    assert main(["protocol", "messages"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "podctl: interrupted\n"


def test_ctrl_c_while_importing_the_verbs(monkeypatch, capsys):
    """The verb modules are imported inside main()'s guard."""

    class Interrupting:
        def find_spec(self, name, path=None, target=None):
            if name == "podctl.sim_cmds":
                raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "podctl.sim_cmds", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    assert main(["protocol", "messages"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "podctl: interrupted\n"


def test_a_real_sigint_during_the_imports_is_one_line():
    """A real SIGINT, delivered while `podctl` imports rich (the first
    heavy import), in a fresh interpreter."""
    script = (
        "import builtins, os, signal, sys\n"
        # Python's own handler, whatever the parent left: a job started in
        # the background by a shell inherits SIGINT ignored, and Python
        # then installs none (the SIGINT would be lost, not the CLI's fault)
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "real = builtins.__import__\n"
        "def imp(name, *a, **k):\n"
        "    if name.startswith('rich'):\n"
        "        builtins.__import__ = real\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = imp\n"
        "from podctl.cli import main\n"
        "sys.exit(main(['protocol', 'messages']))\n"
    )
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, check=False)
    assert p.returncode == EXIT_INTERRUPTED, p.stderr
    assert p.stderr == "podctl: interrupted\n"


# -- exit statuses: the README's table, verb by verb (the device-side ones,
# refusal and a missing key, are in tests/test_device_lib.py)


def _bad_profile(tmp: Path) -> Path:
    src = (ROOT / "examples" / "profiles" / "nominal.toml").read_text()
    bad = tmp / "bad.toml"
    bad.write_text(src.replace("setpoint_c = 5.0", "setpoint_c = 9.0", 1))
    return bad


NO_PORT = "/dev/podctl-no-such-port"
CASES = [
    # (argv, status, text in the one line); {tmp} and {bad} are filled in
    (["status", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["info", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["monitor", "--port", NO_PORT, "--count", "1"], EXIT_LINK, "cannot open the port"),
    (["time", "sync", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["key", "rotate", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["maintenance", "reboot", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["flash", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["logs", "pull", "--port", NO_PORT, "-o", "{tmp}/p"], EXIT_LINK, "cannot open the port"),
    (["profile", "show", "--port", NO_PORT], EXIT_LINK, "cannot open the port"),
    (["status", "--port", "socket://127.0.0.1:9"], EXIT_LINK, "socket://127.0.0.1:9"),
    (["profile", "upload", "{bad}", "--port", NO_PORT], EXIT_BAD_INPUT, "bad.toml: phase[0]"),
    (
        ["profile", "upload", "{tmp}/none.toml", "--port", NO_PORT],
        EXIT_BAD_INPUT,
        "no such profile file",
    ),
    (
        ["profile", "show", "--diff", "{bad}", "--port", NO_PORT],
        EXIT_BAD_INPUT,
        "bad.toml: phase[0]",
    ),
    (["profile", "validate", "{bad}"], EXIT_BAD_INPUT, "bad.toml: phase[0]"),
    (["protocol", "decode", "zz"], EXIT_BAD_INPUT, "not hex"),
    (["protocol", "decode", "--file", "{tmp}/none.bin"], EXIT_BAD_INPUT, "cannot read"),
    (["protocol", "decode", "00"], EXIT_OK, None),
    (["sim", "run", "nosuch"], EXIT_BAD_INPUT, "nosuch"),
    (["board", "nosuch", "--flash", "{tmp}/f.img"], EXIT_BAD_INPUT, "nosuch"),
    (["frobnicate"], EXIT_USAGE, "invalid choice"),
    (["status", "--bogus"], EXIT_USAGE, "unrecognized arguments"),
    (["monitor", "--every", "nan", "--port", NO_PORT], EXIT_USAGE, "--every must be"),
    (["monitor", "--every", "-1", "--port", NO_PORT], EXIT_USAGE, "--every must be"),
    (["monitor", "--count", "-3", "--port", NO_PORT], EXIT_USAGE, "--count must be"),
    (["flash", "--device-id", "17-BYTES-IS-TOO-LONG", "--port", NO_PORT],
     EXIT_USAGE, "device id must be"),
    (["sim", "run", "nominal", "--tick-s", "0"], EXIT_USAGE, "tick must be"),
    (["maintenance", "sleep"], EXIT_USAGE, "invalid choice"),
    (["key"], EXIT_USAGE, "required"),
]


@pytest.mark.parametrize("argv, status, text", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_exit_status_table(argv, status, text, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PODCTL_KEYSTORE", str(tmp_path / "keys.json"))
    bad = _bad_profile(tmp_path)
    argv = [a.format(tmp=tmp_path, bad=bad) for a in argv]
    assert main(argv) == status
    if text is None:
        capsys.readouterr()
        return
    assert text in _one_line(capsys)
    assert not (tmp_path / "keys.json").exists()  # nothing was provisioned or changed


def test_check_failed_is_1_not_a_link_or_input_problem(tmp_path, capsys):
    sc = tmp_path / "s.toml"
    sc.write_text(
        'base = "nominal"\nname = "strict"\ndescription = "an alarm that never comes"\n'
        '[[phase]]\nname = "pad"\nduration_h = 1\nambient_c = 21.0\n'
        '[[expect]]\nkind = "alarm"\nalarm = "high"\n'
    )
    assert (
        main(["sim", "run", str(sc), "--tick-s", "60", "-o", str(tmp_path / "o")])
        == EXIT_CHECK_FAILED
    )
    assert "expectation(s) not met" in _one_line(capsys)


# -- --help: examples in every verb, one spelling per option


def _parsers():
    def walk(p, path):
        yield path, p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    yield from walk(sp, (*path, name))

    return list(walk(cli.build_parser(), ()))


PARSERS = _parsers()


@pytest.mark.parametrize(
    "path, parser",
    [pytest.param(path, p, id=" ".join(path) or "podctl") for path, p in PARSERS],
)
def test_every_help_has_examples(path, parser):
    text = parser.format_help()
    assert "examples:" in text
    block = text.split("examples:", 1)[1].strip().splitlines()
    lines = [
        ln.strip() for ln in block[:6] if ln.strip().startswith(("podctl ", "mpremote ", "xxd "))
    ]
    assert 1 <= len(lines), text
    # each example parses (the ones that run podctl)
    for ln in lines:
        if not ln.startswith("podctl ") or "$(" in ln or "COMMAND" in ln:
            continue
        argv = shlex.split(ln.split("#")[0].split("&&")[0].split("|")[0].replace("&", ""))[1:]
        cli.build_parser().parse_args(argv)


def test_the_parser_is_declarative_and_builds_the_same_twice():
    def verbs():
        return [" ".join(path) for path, _ in _parsers()]

    first = verbs()
    assert first == verbs()
    assert len(first) == len(set(first))
    for name in cli.COMMANDS:
        assert callable(__import__(name, fromlist=["add_parser"]).add_parser)


# spellings of one thing: at most one of each may appear, across all verbs
SYNONYMS = (
    {"--key", "--key-file", "--keyfile"},
    {"--keystore", "--key-store", "--keys"},
    {"--port", "--device", "--tty", "--url"},
    {"--out", "--output", "--out-dir", "--dest"},
    {"--manifest", "--manifest-file"},
    {"--seed", "--random-seed"},
)


def test_one_spelling_per_option():
    used: set[str] = set()
    device_verbs = []
    for path, p in PARSERS:
        opts = {o for a in p._actions for o in a.option_strings}
        used |= opts
        if "--port" in opts:
            device_verbs.append(" ".join(path))
            assert "--keystore" in opts, path  # every verb that talks to a device
        outs = [a.option_strings for a in p._actions if "--out" in a.option_strings]
        assert all("-o" in o for o in outs), path  # -o is always --out
    assert {
        "info", "status", "monitor", "flash", "time sync", "key rotate", "logs pull"
    } <= set(device_verbs)
    for group in SYNONYMS:
        assert len(group & used) <= 1, sorted(group & used)
