"""`make demo`: what the project can do today, end to end, nothing faked.

1. the protocol's golden vectors on CPython and on the micropython binary;
2. the firmware's link server on the micropython binary, driven by the host's
   Link over a pipe: IDENTIFY, then the refusals a bench engineer meets
   (unknown request, wrong protocol version, unauthenticated state change);
3. a log written through the firmware's log store on the micropython binary,
   read back and checked (CRC and MAC chain) on the host.

The whole-mission demo (virtual board, simulator, report) replaces this as
the firmware, simulator and host issues land.
"""

from __future__ import annotations

import shutil
import sys

from rich.console import Console

from host import selftest, upy
from host.errors import CommandError
from host.link import DeviceRefused, Link
from host.pipe import PipeTransport, spawn_stdio_device
from protocol import catalogue as c
from protocol import cobs, frame, log, message
from protocol.auth import Hmac

OUT = upy.ROOT / "build" / "demo"
DEMO_KEY = bytes(range(32))  # a published test key: this log proves nothing

# Runs on the micropython binary: 6 hours of 1-minute samples of a slowly
# warming payload, written as chained blocks to the file named on the line.
_WRITE_LOG = r"""
import sys
from firmware.logstore import LogStore
from protocol import log
from protocol.auth import Hmac
mac = Hmac(bytes(range(32)))
w = log.BlockWriter()
store = LogStore(sys.argv[-1], 1 << 20).open()
def flush():
    store.append(w.block, w.seal(store.next_seq, 1, mac, store.last_mac))
w.start_events()
w.add_event(0, log.EV_BOOT, log.RESET_POWER_ON, 1, 0x000100)
flush()
vals = [500, 505, 498, 502, 450, 10130, 0, 20, 3700]
w.start_samples(60, 60, vals, 0x02)
for i in range(1, 360):
    v = [vals[0] + i // 4, vals[1] + i // 4, vals[2] + i // 5, vals[3] + i // 4,
         450, 10130, 0, 20, 3700 - i // 3]
    if not w.add_sample(v, 0x02):
        flush()
        w.start_samples(60 + i * 60, 60, v, 0x02)
flush()
sys.stdout.write(str(store.size))
"""


def main() -> int:
    con = Console()
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        con.rule("1. golden vectors")
        selftest.cmd_selftest(None, con)  # type: ignore[arg-type]
        con.rule("2. firmware link server on micropython")
        link_demo(con)
        con.rule("3. a log written on micropython, checked on the host")
        log_demo(con)
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


def log_demo(con: Console) -> None:
    root = OUT / "flash"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    r = upy.run(_WRITE_LOG, str(root))
    if r.returncode != 0:
        raise CommandError(f"micropython log writer failed: {r.stderr.strip()}")
    # the log is its segments, oldest first (firmware/logstore.py)
    data = b"".join(p.read_bytes() for p in sorted((root / "log").iterdir()))
    path = OUT / "demo.podlog"
    path.write_bytes(data)
    mac = Hmac(DEMO_KEY)
    prev = log.GENESIS_MAC
    at = samples = events = blocks = 0
    lo, hi = 1 << 15, -(1 << 15)
    while at < len(data):
        blk = log.parse_block(data, at)
        if not isinstance(blk, log.Block):
            raise CommandError(f"block at byte {at}: {blk}")
        if log.block_mac(mac, prev, memoryview(data)[at:], blk.length) != blk.mac(data):
            raise CommandError(f"block {blk.seq}: MAC chain broken")
        prev = blk.mac(data)
        blocks += 1
        if blk.kind == log.KIND_SAMPLES:
            for _t, vals, _st in log.samples(data, blk):
                samples += 1
                lo, hi = min(lo, vals[0]), max(hi, vals[0])
        else:
            events += len(log.events(data, blk))
        at += blk.size
    con.print(
        f"{path.name}: {len(data)} bytes, {blocks} blocks, {samples} samples, {events} events; "
        f"CRC and MAC chain good; probe0 {lo / 100:.2f}..{hi / 100:.2f} degC; "
        f"{len(data) / samples:.2f} bytes per sample record"
    )


if __name__ == "__main__":
    sys.exit(main())
