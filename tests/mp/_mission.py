# A day-long mission of the whole firmware on a one-node plant, on a littlefs
# image file, for the heap-size test and make bench:
#   micropython [-X heapsize=64K] tests/mp/_mission.py IMAGE SECONDS PROFILE REQUESTS
# or imported from a ROMFS image (host/podctl/romfs.py), where argv is
# ['-c', IMAGE, SECONDS, PROFILE, REQUESTS]; prints one JSON line of figures.
# PROFILE is the profile's bytes, built by the test on the host as podctl
# builds one: the board never carries the host's named profile tables.
#
# REQUESTS holds the wire frames of a host that talks to the board every hour,
# as a crew watching it on the bench would: STATUS, LOG_INFO, a full-size
# LOG_READ, (four times a day) an authenticated TIME_SET and LOG_SEAL and, at
# hour 20, a profile upload, fed between ticks; the figures count what was
# served. The host made them (tests/test_firmware_heap.py): a host's memory
# is not the board's. An authenticated frame's tag covers the challenge of
# the STATUS before it (SPEC 4.1), which no one can know in advance: the host
# made those frames up to the tag (header, counter, payload: COBS-encoded in
# the file), and the mission, as the host, asks STATUS and signs them then,
# with the device's own link-key object (another would cost the board's heap
# a few hundred bytes that a real host keeps in its own).
#
# The figures are printed as a JSON list in the order of FIGURES (in
# tests/test_firmware_heap.py), and the mission's state lives in a function's
# locals: every global or dict key name is a qstr, and past about 620 qstrs
# the unix port adds a 7 KiB qstr pool, which a 64 KiB heap cannot spare.
import gc
import json
import sys
import time

if not __file__.startswith("/rom"):
    sys.path.append(__file__[: __file__.rfind("/")] if "/" in __file__ else ".")
from _fakehal import FakeHal, Plant

from firmware import commands, link, main, storefile  # noqa: F401 every module the board loads
from firmware.guard import Guard
from firmware.pod import Pod
from sim.flashdev import mount


def fly(image, seconds, profile, requests):
    from protocol import cobs  # the host's tools, as locals: a global is a qstr and a dict slot
    from protocol.frame import crc32

    gc.collect()
    code_bytes = gc.mem_alloc()  # modules loaded (in ROMFS: the objects they made)
    root = mount(image, fresh=True)
    with open(profile, "rb") as f:
        storefile.write(root, "profile", f.read())
    Guard(root).provision(b"POD00042", bytes(range(32)))
    # where each of the host's frames starts in its file; a frame is read
    # when it is sent, as bytes arrive over USB: the host's frames are not
    # the board's heap
    cuts = [0]
    with open(requests, "rb") as f:
        wire = f.read()
    while cuts[-1] < len(wire):
        cuts.append(wire.index(b"\x00", cuts[-1]) + 1)
    del wire

    def feed(k):
        # frames 0-2 are open and whole; from 3 on authenticated, up to the
        # tag (one function, not two: its name would be a qstr too many)
        if k > 2:
            feed(0)  # STATUS: its answer ends with the challenge (before tag and CRC)
            ch = cobs.decode(bytes(last[: sent[2] - 1]))[-28:-20]
        with open(requests, "rb") as f:
            f.seek(cuts[k])
            data = f.read(cuts[k + 1] - cuts[k])
        if k > 2:
            signed = cobs.decode(data[:-1])
            raw = signed + pod.guard.hmac.tag(signed, ch)
            raw += crc32(raw).to_bytes(4, "little")
            data = cobs.encode(raw) + b"\x00"
            signed = raw = ch = None
            gc.collect()  # the host's scratch, not the board's: freed before the board acts
        pod.link.feed(data)
    sent = [0, 0, 0]  # reply bytes, replies, the newest short reply's length
    # the newest short reply's wire bytes, copied into a buffer made once: a
    # copy per reply would be a KiB for a LOG_READ, and its size would vary
    # with the challenge's COBS overhead
    last = bytearray(128)

    def host_reads(data):
        n = len(data)
        sent[0] += n
        sent[1] += 1
        if n <= 128:
            last[:n] = data
            sent[2] = n

    hal = FakeHal(root, 15000)
    hal.noise = 20
    pod = Pod(hal).boot()
    pod.out = host_reads
    fed = 0
    plant = Plant(hal, 15.0, 20.0, tau=3000.0, k_heat=1e-5, k_cool=1e-5)
    tick_us = 0
    alloc = 0
    live = 0
    warmup = 120  # the first ticks open the first blocks: not steady state
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
        if s >= warmup:
            alloc += gc.mem_alloc() - a0
        gc.enable()
        pod.service()
        if s % 3600 == 1800:  # STATUS, LOG_INFO, LOG_READ; TIME_SET, LOG_SEAL every 6 h
            for k in range(3):
                feed(k)
                fed += 1
            if s % 21600 == 1800:
                feed(3 + s // 21600)
                feed(7 + s // 21600)
                fed += 4  # each with its STATUS
            if s // 3600 == 20:  # a new profile, mid-mission
                for k in range(11, len(cuts) - 1):
                    feed(k)
                    fed += 2
    gc.collect()
    live = max(live, gc.mem_alloc() - code_bytes)
    return [
        seconds, tick_us / seconds, alloc / (seconds - warmup), code_bytes, live,
        pod.recorder.records, pod.recorder.lost, pod.store.size,
        2000 <= pod.probes.estimate <= 8000,
        fed, pod.link.served, pod.link.refused, sent[1], sent[0],
        pod.profile.phases[1][2] == 6000,  # the uploaded orbit setpoint
    ]


print(json.dumps(fly(sys.argv[-4], int(sys.argv[-3]), sys.argv[-2], sys.argv[-1])))
