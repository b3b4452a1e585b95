# A day-long mission of the whole firmware on a one-node plant, on a littlefs
# image file, for the heap-size test and make bench:
#   micropython [-X heapsize=64K] tests/mp/_mission.py IMAGE SECONDS PROFILE
# or imported from a ROMFS image (host/romfs.py), where argv is
# ['-c', IMAGE, SECONDS, PROFILE]; prints one JSON line of figures. PROFILE is
# the profile's bytes, built by the test on the host as podctl builds one:
# the board never carries the host's named profile tables.
import gc
import json
import sys
import time

if not __file__.startswith("/rom"):
    sys.path.append(__file__[: __file__.rfind("/")] if "/" in __file__ else ".")
from _fakehal import FakeHal, Plant
from sim.flashdev import mount

from firmware import storefile
from firmware.guard import Guard
from firmware.pod import Pod

from firmware import commands, link, main  # every module the board loads

image, seconds, profile = sys.argv[-3], int(sys.argv[-2]), sys.argv[-1]
gc.collect()
code_bytes = gc.mem_alloc()  # modules loaded: what freezing puts in flash
root = mount(image, fresh=True)
with open(profile, "rb") as f:
    storefile.write(root, "profile", f.read())
Guard(root).provision(b"POD00042", bytes(range(32)))
hal = FakeHal(root, 15000)
hal.noise = 20
pod = Pod(hal).boot()
plant = Plant(hal, 15.0, 20.0, tau=3000.0, k_heat=1e-5, k_cool=1e-5)
tick_us = 0
alloc = 0
ticks = 0
live = 0
WARMUP = 120  # the first ticks open the first blocks: not steady state
for s in range(seconds):
    hal.now_ms += 1000
    plant.step()
    plant.ambient = 20.0 + 15.0 * ((s // 2700) & 1)  # orbit day / night
    if s % 3600 == 0:
        gc.collect()
        live = max(live, gc.mem_alloc() - code_bytes)
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    pod.tick()
    tick_us += time.ticks_diff(time.ticks_us(), t0)
    if s >= WARMUP:
        alloc += gc.mem_alloc() - a0
    gc.enable()
    ticks += 1
    pod.service()
gc.collect()
live = max(live, gc.mem_alloc() - code_bytes)
print(json.dumps({
    "ticks": ticks,
    "tick_us": tick_us / ticks,
    "alloc_bytes_per_tick": alloc / (ticks - WARMUP),
    "code_bytes": code_bytes,
    "data_bytes": live,
    "records": pod.recorder.records,
    "lost": pod.recorder.lost,
    "log_bytes": pod.store.size,
    "in_band": 2000 <= pod.probes.estimate <= 8000,
}))
