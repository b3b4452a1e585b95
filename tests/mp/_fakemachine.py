# A stand-in `machine` for unit tests of firmware/hal/rp2.py (both
# interpreters): just what the HAL touches, with the chips as small
# register files (FakeBme280, FakeLis3dh) on one I2C bus and the ADC codes
# set by the test. The register-level chip models coupled to the simulator
# are sim/rp2board/; this is only enough to test the drivers alone.
import sys

PWRON_RESET = 1
WDT_RESET = 3

pins = {}  # pin number -> level driven
codes = {27: 0}  # ADC pin -> its input, in codes; the probe mux: 100 + select
noise = [0]  # added to successive inputs in turn (the test sets it)


def ideal(u):
    return u if isinstance(u, int) else int(u + 0.5)  # ints: no float on the heap


transfer = [ideal]  # input (codes) -> the code the ADC gives: E11 if the test says
devices = {}  # I2C address -> chip


def install():
    """Import the HAL afresh with this module as its `machine` (taken out
    of sys.modules again: the HAL keeps its reference)."""
    sys.modules["machine"] = sys.modules[__name__]
    sys.modules.pop("firmware.hal.rp2", None)
    __import__("firmware.hal.rp2")
    del sys.modules["machine"]
    return sys.modules["firmware.hal.rp2"]


def reset_cause():
    return PWRON_RESET


class Pin:
    OUT = 1
    IN = 0
    PULL_UP = 1

    def __init__(self, n, mode=0, pull=None):
        self.n = n
        pins[n] = 1 if pull else 0

    def value(self, v=None):
        if v is None:
            return pins[self.n]
        pins[self.n] = v


class ADC:
    def __init__(self, pin):
        self.pin = pin
        self.k = 0

    def read_u16(self):
        u = codes[self.pin if self.pin != 26 else 100 + pins[10] + 2 * pins[11]]
        c = transfer[0](u + noise[self.k % len(noise)])
        self.k += 1
        c = 0 if c < 0 else 4095 if c > 4095 else c
        return c << 4 | c >> 8  # as the rp2 port scales its 12-bit code


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.duty = duty_u16

    def duty_u16(self, d):
        self.duty = d


class WDT:
    def __init__(self, timeout=0):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class I2C:
    def __init__(self, n, scl=None, sda=None, freq=0):
        pass

    def _chip(self, addr):
        if addr not in devices:
            raise OSError(19)
        return devices[addr]

    def readfrom_mem(self, addr, reg, n):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def readfrom_mem_into(self, addr, reg, buf):
        self._chip(addr).read(reg, buf)

    def writeto_mem(self, addr, reg, buf):
        self._chip(addr).write(reg, buf)


class FakeBme280:
    """Calibration words and data registers as the test sets them; writes
    logged as (register, value) while log is a list."""

    def __init__(self, cal, chip_id=0x60):
        r = bytearray(256)
        r[0xD0] = chip_id
        t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6 = cal
        at = 0x88
        for v in (t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9):
            r[at] = v & 255
            r[at + 1] = v >> 8 & 255
            at += 2
        r[0xA1] = h1
        for i, v in enumerate((h2 & 255, h2 >> 8 & 255, h3, h4 >> 4 & 255,
                               h4 & 15 | (h5 & 15) << 4, h5 >> 4 & 255, h6 & 255)):
            r[0xE1 + i] = v
        self.r = r
        self.log = []
        self.set_raw(0x80000, 0x80000, 0x8000)  # the reset values

    def set_raw(self, adc_t, adc_p, adc_h):
        r = self.r
        r[0xF7], r[0xF8], r[0xF9] = adc_p >> 12, adc_p >> 4 & 255, (adc_p & 15) << 4
        r[0xFA], r[0xFB], r[0xFC] = adc_t >> 12, adc_t >> 4 & 255, (adc_t & 15) << 4
        r[0xFD], r[0xFE] = adc_h >> 8, adc_h & 255

    def read(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self.r[reg + i]

    def write(self, reg, buf):
        self.r[reg] = buf[0]
        if self.log is not None:
            self.log.append((reg, buf[0]))


class FakeLis3dh:
    """The FIFO as a list of (x, y, z) in 12-bit digits; the interrupt
    sources latched as the test sets them, cleared when read."""

    def __init__(self):
        self.r = bytearray(256)
        self.r[0x0F] = 0x33
        self.fifo = []
        self.at = 0

    def read(self, reg, buf):
        r = self.r
        if reg == 0x2F:
            n = len(self.fifo) - self.at
            buf[0] = 0x40 | 31 if n >= 32 else (0x20 if n == 0 else n)
        elif reg == 0xA8:
            x, y, z = self.fifo[self.at] if self.at < len(self.fifo) else (0, 0, 0)
            self.at += 1
            buf[0], buf[1] = x << 4 & 255, x >> 4 & 255  # left-justified 12 bits
            buf[2], buf[3] = y << 4 & 255, y >> 4 & 255
            buf[4], buf[5] = z << 4 & 255, z >> 4 & 255
        else:
            buf[0] = r[reg]
            if reg in (0x31, 0x35):
                r[reg] = 0

    def write(self, reg, buf):
        self.r[reg] = buf[0]
