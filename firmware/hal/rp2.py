# The reference board's HAL: Raspberry Pi Pico (RP2040). Wiring in
# docs/reference-board.md. Type-checked against micropython-rp2-stubs by
# `make typecheck`; runs only on the board.
#
#   GP26/ADC0..GP28/ADC2, ADC via CD74HC4051 mux on GP10-11: 4 NTC probes
#     (10 kOhm at 25 degC, beta 3950) in dividers with 10 kOhm to 3V3
#   GP29/ADC3: VSYS/3 on the Pico (battery through the Pico's divider)
#   GP4/GP5 I2C0: BME280 humidity/pressure (0x76), LIS3DH accelerometer (0x18)
#   GP15: heater MOSFET gate, PWM 1 kHz
#   GP16/GP17: DRV8871 H-bridge IN1/IN2 for the Peltier, PWM 20 kHz
#   GP14: lid reed switch to GND, pull-up: high = open
import machine

from firmware.hal import NPROBES, Hal
from protocol import log

# NTC lookup: ADC counts (16-bit) at 5 degC steps from -40 to 85 degC,
# made once at construction with floats (never in the tick); read_probes
# interpolates with integers only.
_T_MIN = -40000
_T_STEP = 5000
_T_POINTS = 26


def _ntc_table():
    import math

    table = []
    for i in range(_T_POINTS):
        t = (_T_MIN + i * _T_STEP) / 1000 + 273.15
        r = 10000 * math.exp(3950 * (1 / t - 1 / 298.15))
        table.append(int(65535 * r / (r + 10000)))
    return table  # falling: warmer -> lower resistance -> fewer counts


class Rp2Hal(Hal):
    def __init__(self, watchdog_ms=8000):
        self._adc = machine.ADC(26)
        self._vsys = machine.ADC(29)
        self._mux = (machine.Pin(10, machine.Pin.OUT), machine.Pin(11, machine.Pin.OUT))
        self._lid = machine.Pin(14, machine.Pin.IN, machine.Pin.PULL_UP)
        self._heater = machine.PWM(machine.Pin(15), freq=1000, duty_u16=0)
        self._pa = machine.PWM(machine.Pin(16), freq=20000, duty_u16=0)
        self._pb = machine.PWM(machine.Pin(17), freq=20000, duty_u16=0)
        self._i2c = machine.I2C(0, scl=machine.Pin(5), sda=machine.Pin(4), freq=400000)
        self._table = _ntc_table()
        self._cause = machine.reset_cause()
        self._wdt = machine.WDT(timeout=watchdog_ms)
        self._env = bytearray(8)

    def uptime_ms(self):
        import time

        return time.ticks_ms()

    def read_probes(self, out):
        failed = 0
        table = self._table
        for p in range(NPROBES):
            self._mux[0].value(p & 1)
            self._mux[1].value(p >> 1 & 1)
            counts = self._adc.read_u16()
            if counts > table[0] or counts < table[-1]:
                failed |= 1 << p  # open (near 3V3) or shorted (near 0)
                continue
            i = 0
            while table[i + 1] > counts:
                i += 1
            span = table[i] - table[i + 1]
            out[p] = _T_MIN + i * _T_STEP + (table[i] - counts) * _T_STEP // span
        return failed

    def read_env(self, out):
        try:
            self._i2c.readfrom_mem_into(0x76, 0xF7, self._env)
        except OSError:
            return 1
        # raw BME280 words; calibration is applied by the driver (firmware issue)
        out[0] = self._env[6] << 8 | self._env[7]
        out[1] = self._env[0] << 8 | self._env[1]
        return 0

    def battery_mv(self):
        return self._vsys.read_u16() * 3 * 3300 >> 16

    def lid_open(self):
        return self._lid.value() == 1

    def shock_mg(self):
        return 0  # LIS3DH driver: firmware issue

    def set_heater(self, permille):
        self._heater.duty_u16(permille * 65535 // 1000)

    def set_peltier(self, permille):
        duty = abs(permille) * 65535 // 1000
        self._pa.duty_u16(duty if permille > 0 else 0)
        self._pb.duty_u16(duty if permille < 0 else 0)

    def feed_watchdog(self):
        self._wdt.feed()

    def reset_cause(self):
        if self._cause == machine.WDT_RESET:
            return log.RESET_WATCHDOG
        if self._cause == machine.PWRON_RESET:
            return log.RESET_POWER_ON
        return log.RESET_UNKNOWN

    def storage_root(self):
        return ""  # the board's littlefs is mounted at /

    def simulated(self):
        return False  # the board itself (also when its chips are modelled in tests)
