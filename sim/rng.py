# Deterministic pseudo-random numbers for the simulator: the same seed gives
# the same sequence, bit for bit, on CPython and on the MicroPython unix port
# (the `random` module differs between them and is not seedable alike).
#
# Generator: splitmix64 (Steele, Lea, Flood 2014; the seeder of xoshiro),
# state masked to 64 bits after every operation. Any seed, 0 included, gives
# a full-period sequence. uniform() takes the top 53 bits, so the float is
# exact on both interpreters; gauss() is the polar Box-Muller method, which
# needs only sqrt (exact in IEEE 754) and log (the C library's on both).

import math

_MASK = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TWO53 = 9007199254740992.0  # 2**53


class Rng:
    """Seeded generator; uniform() in [0, 1), gauss(mu, sigma), randint(a, b)."""

    def __init__(self, seed=0):
        self.state = seed & _MASK
        self._spare = None  # second normal of the last polar pair

    def next64(self):
        """Next raw 64-bit integer."""
        s = (self.state + _GOLDEN) & _MASK
        self.state = s
        z = ((s ^ (s >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next64() >> 11) / _TWO53

    def randint(self, a, b):
        """Integer in [a, b], both ends included (rejection: no modulo bias)."""
        n = b - a + 1
        if n <= 0:
            raise ValueError("randint: empty range")
        limit = (1 << 64) - (1 << 64) % n
        while True:
            x = self.next64()
            if x < limit:
                return a + x % n

    def gauss(self, mu=0.0, sigma=1.0):
        spare = self._spare
        if spare is not None:
            self._spare = None
            return mu + sigma * spare
        while True:
            u = 2.0 * self.uniform() - 1.0
            v = 2.0 * self.uniform() - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                break
        f = math.sqrt(-2.0 * math.log(s) / s)
        self._spare = v * f
        return mu + sigma * u * f

    def fork(self, salt):
        """An independent generator derived from this one's seed and a salt,
        so adding a consumer does not shift every other stream."""
        r = Rng(0)
        r.state = (self.state ^ ((salt * _M1) & _MASK)) & _MASK
        r.next64()
        return r
