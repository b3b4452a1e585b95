"""On the board a MicroPython int past 31 bits (|v| >= 2^30) is a heap
object, and read_env runs in the tick, which must not allocate. The unix
port's small ints are 63 bits, so the heap-locked tick there cannot show
it: here every value the BME280 compensation (firmware/hal/rp2.py) forms is
a Small, an int that fails on leaving the board's small-int range, over the
chip's range (-40..85 degC, 300..1100 hPa, every humidity word) for two
parts' calibration words."""

import sys
from pathlib import Path

LIMIT = 1 << 30


class Small(int):
    def __new__(cls, v):
        assert -LIMIT <= v < LIMIT, v
        return int.__new__(cls, v)


def _op(name):
    f = getattr(int, name)
    return lambda a, *b: Small(f(a, *b))


for _n in ("add", "sub", "mul", "floordiv", "and", "or", "xor", "lshift", "rshift"):
    setattr(Small, f"__{_n}__", _op(f"__{_n}__"))
    setattr(Small, f"__r{_n}__", _op(f"__r{_n}__"))
Small.__neg__ = _op("__neg__")  # type: ignore[method-assign]


def _modules():
    here = Path(__file__).resolve().parent / "mp"
    sys.path.insert(0, str(here))
    try:
        import _bme280_ref
        import _fakemachine
        import test_rp2_drivers
    finally:
        sys.path.remove(str(here))
    return _fakemachine.install(), _bme280_ref, test_rp2_drivers


def test_small_flags_a_big_value():
    try:
        Small(40000) * Small(40000)
    except AssertionError:
        return
    raise AssertionError("Small let 1.6e9 through")


def test_compensation_stays_in_small_ints():
    rp2, ref, t = _modules()
    for cal in (t.CAL, t.CAL2):
        c = tuple(Small(v) for v in cal)
        for mdeg in range(-40000, 85001, 2500):
            adc_t = t._adc_t(cal, mdeg)
            tf = rp2._t_fine(c, Small(adc_t))
            assert tf == ref.t_fine(cal, adc_t)
            for adc_p in range(0, 1 << 20, 1013):
                pa = ref.pressure(cal, int(tf), adc_p)
                if 30000 <= pa <= 110000:
                    assert rp2._pressure(c, tf, Small(adc_p)) == pa
            for adc_h in range(0, 65536, 97):
                assert rp2._humidity(c, tf, Small(adc_h)) == ref.humidity(cal, int(tf), adc_h)
