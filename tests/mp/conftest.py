"""Dual-interpreter tests.

Every test_*.py in this folder is written in the subset MicroPython runs
(plain asserts, no pytest imports, no fixtures). pytest runs each test
function on CPython as usual, and this plugin adds a twin item per function,
`name[micropython]`, that runs it under the real micropython binary.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import upy

HERE = Path(__file__).resolve().parent


class MicroPythonItem(pytest.Item):
    def __init__(self, *, module: str, function: str, **kw):
        super().__init__(**kw)
        self.module = module
        self.func_name = function

    def runtest(self) -> None:
        r = upy.run(HERE / "_runner.py", self.module, self.func_name, extra_path=(HERE,))
        if r.returncode != 0 or "PASS" not in r.stdout:
            raise MicroPythonFailure(r)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, MicroPythonFailure):
            r = excinfo.value.result
            return f"micropython exit {r.returncode}\n{r.stdout}{r.stderr}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.module}::{self.func_name}[micropython]"


class MicroPythonFailure(Exception):
    def __init__(self, result: upy.Result):
        super().__init__(result.stderr)
        self.result = result


class MicroPythonFile(pytest.File):
    def collect(self):
        tree = ast.parse(self.path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield MicroPythonItem.from_parent(
                    self,
                    name=f"{node.name}[micropython]",
                    module=self.path.stem,
                    function=node.name,
                )


def pytest_collect_file(parent, file_path: Path):
    if (
        file_path.parent == HERE
        and file_path.suffix == ".py"
        and file_path.name.startswith("test_")
    ):
        return MicroPythonFile.from_parent(parent, path=file_path)
    return None
