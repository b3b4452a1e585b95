# The reference board's HAL: Raspberry Pi Pico (RP2040). Wiring, the
# battery divider and the accuracy budgets in docs/reference-board.md.
# Type-checked against micropython-rp2-stubs by `make typecheck`; on the
# unix port it runs against a `machine` of the tests' own.
#
#   GP26/ADC0 via CD74HC4051 mux on GP10-11: 4 NTC probes (10 kOhm at
#     25 degC, beta 3950) in dividers with 10 kOhm to 3V3
#   GP27/ADC1: the 3S pack through 100 kOhm over 22 kOhm (x 22/122)
#   GP4/GP5 I2C0: BME280 humidity/pressure (0x76), LIS3DH accelerometer (0x18)
#   GP15: heater MOSFET gate, PWM 1 kHz
#   GP16/GP17: DRV8871 H-bridge IN1/IN2 for the Peltier, PWM 20 kHz
#   GP14: lid reed switch to GND, pull-up: high = open
#
# The tick calls read_probes, read_env, battery_mv, shock_mg each second:
# they allocate nothing (buffers made here, every intermediate value a
# small int, which on the board is 31 bits: see _mul).
import struct

import machine

try:
    from micropython import const
except ImportError:  # CPython, in tests with a stand-in machine

    def const(x):  # type: ignore[misc]  # the stubs' const is generic
        return x


from firmware.hal import NPROBES, Hal
from protocol import block  # the layout the firmware carries (protocol.log is the host's: 13.9 KB)

# NTC lookup: ADC counts (16-bit) at 5 degC steps from -40 to 85 degC, 26
# little-endian u16, falling (warmer -> lower resistance -> fewer counts):
# int(65535 R / (R + 10 kOhm)), R = 10 kOhm exp(3950 (1/T - 1/298.15 K)).
# A bytes constant, not a list made at boot: it stays in flash with the
# bytecode, and every port reads the same counts (rp2's floats are single
# precision). tests/mp/test_rp2_drivers.py recomputes it from the formula.
_T_MIN = const(-40000)
_T_STEP = const(5000)
_NTC = const(b"\xc7\xf9\x37\xf7\xd1\xf3\x68\xef\xcf\xe9\xdf\xe2\x7c\xda\x9c\xd0"
             b"\x4f\xc5\xbc\xb8\x28\xab\xea\x9c\x65\x8e\xff\x7f\x11\x72\xe6\x64"
             b"\xb1\x58\x94\x4d\x99\x43\xbf\x3a\xf8\x32\x30\x2c\x4f\x26\x3a\x21"
             b"\xda\x1c\x17\x19")

# RP2040-E11: the ADC's codes 511, 1535, 2559 and 3583 are each about ten
# codes wide, and the codes between drift by a code or two. Per 128-code
# bucket (code >> 7), the error to remove, plus 16: the mean of five Picos
# measured against a reference (github.com/kitanokitsune/rp2040adc_
# correction, its rp2040adc_correction table, edges rounded to the bucket).
# A wide code reads as its middle: the mean of its two buckets' offsets.
_E11 = const(b"\x01\x01\x01\x01\x0b\x0b\x0b\x0a\x0a\x0a\x0a\x09\x12\x11\x11\x11"
             b"\x0f\x0f\x0f\x0e\x17\x17\x17\x16\x16\x16\x16\x15\x1f\x1e\x1e\x1e")
_SAMPLES = const(8)  # ADC reads averaged per value (after one discarded)

# The pack divider: mV = volts at the pin x 122/22, 3300 mV full scale,
# so 18300 mV at the full 16-bit count.
_PACK_MV = const(18300)

_BME = const(0x76)
_LIS = const(0x18)
# LIS3DH interrupt thresholds, 186 mg a step at +-16 g: IG1 at 81 (15.07 g)
# and IG2 at 108 (20.09 g), just above the profiles' 15 g and 20 g alarms.
_IG1_MG = const(15066)
_IG2_MG = const(20088)
# LIS3DH set-up, (register, value) pairs in order: CTRL_REG1 400 Hz, x y z
# on; CTRL_REG4 block update, +-16 g, high resolution (12 bits, 12 mg a
# digit); CTRL_REG5 FIFO on, IG1 and IG2 latched; FIFO_CTRL stream mode (the
# last 32 samples); IG1 and IG2: threshold, no duration, OR of X/Y/Z high.
_LIS_SET = const(b"\x20\x77\x23\xb8\x24\x4a\x2e\x80"
                 b"\x32\x51\x33\x00\x30\x2a\x36\x6c\x37\x00\x34\x2a")
_WDT_MS = const(8000)  # under rp2's 8388 ms maximum; fed after each healthy tick


# BME280 compensation: the datasheet's 32-bit integer formulas (BME280
# datasheet 4.2.3 and 8.2; BMP280 3.11.3), exactly, with each product that
# can pass 2^30 on the chip's range split so no intermediate does: beyond
# 31 bits a MicroPython int on the board is a heap object. tests/mp/
# test_rp2_drivers.py holds them to the datasheet's forms bit for bit and
# to the 2^30 bound. The calibration is a tuple: T1..T3, P1..P9, H1..H6.


def _mul(a, b, s):
    # a * b >> s for s >= 12, exact: a's low 12 bits times b apart from the
    # rest, so nothing wider than b times a's top bits is ever formed
    return ((a >> 12) * b + ((a & 4095) * b >> 12)) >> (s - 12)


def _t_fine(c, raw):
    d = (raw >> 4) - c[0]
    return _mul(((raw >> 3) - (c[0] << 1)) << 1, c[1], 12) + _mul(_mul(d, d, 12), c[2], 14)


def _pressure(c, t, raw):
    """Pa, or 0 for a reading the formula cannot place (t: t_fine)."""
    v = (t >> 1) - 64000
    s = v >> 2
    q = _mul(s << 1, s, 12)  # s * s >> 11
    # the datasheet's var2 >> 12: (q * P6 + 2 * v * P5) >> 14, plus P4 << 4,
    # both products taken 7 bits apart: high parts, then the low parts' sum
    k = (c[8] * (q >> 7) + c[7] * (v >> 6) + ((c[8] * (q & 127) + c[7] * ((v & 63) << 1)) >> 7)
         >> 7) + (c[6] << 4)
    # its var1: ((P3 * (s * s >> 13) >> 3) + (P2 * v >> 1)) >> 18, 10 bits apart
    q >>= 2
    w = ((c[4] * (v >> 10) << 2) + c[5] * (q >> 10)
         + ((c[4] * (v & 1023) >> 1) + (c[5] * (q & 1023) >> 3) >> 7)) >> 11
    w = _mul(w + 32768, c[3], 15)
    n = 1048576 - raw - k
    if w <= 0 or n <= 0:
        return 0
    # p = n * 3125 * 2 // w (n * 3125 // w * 2 where the datasheet's
    # unsigned 32 bits would overflow), by quotient and remainder
    d = n // w
    r = n - d * w
    p = 6250 * d + (6250 * r // w if n < 687195 else 3125 * r // w * 2)
    x = p >> 3
    return p + ((_mul(x * x >> 13, c[11], 12) + _mul(p >> 2, c[10], 13) + c[9]) >> 4)


def _humidity(c, t, raw):
    """%RH in 1/1024, 0..102400 (t: t_fine)."""
    x = t - 76800
    h = c[16]
    # ((raw << 14) - (H4 << 20) - H5 * x + 16384) >> 15, x split at 4 bits
    a = ((raw - (c[15] << 6) + 1 << 10) - h * (x >> 4) + (-h * (x & 15) >> 4)) >> 11
    b = _mul((x * c[17] >> 10) << 2, (x * c[14] >> 11) + 32768, 12) + 2097152
    b = _mul(b, c[13], 13) + 1 >> 1  # (b * H2 + 8192) >> 14
    # v = a * b; the result is (v - corr(v)) >> 12, clamped to 100 %, taken
    # as v >> 12 and v's low 12 bits. v >= 2^29 is over 100 % after any
    # correction (H1 <= 255), so the squares stay under 2^28.
    v = _mul(b, a, 12)
    if v < 0:
        return 0
    if v >= 131072:
        return 102400
    v += ((a & 4095) * (b & 4095) & 4095) - (((v >> 3) * (v >> 3) >> 7) * c[12] >> 4) >> 12
    return 0 if v < 0 else 102400 if v > 102400 else v


class Rp2Hal(Hal):
    """The Pico's HAL, its two I2C chips' drivers in it.

    BME280 (read_env): forced mode, oversampling x1 for T, P and H, filter
    off; each read takes the measurement the previous read started (1 s old
    at the tick) and starts the next, so the tick never waits the ~9 ms of a
    measurement, and a chip that reset is found by its reset-value words
    and given ctrl_hum again (its calibration words it keeps).

    LIS3DH (shock_mg): +-16 g, 400 Hz, high resolution, FIFO in stream mode
    (the last 32 samples, 80 ms), and both interrupt generators latched on
    any axis above 15.07 g (IG1) and 20.09 g (IG2): the largest magnitude in
    the FIFO, raised to the threshold of a latched generator it falls short
    of (a shock in the second's other 920 ms is known to have passed the
    threshold, not by how much).

    Every attribute has a name the firmware or MicroPython already has
    (probes, battery, lid, heater, peltier, env, shock, feed, io, buf, one,
    data): each name of its own would be a qstr, and the 17 private names
    it had took the firmware past the qstr pool's step, 7 KiB the 64 KiB
    heap does not have; the drivers were classes of their own, 1 KiB of
    heap more (tests/test_rp2_heap.py). The hardware objects are held, not
    their bound methods, which would each be an object on the heap."""

    def __init__(self):
        m = machine
        pin = m.Pin
        out = pin.OUT
        # the probes' ADC (GP26) and the mux's select lines S0, S1
        self.probes = (m.ADC(26), pin(10, out), pin(11, out))
        self.battery = m.ADC(27)  # the pack's divider on GP27
        self.lid = pin(14, pin.IN, pin.PULL_UP)
        self.heater = m.PWM(pin(15), freq=1000, duty_u16=0)
        # the H-bridge's IN1 (cools) and IN2
        self.peltier = (m.PWM(pin(16), freq=20000, duty_u16=0),
                        m.PWM(pin(17), freq=20000, duty_u16=0))
        self.io = m.I2C(0, scl=pin(5), sda=pin(4), freq=400000)
        self.buf = bytearray(8)  # the BME280's data registers
        self.data = bytearray(6)  # one LIS3DH sample (x, y, z)
        self.one = bytearray(1)
        self.env = None  # the BME280's calibration words, once read
        self.shock = False  # the LIS3DH set up
        self.start()
        self.feed = m.WDT(timeout=_WDT_MS)

    def start(self):
        """Set up each chip not set up yet. The BME280: check its id
        (0x60), read the calibration words once, set ctrl_hum before
        ctrl_meas (it takes effect at that write) and start a measurement.
        The LIS3DH: check its id (0x33), the _LIS_SET registers in order,
        the latches read clear. A chip that does not answer stays not set
        up; read_env and shock_mg call this again until it is."""
        io = self.io
        if self.env is None:
            a = bytearray(26)
            e = bytearray(7)
            try:
                io.readfrom_mem_into(_BME, 0xD0, e)  # chip id, then 6 reserved
                if e[0] == 0x60:
                    io.readfrom_mem_into(_BME, 0x88, a)
                    io.readfrom_mem_into(_BME, 0xE1, e)
                    io.writeto_mem(_BME, 0xF2, b"\x01")  # ctrl_hum: osrs_h x1
                    io.writeto_mem(_BME, 0xF5, b"\x00")  # config: filter off (sleep here)
                    io.writeto_mem(_BME, 0xF4, b"\x25")  # ctrl_meas: T x1, P x1, forced
                    h4 = (e[3] ^ 0x80) - 0x80 << 4  # signed 12 bits: 0xE4 high, 0xE5 low nibble
                    h5 = (e[5] ^ 0x80) - 0x80 << 4  # 0xE6 high, 0xE5 high nibble
                    self.env = struct.unpack_from("<HhhHhhhhhhhh", a) + (
                        a[25], e[0] | ((e[1] ^ 0x80) - 0x80) << 8, e[2], h4 | e[4] & 15,
                        h5 | e[4] >> 4, (e[6] ^ 0x80) - 0x80)
            except OSError:
                pass
        if not self.shock:
            one = self.one
            try:
                io.readfrom_mem_into(_LIS, 0x0F, one)  # WHO_AM_I
                if one[0] == 0x33:
                    s = _LIS_SET
                    for i in range(0, len(s), 2):
                        io.writeto_mem(_LIS, s[i], s[i + 1 : i + 2])
                    io.readfrom_mem_into(_LIS, 0x31, one)  # clear the latches
                    io.readfrom_mem_into(_LIS, 0x35, one)
                    self.shock = True
            except OSError:
                pass

    def uptime_ms(self):
        import time

        return time.ticks_ms()

    def sample(self, source):
        """_SAMPLES reads of one ADC channel (source: its ADC) with E11
        corrected, summed, in 1/16 code; the first read after the mux moved
        is dropped."""
        source.read_u16()
        s = 0
        for _ in range(_SAMPLES):
            c = source.read_u16() >> 4  # the 12-bit code
            k = c >> 7
            if c & 1023 == 511:
                s += (c << 4) + (_E11[k] + _E11[k + 1] - 32 << 3)
            else:
                s += c + _E11[k] - 16 << 4
        return s

    def read_probes(self, out):
        failed = 0
        adc, s0, s1 = self.probes
        t = _NTC
        for p in range(NPROBES):
            s0.value(p & 1)
            s1.value(p >> 1 & 1)
            counts = self.sample(adc) // _SAMPLES
            if counts > (t[0] | t[1] << 8) or counts < (t[-2] | t[-1] << 8):
                failed |= 1 << p  # open (near 3V3) or shorted (near 0)
                continue
            i = 0  # the table's byte offset: entry i >> 1
            while (t[i + 2] | t[i + 3] << 8) > counts:
                i += 2
            hi = t[i] | t[i + 1] << 8
            span = hi - (t[i + 2] | t[i + 3] << 8)
            out[p] = _T_MIN + (i >> 1) * _T_STEP + (hi - counts) * _T_STEP // span
        return failed

    def read_env(self, out):
        """out[0] humidity permille RH, out[1] pressure 0.1 hPa; 1 if the
        BME280 did not answer or had no measurement."""
        c = self.env
        if c is None:
            self.start()
            return 1
        b = self.buf
        io = self.io
        try:
            io.readfrom_mem_into(_BME, 0xF7, b)
            p = b[0] << 12 | b[1] << 4 | b[2] >> 4
            t = b[3] << 12 | b[4] << 4 | b[5] >> 4
            h = b[6] << 8 | b[7]
            skipped = t == 0x80000 or p == 0x80000 or h == 0x8000
            if skipped:  # reset values: the chip reset (or had not measured yet)
                io.writeto_mem(_BME, 0xF2, b"\x01")
            io.writeto_mem(_BME, 0xF4, b"\x25")  # the next one, read next tick
        except OSError:
            return 1
        if skipped:
            return 1
        t = _t_fine(c, t)
        p = _pressure(c, t, p)
        if p == 0:
            return 1
        out[0] = _humidity(c, t, h) * 5 + 256 >> 9
        out[1] = (p + 5) // 10
        return 0

    def battery_mv(self):
        return (self.sample(self.battery) >> 4) * _PACK_MV >> 15

    def lid_open(self):
        return self.lid.value() == 1

    def shock_mg(self):
        if not self.shock:
            self.start()
            return 0
        io = self.io
        b = self.data
        one = self.one
        m = 0
        try:
            io.readfrom_mem_into(_LIS, 0x2F, one)  # FIFO_SRC
            # overrun: full; empty (read faster than 400 Hz): the latest sample
            n = 32 if one[0] & 0x40 else one[0] & 31 or 1
            for _ in range(n):
                io.readfrom_mem_into(_LIS, 0xA8, b)  # OUT_X_L.., auto-increment
                x = ((b[1] << 8 | b[0]) ^ 0x8000) - 0x8000 >> 4
                y = ((b[3] << 8 | b[2]) ^ 0x8000) - 0x8000 >> 4
                z = ((b[5] << 8 | b[4]) ^ 0x8000) - 0x8000 >> 4
                x = x * x + y * y + z * z
                if x > m:
                    m = x
            io.readfrom_mem_into(_LIS, 0x35, one)  # INT2_SRC: reading clears
            hi = one[0] & 0x40
            io.readfrom_mem_into(_LIS, 0x31, one)  # INT1_SRC
            lo = one[0] & 0x40
        except OSError:
            return 0
        # 12 mg a digit: mg = 3 * isqrt(16 m) (Newton, in small ints)
        m <<= 4
        x = m
        y = x + 1 >> 1
        while y < x:
            x = y
            y = x + m // x >> 1
        x *= 3
        if hi and x < _IG2_MG:
            return _IG2_MG
        if lo and x < _IG1_MG:
            return _IG1_MG
        return x

    def set_heater(self, value):
        self.heater.duty_u16(value * 65535 // 1000)  # per mille

    def set_peltier(self, value):
        duty = abs(value) * 65535 // 1000  # per mille, positive cools
        self.peltier[0].duty_u16(duty if value > 0 else 0)
        self.peltier[1].duty_u16(duty if value < 0 else 0)

    def feed_watchdog(self):
        self.feed.feed()

    def reset_cause(self):
        # asked when the firmware boots: rp2's reset_cause() holds for the
        # whole boot (the watchdog's reason register), so it is not kept.
        # It has two answers (ports/rp2/modmachine.c): WDT_RESET, after
        # the watchdog or machine.reset(), and PWRON_RESET, after anything
        # else (power-on, brown-out, the RUN pin)
        if machine.reset_cause() == machine.WDT_RESET:
            return block.RESET_WATCHDOG
        return block.RESET_POWER_ON

    def storage_root(self):
        return ""  # the board's littlefs is mounted at /

    def simulated(self):
        # rp2's machine is built in; a model of it (sim/rp2board) is a
        # Python module, which has a __file__ (a name the port has: no qstr
        # spent). A log made on the model then says it is simulated, as
        # the simulator's does, and can never pass for a flight's.
        return hasattr(machine, "__file__")
