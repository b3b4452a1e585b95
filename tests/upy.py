"""Test helper: run code under the real micropython binary (see sim.upy)."""

from sim.upy import ROOT, Result, binary, micropypath, run

__all__ = ["ROOT", "Result", "binary", "micropypath", "run"]
