"""`podctl flash` deploys the smallest form by default (issue 16): the
bundle precompiled to .mpy, which leaves the log about 74 KiB more of the
Pico's flash than the .py sources (the 99.2 days of log are with it);
`--py` deploys the sources, for a board of another .mpy version."""

from pathlib import Path

from podctl import flash_cmd
from podctl.cli import build_parser


def _form(argv: list[str]) -> bool:
    return build_parser().parse_args(argv).mpy


def test_the_default_deploy_is_precompiled():
    assert _form(["flash"]) is True
    assert _form(["flash", "--mpy"]) is True
    assert _form(["flash", "--py"]) is False


def test_py_and_mpy_together_are_a_usage_error(capsys):
    from podctl.cli import main
    from podctl.errors import EXIT_USAGE

    assert main(["flash", "--py", "--mpy", "--port", "socket://127.0.0.1:9"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "not allowed with" in err and "Traceback" not in err


def test_what_the_default_deploys_is_mpy_and_smaller(tmp_path: Path):
    mpy, digest = flash_cmd._files(_form(["flash"]), tmp_path / "a")
    py, digest_py = flash_cmd._files(_form(["flash", "--py"]), tmp_path / "b")
    assert digest == digest_py  # the same bundle, whatever its form
    # every module but the bundle's hash, written as source on the device
    modules = [name for name, _ in mpy if name != "firmware/_bundle.py"]
    assert modules and all(name.endswith(".mpy") for name in modules), modules[:5]
    assert sum(len(b) for _, b in mpy) < sum(len(b) for _, b in py)
