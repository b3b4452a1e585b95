# The link server's dispatch: frames in, replies out, over any byte stream.
#
# The transport (USB CDC on the board, a pipe or pty on the unix port) feeds
# received bytes to feed() and gives a write function for replies. Handlers
# are per message type: handler(values, buf, at) packs its reply payload into
# buf at offset at and returns its length, or -ERR_* to refuse; a refusal
# that has more to say returns -(ERR_* | detail << 8), the ERROR's detail.
#
# A handler that raises is refused like one that says no (STORAGE for an
# OSError, BUSY for anything else): nothing a request does ends the loop.
#
# Noise (bad COBS, truncated, bad CRC, oversize) gets no reply: the header is
# not trustworthy, so the host times out and resends. Everything with a
# readable header gets an ERROR reply the host can act on.
#
# The answer to a request whose tag checked is authenticated with the key
# that checked it, the ERROR of a later refusal included (REPLAYED,
# BAD_STATE, ...): the host can tell the device's word from a forgery.
# Refusals before the tag is checked (framing, AUTH_REQUIRED, BAD_TAG) have
# no key to sign with and go unauthenticated (SPEC 4.1). STATUS and LOG_INFO
# (catalogue.NONCE_SIGNED) are open, but a device with a key signs their answer
# over the host's nonce: what they say can be shown as the device's word.
from protocol import frame, message
from protocol import wire as c


class LinkServer:
    def __init__(self, write, handlers, rx=None, tx=None):
        self._write = write
        self.handlers = handlers  # {msg type: handler}
        self._deframer = frame.Deframer(rx)
        self._enc = frame.Encoder(tx)
        # the Guard: auth.check(frame) -> 0 to accept or an ERR_* code,
        # auth.hmac the key it checks with (and the reply is signed with);
        # None refuses every state-changing request (no key provisioned yet).
        self.auth = None
        # on_refused(msg type, ERR_* code, counter or 0, hmac): the firmware
        # logs the refusal (hmac: the key that checked the tag, None when no
        # key did: such refusals anyone on the line can make, and the
        # firmware counts them rather than log each, issue 15 F7).
        self.on_refused = None
        self.served = 0
        self.refused = 0

    @property
    def noise(self):
        return self._deframer.rejected

    def feed(self, data):
        for r in self._deframer.feed(data):
            if isinstance(r, frame.Frame):
                self._serve(r)
            elif r.seq is not None:
                detail = r.detail
                if r.code == c.ERR_BAD_VERSION:
                    detail = c.PROTOCOL_VERSION  # tell the peer what we speak
                self.error(r.seq, r.type, r.code, detail)

    def _serve(self, f):
        if f.flags & c.FLAG_REPLY:
            return  # a device takes requests only; a stray reply is ignored
        ctr = f.counter or 0
        hmac = None  # the key the reply is signed with: the one that checked the tag
        if c.authenticated(f.type):
            if f.counter is None:
                return self.error(f.seq, f.type, c.ERR_AUTH_REQUIRED)
            g = self.auth
            if g is None:  # no key provisioned: nothing to check or sign with
                return self.error(f.seq, f.type, c.ERR_BAD_TAG, 0, ctr)
            code = g.check(f)
            if code != c.ERR_BAD_TAG:
                # held now: KEY_ROTATE's handler replaces the guard's key, and
                # its reply is signed with the key its request was checked with
                hmac = g.hmac
            if code:
                return self.error(f.seq, f.type, code, 0, ctr, hmac)
        handler = self.handlers.get(f.type)
        if handler is None:  # in the catalogue, not served by this firmware
            return self.error(f.seq, f.type, c.ERR_UNKNOWN_TYPE, f.type, ctr, hmac)
        values = message.unpack(f.type, False, f.payload)
        if values is None:
            return self.error(f.seq, f.type, c.ERR_BAD_PAYLOAD, len(f.payload), ctr, hmac)
        data = b""  # what the reply's tag covers beyond the frame
        # catalogue.NONCE_SIGNED, spelled out: a table here would cost qstrs
        if (f.type == c.MSG_STATUS or f.type == c.MSG_LOG_INFO) and self.auth is not None:
            hmac = self.auth.hmac  # None on a device without a key: unsigned
            data = values[0]
        at = self._enc.payload_at(c.FLAG_AUTH if hmac else 0)
        try:
            n = handler(values, self._enc.raw, at)
        except Exception as e:
            # a handler that fails is refused and the link serves on (issue
            # 15, F8): STORAGE for the flash's OSError, its errno the
            # detail; BUSY (retry) for anything else. The refusal is logged.
            n = -c.ERR_BUSY
            if isinstance(e, OSError):
                n = -(c.ERR_STORAGE | (e.errno if isinstance(e.errno, int) else 0) << 8)
        if n < 0:
            n = -n  # ERR_* | detail << 8
            return self.error(f.seq, f.type, n & 0xFF, n >> 8, ctr, hmac, data)
        self.served += 1
        self._send(f.type, f.seq, n, ctr, hmac, data)

    def error(self, seq, msg_type, code, detail=0, counter=0, hmac=None, data=b""):
        """Refuse a request; hmac: the key that checked its tag, to sign
        the ERROR with (None: unauthenticated); data: the nonce it covers."""
        msg_type = msg_type or 0
        self.refused += 1
        if self.on_refused is not None:
            self.on_refused(msg_type, code, counter, hmac)
        at = self._enc.payload_at(c.FLAG_AUTH if hmac else 0)
        n = message.pack_into(
            self._enc.raw, at, c.MSG_ERROR, True, code, msg_type & 0xFF, detail & 0xFFFF
        )
        self._send(c.MSG_ERROR, seq, n, counter, hmac, data)

    def _send(self, msg_type, seq, length, counter=0, hmac=None, data=b""):
        flags = c.FLAG_REPLY | c.FLAG_AUTH if hmac else c.FLAG_REPLY
        n = self._enc.finish(msg_type, seq, flags, length, counter, hmac, data)
        self._write(memoryview(self._enc.wire)[:n])
