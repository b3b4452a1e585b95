# A structure-aware fuzzer of the link that holds the key (issue 15).
#
#     from tests import fuzz
#     got = fuzz.run(seed, cases)     # a dict of figures; got["crashes"]: the failures
#
# It plays a host that knows everything a host can: the device key, the
# device's counter and single-use challenge (from its last STATUS answer,
# SPEC 4.1), so its frames pass the framing (COBS, CRC, lengths) and, when it
# means them to, the tag, freshness and counter checks, and reach every
# handler with field values drawn at and around their edges (0, 1, the
# limits of the field and of the device's state: its log's size, the upload
# received so far, the counter, the phases) and payloads of every length.
# Beside those it sends what a host gets wrong: stale and reused challenges,
# another key, lower and jumping counters, the counter's end (0xFFFFFFFF),
# payloads a byte short or long, unknown types, another version, reply
# flags, oversize lengths, frames cut across reads.
#
# A case is one fuzzed request frame (a command's STATUS for its challenge
# is not counted). The pod runs lock-step as in firmware/main.serve: the
# clock moves a random part of a second, the request is fed, the tick runs
# if due and the service after it. A case fails (a crash) when:
#   - an exception escapes LinkServer.feed, a handler raises (the link
#     answers that with an ERROR now, issue 15 F8, but a handler must not
#     need to), or the tick or the service raise;
#   - a frame with a readable header is not answered exactly once, with its
#     seq, in a reply that decodes; or a stray reply is answered;
#   - a signed reply does not verify under the key that checked it (or, for
#     STATUS and LOG_INFO, over the nonce);
#   - a command signed right, over a fresh challenge, is refused by the
#     guard other than as SPEC 4.4 and issue 15 F9 say (REPLAYED at or below
#     the counter, COUNTER_END at its end but for KEY_ROTATE), or the counter
#     STATUS reports is not the one the accepted commands left;
#   - the tick falls behind the clock (the pod's uptime is not the clock's
#     whole seconds since boot);
#   - every checkpoint (20 a run): a block of the log on flash does not
#     parse, does not follow its seq, or does not chain under the key
#     history; on MicroPython, the heap in use after a collection grows
#     (MEM_SLACK) or peaks (MEM_PEAK).
# Every failure names its seed and case and the line that replays it:
# `python -m tests.fuzz SEED CASE` (or, for a failure on MicroPython,
# `MICROPYPATH=.:tests/mp .venv/bin/micropython tests/fuzz.py SEED CASE`)
# plays the run to that case and prints its frames and what came back. The
# fuzzer's random numbers are its own (xorshift32), so a seed plays the same
# cases on both interpreters.
#
# Runs on CPython and on the micropython binary (tests/mp/test_fuzz.py runs
# it on both; tests/test_fuzz.py the long run on CPython).
import struct
import sys

try:
    _HERE = __file__[: __file__.rfind("/")] if "/" in __file__ else "."
except NameError:  # frozen
    _HERE = "tests"
if _HERE + "/mp" not in sys.path:
    sys.path.append(_HERE + "/mp")

import _profiles  # noqa: E402
from _fakehal import FakeHal  # noqa: E402

from firmware import storefile  # noqa: E402
from firmware.guard import Guard  # noqa: E402
from firmware.pod import Pod  # noqa: E402
from protocol import cobs, frame, message, wire  # noqa: E402
from protocol import profile as pf  # noqa: E402
from protocol.auth import Hmac  # noqa: E402
from protocol.keys import LINK, derive  # noqa: E402

MP = sys.implementation.name == "micropython"
KEY = bytes(range(32))
DEVICE = b"FUZZ0001"
END = 0xFFFFFFFF  # the counter's end
# the log's budget and segments, small: a run fills it, so the stop policy
# refuses and the overwrite policy rolls (drops the oldest segment) often
BUDGET = 32 * 1024
SEGMENT = 4096
FLASH_BLOCKS = 96  # 384 KiB of RAM flash on MicroPython
MEM_SLACK = 2048  # bytes the heap in use may grow by over a run (MicroPython)
MEM_PEAK = 16384  # and be above where it started at any checkpoint
MAX_CRASHES = 10  # kept in the figures; the first is the one to replay
# how to play a case again, on the interpreter that failed it (from the checkout)
REPLAY = ("MICROPYPATH=.:tests/mp .venv/bin/micropython tests/fuzz.py" if MP
          else "python -m tests.fuzz")

COMMANDS = (wire.MSG_TIME_SET, wire.MSG_PROFILE_BEGIN, wire.MSG_PROFILE_CHUNK,
            wire.MSG_PROFILE_COMMIT, wire.MSG_LOG_ERASE, wire.MSG_LOG_SEAL,
            wire.MSG_MAINTENANCE, wire.MSG_PHASE_SET, wire.MSG_KEY_ROTATE)
OPEN = (wire.MSG_IDENTIFY, wire.MSG_STATUS, wire.MSG_PROFILE_READ, wire.MSG_LOG_INFO,
        wire.MSG_LOG_READ)
# what the guard may answer a command signed right over a fresh challenge
GUARD = (wire.ERR_BAD_TAG, wire.ERR_STALE, wire.ERR_REPLAYED, wire.ERR_COUNTER_END,
         wire.ERR_AUTH_REQUIRED)
NONCE_SIGNED = (wire.MSG_STATUS, wire.MSG_LOG_INFO)


def _ms():
    """A millisecond clock: its differences, through _since, are elapsed time."""
    import time

    if MP:
        return time.ticks_ms()
    return int(time.perf_counter() * 1000)


def _since(t0):
    import time

    if MP:
        return time.ticks_diff(time.ticks_ms(), t0)
    return int(time.perf_counter() * 1000) - t0


def _hex(b):
    import binascii

    return binascii.hexlify(bytes(b)).decode()


def _trace(e):
    """The exception and where it was raised, as text."""
    if MP:
        import io

        s = io.StringIO()
        sys.print_exception(e, s)
        return s.getvalue()
    import traceback

    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def _median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def _collected(depth=48):
    """MicroPython: the heap in use after a collection made below a stack
    scrubbed by this recursion. The collector takes any word on the C stack
    for a pointer, and one left there by a deep call long returned (a boot's)
    kept a whole old pod alive: 13 KiB that were the fuzzer's, not the
    device's."""
    if depth:
        return _collected(depth - 1)
    import gc

    gc.collect()
    return gc.mem_alloc()


class Rand:
    """xorshift32: the same numbers for a seed on both interpreters."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1
        for _ in range(4):
            self.u32()

    def u32(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.u32() % n if n > 0 else 0

    def chance(self, percent):
        return self.u32() % 100 < percent

    def pick(self, seq):
        return seq[self.u32() % len(seq)]

    def bytes(self, n):
        import hashlib

        out = b""
        block = struct.pack("<I", self.u32())
        while len(out) < n:
            block = hashlib.sha256(block).digest()
            out += block
        return out[:n]

    def value(self, bits, near=()):
        """A field value of width bits: an edge, a value near one of the
        device's (near), or any."""
        top = (1 << bits) - 1
        k = self.below(10)
        if k == 0:
            return self.pick((0, 1, top, top - 1, top >> 1, (top >> 1) + 1))
        if k < 5 and near:
            v = self.pick(near) + self.pick((-1, 0, 0, 1, 2)) + (self.below(64) if k == 4 else 0)
            return v & top
        if k < 7:
            return self.below(256)
        return self.u32() & top


class Watch:
    """The pod's handler table, each handler wrapped to note what it raised:
    the link answers a raising handler with an ERROR (F8), which the fuzzer
    still counts as a crash."""

    def __init__(self, table, calls):
        self.table = table
        self.raised = None
        self.calls = calls

    def get(self, t):
        h = self.table.get(t)
        if h is None:
            return None
        self.calls[t] = self.calls.get(t, 0) + 1

        def call(values, buf, at):
            try:
                return h(values, buf, at)
            except Exception as e:
                self.raised = e
                raise

        return call


def _flash():
    """(root, unmount): littlefs on a RAM block device under MicroPython,
    a temporary folder on CPython."""
    if MP:
        import vfs
        from _support import RAMBlockDev

        bd = RAMBlockDev(num_blocks=FLASH_BLOCKS)
        vfs.VfsLfs2.mkfs(bd)
        root = "/fuzzflash"
        vfs.mount(vfs.VfsLfs2(bd), root)
        return root, lambda: vfs.umount(root)
    import os
    import shutil
    import tempfile

    # in RAM where the machine has it: the flash's every record replace is a
    # rename, which a disk with discard makes a millisecond
    ram = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    root = tempfile.mkdtemp(prefix="podfuzz", dir=ram)
    return root, lambda: shutil.rmtree(root, ignore_errors=True)


def profile_bytes(r):
    """A profile: mostly one the device takes, with every field drawn in its
    range (and its phases short, so the timeline moves during a run); now
    and then one with a field out of range, a bad size or a bad CRC."""
    nph = 1 + r.below(4) if r.chance(90) else 1 + r.below(pf.MAX_PHASES)
    lo = pf.T_MIN + r.below(20000)
    hi = pf.T_MAX - r.below(20000)
    phases = []
    for _ in range(nph):
        # probe_min < abs_low <= band_low < setpoint < band_high <= abs_high < probe_max
        v = sorted(lo + 1 + r.below(hi - lo - 1) for _ in range(5))
        v = [v[0], v[1], v[2] + 1, v[3] + 2, v[4] + 3]  # the < made strict
        if v[4] >= hi:
            v = [lo + 1, lo + 2, lo + 3, lo + 4, lo + 5]
        phases.append(_profiles.phase(
            r.bytes(r.below(9)), r.pick((0, 0, 1 + r.below(30), 1 + r.below(600))),
            v[2], v[1], v[3], v[0], v[4], r.below(65536), r.pick((1, 1, 2, 5, 60, 3600)),
            r.below(8)))
    h = {}
    for f in pf.HEADER_FIELDS:
        if f[3] is not None:
            edge = r.pick((f[3], f[4]))
            h[f[0]] = f[3] + r.below(f[4] - f[3] + 1) if r.chance(50) else edge
    h.update(probe_min=lo, probe_max=hi, reserved=0, name=r.bytes(r.below(17)),
             cumulative_s=1 + r.below(7200))
    if r.chance(5):  # one header field out of its range
        f = r.pick(pf.HEADER_FIELDS[2:])
        if f[3] is not None and f[1] in ("B", "H"):
            top = 255 if f[1] == "B" else 65535
            if f[4] < top:
                h[f[0]] = f[4] + 1 + r.below(top - f[4])
    data = _profiles.make(phases, **h)
    k = r.below(100)
    if k < 4:  # a byte changed, the CRC made again: the device's check decides
        b = bytearray(data)
        b[r.below(len(b) - 4)] = r.below(256)
        data = bytes(b[:-4]) + struct.pack("<I", frame.crc32(b[:-4]))
    elif k < 6:  # cut short or grown, the CRC made again
        body = data[:-4]
        body = body[: r.below(len(body))] if r.chance(50) else body + r.bytes(1 + r.below(40))
        data = body + struct.pack("<I", frame.crc32(body))
    elif k < 8:  # random bytes of a plausible size
        data = r.bytes(pf.HEADER_LEN + r.below(pf.MAX_SIZE))
    return data


class Fuzzer:
    def __init__(self, seed, show=-1, out=None):
        self.seed = seed
        self.r = Rand(seed)
        self.show = show  # a case to print in full (replay)
        self.out = out if out is not None else print
        self.root, self._unmount = _flash()
        storefile.write(self.root, "profile", _profiles.make())
        Guard(self.root).provision(DEVICE, KEY)
        # the device's key history, 32 bytes a key, newest last, from the
        # key of the oldest block on flash: one buffer, whose size the heap
        # figure leaves out (it is the host's, not the device's)
        self.keys = bytearray(KEY)
        self.hmac = Hmac(derive(KEY, LINK))
        self.sent = []
        self.deframer = frame.Deframer()
        self.seq = 0
        self.counter = 0  # the device's, as the accepted commands left it
        self.challenge = None  # from the last STATUS answer, unspent as far as known
        self.spent = b"\x00" * 8  # a challenge a command already used
        self.candidate = profile_bytes(self.r)  # the profile an upload carries
        self.plan = []  # commands queued: an upload's BEGIN, CHUNKs, COMMIT
        self.case = 0
        self.crashes = []
        self.frames = 0
        self.ticks = 0
        self.boots = 0
        self.ok = {}  # msg type: requests answered with their own type
        self.codes = {}  # ERR_* code: ERRORs answered
        self.max_feed_ms = 0
        self.mem = []  # MicroPython: heap in use after a collection, each checkpoint
        self.calls = {}  # msg type: handler calls
        self.blocks = 0  # bytes of the log checked, over the checkpoints
        self.boot()

    # --- the pod ------------------------------------------------------------

    def boot(self):
        hal = FakeHal(self.root)
        hal.noise = 20
        self.pod = Pod(hal, log_budget=BUDGET).boot()
        self.pod.store.segment_bytes = SEGMENT
        self.pod.out = self.sent.append
        self.watch = Watch(self.pod.link.handlers, self.calls)
        self.pod.link.handlers = self.watch
        self.boot_ms = hal.now_ms
        self.boots += 1

    def loop_pass(self, ms):
        """The clock on by ms, then what main.serve does after the link: the
        tick when due, the service after it; "repl" or "reboot" when a
        MAINTENANCE request was taken."""
        pod = self.pod
        pod.hal.now_ms += ms
        try:
            if pod.tick():
                pod.service()
                self.ticks += 1
        except Exception as e:
            return self.crash("the tick or service raised: " + _trace(e))
        if pod.uptime != (pod.hal.now_ms - self.boot_ms) // 1000:
            return self.crash("tick late: uptime %d at clock %d ms" % (
                pod.uptime, pod.hal.now_ms - self.boot_ms))
        return pod.maintenance_due()

    # --- the link -----------------------------------------------------------

    def feed(self, wire_bytes, expect, msg_type, seq):
        """Feed one frame (across reads, now and then, as the USB line cuts
        it); the replies, checked: expect is how many (0 or 1)."""
        self.frames += 1
        self.sent.clear()
        self.watch.raised = None
        link = self.pod.link
        r = self.r
        t0 = _ms()
        try:
            if r.chance(85):
                link.feed(wire_bytes)
            else:
                at = 0
                while at < len(wire_bytes):
                    n = 1 + r.below(256)
                    link.feed(wire_bytes[at : at + n])
                    at += n
        except Exception as e:
            self.crash("an exception escaped LinkServer.feed: " + _trace(e))
            return []
        dt = _since(t0)
        if dt > self.max_feed_ms:
            self.max_feed_ms = dt
        if self.watch.raised is not None:
            self.crash("the handler of 0x%02x raised: %s" % (msg_type,
                                                              _trace(self.watch.raised)))
        got = []
        for b in self.sent:
            got += self.deframer.feed(bytes(b))
        if len(got) != expect:
            self.crash("%d replies to a frame that needs %d" % (len(got), expect))
            return []
        for f in got:
            if not isinstance(f, frame.Frame) or not f.flags & wire.FLAG_REPLY or f.seq != seq:
                self.crash("a reply that is no reply to seq %d: %r" % (seq, f))
                return []
            if message.unpack(f.type, True, f.payload) is None:
                self.crash("a reply whose payload does not fit its layout: %r" % f)
                return []
            if f.type == wire.MSG_ERROR:
                code = f.payload[0]
                self.codes[code] = self.codes.get(code, 0) + 1
            elif f.type == msg_type:
                self.ok[msg_type] = self.ok.get(msg_type, 0) + 1
            else:
                self.crash("a reply of type 0x%02x to 0x%02x" % (f.type, msg_type))
        return got

    def request(self, msg_type, payload, flags=0, counter=0, hmac=None, challenge=b"",
                version=wire.PROTOCOL_VERSION, length=None):
        """Build, feed and check one frame; its reply (a Frame) or None."""
        self.seq = (self.seq + 1) & 0xFFFF
        seq = self.seq
        head = struct.pack(frame.HEADER_FMT, version, msg_type, flags, seq,
                           len(payload) if length is None else length)
        raw = head
        if flags & wire.FLAG_AUTH:
            raw += struct.pack("<I", counter & END) + payload
            raw += hmac.tag(raw, challenge) if hmac is not None else self.r.bytes(16)
        else:
            raw += payload
        raw += struct.pack("<I", frame.crc32(raw))
        data = cobs.encode(raw) + b"\x00"
        if self.r.chance(10):  # what a host sends first to flush a partial frame
            data = b"\x00" + data
        # answered unless the deframer drops it as noise (longer than a frame
        # can be) or it passes the framing as a reply (a device takes none)
        framed = (version == wire.PROTOCOL_VERSION and len(payload) <= frame.MAX_PAYLOAD
                  and (length is None or length == len(payload)) and wire.known(msg_type))
        expect = 0 if len(data) - data.count(b"\x00") > frame.MAX_WIRE else 1
        if framed and flags & wire.FLAG_REPLY:
            expect = 0
        if self.case == self.show:
            self.out("case %d: type 0x%02x seq %d flags 0x%02x counter %d payload %s" % (
                self.case, msg_type, seq, flags, counter, _hex(payload)))
            self.out("  wire %s" % _hex(data))
        got = self.feed(data, expect, msg_type, seq)
        if self.case == self.show:
            for f in got:
                self.out("  reply %r %r" % (f, message.unpack(f.type, True, f.payload)))
        return got[0] if got else None

    def status(self):
        """STATUS with a fresh nonce: the device's counter and a challenge."""
        nonce = self.r.bytes(16)
        f = self.request(wire.MSG_STATUS, nonce)
        if f is None or f.type != wire.MSG_STATUS:
            return self.crash("STATUS not answered: %r" % f)
        if not f.verify(self.hmac, nonce):
            return self.crash("STATUS not signed over its nonce under the device's key")
        v = message.unpack(wire.MSG_STATUS, True, f.payload)
        if self.counter is None:  # a command refused STORAGE: stored or not
            self.counter = v[-2]
        self.challenge = v[-1]
        if v[-2] != self.counter:
            self.crash("STATUS.counter %d, the accepted commands left %d" % (
                v[-2], self.counter))
            self.counter = v[-2]  # and on: the next finding is another
        return v

    # --- what a case sends --------------------------------------------------

    def values(self, t):
        """Field values for a request of type t, at and around the edges of
        the fields and of the device's state."""
        r = self.r
        pod = self.pod
        store = pod.store
        up = self.watch.table.up if hasattr(self.watch.table, "up") else None
        cand = self.candidate
        if t in (wire.MSG_STATUS, wire.MSG_LOG_INFO, wire.MSG_LOG_SEAL):
            return (r.bytes(16),)
        if t == wire.MSG_TIME_SET:
            return (r.value(32, (pod.uptime, 0xC0000000, 1_800_000_000)),)
        if t == wire.MSG_PROFILE_BEGIN:
            if r.chance(70):
                return (len(cand), pf.ident(cand))
            return (r.value(32, (len(cand), pf.MAX_SIZE, pf.HEADER_LEN + pf.PHASE_LEN + 4)),
                    r.value(32, (pf.ident(cand),)))
        if t == wire.MSG_PROFILE_CHUNK:
            got = up.received if up is not None else 0
            if r.chance(70):
                at = got if r.chance(80) else r.below(got + 1)
                return (at, cand[at : at + 1 + r.below(200)])
            at = r.value(32, (got, len(cand)))
            return (at, r.bytes(r.below(frame.MAX_PAYLOAD - 3)))
        if t == wire.MSG_PROFILE_COMMIT:
            return (pf.ident(cand) if r.chance(80) else r.value(32, (pf.ident(cand),)),)
        if t in (wire.MSG_PROFILE_READ, wire.MSG_LOG_READ):
            size = store.size if t == wire.MSG_LOG_READ else (
                len(pod.profile.data) if pod.profile is not None else 0)
            return (r.value(32, (0, size, size - 1000)), r.value(16, (1016, 1024, 0)))
        if t == wire.MSG_LOG_ERASE:
            # mostly before the log's head (nothing erased) or in its first
            # segment, now and then all of it: the log is to reach its
            # budget and roll too
            k = r.below(100)
            if k < 80:
                return ((store.first() - 1 - r.below(4)) & END,)
            if k < 97:
                return ((store.first() + r.below(64)) & END,)
            return (r.value(32, (store.last_seq & END, store.next_seq)),)
        if t == wire.MSG_MAINTENANCE:
            return (r.pick((0, 3, 255, 1, 2)) if r.chance(3) else r.pick((0, 3, 4, 255, 0x80)),)
        if t == wire.MSG_PHASE_SET:
            n = len(pod.profile.phases) if pod.profile is not None else 0
            return (r.value(8, (0, n - 1, n)),)
        if t == wire.MSG_KEY_ROTATE:
            return (r.bytes(32),)
        return ()

    def payload(self, t, values=None):
        """The request's payload; now and then a byte short, long, empty."""
        r = self.r
        if values is None:
            values = self.values(t)
        if wire.fmt(t, False) is None:
            return r.bytes(r.below(64))
        p = message.pack(t, False, *values)
        k = r.below(100)
        if k < 3 and p:
            p = p[: r.below(len(p))]
        elif k < 6:
            p = p + r.bytes(1 + r.below(8 if r.chance(80) else 900))
            p = p[: frame.MAX_PAYLOAD]
        return p

    def next_counter(self):
        """Mostly the next; now and then a jump, the same, a lower, the end."""
        r = self.r
        d = self.counter or 0  # None: not known since a STORAGE refusal
        k = r.below(100)
        if k < 82:
            return min(d + 1, END)
        if k < 86:
            return min(d + 1 + r.below(1 << 20), END)
        if k < 89:
            return d
        if k < 92:
            return r.below(d + 1)
        if k < 95:
            return END
        if k < 98:
            return END - 1 - r.below(3)
        return r.u32()

    def command(self, t=None, values=None, counter=None):
        """A command signed right over a fresh challenge, and the guard's
        verdict held to SPEC 4.4 and F9."""
        r = self.r
        if t is None:
            t = r.pick(COMMANDS)
            if t == wire.MSG_KEY_ROTATE and r.chance(70):
                t = r.pick(COMMANDS)  # a rotation seals the open block: less often
        if self.status() is None:
            return
        if counter is None:
            counter = self.next_counter()
        if self.counter == END and r.chance(30):  # the end: re-key, as a host must
            t, counter, values = wire.MSG_KEY_ROTATE, END, None
        payload = self.payload(t, values)
        challenge = self.challenge
        f = self.request(t, payload, wire.FLAG_AUTH, counter, self.hmac, challenge)
        self.challenge = None  # spent whatever the answer
        self.spent = challenge
        if f is None:
            return
        d = self.counter
        code = f.payload[0] if f.type == wire.MSG_ERROR else 0
        if d == END:
            want = 0 if (t == wire.MSG_KEY_ROTATE and counter == END) else wire.ERR_COUNTER_END
        else:
            want = 0 if counter > d else wire.ERR_REPLAYED
        if code in GUARD or want:
            if code != want:
                return self.crash("the guard answered %d to a command signed right over a "
                                  "fresh challenge, counter %d at %d: %d wanted" % (
                                      code, counter, d, want))
        if not f.flags & wire.FLAG_AUTH or not f.verify(self.hmac):
            return self.crash("the answer to a command that checked is not signed with "
                              "its key: %r" % f)
        if f.counter != counter:
            return self.crash("the answer carries counter %r, the command %d" % (
                f.counter, counter))
        if want:
            return
        self.counter = None if code == wire.ERR_STORAGE else counter  # STATUS will say
        if t == wire.MSG_KEY_ROTATE and f.type == t:
            # the device unwraps it with the request's challenge and counter (SPEC 5.14)
            pad = self.hmac.digest(b"podctl key wrap", challenge, struct.pack("<I", counter))
            wrapped = message.unpack(t, False, payload)
            if wrapped is not None:
                new = bytes(wrapped[0][i] ^ pad[i] for i in range(32))
                self.keys += new
                self.hmac = Hmac(derive(new, LINK))
                self.counter = 0  # a new key's counter starts at 0 (F9)
        if t == wire.MSG_PROFILE_COMMIT:
            self.candidate = profile_bytes(r)  # taken or not: another next time

    def bad_command(self):
        """A command a host gets wrong: its challenge spent, expired or
        never asked for, another key, a forged tag, no FLAG_AUTH."""
        r = self.r
        t = r.pick(COMMANDS)
        payload = self.payload(t)
        k = r.below(6)
        hmac = self.hmac
        ch = self.spent
        if k == 0:
            hmac = Hmac(r.bytes(32))  # another key
        elif k == 1:
            hmac = None  # a forged tag
        elif k == 2 and self.status() is not None:
            ch = self.challenge  # fresh, but held back past its 30 s
            self.loop_pass(30001)
        elif k == 3:
            f = self.request(t, payload)  # no FLAG_AUTH
            self.expect_code(f, (wire.ERR_AUTH_REQUIRED,))
            return
        f = self.request(t, payload, wire.FLAG_AUTH, self.next_counter(), hmac, ch)
        if k == 2:
            self.challenge = None
        self.expect_code(f, (wire.ERR_BAD_TAG, wire.ERR_STALE))

    def expect_code(self, f, codes):
        if f is None:
            return
        if f.type != wire.MSG_ERROR or f.payload[0] not in codes:
            self.crash("a command with no valid tag answered %r %r, not one of %r" % (
                f, message.unpack(f.type, True, f.payload), codes))

    def open_request(self):
        r = self.r
        t = r.pick(OPEN)
        payload = self.payload(t)
        if r.chance(10):  # FLAG_AUTH on an open request: not checked, its counter echoed
            f = self.request(t, payload, wire.FLAG_AUTH, r.u32(), None)
        else:
            f = self.request(t, payload)
        if t == wire.MSG_STATUS and f is not None and f.type == t:
            self.challenge = None  # a new one, which this case did not keep
        if f is not None and f.flags & wire.FLAG_AUTH:
            extra = payload[:16] if t in NONCE_SIGNED else b""
            if not f.verify(self.hmac, extra):
                self.crash("a signed answer to an open request does not verify: %r" % f)

    def odd_frame(self):
        """What passes the framing but is wrong above it, and some that do not pass."""
        r = self.r
        k = r.below(8)
        t = r.pick(COMMANDS + OPEN)
        payload = self.payload(t)
        if k == 0:
            t = r.pick((0x00, 0x03, 0x11, 0x24, 0x34, 0x43, 0x55, 0x7E, 0x80, 0xFF))
            f = self.request(t, r.bytes(r.below(40)))
            self.expect_code(f, (wire.ERR_UNKNOWN_TYPE,))
        elif k == 1:
            f = self.request(wire.MSG_ERROR, r.bytes(r.below(8)))  # ERROR as a request
            self.expect_code(f, (wire.ERR_UNKNOWN_TYPE,))
        elif k == 2:
            f = self.request(t, payload, version=r.pick((0, 1, 3, 0xFF)))
            self.expect_code(f, (wire.ERR_BAD_VERSION,))
        elif k == 3:
            self.request(t, payload, flags=wire.FLAG_REPLY | r.below(256))  # a stray reply
        elif k == 4:  # flag bits no one defined: ignored
            self.request(t, payload, flags=r.below(256) & ~(wire.FLAG_REPLY | wire.FLAG_AUTH))
        elif k == 5:  # the header's length disagrees with the frame
            n = len(payload) + r.pick((-1, 1, 2, 300))
            f = self.request(t, payload, length=n & 0xFFFF)
            self.expect_code(f, (wire.ERR_BAD_LENGTH,))
        elif k == 6:  # longer than any payload
            big = r.bytes(frame.MAX_PAYLOAD + 1 + r.below(20))
            f = self.request(t, big)
            self.expect_code(f, (wire.ERR_OVERSIZE,))
        else:  # noise: garbage, a frame with its CRC broken
            self.frames += 1
            self.sent.clear()
            junk = r.bytes(1 + r.below(300))
            try:
                self.pod.link.feed(junk + b"\x00")
            except Exception as e:
                self.crash("an exception escaped LinkServer.feed on noise: " + _trace(e))
            if self.sent:
                self.crash("noise was answered")

    def upload(self):
        """Queue an upload of the candidate profile: BEGIN, its chunks, COMMIT."""
        r = self.r
        if r.chance(80):
            self.candidate = profile_bytes(r)
        cand = self.candidate
        plan = [(wire.MSG_PROFILE_BEGIN, (len(cand), pf.ident(cand)))]
        step = r.pick((64, 100, 200, 1000))
        for at in range(0, len(cand), step):
            plan.append((wire.MSG_PROFILE_CHUNK, (at, cand[at : at + step])))
        plan.append((wire.MSG_PROFILE_COMMIT, (pf.ident(cand),)))
        self.plan = plan

    # --- the run --------------------------------------------------------------

    def one(self):
        r = self.r
        if self.loop_pass(r.below(700)):
            # MAINTENANCE took: the loop ends, the board comes back (here, not
            # in loop_pass: a frame that held the old pod would keep it alive)
            self.boot()
            self.challenge = None
        if self.plan and r.chance(90):
            t, values = self.plan.pop(0)
            self.command(t, values if r.chance(95) else None)
            return
        k = r.below(100)
        if k < 3:
            self.upload()
        elif k < 58:
            self.command()
        elif k < 66:
            self.bad_command()
        elif k < 88:
            self.open_request()
        else:
            self.odd_frame()

    def crash(self, what):
        if len(self.crashes) < MAX_CRASHES:
            self.crashes.append("fuzz seed %d case %d: %s\n  replay: %s %d %d" % (
                self.seed, self.case, what, REPLAY, self.seed, self.case))
        else:
            self.crashes.append(None)  # counted only
        if self.case == self.show:
            self.out("  CRASH: " + what)
        return None

    def check_log(self):
        """The log on flash (the open block is not yet): every block parses,
        its seq is the one before it plus one, and its MAC chains to the
        block before under the key of the device's history then in force (a
        rotation moves it to the next, never back). At each checkpoint:
        erases and the overwrite policy leave only the newest at the end."""
        from protocol import block as log
        from protocol.keys import LOG

        store = self.pod.store
        buf = bytearray(log.BLOCK_MAX)
        at = 0
        prev = None
        k = 0  # the key of self.keys in force
        first = -1  # the key the first chained block is under
        keys = len(self.keys) // 32
        mac_key = Hmac(derive(self.keys[:32], LOG))
        while at < store.size:
            n = store.read_into(at, memoryview(buf))
            chunk = memoryview(buf)[:n]
            blk = log.parse_block(chunk, 0)
            if not isinstance(blk, log.Block):
                return self.crash("the log's block at %d does not parse: %r" % (at, blk))
            if prev is not None:
                if blk.seq != prev[0] + 1:
                    return self.crash("the log's block at %d has seq %d after %d" % (
                        at, blk.seq, prev[0]))
                while log.block_mac(mac_key, prev[1], chunk, blk.length) != blk.mac(chunk):
                    k += 1
                    if k == keys:
                        return self.crash("the log's block %d chains under no key of the "
                                          "device's history from the one before" % blk.seq)
                    mac_key = Hmac(derive(self.keys[32 * k : 32 * k + 32], LOG))
                if first < 0:
                    first = k
            prev = (blk.seq, bytes(blk.mac(chunk)))
            at += blk.size
        self.blocks += at
        # the keys before are no block's on flash now, nor any to come: not kept
        self.keys = self.keys[32 * first :] if first >= 0 else self.keys[-32:]

    def checkpoint(self):
        self.check_log()
        if MP:
            self.mem.append(_collected() - len(self.keys))

    def run(self, cases):
        t0 = _ms()
        every = max(1, cases // 20)
        for i in range(cases):
            self.case = i
            if i % every == 0:
                self.checkpoint()
            self.one()
            if i == self.show:
                break
        self.checkpoint()
        growth = peak = 0
        if len(self.mem) >= 8:
            # the first quarter's median against the last quarter's: a leak of
            # a byte a case shows; a request's transient (a 16-phase profile
            # held, an upload under way) does not, unless past MEM_PEAK
            q = len(self.mem) // 4
            first = _median(self.mem[1 : 1 + q])  # [0]: before the log's files were made
            growth = _median(self.mem[-q:]) - first
            peak = max(self.mem[1:]) - first
            if growth > MEM_SLACK or peak > MEM_PEAK:
                self.case = cases
                self.crash("the heap in use grew by %d bytes, %d at its peak (MicroPython, "
                           "after a collection): %r" % (growth, peak, self.mem))
        handled = [t for t in COMMANDS + OPEN if not self.ok.get(t)]
        if cases >= 5000 and handled and self.show < 0:
            self.case = cases
            self.crash("handlers never reached with success: %r" % handled)
        figures = {
            "seed": self.seed,
            "cases": min(cases, self.case + 1),
            "frames": self.frames,
            "crashes": len(self.crashes),
            "failures": [c for c in self.crashes if c],
            "ticks": self.ticks,
            "boots": self.boots,
            "log_bytes_checked": self.blocks,
            "ok": self.ok,
            "errors": self.codes,
            "handler_calls": self.calls,
            "max_feed_ms": self.max_feed_ms,
            "mem": self.mem,
            "mem_growth": growth,
            "mem_peak": peak,
            "seconds": _since(t0) / 1000,
        }
        self._unmount()
        return figures


def run(seed, cases, show=-1, out=None):
    """Play cases fuzzed cases from seed; a dict of figures (see Fuzzer.run).
    show: print that case in full and stop after it (a replay)."""
    return Fuzzer(seed, show, out).run(cases)


def main(argv):
    """python -m tests.fuzz SEED [CASE | -n CASES]: replay CASE of SEED, or
    play CASES of it and print the figures."""
    seed = int(argv[1]) if len(argv) > 1 else 1
    if len(argv) > 3 and argv[2] == "-n":
        got = run(seed, int(argv[3]))
    else:
        case = int(argv[2]) if len(argv) > 2 else 0
        got = run(seed, case + 1, show=case)
    for c in got["failures"]:
        print(c)
    got.pop("failures")
    print(got)
    return 1 if got["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
