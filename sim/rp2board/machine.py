# `machine` for the reference board on the MicroPython unix port (and
# CPython): the rp2 port's API over sim/rp2board/board.py's model. Put
# sim/rp2board/ first on MICROPYPATH, or call board.install(), and
# firmware/hal/rp2.py runs unchanged. Signatures and errors follow the rp2
# port (ports/rp2/machine_*.c, extmod/machine_*.c); what the board does
# with them is in board.py.
#
# As on rp2, Pin(n), PWM(pin), I2C(id) and WDT() hand back one object per
# pin, bus or watchdog, made here at import (rp2's are static C objects:
# machine_pin_obj_table, machine_pwm_obj, machine_i2c_obj, machine_wdt), and
# the constructor re-initialises it. So a HAL's set-up makes none of the
# model's objects on the heap, and tests/rp2_missions.py can charge every
# one of them to the model. ADC(n) is a new object each time, as rp2's is.
from sim.rp2board import board as _board

PWRON_RESET = _board.PWRON_RESET
WDT_RESET = _board.WDT_RESET


def _b():
    b = _board.current
    if b.in_reset:
        raise _board.BoardReset(b.pending)
    return b


def _pin_id(p):
    if isinstance(p, Pin):
        return p.id
    if isinstance(p, int) and 0 <= p < 30:
        return p
    if p == "LED":
        return 25
    raise ValueError("invalid pin")


class Pin:
    IN = _board.IN
    OUT = _board.OUT
    OPEN_DRAIN = _board.OPEN_DRAIN
    ALT = _board.ALT
    PULL_UP = _board.PULL_UP
    PULL_DOWN = _board.PULL_DOWN
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __new__(cls, id, *args, **kw):
        return _PINS[_pin_id(id)]

    def __init__(self, id, mode=-1, pull=-1, value=None, alt=-1):
        self.id = _pin_id(id)
        if mode != -1 or pull != -1 or value is not None:
            self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None, alt=-1):
        b = _b()
        n = self.id
        if value is not None:
            b.pin_out[n] = 1 if value else 0
        if mode is not None and mode != -1:
            if mode not in (0, 1, 2, 3):
                raise ValueError("invalid pin mode: %s" % mode)
            b.pin_mode[n] = mode
            b.pin_func[n] = None
            b.pwm_on[n] = False
        # rp2 sets the pulls whenever init runs: None (or omitted) is no pull
        b.pin_pull[n] = 0 if pull is None or pull == -1 else pull

    def value(self, v=None):
        b = _b()
        n = self.id
        if v is None:
            return b.level(n)
        b.pin_out[n] = 1 if v else 0
        b.pin_writes[n] += 1
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    high = on
    low = off

    def toggle(self):
        b = _b()
        self.value(1 - b.pin_out[self.id])

    def irq(self, handler=None, trigger=12, hard=False):
        self.handler = handler  # recorded; edges are not delivered (not modelled)

    def __repr__(self):
        return "Pin(GPIO%d)" % self.id


def _adc_channel(source):
    if isinstance(source, int):
        if not (0 <= source <= 4 or 26 <= source <= 29):
            raise ValueError("invalid channel")
        return source - 26 if source >= 26 else source
    g = _pin_id(source)
    if not 26 <= g <= 29:
        raise ValueError("Pin doesn't have ADC capabilities")
    return g - 26


class ADC:
    """rp2's ADC(n) allocates a small object (its type and channel: 8 bytes
    on the board); so does this one, its channel a class attribute of one
    subclass a channel (_ADC_CLASSES), so it is one GC block, as rp2's is,
    not an instance with an attribute table."""

    CORE_TEMP = 4
    channel = 0

    def __new__(cls, source):
        return object.__new__(_ADC_CLASSES[_adc_channel(source)])

    def __init__(self, source):
        ch = self.channel
        b = _b()
        if ch < 4:
            b.pin_func[26 + ch] = "adc"
            b.pin_mode[26 + ch] = -1

    def read_u16(self):
        code = _b().adc_read(self.channel)
        return code << 4 | code >> 8  # rp2's scaling of the 12-bit code

    def __repr__(self):
        return "<ADC channel=%d>" % self.channel


def _adc_class(ch):
    class Channel(ADC):
        pass

    Channel.channel = ch
    return Channel


_ADC_CLASSES = [_adc_class(ch) for ch in range(5)]


class PWM:
    def __new__(cls, dest, **kw):
        return _PWMS[_pin_id(dest)]

    def __init__(self, dest, *, freq=-1, duty_u16=-1, duty_ns=-1, invert=-1):
        self.pin = _pin_id(dest)
        b = _b()
        b.pin_func[self.pin] = "pwm"
        b.pin_mode[self.pin] = _board.ALT
        b.pwm_on[self.pin] = True
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns, invert=invert)

    def init(self, *, freq=-1, duty_u16=-1, duty_ns=-1, invert=-1):
        b = _b()
        n = self.pin
        b.pwm_on[n] = True
        if invert != -1:
            b.pwm_invert[n] = bool(invert)
        if freq != -1:
            b.pwm_set_freq(n, freq)
        if duty_u16 != -1:
            b.pwm_set_duty(n, duty_u16)
        elif duty_ns != -1:
            self.duty_ns(duty_ns)

    def deinit(self):
        b = _b()
        b.pwm_on[self.pin] = False
        b.pwm_cc[self.pin] = 0

    def freq(self, f=None):
        b = _b()
        if f is None:
            return b.pwm_get_freq(self.pin)
        b.pwm_set_freq(self.pin, f)
        return None

    def duty_u16(self, d=None):
        b = _b()
        if d is None:
            return b.pwm_get_duty(self.pin)
        b.pwm_set_duty(self.pin, d)
        return None

    def duty_ns(self, ns=None):
        b = _b()
        f = b.pwm_get_freq(self.pin)
        if ns is None:
            return b.pwm_get_duty(self.pin) * 1000000000 // (65535 * f)
        b.pwm_set_duty(self.pin, min(65535, ns * f * 65535 // 1000000000))
        return None

    def __repr__(self):
        return "<PWM slice=%d channel=%d>" % (self.pin >> 1 & 7, self.pin & 1)


class I2C:
    def __new__(cls, id=0, **kw):
        if id not in (0, 1):
            raise ValueError("I2C(%s) doesn't exist" % id)
        return _I2CS[id]

    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        sdas, scls = (_board.I2C0_SDA, _board.I2C0_SCL) if id == 0 else (
            _board.I2C1_SDA, _board.I2C1_SCL)
        self.scl = _pin_id(scl) if scl is not None else scls[-1 if id else 2]
        self.sda = _pin_id(sda) if sda is not None else sdas[-1 if id else 2]
        if self.scl not in scls:
            raise ValueError("bad SCL pin")
        if self.sda not in sdas:
            raise ValueError("bad SDA pin")
        b = _b()
        b.i2c_freq[id] = freq
        for n in (self.scl, self.sda):
            b.pin_func[n] = "i2c"
            b.pin_mode[n] = _board.ALT
            b.pin_pull[n] = _board.PULL_UP
        self.freq = freq
        self.timeout = timeout

    def _dev(self, addr, nbytes):
        dev = _b().i2c_xfer(self.id, addr, nbytes)
        if dev is None:
            raise _board.oserror(_board.EIO)  # rp2: a NACK is EIO
        return dev

    def scan(self):
        b = _b()
        found = []
        for a in range(0x08, 0x78):
            if b.i2c_xfer(self.id, a, 0) is not None:
                found.append(a)
        return found

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        dev = self._dev(addr, len(buf) + 2)
        b = _board.current
        dev.point(memaddr)
        dev.read_into(buf, b.now_us)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        dev = self._dev(addr, len(buf) + 1)
        b = _board.current
        dev.point(memaddr)
        dev.write_from(buf, 0, b.now_us)

    def readfrom_into(self, addr, buf, stop=True):
        dev = self._dev(addr, len(buf))
        dev.read_into(buf, _board.current.now_us)

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def writeto(self, addr, buf, stop=True):
        if len(buf) == 0:
            # rp2 sends a zero-length write through soft I2C: a NACK is ENODEV
            if _b().i2c_xfer(self.id, addr, 0) is None:
                raise _board.oserror(_board.ENODEV)
            return 1
        dev = self._dev(addr, len(buf) - 1)
        dev.point(buf[0])
        dev.write_from(buf, 1, _board.current.now_us)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = bytearray()
        for v in vector:
            data.extend(v)
        return self.writeto(addr, data, stop)


class WDT:
    """rp2's watchdog: started by the constructor, fed by feed(); there is
    no deinit and nothing that stops it (a second WDT(timeout=) re-arms it
    with the new timeout, as the port's watchdog_enable() does)."""

    def __new__(cls, id=0, **kw):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        return _WDT

    def __init__(self, id=0, timeout=5000):
        _b().wdt_start(timeout)

    def feed(self):
        _b().wdt_feed()


def _static(cls, **attrs):
    """One of rp2's static objects: made once, every attribute its
    constructor sets already there (so re-initialising it allocates
    nothing)."""
    o = object.__new__(cls)
    for k in attrs:
        setattr(o, k, attrs[k])
    return o


_PINS = [_static(Pin, id=n, handler=None) for n in range(30)]
_PWMS = [_static(PWM, pin=n) for n in range(30)]
_I2CS = [_static(I2C, id=n, scl=0, sda=0, freq=0, timeout=0) for n in (0, 1)]
_WDT = _static(WDT)


def reset():
    """rp2: watchdog_reboot(), so reset_cause() then says WDT_RESET."""
    _b().reset(_board.WDT_RESET)


def soft_reset():
    """Ends the program as rp2's does (SystemExit); the watchdog runs on."""
    _b()
    raise SystemExit


def reset_cause():
    return _b().cause


def unique_id():
    return _b().uid


def freq(hz=None):
    b = _b()
    if hz is None:
        return b.sys_hz
    b.sys_hz = hz
    return None


def idle():
    _b().advance_us(1)


def lightsleep(ms=0):
    _b().advance_us(ms * 1000)


def disable_irq():
    return 0


def enable_irq(state=0):
    return None


def bootloader():
    raise NotImplementedError("no BOOTSEL on the modelled board")
