# Events raised inside the tick wait here until the recorder writes them
# into an event block after the tick. The ring is made once, so raising an
# event allocates nothing; if it overflows, the oldest are overwritten and
# counted (the tick must never block on the log).
#
# The small fields are packed arrays (a quarter of a list's RAM on a 64-bit
# port, half on the board); value stays a list because it may be a 32-bit
# quantity that is no small int on the board, and storing a reference to it
# allocates nothing where packing it could.
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# A private const is compiled in: no name on the board (every name is a qstr,
# and the qstr pool's next step is 7 KiB: tests/test_firmware_heap.py).
_CAPACITY = const(32)  # drained every loop pass; a boot or a profile change raises under 10


class EventQueue:
    def __init__(self, capacity=_CAPACITY):
        self.t = array("I", bytes(4 * capacity))  # uptime s: < 2**30 for 34 years
        self.code = bytearray(capacity)
        self.a = bytearray(capacity)
        self.b = array("H", bytes(2 * capacity))
        self.value = [0] * capacity
        self.capacity = capacity
        self.head = 0  # next slot to fill
        self.count = 0
        self.lost = 0

    def push(self, t, code, a=0, b=0, value=0):
        i = self.head
        self.t[i] = t
        self.code[i] = code
        self.a[i] = a
        self.b[i] = b
        self.value[i] = value
        self.head = (i + 1) % self.capacity
        if self.count == self.capacity:
            self.lost += 1
        else:
            self.count += 1

    def drain(self, writer):
        """Move queued events into writer (a log.BlockWriter in events mode)
        until it is full; return how many moved."""
        moved = 0
        while self.count:
            i = (self.head - self.count) % self.capacity
            if not writer.add_event(self.t[i], self.code[i], self.a[i], self.b[i], self.value[i]):
                break
            self.count -= 1
            moved += 1
        return moved

    def clear(self):
        self.count = 0

    def pending(self):
        """Queued events oldest first as (t, code, a, b, value) tuples, for
        tests and status; allocates."""
        out = []
        for k in range(self.count):
            i = (self.head - self.count + k) % self.capacity
            out.append((self.t[i], self.code[i], self.a[i], self.b[i], self.value[i]))
        return out

