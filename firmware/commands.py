# What the firmware does for each request on the link. The LinkServer has
# already checked the frame, the payload layout and, for state-changing
# requests, the HMAC tag and counter; a handler packs its reply into the
# encoder's buffer and returns its length, or -ERR_* to refuse.
#
# Every handler returns quickly: the longest is one log read of at most
# READ_MAX bytes or one profile store, so the tick is never held up.
#
# The handlers hold the pod but never import firmware.pod (the pod imports
# this module), and ask it only what the Commands docstring lists.
from firmware import storefile
from firmware.identity import identify_handler
from protocol import frame, message
from protocol import profile_bin as pf
from protocol import wire as c

READ_MAX = frame.MAX_PAYLOAD - 8  # LOG_READ / PROFILE_READ reply: offset, size, data


class Upload:
    """A profile upload in progress: BEGIN, CHUNKs at rising offsets (a
    chunk that starts at or before what was received is taken from where it
    is new, so a host that lost a reply resends it), COMMIT.

    The bytes go straight to flash, into the profile's .new file: no upload
    buffer in RAM (a KiB of a 64 KiB heap). The profile in force is not
    touched until COMMIT has read the upload back, checked it and renamed
    it over; a power cut leaves a .new that boot removes."""

    def __init__(self, root):
        self.path = root + "/" + storefile.PROFILE + ".new"
        self.size = 0
        self.crc = 0
        self.received = 0
        self.active = False


def _tail(buf, at, fixed, data):
    n = len(data)
    buf[at + fixed : at + fixed + n] = data
    return fixed + n


def _bad_profile(reason, where):
    # the reason rides in the ERROR's detail (firmware/link.py)
    return -(c.ERR_BAD_PROFILE | (reason << 12 | (where & 0xFFF)) << 8)


class Commands:
    """The handlers, as methods: the LinkServer holds them bound, which costs
    a fraction of the closures they were (a KiB of the board's heap).

    What the link may ask of the pod: these, and nothing else of it.

      root            the folder its records live in (the upload goes there)
      uptime          seconds since boot
      phase           the phase running
      profile         the profile in force (pf.Profile), or None
      store           the log, to read: size, first(), last_seq, last_mac,
                      read_into(offset, dest)
      repl_requested, reboot_requested   set True to ask the main loop
      status_into(buf, at)      pack STATUS's reply; its length
      log_seal(values, buf, at) pack LOG_SEAL's reply to values; its length
      set_time(utc)             the UTC it believed before (0: never set)
      set_phase(i)              run phase i (i < len(profile.phases))
      accept_profile(prof)      a checked profile, stored: run it
      refuse_profile(reason, where, crc)   log why an upload was refused
      flush()                   seal the open block: the log holds it all
      erase_through(seq)        erase the log through seq; the bytes erased
      rotate(key)               sign with a new key (wrapped, SPEC 5.14) from now on

    The last two raise OSError if the flash fails. The pod implements them
    (firmware/pod.py, "what the link may ask"); a test pod implements only
    them (tests/mp/test_pod_interface.py)."""

    def __init__(self, pod):
        self.pod = pod
        self.up = Upload(pod.root)
        self.ident = None  # IDENTIFY's handler (handlers() sets it)

    def get(self, t):
        """The handler of message type t, or None: what LinkServer asks of
        its table (a dict answers the same)."""
        if t == c.MSG_IDENTIFY:
            return self.ident
        if t == c.MSG_STATUS:
            return self.status
        if t == c.MSG_TIME_SET:
            return self.time_set
        if t == c.MSG_PROFILE_BEGIN:
            return self.profile_begin
        if t == c.MSG_PROFILE_CHUNK:
            return self.profile_chunk
        if t == c.MSG_PROFILE_COMMIT:
            return self.profile_commit
        if t == c.MSG_PROFILE_READ:
            return self.profile_read
        if t == c.MSG_LOG_INFO:
            return self.log_info
        if t == c.MSG_LOG_READ:
            return self.log_read
        if t == c.MSG_LOG_ERASE:
            return self.log_erase
        if t == c.MSG_LOG_SEAL:
            return self.log_seal
        if t == c.MSG_MAINTENANCE:
            return self.maintenance
        if t == c.MSG_PHASE_SET:
            return self.phase_set
        if t == c.MSG_KEY_ROTATE:
            return self.key_rotate
        return None

    def status(self, values, buf, at):
        return self.pod.status_into(buf, at)

    def time_set(self, values, buf, at):
        pod = self.pod
        # the device's UTC, utc_at_boot + uptime, must stay a u32 for as
        # long as uptime stays below 2**30 s (34 years, as the log's event
        # times do): utc below 2**32 - 2**30 (in 2072); and utc_at_boot 0
        # reads "never set": utc above uptime (issue 15, F5)
        if not pod.uptime < values[0] < 0xC0000000:
            return -c.ERR_OUT_OF_RANGE
        before = pod.set_time(values[0])
        return message.pack_into(buf, at, c.MSG_TIME_SET, True, pod.uptime, before)

    def profile_begin(self, values, buf, at):
        up = self.up
        size, crc = values
        if not pf.HEADER_LEN + pf.PHASE_LEN + 4 <= size <= pf.MAX_SIZE:
            return -c.ERR_OUT_OF_RANGE
        if not (up.active and up.size == size and up.crc == crc):
            up.received = 0  # a new upload; the same one resumes where it was
            try:
                open(up.path, "wb").close()
            except OSError:
                return -c.ERR_STORAGE
        up.size = size
        up.crc = crc
        up.active = True
        return 0

    def profile_chunk(self, values, buf, at):
        up = self.up
        offset, data = values
        if not up.active:
            return -c.ERR_BAD_STATE
        if offset > up.received:
            return -c.ERR_BAD_STATE
        if offset + len(data) > up.size:
            return -c.ERR_OUT_OF_RANGE
        new = offset + len(data) - up.received
        if new > 0:
            try:
                with open(up.path, "ab") as f:
                    f.write(memoryview(data)[len(data) - new :])
            except OSError:
                return -c.ERR_STORAGE
            up.received += new
        return message.pack_into(buf, at, c.MSG_PROFILE_CHUNK, True, up.received)

    def profile_commit(self, values, buf, at):
        pod = self.pod
        up = self.up
        if not up.active or up.received != up.size:
            prof = pod.profile
            if not up.active and prof is not None and prof.crc == values[0]:
                # this COMMIT again, its answer lost: the profile is in force;
                # say so, signed (a host must not judge by an open PROFILE_READ)
                return message.pack_into(buf, at, c.MSG_PROFILE_COMMIT, True, prof.crc)
            return -c.ERR_BAD_STATE
        up.active = False
        try:
            with open(up.path, "rb") as f:
                data = f.read(up.size)  # read back from flash: what runs is what is stored
        except OSError:
            return -c.ERR_STORAGE
        got = pf.ident(data)
        if got != values[0] or got != up.crc:
            pod.refuse_profile(pf.REFUSE_CRC, 0, got)
            return _bad_profile(pf.REFUSE_CRC, 0)
        prof = pf.check(data)
        if not isinstance(prof, pf.Profile):
            reason, where = prof
            pod.refuse_profile(reason, where, got)
            return _bad_profile(reason, where)
        try:
            storefile.seal(pod.root, storefile.PROFILE, data)
        except OSError:
            return -c.ERR_STORAGE
        pod.accept_profile(prof)
        return message.pack_into(buf, at, c.MSG_PROFILE_COMMIT, True, got)

    def profile_read(self, values, buf, at):
        pod = self.pod
        offset, length = values
        data = pod.profile.data if pod.profile is not None else b""
        if offset > len(data):
            return -c.ERR_OUT_OF_RANGE
        chunk = data[offset : offset + min(length, READ_MAX)]
        n = message.pack_into(buf, at, c.MSG_PROFILE_READ, True, offset, len(data))
        return _tail(buf, at, n, chunk)

    def log_info(self, values, buf, at):
        # the log as it is on flash: an open request never writes flash
        # (a LOG_INFO flood would otherwise wear it and fill the log with
        # near-empty blocks); LOG_SEAL, authenticated, seals the open block
        s = self.pod.store
        return message.pack_into(
            buf, at, c.MSG_LOG_INFO, True, s.size, s.first(), s.last_seq & 0xFFFFFFFF, s.last_mac
        )

    def log_seal(self, values, buf, at):
        pod = self.pod
        pod.flush()  # as LOG_INFO: the seal's end is every record to now
        return pod.log_seal(values, buf, at)

    def log_read(self, values, buf, at):
        offset, length = values
        s = self.pod.store
        if offset > s.size:
            return -c.ERR_OUT_OF_RANGE
        n = message.pack_into(buf, at, c.MSG_LOG_READ, True, offset, s.size)
        got = s.read_into(offset, memoryview(buf)[at + n : at + n + min(length, READ_MAX)])
        return n + got

    def log_erase(self, values, buf, at):
        try:
            erased = self.pod.erase_through(values[0])
        except OSError:
            return -c.ERR_STORAGE
        return message.pack_into(buf, at, c.MSG_LOG_ERASE, True, erased)

    def maintenance(self, values, buf, at):
        pod = self.pod
        action = values[0]
        if action == c.MAINT_REPL:
            pod.repl_requested = True
        elif action == c.MAINT_REBOOT:
            pod.reboot_requested = True
        else:
            return -c.ERR_OUT_OF_RANGE
        return 0

    def phase_set(self, values, buf, at):
        pod = self.pod
        if pod.profile is None or values[0] >= len(pod.profile.phases):
            return -c.ERR_OUT_OF_RANGE
        pod.set_phase(values[0])
        return message.pack_into(buf, at, c.MSG_PHASE_SET, True, pod.phase)

    def key_rotate(self, values, buf, at):
        try:
            self.pod.rotate(values[0])  # the open block sealed with the old key first
        except OSError:
            return -c.ERR_STORAGE
        return 0


def handlers(pod, device_id, fw_hash):
    """The {msg type: handler} table of a LinkServer serving pod (see
    Commands for what they ask of it); IDENTIFY answers with device_id and
    fw_hash. The table is the Commands object itself (its get()): a dict of
    fourteen bound methods held for good was 700 bytes of the board's 64 KiB
    heap; a bound method made per request is garbage at once."""
    h = Commands(pod)
    h.ident = identify_handler(device_id, fw_hash)
    return h
