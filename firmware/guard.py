# Authentication of state-changing commands: the device key and the
# monotonic counter that makes every accepted request single-use.
#
# A request is accepted when its HMAC tag matches under the device key and
# its counter is above the last accepted one. The new counter is on flash
# before the command acts, so a power cut between the two cannot reopen a
# replay window: at worst that one command is lost and the host resends with
# the next counter.
import struct

from firmware import storefile
from protocol import wire as c
from protocol.auth import KEY_LEN, Hmac

IDENTITY = "identity"  # device id (8 bytes) and key (32 bytes)
COUNTER = "counter"  # last accepted counter (u32)


class Guard:
    def __init__(self, root):
        self.root = root
        self.device_id = b"\x00" * 8
        self.hmac = None  # None until provisioned: every command refused
        self.counter = 0
        self.damaged = False  # a record failed its CRC: refuse, never guess

    def load(self):
        """Read identity and counter at boot; clean leftovers of a cut."""
        for name in (IDENTITY, COUNTER):
            storefile.clean(self.root, name)
        ident = storefile.read(self.root, IDENTITY)
        if ident is False:
            self.damaged = True
        elif ident is not None and len(ident) == 8 + KEY_LEN:
            self.device_id = ident[:8]
            self.hmac = Hmac(ident[8:])
        ctr = storefile.read(self.root, COUNTER)
        if ctr is False or (ctr is not None and len(ctr) != 4):
            self.damaged = True
        elif ctr is not None:
            self.counter = struct.unpack("<I", ctr)[0]
        return self

    def provision(self, device_id, key):
        """First flash: write identity; the counter starts at 0."""
        storefile.write(self.root, IDENTITY, bytes(device_id) + bytes(key))
        storefile.write(self.root, COUNTER, struct.pack("<I", 0))
        self.damaged = False
        return self.load()

    def check(self, f):
        """0 to accept the authenticated frame f, else an ERR_* code."""
        if self.hmac is None or self.damaged:
            return c.ERR_BAD_TAG
        if not f.verify(self.hmac):
            return c.ERR_BAD_TAG
        if f.counter <= self.counter:
            return c.ERR_REPLAYED
        try:
            storefile.write(self.root, COUNTER, struct.pack("<I", f.counter))
        except OSError:
            return c.ERR_STORAGE
        self.counter = f.counter
        return 0

    def rotate(self, new_key):
        """Replace the key (after check() accepted KEY_ROTATE)."""
        storefile.write(self.root, IDENTITY, bytes(self.device_id) + bytes(new_key))
        self.hmac = Hmac(bytes(new_key))
