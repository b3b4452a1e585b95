# Issue 15, F6: a long mission on the Pico's own filesystem. The firmware
# bundle (as podctl flash deploys it: .mpy files in /lib) on a fresh
# littlefs of the RPI_PICO geometry (352 blocks of 4 KiB, sim/flashdev.py),
# a profile with the overwrite policy and one-minute samples, and the
# unchanged firmware ticking a minute at a time for RECORDS records, with a
# clean power cycle every CYCLE records (the budget is derived again at
# each boot). Prints one JSON line: what was recorded, what the log holds,
# what the device says it dropped, and what was lost.
#   micropython tests/mp/_pico_mission.py IMAGE LIB_TREE RECORDS CYCLE BLOCKS SEGMENT LOG_OUT
# (BLOCKS: 352 is the Pico's; SEGMENT: the log's segment bytes, 0 for the
# firmware's 64 KiB. make test flies a smaller flash and segments, so the
# overwrite policy rolls within a short mission.)
import json
import os
import sys

sys.path.append(__file__[: __file__.rfind("/")])
import _profiles
from _fakehal import FakeHal

from firmware import storefile
from firmware.guard import Guard
from firmware.pod import Pod
from protocol import profile_bin as pf
from sim import flashdev

image, lib, records, cycle, blocks, segment, out = sys.argv[-7:]
records = int(records)
cycle = int(cycle)
root = flashdev.mount(image, fresh=True, num_blocks=int(blocks))
os.mkdir(root + "/lib")


def copy(src, dst):
    """The bundle's tree onto the image, folders and all."""
    for name in os.listdir(src):
        if os.stat(src + "/" + name)[0] & 0x4000:  # a folder
            os.mkdir(dst + "/" + name)
            copy(src + "/" + name, dst + "/" + name)
            continue
        with open(src + "/" + name, "rb") as f:
            data = f.read()
        with open(dst + "/" + name, "wb") as f:
            f.write(data)


copy(lib, root + "/lib")  # the deployed firmware takes its share of the flash
storefile.write(root, "profile", _profiles.make(
    [_profiles.phase(interval=60)], full_policy=pf.POLICY_OVERWRITE))
Guard(root).provision(b"POD00042", bytes(range(32)))
st = os.statvfs(root)
free_at_start = st[0] * st[3]

taken = 0
lost = 0
failed = 0
budgets = []
pod = None
while taken < records:
    hal = FakeHal(root, 5000)
    hal.noise = 20
    pod = Pod(hal)
    if int(segment):
        pod.store.segment_bytes = int(segment)  # before boot: open() derives the budget with it
    pod = pod.boot()
    budgets.append(pod.store.budget)
    n = min(cycle, records - taken)
    for _ in range(n):
        hal.now_ms += 60000
        pod.tick()
        pod.service()
        failed += pod.recorder.failed
    pod.flush()  # a clean power cycle (MAINTENANCE REBOOT seals the open block)
    taken += pod.recorder.records
    lost += pod.recorder.lost

# the log, for the host to count what it holds (in pieces: a whole log is
# more than the binary's heap)
buf = memoryview(bytearray(4096))
at = 0
with open(out, "wb") as f:
    while at < pod.store.size:
        n = pod.store.read_into(at, buf)
        f.write(buf[:n])
        at += n
st = os.statvfs(root)
print(json.dumps({
    "records": taken, "dropped": pod.store.dropped[2], "lost": lost,
    "failed_writes": failed, "budgets": budgets, "log_bytes": pod.store.size,
    "segments": len(pod.store.segments), "first_seq": pod.store.first(),
    "free_at_start": free_at_start, "free_at_end": st[0] * st[3],
    "head_dropped": pod.store.head_dropped(),
}))
