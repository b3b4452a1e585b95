# Lock-step co-simulation: the unchanged firmware (firmware.pod.Pod) on a
# simulated container through a mission. The simulator owns the clock: each
# step advances virtual time by tick_s, applies due faults, steps the plant
# with the duties the firmware set, draws the battery, steps the sensors,
# then runs one firmware tick and the work after it. Nothing reads a wall
# clock, so a run is a pure function of (scenario, profile, initial state,
# seed): the same inputs give the same log, byte for byte.
#
# Plain code for CPython and MicroPython: the same loop runs in-process on
# CPython (fast campaigns, tests) and inside the micropython binary next to
# the firmware (sim/board_run.py), so both engines run identical code.
#
#   run = CoSim(scenario, profile_bytes, root, key)
#   run.run(progress=None)   -> summary dict (see summary())
#
# Power (sim/container.py): when the battery is empty the board dies without
# flushing (RAM is lost, flash keeps what was written); a brownout fault
# cuts it for its duration and it boots again; a reset fault reboots it at
# once. The plant runs on in every case, outputs off while the board is down.
import firmware
from firmware import storefile
from firmware.guard import Guard
from protocol import catalogue as cat
from protocol import frame, log, message, names
from protocol import profile as pf
from protocol.auth import Hmac
from protocol.keys import LINK, derive
from sim.container import Container

TABLE_COLUMNS = (
    "t_s",
    "env_phase",
    "fw_phase",
    "payload_c",
    "air_c",
    "wall_c",
    "probe0_c",
    "probe1_c",
    "probe2_c",
    "probe3_c",
    "estimate_c",
    "heater_permille",
    "peltier_permille",
    "heater_w",
    "peltier_w",
    "battery_mv",
    "soc",
    "board_on",
)


class PhaseStats:
    """True payload temperature against the band of one profile phase."""

    def __init__(self, name, low_c, high_c, event_s):
        self.name = name
        self.low = low_c
        self.high = high_c
        self.event_s = event_s
        self.seconds = 0
        self.in_band = 0
        self.t_min = 1e9
        self.t_max = -1e9
        self.worst = 0.0  # furthest outside the band, degC
        self.run = 0  # current continuous time out of band
        self.excursions = []  # [start s, end s, peak degC] longer than event_s
        self._start = 0
        self._peak = 0.0

    def add(self, t, temp, dt):
        self.seconds += dt
        if temp < self.t_min:
            self.t_min = temp
        if temp > self.t_max:
            self.t_max = temp
        if self.low <= temp <= self.high:
            self.in_band += dt
            self._close(t)
            return
        d = self.low - temp if temp < self.low else temp - self.high
        if d > self.worst:
            self.worst = d
        if not self.run:
            self._start = t
            self._peak = temp
        elif abs(temp - (self.low + self.high) / 2) > abs(self._peak - (self.low + self.high) / 2):
            self._peak = temp
        self.run += dt

    def _close(self, t):
        if self.run and self.run > self.event_s:
            self.excursions.append([self._start, t, self._peak])
        self.run = 0

    def finish(self, t):
        self._close(t)


class CoSim:
    def __init__(self, sc, profile_bytes, root, key, device_id=b"SIM00001", seed=None,
                 table=None, table_every=60):
        self.sc = sc
        self.tick_s = sc["tick_s"]
        self.duration_s = int(sc["duration_s"])
        self.seed = sc["seed"] if seed is None else seed
        self.box = Container(sc, self.seed, root)
        self.root = root
        # the container as handed over for integration: provisioned, the
        # signed-off profile stored, as podctl flash and profile upload leave it
        Guard(root).provision(device_id, key)
        storefile.write(root, "profile", profile_bytes)
        prof = pf.check(profile_bytes)
        if not isinstance(prof, pf.Profile):
            raise ValueError("profile refused by the firmware's check: %r" % (prof,))
        self.profile = prof
        self.phases = [
            PhaseStats(prof.phase_name(i), ph[pf.P_BAND_LOW] / 1000.0,
                       ph[pf.P_BAND_HIGH] / 1000.0, ph[pf.P_EVENT_S])
            for i, ph in enumerate(prof.phases)
        ]
        self.table = table
        self.table_every = table_every
        self.t = 0
        self.fw_phase = 0
        self.alarms = {}  # alarm name -> mission second first raised
        self.probe_faults = {}  # probe index -> [mission s, fault kind] first excluded
        self._good = 0xF
        self.device_id = device_id
        self.start_utc = sc.get("start_utc", 0)
        self._hmac = Hmac(derive(key, LINK))
        self._counter = 0
        self.seal = None  # the LOG_SEAL reply at the end (wire bytes)
        self.box.boot(log.RESET_POWER_ON)
        # the crew sets the clock before launch, over the link, as podctl does
        self.command(cat.MSG_TIME_SET, self.start_utc)

    def command(self, msg_type, *values):
        """Send one authenticated request to the running firmware, as podctl
        does: STATUS for a fresh challenge, then the command signed over it."""
        pod = self.box.pod
        if pod is None:
            return  # the board is down: nothing hears it
        got = []
        out = pod.out
        pod.out = lambda data: got.append(bytes(data))
        try:
            pod.link.feed(b"\x00" + frame.encode(cat.MSG_STATUS, 0, bytes(16)))
        finally:
            pod.out = out
        st = [r for r in frame.Deframer().feed(b"".join(got)) if isinstance(r, frame.Frame)]
        challenge = message.unpack(cat.MSG_STATUS, True, st[0].payload)[-1]
        self._counter += 1
        payload = message.pack(msg_type, False, *values)
        pod.link.feed(b"\x00" + frame.encode(
            msg_type, self._counter & 0xFFFF, payload, cat.FLAG_AUTH, self._counter, self._hmac,
            challenge))

    def run(self, progress=None, progress_every=86400):
        dt = self.tick_s
        box = self.box
        phases = self.phases
        table = self.table
        every = self.table_every
        end = self.duration_s
        t = self.t
        next_report = t + progress_every
        while t < end:
            t += dt
            idx = box.step(t, dt)
            pod = box.pod
            if pod is not None:
                self.fw_phase = pod.phase
                latched = pod.alarms.latched
                if latched:
                    self._alarms(latched, t)
                if pod.probes.good != self._good:
                    self._probes(pod.probes, t)
            phases[self.fw_phase].add(t, box.plant.t_payload, dt)
            if table is not None and t % every == 0:
                self._row(t, idx)
            if progress is not None and t >= next_report:
                next_report += progress_every
                progress(t, end)
        self.t = t
        for p in phases:
            p.finish(t)
        # the crew's `podctl time sync` at hand-over, before the pull seals:
        # a boot that lost its clock (a reset in flight) gets it back, so its
        # records and the silence before them are placed in UTC by the log
        # itself (the host times a boot's earlier records from it). The
        # scenario's handover_sync = false flies a crew that forgets it; a
        # scenario dict made by hand (tests, forecasts) syncs, as crews do
        if self.sc.get("handover_sync", True):
            self.command(cat.MSG_TIME_SET, self.start_utc + t)
        self.seal = self._seal()
        return self.summary()

    def _seal(self):
        """The device's seal at the end of the mission, as a pull asks for
        it (LOG_SEAL, SPEC 5.11): the reply's wire bytes, or None when the
        board is down. The nonce comes from the seed, so a run is the same
        on either engine and for the same seed."""
        pod = self.box.pod
        if pod is None:
            return None
        import hashlib

        nonce = hashlib.sha256(("podctl sim seal %d" % self.seed).encode()).digest()[:16]
        got = []
        out = pod.out
        pod.out = lambda data: got.append(bytes(data))
        try:
            self.command(cat.MSG_LOG_SEAL, nonce)
        finally:
            pod.out = out
        return b"".join(got)

    def _alarms(self, latched, t):
        for n, name in names.ALARMS:
            if latched >> n & 1 and name not in self.alarms:
                self.alarms[name] = t

    def _probes(self, probes, t):
        self._good = probes.good
        for i in range(probes.n):
            if probes.fault[i] and str(i) not in self.probe_faults:
                self.probe_faults[str(i)] = [t, names.name(names.FAULTS, probes.fault[i])]

    def _row(self, t, idx):
        box = self.box
        pod = box.pod
        plant = box.plant
        hal = box.hal
        battery = box.battery
        if pod is not None:
            r = pod.probes.reading
            probes = "%.3f,%.3f,%.3f,%.3f,%.3f" % (
                r[0] / 1000, r[1] / 1000, r[2] / 1000, r[3] / 1000, pod.probes.estimate / 1000)
        else:
            probes = ",,,,"
        self.table.write("%d,%d,%d,%.4f,%.4f,%.4f,%s,%d,%d,%.3f,%.3f,%d,%.4f,%d\n" % (
            t, idx, self.fw_phase, plant.t_payload, plant.t_air, plant.t_wall, probes,
            hal.heater_cmd if pod is not None else 0, hal.peltier_cmd if pod is not None else 0,
            plant.heater_w, plant.peltier_w, battery.voltage_mv, battery.soc,
            1 if pod is not None else 0))

    def summary(self):
        """What a run says, as plain data (JSON on both engines)."""
        total = 0
        inb = 0
        worst = 0.0
        ph = []
        for p in self.phases:
            total += p.seconds
            inb += p.in_band
            if p.worst > worst:
                worst = p.worst
            ph.append({
                "name": p.name,
                "seconds": p.seconds,
                "in_band_s": p.in_band,
                "band_c": [p.low, p.high],
                "min_c": p.t_min if p.seconds else None,
                "max_c": p.t_max if p.seconds else None,
                "worst_outside_c": p.worst,
                "excursions": p.excursions,
            })
        box = self.box
        pod = box.pod
        v = firmware.VERSION
        return {
            "device_id": self.device_id.decode(),
            "fw_version": "%d.%d.%d" % (v[0], v[1], v[2]),
            "profile_ident": self.profile.crc,
            "start_utc": self.start_utc,
            "end_utc": self.start_utc + self.t,
            # the device's own account of its log's end, as a pull reads it
            "anchor": (
                [pod.boot_count, pod.uptime, self.start_utc + self.t] if pod is not None else None
            ),
            "log_last_mac": (
                "".join("%02x" % b for b in pod.store.last_mac) if pod is not None else None
            ),
            "seed": self.seed,
            "tick_s": self.tick_s,
            "duration_s": self.t,
            "ticks": box.ticks,
            "in_band_percent": 100.0 * inb / total if total else 0.0,
            "worst_outside_c": worst,
            "phases": ph,
            "alarms": self.alarms,
            "probe_faults": self.probe_faults,
            "resets": box.resets,
            "faults": [[f.at_s, f.kind] for f in box.faults.fired],
            "energy_wh": box.battery.energy_wh,
            "battery_soc": box.battery.soc,
            "battery_empty_s": box.empty_at,
            "board_on": pod is not None,
            "log_bytes": pod.store.size if pod is not None else None,
            "log_last_seq": pod.store.last_seq if pod is not None else None,
            "records": pod.recorder.records if pod is not None else None,
            # the LOG_SEAL reply as it left the device (COBS frames), hex
            "seal": "".join("%02x" % b for b in self.seal) if self.seal else None,
        }
