# The virtual board, inside the micropython binary: a simulated container
# around whatever firmware is on its flash image, on a pseudo-terminal.
#
#   micropython -i sim/vboard.py CONFIG.json     (started by `podctl board`)
#
# Like a real board: its flash (a littlefs image file) is mounted at "/", so
# what mpremote copies lands in the image, never in the host's folders; the
# firmware is what `podctl flash` put in /lib; the link and the REPL share
# stdin/stdout (the pty). With no firmware on the image it waits at the REPL
# like a blank board. The simulator (sim/) is loaded from the host before the
# image is mounted; it imports nothing of firmware/, so the firmware that runs
# is the image's, not the checkout's.
#
# Time: the simulator's virtual clock runs at `speed` times real time (0 =
# as fast as the simulator goes); between virtual seconds the link is served.
# MAINTENANCE REPL ends the loop and the binary's -i REPL takes over (mpremote
# `resume` drives it); MAINTENANCE REBOOT exits with REBOOT_EXIT and the host
# supervisor starts the process again on the same image: a power cycle.
#
# CONFIG: {"scenario": {...validated...}, "image": path, "speed": float,
#          "seed": int, "fresh": bool}
# Progress goes to stderr as "status {json}" lines every 10 virtual minutes.
import json
import sys
import time

from sim import flashdev
from sim.environment import Timeline
from sim.faults import FaultSchedule
from sim.plant import Plant
from sim.power import Battery
from sim.rng import Rng
from sim.sensors import Sensors
from sim.simhal import SimHal

REBOOT_EXIT = 75
RESET_POWER_ON = 1  # protocol.log.RESET_*: the firmware's own numbers
RESET_WATCHDOG = 2
RESET_BROWNOUT = 4
CAUSES = {"power_on": 1, "watchdog": 2, "soft": 3, "brownout": 4}


def _kbd_intr(c):
    try:
        import micropython

        micropython.kbd_intr(c)
    except (ImportError, AttributeError):
        pass


class Board:
    def __init__(self, cfg):
        sc = cfg["scenario"]
        self.sc = sc
        self.speed = float(cfg.get("speed", 1.0))
        self.tick_s = 1
        self.plant = Plant(sc["container"])
        self.battery = Battery(sc["power"])
        self.sensors = Sensors(sc["sensors"], Rng(cfg.get("seed", sc["seed"])))
        self.timeline = Timeline(sc["phases"])
        self.faults = FaultSchedule(sc["faults"])
        self.end = int(sc["duration_s"])
        self.t = 0  # mission seconds
        self.hal = SimHal(self.sensors, self.battery, "")  # the image is mounted at "/"
        self.pod = None
        self.down_until = -1

    def boot(self, cause):
        """Start the firmware on the image (None if there is none)."""
        try:
            from firmware.pod import Pod
        except ImportError:
            return None
        self.hal.now_ms = 0
        self.hal.cause = cause
        pod = Pod(self.hal).boot()
        pod.out = self._write
        self.pod = pod
        return pod

    def _write(self, data):
        out = sys.stdout.buffer
        out.write(data)
        if hasattr(out, "flush"):
            out.flush()

    def step(self):
        """One virtual second of the container, and of the board if it is up."""
        t = self.t + 1
        self.t = t
        idx, env = self.timeline.at(t)
        for f in self.faults.due(t, self.plant, self.sensors):
            self._fault(f, t)
        pod = self.pod
        hal = self.hal
        if pod is not None:
            self.plant.step(1, hal.heater_cmd, hal.peltier_cmd, env)
            self.battery.step(1, self.plant.heater_w + self.plant.peltier_w)
            if self.battery.empty:
                self.pod = pod = None  # the board dies with its RAM
        else:
            self.plant.step(1, 0, 0, env)
        self.sensors.step(t, 1, self.plant, env)
        if pod is None and 0 <= self.down_until <= t and not self.battery.empty:
            self.down_until = -1
            pod = self.boot(RESET_BROWNOUT)
        if pod is not None:
            hal.now_ms += 1000
            if pod.tick():
                pod.service()
                hal.feed_watchdog()
        if t % 60 == 0:
            # ground truth for whoever checks the board's log afterwards
            sys.stderr.write("truth %d %.4f %d\n" % (t, self.plant.t_payload, 1 if pod is not None else 0))

    def _fault(self, f, t):
        if f.kind == "reset" and self.pod is not None:
            self.pod = None
            self.boot(CAUSES.get(f.cause, RESET_WATCHDOG))
        elif f.kind == "brownout":
            self.pod = None
            self.down_until = t + int(f.duration_s)
        elif f.kind == "storage_full" and self.pod is not None:
            self.pod.store.budget = self.pod.store.size

    def status(self):
        """One line on stderr for the supervisor (stderr is a host file,
        not the board's filesystem or its link)."""
        pod = self.pod
        sys.stderr.write("status " + json.dumps({
            "t": self.t,
            "end": self.end,
            "board_on": pod is not None,
            "payload_c": self.plant.t_payload,
            "battery_soc": self.battery.soc,
        }) + "\n")

    def run(self):
        """Serve the link and run the clock. Returns "repl" or "reboot"."""
        import select

        from firmware.main import read_link  # the firmware's own, from the image

        inp = sys.stdin.buffer
        poll = select.poll()
        poll.register(sys.stdin, select.POLLIN)
        one = bytearray(1)
        chunk = bytearray(256)
        start = time.ticks_ms()
        done = 0  # virtual seconds run since start
        last_status = -1
        _kbd_intr(-1)
        try:
            while True:
                pod = self.pod
                # virtual seconds due by now
                if self.speed > 0:
                    due = int(time.ticks_diff(time.ticks_ms(), start) * self.speed / 1000)
                    wait = 0 if due > done else max(1, int((done + 1 - due) * 1000 / self.speed))
                    wait = min(wait, 50)
                else:
                    due = done + 1
                    wait = 0
                n = read_link(poll, inp, one, chunk, wait)
                if n < 0:
                    return "eof"
                if n and pod is not None and self.faults.link_down(self.t):
                    n = 0  # a link-loss fault: the bytes never arrive
                if n and pod is not None:
                    pod.link.feed(bytes(chunk[:n]))
                    why = pod.maintenance_due()
                    if why:
                        return why
                steps = 0
                while done < due and steps < 2000:
                    self.step()
                    done += 1
                    steps += 1
                if self.t >= self.end and self.speed != 1.0:
                    # handed over: the container sits in the lab in real
                    # time, logging, while the crew pulls its log
                    self.speed = 1.0
                    start = time.ticks_ms()
                    done = 0
                if self.t // 600 != last_status:
                    last_status = self.t // 600
                    self.status()
        finally:
            _kbd_intr(3)


def main(path):
    with open(path) as f:
        cfg = json.load(f)
    board = Board(cfg)
    # the flash replaces the host's filesystem: mount it at "/"
    import os
    import vfs

    image = cfg["image"]
    fresh = cfg.get("fresh", False)
    try:
        os.stat(image)
    except OSError:
        fresh = True
    bd = None
    if fresh:
        erased = b"\xff" * flashdev.BLOCK_SIZE
        with open(image, "wb") as f:
            for _ in range(flashdev.BLOCK_COUNT):
                f.write(erased)
    bd = flashdev.FileBlockDev(image)
    if fresh:
        vfs.VfsLfs2.mkfs(bd)
    vfs.umount("/")
    vfs.mount(vfs.VfsLfs2(bd), "/")
    os.chdir("/")
    sys.path[:] = ["", "/lib", ".frozen"]
    pod = board.boot(RESET_POWER_ON)
    if pod is None:
        sys.stdout.write("podctl virtual board: no firmware on the flash image; at the REPL\r\n")
        return
    why = board.run()
    if why == "reboot":
        sys.exit(REBOOT_EXIT)


main(sys.argv[-1])
