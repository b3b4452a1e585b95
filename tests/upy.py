"""Test helper: run code under the real micropython binary (see host.upy)."""

from host.upy import ROOT, Result, binary, micropypath, run

__all__ = ["ROOT", "Result", "binary", "micropypath", "run"]
