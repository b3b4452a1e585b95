"""podctl's command line: help, exit statuses, one-line errors (golden text)."""

from __future__ import annotations

import subprocess
import sys

from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_TABLE, EXIT_USAGE
from protocol import catalogue as c
from protocol import frame, message


def test_help_lists_exit_statuses(capsys):
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    for code, text in EXIT_TABLE:
        assert f"{code:<4} {text}" in out


def test_unknown_command_is_usage_error(capsys):
    assert main(["frobnicate"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("podctl: argument COMMAND: invalid choice: 'frobnicate'")
    assert err.count("\n") == 1


def test_decode_bad_hex_is_bad_input(capsys):
    assert main(["protocol", "decode", "zz"]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == (
        "podctl: not hex: give bytes like '03 01 01 02 ...' or use --file\n"
    )


def test_decode_missing_file(capsys, tmp_path):
    assert main(["protocol", "decode", "--file", str(tmp_path / "nope.bin")]) == EXIT_BAD_INPUT
    assert "cannot read" in capsys.readouterr().err


def test_decode_good_and_bad_frames(capsys):
    good = frame.encode(c.MSG_LOG_READ, 4, message.pack(c.MSG_LOG_READ, False, 512, 256))
    assert main(["protocol", "decode", good.hex()]) == 0
    out = capsys.readouterr().out
    assert "LOG_READ request seq=4" in out and "offset = 512" in out
    assert main(["protocol", "decode", (good[:-2] + b"\x55\x00").hex()]) == 1
    assert "refused BAD_CRC" in capsys.readouterr().out


def test_messages_table_lists_catalogue(capsys):
    assert main(["protocol", "messages"]) == 0
    out = capsys.readouterr().out
    for m in c.MESSAGES:
        assert m[1] in out


def test_console_script_no_traceback():
    p = subprocess.run(
        [sys.executable, "-m", "podctl.cli", "protocol", "decode", "xyz"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert p.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1


def test_selftest_passes_on_both_interpreters(capsys):
    assert main(["selftest"]) == 0
    out = capsys.readouterr().out
    assert "CPython" in out and "MicroPython" in out and "FAILED" not in out
