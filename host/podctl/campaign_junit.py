"""JUnit XML for CI: one test case per expectation per run, so a CI system
shows a scenario's failing expectation like a failing test.

    <testsuites name="podctl sim" tests=".." failures=".." errors="..">
      <testsuite name="nominal" tests=".." failures=".." errors="..">
        <testcase classname="podctl.sim.nominal" name="nominal seed 7: no_alarm high">
          <failure message="alarm high raised at 3.1 h (expected none)" type="expectation"/>

The failure message is the expectation's own line (sim/expect.py); a run
that could not fly gives each of its expectations an <error> with the
run's error. Written atomically (a temporary name, then a rename).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    scenario: str
    seed: int
    label: str
    ok: bool | None  # None: the run did not fly (an error)
    line: str
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.scenario} seed {self.seed}: {self.label}"


def from_checks(
    scenario: str, seed: int, labels: list[str], checks: list[tuple[bool, str]], seconds: float
) -> list[Case]:
    """A lone run's cases (podctl sim run)."""
    share = seconds / len(checks) if checks else 0.0
    return [Case(scenario, seed, lab, ok, line, share)
            for lab, (ok, line) in zip(labels, checks)]


def from_row(scenario: str, row: dict[str, Any], labels: list[str]) -> list[Case]:
    """A campaign run's cases, from its row."""
    share = (row.get("run_s") or 0.0) / len(labels) if labels else 0.0
    out = []
    for lab in labels:
        ok = None if row["error"] is not None else bool(row[f"expect.{lab}"])
        line = row["error"] if ok is None else row[f"expect.{lab}.line"]
        out.append(Case(scenario, row["seed"], lab, ok, line or "", share))
    return out


def document(suite: str, cases: list[Case]) -> ET.ElementTree:
    failures = sum(1 for c in cases if c.ok is False)
    errors = sum(1 for c in cases if c.ok is None)
    total = sum(c.seconds for c in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors),
              "time": f"{total:.3f}"}
    root = ET.Element("testsuites", {"name": "podctl sim", **counts})
    ts = ET.SubElement(root, "testsuite", {"name": suite, "skipped": "0", **counts})
    for c in cases:
        tc = ET.SubElement(ts, "testcase", {
            "classname": f"podctl.sim.{c.scenario}", "name": c.name, "time": f"{c.seconds:.3f}",
        })
        if c.ok is False:
            ET.SubElement(tc, "failure", {"message": c.line, "type": "expectation"}).text = c.line
        elif c.ok is None:
            ET.SubElement(tc, "error", {"message": c.line, "type": "run"}).text = c.line
    ET.indent(root)
    return ET.ElementTree(root)


def write(path: Path, suite: str, cases: list[Case]) -> None:
    """Write the XML; OSError if the path cannot be written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    document(suite, cases).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
