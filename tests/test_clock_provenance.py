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


def _fly(tmp_path_factory, sync: bool) -> Path:
    d = tmp_path_factory.mktemp("reentry")
    sc = d / "reentry.toml"
    sc.write_text(f'base = "reset-reentry"\nhandover_sync = {str(sync).lower()}\n')
    out = d / "run"
    assert main(["sim", "run", str(sc), "--tick-s", "60", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def reentry(tmp_path_factory) -> Path:
    """reset-reentry pulled by a crew that forgot the time sync at hand-over
    (or by another tool): boot 1 set by TIME_SET, boots 2 and 3 (two resets
    in the return) never set; sealed by the simulated device at the end."""
    return _fly(tmp_path_factory, False)


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Path:
    """The same mission with the crew's sync before the seal (the default):
    boot 3 clocked by its own TIME_SET."""
    return _fly(tmp_path_factory, True)


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


# what the report may say by the host's clock (5bfede4): bounds the log
# leaves open, each labelled as the manifest's, unauthenticated
BY_HOST = re.compile(
    r"; by the host's clock at the pull \(the manifest's, unauthenticated\) it started no "
    r"later than \S+ \S+Z"
    r"| \(at most [^()]*? by the host's clock at the pull: not authenticated\)")


def test_an_edited_anchor_moves_no_time(reentry, tmp_path, capfd):
    """Shift the manifest's anchor by a day (and its uptime by ten minutes):
    decode, info and assess say exactly what they said, and so does the
    report but for its bounds labelled as the host's clock. Before, every
    time of boot 3 moved with it and verify still passed."""
    before = _said(_copy(reentry, tmp_path / "a"), capfd)
    edited = _copy(reentry, tmp_path / "b")
    _shift_anchor(edited, 86400)
    after = _said(edited, capfd)
    for verb in before:
        was, now = (BY_HOST.sub("", said[verb]) for said in (before, after))
        assert now == was, f"logs {verb} moved with the anchor"
    # the host's bounds move with it, in as many places, and say whose they are
    was, now = (BY_HOST.findall(said["report"]) for said in (before, after))
    assert len(was) == len(now) >= 2 and all(w != n for w, n in zip(was, now))
    assert not any(BY_HOST.search(before[verb]) for verb in ("decode", "info", "assess"))


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



def test_with_the_crews_sync_an_edited_anchor_moves_no_time_and_is_flagged(
        synced, tmp_path, capfd):
    """With the hand-over sync, boot 3 is clocked by its own TIME_SET and the
    pull's anchor can be compared with it: the edited anchor still moves no
    time (decode and info say the same), and the difference it makes is a
    clock finding the verdict shows, never a correction."""
    before = _said(_copy(synced, tmp_path / "a"), capfd)
    assert json.loads(before["decode"])["clock"] == [
        "boot 1: UTC from the device's TIME_SET events",
        f"boot 2: {NEVER_SET} (no UTC)",
        "boot 3: UTC from the device's TIME_SET events",
    ]
    assert "clock was within +0 s of the host's at the pull" in before["report"]
    edited = _copy(synced, tmp_path / "b")
    _shift_anchor(edited, 86400)
    after = _said(edited, capfd)
    for verb in ("decode", "info"):
        assert after[verb] == before[verb], f"logs {verb} moved with the anchor"
    off = "the device's clock differed from the host's by -87,000 s (1.0 days) at the pull"
    for verb in ("assess", "report"):
        assert off not in before[verb] and off in after[verb], verb
    assert "REVIEW (clock)" in after["assess"] and "REVIEW (clock)" not in before["assess"]

