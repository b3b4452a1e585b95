# The reference board's register-level model (sim/rp2board/), on both
# interpreters: the BME280 against the datasheet's own compensation
# (written out here in the datasheet's integer form, not the model's),
# sleep and forced modes; the LIS3DH's ranges and INT1 event; the watchdog
# and rp2's reset causes; RP2040-E11's wide codes; the mux, the dividers,
# PWM and pins as the firmware drives them.
from sim.rp2board import bme280, board
from sim.rp2board import machine as m

# -- the datasheet's integer compensation (BME280 DS 4.2.3; BMP280 3.11.3) --


def _tdiv(a, b):
    """C's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def comp_t_int(c, adc_t):
    """(T in 0.01 degC, t_fine)."""
    t1, t2, t3 = c["dig_T1"], c["dig_T2"], c["dig_T3"]
    v1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    v2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = v1 + v2
    return (t_fine * 5 + 128) >> 8, t_fine


def comp_p_int64(c, adc_p, t_fine):
    """Pressure in Pa * 256 (Q24.8)."""
    v1 = t_fine - 128000
    v2 = v1 * v1 * c["dig_P6"]
    v2 = v2 + ((v1 * c["dig_P5"]) << 17)
    v2 = v2 + (c["dig_P4"] << 35)
    v1 = ((v1 * v1 * c["dig_P3"]) >> 8) + ((v1 * c["dig_P2"]) << 12)
    v1 = (((1 << 47) + v1) * c["dig_P1"]) >> 33
    if v1 == 0:
        return 0
    p = 1048576 - adc_p
    p = _tdiv(((p << 31) - v2) * 3125, v1)
    v1 = (c["dig_P9"] * (p >> 13) * (p >> 13)) >> 25
    v2 = (c["dig_P8"] * p) >> 19
    return ((p + v1 + v2) >> 8) + (c["dig_P7"] << 4)


def comp_h_int(c, adc_h, t_fine):
    """Humidity in %RH * 1024."""
    v = t_fine - 76800
    v = (((((adc_h << 14) - (c["dig_H4"] << 20) - (c["dig_H5"] * v)) + 16384) >> 15) * (
        ((((((v * c["dig_H6"]) >> 10) * (((v * c["dig_H3"]) >> 11) + 32768)) >> 10)
          + 2097152) * c["dig_H2"] + 8192) >> 14))  # fmt: skip
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * c["dig_H1"]) >> 4)
    v = 0 if v < 0 else (419430400 if v > 419430400 else v)
    return v >> 12


def _s16(lo, hi):
    v = lo | hi << 8
    return v - 65536 if v & 0x8000 else v


def calib_from_registers(i2c):
    """The calibration as a driver reads it (DS 4.2.2), from the bus."""
    a = i2c.readfrom_mem(0x76, 0x88, 26)
    e = i2c.readfrom_mem(0x76, 0xE1, 7)
    names = ("dig_T1", "dig_T2", "dig_T3", "dig_P1", "dig_P2", "dig_P3", "dig_P4",
             "dig_P5", "dig_P6", "dig_P7", "dig_P8", "dig_P9")  # fmt: skip
    c = {}
    for i in range(12):
        v = _s16(a[2 * i], a[2 * i + 1])
        c[names[i]] = v & 0xFFFF if names[i] in ("dig_T1", "dig_P1") else v
    c["dig_H1"] = a[25]
    c["dig_H2"] = _s16(e[0], e[1])
    c["dig_H3"] = e[2]
    h4 = e[3] << 4 | e[4] & 0x0F
    h5 = e[5] << 4 | e[4] >> 4
    c["dig_H4"] = h4 - 4096 if h4 & 0x800 else h4
    c["dig_H5"] = h5 - 4096 if h5 & 0x800 else h5
    c["dig_H6"] = e[6] - 256 if e[6] & 0x80 else e[6]
    return c


def _i2c():
    return m.I2C(0, scl=m.Pin(5), sda=m.Pin(4), freq=400000)


def _words(d):
    """(adc_T, adc_P, adc_H) from the 8 data bytes at 0xF7."""
    return (d[3] << 12 | d[4] << 4 | d[5] >> 4, d[0] << 12 | d[1] << 4 | d[2] >> 4,
            d[6] << 8 | d[7])  # fmt: skip


# -- BME280 ------------------------------------------------------------------


def test_bme280_datasheet_example():
    c = bme280.EXAMPLE
    t, t_fine = comp_t_int(c, 519888)
    assert t_fine == 128422 and t == 2508
    p = comp_p_int64(c, 415148, t_fine)
    assert p // 256 == 100653, p
    # the model's inverse: the datasheet's true values give back its words
    t_true, tf = bme280.comp_t(c, 519888)
    p_true = bme280.comp_p(c, 415148, tf)
    assert abs(p_true - 100653.27) < 0.05  # the datasheet's double result
    chip = bme280.Bme280(c)
    chip.set_true(t_true, p_true, 45.0, 0)
    assert chip.adc[0] == 519888 and chip.adc[1] == 415148, chip.adc
    # 25.08 degC as a true value is 8 words below (0.005 degC a word)
    chip.set_true(25.08, 100653.27, 45.0, 0)
    assert comp_t_int(c, chip.adc[0])[0] == 2508


def test_bme280_words_compensate_to_truth():
    # Stated tolerance: the integer forms give T to 0.01 degC (truncated),
    # p to 1/256 Pa, H to 1/1024 %RH; a 20-bit word is ~0.005 degC and
    # ~0.2 Pa, a 16-bit humidity word ~0.002 %RH. Held: |dT| <= 0.01 degC,
    # |dp| <= 0.5 Pa, |dH| <= 0.01 %RH over the board's range.
    c = bme280.EXAMPLE
    worst = [0.0, 0.0, 0.0]
    for t in (-40.0, -10.5, 0.0, 4.99, 25.0, 37.0, 61.3, 85.0):
        for p in (30000.0, 70000.0, 101325.0, 110000.0):
            for h in (0.5, 20.0, 55.5, 99.0):
                at, ap, ah = bme280.raw_words(c, t, p, h)
                ti, tf = comp_t_int(c, at)
                dt = abs(ti / 100 - t)
                dp = abs(comp_p_int64(c, ap, tf) / 256 - p)
                dh = abs(comp_h_int(c, ah, tf) / 1024 - h)
                worst = [max(worst[0], dt), max(worst[1], dp), max(worst[2], dh)]
    assert worst[0] <= 0.0101 and worst[1] <= 0.5 and worst[2] <= 0.01, worst


def test_bme280_sleeps_with_reset_values_until_a_mode_is_set():
    b = board.new()
    b.set_env(22.5, 98000.0, 35.0)
    i2c = _i2c()
    assert i2c.readfrom_mem(0x76, 0xD0, 1) == b"\x60"
    assert sorted(i2c.scan()) == [0x18, 0x76]
    b.advance_ms(5000)
    d = i2c.readfrom_mem(0x76, 0xF7, 8)
    assert d == b"\x80\x00\x00\x80\x00\x00\x80\x00", d
    assert _words(d) == (0x80000, 0x80000, 0x8000)
    # ctrl_hum takes effect only with the next write of ctrl_meas
    i2c.writeto_mem(0x76, 0xF2, b"\x01")
    i2c.writeto_mem(0x76, 0xF4, bytes([1 << 5 | 1 << 2 | 1]))  # x1, x1, forced
    assert i2c.readfrom_mem(0x76, 0xF3, 1)[0] & 0x08  # measuring
    assert i2c.readfrom_mem(0x76, 0xF7, 8) == d  # not yet
    b.advance_ms(10)  # 9.3 ms at most for x1/x1/x1 (DS 9.1)
    assert i2c.readfrom_mem(0x76, 0xF3, 1)[0] & 0x08 == 0
    assert i2c.readfrom_mem(0x76, 0xF4, 1)[0] & 3 == 0  # back to sleep
    at, ap, ah = _words(i2c.readfrom_mem(0x76, 0xF7, 8))
    assert at & 0xF == 0 and ap & 0xF == 0  # x1 without the filter: 16 bits
    c = calib_from_registers(i2c)
    assert c == bme280.EXAMPLE
    ti, tf = comp_t_int(c, at)
    assert abs(ti - 2250) <= 2
    assert abs(comp_p_int64(c, ap, tf) / 256 - 98000) < 4  # 16-bit: ~3 Pa a step
    assert abs(comp_h_int(c, ah, tf) / 1024 - 35.0) < 0.01
    # one forced measurement only: a change is not seen until the next
    b.set_env(30.0, 98000.0, 35.0)
    b.advance_ms(1000)
    assert _words(i2c.readfrom_mem(0x76, 0xF7, 8))[0] == at
    # osrs_t 0 skips temperature: its reset value
    i2c.writeto_mem(0x76, 0xF4, bytes([0 << 5 | 1 << 2 | 1]))
    b.advance_ms(10)
    assert _words(i2c.readfrom_mem(0x76, 0xF7, 8))[0] == 0x80000


def test_bme280_normal_mode_and_soft_reset():
    b = board.new()
    i2c = _i2c()
    b.set_env(10.0, 100000.0, 60.0)
    i2c.writeto_mem(0x76, 0xF5, bytes([5 << 5]))  # t_sb 1000 ms, filter off
    i2c.writeto_mem(0x76, 0xF2, b"\x05")
    i2c.writeto_mem(0x76, 0xF4, bytes([5 << 5 | 5 << 2 | 3]))  # x16, normal
    i2c.writeto_mem(0x76, 0xF5, bytes([0]))  # ignored in normal mode
    assert i2c.readfrom_mem(0x76, 0xF5, 1)[0] == 5 << 5
    b.advance_ms(200)
    c = bme280.EXAMPLE
    at, ap, ah = _words(i2c.readfrom_mem(0x76, 0xF7, 8))
    assert abs(comp_t_int(c, at)[0] - 1000) <= 1
    b.set_env(12.0, 100000.0, 60.0)
    n = b.bme.measurements
    b.advance_ms(3000)
    at = _words(i2c.readfrom_mem(0x76, 0xF7, 8))[0]
    assert abs(comp_t_int(c, at)[0] - 1200) <= 1
    assert b.bme.measurements - n == 2  # one each 1000 ms + 112.8 ms (x16 x3)
    i2c.writeto_mem(0x76, 0xE0, b"\xb6")  # soft reset
    assert i2c.readfrom_mem(0x76, 0xF4, 1) == b"\x00"
    assert _words(i2c.readfrom_mem(0x76, 0xF7, 8)) == (0x80000, 0x80000, 0x8000)


def test_i2c_errors_are_rp2s():
    b = board.new()
    i2c = _i2c()
    b.i2c_fail(0x76)
    try:
        i2c.readfrom_mem(0x76, 0xF7, 8)
        raise AssertionError("no error")
    except OSError as e:
        assert e.args[0] == 5  # EIO: rp2's hardware I2C on a NACK
    assert i2c.scan() == [0x18]
    try:
        i2c.writeto(0x76, b"")
        raise AssertionError("no error")
    except OSError as e:
        assert e.args[0] == 19  # ENODEV: rp2's zero-length write (soft I2C)
    b.i2c_fail(0x76, False)
    assert i2c.readfrom_mem(0x76, 0xD0, 1) == b"\x60"
    b.i2c_held = True
    try:
        i2c.readfrom_mem(0x18, 0x0F, 1)
        raise AssertionError("no error")
    except OSError as e:
        assert e.args[0] == 110  # ETIMEDOUT
    try:
        m.I2C(0, scl=m.Pin(4), sda=m.Pin(5))
        raise AssertionError("no error")
    except ValueError:
        pass


# -- LIS3DH ------------------------------------------------------------------


def _xyz(i2c):
    d = i2c.readfrom_mem(0x18, 0x28 | 0x80, 6)
    out = []
    for a in range(3):
        v = d[2 * a] | d[2 * a + 1] << 8
        out.append(v - 65536 if v & 0x8000 else v)
    return out


def test_lis3dh_ranges_and_resolution():
    b = board.new()
    i2c = _i2c()
    assert i2c.readfrom_mem(0x18, 0x0F, 1) == b"\x33"
    b.set_accel(0.5, -1.0, 1.5)
    b.advance_ms(100)
    assert _xyz(i2c) == [0, 0, 0]  # power-down after reset: nothing sampled
    i2c.writeto_mem(0x18, 0x20, b"\x57")  # 100 Hz, x y z
    # (full-scale code, HR) -> mg per digit, bits
    for fs, hr, mg, bits in ((0, 1, 1, 12), (1, 1, 2, 12), (2, 1, 4, 12), (3, 1, 12, 12),
                             (0, 0, 4, 10), (3, 0, 48, 10)):  # fmt: skip
        i2c.writeto_mem(0x18, 0x23, bytes([fs << 4 | hr << 3]))
        b.advance_ms(20)
        x, y, z = _xyz(i2c)
        s = 16 - bits
        assert x & ((1 << s) - 1) == 0  # left-justified
        assert (x >> s, y >> s, z >> s) == (
            round(500 / mg), round(-1000 / mg), round(1500 / mg)), (fs, hr, x, y, z)
    # beyond +-2 g an axis reads on to its codes' ends, and clips there
    i2c.writeto_mem(0x18, 0x23, b"\x08")
    b.set_accel(3.0, -5.0, 1.0)
    b.advance_ms(20)
    x, y, z = _xyz(i2c)
    assert (x >> 4, y >> 4) == (2047, -2048)
    # at +-16 g the codes run to 24.56 g: 20 g is 1667 digits of 12 mg
    i2c.writeto_mem(0x18, 0x23, b"\x38")
    b.set_accel(20.0, -30.0, 1.0)
    b.advance_ms(20)
    x, y, z = _xyz(i2c)
    assert (x >> 4, y >> 4) == (1667, -2048)
    # without the auto-increment bit the same register is read again
    d = i2c.readfrom_mem(0x18, 0x28, 2)
    assert d[0] == d[1]
    # STATUS_REG: new data, then cleared by reading it
    b.advance_ms(20)
    assert i2c.readfrom_mem(0x18, 0x27, 1)[0] & 0x08
    _xyz(i2c)
    assert i2c.readfrom_mem(0x18, 0x27, 1)[0] == 0


def test_lis3dh_int1_threshold_latched():
    b = board.new()
    i2c = _i2c()
    b.set_accel(0.0, 0.0, 1.0)
    i2c.writeto_mem(0x18, 0x20 | 0x80, b"\x77\x00\x40\x38\x08")  # 400 Hz; IA1 on INT1;
    # 16 g HR; LIR_INT1 (auto-increment over CTRL_REG1..5)
    assert i2c.readfrom_mem(0x18, 0x23, 1) == b"\x38"
    i2c.writeto_mem(0x18, 0x32, bytes([27]))  # 27 * 186 mg = 5.0 g
    i2c.writeto_mem(0x18, 0x33, bytes([1]))  # held 2 samples (5 ms)
    i2c.writeto_mem(0x18, 0x30, b"\x2a")  # OR of X, Y, Z high
    b.advance_ms(100)
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0
    b.set_accel(0.0, 2.0, 20.0)  # a splash-down shock, 20 ms
    b.advance_ms(20)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(500)
    assert b.acc.int1_pin() == 1
    src = i2c.readfrom_mem(0x18, 0x31, 1)[0]
    assert src == 0x40 | 0x20, hex(src)  # IA and ZH, latched past the shock
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0  # the read released it
    # shorter than the duration: no event
    b.set_accel(0.0, 0.0, 20.0)
    b.advance_us(2400)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(100)
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0
    # at 10 Hz a 20 ms shock between two samples is not seen at all
    i2c.writeto_mem(0x18, 0x20, b"\x27")
    i2c.writeto_mem(0x18, 0x33, b"\x00")
    b.advance_ms(1000 - b.now_us // 1000 % 1000 + 10)  # 10 ms after a sample
    b.set_accel(0.0, 0.0, 20.0)
    b.advance_ms(20)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(500)
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0


def _tick_mid(b, period_ms):
    """To the middle of a sample period: each advance_ms(period_ms) from
    here takes one sample (bus traffic moves the clock by microseconds)."""
    b.advance_ms(period_ms - b.now_us // 1000 % period_ms + period_ms // 2)


def _fifo_on(b, i2c, ctrl):
    """10 Hz, +-16 g HR (12 mg a digit: x = k * 0.012 g reads k), FIFO_EN,
    FIFO_CTRL_REG = ctrl, in the middle of a sample period."""
    i2c.writeto_mem(0x18, 0x20, b"\x27")
    i2c.writeto_mem(0x18, 0x23, b"\x38")
    _tick_mid(b, 100)
    i2c.writeto_mem(0x18, 0x24, b"\x40")
    i2c.writeto_mem(0x18, 0x2E, bytes([ctrl]))


def _src(i2c):
    return i2c.readfrom_mem(0x18, 0x2F, 1)[0]


def _set_x(i2c):
    """The oldest set's x in digits (and the set popped)."""
    return _xyz(i2c)[0] >> 4


def test_lis3dh_fifo_stream_fills_overruns_and_pops_oldest_first():
    b = board.new()
    i2c = _i2c()
    _fifo_on(b, i2c, 0x80 | 10)  # stream, FTH 10
    assert _src(i2c) == 0x20  # EMPTY
    for k in range(1, 41):  # a different x each sample: k digits
        b.set_accel(k * 0.012, 0.0, 1.0)
        b.advance_ms(100)
        src = _src(i2c)
        if k < 10:
            assert src == k, (k, hex(src))  # FSS counts, no watermark yet
        elif k < 32:
            assert src == 0x80 | k, (k, hex(src))  # WTM: FSS >= FTH
        else:
            assert src == 0x80 | 0x40 | 31, (k, hex(src))  # full: OVRN, FSS 31
    # the oldest 8 were overwritten: 9..40 remain, read oldest first
    for k in range(9, 41):
        assert _set_x(i2c) == k
        src = _src(i2c)
        left = 40 - k
        assert src & 31 == left and not src & 0x40, (k, hex(src))
        assert bool(src & 0x80) == (left > 10), (k, hex(src))  # WTM clears at FSS <= FTH
    assert _src(i2c) == 0x20
    # empty: the output registers read the latest sample, and pop nothing
    assert _set_x(i2c) == 40 and _set_x(i2c) == 40
    # one long auto-increment read rolls back over OUT_X_L..OUT_Z_H: 3 sets
    for k in (41, 42, 43):
        b.set_accel(k * 0.012, 0.0, 1.0)
        b.advance_ms(100)
    d = i2c.readfrom_mem(0x18, 0xA8, 18)
    assert [(d[6 * j] | d[6 * j + 1] << 8) >> 4 for j in range(3)] == [41, 42, 43]
    assert _src(i2c) == 0x20
    # BLE: the FIFO keeps the bytes as the output registers held them
    i2c.writeto_mem(0x18, 0x23, b"\x78")
    b.advance_ms(100)
    d = i2c.readfrom_mem(0x18, 0xA8, 6)
    assert (d[0] << 8 | d[1]) >> 4 == 43


def test_lis3dh_fifo_bypass_empties_and_fifo_mode_stops_when_full():
    b = board.new()
    i2c = _i2c()
    _fifo_on(b, i2c, 0x80)
    b.advance_ms(500)
    assert _src(i2c) & 31 == 5
    i2c.writeto_mem(0x18, 0x2E, b"\x00")  # bypass: emptied, stays empty
    assert _src(i2c) == 0x20
    b.advance_ms(500)
    assert _src(i2c) == 0x20
    i2c.writeto_mem(0x18, 0x2E, b"\x80")  # stream again: from empty
    b.advance_ms(300)
    assert _src(i2c) & 31 == 3
    i2c.writeto_mem(0x18, 0x24, b"\x00")  # FIFO_EN clear: bypass
    assert _src(i2c) == 0x20
    # FIFO mode: collects 32, then stops until bypass
    i2c.writeto_mem(0x18, 0x24, b"\x40")
    i2c.writeto_mem(0x18, 0x2E, b"\x40")
    for k in range(1, 41):
        b.set_accel(k * 0.012, 0.0, 1.0)
        b.advance_ms(100)
    assert _src(i2c) == 0x80 | 0x40 | 31  # full (and WTM: FSS >= FTH 0)
    assert _set_x(i2c) == 1  # the first 32 kept, the rest never entered
    b.advance_ms(1000)
    assert _src(i2c) & 31 == 31  # reading does not restart it
    for k in range(2, 33):
        assert _set_x(i2c) == k
    assert _src(i2c) == 0x20
    b.advance_ms(1000)
    assert _src(i2c) == 0x20
    i2c.writeto_mem(0x18, 0x2E, b"\x00")
    i2c.writeto_mem(0x18, 0x2E, b"\x40")  # through bypass: it runs again
    b.advance_ms(200)
    assert _src(i2c) & 31 == 2 and _set_x(i2c) == 40


def test_lis3dh_stream_to_fifo_freezes_on_the_trigger():
    b = board.new()
    i2c = _i2c()
    _fifo_on(b, i2c, 0xC0)  # stream-to-FIFO, TR = 0: IG1
    i2c.writeto_mem(0x18, 0x24, b"\x48")  # FIFO_EN, LIR_INT1
    i2c.writeto_mem(0x18, 0x22, b"\x40")  # IA1 on INT1
    i2c.writeto_mem(0x18, 0x32, bytes([27]))  # 5.0 g
    i2c.writeto_mem(0x18, 0x30, b"\x2a")
    for k in range(1, 41):  # streams: the last 32 kept
        b.set_accel(k * 0.012, 0.0, 1.0)
        b.advance_ms(100)
    assert _src(i2c) & 0x40
    b.set_accel(0.0, 0.0, 8.0)  # the trigger: full, so FIFO mode keeps all
    b.advance_ms(100)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(1000)
    assert _set_x(i2c) == 9  # the 32 before the trigger
    b.advance_ms(1000)
    assert _set_x(i2c) == 10  # the pin holds FIFO mode: nothing overwritten
    i2c.readfrom_mem(0x18, 0x31, 1)  # release the latch: stream again
    b.advance_ms(4000)
    assert _src(i2c) & 0x40 and _set_x(i2c) == 0  # all after the shock now


def test_lis3dh_ig2_latches_at_its_own_threshold():
    b = board.new()
    i2c = _i2c()
    b.set_accel(0.0, 0.0, 1.0)
    i2c.writeto_mem(0x18, 0x20 | 0x80, b"\x77\x00\x40\x38\x0a\x20")  # 400 Hz; IA1
    # on INT1; 16 g HR; LIR_INT1 and LIR_INT2; IA2 on INT2
    i2c.writeto_mem(0x18, 0x32 | 0x80, b"\x1b\x00")  # IG1: 27 * 186 mg = 5.02 g
    i2c.writeto_mem(0x18, 0x36 | 0x80, b"\x36\x01")  # IG2: 54 = 10.04 g, 2 samples
    i2c.writeto_mem(0x18, 0x30, b"\x2a")
    i2c.writeto_mem(0x18, 0x34, b"\x2a")
    b.advance_ms(100)
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0
    assert (b.acc.int1_pin(), b.acc.int2_pin()) == (0, 0)
    b.set_accel(0.0, 8.0, 1.0)  # between the thresholds: IG1 only
    b.advance_ms(20)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(500)
    assert (b.acc.int1_pin(), b.acc.int2_pin()) == (1, 0)
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0x40 | 0x08  # IA, YH
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0
    b.set_accel(0.0, 0.0, 12.0)  # above both
    b.advance_ms(20)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(500)
    assert (b.acc.int1_pin(), b.acc.int2_pin()) == (1, 1)
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0x40 | 0x20  # IA, ZH: latched
    assert b.acc.int2_pin() == 0
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0  # its read released it
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0x40 | 0x20  # IG1's own latch held
    # IG2's duration: one sample above is not enough (IG1 takes it)
    b.advance_ms(10 - b.now_us // 1000 % 10 + 1)  # just after a sample
    b.set_accel(0.0, 0.0, 12.0)
    b.advance_us(2400)
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(100)
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0x40 | 0x20
    # not latched: INT2_SRC follows the samples
    i2c.writeto_mem(0x18, 0x24, b"\x08")
    b.set_accel(0.0, 0.0, 12.0)
    b.advance_ms(20)
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0x40 | 0x20
    b.set_accel(0.0, 0.0, 1.0)
    b.advance_ms(20)
    assert i2c.readfrom_mem(0x18, 0x35, 1)[0] == 0
    # INT1 can carry IG2 (I1_IA2), INT2 IG1 (I2_IA1)
    i2c.writeto_mem(0x18, 0x22, b"\x20")
    i2c.writeto_mem(0x18, 0x25, b"\x40")
    i2c.writeto_mem(0x18, 0x24, b"\x0a")
    b.set_accel(0.0, 0.0, 8.0)
    b.advance_ms(20)
    assert (b.acc.int1_pin(), b.acc.int2_pin()) == (0, 1)


def test_lis3dh_fifo_and_ig2_reads_allocate_nothing():
    import sys

    b = board.new()
    i2c = _i2c()
    i2c.writeto_mem(0x18, 0x20 | 0x80, b"\x77\x00\x60\xb8\x4a\x20")
    i2c.writeto_mem(0x18, 0x2E, b"\x8f")  # stream, FTH 15
    i2c.writeto_mem(0x18, 0x32 | 0x80, b"\x1b\x00")
    i2c.writeto_mem(0x18, 0x36 | 0x80, b"\x36\x00")
    i2c.writeto_mem(0x18, 0x30, b"\x2a")
    i2c.writeto_mem(0x18, 0x34, b"\x2a")
    b.set_accel(0.0, 0.0, 12.0)  # the generators latch in the loop
    one = bytearray(1)
    six = bytearray(6)
    long = bytearray(60)
    if sys.implementation.name != "micropython":
        return
    import micropython

    micropython.heap_lock()
    try:
        for k in range(50):
            b.advance_ms(37)  # samples into the FIFO, judged by IG1 and IG2
            i2c.readfrom_mem_into(0x18, 0x2F, one)
            for _ in range(one[0] & 31):
                i2c.readfrom_mem_into(0x18, 0xA8, six)
            i2c.readfrom_mem_into(0x18, 0xA8, long)  # rolls over sets
            i2c.readfrom_mem_into(0x18, 0x35, one)
            i2c.readfrom_mem_into(0x18, 0x31, one)
            b.acc.int1_pin()
            b.acc.int2_pin()
    finally:
        micropython.heap_unlock()
    assert one[0] == 0x60


# -- watchdog and resets -----------------------------------------------------


def test_wdt_resets_when_not_fed_and_cannot_be_stopped():
    b = board.new()
    pwm = m.PWM(m.Pin(15), freq=1000, duty_u16=30000)
    assert m.reset_cause() == m.PWRON_RESET
    try:
        m.WDT(timeout=8389)
        raise AssertionError("no error")
    except ValueError:
        pass
    w = m.WDT(timeout=8000)
    assert not hasattr(w, "deinit") and not hasattr(w, "stop")
    for _ in range(10):
        b.advance_ms(7999)
        w.feed()
    t0 = b.now_us
    b.advance_ms(7999)
    try:
        b.advance_ms(10)
        raise AssertionError("no reset")
    except board.BoardReset as e:
        assert e.cause == m.WDT_RESET
    assert b.now_us == t0 + 8000000  # at the deadline exactly
    # nothing the firmware does after the reset reaches the board
    for f in (w.feed, m.reset_cause, lambda: pwm.duty_u16(0), lambda: m.Pin(10).value()):
        try:
            f()
            raise AssertionError("ran after the reset")
        except board.BoardReset:
            pass
    b.reboot()
    assert m.reset_cause() == m.WDT_RESET
    assert not b.wdt_running() and b.heater_permille() == 0 and b.driven(10) is None
    b.advance_ms(60000)  # the watchdog is off until the firmware starts it


def test_machine_reset_reads_back_as_watchdog():
    b = board.new()
    try:
        m.reset()
        raise AssertionError("machine.reset() returned")
    except board.BoardReset as e:
        assert e.cause == m.WDT_RESET
    b.reboot()
    assert m.reset_cause() == m.WDT_RESET  # rp2: a commanded reboot looks like a hang
    assert b.resets[-1][1] == m.WDT_RESET and b.boots == 2
    b.power_cycle(100)
    assert m.reset_cause() == m.PWRON_RESET
    # re-arming with another timeout is what rp2's WDT() does
    m.WDT(timeout=2000)
    w = m.WDT(timeout=500)
    b.advance_ms(400)
    w.feed()
    try:
        b.advance_ms(600)
        raise AssertionError("no reset")
    except board.BoardReset:
        pass


def test_time_module_on_the_board_clock():
    from sim.rp2board import time as vtime

    b = board.new()
    b.advance_ms(1234)
    assert vtime.ticks_ms() == 1234
    vtime.sleep_ms(100)
    assert vtime.ticks_diff(vtime.ticks_ms(), 1234) == 100
    m.WDT(timeout=1000)
    try:
        vtime.sleep(2)
        raise AssertionError("no reset")
    except board.BoardReset:
        pass
    b.reboot()
    assert vtime.ticks_ms() == 0
    b.ticks_offset_ms = (1 << 30) - 5
    b.advance_ms(10)
    assert vtime.ticks_ms() == 5  # wrapped at 2**30
    assert vtime.ticks_diff(5, (1 << 30) - 5) == 10


# -- ADC: E11, the mux, the dividers -----------------------------------------


def _published(d):
    """rp2040adc_correction(d) of github.com/kitanokitsune/rp2040adc_
    correction, the mean of five Picos (an independent statement of the
    model's transfer: the input, in ideal codes, readout d stands for)."""
    for first, off in ((4081, None), (3711, 14), (3584, 15), (3583, 10), (3455, 5),
                       (2943, 6), (2560, 7), (2559, 3), (2431, -2), (2048, -1), (2047, 0),
                       (1664, 1), (1536, 2), (1535, -3), (1407, -7), (895, -6), (512, -5),
                       (511, -10), (16, -15)):
        if d >= first:
            return 4095 if off is None else d + off
    return 0


def test_e11_wide_codes():
    # RP2040-E11 as a Pico shows it: the readout just below each of 512,
    # 1536, 2560, 3584 is 10-11 codes wide, its neighbours 1, and the error
    # steps there and stays (nothing gives the width back)
    for k in board.E11_CODES:
        assert 10.0 <= board.code_width(k - 1) <= 11.0, k
        assert board.code_width(k - 2) == board.code_width(k) == 1.0
        hits = {}
        for i in range(-400, 400):  # inputs every 0.1 code around the spike
            c = board.adc_code((_published(k - 1) + i / 10) / 4096 * 3.3)
            hits[c] = hits.get(c, 0) + 1
        assert 100 <= hits[k - 1] <= 110 and max(
            hits[c] for c in hits if c != k - 1) <= 11, (k, hits[k - 1])
    # every readout a Pico gives (not a wide or a missing one) for the input
    # the published mean says it stands for; the wide ones at their middle
    for d in range(16, 4081):
        if board.code_width(d) == 1.0:
            assert board.adc_code((_published(d) + 0.25) / 4096 * 3.3) == d, d
        elif board.code_width(d) > 1.0:
            mid = (board._edge(d) + board._edge(d + 1)) / 2
            assert abs(mid - _published(d)) <= 0.5, d
    # the offset at the bottom (0 V reads 15) and an ideal ADC on request
    assert board.adc_code(0.0) == 15
    assert board.adc_code((1534 + 0.3) / 4096 * 3.3, e11=False) == 1534
    # 37.0 degC (the incubation setpoint) sits inside the wide 1535 (about
    # 39 codes per degC there), and so does every temperature from about
    # 36.92 to 37.17 degC: one readout for 0.25 degC
    for t in (36.92, 37.0, 37.17):
        assert board.adc_code(board.ntc_volts(t)) == 1535, t
    assert board.adc_code(board.ntc_volts(36.91)) == 1536
    assert board.adc_code(board.ntc_volts(37.18)) == 1534
    assert board.u16(4095) == 65535 and board.u16(1536) == 1536 << 4 | 6


def test_adc_mux_battery_vsys():
    b = board.new()
    s0 = m.Pin(10, m.Pin.OUT)
    s1 = m.Pin(11, m.Pin.OUT)
    adc = m.ADC(26)
    temps = (4.0, 37.0, -20.0, 60.0)
    for p in range(4):
        b.set_probe_c(p, temps[p])
    b.set_probe_open(3)
    for p in range(4):
        s0.value(p & 1)
        s1.value(p >> 1)
        code = board.adc_code(board.ntc_volts(temps[p]) if p < 3 else board.VREF)
        assert adc.read_u16() == board.u16(code), p
    assert b.adc_reads[0] == 4
    b.set_pack_v(12.6)
    code = m.ADC(27).read_u16() >> 4
    # 12.6 V * 22/122 = 2.272 V, ideal code 2820.7: the mean Pico reads 7 low there
    assert code == 2813
    mv = _published(code) * 3300 * 122 // (22 * 4096)
    assert abs(mv - 12600) < 10
    b.set_vsys_v(5.0)
    assert m.ADC(29).read_u16() >> 4 == 2070  # 5.0 V / 3 = 1.667 V, ideal 2068.7, 1 high
    assert m.ADC(3).read_u16() == m.ADC(m.Pin(29)).read_u16()
    try:
        m.ADC(25)
        raise AssertionError("no error")
    except ValueError:
        pass


# -- PWM and pins ------------------------------------------------------------


def test_pwm_duty_as_rp2_quantises_it():
    b = board.new()
    h = m.PWM(m.Pin(15), freq=1000, duty_u16=0)
    a = m.PWM(m.Pin(16), freq=20000, duty_u16=0)
    c = m.PWM(m.Pin(17), freq=20000, duty_u16=0)
    assert h.freq() == 1000 and a.freq() == 20000
    assert b.slice_top[0] == 6249 and b.slice_div16[0] == 16  # 125 MHz / 20 kHz
    # 1 kHz needs a divider: the smallest with TOP <= 65534 (rp2's choice)
    assert b.slice_top[7] == 64515 and b.slice_div16[7] == 31
    h.duty_u16(500 * 65535 // 1000)
    assert b.heater_permille() == 500
    a.duty_u16(300 * 65535 // 1000)
    assert b.peltier_permille() == 300  # IN1: cooling
    a.duty_u16(0)
    c.duty_u16(65535)
    assert b.peltier_permille() == -1000
    a.duty_u16(12345)
    cc = (12345 * 6250 + 32767) // 65535  # the level rp2 sets (rounded)
    assert b.pwm_cc[16] == cc and a.duty_u16() == (cc * 65535 + 3125) // 6250
    c.freq(1000)  # GP16 and GP17 share slice 0
    assert a.freq() == 1000
    h.deinit()
    assert b.heater_permille() == 0


def test_pins_record_drive_and_lid_pull_up():
    b = board.new()
    lid = m.Pin(14, m.Pin.IN)  # no pull: a floating pin
    b.set_lid_open(True)
    assert lid.value() == 0  # no pull-up, an open lid is not seen
    lid = m.Pin(14, m.Pin.IN, m.Pin.PULL_UP)
    assert lid.value() == 1
    b.set_lid_open(False)
    assert lid.value() == 0
    assert b.driven(10) is None
    p = m.Pin(10, m.Pin.OUT, value=1)
    assert b.driven(10) == 1 and p.value() == 1
    p.value(0)
    assert b.driven(10) == 0 and b.pin_writes[10] == 1
    assert len(m.unique_id()) == 8 and m.freq() == 125000000


# -- coupled to the simulator ------------------------------------------------


def _box():
    from sim.container import Container

    sc = {
        "container": {
            "payload_heat_capacity_j_per_k": 2000.0,
            "air_heat_capacity_j_per_k": 200.0,
            "wall_heat_capacity_j_per_k": 8000.0,
            "payload_air_conductance_w_per_k": 2.0,
            "air_wall_conductance_w_per_k": 1.0,
            "wall_conductance_w_per_k": 0.5,
            "heater_max_w": 20.0,
            "initial_c": 20.0,
        },
        "power": {"capacity_wh": 100.0},
        "sensors": {"probe": [{"node": "payload"}, {"node": "payload"}, {"node": "air"},
                              {"node": "air"}]},  # fmt: skip
        "phases": [
            {"name": "pad", "duration_s": 120, "ambient_c": 20.0},
            {"name": "splash", "duration_s": 600, "ambient_c": 15.0, "shock_g": 20.0,
             "humidity_percent": 80.0, "pressure_hpa": 1000.0},
        ],  # fmt: skip
        "faults": [],
    }
    return Container(sc, 1, "")


def test_coupled_plant_reaches_the_registers():
    from sim.rp2board.couple import Coupling

    b = board.new()
    box = _box()
    c = Coupling(b, box)
    heater = m.PWM(m.Pin(15), freq=1000, duty_u16=65535)
    i2c = _i2c()
    i2c.writeto_mem(0x18, 0x20 | 0x80, b"\x57\x00\x40\x38\x08")  # 100 Hz, 16 g, LIR
    i2c.writeto_mem(0x18, 0x32, bytes([27]))  # 5 g
    i2c.writeto_mem(0x18, 0x30, b"\x2a")
    for t in range(0, 120, 10):
        c.step(t, 10)
    assert c.duties() == (1000, 0)
    assert box.plant.heater_w == 20.0 and box.plant.t_air > 21.0
    s0 = m.Pin(10, m.Pin.OUT)
    s1 = m.Pin(11, m.Pin.OUT)
    adc = m.ADC(26)
    for p, node in ((0, box.plant.t_payload), (2, box.plant.t_air)):
        s0.value(p & 1)
        s1.value(p >> 1)
        want = board.adc_code(board.ntc_volts(round(node * 100) / 100))  # 10 mdegC quant
        assert abs((adc.read_u16() >> 4) - want) <= 1, p
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0  # 1 g on the pad
    heater.duty_u16(0)
    c.step(120, 10)  # the splash phase's first step: its shock
    assert c.duties() == (0, 0)
    assert i2c.readfrom_mem(0x18, 0x31, 1)[0] == 0x40 | 0x20
    i2c.writeto_mem(0x76, 0xF2, b"\x01")
    i2c.writeto_mem(0x76, 0xF4, b"\xb7")  # x16 T and P, normal
    c.step(130, 10)
    cal = bme280.EXAMPLE
    at, ap, ah = _words(i2c.readfrom_mem(0x76, 0xF7, 8))
    ti, tf = comp_t_int(cal, at)
    assert abs(ti / 100 - box.plant.t_air) < 0.02
    assert abs(comp_p_int64(cal, ap, tf) / 25600 - 1000.0) < 0.01
    assert abs(comp_h_int(cal, ah, tf) / 1024 - 80.0) < 0.01
    code = _published(m.ADC(27).read_u16() >> 4)  # the mean Pico's readout, corrected
    assert abs(code * 3300 * 122 // (22 * 4096) - box.battery.voltage_mv) < 15
    box.sensors.env_fail()
    c.step(140, 10)
    try:
        i2c.readfrom_mem(0x76, 0xF7, 8)
        raise AssertionError("no error")
    except OSError as e:
        assert e.args[0] == 5


def test_install_and_reads_allocate_nothing():
    import sys

    b = board.new()
    machine = board.install(with_time=True)
    try:
        import machine as imported

        assert imported is machine and imported.WDT_RESET == 3
        if sys.implementation.name == "micropython":
            import time

            b.advance_ms(77)
            assert time.ticks_ms() == 77  # the HAL's uptime is the board's
    finally:
        board.uninstall()
    s0 = m.Pin(10, m.Pin.OUT)
    adc = m.ADC(26)
    i2c = _i2c()
    buf = bytearray(8)
    lid = m.Pin(14, m.Pin.IN, m.Pin.PULL_UP)
    pwm = m.PWM(m.Pin(15), freq=1000, duty_u16=0)
    w = m.WDT(timeout=8000)
    i2c.writeto_mem(0x76, 0xF4, b"\xb7")
    i2c.writeto_mem(0x18, 0x20, b"\x57")
    if sys.implementation.name != "micropython":
        return
    import micropython

    six = memoryview(buf)[:6]
    micropython.heap_lock()  # what a tick does on the board, allocation-free
    try:
        for k in range(100):
            s0.value(k & 1)
            adc.read_u16()
            i2c.readfrom_mem_into(0x76, 0xF7, buf)
            i2c.readfrom_mem_into(0x18, 0x28 | 0x80, six)
            lid.value()
            pwm.duty_u16(k * 100)
            w.feed()
            b.advance_ms(150)  # conversions and samples complete in the reads
    finally:
        micropython.heap_unlock()
