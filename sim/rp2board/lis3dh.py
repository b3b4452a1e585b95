# ST LIS3DH accelerometer at register level, after its datasheet (DocID17530)
# and application note AN3308.
#
#   0x0F WHO_AM_I = 0x33
#   0x20 CTRL_REG1  ODR[7:4] LPen[3] Zen Yen Xen (reset 0x07: power-down)
#   0x21 CTRL_REG2  high-pass filter (stored; the filter is not modelled)
#   0x22 CTRL_REG3  I1_IA1[6] routes the INT1 event to the INT1 pin
#   0x23 CTRL_REG4  BDU[7] BLE[6] FS[5:4] HR[3]
#   0x24 CTRL_REG5  BOOT[7] LIR_INT1[3] (latch INT1_SRC until it is read)
#   0x25 CTRL_REG6  INT_POLARITY[1]
#   0x27 STATUS_REG ZYXOR[7] ZYXDA[3] (new data; cleared by reading it)
#   0x28..0x2D OUT_X_L .. OUT_Z_H: left-justified two's complement
#   0x30 INT1_CFG   AOI[7] 6D[6] ZHIE ZLIE YHIE YLIE XHIE XLIE
#   0x31 INT1_SRC   IA[6] ZH ZL YH YL XH XL (read-only; a read clears a latch)
#   0x32 INT1_THS   7 bits, 16/32/62/186 mg per LSB at 2/4/8/16 g
#   0x33 INT1_DURATION 7 bits, in samples (1/ODR)
# A register address with bit 7 (0x80) set auto-increments over a multi-byte
# access; without it every byte is the same register.
#
# Resolution: HR 12 bits (1/2/4/12 mg per digit at 2/4/8/16 g), normal
# 10 bits (4/8/16/48), low power 8 bits (16/32/64/192), left-justified in
# 16. The true acceleration is clipped to the full scale (the sensor
# saturates) and rounded to a digit.
#
# Time: samples are taken at the ODR on the board's clock, of the true
# acceleration held by the harness at that instant (set_true syncs first), so
# a pulse shorter than a sample period can fall between two samples, as on
# the chip. The INT1 event is judged per sample on absolute values (AN3308
# 5.2: the comparison is on |acceleration|): AOI=0 OR of the enabled
# events, AOI=1 AND; an event is recognised once its condition has held for
# INT1_DURATION + 1 samples. Not modelled: 6D/4D recognition, the high-pass
# filter, the FIFO (FIFO_SRC reads empty), INT2, click, self-test, the
# auxiliary ADC.

ADDR = 0x18
WHO_AM_I = 0x33

_ODR_HZ = (0, 1, 10, 25, 50, 100, 200, 400, 1620, 1344)
_THS_MG = (16, 32, 62, 186)
_HR_MG = (1, 2, 4, 12)  # per digit at 12 bits


def sensitivity(fs, hr, lp):
    """(mg per digit, bits) for a full-scale code and the mode bits."""
    if lp:
        return _HR_MG[fs] * 16, 8
    if hr:
        return _HR_MG[fs], 12
    return _HR_MG[fs] * 4, 10


class Lis3dh:
    def __init__(self, addr=ADDR):
        self.addr = addr
        self.regs = bytearray(0x40)
        self.ptr = 0
        self.auto = False
        self.ug = [0, 0, 1000000]  # true acceleration, micro-g (lying flat)
        self.samples = 0  # samples taken (for tests)
        self.power_on()

    def power_on(self):
        r = self.regs
        for i in range(len(r)):
            r[i] = 0
        r[0x0F] = WHO_AM_I
        r[0x20] = 0x07
        r[0x2F] = 0x20  # FIFO_SRC: empty
        self.last_us = 0  # the board's time at the last sync
        self.run = 0  # consecutive samples meeting the INT1 condition
        self.digits = [0, 0, 0]

    # -- harness -------------------------------------------------------------

    def set_true(self, x_g, y_g, z_g, now_us):
        """The acceleration the chip feels from now on, g per axis."""
        self.sync(now_us)
        # integers: a sample then allocates nothing on MicroPython
        self.ug[0] = int(round(x_g * 1000000))
        self.ug[1] = int(round(y_g * 1000000))
        self.ug[2] = int(round(z_g * 1000000))

    def odr_hz(self):
        r1 = self.regs[0x20]
        o = r1 >> 4
        if o == 9 and r1 & 0x08:
            return 5376
        return _ODR_HZ[o] if o < len(_ODR_HZ) else 0

    def int1_pin(self):
        """Level of the INT1 pin (I1_IA1 routes IA; INT_POLARITY inverts)."""
        r = self.regs
        on = bool(r[0x22] & 0x40 and r[0x31] & 0x40)
        return int(on != bool(r[0x25] & 0x02))

    # -- I2C -----------------------------------------------------------------

    def point(self, reg):
        self.ptr = reg & 0x7F
        self.auto = bool(reg & 0x80)

    def read_into(self, buf, now_us):
        self.sync(now_us)
        r = self.regs
        p = self.ptr
        for i in range(len(buf)):
            buf[i] = r[p] if p < 0x40 else 0
            if 0x28 <= p <= 0x2D:
                r[0x27] = 0  # the data are read: ZYXDA and ZYXOR clear
            elif p == 0x31 and r[0x24] & 0x08:
                r[0x31] = 0  # a latched INT1 is released by its read
                self.run = 0
            if self.auto:
                p = (p + 1) & 0x7F
        self.ptr = p

    def write_from(self, buf, start, now_us):
        self.sync(now_us)
        r = self.regs
        p = self.ptr
        for i in range(start, len(buf)):
            v = buf[i]
            if 0x1E <= p <= 0x3F and p not in (0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D,
                                                  0x2F, 0x31, 0x35, 0x39):
                if p == 0x24 and v & 0x80:  # BOOT: reload trimming, clears itself
                    v &= 0x7F
                if p == 0x20 and (v >> 4) != (r[0x20] >> 4):
                    self.last_us = now_us  # the sample clock restarts
                r[p] = v
            if self.auto:
                p = (p + 1) & 0x7F
        self.ptr = p

    # -- sampling ------------------------------------------------------------

    def sync(self, now_us):
        """Take the samples due since the last sync (all of the same true
        acceleration: the harness syncs before changing it)."""
        odr = self.odr_hz()
        last = self.last_us
        self.last_us = now_us
        if odr == 0 or now_us <= last:
            return
        n = now_us * odr // 1000000 - last * odr // 1000000
        if n <= 0:
            return
        self.samples += n
        r = self.regs
        r4 = r[0x23]
        fs = r4 >> 4 & 3
        if r[0x20] & 0x08:  # low power: 8 bits
            step, bits = _HR_MG[fs] * 16000, 8
        elif r4 & 0x08:  # high resolution: 12 bits
            step, bits = _HR_MG[fs] * 1000, 12
        else:
            step, bits = _HR_MG[fs] * 4000, 10
        top = (1 << (bits - 1)) - 1
        full = 2000000 << fs  # micro-g
        shift = 16 - bits
        d = self.digits
        for a in range(3):
            if not r[0x20] & (1 << a):
                continue  # axis disabled: its output holds
            v = self.ug[a]
            v = full if v > full else (-full if v < -full else v)
            if v >= 0:
                q = (2 * v + step) // (2 * step)
            else:
                q = -((-2 * v + step) // (2 * step))
            q = top if q > top else (-top - 1 if q < -top - 1 else q)
            d[a] = q
            w = (q << shift) & 0xFFFF
            if r4 & 0x40:  # BLE: big-endian
                r[0x28 + 2 * a] = w >> 8
                r[0x29 + 2 * a] = w & 0xFF
            else:
                r[0x28 + 2 * a] = w & 0xFF
                r[0x29 + 2 * a] = w >> 8
        r[0x27] = 0xFF if (r[0x27] & 0x08 or n > 1) else 0x0F
        self._int1(n, fs)

    def _int1(self, n, fs):
        r = self.regs
        cfg = r[0x30]
        if not cfg & 0x3F or cfg & 0x40:
            return  # no event enabled (or 6D, not modelled)
        ths = (r[0x32] & 0x7F) * _THS_MG[fs] * 1000  # micro-g
        src = 0
        hits = 0
        wanted = 0
        for a in range(3):
            g = abs(self.ug[a])
            if cfg & (2 << 2 * a):  # high event
                wanted += 1
                if g > ths:
                    src |= 2 << 2 * a
                    hits += 1
            if cfg & (1 << 2 * a):  # low event
                wanted += 1
                if g <= ths:
                    src |= 1 << 2 * a
                    hits += 1
        met = hits == wanted if cfg & 0x80 else hits > 0
        latch = r[0x24] & 0x08
        if met:
            self.run += n
            if self.run >= (r[0x33] & 0x7F) + 1:
                r[0x31] = 0x40 | src | (r[0x31] & 0x3F if latch else 0)
        else:
            self.run = 0
            if not latch:
                r[0x31] = 0
