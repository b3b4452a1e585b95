"""Issue 13's attacks, generated: no tampering of a sealed pull by someone
without the device's key comes out VERIFIED (a sample here; make bench
plays every one: tamper_mutations, tamper_undetected)."""

from __future__ import annotations

from collections import Counter

import podctl
from tests.tamper import mutations


def test_no_tampering_is_verified(folder):
    key = (folder / "key.bin").read_bytes()
    assert podctl.verify(podctl.open_pulled(folder), key).status == "VERIFIED"
    kinds: Counter[str] = Counter()
    undetected = []
    for name, pulled in mutations(folder, every=9):
        kinds[name.split("-")[0]] += 1
        if podctl.verify(pulled, key).status == "VERIFIED":
            undetected.append(name)
    assert not undetected, undetected
    assert set(kinds) == {"truncate", "head", "drop", "duplicate", "swap", "flip", "seal"}
    assert sum(kinds.values()) > 100
