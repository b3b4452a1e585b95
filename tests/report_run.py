"""A QA report built from a `podctl sim run -o DIR` folder (log.bin,
key.bin, the manifest beside the log), as `logs report` builds it, for the
report's tests; data: the log's decoded data changed by the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podctl import manifest
from podctl import report as rpt
from podctl.pulled import open_pulled
from podctl.report_cmd import load_profile
from podctl.verdict import verify

NOMINAL = Path("examples/profiles/nominal.toml")


def fly(tmp_path_factory: Any, scenario: str, tick_s: int) -> Path:
    """`podctl sim run SCENARIO --tick-s T -o DIR` into a fresh folder (a
    scenario file's path is named by its stem)."""
    from podctl.cli import main

    run = tmp_path_factory.mktemp(Path(scenario).stem)
    assert main(["sim", "run", scenario, "--tick-s", str(tick_s), "-o", str(run)]) == 0
    return run


def build(run: Path, data: Any = None, profile: Path = NOMINAL, **kw: Any) -> rpt.Report:
    log_path = run / "log.bin"
    pulled = open_pulled(log_path)
    verdict = verify(pulled, (run / "key.bin").read_bytes())
    m = manifest.read(manifest.beside(log_path))
    return rpt.build(pulled.data() if data is None else data, verdict,
                     load_profile(profile, log_path), m, **kw)
