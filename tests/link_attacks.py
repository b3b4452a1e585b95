"""Issue 14's attack suite: someone on the USB line without the device's key,
between podctl and a container, dropping, holding back, repeating,
reordering, replaying and forging frames, and recording what passes.

    from tests.link_attacks import PodEnd, cases, play

    for case in cases():                       # attack x verb x frame, each direction
        verdict = play(case, PodEnd(tmp))      # verdict.broken: what the attack achieved

A Relay is the transport a podctl.Device talks through: it cuts both byte
streams into frames (COBS, 0x00 delimited) and passes each on unchanged,
drops it, holds it back, repeats it or sends another in its place, as the
case's Attack says, to a device end:

  PodEnd    the firmware's Pod under CPython in this process, its link fed
            directly (make test: fast and deterministic);
  BoardEnd  the real firmware on the micropython binary on a pty, `podctl
            board nominal` flashed by `podctl flash` (make bench).

Time. PodEnd's clock moves only when the suite moves it: one host wait
(WAIT_S, the Link's default 2-s timeout) at every resend the relay sees, and
the attack's own delays. BoardEnd's runs at its speed, and the host's timeout
there is WAIT_S / speed: one wait is the same 2 device-seconds on both ends.

An attack succeeds (Verdict.broken names how) when, once everything it
held back has been delivered:
  - the device applied a request more than once, more often than the host
    asked, or more than the freshness window (WINDOW_S) after the host sent
    it (its answers seen by the relay, and the events of its log read back);
  - time_sync returned while the device's clock is off the host's intent by
    more than one host wait (and a second for the clock's whole seconds);
    profile_upload returned while the device runs another profile;
  - a host call returned on a forged reply, or on a reply of the device to
    another request (stale);
  - the host lost control: a fresh Device on the same keystore cannot
    `key_check()` (the keystore's newest key is the device's) and
    `time_sync()`;
  - a value recorded on the line signed a command (a key was learned).
A call refused or cut short (LinkError, DeviceRefused) is no success by
itself: the attacker can always deny service.

tests/test_link_attacks.py plays every case on PodEnd (a fresh pod each)
and two on the board; tests/bench.py (group link) plays them all on one
virtual board: link_attacks_tried, link_attacks_succeeded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from podctl.device import Device
from podctl.errors import PodctlError
from podctl.keystore import Keystore
from protocol import catalogue as c
from protocol import cobs, frame, log, message
from protocol.auth import Hmac
from protocol.keys import LINK, derive

MP = Path(__file__).resolve().parent / "mp"  # the firmware tests' rig (MicroPython-compatible)

WINDOW_S = 30  # SPEC 4.4: a challenge is spent 30 s after STATUS made it
WAIT_S = 2.0  # one host wait (podctl.link.Link's default timeout), in device seconds
RETRIES = 2  # the Link's resends after the first try
UTC0 = 1_800_000_000  # the UTC the cases' time_sync calls set (each its own)
UTC_FIX = UTC0 - 86_400  # the UTC the checks set after an attack
DEVICE = "POD00042"  # the rig's device id (tests/mp/_rig.py)


def _rig():
    if str(MP) not in sys.path:
        sys.path.insert(0, str(MP))
    import _profiles
    import _rig

    return _rig, _profiles


def two_phases(name: bytes = b"one") -> bytes:
    """The profile the suite runs (and, named otherwise, uploads): two
    phases, so PHASE_SET has one to set."""
    _, prof = _rig()
    return prof.make([prof.phase(name), prof.phase(b"two")])


# -- the device ends


class PodEnd:
    """The firmware's Pod (CPython) on a fresh flash in tmp, provisioned with
    the rig's key (kept in tmp/keys.json) and running two_phases()."""

    wait_s = WAIT_S
    timeout = 0.05  # the attacked host's Link timeout (replies come at once: only a drop waits)
    quiet_s = 0.0

    def __init__(self, tmp: Path):
        from firmware import storefile
        from firmware.guard import Guard

        rig, _ = _rig()
        root = Path(tmp) / "flash"
        root.mkdir(parents=True)
        storefile.write(str(root), "profile", two_phases())
        Guard(str(root)).provision(rig.DEVICE, rig.KEY)
        self.pod = rig.pod(root=str(root))
        self._rx = bytearray()
        self.pod.out = self._rx.extend
        self.keystore = Keystore(Path(tmp) / "keys.json")
        self.keystore.add(DEVICE, rig.KEY)

    def write(self, data: bytes) -> int:
        self.pod.link.feed(bytes(data))
        self.pod.service()  # the events of what it did onto the log, as the main loop does
        return len(data)

    def read(self, size: int) -> bytes:
        if not self._rx:
            time.sleep(0.0002)
            return b""
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def close(self) -> None:
        pass

    def now_s(self) -> float:
        return self.pod.hal.now_ms / 1000

    def advance(self, seconds: float) -> None:
        """Let seconds of device time pass, ticking (a minute at a time for
        long waits: the tick takes any step)."""
        left = round(seconds * 1000)
        step = 1000 if seconds <= 60 else 60_000
        while left > 0:
            ms = min(step, left)
            self.pod.hal.now_ms += ms
            self.pod.tick()
            self.pod.service()
            left -= ms

    def waited(self) -> None:
        """The host waited one timeout before a resend."""
        self.advance(self.wait_s)

    def reboot(self) -> None:
        """A power cycle: a new Pod on the same flash (its clock from 0)."""
        rig, _ = _rig()
        self.pod = rig.reboot(self.pod)
        self.pod.out = self._rx.extend

    def sync(self) -> None:
        pass


class BoardEnd:
    """The virtual board (`podctl board nominal`, the firmware on the
    micropython binary) on a pty, flashed and provisioned by `podctl flash`
    into tmp/keys.json, running two_phases()."""

    quiet_s = 0.05

    def __init__(self, tmp: Path, speed: float = 50.0):
        from podctl.board_cmd import spawn
        from podctl.cli import main
        from podctl.serialport import SerialTransport

        tmp = Path(tmp)
        self.speed = speed
        self.wait_s = WAIT_S
        self.timeout = WAIT_S / speed
        self.keystore = Keystore(tmp / "keys.json")
        self.proc, self.port = spawn("nominal", speed, tmp / "flash.img", tmp / "port",
                                     log=subprocess.DEVNULL)
        self._t = None
        try:
            with open(os.devnull, "w") as quiet:
                old, sys.stdout = sys.stdout, quiet
                try:
                    code = main(["flash", "--port", self.port, "--keystore",
                                 str(self.keystore.path)])
                finally:
                    sys.stdout = old
            if code != 0:
                raise RuntimeError(f"podctl flash failed on the virtual board ({code})")
            self._t = SerialTransport(self.port, wait=0.002)
            self._ref = (0.0, time.monotonic())
            dev = clean_device(self)
            dev.profile_upload(two_phases())
            self.sync()
        except BaseException:
            self.close()
            raise

    def write(self, data: bytes) -> int:
        assert self._t is not None
        return self._t.write(data)

    def read(self, size: int) -> bytes:
        assert self._t is not None
        return self._t.read(size)

    def close(self) -> None:
        if self._t is not None:
            self._t.close()
            self._t = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def sync(self) -> None:
        """Take the device's uptime now as the reference of now_s()."""
        st = clean_device(self).status()
        self._ref = (float(st.uptime_s), time.monotonic())

    def now_s(self) -> float:
        return self._ref[0] + (time.monotonic() - self._ref[1]) * self.speed

    def advance(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)

    def waited(self) -> None:
        pass  # the board's clock ran while the host waited

    def reboot(self) -> None:
        """MAINTENANCE REBOOT; back once the board answers again. (The
        virtual board's process then stops at the REPL rather than exit
        for its supervisor to start it again, micropython -i taking the
        SystemExit: sys.exit at that REPL makes the power cycle.)"""
        clean_device(self).maintenance("reboot")
        time.sleep(0.3)
        self.write(b"\x03\r\nimport sys\r\nsys.exit(75)\r\n")
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sync()
                return
            except PodctlError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


End = PodEnd | BoardEnd


class _Direct:
    """The end itself as a Link transport, for the checks' clean sessions."""

    def __init__(self, end: End):
        self.end = end

    def write(self, data: bytes) -> int:
        return self.end.write(data)

    def read(self, size: int) -> bytes:
        return self.end.read(size)

    def close(self) -> None:
        pass


def clean_device(end: End) -> Device:
    """A Device straight on the end, no attacker between (a patient one)."""
    return Device("clean", keystore=end.keystore, timeout=2.0, transport=_Direct(end))


# -- frames on the line


def _key(f: frame.Frame) -> tuple:
    """What makes a frame the same frame."""
    return (f.type, f.seq, f.flags, bytes(f.payload), f.counter, f.tag)


def _parse(chunk: bytes) -> frame.Frame:
    got = frame.Deframer().feed(chunk + b"\x00")
    assert len(got) == 1 and isinstance(got[0], frame.Frame), got
    return got[0]


def _rebuild(f: frame.Frame, payload: bytes | None = None, flags: int | None = None,
             tag: bytes | None = None) -> bytes:
    """f's wire chunk with some parts changed (the tag kept unless given):
    what an attacker without the key can do to a frame."""
    import struct

    payload = f.payload if payload is None else payload
    flags = f.flags if flags is None else flags
    raw = struct.pack(frame.HEADER_FMT, f.version, f.type, flags, f.seq, len(payload))
    if flags & c.FLAG_AUTH:
        raw += struct.pack("<I", f.counter or 0) + payload + (tag if tag is not None else
                                                              f.tag or bytes(16))
    else:
        raw += payload
    raw += struct.pack("<I", frame.crc32(raw))
    return cobs.encode(raw)


def _error_chunk(seq: int, code: int, refused: int) -> bytes:
    """An unsigned ERROR reply: anyone can make one."""
    payload = message.pack(c.MSG_ERROR, True, code, refused & 0xFF, 0)
    return frame.encode(c.MSG_ERROR, seq, payload, c.FLAG_REPLY)[:-1]


def _name(t: int) -> str:
    m = c.message(t)
    return m[1] if m else f"0x{t:02x}"


@dataclass(eq=False)
class Msg:
    """A frame the relay saw. Requests: copy (0 the host's first, then its
    resends), nth (which request of its type in the call), origin (host,
    held: the host's delivered late, duplicate, replay, attacker), at (device
    seconds when the host sent it), delivered (when the device got it),
    reply. Replies: request, the one the device answered."""

    frame: frame.Frame
    chunk: bytes
    at: float
    session: int = 0
    call: int = 0
    copy: int = 0
    nth: int = 0
    origin: str = "host"
    delivered: float | None = None
    reply: Msg | None = None
    request: Msg | None = None


class _Splitter:
    """Cuts a byte stream at 0x00 into (wire chunk, Frame or Reject)."""

    def __init__(self):
        self._part = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, object]]:
        self._part += data
        out = []
        while (z := self._part.find(0)) >= 0:
            chunk = bytes(self._part[:z])
            del self._part[: z + 1]
            if chunk:
                out.append((chunk, frame.Deframer().feed(chunk + b"\x00")[0]))
        return out


class Relay:
    """A podctl Link transport that plays attack on the frames of target
    between the host and end; keeps every frame it saw, delivered and
    made."""

    def __init__(self, end: End, attack: Attack, target: Target):
        self.end = end
        self.attack = attack
        self.target = target
        self._up = _Splitter()
        self._down = _Splitter()
        self._to_host = bytearray()
        self._copies: dict[int, int] = {}  # seq -> copies seen, this session
        self._seqs: dict[int, list[int]] = {}  # type -> its seqs in order, this call
        self._waiting: deque[Msg] = deque()  # delivered, not yet answered (in order)
        self.session = 0
        self.call = 0
        self.requests: list[Msg] = []  # from the host
        self.delivered: list[Msg] = []  # to the device
        self.replies: list[Msg] = []  # from the device
        self.forged: set[tuple] = set()  # frames made or altered here
        self.held: list[Msg] = []
        self.learned: list[str] = []  # keys a captured value gave
        self.notes: list[str] = []
        self.state: dict = {}  # the attack's own

    # -- the transport the host talks to

    def write(self, data: bytes) -> int:
        for chunk, f in self._up.feed(bytes(data)):
            if not isinstance(f, frame.Frame):
                self.end.write(b"\x00" + chunk + b"\x00")  # not the host's: never happens
                continue
            k = self._copies.get(f.seq, -1) + 1
            self._copies[f.seq] = k
            if k:
                self.end.waited()
            seqs = self._seqs.setdefault(f.type, [])
            if f.seq not in seqs:
                seqs.append(f.seq)
            m = Msg(f, chunk, self.end.now_s(), self.session, self.call, k, seqs.index(f.seq))
            self.requests.append(m)
            if self.target.matches(m):
                self.attack.request(self, m)
            else:
                self.attack.other(self, m)
        return len(data)

    def read(self, size: int) -> bytes:
        self.pump()
        out = bytes(self._to_host[:size])
        del self._to_host[:size]
        return out

    def close(self) -> None:
        pass

    # -- what an attack does

    def deliver(self, m: Msg, origin: str | None = None) -> Msg:
        """Send m on to the device (origin: a copy of it, so marked)."""
        if origin is not None:
            m = Msg(m.frame, m.chunk, m.at, m.session, m.call, m.copy, m.nth, origin)
        m.delivered = self.end.now_s()
        self.delivered.append(m)
        self._waiting.append(m)
        self.end.write(b"\x00" + m.chunk + b"\x00")
        return m

    def to_host(self, chunk: bytes) -> None:
        self._to_host += b"\x00" + chunk + b"\x00"

    def forge(self, chunk: bytes) -> None:
        """Send the host a frame made or altered here."""
        self.forged.add(_key(_parse(chunk)))
        self.to_host(chunk)

    def ask(self, msg_type: int, *values, hmac: Hmac | None = None, counter: int = 0,
            challenge: bytes = b"", seq: int = 0xA77A) -> frame.Frame | None:
        """The attacker's own request to the device; its answer (None if none)."""
        flags = c.FLAG_AUTH if hmac is not None else 0
        payload = message.pack(msg_type, False, *values)
        kw = {"data": challenge} if challenge else {}
        wire = frame.encode(msg_type, seq, payload, flags, counter, hmac, **kw)
        m = Msg(_parse(wire[:-1]), wire[:-1], self.end.now_s(), self.session, self.call,
                origin="attacker")
        self.deliver(m)
        deadline = time.monotonic() + 2.0
        while m.reply is None and time.monotonic() < deadline:
            self.pump()
        return m.reply.frame if m.reply is not None else None

    def pump(self) -> None:
        """Take what the device sent; each answer goes to the attack (if it
        answers the target) or on to the host."""
        for chunk, f in self._down.feed(self.end.read(4096)):
            if not isinstance(f, frame.Frame):
                continue
            req = self._waiting.popleft() if self._waiting else None
            m = Msg(f, chunk, self.end.now_s(), self.session, self.call, request=req)
            if req is not None:
                req.reply = m
            self.replies.append(m)
            if req is not None and req.origin == "attacker":
                continue  # the attacker's own: the host never sees it
            if req is not None and self.target.matches(req):
                self.attack.reply(self, m)
            else:
                self.attack.other_reply(self, m)

    def drain(self) -> None:
        """Let the device answer everything delivered; the host gets none of it."""
        deadline = time.monotonic() + 5.0
        quiet = time.monotonic() + self.end.quiet_s
        while time.monotonic() < deadline:
            n = len(self.replies)
            self.pump()
            if len(self.replies) != n:
                quiet = time.monotonic() + self.end.quiet_s
            if not self._waiting and time.monotonic() >= quiet:
                break
        if self._waiting:
            self.notes.append(f"{len(self._waiting)} delivered frame(s) got no answer")
            self._waiting.clear()
        self._to_host.clear()

    def new_call(self, i: int, session: int) -> None:
        if session != self.session:
            self._copies.clear()  # a new Device numbers its requests from 1 again
        self._seqs.clear()
        self.call = i
        self.session = session
        self._to_host.clear()

    def answer(self, m: Msg) -> str:
        """What the device said to request m: OK, an error's name, or none."""
        if m.reply is None:
            return "none"
        f = m.reply.frame
        if f.type != c.MSG_ERROR:
            return "OK"
        return c.error_name(f.payload[0])


# -- what is attacked


@dataclass(frozen=True)
class Target:
    """The frame an attack aims at: the nth request of type in a call of
    the verb (every copy of it), and the device's answers to it."""

    type: int
    nth: int = 0

    def matches(self, m: Msg) -> bool:
        return m.frame.type == self.type and m.nth == self.nth

    @property
    def name(self) -> str:
        return _name(self.type) + (f"#{self.nth}" if self.nth else "")


@dataclass
class Ctx:
    """One case's facts: the UTC its time_sync calls set (call i: utc0 + i),
    the log's last block before it, the profile to upload, the device
    second each call started."""

    utc0: int
    mark: int
    blob: bytes
    started: list[float] = field(default_factory=list)

    def utc(self, i: int) -> int:
        return self.utc0 + i


@dataclass(frozen=True)
class Verb:
    """A podctl verb: how to run it, the request that does its work (kind;
    None: it changes nothing), the log event that request writes and which
    of those are this case's, and the frames of it attacks aim at."""

    name: str
    run: Callable[[Device, Ctx, int], object]
    kind: int | None
    event: int | None
    targets: tuple[Target, ...]
    mine: Callable[[tuple, Ctx], bool] = lambda ev, ctx: True


def _phase_set(dev: Device, ctx: Ctx, i: int) -> object:
    return dev.command(c.MSG_PHASE_SET, 1)


VERBS = (
    Verb("time_sync", lambda d, x, i: d.time_sync(x.utc(i)), c.MSG_TIME_SET, log.EV_TIME_SET,
         (Target(c.MSG_TIME_SET), Target(c.MSG_STATUS)),
         lambda ev, x: x.utc0 <= ev[4] < x.utc0 + 10),
    Verb("phase_set", _phase_set, c.MSG_PHASE_SET, log.EV_PHASE, (Target(c.MSG_PHASE_SET),),
         lambda ev, x: ev[3] == 1),  # b: set by a command
    Verb("erase", lambda d, x, i: d.erase(x.mark), c.MSG_LOG_ERASE, log.EV_LOG_ERASED,
         (Target(c.MSG_LOG_ERASE),)),
    Verb("profile_upload", lambda d, x, i: d.profile_upload(x.blob), c.MSG_PROFILE_COMMIT,
         log.EV_PROFILE_ACCEPTED,
         (Target(c.MSG_PROFILE_COMMIT), Target(c.MSG_PROFILE_BEGIN),
          Target(c.MSG_PROFILE_CHUNK, 1))),  # chunk 0 asks where the device is
    Verb("seal", lambda d, x, i: d.seal(), c.MSG_LOG_SEAL, None, (Target(c.MSG_LOG_SEAL),)),
    Verb("key_rotate", lambda d, x, i: d.key_rotate(), c.MSG_KEY_ROTATE, log.EV_KEY_ROTATED,
         # every step of the transaction: who the device is, its challenge,
         # the rotation, the STATUS that settles it
         (Target(c.MSG_KEY_ROTATE), Target(c.MSG_IDENTIFY), Target(c.MSG_STATUS),
          Target(c.MSG_STATUS, 1))),
    Verb("status", lambda d, x, i: d.status(), None, None, (Target(c.MSG_STATUS),)),
    Verb("log_info", lambda d, x, i: d.log_info(), None, None, (Target(c.MSG_LOG_INFO),)),
)
VERB = {v.name: v for v in VERBS}


# -- the attacks


class Attack:
    """One way to meddle with the target's frames. side: request, reply or
    capture; calls: how often the host runs the verb (sessions: each on a
    fresh Device), the target being the same request of each call; slow:
    the board plays it on TIME_SET only (its device-seconds are real
    there)."""

    name = "pass"
    side = "request"
    calls = 1
    sessions = False
    slow = False

    def applies(self, verb: Verb, target: Target) -> bool:
        return True

    def request(self, r: Relay, m: Msg) -> None:
        r.deliver(m)

    def other(self, r: Relay, m: Msg) -> None:
        """A request of the host's that is not the target."""
        r.deliver(m)

    def other_reply(self, r: Relay, m: Msg) -> None:
        """An answer to a request that is not the target."""
        r.to_host(m.chunk)

    def reply(self, r: Relay, m: Msg) -> None:
        r.to_host(m.chunk)

    def after(self, r: Relay, ctx: Ctx) -> None:
        """Once the host's calls are over."""


def _authenticated(t: Target) -> bool:
    return bool(c.authenticated(t.type))


class Drop(Attack):
    """The target request's first copy (or every copy) never arrives."""

    def __init__(self, every_copy: bool = False):
        self.every_copy = every_copy
        self.name = "drop-all" if every_copy else "drop"

    def request(self, r, m):
        if m.copy and not self.every_copy:
            r.deliver(m)


class Duplicate(Attack):
    name = "duplicate"

    def request(self, r, m):
        r.deliver(m)
        r.deliver(m, "duplicate")


class DelayRetry(Attack):
    """The first copy held back while the host's resend goes through;
    delivered after the call, 5 device-seconds on."""

    name = "delay-retry"

    def applies(self, verb, target):
        return _authenticated(target)

    def request(self, r, m):
        if m.copy == 0:
            r.held.append(m)
        else:
            r.deliver(m)

    def after(self, r, ctx):
        r.end.advance(5)
        for m in r.held:
            r.deliver(m, "held")


class DelayInWait(Attack):
    """The first copy held back and the resends dropped; the held copy
    delivered just before the host's last wait runs out (its answer is
    still the answer the host waits for)."""

    name = "delay-in-wait"

    def request(self, r, m):
        if m.copy == 0:
            r.held.append(m)
        elif m.copy == RETRIES:
            if isinstance(r.end, PodEnd):
                r.end.advance(0.9 * r.end.wait_s)
            else:
                time.sleep(0.8 * r.end.timeout)
            for h in r.held:
                r.deliver(h, "held")
            r.held.clear()


class DelayAfter(Attack):
    """Every copy held back (the host gives up), then delivered `seconds`
    device-seconds later, nothing else on the line meanwhile."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        self.name = f"delay-{seconds}s"
        self.slow = seconds > 2 * WINDOW_S

    def applies(self, verb, target):
        return _authenticated(target)

    def request(self, r, m):
        r.held.append(m)

    def after(self, r, ctx):
        r.end.advance(self.seconds)
        for m in r.held:
            r.deliver(m, "held")


class Reorder(Attack):
    """Two calls: the first call's request held back (every copy), the
    second's delivered, then the first's."""

    name = "reorder"
    calls = 2

    def applies(self, verb, target):
        return _authenticated(target)

    def request(self, r, m):
        if r.call == 0:
            r.held.append(m)
            return
        r.deliver(m)
        for h in r.held:
            r.deliver(h, "held")
        r.held.clear()


class Replay(Attack):
    """The target request recorded as it passes, and sent again: 5
    device-seconds later (when: later), after the host's next call (next),
    or after the device rebooted (reboot)."""

    def __init__(self, when: str):
        self.when = when
        self.name = "replay" if when == "later" else f"replay-{when}"
        self.calls = 2 if when == "next" else 1

    def applies(self, verb, target):
        return _authenticated(target)

    def request(self, r, m):
        if r.call == 0 and m.copy == 0:
            r.held.append(m)
        r.deliver(m)

    def after(self, r, ctx):
        if self.when == "later":
            r.end.advance(5)
        elif self.when == "reboot":
            r.end.reboot()
        for m in r.held:
            r.deliver(m, "replay")


class HoldCutSettle(Attack):
    """A rotation held back (every copy) and the STATUS that would settle
    it dropped, so the host gives up not knowing; the rotation delivered
    10 device-seconds on, inside its challenge's window: the device takes
    the key the host keeps as pending."""

    name = "hold-cut-settle"

    def applies(self, verb, target):
        return target.type == c.MSG_KEY_ROTATE

    def request(self, r, m):
        r.held.append(m)

    def other(self, r, m):
        if not (r.held and m.frame.type == c.MSG_STATUS):
            r.deliver(m)

    def after(self, r, ctx):
        r.end.advance(10)
        for m in r.held:
            r.deliver(m, "held")


class DropReply(Attack):
    side = "reply"

    def __init__(self, every_copy: bool = False):
        self.every_copy = every_copy
        self.name = "drop-reply-all" if every_copy else "drop-reply"

    def reply(self, r, m):
        if m.request is not None and m.request.copy and not self.every_copy:
            r.to_host(m.chunk)


class DuplicateReply(Attack):
    name = "duplicate-reply"
    side = "reply"

    def reply(self, r, m):
        r.to_host(m.chunk)
        r.to_host(m.chunk)


class DelayReply(Attack):
    """The answer to the first copy held back until the answer to a resend
    has gone to the host (the two answers reordered)."""

    name = "delay-reply"
    side = "reply"

    def reply(self, r, m):
        if m.request is not None and m.request.copy == 0 and m.request.origin == "host":
            r.state["held"] = m
            return
        r.to_host(m.chunk)
        held = r.state.pop("held", None)
        if held is not None:
            r.to_host(held.chunk)


class ForgeError(Attack):
    """Every answer to the target replaced with an unsigned ERROR(code)."""

    side = "reply"

    def __init__(self, code: int):
        self.code = code
        self.name = f"forge-error-{c.error_name(code)}"

    def reply(self, r, m):
        r.forge(_error_chunk(m.frame.seq, self.code, m.request.frame.type if m.request else 0))


class ForgeWrongKey(Attack):
    """Every answer re-signed under a key of the attacker's (nonce-signed
    ones over the host's nonce, which crosses the line)."""

    name = "forge-wrong-key"
    side = "reply"
    KEY = Hmac(b"\x5a" * 32)

    def reply(self, r, m):
        f = m.frame
        data = b""
        if m.request is not None and m.request.frame.type in c.NONCE_SIGNED:
            data = bytes(m.request.frame.payload[:16])
        kw = {"data": data} if data else {}
        wire = frame.encode(f.type, f.seq, f.payload, f.flags | c.FLAG_AUTH, f.counter or 0,
                            self.KEY, **kw)
        r.forge(wire[:-1])


class ForgeUnsigned(Attack):
    """Every signed answer stripped of its counter and tag."""

    name = "forge-unsigned"
    side = "reply"

    def reply(self, r, m):
        if m.frame.flags & c.FLAG_AUTH:
            r.forge(_rebuild(m.frame, flags=m.frame.flags & ~c.FLAG_AUTH))
        else:
            r.to_host(m.chunk)


# the fields a forged answer changes, per request type (the tag kept)
FORGED_FIELDS = {
    c.MSG_STATUS: ("challenge", "counter", "uptime"),
    c.MSG_LOG_INFO: ("size", "last_seq"),
    c.MSG_TIME_SET: ("previous_utc",),
    c.MSG_LOG_SEAL: ("last_seq",),
    c.MSG_LOG_ERASE: ("erased",),
    c.MSG_PROFILE_CHUNK: ("received",),
    c.MSG_PROFILE_COMMIT: ("crc",),
    c.MSG_PHASE_SET: ("phase",),
}


class ForgeField(Attack):
    """Every answer to the target with one field changed, its tag kept."""

    side = "reply"

    def __init__(self, name: str):
        self.field = name
        self.name = f"forge-field-{name}"

    def applies(self, verb, target):
        return self.field in FORGED_FIELDS.get(target.type, ())

    def reply(self, r, m):
        f = m.frame
        if f.type == c.MSG_ERROR:
            r.to_host(m.chunk)
            return
        values = list(message.unpack(f.type, True, f.payload))
        names = message.names(f.type, True)
        i = names.index(self.field)
        v = values[i]
        values[i] = bytes(b ^ 0x55 for b in v) if isinstance(v, bytes) else (v ^ 1)
        r.forge(_rebuild(f, payload=message.pack(f.type, True, *values)))


class StaleReply(Attack):
    """Two sessions (a fresh Device numbers its requests from 1 again):
    the first session's answer to the target sent to the host ahead of the
    device's own answer in the second."""

    name = "stale-reply"
    side = "reply"
    calls = 2
    sessions = True

    def applies(self, verb, target):
        return target.type != c.MSG_IDENTIFY  # unauthenticated (SPEC 4.1): nothing to hold to

    def request(self, r, m):
        old = r.state.get("old")
        if r.session and m.copy == 0:
            if old is not None and old.frame.seq == m.frame.seq:
                r.to_host(old.chunk)
            else:
                r.notes.append("stale-reply: no earlier answer with this request's seq")
        r.deliver(m)

    def reply(self, r, m):
        if r.session == 0 and "old" not in r.state:
            r.state["old"] = m
        r.to_host(m.chunk)


class PowerCutForgedRead(Attack):
    """A power cut (no attacker needed) just after the device took the
    upload's last chunk, so the COMMIT finds no upload (BAD_STATE, signed);
    the attacker answers the host's PROFILE_READs with the profile it was
    uploading, as if the COMMIT had gone through and only its answer been
    lost."""

    name = "power-cut-forge-read"
    side = "reply"

    def applies(self, verb, target):
        return target.type == c.MSG_PROFILE_CHUNK

    def reply(self, r, m):
        r.to_host(m.chunk)
        got = message.to_dict(m.frame.type, True, m.frame.payload)
        if got is not None and got["received"] == len(r.state["blob"]):
            r.end.reboot()

    def other_reply(self, r, m):
        req = m.request
        if req is None or req.frame.type != c.MSG_PROFILE_READ:
            r.to_host(m.chunk)
            return
        offset, length = message.unpack(c.MSG_PROFILE_READ, False, req.frame.payload)
        blob = r.state["blob"]
        payload = message.pack(c.MSG_PROFILE_READ, True, offset, len(blob),
                               blob[offset : offset + length])
        r.forge(frame.encode(c.MSG_PROFILE_READ, m.frame.seq, payload, c.FLAG_REPLY)[:-1])


class Capture(Attack):
    """A whole rotation recorded as it passes; then each value of 32 bytes
    it carried, used as the device key and as the link key, signs a
    TIME_SET under a challenge the attacker asked for itself. windows:
    every 32 bytes of every payload, not only the 32-byte payloads."""

    side = "capture"
    EVIL_UTC = 1_000_000_000

    def __init__(self, windows: bool):
        self.windows = windows
        self.name = "capture-windows" if windows else "capture-payload"

    def applies(self, verb, target):
        return verb.name == "key_rotate" and target.type == c.MSG_KEY_ROTATE

    def candidates(self, r: Relay) -> list[bytes]:
        payloads = [m.frame.payload for m in r.requests + r.replies]
        out: list[bytes] = []
        for p in payloads:
            starts = range(len(p) - 31) if self.windows else ([0] if len(p) == 32 else [])
            for i in starts:
                if bytes(p[i : i + 32]) not in out:
                    out.append(bytes(p[i : i + 32]))
        return out

    def after(self, r, ctx):
        tried = 0
        for cand in self.candidates(r):
            for how, key in (("device key", derive(cand, LINK)), ("link key", cand)):
                st = r.ask(c.MSG_STATUS, os.urandom(16))
                if st is None or st.type != c.MSG_STATUS:
                    r.notes.append("the attacker's STATUS got no answer")
                    continue
                values = message.to_dict(c.MSG_STATUS, True, st.payload)
                assert values is not None
                got = r.ask(c.MSG_TIME_SET, self.EVIL_UTC, hmac=Hmac(key),
                            counter=values["counter"] + 1, challenge=values["challenge"])
                tried += 1
                if got is not None and got.type != c.MSG_ERROR:
                    r.learned.append(f"{cand.hex()} as the {how}")
        r.state["tried"] = tried


CODES = (c.ERR_BAD_TAG, c.ERR_AUTH_REQUIRED, c.ERR_BAD_VERSION, c.ERR_UNKNOWN_TYPE,
         c.ERR_REPLAYED, c.ERR_STALE, c.ERR_STORAGE, c.ERR_BAD_STATE)
FEW_CODES = (c.ERR_BAD_TAG, c.ERR_STALE, c.ERR_STORAGE)


class _ForgeErrorFew(ForgeError):
    """A forged ERROR of one of FEW_CODES on the verbs not worth all CODES."""

    def applies(self, verb, target):
        return not _all_codes(verb, target)


class _ForgeErrorAll(ForgeError):
    def applies(self, verb, target):
        return _all_codes(verb, target)


def _all_codes(verb: Verb, target: Target) -> bool:
    # every step of a rotation (S1), and the commands whose refusal a user acts on
    return verb.name == "key_rotate" or target.type in (
        c.MSG_TIME_SET, c.MSG_PROFILE_COMMIT, c.MSG_LOG_SEAL)


# request-side attacks on an open request (STATUS, LOG_INFO, IDENTIFY): the
# others need a command (replaying an open request does nothing)
OPEN_REQUEST_ATTACKS = ("drop", "drop-all", "duplicate", "delay-in-wait")


def attacks() -> list[Attack]:
    out: list[Attack] = [
        Drop(), Drop(every_copy=True), Duplicate(), DelayRetry(), DelayInWait(),
        DelayAfter(40), DelayAfter(3000), Reorder(), HoldCutSettle(), PowerCutForgedRead(),
        Replay("later"), Replay("next"), Replay("reboot"),
        DropReply(), DropReply(every_copy=True), DuplicateReply(), DelayReply(),
        ForgeWrongKey(), ForgeUnsigned(), StaleReply(),
    ]
    out += [_ForgeErrorAll(code) for code in CODES]
    out += [_ForgeErrorFew(code) for code in FEW_CODES]
    fields = sorted({f for names in FORGED_FIELDS.values() for f in names})
    out += [ForgeField(f) for f in fields]
    out += [Capture(windows=False), Capture(windows=True)]
    return out


@dataclass(frozen=True)
class Case:
    attack: Attack
    verb: Verb
    target: Target

    @property
    def name(self) -> str:
        """attack/verb/frame, e.g. drop-reply/key_rotate/STATUS#1."""
        return f"{self.attack.name}/{self.verb.name}/{self.target.name}"

    @property
    def direction(self) -> str:
        return self.attack.side


def cases(board: bool = False) -> list[Case]:
    """Every (attack, verb, frame) that makes sense; board: without the
    slow ones (device-seconds are real there) except on TIME_SET."""
    out = []
    for verb in VERBS:
        for target in verb.targets:
            for a in attacks():
                if not a.applies(verb, target):
                    continue
                if a.side == "request" and not _authenticated(target) and (
                        a.name not in OPEN_REQUEST_ATTACKS):
                    continue
                if board and a.slow and target.type != c.MSG_TIME_SET:
                    continue
                out.append(Case(a, verb, target))
    return out


# -- playing a case and judging it


@dataclass
class Verdict:
    case: Case
    broken: list[str]  # how the attack succeeded; empty: it did not
    calls: list[str]  # each call's outcome: "ok" or the error
    answers: list[str]  # the device's answers to target frames delivered late or again
    notes: list[str]
    seconds: float

    @property
    def succeeded(self) -> bool:
        return bool(self.broken)

    def __str__(self) -> str:
        what = "; ".join(self.broken) if self.broken else "held"
        return f"{self.case.name}: {what} (calls: {', '.join(self.calls)})"


def _read_log(dev: Device, size: int) -> bytes:
    out = b""
    while len(out) < size:
        got = dev.request(c.MSG_LOG_READ, len(out), min(1016, size - len(out)))
        if not got["data"]:
            break
        out += got["data"]
    return out


def events_after(data: bytes, mark: int) -> list[tuple]:
    """The events (t, code, a, b, value) of the blocks after seq mark."""
    out: list[tuple] = []
    at = 0
    while at < len(data):
        blk = log.parse_block(data, at)
        if not isinstance(blk, log.Block):
            break
        if blk.kind == log.KIND_EVENTS and blk.seq > mark:
            out += log.events(data, blk)
        at += blk.size
    return out


def play(case: Case, end: End) -> Verdict:
    """Play case against end and judge it."""
    t0 = time.perf_counter()
    import podctl.device

    # the host measures round trips on the device's clock, which is simulated
    # (PodEnd) or runs `speed` times real time (the virtual board): a held
    # frame then takes the time it is held, in the seconds the judge counts
    podctl.device.monotonic = end.now_s
    clean = clean_device(end)
    mark = clean.seal().last_seq  # the events from here on are this case's
    blob = two_phases(b"uno") if clean.profile() == two_phases() else two_phases()
    end.sync()
    ctx = Ctx(UTC0, mark, blob)  # an upload changes the profile in force
    relay = Relay(end, case.attack, case.target)
    relay.state["blob"] = blob
    accepted: list[tuple[int, frame.Frame]] = []
    calls: list[str] = []
    dev = None
    for i in range(case.attack.calls):
        session = i if case.attack.sessions else 0
        relay.new_call(i, session)
        if dev is None or case.attack.sessions:
            dev = Device("relay", keystore=end.keystore, timeout=end.timeout, transport=relay)
            _spy(dev, accepted, relay)
        ctx.started.append(end.now_s())
        try:
            case.verb.run(dev, ctx, i)
            calls.append("ok")
        except PodctlError as e:
            calls.append(f"{type(e).__name__}: {e}")
    case.attack.after(relay, ctx)
    relay.drain()
    broken, notes = judge(case, end, relay, ctx, calls, accepted)
    answers = [f"{m.origin} {_name(m.frame.type)}: {relay.answer(m)}" for m in relay.delivered
               if m.origin != "host" and m.origin != "attacker"]
    if "tried" in relay.state:
        notes.append(f"{relay.state['tried']} captured values tried as keys")
    return Verdict(case, broken, calls, answers, notes + relay.notes,
                   time.perf_counter() - t0)


def _spy(dev: Device, accepted: list, relay: Relay) -> None:
    """Keep every reply the host's Link returned on (call, frame)."""
    link = dev.link
    request = link.request

    def spied(*args, **kw):
        out = request(*args, **kw)
        accepted.append((relay.call, relay.session, link.last_reply))
        return out

    link.request = spied  # type: ignore[method-assign]


def judge(case: Case, end: End, relay: Relay, ctx: Ctx, calls: list[str],
          accepted: list) -> tuple[list[str], list[str]]:
    """What the attack broke (see the module's docstring), and notes."""
    broken = [f"a captured value is a key: {k}" for k in relay.learned]
    notes: list[str] = []
    verb = case.verb
    # the host returned on a forged or stale reply
    genuine = {}
    for m in relay.replies:
        genuine.setdefault(_key(m.frame), m)
    for call, session, f in accepted:
        k = _key(f)
        name = _name(f.type)
        if k in relay.forged:
            broken.append(f"the host took a forged {name} reply as the device's word")
            continue
        m = genuine.get(k)
        if m is None:
            broken.append(f"the host took a {name} reply the device never sent")
            continue
        req = m.request
        stale = req is None or req.origin in ("replay", "attacker") or (
            req.session, req.call) != (session, call)
        if stale and (f.flags & c.FLAG_AUTH or f.type in c.NONCE_SIGNED):
            broken.append(f"the host took the device's {name} reply to another request")
    # what the device did, by its own answers
    done: dict[tuple, int] = {}
    for m in relay.delivered:
        t = m.frame.type
        if not c.authenticated(t) or relay.answer(m) != "OK":
            continue
        key = (t, m.frame.counter, m.frame.tag)  # the same frame: the same tag
        done[key] = done.get(key, 0) + 1
        assert m.delivered is not None
        late = m.delivered - m.at
        if late > WINDOW_S:
            broken.append(f"{_name(t)} (counter {m.frame.counter}) applied {late:.0f} s "
                          f"after the host sent it ({m.origin})")
    for (t, ctr, _tag), n in done.items():
        if n > 1:
            broken.append(f"{_name(t)} counter {ctr} applied {n} times")
    # control, by a fresh session on the same keystore
    clean = clean_device(end)
    try:
        clean.key_check()
    except PodctlError as e:
        broken.append(f"lost control: key check: {e}")
        return broken, notes
    dev_id = clean.device_id
    if end.keystore.pending(dev_id) is not None:
        broken.append("a rotation is still unsettled after key check")
    # what the device did, by its log
    try:
        seal = clean.seal()
        events = events_after(_read_log(clean, seal.size), ctx.mark)
        st = clean.status()
    except PodctlError as e:
        broken.append(f"lost control: {e}")
        return broken, notes
    if verb.kind is not None and verb.event is not None:
        applied = [ev for ev in events if ev[1] == verb.event and verb.mine(ev, ctx)]
        asked = len({(m.session, m.frame.seq) for m in relay.requests
                     if m.frame.type == verb.kind})
        said = sum(1 for m in relay.delivered
                   if m.frame.type == verb.kind and relay.answer(m) == "OK")
        if len(applied) > asked:
            broken.append(f"{verb.name} applied {len(applied)} times for {asked} request(s)")
        # a repeated PROFILE_COMMIT of the profile in force is answered OK
        # again without applying it again (the answer to a lost answer)
        again = verb.kind == c.MSG_PROFILE_COMMIT and said > 0 and 1 <= len(applied) <= said
        if len(applied) != said and not again:
            broken.append(f"the log has {len(applied)} {log.event_name(verb.event)}, the "
                          f"device answered OK {said} times")
    # the clock, after a time_sync that returned
    ok = [i for i, r in enumerate(calls) if r == "ok"]
    if verb.name == "time_sync" and ok:
        i = ok[-1]
        if st.utc_now is None:
            notes.append("the device's clock is unset (it rebooted)")
        else:
            off = st.utc_now - (ctx.utc(i) + (end.now_s() - ctx.started[i]))
            notes.append(f"the device's clock is {off:+.0f} s off the host's")
            if abs(off) > end.wait_s + 1:
                broken.append(f"time_sync returned, but the device's clock is {off:+.0f} s "
                              "off the host's")
    if verb.name == "profile_upload" and ok:
        try:
            if clean.profile() != ctx.blob:
                broken.append("profile_upload returned, but the device runs another profile")
        except PodctlError as e:
            broken.append(f"lost control: profile read: {e}")
    misled = [r for r in calls if "DeviceRefused" in r and verb.kind is not None]
    if misled and any(m.frame.type == verb.kind and relay.answer(m) == "OK"
                      for m in relay.delivered):
        notes.append("the host was told the device refused, though it applied the request")
    try:
        clean.time_sync(UTC_FIX)
    except PodctlError as e:
        broken.append(f"lost control: time sync: {e}")
    return broken, notes


def run(cases_: list[Case], end_for: Callable[[Case], End],
        progress: Callable[[Verdict], object] | None = None) -> Iterator[Verdict]:
    """Play each case on end_for(case)'s end; stop after one that took
    control from the host if the end is shared (the rest would be void)."""
    for case in cases_:
        end = end_for(case)
        v = play(case, end)
        if progress is not None:
            progress(v)
        yield v
        if any(b.startswith("lost control") for b in v.broken) and isinstance(end, BoardEnd):
            return
