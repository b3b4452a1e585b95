# What the firmware does for each request on the link. The LinkServer has
# already checked the frame, the payload layout and, for state-changing
# requests, the HMAC tag and counter; a handler packs its reply into the
# encoder's buffer and returns its length, or -ERR_* to refuse.
#
# Every handler returns quickly: the longest is one log read of at most
# READ_MAX bytes or one profile store, so the tick is never held up.
import struct

from firmware import storefile
from firmware.identity import identify_handler
from firmware.pod import PROFILE
from protocol import wire as c
from protocol import block as log
from protocol import frame, message
from protocol import profile_bin as pf

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
        self.path = root + "/" + PROFILE + ".new"
        self.size = 0
        self.crc = 0
        self.received = 0
        self.active = False


def _tail(buf, at, fixed, data):
    n = len(data)
    buf[at + fixed : at + fixed + n] = data
    return fixed + n


class Commands:
    """The handlers, as methods: the LinkServer holds them bound, which costs
    a fraction of the closures they were (a KiB of the board's heap)."""

    def __init__(self, pod):
        self.pod = pod
        self.up = Upload(pod.root)

    def _probe(self, i):
        pod = self.pod
        if pod.probes.failed >> i & 1:
            return log.NO_READING_MDEG  # not the stale value of a dead channel
        return pod.probes.reading[i]

    def status(self, values, buf, at):
        pod = self.pod
        ph = pod.profile.phases[pod.phase] if pod.profile is not None else None
        return message.pack_into(
            buf,
            at,
            c.MSG_STATUS,
            True,
            pod.uptime,
            pod.utc_at_boot & 0xFFFFFFFF,
            pod.boot_count,
            pod.phase,
            pod.mode,
            pod.alarms.latched,
            pod.probes.good,
            pod.status_flags(),
            pod.probes.estimate,
            ph[pf.P_SETPOINT] if ph else 0,
            ph[pf.P_BAND_LOW] if ph else 0,
            ph[pf.P_BAND_HIGH] if ph else 0,
            self._probe(0),
            self._probe(1),
            self._probe(2),
            self._probe(3),
            pod.control.heater,
            pod.control.peltier,
            pod.battery,
            pod.alarms.out_s,
            pod.store.last_seq & 0xFFFFFFFF,
            pod.store.last_mac,
            pod.store.size,
            pod.guard.counter,
        )

    def time_set(self, values, buf, at):
        pod = self.pod
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
            return -c.ERR_BAD_STATE
        up.active = False
        try:
            with open(up.path, "rb") as f:
                data = f.read(up.size)  # read back from flash: what runs is what is stored
        except OSError:
            return -c.ERR_STORAGE
        got = pf.ident(data)
        if got != values[0] or got != up.crc:
            pod.events.push(pod.uptime, log.EV_PROFILE_REFUSED, pf.REFUSE_CRC, 0, got)
            return self._bad_profile(buf, at, pf.REFUSE_CRC, 0)
        prof = pf.check(data)
        if not isinstance(prof, pf.Profile):
            reason, where = prof
            pod.events.push(pod.uptime, log.EV_PROFILE_REFUSED, reason, where, got)
            return self._bad_profile(buf, at, reason, where)
        try:
            storefile.seal(pod.root, PROFILE, data)
        except OSError:
            return -c.ERR_STORAGE
        pod.accept_profile(prof)
        return message.pack_into(buf, at, c.MSG_PROFILE_COMMIT, True, got)

    def _bad_profile(self, buf, at, reason, where):
        # the reason rides in the ERROR's detail; the server sends it
        pod = self.pod
        pod.link.detail = reason << 12 | (where & 0xFFF)
        return -c.ERR_BAD_PROFILE

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
        pod = self.pod
        pod.recorder.flush(force=True)  # the host gets every record to now
        s = pod.store
        first = s.segments[0][0] if s.segments else s.next_seq
        return message.pack_into(
            buf, at, c.MSG_LOG_INFO, True, s.size, first, s.last_seq & 0xFFFFFFFF, s.last_mac
        )

    def log_read(self, values, buf, at):
        pod = self.pod
        offset, length = values
        s = pod.store
        if offset > s.size:
            return -c.ERR_OUT_OF_RANGE
        n = message.pack_into(buf, at, c.MSG_LOG_READ, True, offset, s.size)
        got = s.read_into(offset, memoryview(buf)[at + n : at + n + min(length, READ_MAX)])
        return n + got

    def log_erase(self, values, buf, at):
        pod = self.pod
        pod.recorder.flush(force=True)
        try:
            erased = pod.store.erase_through(values[0])
        except OSError:
            return -c.ERR_STORAGE
        if erased:
            pod.recorder.full = False  # room again: the next block will tell
        pod.events.push(pod.uptime, log.EV_LOG_ERASED, 0, 0, erased)
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
        # blocks already sealed keep the old key's MACs; seal what is open
        # with it, then the KEY_ROTATED event is the first under the new key
        pod = self.pod
        pod.recorder.flush(force=True)
        try:
            pod.guard.rotate(values[0])
        except OSError:
            return -c.ERR_STORAGE
        pod.recorder.hmac = pod.guard.hmac
        pod.events.push(pod.uptime, log.EV_KEY_ROTATED, 0, 0, pod.guard.counter)
        return 0


def handlers(pod):
    h = Commands(pod)
    return {
        c.MSG_IDENTIFY: identify_handler(pod.guard.device_id, pod.fw_hash),
        c.MSG_STATUS: h.status,
        c.MSG_TIME_SET: h.time_set,
        c.MSG_PROFILE_BEGIN: h.profile_begin,
        c.MSG_PROFILE_CHUNK: h.profile_chunk,
        c.MSG_PROFILE_COMMIT: h.profile_commit,
        c.MSG_PROFILE_READ: h.profile_read,
        c.MSG_LOG_INFO: h.log_info,
        c.MSG_LOG_READ: h.log_read,
        c.MSG_LOG_ERASE: h.log_erase,
        c.MSG_MAINTENANCE: h.maintenance,
        c.MSG_PHASE_SET: h.phase_set,
        c.MSG_KEY_ROTATE: h.key_rotate,
    }
