# A model of the rp2 port's USB CDC stdio on a virtual clock, for the serve
# loop's tests (issue 16: a host that holds the port open and stops reading
# must not stall the control tick).
#
# rp2's stdout write (MicroPython shared/tinyusb/mp_usbd_cdc.c,
# mp_usbd_cdc_tx_strn) goes in chunks of 64 bytes (CFG_TUD_CDC_EP_BUFSIZE);
# while the port is connected and a chunk does not fit the 256-byte TX FIFO
# it waits, 1 ms at a time, up to MICROPY_HW_USB_CDC_TX_TIMEOUT (500 ms),
# then writes what fits, if anything. Poll says writable with one byte of
# room. The host here takes everything in the FIFO whenever it is reading.
import io
import select

from protocol import frame

FIFO = 256
CHUNK = 64
TIMEOUT_MS = 500


class Clock:
    """Virtual milliseconds: each reading costs one (so a loop that only
    asks the time still moves it), a wait costs what it waits."""

    def __init__(self):
        self.now = 0


class Cdc(io.IOBase):
    def __init__(self, clock, reading):
        self.clock = clock
        self.reading = reading  # reading(now) -> the host takes bytes now
        self.fifo = bytearray()
        self.deframer = frame.Deframer()
        self.replies = []  # (type, seq) of each whole frame the host took
        self.longest = 0  # the longest a write waited, ms

    def _drain(self):
        if self.fifo and self.reading(self.clock.now):
            for r in self.deframer.feed(bytes(self.fifo)):
                if isinstance(r, frame.Frame):
                    self.replies.append((r.type, r.seq))
            self.fifo = bytearray()

    def write(self, buf):
        start = self.clock.now
        i = 0
        while i < len(buf):
            n = min(CHUNK, len(buf) - i)
            t0 = self.clock.now
            self._drain()
            while n > FIFO - len(self.fifo) and self.clock.now - t0 < TIMEOUT_MS:
                self.clock.now += 1
                self._drain()
            n = min(n, FIFO - len(self.fifo))
            if n == 0:
                break
            self.fifo += buf[i : i + n]
            i += n
        self._drain()
        self.longest = max(self.longest, self.clock.now - start)
        return i

    def ioctl(self, op, arg):
        if op == 3:  # MP_STREAM_POLL
            self._drain()
            return arg & select.POLLOUT if len(self.fifo) < FIFO else 0
        return 0


class Requests(io.IOBase):
    """The host's side of stdin: frames, each made available at its virtual
    time; the end of input after the last."""

    def __init__(self, clock, frames, end_ms):
        self.clock = clock
        self.frames = frames  # [(ms, bytes)], in time order
        self.end_ms = end_ms
        self.buf = bytearray()
        self.at = 0

    def _due(self):
        while self.at < len(self.frames) and self.frames[self.at][0] <= self.clock.now:
            self.buf += self.frames[self.at][1]
            self.at += 1

    def readinto(self, b):
        self._due()
        if not self.buf:
            return 0  # only asked when poll said so: the end of input
        b[0] = self.buf[0]
        self.buf = self.buf[1:]
        return 1

    def ioctl(self, op, arg):
        if op == 3:
            self._due()
            if self.buf or self.clock.now >= self.end_ms:
                return arg & select.POLLIN
            return 0
        return 0


class Poll:
    """select.poll over these streams' ioctl, for CPython (whose select
    takes only file descriptors); MicroPython's own poll does the same. A
    timeout passes no time: the streams are on the virtual clock."""

    def __init__(self):
        self.objs = []

    def register(self, obj, flags):
        self.objs.append((obj, flags))

    def poll(self, timeout=-1):
        return [(o, o.ioctl(3, f)) for o, f in self.objs if o.ioctl(3, f)]


class Select:
    POLLIN = select.POLLIN
    POLLOUT = select.POLLOUT
    poll = Poll


def on_cpython(module):
    """Give module (firmware.main) Poll for select.poll when not on
    MicroPython; returns a function that undoes it."""
    import sys

    if sys.implementation.name == "micropython":
        return lambda: None
    real = module.select
    module.select = Select
    return lambda: setattr(module, "select", real)
