# The board the firmware runs on, as machine.py's objects see it, and the
# harness that drives it. One Board is current (board.current; board.new()
# makes a fresh one); machine.py looks it up at every call, so a test can
# start a new board between firmware boots of its own.
#
# Wiring (docs/reference-board.md):
#   GP26/ADC0  probes 0..3 through a CD74HC4051 mux: S0 = GP10, S1 = GP11,
#              S2 tied to GND; each probe an NTC (10 kOhm at 25 degC, beta
#              3950) to GND under 10 kOhm to 3V3, as firmware/hal/rp2.py's
#              table assumes: V = 3.3 R / (R + 10k)
#   GP27/ADC1  battery pack through 100 kOhm over 22 kOhm (ratio 22/122:
#              12.6 V reads 2.272 V). The HAL's conversion must use the same
#              divider: mV = code * 3300 * 122 / (22 * 4096)
#   GP29/ADC3  VSYS/3 (the Pico's own divider)
#   ADC4       the RP2040's temperature sensor (0.706 V at 27 degC,
#              -1.721 mV/K)
#   GP4/GP5    I2C0 SDA/SCL: BME280 at 0x76, LIS3DH at 0x18
#   GP14       lid reed switch to GND (the firmware's pull-up: high = open)
#   GP15       heater MOSFET (PWM); GP16/GP17 DRV8871 IN1/IN2 (PWM):
#              IN1 drives the Peltier to cool
#
# The clock: board time in microseconds (now_us), owned by the harness
# (advance_ms / advance_us) and moved a little by the firmware's own bus
# traffic (an I2C transfer takes its bits at the bus frequency, an ADC
# conversion 2 us) and by time.sleep_ms (sim/rp2board/time.py). ticks_ms()
# counts from the last boot and wraps at 2**30 like rp2's.
#
# Resets (rp2 port: ports/rp2/modmachine.c, machine_wdt.c):
#   - machine.WDT(timeout=ms) starts the RP2040 watchdog (at most 8388 ms,
#     ValueError above). It has no deinit: nothing stops it but a reset.
#     Another WDT(timeout=) call re-arms it with the new timeout, as the
#     port's watchdog_enable() does. Not fed within the timeout, it resets
#     the board at that instant.
#   - machine.reset() is a watchdog reboot on rp2 (watchdog_reboot), so
#     reset_cause() afterwards says WDT_RESET, the same as a hang.
#   - a reset raises BoardReset (a BaseException) where the board was; until
#     the harness calls reboot(), every machine call and every clock step
#     raises it again, so nothing the firmware does after the instant of the
#     reset reaches the board. The harness then boots the firmware again on
#     the same flash image; reset_cause() is WDT_RESET, the watchdog is
#     stopped, every pin is back to its reset state, the PWM outputs are off.
#     The I2C chips keep their state (they are not reset with the MCU).
#   - power_cycle() is a power-on: PWRON_RESET, the chips reset too.
#
# The model allocates nothing when the firmware reads a pin, an ADC code or
# chip registers into its own buffer (the harness computes codes and raw
# words when it sets a value), so the firmware's tick can run under
# micropython.heap_lock() on it.
#
# Not modelled (stated): ADC noise, one part's own offset, gain and
# non-linearity (the mean Pico's E11 steps and offset are); mux settling;
# PWM phase; I2C clock stretching; the USB CDC stream (another module's).
import math
import sys

from sim.rp2board import bme280, lis3dh

PWRON_RESET = 1  # rp2's reset_cause() values (modmachine.c)
WDT_RESET = 3
WDT_MAX_MS = 8388  # 0xffffff / 2 / 1000: the RP2040's counter (machine_wdt.c)
TICKS_MASK = 0x3FFFFFFF

SYS_HZ = 125000000
VREF = 3.3
ADC_CONV_US = 2  # 96 ADC clocks at 48 MHz

# Pin modes and pulls: rp2's values
IN = 0
OUT = 1
OPEN_DRAIN = 2
ALT = 3
PULL_UP = 1
PULL_DOWN = 2

# RP2040-E11 (the RP2040 datasheet's errata): the ADC's differential
# non-linearity spikes near codes 512, 1536, 2560 and 3584, a systematic
# error in the SAR's capacitor DAC. What a Pico does there, measured
# (github.com/kitanokitsune/rp2040adc_correction: five Picos against a
# reference, their mean published as rp2040adc_correction()): the readout
# just below each, 511, 1535, 2559 and 3583, is 10 or 11 input codes wide,
# and its neighbours are 1 code wide as everywhere else: nothing gives the
# width back, so the error steps by about 10 codes at each and stays (with
# an offset of +15 codes at the bottom and a code or two of drift between
# the steps). The model is that mean Pico: E11_SEGMENTS gives, from each
# readout on, the input (in ideal codes) that readout stands for, less the
# readout (None: the wide code, which spans the gap between its
# neighbours). Not modelled: how one Pico differs from the mean (unknown to
# us; docs/reference-board.md), noise.
E11_CODES = (512, 1536, 2560, 3584)
E11_SEGMENTS = ((0, -15), (511, None), (512, -5), (895, -6), (1407, -7), (1535, None),
                (1536, 2), (1664, 1), (2047, 0), (2048, -1), (2431, -2), (2559, None),
                (2560, 7), (2943, 6), (3455, 5), (3583, None), (3584, 15), (3711, 14))

NTC_R25 = 10000.0
NTC_BETA = 3950.0
NTC_SERIES = 10000.0

BATT_R_TOP = 100000.0  # GP27/ADC1: pack -> 100k -> ADC -> 22k -> GND
BATT_R_BOTTOM = 22000.0
BATT_RATIO = BATT_R_BOTTOM / (BATT_R_TOP + BATT_R_BOTTOM)

PROBE_ADC = 0
BATT_ADC = 1
VSYS_ADC = 3
TEMP_ADC = 4
MUX_S0 = 10
MUX_S1 = 11
LID_PIN = 14
HEATER_PIN = 15
PELTIER_IN1 = 16  # cools
PELTIER_IN2 = 17
I2C0_SDA = (0, 4, 8, 12, 16, 20, 28)
I2C0_SCL = (1, 5, 9, 13, 17, 21)
I2C1_SDA = (2, 6, 10, 14, 18, 26)
I2C1_SCL = (3, 7, 11, 15, 19, 27)

EIO = 5
ENODEV = 19
ETIMEDOUT = 110
_ERRNAMES = {EIO: "EIO", ENODEV: "ENODEV", ETIMEDOUT: "ETIMEDOUT"}
_MPY = sys.implementation.name == "micropython"


def oserror(code):
    """OSError as rp2 raises it (OSError(5): args (5,)); on CPython with a
    message, so that .errno is set there too."""
    if _MPY:
        return OSError(code)
    return OSError(code, _ERRNAMES.get(code, ""))


class BoardReset(BaseException):
    """The board reset at this point (cause: WDT_RESET or PWRON_RESET).
    Nothing after it runs on a real board; the harness calls reboot()."""

    def __init__(self, cause):
        super().__init__(cause)
        self.cause = cause


# -- the analogue front end --------------------------------------------------


def _edge(c):
    """Lower edge of readout c, in ideal codes (E11_SEGMENTS): half a code
    below what it stands for; a wide code's, half a code above what the
    readout below it stands for. Codes whose offset falls by one are 0 wide
    (the mean Pico's missing codes)."""
    off = 0
    for start, o in E11_SEGMENTS:
        if start > c:
            break
        off = o
    if off is None:
        return _edge(c - 1) + 1.0
    return c + off - 0.5


def adc_code(volts, vref=VREF, e11=True):
    """The 12-bit readout an RP2040 ADC gives for an input voltage (e11
    False: an ideal ADC). Readouts saturate at 0 and 4095."""
    x = volts / vref * 4096.0
    if x < 0:
        return 0
    if not e11:
        return min(int(x), 4095)
    # the last segment whose first readout's edge is at or below x, then
    # the readout within it
    k = 0
    for i in range(len(_SEGMENT_EDGES)):
        if _SEGMENT_EDGES[i] <= x:
            k = i
    start, off = E11_SEGMENTS[k]
    if off is None:
        return start
    c = int(x - off + 0.5)
    if k + 1 < len(E11_SEGMENTS):
        c = min(c, E11_SEGMENTS[k + 1][0] - 1)
    return max(0, min(c, 4095))


_SEGMENT_EDGES = tuple(_edge(start) for start, _ in E11_SEGMENTS)


def code_width(c, e11=True):
    """Width of readout c in ideal codes (1 away from E11's)."""
    return _edge(c + 1) - _edge(c) if e11 else 1.0


def ntc_ohms(t_c):
    return NTC_R25 * math.exp(NTC_BETA * (1.0 / (t_c + 273.15) - 1.0 / 298.15))


def ntc_volts(t_c):
    r = ntc_ohms(t_c)
    return VREF * r / (r + NTC_SERIES)


def u16(code):
    """read_u16() of a 12-bit code, as the rp2 port scales it."""
    return code << 4 | code >> 8


# -- the board ---------------------------------------------------------------


class Board:
    def __init__(self, uid=b"\xe6\x60\x58\x38\x83\x2b\x45\x29", e11=True):
        self.uid = bytes(uid)
        self.e11 = e11  # E11's wide codes (the mean Pico's transfer), or an ideal ADC
        self.now_us = 0
        self.boot_us = 0
        self.ticks_offset_ms = 0  # start ticks_ms here (e.g. near the wrap)
        self.cause = PWRON_RESET
        self.boots = 1
        self.resets = []  # [(now_us, cause)] every reset, in order
        self.in_reset = False
        self.pending = 0
        self.sys_hz = SYS_HZ
        # watchdog
        self.wdt_ms = 0  # 0: stopped
        self.wdt_deadline = 0
        self.wdt_feeds = 0
        # external world on the pins (kept across resets)
        self.pin_ext = [-1] * 30  # -1: nothing outside drives the pin
        self.float_level = 0  # what a floating input reads
        # ADC inputs: channel codes, and the mux's 8 inputs on ADC0
        self.adc = [0] * 5
        self.mux = [4095] * 8  # open inputs read full scale (pull-up side)
        self.adc_reads = [0] * 5
        # I2C0
        self.bme = bme280.Bme280()
        self.acc = lis3dh.Lis3dh()
        self.i2c_devices = {self.bme.addr: self.bme, self.acc.addr: self.acc}
        self.i2c_absent = set()  # addresses that do not answer (a fault)
        self.i2c_held = False  # SDA held low: every transfer times out
        self.i2c_transfers = 0
        self._reset_pins()
        self.set_vsys_v(5.0)
        self.set_pack_v(12.0)
        self.set_core_temp_c(27.0)
        for p in range(4):
            self.set_probe_c(p, 25.0)
        self.set_lid_open(False)

    def _reset_pins(self):
        self.pin_mode = [-1] * 30  # -1: reset state (no function)
        self.pin_pull = [PULL_DOWN] * 30  # the pads' reset pull
        self.pin_out = [0] * 30
        self.pin_writes = [0] * 30
        self.pin_func = [None] * 30  # "pwm", "i2c", "adc"
        self.pwm_on = [False] * 30
        self.pwm_u16 = [0] * 30
        self.pwm_cc = [0] * 30
        self.pwm_invert = [False] * 30
        self.slice_top = [0xFFFF] * 8
        self.slice_div16 = [16] * 8
        self.slice_freq = [0] * 8
        self.i2c_freq = [0, 0]

    # -- clock ---------------------------------------------------------------

    def check(self):
        if self.in_reset:
            raise BoardReset(self.pending)

    def advance_us(self, us):
        """Move the clock on; raises BoardReset if the watchdog fires on the
        way (the clock stops at that instant)."""
        if self.in_reset:
            raise BoardReset(self.pending)
        t = self.now_us + us
        if self.wdt_ms and t >= self.wdt_deadline:
            self.now_us = self.wdt_deadline
            self.reset(WDT_RESET)
        self.now_us = t

    def advance_ms(self, ms):
        self.advance_us(ms * 1000)

    def ticks_us(self):
        return (self.now_us - self.boot_us + self.ticks_offset_ms * 1000) & TICKS_MASK

    def ticks_ms(self):
        return ((self.now_us - self.boot_us) // 1000 + self.ticks_offset_ms) & TICKS_MASK

    # -- resets --------------------------------------------------------------

    def reset(self, cause=WDT_RESET):
        """The board resets now (machine.reset() and the watchdog)."""
        self.in_reset = True
        self.pending = cause
        self.resets.append((self.now_us, cause))
        raise BoardReset(cause)

    def reboot(self):
        """Start the MCU again after a reset: the harness boots the firmware
        next. reset_cause() reports the reset's cause."""
        self.cause = self.pending if self.in_reset else WDT_RESET
        self._start()

    def power_cycle(self, off_ms=0):
        """Power off for off_ms and on again: PWRON_RESET, the chips reset."""
        self.in_reset = False
        self.resets.append((self.now_us, PWRON_RESET))
        self.now_us += off_ms * 1000
        self.bme.power_on()
        self.acc.power_on()
        self.acc.last_us = self.now_us
        self.cause = PWRON_RESET
        self._start()

    def _start(self):
        self.in_reset = False
        self.pending = 0
        self.boot_us = self.now_us
        self.boots += 1
        self.wdt_ms = 0
        self._reset_pins()

    # -- watchdog ------------------------------------------------------------

    def wdt_start(self, timeout_ms):
        self.check()
        if timeout_ms < 0 or timeout_ms > WDT_MAX_MS:
            raise ValueError("timeout exceeds %d" % WDT_MAX_MS)
        self.wdt_ms = timeout_ms or -1  # 0 loads 0: it fires at once
        self.wdt_deadline = self.now_us + timeout_ms * 1000

    def wdt_feed(self):
        self.check()
        self.wdt_feeds += 1
        self.wdt_deadline = self.now_us + max(self.wdt_ms, 0) * 1000

    def wdt_running(self):
        return self.wdt_ms != 0

    # -- pins ----------------------------------------------------------------

    def level(self, n):
        """The pad's level: what Pin(n).value() reads."""
        m = self.pin_mode[n]
        if m == OUT:
            return self.pin_out[n]
        e = self.pin_ext[n]
        if m == OPEN_DRAIN and self.pin_out[n] == 0:
            return 0
        if e >= 0:
            return e
        pull = self.pin_pull[n]
        if pull == PULL_UP:
            return 1
        if pull == PULL_DOWN:
            return 0
        return self.float_level

    def driven(self, n):
        """What the firmware drives on pin n: 0/1, or None if not an output."""
        if self.pin_mode[n] == OUT:
            return self.pin_out[n]
        return None

    def set_pin_input(self, n, level):
        """Something outside drives pin n to level (0/1), or None: nothing."""
        self.pin_ext[n] = -1 if level is None else int(bool(level))

    def set_lid_open(self, is_open):
        """The reed switch pulls GP14 to GND while the lid is closed; open,
        the pin floats and reads the firmware's pull-up (if it set one)."""
        self.set_pin_input(LID_PIN, None if is_open else 0)

    # -- ADC -----------------------------------------------------------------

    def mux_select(self):
        return self.level(MUX_S0) | self.level(MUX_S1) << 1  # S2 on GND

    def adc_read(self, ch):
        """One conversion of channel ch: the 12-bit code."""
        self.advance_us(ADC_CONV_US)
        self.adc_reads[ch] += 1
        if ch == PROBE_ADC:
            return self.mux[self.mux_select()]
        return self.adc[ch]

    def set_adc_volts(self, ch, volts):
        self.adc[ch] = adc_code(volts, VREF, self.e11)

    def set_adc_code(self, ch, code):
        self.adc[ch] = code

    def set_mux_volts(self, k, volts):
        self.mux[k] = adc_code(volts, VREF, self.e11)

    def set_mux_code(self, k, code):
        self.mux[k] = code

    def set_probe_c(self, p, t_c):
        """Probe p (mux input p) at t_c degC through its NTC divider."""
        self.set_mux_volts(p, ntc_volts(t_c))

    def set_probe_open(self, p):
        self.set_mux_volts(p, VREF)  # the 10k to 3V3 alone: full scale

    def set_probe_short(self, p):
        self.set_mux_volts(p, 0.0)

    def set_pack_v(self, volts):
        """The battery pack's voltage on the GP27 divider (22/122)."""
        self.pack_v = volts
        self.set_adc_volts(BATT_ADC, volts * BATT_RATIO)

    def set_vsys_v(self, volts):
        self.vsys_v = volts
        self.set_adc_volts(VSYS_ADC, volts / 3.0)

    def set_core_temp_c(self, t_c):
        self.set_adc_volts(TEMP_ADC, 0.706 - (t_c - 27.0) * 0.001721)

    # -- PWM -----------------------------------------------------------------

    def pwm_set_freq(self, n, freq):
        """rp2's machine_pwm.c: the largest TOP (at most 65534) for the
        frequency, with DIV in 1/16 steps; the slice's channels share it."""
        top_max = 65534
        src = self.sys_hz
        if freq <= 0:
            raise ValueError("freq too small")
        if (src + freq // 2) // freq < top_max:
            div16 = 16
            top = (src + freq // 2) // freq - 1
        else:
            div16 = -(-16 * src // (top_max * freq))
            top = (16 * src + div16 * freq // 2) // (div16 * freq) - 1
        if div16 < 16:
            raise ValueError("freq too large")
        if div16 >= 256 * 16:
            raise ValueError("freq too small")
        s = n >> 1 & 7
        self.slice_top[s] = top
        self.slice_div16[s] = div16
        self.slice_freq[s] = freq
        for m in range(30):
            if self.pwm_on[m] and m >> 1 & 7 == s:
                self.pwm_set_duty(m, self.pwm_u16[m])

    def pwm_get_freq(self, n):
        s = n >> 1 & 7
        d = self.slice_div16[s] * (self.slice_top[s] + 1)
        return (16 * self.sys_hz + d // 2) // d

    def pwm_set_duty(self, n, duty_u16):
        """rp2 rounds the level: cc = (duty * (top + 1) + 32767) // 65535
        (no range check: a duty above 65535 is a level above TOP, 100 %)."""
        top = self.slice_top[n >> 1 & 7]
        self.pwm_u16[n] = duty_u16
        self.pwm_cc[n] = (duty_u16 * (top + 1) + 65535 // 2) // 65535

    def pwm_get_duty(self, n):
        top = self.slice_top[n >> 1 & 7]
        return (self.pwm_cc[n] * 65535 + (top + 1) // 2) // (top + 1)

    def pwm_duty(self, n):
        """Fraction of the period pin n is high (0.0 when not a PWM output)."""
        if not self.pwm_on[n]:
            return 0.0
        d = min(1.0, self.pwm_cc[n] / (self.slice_top[n >> 1 & 7] + 1))
        return 1.0 - d if self.pwm_invert[n] else d

    def heater_permille(self):
        return int(self.pwm_duty(HEATER_PIN) * 1000 + 0.5)

    def peltier_permille(self):
        """IN1's duty less IN2's (DRV8871): positive cools."""
        d = self.pwm_duty(PELTIER_IN1) - self.pwm_duty(PELTIER_IN2)
        return int(d * 1000 + (0.5 if d >= 0 else -0.5))

    # -- I2C -----------------------------------------------------------------

    def i2c_xfer(self, bus, addr, nbytes):
        """Bus time for a transfer; the device, or OSError as rp2 gives it."""
        self.check()
        self.i2c_transfers += 1
        f = self.i2c_freq[bus] or 100000
        self.advance_us(9 * (nbytes + 3) * 1000000 // f)
        if self.i2c_held:
            raise oserror(ETIMEDOUT)
        if bus != 0 or addr in self.i2c_absent:
            return None
        return self.i2c_devices.get(addr)

    def i2c_fail(self, addr, failed=True):
        """The device at addr stops (or starts again) answering."""
        if failed:
            self.i2c_absent.add(addr)
        else:
            self.i2c_absent.discard(addr)

    # -- the chips' world ----------------------------------------------------

    def set_env(self, t_c, p_pa, rh):
        """What the BME280 senses: degC, Pa, %RH."""
        self.bme.set_true(t_c, p_pa, rh, self.now_us)

    def set_accel(self, x_g, y_g, z_g):
        """What the LIS3DH feels from now on, g per axis."""
        self.acc.set_true(x_g, y_g, z_g, self.now_us)


current = Board()


def new(**kw):
    """A fresh board, made current."""
    global current
    current = Board(**kw)
    return current


def install(with_time=False):
    """Make `import machine` (and, on MicroPython, `import time` if asked)
    give this board's modules, without MICROPYPATH: the HAL's imports run
    after this. Returns the machine module."""
    from sim.rp2board import machine

    sys.modules["machine"] = machine
    if with_time and _MPY:
        from sim.rp2board import time as vtime

        sys.modules["time"] = vtime
    return machine


def uninstall():
    for name in ("machine", "time"):
        m = sys.modules.get(name)
        if m is not None and getattr(m, "__name__", "").startswith("sim.rp2board"):
            del sys.modules[name]
