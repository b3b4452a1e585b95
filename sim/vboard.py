# The virtual board, inside the micropython binary: a simulated container
# around whatever firmware is on its flash image, on a pseudo-terminal.
#
#   micropython -i sim/vboard.py CONFIG.json     (started by `podctl board`)
#
# Like a real board: its flash (a littlefs image file) is mounted at "/", so
# what mpremote copies lands in the image, never in the host's folders; the
# firmware is what `podctl flash` put in the bundle slot its /main.py names
# (/lib/bundle_a or /lib/bundle_b, host/podctl/bundle.py SLOTS), else in
# /lib (a bundle of the layout before the slots); the link and the REPL share
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
from sim.container import RESET_POWER_ON, Container

REBOOT_EXIT = 75


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
        self.box = Container(sc, cfg.get("seed", sc["seed"]), "")  # the image is mounted at "/"
        self.box.on_boot = self._wire
        self.end = int(sc["duration_s"])
        self.t = 0  # mission seconds

    @property
    def pod(self):
        return self.box.pod

    def boot(self, cause):
        """Start the firmware on the image (None if there is none)."""
        try:
            return self.box.boot(cause)
        except ImportError:
            return None

    def _wire(self, pod):
        pod.out = self._write

    def _write(self, data):
        out = sys.stdout.buffer
        out.write(data)
        if hasattr(out, "flush"):
            out.flush()

    def step(self):
        """One virtual second of the container, and of the board if it is up."""
        self.t += 1
        t = self.t
        self.box.step(t, 1)
        if t % 60 == 0:
            # ground truth for whoever checks the board's log afterwards
            # % rather than an f-string: this runs on MicroPython
            sys.stderr.write(
                "truth %d %.4f %d\n"  # noqa: UP031
                % (t, self.box.plant.t_payload, 1 if self.pod is not None else 0)
            )

    def status(self):
        """One line on stderr for the supervisor (stderr is a host file,
        not the board's filesystem or its link)."""
        pod = self.pod
        sys.stderr.write("status " + json.dumps({
            "t": self.t,
            "end": self.end,
            "board_on": pod is not None,
            "payload_c": self.box.plant.t_payload,
            "battery_soc": self.box.battery.soc,
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
                if n and pod is not None and self.box.faults.link_down(self.t):
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


def _bundle_slot():
    """The bundle slot the image's /main.py puts first on the path, as the
    board's /main.py does (its line as host/podctl/bundle.py SLOT_LINE
    writes it), or None."""
    try:
        with open("/main.py") as f:
            text = f.read()
    except OSError:
        return None
    for slot in ("/lib/bundle_a", "/lib/bundle_b"):
        if ('sys.path.insert(0, "%s")' % slot) in text:
            return slot
    return None


def main(path):
    with open(path) as f:
        cfg = json.load(f)
    board = Board(cfg)
    # the flash replaces the host's filesystem: mount it at "/"
    import os

    import vfs

    # the device first: once "/" is the image, the host's files are gone
    bd = flashdev.device(cfg["image"], cfg.get("fresh", False))
    vfs.umount("/")
    vfs.mount(vfs.VfsLfs2(bd), "/")
    os.chdir("/")
    sys.path[:] = ["", "/lib", ".frozen"]
    slot = _bundle_slot()
    if slot is not None:
        sys.path.insert(0, slot)
    pod = board.boot(RESET_POWER_ON)
    if pod is None:
        sys.stdout.write("podctl virtual board: no firmware on the flash image; at the REPL\r\n")
        return
    why = board.run()
    if why == "reboot":
        sys.exit(REBOOT_EXIT)


main(sys.argv[-1])
