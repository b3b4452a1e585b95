# The container's controller: boot, the once-a-second tick, and the work
# between ticks. The board's main loop, the simulator and the tests all
# drive this one object through a HAL.
#
#   pod = Pod(hal).boot()
#   loop: pod.tick()      sense, validate, control, alarms, record (in RAM);
#                         allocation-free in steady state
#         pod.service()   seal and write blocks, save mission state; may
#                         allocate and may stall on a flash erase
#         pod.link.feed(bytes from the host)   between ticks
#
# The link's handlers (firmware/commands.py) ask the pod for what a request
# needs through the short list of methods and attributes in "what the link
# may ask" below, never through its parts: the import runs pod -> commands
# only, and the pod may keep its state as it likes.
#
# Mission state (phase, time in phase, cumulative out-of-band time, latched
# alarms) is saved on every change of phase or alarms and every STATE_S
# seconds, so a reboot resumes the mission where it was, at most STATE_S
# seconds behind in the phase timeline.
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from firmware import storefile
from firmware.alarms import Alarms
from firmware.control import Controller
from firmware.events import EventQueue
from firmware.guard import Guard
from firmware.hal import NPROBES
from firmware.logstore import LogStore
from firmware.probes import Probes
from firmware.recorder import Recorder
from protocol import block as log
from protocol import codes
from protocol import profile_bin as pf

# Its records (firmware/storefile.py): "mission", the mission state below,
# and "boots", the boot count (u16). The names are written where they are
# used: a module-level name is a qstr and a dict entry on the board, whose
# qstr pools have few to spare.
MISSION_FMT = "<IBBHIII"  # profile crc, phase, mode, alarms, phase_s, mission_s, out_s
STATE_S = 600
# the most the log may use: LogStore.open lowers it to what the filesystem
# holds (on the Pico's 1408 KiB littlefs with the bundle in /lib, 882 KiB:
# about 59 days of 1-minute samples at 10.55 bytes a record; make bench:
# pico_fs_log_budget_bytes, log_bytes_per_record)
_LOG_BUDGET = const(1360 * 1024)
_TICK_WRAP = const(0x3FFFFFFF)  # ticks_ms wraps at 2**30 on MicroPython ports
# Refusals anyone on the line can make (no key checked the frame, or it was
# a signed frame replayed late: STALE) are logged one by one only on a quiet
# line: the first opens a window, the rest are counted and logged as one
# REFUSALS event when it ends (issue 15, F7). A flood then costs the log one
# 12-byte event an hour, and never pushes an operator's, an alarm's or a
# fault's event out of the 32-entry ring.
_QUIET_S = const(3600)
_EV_REFUSALS = const(15)  # protocol/log.py EV_REFUSALS (a name in block.py costs a qstr)
# Issue 17's, numbers here for the same reason (protocol/log.py and
# protocol/names.py name them; tests/test_qa_findings.py holds them equal):
_EV_ACTUATOR_FAULT = const(17)  # an output driven hard without effect (control.py)
_ALARM_ACTUATOR = const(10)  # ... and its alarm
_ALARM_HOLD = const(11)  # a phase held longer than its max_hold_h
_P_MAX_HOLD = const(10)  # protocol/profile.py P_MAX_HOLD: a phase's hold limit, h


def _clamp16(v):
    return -32767 if v < -32767 else 32767 if v > 32767 else v  # -32768: no reading


class Pod:
    def __init__(self, hal, fw_hash=None, log_budget=_LOG_BUDGET):
        self.hal = hal
        if fw_hash is None:
            try:  # written by podctl flash: the deployed bundle's SHA-256
                from firmware import _bundle  # type: ignore[attr-defined]

                fw_hash = _bundle.HASH
            except ImportError:
                fw_hash = b"\x00" * 8  # run from a checkout, not flashed
        self.fw_hash = fw_hash
        self.root = hal.storage_root()
        self.store = LogStore(self.root, log_budget)  # opened at boot
        self.events = EventQueue()
        self.probes = Probes(NPROBES)
        self.control = Controller()
        self.alarms = Alarms()
        self.env = [0, 0]  # humidity permille, pressure dhPa
        self.env_failed = 0
        self.values = [0] * log.NCHAN  # the sample record being built
        self.profile = None
        self.phase = 0
        self.phase_s = 0
        self.mission_s = 0
        self.mode = codes.MODE_IDLE
        self.uptime = 0  # seconds since boot
        self.utc_at_boot = 0  # 0 = clock never set
        self.battery = 0
        self.lid = False
        self.next_sample = 0
        self.boot_count = 0
        self._ms_acc = 0
        self._last_ms = 0
        self._state_dirty = False
        self._state_at = 0
        self._full_seen = False
        # the refusal window: [counted, window start + 1 (0: quiet), the
        # last one's error code, its message type]
        from array import array  # here: a global would grow the module's dict on the heap

        self.refused = array("I", bytes(16))  # a quarter of a list's RAM on the unix port
        self.reboot_requested = False
        self.repl_requested = False

    # --- boot -------------------------------------------------------------

    def boot(self):
        root = self.root
        # The long-lived objects first (the link and its frame buffers, the
        # recorder and its block writers), while the heap is in few pieces:
        # made after boot's transient reads and scans (the guard's key
        # derivation among them) they would have to fit between the
        # leftovers, and in a 64 KiB heap they did not
        # (tests/test_firmware_heap.py). The board's /main.py made the
        # buffers themselves before any import (firmware/ram.py).
        from firmware import ram  # made before the imports, if the board's main did
        from firmware.commands import handlers
        from firmware.link import LinkServer

        self.guard = guard = Guard(root)
        self.link = LinkServer(self._link_write, None, ram.RX, ram.TX)
        self.out = None  # the transport's write(bytes), set by the main loop
        self.recorder = Recorder(self.store, self.events, 0, ram.BLOCK, ram.EVENTS)
        guard.load()
        if guard.pending:  # a rotation a power cut interrupted, finished now:
            # KEY_ROTATED opens the first block under the key (a = 1)
            self.events.push(0, log.EV_KEY_ROTATED, 1, 0, guard.counter)
        self.link.handlers = handlers(self, guard.device_id, self.fw_hash)
        self.link.auth = guard  # checks tags, and signs the replies
        self.link.on_refused = self._refused
        for name in (storefile.PROFILE, "mission", "boots"):
            storefile.clean(root, name)
        boots = storefile.read(root, "boots")
        self.boot_count = (struct.unpack("<H", boots)[0] + 1) & 0xFFFF if boots else 1
        storefile.write(root, "boots", struct.pack("<H", self.boot_count))
        # A reset the firmware was asked for (MAINTENANCE REBOOT or REPL,
        # podctl flash) is a watchdog reset on rp2: the record written just
        # before it (firmware/maintenance.py) says so. Honoured only in the
        # boot right after the one it names, and only for a watchdog reset:
        # a power cut between the record and the reset boots as power-on,
        # and a later hang, in a later boot, is never taken for commanded.
        # (The name is longer than 10 characters: no qstr.)
        cause = self.hal.reset_cause()
        intent = storefile.read(root, "reset_intent")
        if (
            intent
            and cause == log.RESET_WATCHDOG
            and intent[:2] == struct.pack("<H", self.boot_count - 1 & 0xFFFF)
        ):
            cause = log.RESET_SOFT
        self.guard.hal = self.hal  # the challenges' clock
        self.guard.boot = self.boot_count
        self._last_ms = self.hal.uptime_ms()
        data = storefile.read(root, storefile.PROFILE)
        prof = pf.check(data) if data else None
        policy = prof.header[pf.H_POLICY] if isinstance(prof, pf.Profile) else pf.POLICY_STOP
        self.store.overwrite = policy == pf.POLICY_OVERWRITE
        self.store.open(self.recorder.writer.block)  # its block as the scan's buffer
        self.recorder.boot = self.boot_count
        if self.guard.log is not None:
            self.recorder.hmac = self.guard.log
        import firmware

        v = firmware.VERSION
        # bit 7 of the reset cause: a simulated board says so in every boot
        # record, so its log is marked even with no seal (a dead board's)
        sim = 0x80 if self.hal.simulated() else 0  # protocol/log.py BOOT_SIMULATED
        self.events.push(
            0, log.EV_BOOT, cause | sim, self.boot_count,
            v[0] << 16 | v[1] << 8 | v[2]
        )
        if data is False:  # the stored record failed its own CRC
            self.refuse_profile(pf.REFUSE_CRC, 0, 0)
        elif data and isinstance(prof, tuple):
            # stored by older firmware, or damaged: run without, say why
            self.refuse_profile(prof[0], prof[1], pf.ident(data))
        if isinstance(prof, pf.Profile):
            self._apply(prof, resume=True)
        if self.recorder.flush() and guard.pending:
            # KEY_ROTATED (a = 1) is on flash under the staged key: now it
            # may replace the old one (Guard.load)
            guard.rotate(None)
            self.recorder.hmac = guard.log
        return self

    def _link_write(self, data):
        if self.out is not None:
            self.out(data)

    def _refused(self, msg_type, code, counter, hmac):
        """A refused request (LinkServer.on_refused; main.serve's faults
        outside a handler come with hmac 1 and are always logged). hmac
        None: no key checked it. (No default argument: its tuple cost the
        64 KiB heap the run its profile commit needed.)"""
        w = self.refused
        if (hmac is None or code == 17) and w[1]:  # 17: wire.ERR_STALE
            w[0] += 1  # inside the window: counted (_QUIET_S)
            w[2] = code
            w[3] = msg_type
            return
        if hmac is None or code == 17:
            w[1] = self.uptime + 1  # the first on a quiet line opens a window
        self.events.push(self.uptime, log.EV_COMMAND_REFUSED, msg_type, code, counter)


    def _apply(self, prof, resume=False):
        """Make prof the active profile; resume the saved mission if it was
        running this same profile."""
        self.profile = prof
        h = prof.header
        # probe_min, probe_max, rate_max, disagree, stuck_s, recover_s
        self.probes.configure(*h[pf.H_PROBE_MIN : pf.H_KP_HEAT])
        # kp_heat, ki_heat, kp_cool, ki_cool, deadband, slew, heater_max,
        # peltier_max, safe_heat
        self.control.configure(*h[pf.H_KP_HEAT : pf.H_SAFE_HEAT + 1])
        self.alarms.configure(
            h[pf.H_CUMULATIVE_S], h[pf.H_BATTERY_LOW], h[pf.H_SHOCK], h[pf.H_LID_S]
        )
        self.store.overwrite = h[pf.H_POLICY] == pf.POLICY_OVERWRITE
        if self.mode != h[pf.H_CONTROL]:
            self.events.push(self.uptime, log.EV_MODE, h[pf.H_CONTROL], self.mode)
            self.mode = h[pf.H_CONTROL]
        phase = 0
        state = storefile.read(self.root, "mission") if resume else None
        if state and len(state) == struct.calcsize(MISSION_FMT):
            crc, phase, _mode, latched, phase_s, mission_s, out_s = struct.unpack(
                MISSION_FMT, state
            )
            if crc != prof.crc:
                # the profile changed and no mission state says so: a power
                # cut between the commit's rename and its event reaching
                # flash (issue 15, F2); log the acceptance now, a = 1
                self.events.push(self.uptime, log.EV_PROFILE_ACCEPTED, 1, 0, prof.crc)
            elif phase < len(prof.phases):
                self.alarms.latched = latched
                self.alarms.out_s = out_s
                self.mission_s = mission_s
                self._enter_phase(phase, 2)
                self.phase_s = phase_s
                return
        self.mission_s = 0
        self._enter_phase(0, 0)

    def _enter_phase(self, phase, source):
        """source: 0 timeline, 1 command, 2 resumed at boot."""
        prof = self.profile
        if prof is None:
            return
        ph = prof.phases[phase]
        self.phase = phase
        self.phase_s = 0
        self.control.set_phase(ph[pf.P_SETPOINT], ph[pf.P_FLAGS])
        self.alarms.above_s = 0
        self.alarms.below_s = 0
        self.events.push(self.uptime, log.EV_PHASE, phase, source)
        self._state_dirty = True

    # --- the tick -----------------------------------------------------------

    def tick(self):
        """Run the control tick if a second (or more) has passed; True if it
        ran. Allocation-free in steady state."""
        hal = self.hal
        now = hal.uptime_ms()
        self._ms_acc += (now - self._last_ms) & _TICK_WRAP
        self._last_ms = now
        dt = self._ms_acc // 1000
        if dt <= 0:
            return False
        self._ms_acc -= dt * 1000
        self.uptime += dt
        t = self.uptime
        prof = self.profile
        ev = self.events
        if prof is not None:
            self.phase_s += dt
            self.mission_s += dt
            ph = prof.phases[self.phase]
            d = ph[pf.P_DURATION]
            if d and self.phase_s >= d and self.phase + 1 < len(prof.phases):
                self._enter_phase(self.phase + 1, 0)
        # sense
        probes = self.probes
        fail = hal.read_probes(probes.reading)
        probes.update(fail, dt, t, ev)
        self.env_failed = hal.read_env(self.env)
        self.battery = hal.battery_mv()
        self.lid = hal.lid_open()
        shock = hal.shock_mg()
        # decide the mode, control
        mode = codes.MODE_IDLE
        alarms = self.alarms
        if prof is not None:
            mode = prof.header[pf.H_CONTROL]
            if probes.count < prof.header[pf.H_MIN_PROBES]:
                mode = prof.header[pf.H_SAFE_MODE]
                alarms.raise_(codes.ALARM_PROBES, t, self.phase, probes.count, ev)
        if mode != self.mode:
            ev.push(t, log.EV_MODE, mode, self.mode)
            self.mode = mode
            self._state_dirty = True
        ctl = self.control
        if self.lid:
            # the actuator watch restarts (control.py _WATCH: no output
            # driven hard yet): an open lid is a cause of its own
            ctl.acc[2] &= ~7
        found = ctl.run(mode, probes.estimate, probes.count > 0, dt)
        hal.set_heater(ctl.heater)
        hal.set_peltier(ctl.peltier)
        if found:
            # outputs driven hard without effect: which (a), the window
            # judged (b, s) and how far the payload moved in it (value, mdegC)
            # (control.py's acc: 2 _WATCH, 3 _FROM)
            w = ctl.acc
            n = w[2] >> 6
            ev.push(t, _EV_ACTUATOR_FAULT, found, n if n < 65535 else 65535,
                    probes.estimate - w[3])
            alarms.raise_(_ALARM_ACTUATOR, t, self.phase, w[2] >> 3 & 7, ev)
        # alarms
        latched = alarms.latched
        if prof is not None:
            ph = prof.phases[self.phase]
            if probes.count:
                alarms.temperature(probes.estimate, ph, self.phase, dt, t, ev)
            alarms.environment(shock, self.lid, self.battery, dt, self.phase, t, ev)
            hold = ph[_P_MAX_HOLD]
            if hold and self.phase_s >= hold * 3600:
                # held past its limit (a recovery that slipped): value = s in phase
                alarms.raise_(_ALARM_HOLD, t, self.phase, self.phase_s, ev)
        rec = self.recorder
        if rec.full or rec.failed:
            alarms.raise_(codes.ALARM_STORAGE, t, self.phase, self.store.size, ev)
        if alarms.latched != latched:
            self._state_dirty = True
        # record
        if t >= self.next_sample:
            # samples keep to their grid: a tick late by a flash erase stall
            # (up to 400 ms, so dt = 2 now and then) takes the reading a
            # second late and stamps it with its scheduled second, so the
            # block stays one regular series. Later than that (a boot, a new
            # interval, a simulator ticking coarser than the interval) the
            # grid starts again at the true second: a record never claims a
            # time more than a second before its reading.
            interval = prof.phases[self.phase][pf.P_INTERVAL] if prof is not None else 60
            due = self.next_sample
            if t - due > 1 or due == 0:
                due = t
            self.next_sample = due + interval
            self._record(due, interval)
        return True

    def status_flags(self):
        ctl = self.control
        s = 0
        if ctl.heater > 0 or ctl.peltier < 0:
            s |= log.STATUS_HEATING
        if ctl.peltier > 0:
            s |= log.STATUS_COOLING
        if self.alarms.latched:
            s |= log.STATUS_ALARM
        if self.probes.count < self.probes.n:
            s |= log.STATUS_PROBE_FAULT
        if self.mode in codes.SAFE_MODES:
            s |= log.STATUS_SAFE_MODE
        if self.lid:
            s |= log.STATUS_LID_OPEN
        if self.alarms.latched >> codes.ALARM_BATTERY_LOW & 1:
            s |= log.STATUS_BATTERY_LOW
        if self.utc_at_boot:
            s |= log.STATUS_TIME_SET
        return s

    def _record(self, t, interval):
        v = self.values
        r = self.probes.reading
        failed = self.probes.failed
        for i in range(NPROBES):
            if failed >> i & 1:
                v[i] = log.NO_READING  # not the stale value of a dead channel
            else:
                v[i] = _clamp16((r[i] + 5) // 10)  # mdegC -> cdegC, rounded
        if self.env_failed:
            v[4] = log.NO_READING
            v[5] = log.NO_READING
        else:
            v[4] = _clamp16(self.env[0])
            v[5] = _clamp16(self.env[1])
        v[6] = self.control.heater // 10
        v[7] = (
            self.control.peltier // 10
            if self.control.peltier >= 0
            else -(-self.control.peltier // 10)
        )
        v[8] = _clamp16(self.battery)
        self.recorder.sample(t, v, self.status_flags(), interval)

    # --- between ticks ------------------------------------------------------

    def service(self):
        """Write what the tick produced; save mission state when due."""
        g = self.guard
        if g.time is not None and (self.hal.uptime_ms() - g.time) & 0x3FFFFFFF > 30000:
            g.time = None  # a challenge left unused expires on time (as Guard.check)
        w = self.refused
        if w[1] and self.uptime + 1 - w[1] >= _QUIET_S:
            # the window is over: log what it counted as one REFUSALS event
            # (a = the last one's type, b = its code, value = how many) and
            # open another; one that counted none closes, the line is quiet.
            # (Inline, as in flush(): a method would cost the heap a qstr
            # and a function object.)
            w[1] = 0
            if w[0]:
                self.events.push(self.uptime, _EV_REFUSALS, w[3], w[2], w[0])
                w[0] = 0
                w[1] = self.uptime + 1
        store = self.store
        d = store.dropped
        if d[1]:
            # the overwrite policy dropped the oldest segment(s) in the last
            # pass's writes (or a forced flush's): which blocks (a = 1: b of
            # them from seq value on) and how many sample records the log
            # has lost so since it began (a = 2), written in this pass, so a
            # verifier can say what the head lost (issue 15, F6)
            n = d[1] if d[1] < 65535 else 65535
            self.events.push(self.uptime, log.EV_STORAGE_FULL, 1, n, d[0])
            self.events.push(self.uptime, log.EV_STORAGE_FULL, 2, 0, d[2])
            d[1] = 0
        rec = self.recorder
        rec.flush()
        if rec.full != self._full_seen:
            # once when the stop policy starts refusing
            if rec.full:
                self.events.push(self.uptime, log.EV_STORAGE_FULL, 0, 0, store.size)
            self._full_seen = rec.full
        if self.profile is not None and (
            self._state_dirty or self.uptime - self._state_at >= STATE_S
        ):
            self.save_state()

    def maintenance_due(self):
        """After link traffic: "repl" or "reboot" when MAINTENANCE asked for
        it (the open block sealed and the state saved first), else None."""
        if not (self.repl_requested or self.reboot_requested):
            return None
        self.flush()
        if self.profile is not None:
            self.save_state()
        return "repl" if self.repl_requested else "reboot"

    def save_state(self):
        prof = self.profile
        if prof is None:
            return
        try:
            storefile.write(
                self.root,
                "mission",
                struct.pack(
                    MISSION_FMT,
                    prof.crc,
                    self.phase,
                    self.mode,
                    self.alarms.latched,
                    self.phase_s,
                    self.mission_s,
                    self.alarms.out_s,
                ),
            )
        except OSError:
            self.recorder.failed = True
        self._state_dirty = False
        self._state_at = self.uptime

    # --- what the link may ask ---------------------------------------------
    #
    # firmware/commands.py uses these and nothing else of the pod (its
    # Commands docstring lists them, tests/mp/test_pod_interface.py holds it
    # to that): root, uptime, phase, profile and store (the log, for reading)
    # to read; repl_requested and reboot_requested to set; the methods below.

    def status_into(self, buf, at):
        """Pack STATUS's reply into buf at at; returns its length."""
        # imported here, not as globals: the module's dict is heap on the board
        from protocol import message, wire

        prof = self.profile
        ph = prof.phases[self.phase] if prof is not None else None
        probes = self.probes
        ctl = self.control
        store = self.store
        return message.pack_into(
            buf,
            at,
            wire.MSG_STATUS,
            True,
            self.uptime,
            self.utc_at_boot & 0xFFFFFFFF,
            self.boot_count,
            self.phase,
            self.mode,
            self.alarms.latched,
            probes.good,
            self.status_flags(),
            probes.estimate,
            ph[pf.P_SETPOINT] if ph else 0,
            ph[pf.P_BAND_LOW] if ph else 0,
            ph[pf.P_BAND_HIGH] if ph else 0,
            self._probe(0),
            self._probe(1),
            self._probe(2),
            self._probe(3),
            ctl.heater,
            ctl.peltier,
            self.battery,
            self.alarms.out_s,
            store.last_seq & 0xFFFFFFFF,
            store.last_mac,
            store.size,
            self.guard.counter,
            self.guard.next(),  # the next command's challenge
        )

    def log_seal(self, values, buf, at):
        """Pack LOG_SEAL's reply into buf at at for the request's values (its
        nonce); returns its length. The caller flushed first, so the seal's
        end is the log's. (Named and called as the handler is: every name is
        a qstr, and the board has few to spare.)"""
        from protocol import message, wire

        store = self.store
        guard = self.guard
        flags = wire.SEAL_SIMULATED if self.hal.simulated() else 0
        if store.head_dropped():
            flags |= wire.SEAL_HEAD_DROPPED
        utc = self.utc_at_boot + self.uptime if self.utc_at_boot else 0
        return message.pack_into(
            buf,
            at,
            wire.MSG_LOG_SEAL,
            True,
            guard.device_id,
            guard.key_id,
            self.boot_count,
            store.first(),
            store.last_seq & 0xFFFFFFFF,
            store.last_mac,
            store.size,
            guard.counter,
            self.uptime,
            utc & 0xFFFFFFFF,
            values[0],
            self.fw_hash,
            flags,
        )

    def _probe(self, i):
        if self.probes.failed >> i & 1:
            return log.NO_READING_MDEG  # not the stale value of a dead channel
        return self.probes.reading[i]

    def flush(self):
        """Seal the open block: the log then holds every record to now
        (and the refusals counted so far)."""
        w = self.refused
        if w[0]:  # the window's count so far (as service() logs it); it stays open
            self.events.push(self.uptime, _EV_REFUSALS, w[3], w[2], w[0])
            w[0] = 0
        self.recorder.flush(force=True)
        if self.store.dropped[1]:
            self.service()  # a drop this flush made: its events on flash now, not a tick later

    def erase_through(self, seq):
        """The host holds the log through seq: erase what it may (see
        LogStore.erase_through) and log it. Returns the bytes erased; raises
        OSError if the flash fails."""
        self.flush()
        erased = self.store.erase_through(seq)
        if erased:
            self.recorder.full = False  # room again: the next block will tell
        self.events.push(self.uptime, log.EV_LOG_ERASED, 0, 0, erased)
        return erased

    def rotate(self, key):
        """Sign from now on with a new key. Blocks already sealed keep the
        old key's MACs; the open one is sealed with it first, so the
        KEY_ROTATED event is the first under the new key. Raises OSError if
        the key could not be stored (the old one stays)."""
        self.flush()
        guard = self.guard
        n = guard.counter  # the rotating command's: the new key's starts at 0
        guard.rotate(key)  # staged: the new key signs from here
        self.recorder.hmac = guard.log
        self.events.push(self.uptime, log.EV_KEY_ROTATED, 0, 0, n)
        self.recorder.flush()  # the KEY_ROTATED block, the first under the new key
        guard.rotate(None)  # then the new key replaces the old on flash

    def refuse_profile(self, reason, where, crc):
        """A profile failed its check (pf.REFUSE_*, where in it, its CRC):
        log why. The profile in force stays."""
        self.events.push(self.uptime, log.EV_PROFILE_REFUSED, reason, where, crc)

    def accept_profile(self, prof):
        """A checked profile was stored: run it from its first phase."""
        self.alarms.clear_all(self.uptime, self.phase, self.events)
        self.control.reset()
        self.events.push(self.uptime, log.EV_PROFILE_ACCEPTED, 0, 0, prof.crc)
        self._apply(prof)
        self.next_sample = self.uptime  # sample at the new interval now
        # the event on flash before the mission state names the new profile:
        # a cut before this leaves the old state, and boot logs it (_apply)
        self.recorder.flush()
        self.save_state()

    def set_phase(self, phase):
        self._enter_phase(phase, 1)
        self.save_state()

    def set_time(self, utc):
        """The host's UTC now; returns the UTC the device believed (0 if
        never set)."""
        before = self.utc_at_boot + self.uptime if self.utc_at_boot else 0
        self.utc_at_boot = utc - self.uptime
        self.events.push(self.uptime, log.EV_TIME_SET, 0, 0, utc)
        return before
