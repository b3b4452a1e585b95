# Whole missions in closed loop through the unchanged rp2 HAL on the
# modelled board (issue 16), on the real micropython binary.
#
#   micropython -m sim.rp2board.fly CONFIG.json        the board side
#   fly(sc, profile, ...) -> sim.run.Result              CPython: the driver
#   compare(sc, profile, ...) -> dict                    rp2 HAL against SimHal
#   soak_figures() -> {"rp2hal_..._soak": ...}           the SOAK scenarios
#
# The board side, as a board would run: the model installed (machine and
# time on the board's clock), a fresh littlefs image of the Pico's geometry
# (sim/flashdev.py) mounted at "/" where Rp2Hal.storage_root() says the
# filesystem is (the simulator and the firmware loaded from the host first,
# as sim/vboard.py does), a key provisioned and the profile stored as podctl
# flash leaves them (as sim/cosim.py does), then Rp2Hal() and Pod(hal).boot()
# and the loop of firmware/main.py's serve: Coupling.step (the plant on the
# board's PWM duties, the sensors into registers and ADC codes, the board's
# clock on), pod.tick(), and after a tick that ran pod.service() and
# hal.feed_watchdog(). A board.BoardReset (the watchdog not fed in time)
# reboots the board (board.reboot()) and boots the Pod again on the same
# image. The scenario's runner faults: reset (watchdog and soft: a watchdog
# reset, as machine.reset() is on rp2; power_on and brownout: a power
# cycle), brownout (the board off for its duration, then a power-on reset:
# the RP2040's brown-out detector is a power-on reset, so the boot logs
# POWER_ON where the simulator's HAL says BROWNOUT), storage_full; link_loss
# has no link here. A flat battery ends the board as in sim/container.py.
# After a reset the firmware's first tick comes a step after its boot (its
# clock starts there), where the simulator's HAL ticks in the boot's step:
# a record or so later. Rp2Hal.simulated() is False (the board itself), so
# the log's BOOT events and its seal carry no SIMULATED mark.
#
# The tick: the board ticks at most every FW_MAX_S seconds. rp2's watchdog
# cannot wait longer than 8.388 s and the HAL starts it at 8 s, fed only
# after a healthy tick, so a 10 s tick would be a watchdog reset at every
# tick: a scenario tick longer than FW_MAX_S is flown as equal board steps
# of at most FW_MAX_S (10 s: two steps of 5 s, the plant with them).
#
# What the run adds to CoSim's summary, under "rp2": the HAL chain's
# errors against what the simulator's sensors gave at that instant (probe
# readings through the NTC divider, E11 and the 12-bit ADC; humidity and
# pressure through the BME280; the pack through the GP27 divider; the PWM
# duties against the commands), the estimate's error against the true
# payload temperature, the watchdog's resets, and (measure_alloc) the heap
# the tick allocates.
#
# Plain code for MicroPython (the board side) and CPython (the driver,
# whose imports are in its functions).
import sys

from firmware import storefile
from firmware.guard import Guard
from protocol import catalogue as cat
from protocol import profile as pf
from sim.container import Container
from sim.cosim import CoSim, PhaseStats
from sim.rp2board import board as _board
from sim.rp2board.couple import Coupling as _Coupling

FW_MAX_S = 5
WARMUP_TICKS = 120  # after a boot: the first blocks open, not steady state
ENGINE = "rp2hal"
# the flight's heap: the binary's collections sweep all of it, and
# gc.mem_alloc() (the tick's allocation, measured at every tick) scans its
# table, so a small heap flies faster; 512 KiB holds the flight
HEAP = "512K"
_MPY = sys.implementation.name == "micropython"


class Errs:
    """count, mean, rms and the largest magnitude of a series."""

    def __init__(self):
        self.n = 0
        self.s = 0.0
        self.s2 = 0.0
        self.lo = 0.0
        self.hi = 0.0

    def add(self, v):
        if not self.n or v < self.lo:
            self.lo = v
        if not self.n or v > self.hi:
            self.hi = v
        self.n += 1
        self.s += v
        self.s2 += v * v

    def out(self, scale=1.0):
        if not self.n:
            return {"n": 0}
        m = self.s / self.n
        return {
            "n": self.n,
            "mean": m * scale,
            "rms": (self.s2 / self.n) ** 0.5 * scale,
            "min": self.lo * scale,
            "max": self.hi * scale,
            "max_abs": max(-self.lo, self.hi) * scale,
        }


class Coupling(_Coupling):
    """couple.Coupling whose push ends at the board time end_us when the
    box sets it: the firmware's bus traffic in a tick (each I2C transfer and
    ADC conversion moves the board's clock) comes out of the wait before
    the next tick, as firmware/main.py's serve waits for the next second of
    uptime, instead of adding to every step (at a 5 s step the board's clock
    gained about 2 s in 20 min on the mission's, and its samples drifted
    off the simulator's grid)."""

    end_us = None

    def push(self, env, dt_s):
        end = self.end_us
        if end is None:
            _Coupling.push(self, env, dt_s)
            return
        _Coupling.push(self, env, max(0, end - self.board.now_us) / 1000000)
        if end > self.board.now_us:  # push moves whole ms: the rest in us
            self.board.advance_us(end - self.board.now_us)


class Rp2Box(Container):
    """sim/container.py's container with the modelled board in place of
    SimHal: the same plant, battery, sensors, timeline and faults, stepped
    through couple.Coupling; CoSim's loop drives it as it drives a
    Container."""

    def __init__(self, sc, seed, measure_alloc=False, fw_max_s=FW_MAX_S):
        Container.__init__(self, sc, seed, "")  # the image is mounted at "/"
        self.fw_max_s = fw_max_s
        self.board = _board.new()
        self.coupling = Coupling(self.board, self)
        self.measure = measure_alloc
        self.off_s = 0  # seconds the board has been without power
        self.boots = 0
        self.wdt_resets = 0  # resets the watchdog made (not a fault's)
        self.since_boot = 0
        # the tick's heap: bytes in steady state, ticks that allocated, the
        # largest, ticks measured
        self.alloc = [0, 0, 0, 0]
        self.err_probe = Errs()  # rp2 reading - the sensor's, mdegC
        self.err_probe_worst = [0.0, 0.0]  # (sensor mdegC, error) at the worst
        self.err_rh = Errs()  # permille
        self.err_p = Errs()  # 0.1 hPa
        self.err_batt = Errs()  # mV
        self.err_heater = Errs()  # board permille - commanded
        self.err_peltier = Errs()
        self.err_est = Errs()  # estimate - true payload, mdegC
        self.probe_failed_wrongly = 0  # the firmware's fail bit on a working probe
        self.shock_max = 0
        self.board_tick_s = 0
        self.skew_us = 0  # the board's clock ahead of the mission's: the boots' traffic
        self.bus = Errs()  # board time a tick and its service take (bus traffic), us

    # -- power and resets ------------------------------------------------------

    def boot(self, cause=None):
        """Start the firmware on the board: the cause is the board's own
        (reset_cause()); RAM is new, the image is what it was."""
        from firmware.hal.rp2 import Rp2Hal
        from firmware.pod import Pod

        u0 = self.board.now_us
        hal = Rp2Hal()
        pod = Pod(hal).boot()
        # the boot's own bus traffic: the firmware counts its seconds from
        # here, and the steps keep to its grid (as the serve loop's do)
        self.skew_us += self.board.now_us - u0
        if self.storage_full:
            pod.store.budget = pod.store.size
        self.hal = hal
        self.pod = pod
        self.boots += 1
        self.since_boot = 0
        return pod

    def down(self):
        """Power lost: the board stops where it is, RAM gone; its outputs
        are off from here (the plant is stepped with 0 duties) until power
        returns and power_cycle() resets every pin."""
        self.pod = None
        self.off_s = 0

    def _reset_board(self, why, end_us=None, env=None):
        """The MCU reset (a BoardReset caught, or a reset fault's): reboot
        it on the same image and boot the firmware. end_us: the board time
        the interrupted step was to reach (the rest runs after the reset)."""
        b = self.board
        self.pod = None
        b.reboot()
        if end_us is not None and b.now_us < end_us:
            if env is not None:
                b.set_accel(0.0, 0.0, env.accel_mg / 1000.0)
            b.advance_us(end_us - b.now_us)  # no watchdog runs after a reset
        self.boot()

    def _fault(self, f, t):
        k = f.kind
        if k == "reset":
            if self.pod is not None:
                self.resets.append([t, f.cause])
                b = self.board
                if f.cause in ("power_on", "brownout"):
                    self.pod = None
                    b.power_cycle(0)
                    self.boot()
                else:  # watchdog, soft: both are a watchdog reboot on rp2
                    try:
                        b.reset(_board.WDT_RESET)
                    except _board.BoardReset:
                        pass
                    self._reset_board(f.cause)
        else:  # brownout, storage_full as the container does; link_loss: no link
            Container._fault(self, f, t)

    # -- the mission -----------------------------------------------------------

    def step(self, t, dt):
        n = 1
        while dt > self.fw_max_s * n:
            n += 1
        h = dt // n if dt % n == 0 else dt / n
        self.board_tick_s = h
        idx = 0
        for k in range(n):
            idx = self._step(t - dt + h * (k + 1) if k < n - 1 else t, h)
        return idx

    def _step(self, t, dt):
        if self.pod is None:
            return self._off(t, dt)
        b = self.board
        # the board's clock keeps to the mission's: 0 at the first boot,
        # the time without power added by power_cycle(), the boots' own
        # traffic (skew_us) on top
        end_us = int(t * 1000000) + self.skew_us
        self.coupling.end_us = end_us
        try:
            idx = self.coupling.step(t, dt)
        except _board.BoardReset:
            idx, env = self.timeline.at(t)
            self.wdt_resets += 1
            self.resets.append([t, "watchdog"])
            self._reset_board("watchdog", end_us, env)
        for f in self.coupling.runner_faults:
            self._fault(f, t)
        if self.battery.empty:
            self.empty_at = t
            self.down()
            return idx
        pod = self.pod
        if pod is None:
            return idx  # a brownout fault took it
        t0 = b.now_us
        try:
            self._tick(pod, t)
            self.bus.add(b.now_us - t0)
        except _board.BoardReset:
            self.wdt_resets += 1
            self.resets.append([t, "watchdog"])
            self._reset_board("watchdog")
        return idx

    def _off(self, t, dt):
        idx, env = self.timeline.at(t)
        for f in self.faults.due(t, self.plant, self.sensors):
            self._fault(f, t)
        self.plant.step(dt, 0, 0, env)
        self.sensors.step(t, dt, self.plant, env)
        self.off_s += dt
        if 0 <= self.down_until <= t and not self.battery.empty:
            self.down_until = -1
            self.resets.append([t, "brownout"])
            self.board.power_cycle(int(self.off_s * 1000))
            self.boot()
        return idx

    def _tick(self, pod, t):
        self.since_boot += 1
        if self.measure:
            import gc

            gc.disable()
            a0 = gc.mem_alloc()
            ran = pod.tick()
            a = gc.mem_alloc() - a0
            gc.enable()
            if self.since_boot > WARMUP_TICKS:
                m = self.alloc
                m[3] += 1
                if a:
                    m[0] += a
                    m[1] += 1
                    if a > m[2]:
                        m[2] = a
        else:
            ran = pod.tick()
        self.ticks += 1
        if ran:
            pod.service()
            self.hal.feed_watchdog()
            self._compare(pod)

    def _compare(self, pod):
        """The firmware's view through the rp2 HAL against what SimHal
        would have handed it at this instant (the values Coupling.push put
        on the board)."""
        c = self.coupling
        pr = pod.probes
        sens = self.sensors.probes
        for p in range(4):
            ok = sens[p].state == 0 or sens[p].state == 3  # working or stuck
            if pr.failed >> p & 1:
                if ok and -40000 <= c._probe[p] <= 85000:
                    self.probe_failed_wrongly += 1
                continue
            if ok:
                e = pr.reading[p] - c._probe[p]
                if abs(e) > max(-self.err_probe.lo, self.err_probe.hi):
                    self.err_probe_worst[0] = c._probe[p]
                    self.err_probe_worst[1] = e
                self.err_probe.add(e)
        if pr.count:
            self.err_est.add(pr.estimate - self.plant.t_payload * 1000.0)
        if not pod.env_failed and not self.sensors.env_failed:
            self.err_rh.add(pod.env[0] - c._env[0])
            self.err_p.add(pod.env[1] - c._env[1])
        self.err_batt.add(pod.battery - self.battery.voltage_mv)
        b = self.board
        ctl = pod.control
        self.err_heater.add(b.heater_permille() - ctl.heater)
        self.err_peltier.add(b.peltier_permille() - ctl.peltier)


class Rp2Flight(CoSim):
    """sim/cosim.py's CoSim with the rp2 HAL on the modelled board: the
    same loop, statistics, commands, seal and summary."""

    def __init__(self, sc, profile_bytes, key, device_id=b"SIM00001", seed=None,
                 table=None, table_every=60, measure_alloc=False, fw_max_s=FW_MAX_S):
        self.sc = sc
        self.tick_s = sc["tick_s"]
        self.duration_s = int(sc["duration_s"])
        self.seed = sc["seed"] if seed is None else seed
        self.box = Rp2Box(sc, self.seed, measure_alloc, fw_max_s)
        self.root = ""
        # provisioned and the profile stored, as podctl flash leaves a board
        Guard("").provision(device_id, key)
        storefile.write("", "profile", profile_bytes)
        prof = pf.check(profile_bytes)
        if not isinstance(prof, pf.Profile):
            raise ValueError("profile refused by the firmware's check: %r" % (prof,))
        self.profile = prof
        self.phases = [
            PhaseStats(prof.phase_name(i), ph[pf.P_BAND_LOW] / 1000.0,
                       ph[pf.P_BAND_HIGH] / 1000.0, ph[pf.P_EVENT_S])
            for i, ph in enumerate(prof.phases)
        ]
        self.table = table
        self.table_every = table_every
        self.t = 0
        self.fw_phase = 0
        self.alarms = {}
        self.probe_faults = {}
        self._good = 0xF
        self.device_id = device_id
        self.start_utc = sc.get("start_utc", 0)
        from protocol.auth import Hmac
        from protocol.keys import LINK, derive

        self._hmac = Hmac(derive(key, LINK))
        self._counter = 0
        self.seal = None
        self.box.boot()
        self.command(cat.MSG_TIME_SET, self.start_utc)

    def _row(self, t, idx):
        box = self.box
        pod = box.pod
        plant = box.plant
        b = box.board
        if pod is not None:
            r = pod.probes.reading
            probes = "%.3f,%.3f,%.3f,%.3f,%.3f" % (
                r[0] / 1000, r[1] / 1000, r[2] / 1000, r[3] / 1000, pod.probes.estimate / 1000)
        else:
            probes = ",,,,"
        self.table.write("%d,%d,%d,%.4f,%.4f,%.4f,%s,%d,%d,%.3f,%.3f,%d,%.4f,%d\n" % (
            t, idx, self.fw_phase, plant.t_payload, plant.t_air, plant.t_wall, probes,
            b.heater_permille() if pod is not None else 0,
            b.peltier_permille() if pod is not None else 0,
            plant.heater_w, plant.peltier_w, box.battery.voltage_mv, box.battery.soc,
            1 if pod is not None else 0))

    def summary(self):
        out = CoSim.summary(self)
        box = self.box
        b = box.board
        m = box.alloc
        out["rp2"] = {
            "board_tick_s": box.board_tick_s,
            "boots": box.boots,
            "board_resets": [[us // 1000000, cause] for us, cause in b.resets],
            "watchdog_resets": box.wdt_resets,
            "watchdog_feeds": b.wdt_feeds,
            "alloc_bytes": m[0],
            "alloc_ticks": m[1],
            "alloc_max": m[2],
            "alloc_measured_ticks": m[3],
            "probe_err_mdegc": box.err_probe.out(),
            "probe_err_worst": box.err_probe_worst,
            "probe_failed_wrongly": box.probe_failed_wrongly,
            "estimate_err_mdegc": box.err_est.out(),
            "humidity_err_permille": box.err_rh.out(),
            "pressure_err_dhpa": box.err_p.out(),
            "battery_err_mv": box.err_batt.out(),
            "heater_err_permille": box.err_heater.out(),
            "peltier_err_permille": box.err_peltier.out(),
            "i2c_transfers": b.i2c_transfers,
            "tick_bus_us": box.bus.out(),
            "board_ahead_us": b.now_us - int(self.t * 1000000),
            "boot_skew_us": box.skew_us,
            "adc_reads": b.adc_reads,
            "lost": box.pod.recorder.lost if box.pod is not None else None,
        }
        return out


# -- the board side: micropython -m sim.rp2board.fly CONFIG.json ---------------


def _preload():
    """Everything the firmware and the flight import later, loaded while the
    host's filesystem is still "/" (after the mount, "/" is the image)."""
    import array  # noqa: F401
    import hashlib  # noqa: F401
    import math  # noqa: F401
    import struct  # noqa: F401

    import firmware.commands  # noqa: F401
    import firmware.hal.rp2  # noqa: F401
    import firmware.link  # noqa: F401
    import firmware.pod  # noqa: F401
    import firmware.ram  # noqa: F401
    import protocol.auth  # noqa: F401
    import protocol.catalogue  # noqa: F401
    import protocol.frame  # noqa: F401
    import protocol.keys  # noqa: F401
    import protocol.message  # noqa: F401
    import protocol.wire  # noqa: F401


def main(path):
    import binascii
    import json
    import os
    import time as wall  # the host's clock (the board's replaces `time` below)

    with open(path) as f:
        cfg = json.load(f)
    _board.install(with_time=True)
    _preload()
    table = None
    if cfg.get("table"):
        from sim.cosim import TABLE_COLUMNS

        table = open(cfg["table"], "w")
        table.write(",".join(TABLE_COLUMNS) + "\n")
    if _MPY:
        import vfs

        from sim import flashdev

        bd = flashdev.device(cfg["image"], True)  # before "/" is the image
        vfs.umount("/")
        vfs.mount(vfs.VfsLfs2(bd), "/")
        os.chdir("/")
        sys.path[:] = ["", "/lib", ".frozen"]

    def progress(t, end):
        sys.stdout.write("progress %d %d\n" % (t, end))

    t0 = wall.ticks_ms()
    run = Rp2Flight(cfg["scenario"], binascii.unhexlify(cfg["profile"]),
                    binascii.unhexlify(cfg["key"]), seed=cfg.get("seed"), table=table,
                    measure_alloc=cfg.get("measure_alloc", False),
                    fw_max_s=cfg.get("fw_max_s", FW_MAX_S))
    out = run.run(progress=progress, progress_every=cfg.get("progress_every", 86400))
    out["rp2"]["wall_s"] = wall.ticks_diff(wall.ticks_ms(), t0) / 1000
    if table is not None:
        table.close()
    sys.stdout.write("result " + json.dumps(out) + "\n")


# -- the driver (CPython) ------------------------------------------------------


def fly(sc, profile, seed=None, table=None, progress=None, progress_every=86400,
        verify_log=None, measure_alloc=True, heapsize=HEAP, timeout=None, fw_max_s=FW_MAX_S):
    """One mission through the rp2 HAL on the micropython binary: a
    sim.run.Result (engine "rp2hal") whose checks are the scenario's
    expectations, as `podctl sim run` gives them. verify_log as sim.run's
    (podctl.verdict.log_intact). fw_max_s: the longest board step (FW_MAX_S)."""
    import binascii
    import json
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    from sim import expect, flashimage, upy
    from sim import run as simrun

    seed = sc["seed"] if seed is None else seed
    key = simrun.sim_key(seed)
    with tempfile.TemporaryDirectory(prefix="rp2fly") as d:
        cfg = {
            "scenario": sc,
            "profile": binascii.hexlify(profile).decode(),
            "key": binascii.hexlify(key).decode(),
            "image": str(Path(d) / "flash.img"),
            "table": str(table) if table is not None else None,
            "seed": seed,
            "progress_every": progress_every,
            "measure_alloc": measure_alloc,
            "fw_max_s": fw_max_s,
        }
        conf = Path(d) / "run.json"
        conf.write_text(json.dumps(cfg))
        env = dict(os.environ, MICROPYPATH=upy.micropypath())
        proc = subprocess.Popen(
            [upy.binary(), "-X", "heapsize=" + heapsize, "-m", "sim.rp2board.fly", str(conf)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=d)
        summary = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("progress ") and progress is not None:
                t, end = line.split()[1:3]
                progress(int(t), int(end))
            elif line.startswith("result "):
                summary = json.loads(line[7:])
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait(timeout) != 0 or summary is None:
            last = err.strip().splitlines()[-1] if err.strip() else "exit %d" % proc.returncode
            raise simrun.RunError("rp2 HAL flight failed: " + last + "\n" + err[-2000:])
        image = Path(cfg["image"]).read_bytes()
    log = flashimage.log_bytes(image)
    res = simrun.Result(ENGINE, summary, image, log, key, table=table)
    res.checks = expect.check(sc, summary, log, key, verify_log)
    return res


def board_tick(tick_s):
    """The board's step for a scenario tick (see FW_MAX_S)."""
    n = 1
    while tick_s > FW_MAX_S * n:
        n += 1
    return tick_s // n if tick_s % n == 0 else tick_s / n


def fly_simhal(sc, profile, seed=None, verify_log=None):
    """The same mission through the simulator's own HAL (CPython engine),
    with the estimate's error against the true payload temperature
    measured as the rp2 flight measures it: a sim.run.Result whose summary
    has "simhal": {"estimate_err_mdegc": ...}."""
    import tempfile
    from pathlib import Path

    from sim import expect, flashimage
    from sim import run as simrun

    seed = sc["seed"] if seed is None else seed
    key = simrun.sim_key(seed)
    with tempfile.TemporaryDirectory(prefix="simhal") as d:
        sim = CoSim(sc, profile, d, key, seed=seed)
        box = sim.box
        est = Errs()
        step = box.step

        def measured(t, dt):
            idx = step(t, dt)
            pod = box.pod
            if pod is not None and pod.probes.count:
                est.add(pod.probes.estimate - box.plant.t_payload * 1000.0)
            return idx

        box.step = measured
        summary = sim.run()
        summary["simhal"] = {"estimate_err_mdegc": est.out()}
        image = flashimage.build(Path(d))
    log = flashimage.log_bytes(image)
    res = simrun.Result("cpython", summary, image, log, key)
    res.checks = expect.check(sc, summary, log, key, verify_log)
    return res


def scenario(name, tick_s=None, hours=None):
    """A named scenario and its profile's bytes, as `podctl sim run` loads
    them; hours: only the mission's first hours (expectations kept)."""
    from podctl.sim_cmds import load_run_inputs

    sc, prof = load_run_inputs(name, tick_s)
    if hours is not None:
        sc["duration_s"] = min(int(sc["duration_s"]), int(hours * 3600))
    return sc, prof


def first_day_expects(sc):
    """The expectations a mission cut short can be held to: the band, no
    excursion and no alarm that must never come hold for any stretch; an
    alarm that must come (lid at handover, shock at splashdown) and the
    battery's are judged on the whole mission."""
    keep = ("in_band", "no_excursion", "no_alarm", "no_probe_fault", "log_intact")
    return [e for e in sc["expects"] if e["kind"] in keep]


def compare(sc, profile, seed=None, verify_log=None):
    """The mission through both HALs at the board's tick (board_tick:
    the simulator's HAL flies the same steps, so both draw the same
    noise): what differs, as plain data."""
    from concurrent.futures import ThreadPoolExecutor

    sc = dict(sc)
    sc["tick_s"] = board_tick(sc["tick_s"])
    with ThreadPoolExecutor(1) as pool:  # the micropython flight on the other core
        job = pool.submit(fly, sc, profile, seed=seed, verify_log=verify_log)
        s = fly_simhal(sc, profile, seed=seed, verify_log=verify_log)
        a = job.result()
    ra, rs = a.summary, s.summary
    keys = ("in_band_percent", "worst_outside_c", "alarms", "probe_faults", "records",
            "log_bytes", "energy_wh", "battery_soc", "resets", "ticks")
    return {
        "scenario": sc["name"],
        "tick_s": sc["tick_s"],
        "duration_s": sc["duration_s"],
        "rp2hal": {k: ra.get(k) for k in keys},
        "simhal": {k: rs.get(k) for k in keys},
        "rp2hal_checks": a.checks,
        "simhal_checks": s.checks,
        "estimate_err_mdegc": {"rp2hal": ra["rp2"]["estimate_err_mdegc"],
                               "simhal": rs["simhal"]["estimate_err_mdegc"]},
        "rp2_chain": ra["rp2"],
        "log": log_differences(a.log, s.log),
        "boot_events": [boot_events(a.log), boot_events(s.log)],
        "phases": [(p["name"], round(p["min_c"] or 0, 3), round(p["max_c"] or 0, 3),
                    round(q["min_c"] or 0, 3), round(q["max_c"] or 0, 3))
                   for p, q in zip(ra["phases"], rs["phases"], strict=False)],
    }


def log_differences(rp2_log, sim_log):
    """The two logs as podctl decodes them, record by record (same boot and
    second): per channel, the rp2 log's value less the simulator HAL's
    (mean, largest magnitude, in the channel's unit), and the records only
    one of them has."""
    import numpy as np

    from podctl import logdata
    from protocol import log as layout

    a = logdata.load(rp2_log).samples
    b = logdata.load(sim_log).samples
    ka = {(int(r["boot"]), int(r["t"])): i for i, r in enumerate(a)}
    kb = {(int(r["boot"]), int(r["t"])): i for i, r in enumerate(b)}
    both = sorted(set(ka) & set(kb))
    ia = np.array([ka[k] for k in both], dtype=int)
    ib = np.array([kb[k] for k in both], dtype=int)
    out = {"records": [len(a), len(b)], "only_rp2": len(set(ka) - set(kb)),
           "only_simhal": len(set(kb) - set(ka))}
    for name, *_ in layout.CHANNELS:
        d = a[name][ia] - b[name][ib]
        d = d[~np.isnan(d)]
        out[name] = ({"mean": round(float(d.mean()), 4), "max_abs": round(float(abs(d).max()), 4)}
                     if len(d) else None)
    return out


def boot_events(raw):
    """(boot, t, reset cause) of each BOOT event in a log."""
    from podctl import logdata

    return [(e.boot, e.t, e.a) for e in logdata.load(raw).events if e.name == "BOOT"]


SOAK = ("nominal", "return-slip", "heater-failure", "reset-reentry")


def soak_figures(tick_s=1, names=SOAK):
    """The scenarios (SOAK) at full length through the rp2 HAL, two at a
    time: {"rp2hal_missions_soak": 4, "rp2hal_mission_failures_soak": 0,
    ...}. A failure is a failed expectation, a log that does not verify,
    a lost record, a watchdog reset the scenario did not make, or a tick
    that allocated. heater-failure: the heater dies at 56 h and the band
    must hold on the Peltier; reset-reentry: a watchdog reset in re-entry
    and a brown-out at splashdown (fault resets are the scenario's, not
    counted as the watchdog's).

    At the scenarios' own 1 s tick (864,000 and 1,117,200 board steps for
    nominal and return-slip, each under a millisecond on an idle core: the
    tick's 35 I2C transfers and 45 ADC reads through the model, the
    LIS3DH's FIFO at 400 Hz) the first two take 16 and 20 min side by side;
    tick_s=10 (5 s board steps) about 3 min an idle pair (heater-failure and
    reset-reentry took 9.5 min side by side on a loaded machine, both held
    the band 100 %, probes within 0.05 K of the sensors, nothing lost).
    """
    from concurrent.futures import ThreadPoolExecutor

    from podctl.verdict import log_intact

    def one(name):
        sc, prof = scenario(name, tick_s)
        return name, fly(sc, prof, verify_log=log_intact, timeout=None)

    out = {"rp2hal_missions_soak": 0, "rp2hal_mission_failures_soak": 0}
    with ThreadPoolExecutor(2) as pool:
        for name, res in pool.map(one, names):
            key = name.replace("-", "_")
            r = res.summary["rp2"]
            intact = log_intact(res.log, res.key)[0]
            failed = (not res.passed or not intact or r["lost"] or r["watchdog_resets"]
                      or r["alloc_bytes"])
            out["rp2hal_missions_soak"] += 1
            out["rp2hal_mission_failures_soak"] += 1 if failed else 0
            if failed:  # what failed, for whoever reads make soak's output
                why = [text for ok, text in res.checks if not ok]
                sys.stderr.write("rp2hal soak %s failed: %s lost %s, watchdog resets %s,"
                                 " tick alloc %s bytes\n" % (name, why, r["lost"],
                                                              r["watchdog_resets"],
                                                              r["alloc_bytes"]))
            out["rp2hal_%s_in_band_percent_soak" % key] = round(res.summary["in_band_percent"], 3)
            out["rp2hal_%s_watchdog_resets_soak" % key] = r["watchdog_resets"]
            out["rp2hal_%s_records_lost_soak" % key] = r["lost"]
            out["rp2hal_%s_tick_alloc_bytes_soak" % key] = r["alloc_bytes"]
            out["rp2hal_%s_probe_err_max_mdegc_soak" % key] = r["probe_err_mdegc"].get("max_abs")
            out["rp2hal_%s_wall_s_soak" % key] = r["wall_s"]
    return out


if __name__ == "__main__":
    main(sys.argv[-1])
