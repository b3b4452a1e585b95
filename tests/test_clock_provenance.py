"""Time has a provenance (issue 13, SPEC 7.8): UTC comes from the log's own
TIME_SET events, under its MAC chain, and from nothing else. The manifest's
`anchor` (the host's clock at the pull against the device's uptime) is
unauthenticated JSON: an insider who edits it must not move a single time
in what decode, info, the report or assess say. A boot without a TIME_SET
has no UTC, and every verb says so in the same words.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from podctl.cli import main
from tests.conftest import PULLED

PROFILE = Path("examples/profiles/nominal.toml")
NEVER_SET = "the device's clock was never set; times are uptime since that boot"


@pytest.fixture(scope="module")
def reentry(tmp_path_factory) -> Path:
    """reset-reentry: boot 1 set by TIME_SET, boots 2 and 3 (two resets in
    the return) never set; sealed by the simulated device at the end."""
    out = tmp_path_factory.mktemp("reentry") / "run"
    assert main(["sim", "run", "reset-reentry", "--tick-s", "60", "-o", str(out)]) == 0
    return out


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in PULLED:
        shutil.copy(src / name, dst / name)
    return dst


def _said(d: Path, capfd) -> dict[str, str]:
    """What each verb that shows a time says about d."""
    key = ["--key-file", str(d / "key.bin")]
    got = {}
    capfd.readouterr()
    main(["logs", "decode", str(d), "--format", "json", "-o", "-"])
    got["decode"] = capfd.readouterr().out
    main(["logs", "info", str(d)])
    got["info"] = capfd.readouterr().out.replace(str(d), "D")
    main(["logs", "assess", str(d), *key, "--profile", str(PROFILE)])
    got["assess"] = capfd.readouterr().out.replace(str(d), "D")
    main(["logs", "report", str(d), *key, "--profile", str(PROFILE), "-o", str(d / "r.html")])
    capfd.readouterr()
    page = html.unescape((d / "r.html").read_text())
    # the report's own stamp (when it was made, from which file) aside
    got["report"] = re.sub(r"Generated .*? from \S+", "", page).replace(str(d), "D")
    return got


def _shift_anchor(d: Path, seconds: float) -> None:
    p = d / "log.bin.manifest.json"
    m = json.loads(p.read_text())
    assert m["anchor"] is not None  # the pull recorded its clock: kept, as a record
    m["anchor"]["utc"] += seconds
    m["anchor"]["uptime"] = max(0, m["anchor"]["uptime"] - 600)
    p.write_text(json.dumps(m))


def test_an_edited_anchor_moves_no_time(reentry, tmp_path, capfd):
    """Shift the manifest's anchor by a day (and its uptime by ten minutes):
    decode, info, assess and the report say exactly what they said. Before,
    every time of boot 3 moved with it and verify still passed."""
    before = _said(_copy(reentry, tmp_path / "a"), capfd)
    edited = _copy(reentry, tmp_path / "b")
    _shift_anchor(edited, 86400)
    after = _said(edited, capfd)
    for verb in before:
        assert after[verb] == before[verb], f"logs {verb} moved with the anchor"


def test_a_boot_without_time_set_has_no_utc_and_every_verb_says_so(reentry, tmp_path, capfd):
    said = _said(_copy(reentry, tmp_path / "a"), capfd)
    doc = json.loads(said["decode"])
    assert doc["clock"] == [
        "boot 1: UTC from the device's TIME_SET events",
        f"boot 2: {NEVER_SET} (no UTC)",
        f"boot 3: {NEVER_SET} (no UTC)",
    ]
    late = [s for s in doc["samples"] if s["boot"] in (2, 3)]
    assert late and all(s["utc"] is None for s in late)
    assert all(s["utc"] is not None for s in doc["samples"] if s["boot"] == 1)
    assert f"boot 3: {NEVER_SET}" in re.sub(r"[│\s]+", " ", said["info"])  # its table unwrapped
    assert f"boot 3: {NEVER_SET}" in said["assess"]  # a no_utc reason per boot
    assert f"boot 3: {NEVER_SET}" in said["report"]
    assert "UTC from the pull" not in str(said)
