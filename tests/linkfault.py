"""A noisy cable, not an attacker: a relay between podctl's Device and a
device end that, on each chunk of bytes in either direction, corrupts a
byte, drops the chunk or sends it twice (each with probability 1 %, from a
seeded RNG), and whole transfers driven through it from the host library.

    from tests.linkfault import bench_figures, run

    res = run(transfers=300, seed=1)           # on the firmware's Pod, in process
    res.corrupted, res.failed, res.crashed     # corrupted and crashed: 0
    bench_figures()    # 400 on the Pod (a multi-day log), 50 on the virtual board:
                       # linkfault_transfers, _corrupted, _failed, _crashed, _s, ...

The ends are tests/link_attacks.py's: PodEnd (the firmware on CPython in
this process, its clock moved by the suite: one host wait at each resend
the relay sees, and the minutes between transfers, so the log grows while
it is pulled) and BoardEnd (the firmware on the micropython binary on a
pty, `podctl flash`ed). A chunk is what one write to the device or one
read from it carries, cut into pieces of 1..max_chunk bytes first (a USB
line hands bytes over in packets, not in frames), so a fault can land
inside a frame, on its delimiter, or span two.

A transfer is one host library call: a whole log pull (into the same
folder until one completes, so a failed pull is resumed), a profile upload
and commit, a time sync, a key rotation, a status. Each either

  - completes with exactly the right result: the pulled log byte-identical
    to the device's and verifying under the keystore's keys, its profile the
    device's; the profile in force the one uploaded, one PROFILE_ACCEPTED
    for it; the device's clock where the host set it; the keystore's newest
    key the device's, one KEY_ROTATED; a STATUS signed and the device's own;
  - or fails with one of podctl's errors (LinkError, DeviceRefused,
    CheckFailed: the host may retry), leaving the device and the keystore
    consistent: the profile in force the old or the new one and its event
    logged, the device's key the keystore's newest once the next contact
    settles a rotation, and a KEY_ROTATED for every key taken.

`corrupted` counts transfers that completed with a wrong result or left the
device or the keystore inconsistent (target 0); `crashed` those that ended
in any other exception (a traceback: target 0); `failed` those that ended
in podctl's error. The judge reads the device through a clean line (the
end itself), never through the faulty one.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import podctl.device
from podctl.device import Device
from podctl.errors import PodctlError
from podctl.pulled import open_pulled
from podctl.verdict import verify
from protocol import catalogue as c
from protocol import frame, log
from protocol import profile as pf
from tests import link_attacks as la

PROB = 0.01  # each of corrupt, drop, duplicate, per chunk
MAX_CHUNK = 256  # a chunk is cut into pieces of 1..MAX_CHUNK bytes
DAYS = 3  # the simulated log the pulls start on (days of the Pod's logging)
GAP_S = 1200  # up to this many device seconds between two transfers
KINDS = (("pull", 2), ("upload", 2), ("time_sync", 2), ("key_rotate", 2), ("status", 2))
UTC0 = 1_800_000_000
POD_TIMEOUT = 0.01  # the host's wait for an answer on PodEnd (real seconds)
BOARD_SPEED = 50.0  # the virtual board's, for bench_figures' transfers on it


# -- the faulty line


@dataclass(frozen=True)
class Rule:
    """A fault on a whole frame (targeted tests): the nth frame (0-based,
    every one if None) of type in direction ("up": to the device, "down":
    to the host); action drop, duplicate or corrupt (the frame's middle
    byte)."""

    direction: str
    type: int
    action: str
    nth: int | None = 0


class FaultyLine:
    """A podctl Link transport between the host and end. Random mode (rules
    None): every chunk, cut into pieces of 1..max_chunk bytes, is corrupted,
    dropped or duplicated with probability prob each. Rules: the frames the
    rules name get their fault, every other byte passes."""

    def __init__(self, end: la.End, rng: random.Random, prob: float = PROB,
                 max_chunk: int = MAX_CHUNK, rules: list[Rule] | None = None):
        self.end = end
        self.rng = rng
        self.prob = prob
        self.max_chunk = max_chunk
        self.rules = rules
        self.faults: Counter[str] = Counter()  # "up drop", "down corrupt", ...
        self._to_host = bytearray()
        self._clean_up = la._Splitter()  # the host's own frames, to see its resends
        self._copies: dict[int, int] = {}
        self._frames = {"up": bytearray(), "down": bytearray()}  # rules: partial frames
        self._seen: Counter[tuple[str, int]] = Counter()
        self.trace: list[str] = []  # this transfer's frames and faults, to replay a failure
        self._clean_down = la._Splitter()

    def new_session(self) -> None:
        """A new Device numbers its requests from 1 again."""
        self._copies.clear()

    def write(self, data: bytes) -> int:
        data = bytes(data)
        for _chunk, f in self._clean_up.feed(data):
            if isinstance(f, frame.Frame):
                k = self._copies.get(f.seq, -1) + 1
                self._copies[f.seq] = k
                if k:
                    self.end.waited()  # the host waited a timeout before this resend
                self.trace.append(f"{self.end.now_s():.0f}s > {la._name(f.type)} seq {f.seq}"
                                  f"{' copy %d' % k if k else ''} ctr {f.counter}")
        for piece in self._faulted("up", data):
            self.end.write(piece)
        return len(data)

    def read(self, size: int) -> bytes:
        got = self.end.read(4096)
        if got:
            for _chunk, f in self._clean_down.feed(got):
                if isinstance(f, frame.Frame):
                    err = f" {c.error_name(f.payload[0])}" if f.type == c.MSG_ERROR else ""
                    self.trace.append(f"{self.end.now_s():.0f}s < {la._name(f.type)}{err} "
                                      f"seq {f.seq}")
            for piece in self._faulted("down", got):
                self._to_host += piece
        out = bytes(self._to_host[:size])
        del self._to_host[:size]
        return out

    def close(self) -> None:
        pass

    def drain(self) -> None:
        """Between transfers: what the device still sends goes nowhere."""
        quiet = time.monotonic() + self.end.quiet_s
        while True:
            if self.end.read(4096):
                quiet = time.monotonic() + self.end.quiet_s
            elif time.monotonic() >= quiet:
                break
        self._to_host.clear()
        for buf in self._frames.values():
            buf.clear()

    # -- the faults

    def _faulted(self, direction: str, data: bytes) -> list[bytes]:
        if self.rules is not None:
            return self._ruled(direction, data)
        out = []
        at = 0
        while at < len(data):
            n = self.rng.randint(1, self.max_chunk)
            out += self._fault(direction, data[at : at + n])
            at += n
        return out

    def _fault(self, direction: str, piece: bytes) -> list[bytes]:
        r = self.rng.random()
        if r >= 3 * self.prob:
            return [piece]
        what = ("corrupt", "drop", "duplicate")[int(r / self.prob)]
        self.faults[f"{direction} {what}"] += 1
        self.trace.append(f"  {direction} {what} {len(piece)} B")
        if what == "corrupt":
            return [self._corrupt(piece, self.rng.randrange(len(piece)))]
        if what == "drop":
            return []
        return [piece, piece]

    def _corrupt(self, piece: bytes, i: int) -> bytes:
        b = bytearray(piece)
        b[i] ^= self.rng.randint(1, 255)
        return bytes(b)

    def _ruled(self, direction: str, data: bytes) -> list[bytes]:
        buf = self._frames[direction]
        buf += data
        out = []
        while (z := buf.find(0)) >= 0:
            chunk = bytes(buf[: z + 1])
            del buf[: z + 1]
            out += self._rule(direction, chunk)
        return out

    def _rule(self, direction: str, chunk: bytes) -> list[bytes]:
        if len(chunk) < 2:
            return [chunk]
        got = frame.Deframer().feed(chunk)
        f = got[0] if got else None
        if not isinstance(f, frame.Frame):
            return [chunk]
        nth = self._seen[(direction, f.type)]
        self._seen[(direction, f.type)] += 1
        assert self.rules is not None
        for rule in self.rules:
            if rule.direction != direction or rule.type != f.type:
                continue
            if rule.nth is not None and rule.nth != nth:
                continue
            self.faults[f"{direction} {rule.action}"] += 1
            self.trace.append(f"  {direction} {rule.action} {la._name(f.type)} #{nth}")
            if rule.action == "drop":
                return []
            if rule.action == "duplicate":
                return [chunk, chunk]
            if rule.action == "corrupt":
                return [self._corrupt(chunk, len(chunk) // 2)]
            raise ValueError(rule.action)
        return [chunk]


# -- the judge's view of the device, through a clean line


class Mirror:
    """The device's log as the judge reads it (clean line), grown as the
    device writes; the events and the newest block after each seal."""

    def __init__(self, end: la.End):
        self.end = end
        self.data = b""
        self.last_seq = -1

    def seal(self) -> int:
        """Seal through a clean line, read what is new; the previous last seq."""
        clean = la.clean_device(self.end)
        s = clean.seal()
        mark = self.last_seq
        if s.size < len(self.data) or s.first_seq != 0:
            raise AssertionError(f"the device's log shrank or rolled ({s.first_seq}, {s.size})")
        self.data += _read_from(clean, len(self.data), s.size)
        self.last_seq = s.last_seq
        return mark

    def events(self, after: int, code: int) -> list[tuple]:
        return [ev for ev in la.events_after(self.data, after) if ev[1] == code]


def _read_from(dev: Device, at: int, size: int) -> bytes:
    out = b""
    while at + len(out) < size:
        got = dev.request(c.MSG_LOG_READ, at + len(out), min(1016, size - at - len(out)))
        if not got["data"]:
            break
        out += got["data"]
    return out


# -- the transfers and their judges


@dataclass
class Outcome:
    kind: str
    result: str  # "ok", "failed" (podctl's error), "crashed" (anything else)
    wrong: list[str]  # what the judge found wrong: the transfer corrupted something
    error: str = ""
    trace: list[str] = field(default_factory=list)  # kept when wrong or crashed

    @property
    def corrupted(self) -> bool:
        return bool(self.wrong)

    def __str__(self) -> str:
        what = "; ".join(self.wrong) if self.wrong else "right"
        return f"{self.kind}: {self.result} {self.error} -> {what}"


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    pulls_completed: int = 0
    pulled_bytes: int = 0  # the largest log pulled whole
    seconds: float = 0.0

    @property
    def transfers(self) -> int:
        return len(self.outcomes)

    @property
    def corrupted(self) -> int:
        return sum(1 for o in self.outcomes if o.corrupted)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.result == "failed")

    @property
    def crashed(self) -> int:
        return sum(1 for o in self.outcomes if o.result == "crashed")

    def bad(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.corrupted or o.result == "crashed"]

    def by_kind(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            out.setdefault(o.kind, Counter())[o.result] += 1
        return out


def profiles(rng: random.Random) -> Callable[[], bytes]:
    """Profiles to upload, each another than the one in force: 2 to 16
    phases, so an upload takes one to three chunks."""
    _, prof = la._rig()
    n = [0]

    def make() -> bytes:
        n[0] += 1
        phases = [prof.phase(b"p%d-%d" % (n[0], i), event_s=600 + i)
                  for i in range(rng.randint(2, 16))]
        return prof.make(phases)

    return make


class Session:
    """Transfers through a FaultyLine to end, each judged."""

    def __init__(self, end: la.End, work: Path, seed: int = 1, prob: float = PROB,
                 max_chunk: int = MAX_CHUNK, rules: list[Rule] | None = None,
                 timeout: float | None = None):
        self.end = end
        self.work = Path(work)
        self.rng = random.Random(seed)
        self.line = FaultyLine(end, random.Random(seed * 7919 + 1), prob, max_chunk, rules)
        if timeout is None:  # the Pod answers within the write: only a lost frame waits
            timeout = POD_TIMEOUT if isinstance(end, la.PodEnd) else end.timeout
        self.timeout = timeout
        self.mirror = Mirror(end)
        self.mirror.seal()
        self.results = Results()
        self.dev: Device | None = None
        self.next_profile = profiles(self.rng)
        self.pulls = 0
        self.pull_dir = self._pull_dir()
        self.before: dict = {}  # the last transfer's facts before it ran

    def device(self, fresh: bool = False) -> Device:
        if fresh or self.dev is None:
            self.line.new_session()
            self.dev = Device("faulty", keystore=self.end.keystore, timeout=self.timeout,
                              transport=self.line)
        return self.dev

    def _pull_dir(self) -> Path:
        self.pulls += 1
        return self.work / f"pull{self.pulls}"

    def transfer(self, kind: str, fresh: bool = True, **kw) -> Outcome:
        """One transfer of kind through the faulty line, judged."""
        dev = self.device(fresh)
        before = self.before = self._before(kind, **kw)
        self.line.trace = []
        try:
            got = getattr(self, "_do_" + kind)(dev, before)
            result, error = "ok", ""
        except PodctlError as e:
            got, result, error = None, "failed", f"{type(e).__name__}: {e}"
        except Exception as e:  # a traceback the user would see
            got, result = None, "crashed"
            error = "".join(traceback.format_exception_only(e)).strip() + "\n" + "".join(
                traceback.format_tb(e.__traceback__)[-3:])
        self.line.drain()
        if result != "ok":
            self.dev = None  # the host runs the command again, as a new session
        try:
            wrong = getattr(self, "_judge_" + kind)(result, got, before)
        except PodctlError as e:
            wrong = [f"the judge's clean session failed: {type(e).__name__}: {e}"]
        out = Outcome(kind, result, wrong, error)
        if wrong or result == "crashed":
            out.trace = self.line.trace
        self.results.outcomes.append(out)
        return out

    def _before(self, kind: str, **kw) -> dict:
        clean = la.clean_device(self.end)
        st = clean.status()
        dev_id = clean.device_id
        before = {"mark": self.mirror.last_seq, "t0": self.end.now_s(), "status": st,
                  "keys": len(self.end.keystore.keys(dev_id)), "dev_id": dev_id}
        if kind == "upload":
            before["old"] = clean.profile()
            before["blob"] = kw.get("blob") or self.next_profile()
        if kind == "time_sync":
            before["utc"] = kw.get("utc", UTC0 + self.rng.randrange(10**7))
        return before

    # the transfers

    def _do_pull(self, dev: Device, b: dict) -> Path:
        return dev.pull(self.pull_dir)

    def _do_upload(self, dev: Device, b: dict) -> int:
        return dev.profile_upload(b["blob"])

    def _do_time_sync(self, dev: Device, b: dict) -> object:
        return dev.time_sync(b["utc"])

    def _do_key_rotate(self, dev: Device, b: dict) -> Path:
        return dev.key_rotate()

    def _do_status(self, dev: Device, b: dict) -> podctl.device.Status:
        return dev.status()

    # the judges: what is wrong after the transfer (empty: right)

    def _judge_pull(self, result: str, got, b: dict) -> list[str]:
        if result != "ok":
            part = self.pull_dir / "log.bin.part"
            self.mirror.seal()
            if part.exists():
                have = part.read_bytes()
                if have != self.mirror.data[: len(have)]:
                    return [f"a failed pull left {len(have)} bytes that are not the "
                            "device's log's head"]
            return []
        wrong = []
        raw = Path(got).read_bytes()
        self.mirror.seal()
        dev_raw = self.mirror.data[: len(raw)]
        if raw != dev_raw:
            at = next((i for i, (x, y) in enumerate(zip(raw, dev_raw)) if x != y),
                      min(len(raw), len(dev_raw)))
            wrong.append(f"pulled log ({len(raw)} B) differs from the device's at byte {at}")
        keys = self.end.keystore.keys(b["dev_id"])
        v = verify(open_pulled(self.pull_dir), keys)
        if not v.verified:
            wrong.append("pulled log does not verify: " + "; ".join(str(f) for f in v.findings))
        prof = (self.pull_dir / "profile.bin").read_bytes()
        if prof != la.clean_device(self.end).profile():
            wrong.append("pulled profile.bin is not the device's profile")
        self.results.pulls_completed += 1
        self.results.pulled_bytes = max(self.results.pulled_bytes, len(raw))
        self.pull_dir = self._pull_dir()
        return wrong

    def _judge_upload(self, result: str, got, b: dict) -> list[str]:
        wrong = []
        clean = la.clean_device(self.end)
        now = clean.profile()
        blob, old = b["blob"], b["old"]
        self.mirror.seal()
        accepted = [ev[4] for ev in self.mirror.events(b["mark"], log.EV_PROFILE_ACCEPTED)]
        if result == "ok":
            if now != blob:
                wrong.append("profile_upload returned, but the device runs another profile")
            if got != pf.ident(blob):
                wrong.append("profile_upload returned another identity")
        elif now not in (old, blob):
            wrong.append("a failed upload left a profile in force that is neither old nor new")
        want = [pf.ident(blob)] if now == blob else []
        if accepted != want:
            wrong.append(f"PROFILE_ACCEPTED events {[hex(a) for a in accepted]}, the profile "
                         f"in force {'new' if now == blob else 'old'}")
        return wrong

    def _judge_time_sync(self, result: str, got, b: dict) -> list[str]:
        if result != "ok":
            return []
        st = la.clean_device(self.end).status()
        if st.utc_now is None:
            return ["time_sync returned, but the device's clock is unset"]
        off = st.utc_now - (b["utc"] + (self.end.now_s() - b["t0"]))
        if abs(off) > podctl.device.SYNC_RTT_S + 1:
            return [f"time_sync returned, but the device's clock is {off:+.0f} s off"]
        return []

    def _judge_key_rotate(self, result: str, got, b: dict) -> list[str]:
        wrong = []
        ks = self.end.keystore
        dev_id = b["dev_id"]
        clean = la.clean_device(self.end)
        try:
            clean.key_check()  # settles what a failed rotation left pending
        except PodctlError as e:
            return [f"the keystore does not hold the device's key: {e}"]
        if ks.pending(dev_id) is not None:
            wrong.append("a rotation is still pending after key check")
        n = len(ks.keys(dev_id))
        took = n - b["keys"]
        if result == "ok" and took != 1:
            wrong.append(f"key_rotate returned, but the keystore grew by {took} keys")
        if took not in (0, 1):
            wrong.append(f"the keystore grew by {took} keys in one rotation")
        if isinstance(self.end, la.PodEnd):
            from protocol.auth import Hmac
            from protocol.keys import LINK, derive

            mine = Hmac(derive(ks.key(dev_id), LINK)).digest(b"linkfault")
            guard = self.end.pod.guard
            if guard.hmac is None or guard.hmac.digest(b"linkfault") != mine:
                wrong.append("the device's key is not the keystore's newest")
        self.mirror.seal()
        rotated = self.mirror.events(b["mark"], log.EV_KEY_ROTATED)
        if len(rotated) != took:
            wrong.append(f"{len(rotated)} KEY_ROTATED events for {took} keys taken")
        return wrong

    def _judge_status(self, result: str, got, b: dict) -> list[str]:
        if result != "ok":
            return []
        wrong = []
        after = la.clean_device(self.end).status()
        if not got.authenticated:
            wrong.append("status returned an answer not signed over its nonce")
        first = b["status"]
        for name in ("boot_count", "counter", "utc_at_boot"):
            if getattr(got, name) != getattr(after, name):
                wrong.append(f"status {name} {getattr(got, name)}, the device's "
                             f"{getattr(after, name)}")
        if not first.uptime_s <= got.uptime_s <= after.uptime_s:
            wrong.append(f"status uptime {got.uptime_s} s outside the call "
                         f"({first.uptime_s}..{after.uptime_s})")
        if not first.log_bytes <= got.log_bytes <= after.log_bytes:
            wrong.append("status log_bytes outside the call's")
        return wrong


# -- runs


def _on_device_clock(end: la.End):
    """Round trips measured on the device's clock (as link_attacks.play)."""
    old = podctl.device.monotonic
    podctl.device.monotonic = end.now_s
    return old


def pod_end(tmp: Path, days: float = DAYS) -> la.PodEnd:
    """A PodEnd whose log already holds days of logging."""
    end = la.PodEnd(tmp)
    end.advance(days * 86_400)
    return end


def run(transfers: int = 300, seed: int = 1, end: la.End | None = None,
        work: Path | None = None, days: float = DAYS, gap_s: float = GAP_S,
        prob: float = PROB, max_chunk: int = MAX_CHUNK,
        progress: Callable[[Outcome], object] | None = None) -> Results:
    """transfers random transfers (KINDS' weights) through a FaultyLine at
    prob, on end (default: a PodEnd with days of log), the device logging
    gap_s at most between two. A failed transfer is retried by the next
    with a chance of one half, as a user runs the command again."""
    t0 = time.perf_counter()
    tmpdir = None
    if work is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="linkfault-")
        work = Path(tmpdir.name)
    old = None
    try:
        if end is None:
            end = pod_end(work / "pod", days)
        old = _on_device_clock(end)
        s = Session(end, work, seed, prob, max_chunk)
        rng = random.Random(seed)
        names = [k for k, w in KINDS for _ in range(w)]
        last: Outcome | None = None
        for _ in range(transfers):
            if last is not None and last.result != "ok" and rng.random() < 0.5:
                kind = last.kind
            else:
                kind = rng.choice(names)
            last = s.transfer(kind, fresh=rng.random() < 0.5)
            if progress is not None:
                progress(last)
            if isinstance(end, la.PodEnd):
                end.advance(rng.uniform(0, gap_s))
            else:
                end.advance(rng.uniform(0, min(gap_s, 2.0)))
        res = s.results
        res.faults = s.line.faults
    finally:
        if old is not None:
            podctl.device.monotonic = old
        if tmpdir is not None:
            tmpdir.cleanup()
    res.seconds = time.perf_counter() - t0
    return res


def bench_figures(transfers: int = 400, board: int = 50, seed: int = 1) -> dict:
    """make bench's figures: transfers on the in-process Pod (its log
    multi-day, pulled whole), then board more on the virtual board (the
    firmware on the micropython binary, its log as young as the board)."""
    t0 = time.perf_counter()
    res = run(transfers=transfers, seed=seed)
    both = [res]
    if board:
        with tempfile.TemporaryDirectory(prefix="linkfault-board-") as tmp:
            end = la.BoardEnd(Path(tmp) / "board", speed=BOARD_SPEED)
            try:
                both.append(run(transfers=board, seed=seed, end=end, work=Path(tmp)))
            finally:
                end.close()
    return {
        "linkfault_transfers": sum(r.transfers for r in both),
        "linkfault_corrupted": sum(r.corrupted for r in both),
        "linkfault_failed": sum(r.failed for r in both),
        "linkfault_crashed": sum(r.crashed for r in both),
        "linkfault_board_transfers": both[1].transfers if board else 0,
        "linkfault_pulls_completed": sum(r.pulls_completed for r in both),
        "linkfault_pulled_bytes": res.pulled_bytes,
        "linkfault_faults": sum(sum(r.faults.values()) for r in both),
        "linkfault_s": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 300
    seed = int(argv[1]) if len(argv) > 1 else 1
    res = run(n, seed, progress=lambda o: print(o) if o.result != "ok" or o.wrong else None)
    for o in res.bad():
        print("BAD", o, *o.trace, sep="\n  ")
    print({k: dict(v) for k, v in res.by_kind().items()}, dict(res.faults))
    print(f"transfers {res.transfers} corrupted {res.corrupted} failed {res.failed} crashed "
          f"{res.crashed} pulls {res.pulls_completed} ({res.pulled_bytes} B) "
          f"{res.seconds:.1f} s")
    return 1 if res.bad() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
