# Probe validation: which of the redundant temperature probes to believe,
# and the payload temperature estimate from the ones that pass.
#
# Every reading is checked each tick, in this order: the HAL could read it;
# it lies in the profile's plausible range; it moved no faster than
# rate_max per second; it has not repeated the exact same value for
# stuck_s seconds (real probes carry ADC noise); and, with three or more
# candidates, it lies within `disagree` of their median (with two, there is
# no majority to say which is wrong, so both are kept; but an excluded one
# beside the one trusted probe left is still judged against it, or it would
# earn its way back unchecked). The median is taken
# over the candidates not already excluded when any is, so a probe that
# drifted away cannot pull the reference off the good ones; when only one or
# two are trusted, none of them is excluded for disagreeing (no majority of
# trusted probes: excluded ones, a drifted and a noisy, must not outvote the
# last good one), only the excluded are judged against them. A trusted probe
# is judged against the median of the trusted ones, itself among them: of
# three that is a majority vote, where the median of the other two is their
# mean, and one probe jumping twice the limit away would pull it past the
# limit from both good ones and exclude all three (SPEC 9.3). A probe failing a
# check is excluded and a PROBE_FAULT event raised once; it comes back after
# passing every check for recover_s seconds in a row, the disagree check
# with a margin: within half the limit of the reference, not the limit
# itself (issue 17: a probe drifting at the limit was excluded and back
# seven times in an hour, each pair two log events and two report rows).
#
# An exclusion for rate or disagree also says what the reading was compared
# with (issue 17: a reviewer asked "disagree with what?"): a PROBE_REFERENCE
# event follows its PROBE_FAULT, b = the kind << 8 | (rate: the seconds since
# the previous reading; disagree: the probes the median was taken over, bit
# n = probe n, | 0x10 when they were the trusted ones), value = the reference
# in mdegC (rate: the previous reading; disagree: the median). The
# difference is the PROBE_FAULT's reading minus it; the limit is the
# profile's (SPEC 9.3).
#
# Integers only (milli-degrees): this runs inside the allocation-free tick.
try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from protocol import block as log
from protocol import codes

# protocol/log.py EV_PROBE_REFERENCE: a private const is compiled in, where a
# name in protocol/block.py would cost the board a qstr
_EV_PROBE_REFERENCE = const(16)
_TRUSTED = const(0x10)  # the disagree median was of trusted probes only
# an excluded probe counts towards its recovery only within disagree >> this
# of the reference (half the limit: 0.75 K at 1.5 K), against the limit
# itself to stay in; the margin is far above the probes' noise (about 20 mdegC)
_BACK_SHIFT = const(1)


class Probes:
    def __init__(self, n):
        self.n = n
        self.reading = [0] * n  # this tick's raw values, mdegC
        self.prev = [0] * n
        self.same_s = [0] * n  # seconds the value has not changed
        self.pass_s = [0] * n  # seconds passing every check, while faulted
        self.fault = [0] * n  # 0 = good, else the FAULT_* that excluded it
        self.cand = [0] * n  # scratch: candidate flags this tick
        self._sorted = [0] * n  # scratch for the median
        self.failed = 0  # bit n = the HAL could not read probe n this tick
        self.good = 0  # bit n = probe n good
        self.count = 0
        self.estimate = 0  # mean of the good probes; held when none is good
        self._started = False
        self.configure(-40000, 85000, 1000, 3000, 0, 60)

    def configure(self, lo, hi, rate_max, disagree, stuck_s, recover_s):
        self.lo = lo
        self.hi = hi
        self.rate_max = rate_max
        self.disagree = disagree
        self.stuck_s = stuck_s
        self.recover_s = recover_s

    def _median(self, trusted):
        """Median of the candidates' readings (insertion sort on scratch);
        trusted: only those not already excluded."""
        s = self._sorted
        k = 0
        for i in range(self.n):
            if self.cand[i] and not (trusted and self.fault[i]):
                v = self.reading[i]
                j = k
                while j > 0 and s[j - 1] > v:
                    s[j] = s[j - 1]
                    j -= 1
                s[j] = v
                k += 1
        if k & 1:
            return s[k >> 1]
        return (s[(k >> 1) - 1] + s[k >> 1]) >> 1

    def update(self, fail_mask, dt, t, events):
        """Check this tick's readings (already in self.reading)."""
        reading = self.reading
        self.failed = fail_mask
        ncand = 0
        for i in range(self.n):
            v = reading[i]
            kind = 0
            if fail_mask >> i & 1:
                kind = codes.FAULT_READ
            elif v < self.lo or v > self.hi:
                kind = codes.FAULT_RANGE
            elif self._started and abs(v - self.prev[i]) > self.rate_max * dt:
                kind = codes.FAULT_RATE
            else:
                if self._started and v == self.prev[i]:
                    self.same_s[i] += dt
                else:
                    self.same_s[i] = 0
                if self.stuck_s and self.same_s[i] >= self.stuck_s:
                    kind = codes.FAULT_STUCK
            if kind:
                self.same_s[i] = 0 if kind != codes.FAULT_STUCK else self.same_s[i]
                self.cand[i] = 0
                if self._fail(i, kind, v, t, events) and kind == codes.FAULT_RATE:
                    # compared with its own previous reading, dt seconds ago
                    events.push(t, _EV_PROBE_REFERENCE, i,
                                kind << 8 | (dt if dt < 255 else 255), self.prev[i])
            else:
                self.cand[i] = 1
                ncand += 1
            self.prev[i] = v
        if ncand >= 2:
            # the reference is the median of the probes still trusted when
            # any is, so an excluded drifting probe cannot drag it; one or
            # two trusted probes have no majority, so they are kept and only
            # the excluded ones are judged against them. Two candidates are
            # judged only when one is trusted and the other excluded: two
            # trusted have no majority, two excluded no reference
            trusted = 0
            mask = 0  # the trusted candidates, then those the median is of
            every = 0  # every candidate
            for i in range(self.n):
                if self.cand[i]:
                    every |= 1 << i
                    if not self.fault[i]:
                        trusted += 1
                        mask |= 1 << i
            if ncand == 2 and trusted != 1:
                trusted = -1  # nothing to judge: the loop below skips
            mid = self._median(trusted > 0)
            mask = mask | _TRUSTED if trusted else every
            for i in range(self.n):
                if trusted < 0 or (trusted < 3 and not self.fault[i]):
                    continue
                if not self.cand[i]:
                    continue
                d = abs(reading[i] - mid)
                if d > self.disagree:
                    self.cand[i] = 0
                    if self._fail(i, codes.FAULT_DISAGREE, reading[i], t, events):
                        events.push(t, _EV_PROBE_REFERENCE, i,
                                    codes.FAULT_DISAGREE << 8 | mask, mid)
                elif self.fault[i] and d > self.disagree >> _BACK_SHIFT:
                    # hysteresis: an excluded probe comes back only well
                    # inside the limit, so one drifting along it (noise
                    # and the median's wander crossing it both ways) stays
                    # out instead of flapping; its hold restarts, its
                    # fault kind and the log are left as they are
                    self.cand[i] = 0
                    self.pass_s[i] = 0
        good = 0
        count = 0
        total = 0
        for i in range(self.n):
            if not self.cand[i]:
                continue
            if self.fault[i]:
                self.pass_s[i] += dt
                if self.pass_s[i] < self.recover_s:
                    continue
                self.fault[i] = 0
                events.push(t, log.EV_PROBE_RECOVERED, i)
            good |= 1 << i
            count += 1
            total += reading[i]
        self.good = good
        self.count = count
        if count:
            self.estimate = total // count
        self._started = True

    def _fail(self, i, kind, v, t, events):
        """Exclude probe i (again); True when this newly excluded it and
        logged PROBE_FAULT."""
        self.pass_s[i] = 0
        was = self.fault[i]
        self.fault[i] = kind
        if was:
            return False
        if kind == codes.FAULT_READ:
            v = log.NO_READING_MDEG  # the HAL left nothing to report
        events.push(t, log.EV_PROBE_FAULT, i, kind, v)
        return True
