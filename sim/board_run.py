# The micropython engine: run a co-simulation inside the micropython binary,
# the firmware on the interpreter that flies, its flash a littlefs image file.
#
#   micropython -m sim.board_run CONFIG.json
#
# CONFIG (written by sim/run.py): {"scenario": {...validated dict...},
# "profile": hex, "key": hex, "image": path, "table": path or null,
# "seed": int}. Prints "progress T END" lines while it runs and one
# "result {json}" line at the end.
import binascii
import json
import sys

from sim import flashdev
from sim.cosim import TABLE_COLUMNS, CoSim


def main(path):
    with open(path) as f:
        cfg = json.load(f)
    root = flashdev.mount(cfg["image"], fresh=True)
    table = None
    if cfg.get("table"):
        table = open(cfg["table"], "w")
        table.write(",".join(TABLE_COLUMNS) + "\n")

    def progress(t, end):
        sys.stdout.write("progress %d %d\n" % (t, end))

    run = CoSim(cfg["scenario"], binascii.unhexlify(cfg["profile"]), root,
                binascii.unhexlify(cfg["key"]), seed=cfg.get("seed"), table=table)
    out = run.run(progress=progress, progress_every=cfg.get("progress_every", 86400))
    if table is not None:
        table.close()
    sys.stdout.write("result " + json.dumps(out) + "\n")


main(sys.argv[-1])
