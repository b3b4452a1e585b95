"""`podctl sim`: the run's outputs, and one-line errors for bad scenarios,
profiles and arguments (golden text)."""

from __future__ import annotations

import json
from pathlib import Path

from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_USAGE
from sim import flashimage


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_unknown_scenario_lists_known(capsys):
    assert main(["sim", "run", "nosuch"]) == EXIT_BAD_INPUT
    err = _err(capsys)
    assert (
        err.startswith("podctl: ") and "nosuch" in err and "nominal" in err and "stranded" in err
    )


def test_malformed_scenario_names_file_and_field(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'base = "nominal"\nname = "bad"\ndescription = "x"\n[container]\nheater_max_w = -3\n'
    )
    assert main(["sim", "run", str(bad)]) == EXIT_BAD_INPUT
    err = _err(capsys)
    assert "bad.toml: container.heater_max_w:" in err


def test_scenario_naming_a_broken_profile(capsys, tmp_path):
    prof = tmp_path / "p.toml"
    src = (
        Path("examples/profiles/nominal.toml")
        .read_text()
        .replace("setpoint_c = 5.0", "setpoint_c = 9.0", 1)
    )
    prof.write_text(src)
    sc = tmp_path / "s.toml"
    sc.write_text(
        Path("sim/scenarios/nominal.toml")
        .read_text()
        .replace('profile = "nominal"', f'profile = "{prof}"')
    )
    assert main(["sim", "run", str(sc)]) == EXIT_BAD_INPUT
    err = _err(capsys)
    assert "p.toml: phase[0]:" in err and "setpoint_c" in err


def test_bad_arguments_are_usage_errors(capsys):
    assert main(["sim", "run", "nominal", "--engine", "java"]) == EXIT_USAGE
    _err(capsys)
    assert main(["sim", "run", "nominal", "--tick-s", "0"]) == EXIT_USAGE
    assert "tick must be 1 to 60 seconds" in _err(capsys)


def test_run_writes_log_image_table_summary(capsys, tmp_path):
    out = tmp_path / "run"
    code = main(
        ["sim", "run", "probe-failure", "--tick-s", "60", "-o", str(out), "--table", "parquet"]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "PASS probe 1 excluded" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "probe-failure" and all(
        e["passed"] for e in summary["expectations"]
    )
    log = (out / "log.bin").read_bytes()
    assert flashimage.log_bytes((out / "flash.img").read_bytes()) == log and log
    assert (out / "key.bin").stat().st_mode & 0o777 == 0o600
    import pyarrow.parquet as pq

    table = pq.read_table(out / "truth.parquet")
    assert table.num_rows == summary["duration_s"] // 60
    assert {"payload_c", "probe1_c", "estimate_c"} <= set(table.column_names)


def test_key_bin_never_follows_a_link_nor_keeps_a_mode(capsys, tmp_path):
    # issue 14, S6: a symlink planted at key.bin must not carry the key
    # elsewhere; a leftover 0644 key.bin must not stay readable
    out = tmp_path / "run"
    out.mkdir()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (out / "key.bin").symlink_to(target)
    args = ["sim", "run", "nominal", "--tick-s", "60", "-o", str(out)]
    assert main(args) == 0, capsys.readouterr().out
    assert target.read_bytes() == b"" and not (out / "key.bin").is_symlink()
    assert (out / "key.bin").stat().st_mode & 0o777 == 0o600
    assert len((out / "key.bin").read_bytes()) == 32


def test_failed_expectation_exits_1(capsys, tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text(
        'base = "nominal"\nname = "too-strict"\n'
        'description = "expects an alarm that never comes"\n'
        '[[phase]]\nname = "pad"\nduration_h = 2\nambient_c = 21.0\n'
        '[[expect]]\nkind = "alarm"\nalarm = "high"\n'
    )
    assert (
        main(["sim", "run", str(sc), "--tick-s", "10", "-o", str(tmp_path / "o")])
        == EXIT_CHECK_FAILED
    )
    captured = capsys.readouterr()
    assert "FAIL alarm high never raised" in captured.out
    assert captured.err == "podctl: too-strict: 1 expectation(s) not met\n"
