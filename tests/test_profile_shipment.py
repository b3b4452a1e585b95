"""A profile TOML may carry the QA report's [shipment] table (issue 17):
`podctl profile validate` and `upload` take it and leave it out of the
device's bytes, and a [shipment] that is not a table is still one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podctl import profile_file
from podctl.cli import main
from podctl.errors import EXIT_BAD_INPUT, EXIT_OK
from protocol import profile as pf
from tests.test_e2e import Board

NOMINAL = Path(__file__).resolve().parent.parent / "examples" / "profiles" / "nominal.toml"
SHIPMENT = ('\n[shipment]\nproduct = "Vaccine X 10 mL"\nbatch = "4711-B"\n'
            '[[shipment.probe]]\nindex = 0\nserial = "NTC-0412"\naccuracy_c = 0.25\n')


@pytest.fixture
def shipped(tmp_path) -> Path:
    p = tmp_path / "shipped.toml"
    p.write_text(NOMINAL.read_text() + SHIPMENT)
    return p


def test_the_device_bytes_are_the_same_with_and_without_a_shipment(shipped):
    assert profile_file.compile_file(shipped) == profile_file.compile_file(NOMINAL)


def test_validate_takes_a_profile_with_a_shipment(shipped, capsys):
    assert main(["profile", "validate", str(shipped)]) == EXIT_OK
    out = capsys.readouterr().out
    ident = pf.ident(profile_file.compile_file(NOMINAL))
    assert "is valid" in out and f"identity {ident:08x}" in out


@pytest.mark.parametrize("line, said", [
    ("shipment = 1\n", "shipment: must be a table"),
    ('shipments = "x"\n', "shipments: unknown field"),
])
def test_a_shipment_that_is_not_a_table_is_one_line(tmp_path, capsys, line, said):
    bad = tmp_path / "bad.toml"
    bad.write_text(line + NOMINAL.read_text())  # top-level keys go before the tables
    assert main(["profile", "validate", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"bad.toml: {said}" in err, err


def test_upload_of_a_profile_with_a_shipment_puts_the_profile_alone(shipped, tmp_path, capsys):
    os.environ["PODCTL_KEYSTORE"] = str(tmp_path / "keys.json")
    board = Board(tmp_path, speed=20)
    try:
        port = ["--port", board.port]
        assert main(["flash", "--mpy", *port]) == EXIT_OK
        assert main(["profile", "upload", str(shipped), *port]) == EXIT_OK
        capsys.readouterr()
        # the profile in force is nominal's, byte for byte (no shipment in it)
        assert main(["profile", "show", "--diff", str(NOMINAL), *port]) == EXIT_OK
        assert "exactly" in capsys.readouterr().out
    finally:
        board.stop()
        os.environ.pop("PODCTL_KEYSTORE", None)
