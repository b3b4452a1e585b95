# `time` on the modelled board's clock (sim/rp2board/board.py). With
# sim/rp2board/ first on MICROPYPATH it replaces the unix port's time for
# everything in the process (board.install(with_time=True) does it through
# sys.modules instead); on CPython the built-in time always wins, so there it
# is only sim.rp2board.time.
#
# ticks_ms/us/cpu count from the board's last boot and wrap at 2**30 as on
# rp2; sleep, sleep_ms and sleep_us move the board's clock (so a watchdog
# can fire during a sleep, raising board.BoardReset); time() is the RP2040's
# RTC, which the rp2 port starts at 2021-01-01 00:00:00 at boot. Everything
# else is the built-in module's.
import sys

from sim.rp2board import board as _board

# the built-in time, even though this file may itself be `time` on the path
# (MicroPython's documented way to extend a built-in module)
if sys.implementation.name == "micropython":
    _self = sys.modules.pop("time", None)
    _path = sys.path
    sys.path = []
    try:
        import time as _t
    finally:
        sys.path = _path
        if _self is not None:
            sys.modules["time"] = _self
else:
    import time as _t

_EPOCH_2021 = 1609459200
_PERIOD = 1 << 30

gmtime = _t.gmtime
localtime = getattr(_t, "localtime", _t.gmtime)
mktime = _t.mktime


def ticks_ms():
    return _board.current.ticks_ms()


def ticks_us():
    return _board.current.ticks_us()


def ticks_cpu():
    return _board.current.ticks_us()


def ticks_add(t, delta):
    return (t + delta) % _PERIOD


def ticks_diff(a, b):
    return ((a - b + _PERIOD // 2) % _PERIOD) - _PERIOD // 2


def sleep_us(us):
    _board.current.advance_us(us)


def sleep_ms(ms):
    _board.current.advance_us(ms * 1000)


def sleep(s):
    _board.current.advance_us(int(s * 1000000))


def time():
    b = _board.current
    return _EPOCH_2021 + (b.now_us - b.boot_us) // 1000000


def time_ns():
    b = _board.current
    return (_EPOCH_2021 * 1000000 + b.now_us - b.boot_us) * 1000
