# The board HAL's drivers (firmware/hal/rp2.py) on both interpreters, with
# a stand-in machine (_fakemachine): the BME280 compensation against the
# datasheet's worked example and its 32-bit forms, the drivers against small
# register files, E11's correction, the battery divider, and a tick's calls
# under micropython.heap_lock(). The 31-bit bound of every intermediate value
# is tests/test_rp2_bounds.py (CPython: the unix port's small ints are 63
# bits, so it cannot show it).
import sys

import _bme280_ref as ref
import _fakemachine as fm

# BMP280 datasheet 3.12 (../shared/reference.md): T and P words; the H words
# are a real BME280's (typical: H1 75, H2 ~360, H3 0, H4 ~300, H5 50, H6 30).
CAL = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
       75, 362, 0, 313, 50, 30)
# Another part's words (both signs of T3 and P5, larger H4): the same checks
CAL2 = (28009, 25654, 50, 39145, -10750, 3024, 5667, -120, -7, 9900, -10230, 4285,
        75, 359, 0, 340, 0, 30)


def _rp2():
    return fm.install()


def test_datasheet_worked_example():
    rp2 = _rp2()
    tf = rp2._t_fine(CAL, 519888)
    assert tf == 128422
    assert (tf * 5 + 128) >> 8 == 2508  # 25.08 degC
    p = rp2._pressure(CAL, tf, 415148)
    # the 32-bit form gives 100656 Pa; the double form 100653.27 Pa
    assert p == ref.pressure(CAL, tf, 415148) == 100656
    assert abs(p * 256 - ref.pressure64(CAL, tf, 415148)) <= 4 * 256


def _adc_t(cal, mdeg):
    """The raw temperature word that compensates to about mdeg."""
    lo, hi = 0, (1 << 20) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if (ref.t_fine(cal, mid) * 5 + 128) >> 8 < mdeg // 10:
            lo = mid + 1
        else:
            hi = mid
    return lo


def test_compensation_is_the_datasheets_bit_for_bit():
    rp2 = _rp2()
    for cal in (CAL, CAL2):
        for mdeg in range(-40000, 85001, 5000):
            t = _adc_t(cal, mdeg)
            for dt in (-7, 0, 3):
                tf = rp2._t_fine(cal, t + dt)
                assert tf == ref.t_fine(cal, t + dt), (cal, t + dt)
            for adc_p in range(150000, 700000, 9973):  # beyond 300..1100 hPa
                assert rp2._pressure(cal, tf, adc_p) == ref.pressure(cal, tf, adc_p), (tf, adc_p)
            for adc_h in range(0, 65536, 331):  # all of it: below 0 % to over 100 %
                assert rp2._humidity(cal, tf, adc_h) == ref.humidity(cal, tf, adc_h), (tf, adc_h)
    # the raw range's ends
    for t in (0, 1, 0x7FFFF, 0xFFFFF):
        assert rp2._t_fine(CAL, t) == ref.t_fine(CAL, t)


def _bme(rp2, cal=CAL):
    """A BME280 alone on the bus, and the HAL set up on it."""
    chip = fm.FakeBme280(cal)
    fm.devices.clear()
    fm.devices[0x76] = chip
    return chip, rp2.Rp2Hal()


def test_bme280_setup_reads_calibration_and_configures_in_order():
    rp2 = _rp2()
    chip, d = _bme(rp2, CAL2)
    assert d.env == CAL2
    # ctrl_hum before ctrl_meas (it takes effect at that write); forced mode
    assert chip.log == [(0xF2, 0x01), (0xF5, 0x00), (0xF4, 0x25)]


def test_bme280_read_env_units():
    rp2 = _rp2()
    chip, d = _bme(rp2)
    tf = ref.t_fine(CAL, 519888)
    for adc_h in (20000, 30000, 36000, 60000):
        chip.set_raw(519888, 415148, adc_h)
        out = [0, 0]
        assert d.read_env(out) == 0
        assert out[0] == (ref.humidity(CAL, tf, adc_h) * 10 + 512) // 1024, (adc_h, out)
        assert out[1] == 10066  # 100656 Pa in 0.1 hPa
        assert chip.r[0xF4] == 0x25  # the next measurement started
    assert out[0] == 1000  # clamped at 100 %RH


def test_bme280_failures():
    rp2 = _rp2()
    chip, d = _bme(rp2)
    out = [7, 7]
    # never measured (a chip that reset): the reset words, set up again
    chip.log = []
    assert d.read_env(out) == 1 and out == [7, 7] and d.env == CAL
    assert chip.log == [(0xF2, 0x01), (0xF4, 0x25)]
    chip.set_raw(519888, 415148, 30000)
    assert d.read_env(out) == 0
    del fm.devices[0x76]  # the bus stops answering
    assert d.read_env(out) == 1
    fm.devices[0x76] = chip
    assert d.read_env(out) == 0
    fm.devices[0x76] = fm.FakeBme280(CAL, chip_id=0x58)  # a BMP280: no humidity
    assert rp2.Rp2Hal().env is None
    # absent at boot: each read tries the set-up again, and it takes
    del fm.devices[0x76]
    d = rp2.Rp2Hal()
    assert d.env is None and d.read_env(out) == 1
    fm.devices[0x76] = chip
    assert d.read_env(out) == 1 and d.env == CAL  # set up now, measuring from here
    assert d.read_env(out) == 0


def _lis(rp2):
    """A LIS3DH on the bus, and the HAL set up on it."""
    chip = fm.FakeLis3dh()
    fm.devices[0x18] = chip
    return chip, rp2.Rp2Hal()


def test_lis3dh_setup():
    rp2 = _rp2()
    chip, d = _lis(rp2)
    assert d.shock
    r = chip.r
    assert r[0x20] == 0x77  # 400 Hz, x y z
    assert r[0x23] == 0xB8  # block update, +-16 g, high resolution
    assert r[0x24] == 0x4A and r[0x2E] == 0x80  # FIFO on, stream; IG1/IG2 latched
    assert r[0x30] == r[0x34] == 0x2A  # OR of the high events
    assert r[0x32] * 186 == 15066 and r[0x36] * 186 == 20088
    # absent at boot: each tick's read tries the set-up again, and it takes
    del fm.devices[0x18]
    d = rp2.Rp2Hal()
    assert not d.shock and d.shock_mg() == 0 and not d.shock
    chip = fm.FakeLis3dh()
    fm.devices[0x18] = chip
    assert d.shock_mg() == 0 and d.shock and chip.r[0x20] == 0x77


def test_lis3dh_peak_since_last_call():
    rp2 = _rp2()
    chip, d = _lis(rp2)
    assert d.shock_mg() == 0  # empty FIFO, nothing latched
    chip.fifo = [(0, 0, 83)] * 20 + [(1000, -500, 83), (0, 0, 83)]
    g = d.shock_mg()  # sqrt(1000^2 + 500^2 + 83^2) digits x 12 mg
    assert abs(g - 13453) <= 12, g
    chip.fifo, chip.at = [(0, 0, 83)] * 40, 0  # overrun: 32 read, rest to come
    assert abs(d.shock_mg() - 996) <= 12
    assert chip.at == 32
    chip.fifo, chip.at = [(2047, 2047, 2047)], 0  # every axis clipped
    assert abs(d.shock_mg() - 42546) <= 12
    # a shock outside the FIFO's 80 ms: what the latched generators say
    chip.fifo, chip.at = [(0, 0, 83)], 0
    chip.r[0x31] = 0x40 | 0x20
    assert d.shock_mg() == 15066
    chip.fifo, chip.at = [(0, 0, 83)], 0
    chip.r[0x31] = chip.r[0x35] = 0x40 | 0x02
    assert d.shock_mg() == 20088
    chip.fifo, chip.at = [(0, 0, 83)], 0
    assert d.shock_mg() == 996  # latches cleared by the read


def _hal(rp2):
    fm.devices.clear()
    chip = fm.FakeBme280(CAL)
    chip.set_raw(519888, 415148, 30000)
    fm.devices[0x76] = chip
    lis = fm.FakeLis3dh()
    fm.devices[0x18] = lis
    return rp2.Rp2Hal(), chip, lis


def _code(mdeg):
    """The ideal 12-bit code of a probe at mdeg (the HAL's NTC divider)."""
    import math

    t = mdeg / 1000 + 273.15
    r = 10000 * math.exp(3950 * (1 / t - 1 / 298.15))
    return 4096 * r / (r + 10000)


def test_e11_wide_codes_read_as_their_middle():
    rp2 = _rp2()
    hal, _, _ = _hal(rp2)
    fm.noise[:] = [0]
    got = []
    for c in (510, 511, 512, 1534, 1535, 1536, 2559, 3583, 3584):
        fm.codes[27] = c
        got.append(hal.sample(hal.battery) / 128)
    assert got == [495, 501, 507, 1527, 1532.5, 1538, 2561.5, 3593, 3599], got


def _ntc_table():
    """The NTC's 16-bit counts at 5 degC steps, -40..85 degC, from the
    formula (10 kOhm at 25 degC, beta 3950, under 10 kOhm to 3V3)."""
    import math

    table = []
    for i in range(26):
        t = (-40000 + i * 5000) / 1000 + 273.15
        r = 10000 * math.exp(3950 * (1 / t - 1 / 298.15))
        table.append(int(65535 * r / (r + 10000)))
    return table


def test_ntc_table_is_the_formulas():
    # the HAL's table is a bytes constant (const(): on MicroPython it is
    # folded into the code and is no attribute, so read it on CPython)
    rp2 = _rp2()
    if sys.implementation.name == "micropython":
        return
    import struct

    assert list(struct.unpack("<26H", rp2._NTC)) == _ntc_table()


def _probe(hal, u):
    for i in range(4):
        fm.codes[100 + i] = u
    out = [0] * 4
    assert hal.read_probes(out) == 0
    return out[0]


def test_probe_at_the_incubation_setpoint():
    # 37.0 degC is code ~1534.4, at E11's wide code 1535. An ADC erring as
    # the correction's table says (inputs 1528..1537 read as 1535, codes
    # below 7 high, above 2 low), with +-2 codes of noise at its input: the
    # corrected reading stays within 0.13 K (half the wide code) of what an
    # ideal ADC gives the same HAL; uncorrected it would be 0.18 K off below
    # the wide code and flat over its 0.25 K. (The 5 K table's own
    # interpolation error, +0.05 K here, is in both.)
    rp2 = _rp2()
    hal, _, _ = _hal(rp2)

    def adc(u):  # the code this ADC gives for input u (codes of 3.3 V / 4096)
        u = int(u + 0.5)
        return u + 7 if u < 1528 else 1535 if u < 1538 else u - 2

    def ideal(mdeg):  # the table's reading of a perfect ADC's 16-bit counts
        t = _ntc_table()
        c = int(_code(mdeg) * 16)
        i = 0
        while t[i + 1] > c:
            i += 1
        return -40000 + i * 5000 + (t[i] - c) * 5000 // (t[i] - t[i + 1])

    fm.noise[:] = [0, 2, -1, 1, -2, 1, -1, 0, -2]
    fm.transfer[0] = adc
    worst = 0
    for mdeg in range(36500, 37501, 25):
        worst = max(worst, abs(_probe(hal, _code(mdeg)) - ideal(mdeg)))
    assert worst <= 130, worst
    fm.noise[:] = [0]
    fm.transfer[0] = fm.ideal
    fm.codes[100] = 4095  # open
    fm.codes[103] = 0  # short
    out = [0] * 4
    assert hal.read_probes(out) == 0b1001


def test_battery_divider():
    rp2 = _rp2()
    hal, _, _ = _hal(rp2)
    fm.noise[:] = [0]
    for mv in (9000, 10560, 12600):
        fm.codes[27] = int(mv * 22 / 122 / 3300 * 4096 + 0.5)
        got = hal.battery_mv()
        assert abs(got - mv) <= 40, (mv, got)  # E11's table shifts a few codes


def test_tick_calls_allocate_nothing():
    rp2 = _rp2()
    hal, bme, lis = _hal(rp2)
    bme.log = None
    fm.noise[:] = [0, 1]
    for i in range(4):
        fm.codes[100 + i] = 1535
    fm.codes[27] = 2820  # 12.6 V
    lis.fifo = [(0, 0, 83)] * 2000
    out = [0] * 4
    env = [0, 0]
    hal.read_env(env)  # the first: the measurement the set-up started
    heap = sys.implementation.name == "micropython"
    if heap:
        import micropython

        micropython.heap_lock()
    try:
        for _ in range(30):
            if heap:  # CPython's time has no ticks_ms
                hal.uptime_ms()
            hal.read_probes(out)
            r = hal.read_env(env)
            hal.battery_mv()
            hal.lid_open()
            g = hal.shock_mg()
            hal.set_heater(500)
            hal.set_peltier(-300)
            hal.feed_watchdog()
    finally:
        if heap:
            micropython.heap_unlock()
    assert r == 0 and env[1] == 10066 and abs(g - 996) <= 12
    assert 12400 < hal.battery_mv() < 12800
