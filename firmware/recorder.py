# The recorder: sample records and events from the tick into sealed blocks
# on flash.
#
# The tick only writes into RAM (sample(), and EventQueue.push), which
# allocates nothing. Sealing (HMAC) and the flash write happen in flush(),
# which the main loop calls after the tick, outside the allocation-free
# part. A sample block is sealed when it is full (RECORDS_MAX records, or
# fewer if their bytes fill BLOCK_MAX), when the sample interval changes, or
# when a record is not where the block's timing says (a reboot, a late tick);
# events are sealed in the loop pass they were raised in, so an alarm is on
# flash within a second.
#
# Power cut: what is lost is the open sample block, at most RECORDS_MAX
# records = RECORDS_MAX x interval seconds (97 minutes at 1-minute samples),
# plus events raised in the tick that was running. Once the battery_low
# alarm is latched (the record's status says so) a brown-out is coming, so
# a block is closed at 20 records instead: at most that many are lost (20
# minutes at 1-minute samples), for 8.5 bytes a record against 6.3 and an
# append (a littlefs tail-block rewrite) every 20 records (SPEC 7.10).
from protocol import block as log
from protocol.auth import Hmac

# Sample blocks are written in fmt 3 (protocol/block.py: 4-bit deltas,
# about 6.3 bytes a record against fmt 1's 10.6), so a Pico's filesystem
# holds more than 90 days of 1-minute records with the firmware on it.

# the writer's cap (protocol/block.py): 97, what fmt 1's int8 deltas fit in
# BLOCK_MAX, kept for fmt 3 (which would fit 193) so a power cut loses no more
RECORDS_MAX = log.RECORDS_MAX
# The cap while the battery is low is 20 records, written as a number in
# flush() (a global, or const's import, is a name in the module's dict on
# the board's heap, and one name more cost the 62 KiB day its profile
# commit). Each block costs 44 bytes of header and trailer and a 19-byte key
# record: at 20 records that is 8.5 bytes a record, at 10 it was 11.3, which
# took stranded's log past the 6.5 bytes a record all told that the Pico's
# 90 days need (tests/test_capacity.py); at 1, 63 (make bench: lowbattery).

# event blocks: 17 events each (24 + 17 x 12 + 20 bytes); a burst bigger than
# that (a boot with a profile refusal and a resumed phase is 4) takes two
EVENT_BLOCK = 256

UNPROVISIONED = b"\x00" * 32  # the key a board without one logs under


class Recorder:
    def __init__(self, store, events, boot, block=None, ev_block=None):
        self.store = store
        self.events = events
        self.boot = boot
        self.hmac = None  # the device key's (Pod.boot sets it); None: UNPROVISIONED
        self.writer = log.BlockWriter(log.BLOCK_MAX, block)
        self.ev_writer = log.BlockWriter(EVENT_BLOCK, ev_block)
        self.open = False  # a sample block is being filled
        self.pending = [0] * log.NCHAN  # record that did not fit
        self.pending_status = 0
        self.pending_t = 0
        self.pending_interval = 0
        self.has_pending = False
        self.records = 0  # sample records taken
        self.lost = 0  # records lost: storage full or failed
        self.lost_events = 0
        self.blocks = 0  # blocks written this boot
        self.full = False  # the store refused a block (stop policy)
        self.failed = False  # the flash raised an error

    def sample(self, t, values, status, interval):
        """Take one sample record (inside the tick: allocation-free)."""
        self.records += 1
        w = self.writer
        if not self.open:
            w.start_samples(t, interval, values, status, log.FMT_DELTA4)
            self.open = True
            return
        if (
            not self.has_pending
            and interval == w.interval
            and t == w.t0 + w.count * interval
            and w.add_sample(values, status)
        ):
            return
        if self.has_pending:  # the last flush failed: this record is lost
            self.lost += 1
            return
        p = self.pending
        for c in range(log.NCHAN):
            p[c] = values[c]
        self.pending_status = status
        self.pending_t = t
        self.pending_interval = interval
        self.has_pending = True

    def flush(self, force=False):
        """Seal and write what is due (after the tick). force also seals the
        open sample block (before a log read, a reboot, an erase). Returns
        False if a block could not be written."""
        ok = True
        w = self.writer
        # or closed early: the block holds 20 records and the battery_low
        # alarm is latched (0x40, STATUS_BATTERY_LOW, in the status of its
        # last record: BlockWriter's _last slot 9, NCHAN). Numbers, not
        # names: each name here costs the board's heap.
        if self.open and (
            self.has_pending or force or w.count >= 20 and w._last[9] & 0x40
        ):
            if self._write(w):
                self.open = False
            else:
                ok = False
                if force and not self.has_pending:  # keep filling the open block
                    return False
                # full, or closed early: the sealed block is dropped, as a
                # full one always was (one write tried per block, not a pass)
                self.lost += w.count
                self.open = False
        if self.has_pending and not self.open:
            w.start_samples(
                self.pending_t, self.pending_interval, self.pending, self.pending_status,
                log.FMT_DELTA4,
            )
            self.open = True
            self.has_pending = False
        while self.events.count:
            self.ev_writer.start_events()
            self.events.drain(self.ev_writer)
            if not self._write(self.ev_writer):
                self.lost_events += self.ev_writer.count
                ok = False
        return ok

    def _write(self, w):
        store = self.store
        if self.hmac is None:  # made only on a board that has no key yet
            self.hmac = Hmac(UNPROVISIONED)
        n = w.seal(store.next_seq, self.boot, self.hmac, store.last_mac)
        try:
            done = store.append(w.block, n)
        except OSError:
            self.failed = True
            return False
        if not done:
            self.full = True
            return False
        # full stays until the store has room again (an erase, a dropped
        # segment): a small event block fitting is not the end of it
        self.full = store.full
        self.failed = False
        self.blocks += 1
        return True
