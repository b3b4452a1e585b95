# The board's serve loop (firmware.main.serve) on the real clock, for the
# flood figures (tests/bench.py group flood): the host floods stdin with
# frames nobody holding the key sent, as fast as the board takes them, and
# reads the replies. At the end of input it prints, on stderr, one JSON line:
# the ticks run, the longest gap between two (the control tick's lateness),
# the refusals and how the log recorded them.
#   micropython tests/mp/_flood_serve.py
import json
import sys
import time

sys.path.append(__file__[: __file__.rfind("/")] if "/" in __file__ else ".")
import _profiles
import _rig
from _fakehal import FakeHal

from firmware.main import serve


class ClockHal(FakeHal):
    """The real clock; each watchdog feed (one per healthy tick) timed."""

    def __init__(self, root, temp):
        super().__init__(root, temp)
        self.last = None
        self.gap = 0

    def uptime_ms(self):
        return time.ticks_ms()

    def feed_watchdog(self):
        now = time.ticks_ms()
        if self.last is not None:
            self.gap = max(self.gap, time.ticks_diff(now, self.last))
        self.last = now
        self.feeds += 1


pod = _rig.pod(_profiles.make([_profiles.phase(interval=1)]), hal_cls=ClockHal)
hal = pod.hal
why = serve(pod, sys.stdin.buffer, sys.stdout.buffer, sys.stdin)
pod.flush()
sys.stderr.write(json.dumps({
    "why": why, "ticks": pod.uptime, "feeds": hal.feeds, "max_gap_ms": hal.gap,
    "refused": pod.link.refused, "noise": pod.link.noise, "log_bytes": pod.store.size,
    "events_lost": pod.events.lost,
}) + "\n")
