# Bosch BME280 (humidity, pressure, temperature) at register level, after
# the BME280 datasheet (BST-BME280-DS002): memory map (5.3, 5.4), modes
# (3.3), measurement time (9.1), IIR filter (3.4.4), compensation (4.2.3,
# 8.1).
#
#   0x88..0xA1  calib00..25: dig_T1..T3, dig_P1..P9 (little-endian words),
#               0xA1 dig_H1
#   0xD0 id = 0x60        0xE0 reset (write 0xB6: power-on reset)
#   0xE1..0xE7  dig_H2 (s16), dig_H3 (u8), dig_H4/H5 (s12, sharing 0xE5),
#               dig_H6 (s8)
#   0xF2 ctrl_hum   osrs_h[2:0]; takes effect at the next write of ctrl_meas
#   0xF3 status     measuring[3] (a conversion runs), im_update[0] (0 here)
#   0xF4 ctrl_meas  osrs_t[7:5] osrs_p[4:2] mode[1:0]: 00 sleep, 01/10
#                   forced (one measurement, then sleep), 11 normal
#   0xF5 config     t_sb[7:5] filter[4:2] spi3w_en[0]; a write in normal
#                   mode is ignored (5.4.6: "may be ignored")
#   0xF7..0xFE      press msb lsb xlsb[7:4], temp msb lsb xlsb[7:4], hum
#                   msb lsb
#
# After a power-on or soft reset the chip sleeps and the data registers hold
# their reset values (0x80000 temperature and pressure, 0x8000 humidity):
# nothing is measured until the driver sets a mode. A skipped measurement
# (osrs 0) leaves the reset value. Without the IIR filter a word has
# 16 + (osrs - 1) bits, the rest zero; with it, 20 bits (T and P only).
#
# The true state (degC, Pa, %RH) becomes raw ADC words by inverting the
# datasheet's double-precision compensation (8.1) with this chip's
# calibration words: a bisection over the words, which are monotonic in the
# quantity, choosing the word whose compensated value is nearest. The
# inversion runs when the harness sets the state, never while the firmware
# reads registers (a read only copies bytes: it allocates nothing).
#
# A measurement takes the datasheet's maximum time (9.1) on the board's
# clock: the status register says measuring until it is done, and the data
# registers change only then (burst reads are consistent: shadowing, 5.3).
# The chip keeps its state across an RP2040 reset (it is powered by the
# board, not reset by the MCU); board.power_cycle() resets it.

# The Bosch BMP280 datasheet's compensation example (../shared/reference.md)
# for T and P; humidity words of a production part.
EXAMPLE = {
    "dig_T1": 27504, "dig_T2": 26435, "dig_T3": -1000,
    "dig_P1": 36477, "dig_P2": -10685, "dig_P3": 3024, "dig_P4": 2855,
    "dig_P5": 140, "dig_P6": -7, "dig_P7": 15500, "dig_P8": -14600, "dig_P9": 6000,
    "dig_H1": 75, "dig_H2": 362, "dig_H3": 0, "dig_H4": 313, "dig_H5": 50, "dig_H6": 30,
}  # fmt: skip

ADDR = 0x76
CHIP_ID = 0x60
RESET_TP = 0x80000
RESET_H = 0x8000

_OSRS = (0, 1, 2, 4, 8, 16, 16, 16)
_T_SB_US = (500, 62500, 125000, 250000, 500000, 1000000, 10000, 20000)
_FILTER = (1, 2, 4, 8, 16, 16, 16, 16)


def meas_time_us(osrs_t, osrs_p, osrs_h):
    """Maximum measurement time (datasheet 9.1), microseconds."""
    t = 1250
    if osrs_t:
        t += 2300 * _OSRS[osrs_t]
    if osrs_p:
        t += 2300 * _OSRS[osrs_p] + 575
    if osrs_h:
        t += 2300 * _OSRS[osrs_h] + 575
    return t


# -- the datasheet's double-precision compensation (8.1) ---------------------


def comp_t(c, adc_t):
    """(degC, t_fine) for a raw temperature word."""
    v1 = (adc_t / 16384.0 - c["dig_T1"] / 1024.0) * c["dig_T2"]
    d = adc_t / 131072.0 - c["dig_T1"] / 8192.0
    v2 = d * d * c["dig_T3"]
    return (v1 + v2) / 5120.0, int(v1 + v2)


def comp_p(c, adc_p, t_fine):
    """Pa for a raw pressure word."""
    v1 = t_fine / 2.0 - 64000.0
    v2 = v1 * v1 * c["dig_P6"] / 32768.0
    v2 = v2 + v1 * c["dig_P5"] * 2.0
    v2 = v2 / 4.0 + c["dig_P4"] * 65536.0
    v1 = (c["dig_P3"] * v1 * v1 / 524288.0 + c["dig_P2"] * v1) / 524288.0
    v1 = (1.0 + v1 / 32768.0) * c["dig_P1"]
    if v1 == 0.0:
        return 0.0
    p = 1048576.0 - adc_p
    p = (p - v2 / 4096.0) * 6250.0 / v1
    v1 = c["dig_P9"] * p * p / 2147483648.0
    v2 = p * c["dig_P8"] / 32768.0
    return p + (v1 + v2 + c["dig_P7"]) / 16.0


def comp_h(c, adc_h, t_fine):
    """%RH for a raw humidity word (not clamped, so it stays monotonic)."""
    h = t_fine - 76800.0
    h = (adc_h - (c["dig_H4"] * 64.0 + c["dig_H5"] / 16384.0 * h)) * (
        c["dig_H2"] / 65536.0 * (1.0 + c["dig_H6"] / 67108864.0 * h * (
            1.0 + c["dig_H3"] / 67108864.0 * h))
    )
    return h * (1.0 - c["dig_H1"] * h / 524288.0)


def _nearest(f, target, lo, hi, rising):
    """The word in [lo, hi] whose f(word) is nearest target, f monotonic."""
    a, b = lo, hi
    while b - a > 1:
        m = (a + b) // 2
        if (f(m) < target) == rising:
            a = m
        else:
            b = m
    return a if abs(f(a) - target) <= abs(f(b) - target) else b


def raw_words(c, t_c, p_pa, rh):
    """(adc_T, adc_P, adc_H) that compensate to the true values with
    calibration c: the inverse of 8.1, nearest word."""
    adc_t = _nearest(lambda w: comp_t(c, w)[0], t_c, 0, 0xFFFFF, True)
    t_fine = comp_t(c, adc_t)[1]
    adc_p = _nearest(lambda w: comp_p(c, w, t_fine), p_pa, 0, 0xFFFFF, False)
    adc_h = _nearest(lambda w: comp_h(c, w, t_fine), rh, 0, 0xFFFF, True)
    return adc_t, adc_p, adc_h


def calib_bytes(c):
    """The calibration registers: (0x88..0xA1 bytes, 0xE1..0xE7 bytes)."""
    lo = bytearray(26)
    words = ("dig_T1", "dig_T2", "dig_T3", "dig_P1", "dig_P2", "dig_P3", "dig_P4",
             "dig_P5", "dig_P6", "dig_P7", "dig_P8", "dig_P9")  # fmt: skip
    for i in range(12):
        w = c[words[i]] & 0xFFFF
        lo[2 * i] = w & 0xFF
        lo[2 * i + 1] = w >> 8
    lo[25] = c["dig_H1"] & 0xFF
    hi = bytearray(7)
    h2 = c["dig_H2"] & 0xFFFF
    hi[0] = h2 & 0xFF
    hi[1] = h2 >> 8
    hi[2] = c["dig_H3"] & 0xFF
    h4 = c["dig_H4"] & 0xFFF
    h5 = c["dig_H5"] & 0xFFF
    hi[3] = h4 >> 4
    hi[4] = (h4 & 0x0F) | (h5 & 0x0F) << 4
    hi[5] = h5 >> 4
    hi[6] = c["dig_H6"] & 0xFF
    return lo, hi


class Bme280:
    def __init__(self, calib=None, addr=ADDR):
        self.addr = addr
        self.calib = dict(calib or EXAMPLE)
        self.regs = bytearray(256)
        self.ptr = 0
        self.measurements = 0  # conversions completed (for tests)
        self.t_c = 20.0
        self.p_pa = 101325.0
        self.rh = 40.0
        self.adc = [0, 0, 0]  # T, P, H words for the true state
        self.power_on()
        self.set_true(self.t_c, self.p_pa, self.rh, 0)

    # -- harness -------------------------------------------------------------

    def power_on(self):
        """Power-on (or soft) reset: registers to their reset values, sleep."""
        r = self.regs
        for i in range(256):
            r[i] = 0
        lo, hi = calib_bytes(self.calib)
        r[0x88 : 0x88 + 26] = lo
        r[0xE1 : 0xE1 + 7] = hi
        r[0xD0] = CHIP_ID
        self._put(RESET_TP, RESET_TP, RESET_H)
        self.osrs_h = 0  # latched from ctrl_hum at a write of ctrl_meas
        self.busy_until = -1  # end of the running conversion, us (-1: none)
        self.filt = None  # IIR state [T, P] or None

    def set_true(self, t_c, p_pa, rh, now_us):
        """What the chip senses from now on (degC, Pa, %RH)."""
        self.sync(now_us)
        self.t_c = t_c
        self.p_pa = p_pa
        self.rh = rh
        self.adc = list(raw_words(self.calib, t_c, p_pa, rh))

    def set_raw(self, adc_t, adc_p, adc_h, now_us):
        """Raw words to measure from now on (bypasses the inversion)."""
        self.sync(now_us)
        self.adc = [adc_t, adc_p, adc_h]

    def mode(self):
        return self.regs[0xF4] & 3

    # -- I2C -----------------------------------------------------------------

    def point(self, reg):
        self.ptr = reg & 0xFF

    def read_into(self, buf, now_us):
        """A burst read from the register pointer (auto-increment)."""
        self.sync(now_us)
        r = self.regs
        p = self.ptr
        busy = self.busy_until >= 0
        for i in range(len(buf)):
            if p == 0xF3:
                buf[i] = 0x08 if busy else 0
            else:
                buf[i] = r[p]
            p = (p + 1) & 0xFF
        self.ptr = p

    def write_from(self, buf, start, now_us):
        """Data bytes after the register address: the first goes to the
        pointer, then (address, data) pairs (a BME280 write never
        auto-increments, 5.2.1)."""
        self.sync(now_us)
        n = len(buf)
        i = start
        reg = self.ptr
        while i < n:
            self._write(reg, buf[i], now_us)
            if i + 1 >= n:
                break
            reg = buf[i + 1]
            i += 2

    def _write(self, reg, v, now_us):
        r = self.regs
        if reg == 0xE0:
            if v == 0xB6:
                self.power_on()
        elif reg == 0xF2:
            r[0xF2] = v & 0x07
        elif reg == 0xF5:
            if r[0xF4] & 3 != 3:  # ignored in normal mode
                r[0xF5] = v & 0xFD  # bit 1 does not exist
        elif reg == 0xF4:
            r[0xF4] = v
            self.osrs_h = r[0xF2] & 7
            m = v & 3
            if m and self.busy_until < 0:  # forced: one conversion, then sleep
                self.busy_until = now_us + self._tmeas()
        # every other register is read-only

    # -- measurement ---------------------------------------------------------

    def _tmeas(self):
        f = self.regs[0xF4]
        return meas_time_us(f >> 5, f >> 2 & 7, self.osrs_h)

    def sync(self, now_us):
        """Finish the conversions due by now_us (normal mode runs on)."""
        while self.busy_until >= 0 and self.busy_until <= now_us:
            end = self.busy_until
            self.busy_until = -1
            self._finish()
            m = self.regs[0xF4] & 3
            if m == 3:
                sb = _T_SB_US[self.regs[0xF5] >> 5]
                tm = self._tmeas()
                start = end + sb
                late = now_us - (start + tm)
                if late > 64 * (tm + sb):  # skip idle cycles: the filter has settled
                    start += (late // (tm + sb) - 64) * (tm + sb)
                self.busy_until = start + tm
            elif m:
                self.regs[0xF4] &= 0xFC  # forced mode ends in sleep

    def _finish(self):
        r = self.regs
        ot = r[0xF4] >> 5
        op = r[0xF4] >> 2 & 7
        oh = self.osrs_h
        coef = _FILTER[r[0xF5] >> 2 & 7]
        t, p, h = self.adc
        if coef > 1:
            f = self.filt
            if f is None:
                f = self.filt = [t, p]
            else:
                f[0] = (f[0] * (coef - 1) + t) // coef
                f[1] = (f[1] * (coef - 1) + p) // coef
            t, p = f[0], f[1]
        else:
            self.filt = None
            t = t >> _drop(ot) << _drop(ot)
            p = p >> _drop(op) << _drop(op)
        self.measurements += 1
        # a skipped quantity (osrs 0) reads its reset value
        self._put(t if ot else RESET_TP, p if op else RESET_TP, h if oh else RESET_H)

    def _put(self, t, p, h):
        r = self.regs
        r[0xF7] = p >> 12 & 0xFF
        r[0xF8] = p >> 4 & 0xFF
        r[0xF9] = (p & 0x0F) << 4
        r[0xFA] = t >> 12 & 0xFF
        r[0xFB] = t >> 4 & 0xFF
        r[0xFC] = (t & 0x0F) << 4
        r[0xFD] = h >> 8 & 0xFF
        r[0xFE] = h & 0xFF


def _drop(osrs):
    """Low bits of a 20-bit word that are zero without the IIR filter: the
    word has 16 + (osrs - 1) bits, osrs the oversampling code 1..5."""
    return 0 if osrs >= 5 else (4 if osrs == 0 else 5 - osrs)
