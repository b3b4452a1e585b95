"""`podctl selftest`: the protocol's golden vectors on both interpreters.

Checks that this machine's CPython codec and the firmware's codec on the real
micropython binary produce and read the committed golden bytes — the same
check CI runs, here for a bench engineer whose install is in doubt.
"""

from __future__ import annotations

import argparse
import json
import time

from rich.console import Console

from podctl.cli_common import examples
from podctl.errors import CheckFailed
from sim import upy

# Runs on either interpreter: prints one line per vector group, exits 1 on
# the first mismatch (with the vector's name).
_CHECK = r"""
import binascii, json, sys
from protocol import frame, message, log, catalogue as c
from protocol.auth import Hmac
from protocol.keys import LINK, LOG, derive
h = binascii.unhexlify
g = json.load(open(sys.argv[-1]))
key = h(g["key"])
if derive(key, LINK) != h(g["link_key"]) or derive(key, LOG) != h(g["log_key"]):
    print("MISMATCH key derivation"); sys.exit(1)
mac = Hmac(h(g["link_key"]))
logmac = Hmac(h(g["log_key"]))
def values(v):
    out = []
    for f, x in zip(c.fields(v["type"], v["reply"]), v["fields"]):
        out.append(h(x) if f[1].endswith("s") or f[1] == "*" else x)
    return out
for v in g["frames"]:
    p = message.pack(v["type"], v["reply"], *values(v))
    auth = v["counter"] is not None
    x = h(v["extra"])
    w = frame.encode(v["type"], v["seq"], p, v["flags"], v["counter"] or 0,
                     mac if auth else None, x)
    if binascii.hexlify(w).decode() != v["wire"]:
        print("MISMATCH encode", v["name"]); sys.exit(1)
    f = frame.Deframer().feed(w)
    if len(f) != 1 or f[0].payload != p or (auth and not f[0].verify(mac, x)):
        print("MISMATCH decode", v["name"]); sys.exit(1)
print("frames", len(g["frames"]))
for v in g["bad_streams"]:
    got = []
    for r in frame.Deframer().feed(h(v["stream"])):
        got.append(["frame", r.type, r.seq] if isinstance(r, frame.Frame)
                   else ["reject", r.reason(), r.detail])
    if got != v["expect"]:
        print("MISMATCH bad stream", v["name"], got); sys.exit(1)
print("bad_streams", len(g["bad_streams"]))
for v in g["log_blocks"]:
    d = h(v["block"])
    b = log.parse_block(d, 0)
    if not isinstance(b, log.Block) or (
        log.block_mac(logmac, h(v["prev_mac"]), d, b.length) != b.mac(d)
    ):
        print("MISMATCH block", v["name"]); sys.exit(1)
print("log_blocks", len(g["log_blocks"]))
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "selftest",
        help="check the protocol's golden vectors on CPython and MicroPython",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples("podctl selftest"),
    )
    p.set_defaults(run=cmd_selftest)


def cmd_selftest(args: argparse.Namespace, console: Console) -> int:
    vectors = upy.ROOT / "protocol" / "vectors" / "golden.json"
    if not vectors.exists():
        raise CheckFailed(f"golden vectors missing at {vectors}: reinstall podctl")
    counts = {k: len(v) for k, v in json.loads(vectors.read_text()).items()
              if not k.endswith("key")}
    console.print(f"golden vectors: {vectors} ({counts})")
    failed = False
    for name, runner in (("CPython", _run_cpython), ("MicroPython", _run_micropython)):
        t = time.perf_counter()
        ok, out = runner(vectors)
        ms = (time.perf_counter() - t) * 1000
        mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
        console.print(f"  {name:<12} {mark}  {out.strip().splitlines()[-1] if out.strip() else ''}"
                      f"  ({ms:.0f} ms)")
        failed |= not ok
    if failed:
        raise CheckFailed("golden vectors do not match on every interpreter")
    return 0


def _run_cpython(vectors) -> tuple[bool, str]:
    r = upy.run_cpython(_CHECK, str(vectors))
    return r.returncode == 0, r.stdout + r.stderr


def _run_micropython(vectors) -> tuple[bool, str]:
    try:
        r = upy.run(_CHECK, str(vectors))
    except FileNotFoundError as e:
        raise CheckFailed(str(e)) from None
    return r.returncode == 0, r.stdout + r.stderr
