# tests/mp/_mission.py's day with the rp2 HAL on the modelled board: the
# whole firmware and firmware/hal/rp2.py, unchanged, on the micropython
# binary in a small heap (`-X heapsize=`), imported from a ROMFS image as a
# board with ROMFS runs it (tests/rp2_missions.py builds and runs it):
#   board lines, imports and the model (tests/rp2_missions.BOARD_IMPORTS),
#   then `import _rp2_mission` and _rp2_mission.run()
#   argv: ['-c', IMAGE, SECONDS, PROFILE, REQUESTS]; prints one JSON list of
#   figures, in the order of tests/rp2_missions.FIGURES.
#
# The model is not on the board, so it is loaded after the firmware and
# the HAL (imported on the unix port's machine, as rp2's is built in): the
# board lines install sim/rp2board, point the HAL at its machine and
# measure what that took (tests/rp2_missions.py says how it is kept out of
# the firmware's figures); this module comes after it.
#
# As on the board, the littlefs image is mounted at "/" (Rp2Hal.
# storage_root() is ""), after the host's files (the profile, the request
# frames: a file kept open, read as the frames are sent) are taken. The
# plant is _mission.py's one node, read through the NTC dividers and the
# mux (the probes alternate a code or two apart, as _mission.py's noise, so
# none reads stuck), the heater and Peltier from the board's PWMs; the
# BME280 and LIS3DH hold still; the board's clock moves a second a tick
# less the tick's own bus traffic, as the serve loop waits.
#
# The mission's state lives in a function's locals, as in _mission.py:
# every global or dict key name is a qstr.
import gc
import json
import sys

from firmware import commands, link, main, storefile  # noqa: F401 every module the board loads
from firmware.guard import Guard
from firmware.pod import Pod
from sim.flashdev import device


def fly(image, seconds, profile, requests):
    import os

    import vfs

    from firmware.hal.rp2 import Rp2Hal
    from protocol import cobs
    from protocol.frame import crc32
    from sim.rp2board import board as _board

    gc.collect()
    code_bytes = gc.mem_alloc()  # modules loaded, the model made
    with open(profile, "rb") as f:
        prof = f.read()
    req = open(requests, "rb")  # noqa: SIM115 the host's frames: open before "/" is the image
    wire = req.read()
    cuts = [0]
    while cuts[-1] < len(wire):
        cuts.append(wire.index(b"\x00", cuts[-1]) + 1)
    del wire
    bd = device(image, True)
    vfs.umount("/")
    vfs.mount(vfs.VfsLfs2(bd), "/")
    os.chdir("/")
    storefile.write("", "profile", prof)
    del prof
    Guard("").provision(b"POD00042", bytes(range(32)))

    def feed(k):
        if k > 2:
            feed(0)
            ch = cobs.decode(bytes(last[: sent[2] - 1]))[-28:-20]
        req.seek(cuts[k])
        data = req.read(cuts[k + 1] - cuts[k])
        if k > 2:
            signed = cobs.decode(data[:-1])
            raw = signed + pod.guard.hmac.tag(signed, ch)
            raw += crc32(raw).to_bytes(4, "little")
            data = cobs.encode(raw) + b"\x00"
            signed = raw = ch = None
            gc.collect()
        pod.link.feed(data)

    sent = [0, 0, 0]
    last = bytearray(128)

    def host_reads(data):
        n = len(data)
        sent[0] += n
        sent[1] += 1
        if n <= 128:
            last[:n] = data
            sent[2] = n

    b = _board.current
    b.set_env(20.0, 101325.0, 45.0)
    u0 = b.now_us
    gc.collect()
    h0 = gc.mem_alloc()
    hal = Rp2Hal()
    gc.collect()
    h0 = gc.mem_alloc() - h0  # the HAL with the model's machine objects it made
    pod = Pod(hal).boot()
    skew = b.now_us - u0  # the boot's traffic: the ticks keep to its grid
    pod.out = host_reads
    fed = 0
    temp = 15.0  # _mission.py's plant: tau 3000 s, 1e-5 K/s per permille
    ambient = 20.0
    alloc = 0
    live = 0
    feeds = 0
    warmup = 120
    for s in range(seconds):
        temp += (ambient - temp) / 3000.0 + 1e-5 * (b.heater_permille() - b.peltier_permille())
        ambient = 20.0 + 15.0 * ((s // 2700) & 1)
        d = 0.02 if s & 1 else -0.02
        for p in range(4):
            b.set_probe_c(p, temp + d * (1 + (p & 1)))
        b.advance_us((s + 1) * 1000000 + skew - b.now_us)
        if s % 3600 == 0:
            gc.collect()
            live = max(live, gc.mem_alloc() - code_bytes)
        gc.disable()
        a0 = gc.mem_alloc()
        ran = pod.tick()
        if s >= warmup:
            alloc += gc.mem_alloc() - a0
        gc.enable()
        if ran:
            pod.service()
            hal.feed_watchdog()
            feeds += 1
        if s % 3600 == 1800:
            for k in range(3):
                feed(k)
                fed += 1
            if s % 21600 == 1800:
                feed(3 + s // 21600)
                feed(7 + s // 21600)
                fed += 4
            if s // 3600 == 20:
                for k in range(11, len(cuts) - 1):
                    feed(k)
                    fed += 2
    gc.collect()
    live = max(live, gc.mem_alloc() - code_bytes)
    return [
        seconds, feeds, alloc / (seconds - warmup), code_bytes, live,
        pod.recorder.records, pod.recorder.lost, pod.store.size,
        2000 <= pod.probes.estimate <= 8000,
        fed, pod.link.served, pod.link.refused, sent[1], sent[0],
        pod.profile.phases[1][2] == 6000,
        len(b.resets), pod.probes.good, pod.alarms.latched, h0,
    ]


def run():
    print(json.dumps(fly(sys.argv[-4], int(sys.argv[-3]), sys.argv[-2], sys.argv[-1])))
