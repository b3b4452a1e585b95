"""Issue 17, finding 9: a phase may carry a maximum hold time.

The TOML key `max_hold_h` (whole hours, 1 to 255) becomes the phase's last
byte in profile version 2 (protocol/profile_bin.py); a profile with no limit
stays version 1, which firmware from before version 2 still takes. The
example profiles give the recovery phase ("until command") a 12 h limit, so
return-slip's 72 h slip raises alarm `hold` (tests/test_qa_findings.py
flies it)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from podctl import profile_file
from podctl.cli import main as cli
from podctl.errors import EXIT_BAD_INPUT
from protocol import profile as pf

ROOT = Path(__file__).resolve().parents[1]
NOMINAL = ROOT / "examples" / "profiles" / "nominal.toml"


def _with(tmp: Path, edit) -> Path:
    """nominal.toml with its tables edited, as a new file."""
    data = tomllib.loads(NOMINAL.read_text())
    edit(data)
    lines = []
    for k, v in data.items():
        if not isinstance(v, (dict, list)):
            lines.append(f"{k} = {_toml(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {_toml(vv)}" for kk, vv in v.items()]
    for p in data["phase"]:
        lines.append("[[phase]]")
        lines += [f"{kk} = {_toml(vv)}" for kk, vv in p.items()]
    path = tmp / "edited.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


@pytest.mark.parametrize("name", ["nominal", "incubation", "cold-bay"])
def test_the_example_profiles_limit_the_recovery_hold(name):
    blob = profile_file.compile_file(name)
    prof = pf.check(blob)
    assert isinstance(prof, pf.Profile)
    assert prof.header[1] == 2  # the limit needs version 2
    last = prof.phases[-1]
    assert prof.phase_name(len(prof.phases) - 1) == "recovery"
    assert last[pf.P_DURATION] == 0 and last[pf.P_MAX_HOLD] == 12
    assert all(ph[pf.P_MAX_HOLD] == 0 for ph in prof.phases[:-1])
    # the bytes read back as the same tables, and compile to the same bytes
    tables = profile_file.decompile(blob)
    assert tables["phase"][-1]["max_hold_h"] == 12
    assert "max_hold_h" not in tables["phase"][0]
    assert profile_file.compile_data(tables) == blob


def test_a_profile_without_a_limit_stays_version_1(tmp_path):
    def drop(d):
        del d["phase"][-1]["max_hold_h"]

    blob = profile_file.compile_file(_with(tmp_path, drop))
    assert blob[4] == 1 and isinstance(pf.check(blob), pf.Profile)
    assert profile_file.decompile(blob)["phase"][-1].get("max_hold_h") is None


@pytest.mark.parametrize(
    "value, rule",
    [
        (0, "must be a whole number of hours, 1 to 255, got 0"),
        (256, "must be a whole number of hours, 1 to 255, got 256"),
        (1.5, "must be a whole number of hours, 1 to 255, got 1.5"),
        (True, "must be a whole number of hours, 1 to 255, got True"),
        ("12", "must be a whole number of hours, 1 to 255, got '12'"),
    ],
)
def test_a_bad_hold_limit_is_one_line_naming_the_field(tmp_path, value, rule):
    def edit(d):
        d["phase"][-1]["max_hold_h"] = value

    path = _with(tmp_path, edit)
    with pytest.raises(profile_file.ProfileError) as e:
        profile_file.compile_file(path)
    assert str(e.value).endswith(f"phase[4].max_hold_h: {rule}")
    assert "\n" not in str(e.value)


def test_a_hold_limit_a_timed_phase_always_breaks_is_refused(tmp_path, capsys):
    def edit(d):
        d["phase"][2]["max_hold_h"] = 100  # orbit is 220 h long

    path = _with(tmp_path, edit)
    assert cli(["profile", "validate", str(path)]) == EXIT_BAD_INPUT
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert "phase[2].max_hold_h: 100 h is shorter than the phase's duration (220 h)" in text
    assert "Traceback" not in text and len(text.splitlines()) == 1


def test_validate_shows_the_limit(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the table unwrapped
    assert cli(["profile", "validate", str(NOMINAL)]) == 0
    out = capsys.readouterr().out
    assert "until command, hold max 12 h" in out, out
