"""make bench figures for issue 16's heap, qstrs and reset causes on the
modelled Pico (the lead registers the group; tests/bench.py is not ours):

  rp2hal_min_heap_kb_net     smallest heap (2 KiB steps) the day's mission
                             flies in with the rp2 HAL, the model's own bytes
                             given on top (tests/rp2_missions.py says how;
                             target 64, the simulator's HAL: 62)
  rp2hal_model_heap_kb       what the model took, given on top (its objects,
                             the qstr pools its names opened)
  rp2hal_qstrs               qstrs once the board's /main.py lines have run
                             and the firmware with the rp2 HAL is imported,
                             on the unix port (as fw_qstrs; pool step ~621)
  rp2hal_qstrs_board         the same less the machine API names rp2 has
                             built in
  rp2hal_model_qstrs         the qstrs the model adds after them
  rp2hal_reboots_flown       boots flown through every kind of reset
  rp2hal_reboots_misreported those whose BOOT event's cause differs from
                             what happened (target 0)

python -m tests.bench_rp2heap prints them (about 3 minutes on two cores:
the heap search flies the day five to seven times, two at once)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path


def figures() -> dict[str, float]:
    from tests import rp2_missions, rp2_reboots

    with tempfile.TemporaryDirectory() as d:
        heap = rp2_missions.heap_figures(Path(d))
    out: dict[str, float] = {}
    for k in ("rp2hal_min_heap_kb_net", "rp2hal_model_heap_kb", "rp2hal_qstrs",
              "rp2hal_qstrs_board", "rp2hal_model_qstrs"):
        v = heap.get(k)
        out[k] = float("nan") if v is None else float(v)
    out.update({k: float(v) for k, v in rp2_reboots.figures().items()})
    return out


if __name__ == "__main__":
    print(json.dumps(figures(), indent=1))
