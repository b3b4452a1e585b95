"""Resets on the modelled Pico and the cause each boot logged (issue 16):
rp2hal_reboots_misreported, rp2hal_reboots_flown.

tests/mp/_rp2_reboots.py flies them on the micropython binary through the
unchanged firmware and rp2 HAL: the link's MAINTENANCE REBOOT, MAINTENANCE
REPL's maintenance boot and the reset out of it, podctl flash's recorded
reset, hangs (the watchdog not fed), a fault in the loop, power cuts, a
brown-out and a cut between the record and the reset; each firmware boot's
BOOT event (EV_BOOT.a, the reset cause) is read back from the log over the
link and set against what happened. misreported counts the boots whose
logged cause (or boot count) differs, and any boot missing or extra."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from sim import upy

HERE = Path(__file__).resolve().parent / "mp"


def fly(ignore_intent: bool = False) -> dict:
    """The run's result (tests/mp/_rp2_reboots.py); ignore_intent: the reset
    record deleted before each firmware boot, as firmware that did not read
    it would boot."""
    with tempfile.TemporaryDirectory() as d:
        args = ["flash.img"] + (["ignore"] if ignore_intent else [])
        r = upy.run(HERE / "_rp2_reboots.py", *args, extra_path=(HERE,), cwd=Path(d),
                    timeout=300)
    if r.returncode != 0:
        raise RuntimeError("tests/mp/_rp2_reboots.py failed: %s" % (r.stdout + r.stderr)[-800:])
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def figures() -> dict[str, float]:
    got = fly()
    return {"rp2hal_reboots_misreported": got["misreported"],
            "rp2hal_reboots_flown": got["boots"]}


if __name__ == "__main__":
    print(json.dumps(fly(), indent=1))
