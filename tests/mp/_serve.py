# Serve a pod on stdin/stdout with the real clock (for tests/test_main_loop.py):
# micropython tests/mp/_serve.py
import sys
import time

sys.path.append(__file__[: __file__.rfind("/")] if "/" in __file__ else ".")
import _profiles
from _fakehal import FakeHal
from _support import flash

from firmware import storefile
from firmware.guard import Guard
from firmware.main import serve
from firmware.pod import Pod


class ClockHal(FakeHal):
    def uptime_ms(self):
        return time.ticks_ms()


root = flash()
storefile.write(root, "profile", _profiles.make([_profiles.phase(interval=1)]))
Guard(root).provision(b"POD00042", bytes(range(32)))
hal = ClockHal(root, 5000)
hal.noise = 20
pod = Pod(hal).boot()
why = serve(pod, sys.stdin.buffer, sys.stdout.buffer, sys.stdin)
sys.stderr.write("served: %s ticks %d feeds %d\n" % (why, pod.uptime, hal.feeds))
