# The log layout: what the firmware and the simulator append to flash, and
# what the host verifies and decodes. Defined once, here; protocol/log.py
# adds the names the host shows (channels, status bits, events) and the
# decoders. The firmware imports only this module: on the board a module's
# tables are built in RAM at import, and the firmware must fit a 64 KiB heap.
#
# A log is a sequence of blocks, each self-describing and checkable alone:
#
#  +------+--------+------+-----+-------+-----+------+-------+
#  |magic |layout  | kind | fmt | nchan | seq | boot | count |
#  | PODL | u8 = 1 |  u8  | u8  |  u8   | u32 | u16  |  u16  |
#  +------+--------+------+-----+-------+-----+------+-------+
#   0      4        5      6     7       8     12     14
#
#  +-----+----------+--------+-------+-----+
#  | t0  | interval | length |payload|crc32| mac
#  | u32 |   u16    |  u16   |length | u32 | 16 B
#  +-----+----------+--------+-------+-----+
#   16    20         22       24
#
# all little-endian. crc32 is CRC-32/ISO-HDLC over header and payload.
# mac = HMAC-SHA256(device key, previous block's mac || header || payload)[:16];
# the first block after an erase chains to 16 zero bytes. seq rises by one per
# block for the device's life, across reboots and erases, so a gap is visible.
#
# Sample blocks (kind 1): record i was taken at uptime t0 + i * interval
# seconds of boot `boot`. Record 0 is the key: nchan int16 absolute values
# and a status byte. What follows it depends on fmt (SPEC 7.4):
#  fmt 1, 2  records of nchan deltas against the previous record (int8 or
#            int16) and an absolute status byte; the writer starts a new
#            block when a delta does not fit;
#  fmt 3     (what the firmware writes) records of 5 bytes, ten nibbles,
#            low nibble first: the status's change (XOR) and nine int4
#            deltas. Nibble 8 is an escape: its value is the next entry of
#            the exception list, an int16 (a delta modulo 2**16, so any
#            int16 can follow any; a status change in the low byte), stored
#            from the payload's end backwards: the writer fills records
#            from the front of its one buffer and exceptions from the back,
#            and seal() closes the gap. Fixed-size records keep the host's
#            decoder vectorised. A block ends when a record or its
#            exceptions do not fit: about 6 bytes a record (fmt 1: 10.6).
# Either way a whole block decodes with one cumulative sum per column.
#
# Event blocks (kind 2): count records of EVENT_FMT, each stamped with its own
# uptime second.
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from protocol.frame import crc32

MAGIC = b"PODL"
LAYOUT_VERSION = const(1)
HEADER_FMT = "<4sBBBBIHHIHH"  # log.HEADER_FIELDS names them; a test checks
HEADER_LEN = const(24)
CRC_LEN = const(4)
MAC_LEN = const(16)
TRAILER_LEN = const(20)
# Largest block, header and trailer included: one RAM buffer on the board.
BLOCK_MAX = const(1024)
PAYLOAD_MAX = BLOCK_MAX - HEADER_LEN - TRAILER_LEN
GENESIS_MAC = b"\x00" * 16

KIND_SAMPLES = const(1)
KIND_EVENTS = const(2)
NCHAN = const(9)
FMT_DELTA8 = const(1)
FMT_DELTA16 = const(2)
FMT_DELTA4 = const(3)
_KEY_LEN = const(2 * NCHAN + 1)  # a key record: nchan int16 and the status
_REC4 = const((NCHAN + 2) // 2)  # a fmt 3 record: nchan + 1 nibbles
_STATUS = const(NCHAN)  # BlockWriter._last's fmt 3 slots (see there)
_END = const(NCHAN + 1)
# Records a sample block holds at most, whatever its bytes would take: the
# open block is what a power cut loses (97 minutes at 1-minute samples, as
# with fmt 1's 97 records in BLOCK_MAX; fmt 3 would fit 193).
RECORDS_MAX = const(97)

# A sample value meaning "no reading": the channel's sensor could not be read
# for this record (an open or shorted probe). Never a real value: writers
# clamp real readings to -32767..32767.
NO_READING = const(-32768)
# The same in the 32-bit mdegC fields: PROBE_FAULT's value, STATUS.probe<n>.
NO_READING_MDEG = -0x80000000

# Status byte carried by every sample record (and STATUS.flags).
STATUS_HEATING = const(0x01)
STATUS_COOLING = const(0x02)
STATUS_ALARM = const(0x04)  # some alarm latched
STATUS_PROBE_FAULT = const(0x08)  # some probe excluded
STATUS_SAFE_MODE = const(0x10)
STATUS_LID_OPEN = const(0x20)
STATUS_BATTERY_LOW = const(0x40)
STATUS_TIME_SET = const(0x80)  # the UTC offset is known

# Event record: uptime second, code, two small arguments, one 32-bit value.
EVENT_FMT = "<IBBHI"  # log.EVENT_FIELDS names them; a test checks
EVENT_LEN = const(12)

EV_BOOT = const(1)
EV_PHASE = const(2)
EV_ALARM_RAISED = const(3)
EV_ALARM_CLEARED = const(4)
EV_PROFILE_ACCEPTED = const(5)
EV_PROFILE_REFUSED = const(6)
EV_PROBE_FAULT = const(7)
EV_PROBE_RECOVERED = const(8)
EV_TIME_SET = const(9)
EV_LOG_ERASED = const(10)
EV_COMMAND_REFUSED = const(11)
EV_MODE = const(12)
EV_STORAGE_FULL = const(13)
EV_KEY_ROTATED = const(14)

# Reset causes (EV_BOOT.a).
RESET_POWER_ON = const(1)
RESET_WATCHDOG = const(2)
RESET_SOFT = const(3)
RESET_BROWNOUT = const(4)
RESET_UNKNOWN = const(0)
# EV_BOOT.a | 0x80 when the HAL is no real hardware (the simulator, a test's
# fake): the log itself says it is not a flight's (protocol/log.py names it
# BOOT_SIMULATED; a name here would cost the board a qstr).


def block_mac(hmac, prev_mac, block, length):
    """MAC of a block whose header and payload are block[:24 + length]."""
    return hmac.tag(prev_mac, memoryview(block)[: HEADER_LEN + length])


class BlockWriter:
    """Fills one block buffer made once; the firmware and the simulator
    share it so their logs are the same bytes.

    Use: start_samples()/start_events(), add_sample()/add_event() until one
    returns False, then seal() and write block[:n], then start again.
    """

    def __init__(self, size=BLOCK_MAX, buf=None):
        # size: the largest block this writer makes (at most BLOCK_MAX); the
        # firmware's event writer is smaller, since events are sealed in the
        # loop pass they were raised in and seldom come more than a few
        # buf: size bytes to fill (the board's, made early)
        self.block = buf if buf is not None else bytearray(size)
        self.payload_max = size - HEADER_LEN - TRAILER_LEN
        # the previous record, for deltas; fmt 3 keeps two more slots here,
        # not as attributes (an instance's attribute table grows on the
        # board's heap, and the day's mission flies in 62 KiB): _STATUS, its
        # status (records carry the change), and _END, where the exception
        # list begins at the buffer's back, 0 while seal() has put it after
        # the records
        self._last = [0] * (NCHAN + 2)
        self.kind = 0
        self.fmt = 0
        self.count = 0
        self.length = 0
        self.t0 = 0
        self.interval = 0

    def start_samples(self, t0, interval, values, status, fmt=FMT_DELTA8):
        """Open a sample block whose key record is values (NCHAN ints)."""
        self.kind = KIND_SAMPLES
        self.fmt = fmt
        self.t0 = t0
        self.interval = interval
        at = HEADER_LEN
        b = self.block
        last = self._last
        for c in range(NCHAN):
            v = values[c]
            struct.pack_into("<h", b, at, v)
            last[c] = v
            at += 2
        b[at] = status
        self.length = at + 1 - HEADER_LEN
        self.count = 1
        last[_STATUS] = status
        last[_END] = HEADER_LEN + self.payload_max

    def add_sample(self, values, status):
        """Append a record; False (nothing written) if it would not fit.
        Allocation-free: the tick calls it."""
        width = self.fmt
        if width == FMT_DELTA4:
            b = self.block
            last = self._last
            top = HEADER_LEN + self.payload_max
            at = HEADER_LEN + _KEY_LEN + _REC4 * (self.count - 1)  # the next record
            e = last[_END]
            if e == 0:  # sealed, and kept open after a failed write: the
                # exception list goes back to the buffer's end
                j = HEADER_LEN + self.length
                e = top - (j - at)
                i = top
                while j > at:
                    i -= 1
                    j -= 1
                    b[i] = b[j]
                last[_END] = e
                self.length = at - HEADER_LEN
            if self.count >= RECORDS_MAX:
                return False
            x = status ^ last[_STATUS]
            room = e - at - _REC4  # what is left once the record is in
            if x == 8 or x > 15:
                room -= 2
            for c in range(NCHAN):
                # modulo 2**16: 32767 -> -32767 is +2, a nibble
                d = ((values[c] - last[c] + 0x8000) & 0xFFFF) - 0x8000
                if d < -7 or d > 7:
                    room -= 2
            if room < 0:
                return False  # seal() finds it as it was
            if x == 8 or x > 15:
                e -= 2
                b[e] = x
                b[e + 1] = 0
                x = 8
            for c in range(NCHAN):
                d = ((values[c] - last[c] + 0x8000) & 0xFFFF) - 0x8000
                if d < -7 or d > 7:
                    e -= 2
                    b[e] = d & 0xFF
                    b[e + 1] = (d >> 8) & 0xFF
                    d = 8
                last[c] = values[c]
                if c & 1:  # channel c is nibble c + 1: an even one, low
                    x = d & 15
                else:
                    b[at] = x | (d & 15) << 4
                    at += 1
            last[_STATUS] = status
            last[_END] = e
            self.length = at - HEADER_LEN
            self.count += 1
            return True
        size = NCHAN * width + 1
        if self.length + size > self.payload_max:
            return False
        last = self._last
        lo = -128 if width == 1 else -32768
        hi = -lo - 1
        for c in range(NCHAN):
            d = values[c] - last[c]
            if d < lo or d > hi:
                return False
        at = HEADER_LEN + self.length
        b = self.block
        for c in range(NCHAN):
            d = values[c] - last[c]
            if width == 1:
                b[at] = d & 0xFF
            else:
                struct.pack_into("<h", b, at, d)
            at += width
            last[c] = values[c]
        b[at] = status
        self.length += size
        self.count += 1
        return True

    def start_events(self):
        self.kind = KIND_EVENTS
        self.fmt = 0
        self.t0 = 0
        self.interval = 0
        self.length = 0
        self.count = 0

    def add_event(self, t, code, a=0, b=0, value=0):
        if self.length + EVENT_LEN > self.payload_max:
            return False
        if self.count == 0:
            self.t0 = t
        struct.pack_into(
            EVENT_FMT, self.block, HEADER_LEN + self.length, t, code, a, b, value & 0xFFFFFFFF
        )
        self.length += EVENT_LEN
        self.count += 1
        return True

    def seal(self, seq, boot, hmac, prev_mac):
        """Write header, CRC and MAC; return the block's length in bytes.
        The MAC is block[n - 16:n], the next block's prev_mac."""
        b = self.block
        nchan = NCHAN if self.kind == KIND_SAMPLES else EVENT_LEN
        e = self._last[_END]
        if self.fmt == FMT_DELTA4 and e:
            # the exception list follows the last record (outside the tick:
            # a byte at a time, so nothing is allocated all the same)
            at = HEADER_LEN + self.length
            while e < HEADER_LEN + self.payload_max:
                b[at] = b[e]
                at += 1
                e += 1
            self.length = at - HEADER_LEN
            self._last[_END] = 0
        struct.pack_into(
            HEADER_FMT,
            b,
            0,
            MAGIC,
            LAYOUT_VERSION,
            self.kind,
            self.fmt,
            nchan,
            seq,
            boot,
            self.count,
            self.t0,
            self.interval,
            self.length,
        )
        end = HEADER_LEN + self.length
        struct.pack_into("<I", b, end, crc32(memoryview(b)[:end]))
        b[end + CRC_LEN : end + TRAILER_LEN] = block_mac(hmac, prev_mac, b, self.length)
        return end + TRAILER_LEN


class Block:
    """One parsed block header; the payload stays in the caller's buffer."""

    def __init__(self, fields, offset):
        (
            _magic,
            self.layout,
            self.kind,
            self.fmt,
            self.nchan,
            self.seq,
            self.boot,
            self.count,
            self.t0,
            self.interval,
            self.length,
        ) = fields
        self.offset = offset
        self.size = HEADER_LEN + self.length + TRAILER_LEN

    def mac(self, data):
        end = self.offset + self.size
        return bytes(data[end - MAC_LEN : end])


# Verdicts of parse_block, besides a Block.
BAD_MAGIC = "bad magic"
BAD_LAYOUT = "unknown layout version"
BAD_SIZE = "length out of range"
SHORT = "cut short"
BAD_CRC = "CRC mismatch"
BAD_SHAPE = "record count disagrees with length"
BAD_KIND = "unknown block kind"


def parse_block(data, offset):
    """Check the block at data[offset:]; return a Block or a verdict string.
    The MAC chain needs the key and is checked by the caller."""
    if len(data) - offset < HEADER_LEN:
        return SHORT
    if bytes(data[offset : offset + 4]) != MAGIC:
        return BAD_MAGIC
    blk = Block(struct.unpack_from(HEADER_FMT, data, offset), offset)
    if blk.layout != LAYOUT_VERSION:
        return BAD_LAYOUT
    if blk.length > PAYLOAD_MAX:
        return BAD_SIZE
    if len(data) - offset < blk.size:
        return SHORT
    end = offset + HEADER_LEN + blk.length
    got = struct.unpack_from("<I", data, end)[0]
    if crc32(memoryview(data)[offset:end]) != got:
        return BAD_CRC
    if blk.kind == KIND_SAMPLES:
        width = blk.fmt
        n = blk.count - 1
        if width < FMT_DELTA8 or width > FMT_DELTA4 or n < 0:
            return BAD_SHAPE
        want = blk.nchan * 2 + 1
        if width == FMT_DELTA4:
            # records of nchan + 1 nibbles in whole bytes; every nibble 8
            # (an escape) has its 2-byte exception after them
            at = offset + HEADER_LEN + want
            want += n * ((blk.nchan + 2) // 2)
            if want > blk.length:
                return BAD_SHAPE
            end = offset + HEADER_LEN + want
            while at < end:
                v = data[at]
                if v & 0x0F == 8:
                    want += 2
                if v & 0xF0 == 0x80:
                    want += 2
                at += 1
        else:
            want += n * (blk.nchan * width + 1)
    elif blk.kind == KIND_EVENTS:
        want = blk.count * EVENT_LEN
    else:
        return BAD_KIND
    if want != blk.length:
        return BAD_SHAPE
    return blk
