# Authentication of state-changing commands: the device key, the monotonic
# counter and the single-use challenge that make every accepted request
# fresh and single-use.
#
# A request is accepted when its HMAC tag matches under the link key with
# the device's current challenge appended (SPEC 4.1) and its counter is
# above the last accepted one. The counter's end, 0xFFFFFFFF, takes only a
# KEY_ROTATE (with that counter), and every KEY_ROTATE starts the new key's
# counter at 0. The challenge is made by STATUS, used up by
# the first request that checks under it, and expires 30 s after it
# was made: a command held back on the line, delivered twice or out of order
# checks only under a spent challenge and is refused as STALE. The new
# counter is on flash before the command acts, so a power cut between the
# two cannot reopen a replay window.
#
# The device key never signs anything itself: the link's tags and the log's
# MAC chain each use a key derived from it (protocol/auth.py, derive), so a
# tag of one can never stand for the other.
import struct

from firmware import storefile
from protocol import wire as c
from protocol.auth import KEY_LEN, Hmac

IDENTITY = "identity"  # device id (16 bytes; 8 before protocol 2) and key (32 bytes)
COUNTER = "counter"  # last accepted counter (u32)

# A challenge is spent 30 s (30000 ms) after STATUS made it (SPEC 4.4); the
# last 4 made are remembered, so a late request is named STALE. Literals, not
# names: every global is a qstr and a slot in the module's dict, and the
# board's heap and qstr pool have little to spare (tests/test_firmware_heap.py);
# for the same reason the names below reuse ones MicroPython has built in
# (next, time, key, data) or the firmware already uses (prev).


class Guard:
    def __init__(self, root):
        self.root = root
        self.device_id = b"\x00" * 16
        self.hmac = None  # the link key's Hmac; None until provisioned: every command refused
        self.log = None  # the log key's Hmac (the MAC chain)
        self.key_id = b"\x00" * 4
        self.counter = 0
        self.damaged = False  # a record failed its CRC: refuse, never guess
        self.hal = None  # for the clock: the pod sets it
        self.boot = 0  # this boot's number (the pod sets it): challenges differ across boots
        # the last 4 challenges made, newest first, in one buffer (objects
        # would be 350 bytes of the board's heap); all zeros: none yet
        self.prev = bytearray(32)  # 4 x 8 bytes
        self.time = None  # uptime ms the newest was made; None once it is spent
        self.pending = False  # load() finished a rotation a power cut interrupted

    def load(self):
        """Read identity and counter at boot; clean leftovers of a cut. The
        device key itself signs nothing: the link's tags and the log's MAC
        chain each use a key derived from it, HMAC(device key, use), with
        the uses of protocol/keys.py (spelled out here: the board does not
        load that module)."""
        root = self.root
        staged = storefile.read(root, IDENTITY + ".new")
        # a KEY_ROTATE cut after its key was staged (its KEY_ROTATED block
        # may be on flash, under the new key): sign with the staged key; the
        # pod logs KEY_ROTATED first at this boot and only once that is on
        # flash puts the key in place (rotate(None)), the order rotate()
        # keeps. Renamed here, a second cut before that block would leave
        # the new key's blocks with no KEY_ROTATED before them (issue 15,
        # F1, and D1 of the double cuts)
        self.pending = bool(staged) and len(staged) - KEY_LEN in (8, 16)
        for name in (IDENTITY, COUNTER, IDENTITY + ".new"):
            if name != IDENTITY or not self.pending:  # IDENTITY's .new is the staged key
                storefile.clean(root, name)
        ident = staged if self.pending else storefile.read(root, IDENTITY)
        if ident is False:
            self.damaged = True
        elif ident is not None and len(ident) - KEY_LEN in (8, 16):
            n = len(ident) - KEY_LEN  # an 8-byte id was provisioned by an older podctl
            self.device_id = ident[:n] + bytes(16 - n)
            h = Hmac(ident[n:])
            self.hmac = Hmac(h.digest(b"podctl link v2"))
            self.log = Hmac(h.digest(b"podctl log v2"))
            self.key_id = h.digest(b"podctl key id")[:4]
        ctr = storefile.read(self.root, COUNTER)
        if ctr is False or (ctr is not None and len(ctr) != 4):
            self.damaged = True
        elif ctr is not None:
            self.counter = struct.unpack("<I", ctr)[0]
        return self

    def provision(self, device_id, key):
        """First flash: write identity (the id NUL-padded to 16 bytes); the
        counter starts at 0."""
        storefile.write(self.root, IDENTITY, (bytes(device_id) + bytes(16))[:16] + bytes(key))
        storefile.write(self.root, COUNTER, struct.pack("<I", 0))
        self.damaged = False
        return self.load()

    def next(self):
        """A new challenge, for STATUS to hand out; the one before is spent.
        Unpredictable without the key and never repeated: the link key over
        the challenge before, this boot's number, the counter and the clock
        (and the port's random bytes where it has them)."""
        if self.hmac is None:
            return b"\x00" * 8
        ms = self.hal.uptime_ms() if self.hal is not None else 0
        try:
            import os

            salt = os.urandom(8)
        except (ImportError, AttributeError):
            salt = b""
        prev = self.prev
        ch = self.hmac.digest(
            b"podctl challenge", prev, struct.pack("<III", self.boot, self.counter, ms), salt
        )[:8]
        prev[8:] = prev[:-8]
        prev[:8] = ch
        self.time = ms
        return ch

    def check(self, f):
        """0 to accept the authenticated frame f, else an ERR_* code."""
        if self.hmac is None or self.damaged:
            return c.ERR_BAD_TAG
        prev = memoryview(self.prev)
        # expired: a command held back this long is stale (Pod.service does
        # the same every second, so the clock's 2**30 ms wrap never makes an
        # old challenge look new; a method for it would cost the heap bytes)
        if self.time is not None and self.hal is not None:
            if (self.hal.uptime_ms() - self.time) & 0x3FFFFFFF > 30000:
                self.time = None
        if self.time is None or not f.verify(self.hmac, prev[:8]):
            for i in range(0, 32, 8):
                if sum(prev[i : i + 8]) and f.verify(self.hmac, prev[i : i + 8]):
                    return c.ERR_STALE  # genuine, but late, twice or out of order
            return c.ERR_BAD_TAG
        self.time = None  # single use, whatever follows
        if f.counter <= self.counter:
            if self.counter != 0xFFFFFFFF:
                return c.ERR_REPLAYED
            # the counter's end: none is above it. Only KEY_ROTATE is taken,
            # with the end as its counter (its challenge, single use, makes
            # it fresh); it starts the new key's counter at 0 (issue 15, F9)
            if f.type != c.MSG_KEY_ROTATE or f.counter != 0xFFFFFFFF:
                return c.ERR_COUNTER_END
            return 0
        try:
            storefile.write(self.root, COUNTER, struct.pack("<I", f.counter))
        except OSError:
            return c.ERR_STORAGE
        self.counter = f.counter
        return 0

    def rotate(self, key):
        """Replace the key with the one KEY_ROTATE carries, after check()
        accepted the request. The key is wrapped (SPEC 5.14): XOR a pad
        that only a holder of the link key can make, HMAC(link key, "podctl
        key wrap" || the request's challenge || its counter), never the
        same twice, so the new key never crosses the link in the clear.

        Two steps, so a power cut never leaves a log whose blocks no key
        of the history checks (issue 15, F1): rotate(key) stages the new
        key (identity.new, whole and checked) and signs with it from now on;
        the pod writes the KEY_ROTATED block under it; rotate(None) then
        puts the new key in place. A cut between them boots under the
        staged key (load() finishes the rotation)."""
        root = self.root
        if key is None:
            import os

            os.rename(root + "/" + IDENTITY + ".new", root + "/" + IDENTITY)
            # a new key starts its own counter at 0 (commands signed under
            # the old one fail their tag; a host reads STATUS.counter); kept
            # if the write fails: the old, higher floor is as safe
            try:
                storefile.write(root, COUNTER, struct.pack("<I", 0))
            except OSError:
                pass
            self.load()
            return
        # check() has just spent the request's challenge and stored its counter
        assert self.hmac is not None  # check() accepted: there is a key
        pad = self.hmac.digest(b"podctl key wrap", self.prev[:8], struct.pack("<I", self.counter))
        key = bytes(key[i] ^ pad[i] for i in range(KEY_LEN))
        storefile.write(root, IDENTITY + ".new", bytes(self.device_id) + key)
        h = Hmac(key)  # as load() derives them
        self.hmac = Hmac(h.digest(b"podctl link v2"))
        self.log = Hmac(h.digest(b"podctl log v2"))
        self.key_id = h.digest(b"podctl key id")[:4]
