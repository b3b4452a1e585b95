# The link server's dispatch: frames in, replies out, over any byte stream.
#
# The transport (USB CDC on the board, a pipe or pty on the unix port) feeds
# received bytes to feed() and gives a write function for replies. Handlers
# are per message type: handler(values, buf, at) packs its reply payload into
# buf at offset at and returns its length, or -ERR_* to refuse; a refusal
# that has more to say returns -(ERR_* | detail << 8), the ERROR's detail.
#
# Noise (bad COBS, truncated, bad CRC, oversize) gets no reply: the header is
# not trustworthy, so the host times out and resends. Everything with a
# readable header gets an ERROR reply the host can act on.
from protocol import wire as c
from protocol import frame, message


class LinkServer:
    def __init__(self, write, handlers, rx=None, tx=None):
        self._write = write
        self._handlers = handlers  # {msg type: handler}
        self._deframer = frame.Deframer(rx)
        self._enc = frame.Encoder(tx)
        # auth(frame) -> 0 to accept or an ERR_* code; None refuses every
        # state-changing request (no key provisioned yet).
        self.auth = None
        # on_refused(msg type, ERR_* code, counter or 0): the firmware logs
        # a COMMAND_REFUSED event for every refused request.
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
        if c.authenticated(f.type):
            if f.counter is None:
                return self.error(f.seq, f.type, c.ERR_AUTH_REQUIRED)
            code = self.auth(f) if self.auth is not None else c.ERR_BAD_TAG
            if code:
                return self.error(f.seq, f.type, code, 0, f.counter)
        handler = self._handlers.get(f.type)
        if handler is None:  # in the catalogue, not served by this firmware
            return self.error(f.seq, f.type, c.ERR_UNKNOWN_TYPE, f.type, f.counter or 0)
        values = message.unpack(f.type, False, f.payload)
        if values is None:
            return self.error(f.seq, f.type, c.ERR_BAD_PAYLOAD, len(f.payload), f.counter or 0)
        at = self._enc.payload_at(c.FLAG_REPLY)
        n = handler(values, self._enc.raw, at)
        if n < 0:
            n = -n  # ERR_* | detail << 8
            return self.error(f.seq, f.type, n & 0xFF, n >> 8, f.counter or 0)
        self.served += 1
        self._send(f.type, f.seq, n)

    def error(self, seq, msg_type, code, detail=0, counter=0):
        msg_type = msg_type or 0
        self.refused += 1
        if self.on_refused is not None:
            self.on_refused(msg_type, code, counter)
        at = self._enc.payload_at(c.FLAG_REPLY)
        n = message.pack_into(
            self._enc.raw, at, c.MSG_ERROR, True, code, msg_type & 0xFF, detail & 0xFFFF
        )
        self._send(c.MSG_ERROR, seq, n)

    def _send(self, msg_type, seq, length):
        n = self._enc.finish(msg_type, seq, c.FLAG_REPLY, length)
        self._write(memoryview(self._enc.wire)[:n])
