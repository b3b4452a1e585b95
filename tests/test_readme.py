"""The README's "Use it from Python" example runs as written, on a
simulated mission pulled into build/pulled with its key in the keystore."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from podctl.cli import main
from podctl.keystore import Keystore

ROOT = Path(__file__).resolve().parents[1]


def _example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section has one Python example"
    return blocks[0]


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert main(["sim", "run", "nominal", "--tick-s", "60", "-o", str(run)]) == 0
    pulled = tmp_path / "build" / "pulled"
    pulled.mkdir(parents=True)
    for name in ("log.bin", "log.bin.manifest.json", "seal.bin"):
        shutil.copy(run / name, pulled / name)
    monkeypatch.setenv("PODCTL_KEYSTORE", str(tmp_path / "keys.json"))
    Keystore().add("SIM00001", (run / "key.bin").read_bytes())
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    exec(compile(_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "SIM00001 VERIFIED" in out
    assert re.search(
        r"\d+ samples, \d+ events, probe 0 between -?\d+\.\d\d and \d+\.\d\d degC", out
    )
