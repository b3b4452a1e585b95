"""Fly the unchanged firmware forward from a container's given state.

    summary = fly_from(sc, profile_bytes, start, seed)

`start` is plain data (what a pulled log says of the container's end):
    payload_c, air_c       the payload estimate and the air probe, degC
    soc                    battery state of charge, 0..1
    phase, phase_s         the profile's phase index and seconds into it
    mission_s, out_s       mission seconds and cumulative out-of-band seconds
    alarms                 the latched alarm bits

The battery is the one sc["power"] describes: the forecast's model with
the pack it was told (podctl.forecast_pack: chemistry, cells, capacity),
so a LiFePO4 container flies on LiFePO4's curve; `soc` is its charge.

Everything is set from outside on the objects sim.cosim builds (no hook
inside the runner, so every existing seed flies byte for byte as before):
the plant's nodes and the battery's charge are written, and the firmware is
given the mission state it saves itself (firmware/pod.py MISSION_FMT) and
rebooted, so it resumes that phase, its time and its alarms exactly as it
does after a watchdog reset on the board. The simulator's clock starts at 0:
every time in the summary is seconds after the start.

CPython only (the forecast runs on the host).
"""

from __future__ import annotations

import struct
import tempfile
from typing import Any

from firmware import storefile
from firmware.pod import MISSION_FMT
from sim.container import RESET_WATCHDOG
from sim.cosim import CoSim
from sim.run import sim_key


def start_sim(sc: dict[str, Any], profile: bytes, start: dict[str, Any], seed: int,
              root: str) -> CoSim:
    """A CoSim in `root` whose container and firmware are at `start`."""
    run = CoSim(sc, profile, root, sim_key(seed), seed=seed)
    box = run.box
    plant = box.plant
    payload = float(start["payload_c"])
    air = float(start.get("air_c", payload))
    _, env = box.timeline.at(0)
    # the PCM sits next to the payload; the wall halfway between the air and
    # the outside (the two wall conductances are equal in the reference build)
    plant.set_temperatures(payload)
    plant.t_air = air
    plant.t_wall = (air + env.ambient_c) / 2.0
    bat = box.battery
    soc = min(1.0, max(0.0, float(start["soc"])))
    bat.used_ah = (1.0 - soc) * bat.capacity_ah
    bat._ocv = bat.ocv(bat.soc)
    bat.voltage_mv = int(bat._ocv * 1000)
    state = struct.pack(
        MISSION_FMT, run.profile.crc, int(start["phase"]), 0, int(start.get("alarms", 0)),
        int(start["phase_s"]), int(start.get("mission_s", 0)), int(start.get("out_s", 0)),
    )
    storefile.write(root, "mission", state)
    box.down()
    box.boot(RESET_WATCHDOG)
    return run


def fly_from(sc: dict[str, Any], profile: bytes, start: dict[str, Any], seed: int) -> dict:
    """The run's summary (sim.cosim.CoSim.summary), times from the start."""
    with tempfile.TemporaryDirectory(prefix="podfc") as d:
        run = start_sim(sc, profile, start, seed, d)
        return run.run()
