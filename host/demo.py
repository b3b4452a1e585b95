"""`make demo`: what the project can do today, end to end, nothing faked.

1. the protocol's golden vectors on CPython and on the micropython binary;
2. the firmware's link server on the micropython binary, driven by the host's
   Link over a pipe: IDENTIFY, then the refusals a bench engineer meets
   (unknown request, wrong protocol version, unauthenticated state change);
3. a whole 10-day mission: the firmware inside the micropython binary, on a
   simulated container (sim/scenarios/nominal.toml at a 10 s tick), its log
   read out of the littlefs flash image and checked (CRC, MAC chain, no gap)
   on the host.
"""

from __future__ import annotations

import shutil
import sys

from rich.console import Console

from host import cli, selftest, upy
from host.errors import CommandError
from host.link import DeviceRefused, Link
from host.pipe import PipeTransport, spawn_stdio_device
from protocol import catalogue as c
from protocol import cobs, frame, log, message
from protocol.auth import Hmac
from sim import expect

OUT = upy.ROOT / "build" / "demo"
DEMO_KEY = bytes(range(32))  # a published test key: this log proves nothing

def main() -> int:
    con = Console()
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        con.rule("1. golden vectors")
        selftest.cmd_selftest(None, con)  # type: ignore[arg-type]
        con.rule("2. firmware link server on micropython")
        link_demo(con)
        con.rule("3. a 10-day mission: firmware on micropython, simulated container")
        mission_demo(con)
    except CommandError as e:
        con.print(f"[red]demo failed: {e}")
        return e.status
    con.print(f"\noutputs in {OUT}")
    return 0


def link_demo(con: Console) -> None:
    t = spawn_stdio_device("DEMO0001")
    try:
        link = Link(t)
        r = link.request(c.MSG_IDENTIFY)
        v = r["fw_version"]
        con.print(
            f"IDENTIFY -> device {r['device_id'].decode()} firmware "
            f"{v >> 16}.{v >> 8 & 255}.{v & 255} protocol v{r['protocol']} "
            f"log layout v{r['log_layout']} max payload {r['max_payload']} B"
        )
        for what, call in (
            ("LOG_INFO (not served yet)", lambda: link.request(c.MSG_LOG_INFO)),
            ("LOG_ERASE without auth", lambda: link.request(c.MSG_LOG_ERASE, 0)),
            ("LOG_ERASE, unknown key", lambda: link.request(
                c.MSG_LOG_ERASE, 0, hmac=Hmac(b"not the device key" * 2), counter=1)),
        ):
            try:
                call()
                con.print(f"{what} -> [red]accepted?")
            except DeviceRefused as e:
                con.print(f"{what} -> refused: {e}")
        # a frame from a future protocol version
        raw = bytes([2, c.MSG_STATUS, 0, 99, 0, 0, 0])
        raw += frame.crc32(raw).to_bytes(4, "little")
        t.write(b"\x00" + cobs.encode(raw) + b"\x00")
        for r2 in frame.Deframer().feed(_drain(t)):
            code, _t, detail = message.unpack(c.MSG_ERROR, True, r2.payload)
            con.print(f"protocol v2 frame -> ERROR {c.error_name(code)}, device speaks v{detail}")
    finally:
        t.close()


def _drain(t: PipeTransport) -> bytes:
    got = b""
    for _ in range(20):
        got += t.read(4096)
        if got.endswith(b"\x00"):
            break
    return got


def mission_demo(con: Console) -> None:
    from host import sim_cmds

    out = OUT / "nominal"
    args = ["sim", "run", "nominal", "--engine", "micropython", "--tick-s", "10", "-o", str(out)]
    con.print("podctl " + " ".join(args), highlight=False)
    parser = cli.build_parser()
    ns = parser.parse_args(args)
    sim_cmds.cmd_run(ns, con)
    data = (out / "log.bin").read_bytes()
    ok, text = expect.check({"expects": [{"kind": "log_intact"}], "faults": []},
                            {"alarms": {}, "battery_empty_s": None, "duration_s": 0},
                            data, (out / "key.bin").read_bytes())[0]
    if not ok:
        raise CommandError(text)
    con.print(f"{out / 'log.bin'}: {text}", highlight=False)


if __name__ == "__main__":
    sys.exit(main())
