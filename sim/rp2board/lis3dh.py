# ST LIS3DH accelerometer at register level, after its datasheet (DocID17530)
# and application note AN3308.
#
#   0x0F WHO_AM_I = 0x33
#   0x20 CTRL_REG1  ODR[7:4] LPen[3] Zen Yen Xen (reset 0x07: power-down)
#   0x21 CTRL_REG2  high-pass filter (stored; the filter is not modelled)
#   0x22 CTRL_REG3  to the INT1 pin: I1_IA1[6] I1_IA2[5] I1_WTM[2]
#                   I1_OVERRUN[1]
#   0x23 CTRL_REG4  BDU[7] BLE[6] FS[5:4] HR[3]
#   0x24 CTRL_REG5  BOOT[7] FIFO_EN[6] LIR_INT1[3] LIR_INT2[1] (LIR: latch
#                   INTx_SRC until it is read)
#   0x25 CTRL_REG6  to the INT2 pin: I2_IA1[6] I2_IA2[5]; INT_POLARITY[1]
#   0x27 STATUS_REG ZYXOR[7] ZYXDA[3] (new data; cleared by reading it)
#   0x28..0x2D OUT_X_L .. OUT_Z_H: left-justified two's complement
#   0x2E FIFO_CTRL_REG FM[7:6] (00 bypass, 01 FIFO, 10 stream, 11
#                   stream-to-FIFO) TR[5] (stream-to-FIFO's trigger: 0 INT1,
#                   1 INT2) FTH[4:0] (watermark)
#   0x2F FIFO_SRC_REG WTM[7] OVRN_FIFO[6] EMPTY[5] FSS[4:0] (read-only)
#   0x30 INT1_CFG   AOI[7] 6D[6] ZHIE ZLIE YHIE YLIE XHIE XLIE
#   0x31 INT1_SRC   IA[6] ZH ZL YH YL XH XL (read-only; a read clears a latch)
#   0x32 INT1_THS   7 bits, 16/32/62/186 mg per LSB at 2/4/8/16 g
#   0x33 INT1_DURATION 7 bits, in samples (1/ODR)
#   0x34..0x37 INT2_CFG, INT2_SRC, INT2_THS, INT2_DURATION: the second
#              interrupt generator (IG2), the same as IG1's four
# A register address with bit 7 (0x80) set auto-increments over a multi-byte
# access; without it every byte is the same register.
#
# Resolution: HR 12 bits (1/2/4/12 mg per digit at 2/4/8/16 g), normal
# 10 bits (4/8/16/48), low power 8 bits (16/32/64/192), left-justified in
# 16. An axis is linear up to its codes' ends (2047 digits: 24.56 g at
# +-16 g HR) and clips there: the chip is specified to the full scale only,
# but its output does not stop at it (ST, on its community forum: beyond
# +-16 g the data read more, with accuracy not guaranteed). The true
# acceleration is rounded to a digit.
#
# Time: samples are taken at the ODR on the board's clock, of the true
# acceleration held by the harness at that instant (set_true syncs first), so
# a pulse shorter than a sample period can fall between two samples, as on
# the chip.
#
# Interrupt generators (IG1 at 0x30.., IG2 at 0x34..): each judges every
# sample's data (the digits, in mg) on absolute values (AN3308 5.2: the
# comparison is on |acceleration|), an axis's high event above the
# threshold, its low event at or below it: AOI=0 OR of the enabled events,
# AOI=1 AND; an event is recognised once its condition has held for
# INTx_DURATION + 1 samples. With LIR_INTx the source keeps IA and the axis
# bits until INTx_SRC is read (the read clears it; the condition must then
# hold for the duration again); without it the source follows the samples.
#
# FIFO (DS 5.1, AN3308 5.3): 32 levels of one sample set (X, Y, Z), on when
# FIFO_EN is set and FM is not bypass (FIFO_EN clear works as bypass).
#   bypass  the FIFO stays empty, and entering bypass empties it (the only
#           reset for a FIFO that has stopped)
#   FIFO    collects until 32 sets are unread, then stops until bypass
#   stream  collects on; when full, each new set replaces the oldest
#   stream-to-FIFO  stream while the trigger's interrupt (TR: IG1 or IG2,
#           by what the INT1/INT2 pin would show, before polarity) is
#           inactive, FIFO while it is active. Judged once per sync: the
#           samples of one sync are identical, so only where within them
#           the switch fell is lost.
# With the FIFO on and sets unread, OUT_X_L..OUT_Z_H read the oldest set;
# reading OUT_Z_H pops it (a driver reads a set as the 6 bytes from OUT_X_L,
# address 0xA8), and with auto-increment the address rolls back from 0x2D
# to 0x28, so one long read can take several sets. With the FIFO empty (or
# off) they read the latest sample.
# FIFO_SRC: FSS the unread sets (it saturates at 31: 32 unread reads as
# OVRN_FIFO with FSS 31), OVRN_FIFO while all 32 levels hold unread sets,
# EMPTY with none, WTM set when a set is written and FSS >= FTH, cleared
# when a set is read and FSS <= FTH (DS 5.1).
#
# Not modelled: 6D/4D recognition, the high-pass filter, the REFERENCE
# register, click, activity, self-test, the auxiliary ADC, the FIFO's
# 10-bit data in low-power/normal modes (the FIFO keeps what the output
# registers held), BDU's hold of a half-read sample.
#
# Reads allocate nothing (samples, FIFO and sources are integers and one
# preallocated bytearray), so a firmware tick can read the chip under
# micropython.heap_lock().

ADDR = 0x18
WHO_AM_I = 0x33
FIFO_LEVELS = 32

_ODR_HZ = (0, 1, 10, 25, 50, 100, 200, 400, 1620, 1344)
_THS_MG = (16, 32, 62, 186)
_HR_MG = (1, 2, 4, 12)  # per digit at 12 bits

# registers the bus cannot write
_READ_ONLY = (0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2F, 0x31, 0x35, 0x39)


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
        self.fifo = bytearray(FIFO_LEVELS * 6)  # the sets as OUT_X_L..OUT_Z_H
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
        self.run = 0  # consecutive samples meeting the IG1 condition
        self.run2 = 0  # the same for IG2
        self.digits = [0, 0, 0]
        self.head = 0  # the oldest unread set's level
        self.count = 0  # unread sets
        self.wtm = 0
        self.stopped = False  # FIFO mode has filled: nothing more until bypass

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

    def fifo_mode(self):
        """FM as it acts: 0 bypass (also with FIFO_EN clear), 1 FIFO,
        2 stream, 3 stream-to-FIFO."""
        r = self.regs
        return r[0x2E] >> 6 if r[0x24] & 0x40 else 0

    def _ia(self, pin):
        # what the INT1 (pin 1) or INT2 (pin 2) pin signals, before polarity
        r = self.regs
        if pin == 1:
            c = r[0x22]
            return bool(c & 0x40 and r[0x31] & 0x40 or c & 0x20 and r[0x35] & 0x40
                        or c & 0x04 and self.wtm or c & 0x02 and self.count == FIFO_LEVELS)
        c = r[0x25]
        return bool(c & 0x40 and r[0x31] & 0x40 or c & 0x20 and r[0x35] & 0x40)

    def int1_pin(self):
        """Level of the INT1 pin (I1_IA1, I1_IA2, I1_WTM, I1_OVERRUN route
        their events; INT_POLARITY inverts)."""
        return int(self._ia(1) != bool(self.regs[0x25] & 0x02))

    def int2_pin(self):
        """Level of the INT2 pin (I2_IA1, I2_IA2; INT_POLARITY inverts)."""
        return int(self._ia(2) != bool(self.regs[0x25] & 0x02))

    # -- I2C -----------------------------------------------------------------

    def point(self, reg):
        self.ptr = reg & 0x7F
        self.auto = bool(reg & 0x80)

    def read_into(self, buf, now_us):
        self.sync(now_us)
        r = self.regs
        p = self.ptr
        fifo = self.fifo_mode() != 0
        for i in range(len(buf)):
            if 0x28 <= p <= 0x2D:
                if fifo and self.count:
                    buf[i] = self.fifo[self.head * 6 + p - 0x28]
                else:
                    buf[i] = r[p]
                r[0x27] = 0  # the data are read: ZYXDA and ZYXOR clear
                if p == 0x2D and fifo:
                    if self.count:
                        self._pop()
                    if self.auto:
                        p = 0x28  # AN3308: the address rolls back over a set
                        continue
            else:
                buf[i] = r[p] if p < 0x40 else 0
                if p == 0x31 and r[0x24] & 0x08:
                    r[0x31] = 0  # a latched IG1 is released by its read
                    self.run = 0
                elif p == 0x35 and r[0x24] & 0x02:
                    r[0x35] = 0  # and IG2 by INT2_SRC's
                    self.run2 = 0
            if self.auto:
                p = (p + 1) & 0x7F
        self.ptr = p

    def write_from(self, buf, start, now_us):
        self.sync(now_us)
        r = self.regs
        p = self.ptr
        for i in range(start, len(buf)):
            v = buf[i]
            if 0x1E <= p <= 0x3F and p not in _READ_ONLY:
                if p == 0x24 and v & 0x80:  # BOOT: reload trimming, clears itself
                    v &= 0x7F
                if p == 0x20 and (v >> 4) != (r[0x20] >> 4):
                    self.last_us = now_us  # the sample clock restarts
                r[p] = v
            if self.auto:
                p = (p + 1) & 0x7F
        self.ptr = p
        if self.fifo_mode() == 0:
            self.head = 0  # bypass: the FIFO is emptied and may run again
            self.count = 0
            self.wtm = 0
            self.stopped = False
        self._fifo_src()

    # -- FIFO ----------------------------------------------------------------

    def _fifo_src(self):
        n = self.count
        self.regs[0x2F] = ((0x80 if self.wtm else 0) | (0x40 if n == FIFO_LEVELS else 0)
                           | (0x20 if n == 0 else 0) | (31 if n > 31 else n))

    def _push(self):
        # the output registers' set into the FIFO, over the oldest when full
        r = self.regs
        f = self.fifo
        t = (self.head + self.count) % FIFO_LEVELS * 6
        if self.count == FIFO_LEVELS:
            self.head = (self.head + 1) % FIFO_LEVELS
        else:
            self.count += 1
        for j in range(6):
            f[t + j] = r[0x28 + j]
        if self.count >= r[0x2E] & 31:
            self.wtm = 1

    def _pop(self):
        self.head = (self.head + 1) % FIFO_LEVELS
        self.count -= 1
        if self.count <= self.regs[0x2E] & 31:
            self.wtm = 0
        self._fifo_src()

    def _collect(self, n):
        # n sets of the same sample, as the FIFO's mode takes them
        fm = self.fifo_mode()
        if fm == 0:
            return
        if fm == 3:  # stream-to-FIFO: FIFO while the trigger is active
            fm = 1 if self._ia(2 if self.regs[0x2E] & 0x20 else 1) else 2
        if fm == 1:
            k = 0 if self.stopped else FIFO_LEVELS - self.count
            if self.regs[0x2E] >> 6 == 1 and self.count + n >= FIFO_LEVELS:
                self.stopped = True
        else:
            k = FIFO_LEVELS  # stream: more than 32 leave 32 copies
        if k > n:
            k = n
        for _ in range(k):
            self._push()
        self._fifo_src()

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
        shift = 16 - bits
        d = self.digits
        for a in range(3):
            if not r[0x20] & (1 << a):
                continue  # axis disabled: its output holds
            v = self.ug[a]
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
        ths_step = _THS_MG[fs] * 1000  # micro-g per threshold LSB
        self.run = self._ig(0x30, n, step, ths_step, self.run, r[0x24] & 0x08)
        self.run2 = self._ig(0x34, n, step, ths_step, self.run2, r[0x24] & 0x02)
        self._collect(n)

    def _ig(self, base, n, step, ths_step, run, latch):
        """One interrupt generator (CFG, SRC, THS, DURATION from base) over
        n samples of the same data; returns its run of samples met."""
        r = self.regs
        cfg = r[base]
        if not cfg & 0x3F or cfg & 0x40:
            return run  # no event enabled (or 6D, not modelled)
        ths = (r[base + 2] & 0x7F) * ths_step
        src = 0
        hits = 0
        wanted = 0
        d = self.digits
        for a in range(3):
            g = abs(d[a]) * step  # the sample's data, micro-g
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
        if met:
            run += n
            if run >= (r[base + 3] & 0x7F) + 1:
                r[base + 1] = 0x40 | src | (r[base + 1] & 0x3F if latch else 0)
        else:
            run = 0
            if not latch:
                r[base + 1] = 0
        return run
