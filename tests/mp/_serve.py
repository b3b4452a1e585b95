# Serve a pod on stdin/stdout with the real clock (for tests/test_main_loop.py):
# micropython tests/mp/_serve.py
import sys
import time

sys.path.append(__file__[: __file__.rfind("/")] if "/" in __file__ else ".")
import _profiles
import _rig
from _fakehal import FakeHal

from firmware.main import serve


class ClockHal(FakeHal):
    def uptime_ms(self):
        return time.ticks_ms()


pod = _rig.pod(_profiles.make([_profiles.phase(interval=1)]), hal_cls=ClockHal)
hal = pod.hal
why = serve(pod, sys.stdin.buffer, sys.stdout.buffer, sys.stdin)
sys.stderr.write("served: %s ticks %d feeds %d\n" % (why, pod.uptime, hal.feeds))
