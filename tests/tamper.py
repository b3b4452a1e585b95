"""Generated tampering of a sealed pull, as someone without the device's
key could do it to the pulled folder: cut, drop, duplicate, swap or alter
blocks of log.bin, rewrite every value of the manifest to match, alter or
remove seal.bin. Each mutation must keep the log from being VERIFIED.

  for name, pulled in mutations(folder, every=1): podctl.verify(pulled, keys)

tests/test_tamper.py runs a sample in make test; tests/bench.py runs them
all (tamper_mutations, tamper_undetected).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from podctl.blocks import walk
from podctl.pulled import Manifest, Pulled, open_pulled
from podctl.seal import Seal


def _with(p: Pulled, raw: bytes, seal: Seal | None | bool = True) -> Pulled:
    """p with log bytes raw and the manifest rewritten to match them, every
    value (size, hash, first and last block, last MAC): the sidecar is not
    authenticated, so an attacker rewrites it too."""
    assert p.manifest is not None
    m = Manifest.of_log(
        raw, device_id=p.manifest.device_id, fw_version=p.manifest.fw_version,
        fw_hash=p.manifest.fw_hash, profile_ident=p.manifest.profile_ident,
        source=p.manifest.source, anchor=p.manifest.anchor,
    )
    return Pulled(p.log_path, raw, m, p.manifest_path, p.profile,
                  p.seal if seal is True else (seal or None))


def mutations(folder: Path, every: int = 1, seed: int = 1) -> Iterator[tuple[str, Pulled]]:
    """Every kind of tampering at every block (or every `every`-th one)."""
    p = open_pulled(folder)
    assert p.seal is not None, "a sealed pull to tamper with"
    raw = p.raw
    blocks = [b for b in walk(raw)[0] if b.seq is not None]
    n = len(blocks)
    cuts = [b.offset for b in blocks] + [len(raw)]
    rng = random.Random(seed)

    def span(i: int) -> bytes:
        return raw[cuts[i] : cuts[i + 1]]

    for i in range(1, n, every):  # the tail cut at a block boundary
        yield f"truncate-at-block-{i}", _with(p, raw[: cuts[i]])
    for i in range(1, n, every):  # the head cut
        yield f"head-cut-{i}", _with(p, raw[cuts[i] :])
    for i in range(0, n, every):  # one block dropped
        yield f"drop-block-{i}", _with(p, raw[: cuts[i]] + raw[cuts[i + 1] :])
    for i in range(0, n, 2 * every):  # one block twice
        yield f"duplicate-block-{i}", _with(p, raw[: cuts[i + 1]] + span(i) + raw[cuts[i + 1] :])
    for i in range(0, n - 1, 2 * every):  # two neighbours swapped
        swapped = raw[: cuts[i]] + span(i + 1) + span(i) + raw[cuts[i + 2] :]
        yield f"swap-blocks-{i}-{i + 1}", _with(p, swapped)
    for k in range(0, 2 * n, every):  # one byte anywhere in the log
        at = rng.randrange(len(raw))
        flipped = bytearray(raw)
        flipped[at] ^= 1 << rng.randrange(8)
        yield f"flip-log-byte-{at}", _with(p, bytes(flipped))
    sealed = p.seal.to_bytes()
    for k in range(0, len(sealed) * 8, 2 * every):  # one bit of the seal
        bad = bytearray(sealed)
        bad[k // 8] ^= 1 << (k % 8)
        try:
            s = Seal.from_bytes(bytes(bad))
        except Exception:  # noqa: BLE001 a seal that does not even parse is refused on reading
            continue
        yield f"flip-seal-bit-{k}", replace(p, seal=s)
    yield "seal-removed", _with(p, raw, seal=False)
    for i in range(1, n, every):  # the tail cut and the seal removed with it
        yield f"truncate-at-block-{i}-unsealed", _with(p, raw[: cuts[i]], seal=False)
