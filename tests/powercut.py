"""Issue 15's power-cut sweep: the power cut at every flash operation of a
workload, and the board booted afresh on what the flash holds.

    from tests.powercut import sweep
    result = sweep(seed=1, points="sample")      # or "all", or [(n, torn), ...]
    result.figures()                             # powercut_points, ..._lost, ...
    for case in result.failed: print(case)       # a case id and what broke

    python -m tests.powercut sweep [--all] [--seed S] [--double sample|all]
    python -m tests.powercut replay s1-n3570      # one case, the cut made for real
    python -m tests.powercut replay s1-n3570-m5t  # a double cut, both made for real

The board side is tests/mp/_powercut.py on the real micropython binary: the
unchanged firmware (firmware.pod.Pod on a test HAL, commands signed as
tests/mp/_rig.py's Client signs them) over littlefs (vfs.VfsLfs2) on a NOR
flash model (sim/norflash.py: 4 KiB sectors erased to 0xFF, 256-byte pages
programmed by AND). One run of the workload, uncut, records every program
and erase in order; the flash a cut at operation N leaves is the first N of
them applied to the factory image (and, torn, half of operation N), so each
cut point costs a boot, not a run: a few milliseconds each, many per
micropython process, two processes at once. `replay` makes one cut for real
(the workload run again on a device whose power goes at N) and boots the
flash saved to a file; tests/test_powercut.py holds such images to the
journal's.

The workload (tests/mp/_powercut.py work): a boot, a TIME_SET, about 1,250
one-second ticks with the open block sealed at four in five of them (over
1,000 appends; 2 KiB segments rotate every 30 blocks or so; a 12 KiB budget
under the overwrite policy rolls about 20 times), LOG_SEAL, PHASE_SET (a state save), a profile
upload and commit, a key rotation, two more TIME_SETs and two full log
erases (LOG_ERASE through the last seq, after a flush).

After each cut, the booted board must (littlefs's "old or new, never torn",
as issue 15 lists it):
  boot       boot (mount, Pod.boot, a few ticks, a block written);
  verify     hold a log that podctl.blocks.walk verifies under the key
             history (old key, new key): no unreadable block, gap or MAC
             mismatch (a head erased by the host is unanchored, as verify
             takes it);
  records    hold every block appended before the cut (its append returned:
             littlefs committed it), unless the host erased it or the
             overwrite policy dropped it by then;
  profile    run the old profile or the new one, the new one if COMMIT had
             replied, and hold a PROFILE_ACCEPTED of the new one (on the
             device or among blocks already pulled) exactly when it runs it;
  key        hold the old key or the new one, the new one if KEY_ROTATE had
             replied (every block verifying under the history is `verify`);
  seq        never write a block whose seq a block durable before the cut
             had with other content (so never restart the sequence).
A case id (s<seed>-n<N>, t when torn) replays any of them.

Double cuts (double_points, double_cases): the boot after a cut in the key
rotation's, the profile commit's or a log erase's window (Run.windows)
finishes what the cut interrupted, and that writes flash: identity.new put
in place and KEY_ROTATED (a = 1) logged, PROFILE_ACCEPTED (a = 1) logged,
an empty segment removed, the boot's blocks. The board side runs that
recovery boot uncut on the first cut's flash with its own operations
journalled (recover(): a Second), then cuts it at each of them, clean and
torn, and boots a third time; the third boot is judged by the same checks,
the blocks the recovery boot made durable before the second cut held as
the workload's (and the keys and the profile as after the first cut: the
new key if KEY_ROTATE replied, or if any KEY_ROTATED is on flash; the new
profile if COMMIT replied, with its PROFILE_ACCEPTED). Case ids
s<seed>-n<N>[t]-m<M>[t]. make test cuts the recovery boots of a few first
cuts of each window (double_points "sample"); make soak (soak()) every
first cut of the windows, on seeds 1, 2, ... until 100,000 cut points in
all.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from podctl.blocks import walk
from protocol import log
from protocol.keys import key_id
from sim import upy
from sim.norflash import ERASE, apply

MP = upy.ROOT / "tests" / "mp"
SCRIPT = MP / "_powercut.py"
HEAP = "32M"  # the workload's journal and two flash images: the host's RAM, not the board's
CHECKS = ("boot", "verify", "records", "profile", "key", "seq")


def _mp(*args: str, timeout: float = 600) -> upy.Result:
    r = upy.run(SCRIPT, *args, extra_path=(MP,), heapsize=HEAP, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"micropython _powercut.py {args[0]}: {r.stderr.strip()}")
    return r


@dataclass(frozen=True)
class Step:
    name: str
    before: int  # operations done when it began
    after: int  # and when it returned (a command's reply went out)
    first: int  # the log's first seq after it
    last: int  # and its last
    arg: object


@dataclass(frozen=True)
class Append:
    seq: int
    before: int
    after: int  # durable from here: littlefs committed it
    data: bytes

    @cached_property
    def events(self) -> list[tuple]:
        blk = log.parse_block(self.data, 0)
        assert isinstance(blk, log.Block), blk
        return log.events(self.data, blk) if blk.kind == log.KIND_EVENTS else []


@dataclass
class Run:
    """The uncut workload of one seed, as tests/mp/_powercut.py recorded it."""

    seed: int
    folder: Path
    ops: int
    programs: int
    erases: int
    steps: list[Step]
    appends: list[Append]
    old_profile: int
    new_profile: int
    old_key: bytes
    new_key: bytes
    segments: int  # segment files the log opened
    by_seq: dict[int, Append] = field(default_factory=dict)
    events: dict[int, list[tuple]] = field(default_factory=dict)  # seq -> its events

    @classmethod
    def record(cls, seed: int, folder: Path) -> Run:
        folder.mkdir(parents=True, exist_ok=True)
        _mp("record", str(seed), str(folder))
        m = json.loads((folder / "marks.json").read_text())
        blob = (folder / "blocks.bin").read_bytes()
        appends = []
        at = 0
        for seq, before, after, n in m["appends"]:
            appends.append(Append(seq, before, after, blob[at : at + n]))
            at += n
        run = cls(
            seed, folder, m["ops"], m["programs"], m["erases"],
            [Step(*s) for s in m["steps"]], appends,
            m["old_profile"], m["new_profile"],
            bytes.fromhex(m["old_key"]), bytes.fromhex(m["new_key"]), m["segments"],
        )
        for a in appends:
            assert a.seq not in run.by_seq, f"the uncut run reused seq {a.seq}"
            run.by_seq[a.seq] = a
            if ev := a.events:
                run.events[a.seq] = ev
        return run

    @property
    def keys(self) -> list[bytes]:
        return [self.old_key, self.new_key]

    @property
    def drops(self) -> int:
        """Segments the overwrite policy dropped (the head moved, no erase)."""
        n = 0
        for a, b in zip(self.steps, self.steps[1:]):
            if b.first > a.first and b.name != "erase":
                n += 1
        return n

    def step(self, name: str, which: int = 0) -> Step:
        return self._named[name][which]

    @cached_property
    def _named(self) -> dict[str, list[Step]]:
        out: dict[str, list[Step]] = {}
        for s in self.steps:
            out.setdefault(s.name, []).append(s)
        return out

    def window(self, step: Step) -> range:
        """The operations from step's first to the end of the first append
        after it (its events reach the log there)."""
        end = next((a.after for a in self.appends if a.before >= step.after), self.ops)
        return range(step.before, end)

    @property
    def windows(self) -> list[range]:
        """The key rotation's, the profile commit's and the two log
        erases' windows: where double cuts are made."""
        return [self.window(self.step(name, k))
                for name, k in (("rotate", 0), ("commit", 0), ("erase", 0), ("erase", 1))]

    def image(self, n: int, torn: bool = False) -> bytearray:
        """The flash a cut at operation n leaves, from the journal (as the
        board side makes it)."""
        data = bytearray((self.folder / "base.img").read_bytes())
        j = (self.folder / "journal.bin").read_bytes()
        at = 0
        for i in range(n + (1 if torn else 0)):
            if at >= len(j):
                break
            kind, addr, size = struct.unpack_from("<BIH", j, at)
            at += 7
            buf: int | bytes = size
            if kind != ERASE:
                buf = j[at : at + size]
                at += size
            apply(data, kind, addr, buf, torn and i == n)
        return data


@dataclass
class Second:
    """The boot after the first cut at (n, torn), uncut (the recovery boot:
    it finishes what the cut interrupted, so it writes flash), as the board
    recorded it: its operations and the blocks it appended."""

    n: int
    torn: bool
    ops: int
    appends: list[Append]
    report: dict
    by_seq: dict[int, Append] = field(default_factory=dict)

    @classmethod
    def of(cls, line: dict) -> Second:
        appends = [Append(seq, b, a, bytes.fromhex(h)) for seq, b, a, h in line["appends"]]
        rep = {k: v for k, v in line.items() if k not in ("appends", "ops")}
        return cls(line["n"], line["torn"], line["ops"], appends, rep,
                   {a.seq: a for a in appends})

    @property
    def points(self) -> list[tuple[int, bool]]:
        """Every second cut: each of its operations, clean and torn."""
        return [(m, t) for m in range(self.ops) for t in (False, True)]


@dataclass
class Case:
    seed: int
    n: int
    torn: bool
    problems: dict[str, list[str]] = field(default_factory=dict)
    records_lost: int = 0
    log: str = ""  # the booted board's log, a digest (a replay's is the sweep's)
    where: str = ""  # where the workload was when the power went (replay only)
    m: int | None = None  # a double cut: the second, at the recovery boot's operation m
    mtorn: bool = False

    @property
    def id(self) -> str:
        first = f"s{self.seed}-n{self.n}{'t' if self.torn else ''}"
        return first if self.m is None else f"{first}-m{self.m}{'t' if self.mtorn else ''}"

    def fail(self, check: str, why: str) -> None:
        self.problems.setdefault(check, []).append(why)

    def __str__(self) -> str:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.problems.items())
        return f"{self.id}: {what or 'ok'}"


def parse_id(case_id: str) -> tuple[int, int, bool, int | None, bool]:
    """(seed, cut point, torn, second cut point or None, its torn) of a
    case id s<seed>-n<N>[t] or, a double cut, s<seed>-n<N>[t]-m<M>[t]."""
    s, n, *more = case_id.split("-")
    assert s[0] == "s" and n[0] == "n" and len(more) <= 1, case_id
    m, mtorn = None, False
    if more:
        assert more[0][0] == "m", case_id
        m, mtorn = int(more[0][1:].rstrip("t")), more[0].endswith("t")
    return int(s[1:]), int(n[1:].rstrip("t")), n.endswith("t"), m, mtorn


def judge(run: Run, rep: dict, segments: dict[str, bytes], second: Second | None = None
          ) -> Case:
    """What the board booted after the cut at rep["n"] broke of CHECKS; a
    double cut (second: the recovery boot after the cut at n, rep["m"] the
    operation of it the power went at again): what the third boot broke,
    the blocks the recovery boot made durable held as the workload's."""
    n = rep["n"]
    m = rep.get("m")
    assert (m is None) == (second is None), (rep, second)
    case = Case(run.seed, n, rep["torn"], m=m, mtorn=rep.get("mtorn", False))
    if rep.get("boot") != "ok":
        case.fail("boot", str(rep.get("boot")))
    if rep.get("damaged"):
        case.fail("boot", "identity or counter damaged: every command refused")
    if "segments" not in rep:
        return case
    for seg in rep["segments"]:
        if len(seg) == 3:
            segments[seg[1]] = bytes.fromhex(seg[2])
    raw = b"".join(segments[s[1]] for s in rep["segments"])
    case.log = hashlib.sha256(raw).hexdigest()[:16]
    blocks, findings = walk(raw, run.keys)
    for f in findings:
        if f.severity != "fail":
            continue
        case.fail("key" if f.code == "mac" else "verify", str(f))

    durable = [a for a in run.appends if a.after <= n]
    if second is not None:
        assert m is not None and (second.n, second.torn) == (n, rep["torn"])
        durable += [a for a in second.appends if a.after <= m]
    max_durable = max((a.seq for a in durable), default=-1)
    # the host erased, or the overwrite policy dropped, the blocks before
    # the log's first seq after any step that had begun (a torn operation
    # may have done all that mattered of it)
    torn = rep["torn"]
    head = max((s.first for s in run.steps
                if s.before < n or (torn and s.before == n < s.after)), default=0)
    present: dict[int, Append] = {}  # blocks of the workload's or the recovery boot's
    new_events = []
    for b in blocks:
        if b.seq is None:
            continue
        data = raw[b.offset : b.offset + b.size]
        known = run.by_seq.get(b.seq)
        if known is not None and known.before <= n and known.data == data:
            present[b.seq] = known
            continue
        known = second.by_seq.get(b.seq) if second is not None else None
        if known is not None and m is not None and known.before <= m and known.data == data:
            present[b.seq] = known
            continue
        if b.seq <= max_durable:
            case.fail("seq", f"seq {b.seq} written again with other content"
                      f" (durable up to {max_durable})")
        if b.kind == log.KIND_EVENTS:
            blk = log.parse_block(data, 0)
            assert isinstance(blk, log.Block)
            new_events += log.events(data, blk)
    lost = [a for a in durable if a.seq >= head and a.seq not in present]
    if lost:
        case.records_lost = sum(struct.unpack_from("<H", a.data, 14)[0] for a in lost)
        case.fail("records", f"blocks {lost[0].seq}..{lost[-1].seq} ({len(lost)}) lost,"
                  f" {case.records_lost} records")

    # every event the host could know: on the device now, or in a block
    # durable before the cut (pulled, or still there)
    events = [e for a in durable for e in a.events]
    kept = {id(a) for a in durable}
    events += [e for a in present.values() if id(a) not in kept for e in a.events]
    events += new_events
    accepted = any(e[1] == log.EV_PROFILE_ACCEPTED and e[4] == run.new_profile
                   for e in events)
    commit = run.step("commit")
    prof = rep.get("profile")
    if prof not in (run.old_profile, run.new_profile):
        case.fail("profile", f"runs profile {prof}, neither the old nor the new")
    elif prof == run.old_profile and commit.after <= n:
        case.fail("profile", "COMMIT replied, the old profile runs")
    elif prof == run.new_profile and not accepted:
        case.fail("profile", "the new profile runs, no PROFILE_ACCEPTED records it")
    elif prof == run.old_profile and accepted:
        case.fail("profile", "PROFILE_ACCEPTED logged, the old profile runs")

    rotate = run.step("rotate")
    kid = rep.get("key_id")
    if kid not in (key_id(run.old_key).hex(), key_id(run.new_key).hex()):
        case.fail("key", f"holds key {kid}, neither the old nor the new")
    elif kid == key_id(run.old_key).hex() and rotate.after <= n:
        case.fail("key", "KEY_ROTATE replied, the old key is held")
    elif kid == key_id(run.old_key).hex() and any(e[1] == log.EV_KEY_ROTATED for e in events):
        case.fail("key", "KEY_ROTATED logged, the old key is held")
    return case


@dataclass
class Sweep:
    run: Run
    cases: list[Case]
    seconds: float

    @property
    def failed(self) -> list[Case]:
        return [c for c in self.cases if c.problems]

    def count(self, check: str) -> int:
        return sum(check in c.problems for c in self.cases)

    def where(self, check: str) -> str:
        """The cut points that failed check, as ranges: "clean 2130-2147;
        torn 2129", and double cuts by their first: "n3570t: m clean 3-5"."""
        return _where([c for c in self.cases if check in c.problems])

    def figures(self, suffix: str = "") -> dict[str, float]:
        f = tally(self.cases, self.seconds)
        f.update({
            "powercut_workload_ops": self.run.ops,
            "powercut_workload_appends": len(self.run.appends),
            "powercut_workload_segments": self.run.segments,
            "powercut_workload_drops": self.run.drops,
        })
        return {k + suffix: v for k, v in f.items()}


def tally(cases: Sequence[Case], seconds: float) -> dict[str, float]:
    """The figures of a sweep's cases (single and double cuts alike; the
    double ones counted apart too)."""
    double = [c for c in cases if c.m is not None]
    return {
        "powercut_points": len(cases),
        "powercut_records_lost": sum(c.records_lost for c in cases),
        "powercut_profiles_lost": sum("profile" in c.problems for c in cases),
        "powercut_keys_lost": sum("key" in c.problems for c in cases),
        "powercut_seq_reused": sum("seq" in c.problems for c in cases),
        "powercut_boot_failures": sum("boot" in c.problems for c in cases),
        "powercut_unverified": sum("verify" in c.problems for c in cases),
        "powercut_double_points": len(double),
        "powercut_double_failed": sum(bool(c.problems) for c in double),
        "powercut_s": round(seconds, 1),
    }


def _ranges(cases: Sequence[Case], at: str = "n") -> str:
    """Cut points as runs of consecutive operations, clean and torn apart
    (at "m": the second cuts)."""
    out = []
    for torn in (False, True):
        ns = sorted(c.n if at == "n" else c.m or 0 for c in cases
                    if (c.torn if at == "n" else c.mtorn) == torn)
        runs: list[list[int]] = []
        for n in ns:
            if runs and n == runs[-1][1] + 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        if runs:
            text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)
            out.append(f"{'torn' if torn else 'clean'} {text}")
    return "; ".join(out) or "none"


def _where(cases: Sequence[Case]) -> str:
    single = [c for c in cases if c.m is None]
    text = _ranges(single) if single else ""
    firsts: dict[tuple[int, bool], list[Case]] = {}
    for c in cases:
        if c.m is not None:
            firsts.setdefault((c.n, c.torn), []).append(c)
    for (n, torn), cs in sorted(firsts.items()):
        text += f"{'; ' if text else ''}n{n}{'t' if torn else ''}: m {_ranges(cs, 'm')}"
    return text or "none"


def points_of(run: Run, which: str | Iterable[tuple[int, bool]]) -> list[tuple[int, bool]]:
    """The cut points: "all" (every operation, clean and torn), "sample"
    (every operation of the commit, rotation and erase windows, both ways,
    and a stride over the rest to about 2,000), or a list of (n, torn)."""
    if not isinstance(which, str):
        return sorted(set(which))
    every = [(n, t) for n in range(run.ops) for t in (False, True)]
    if which == "all":
        return every
    assert which == "sample", which
    windows: set[int] = set(range(0, 40))  # the first boot
    for w in run.windows:
        windows.update(w)
    rest = [p for p in every if p[0] not in windows]
    stride = max(1, len(rest) // max(1, 2000 - 2 * len(windows)))
    return sorted([p for p in every if p[0] in windows] + rest[::stride])


def _board(run: Run, mode: str, texts: Sequence[str]) -> list[Path]:
    """micropython _powercut.py MODE on run's folder, one process per text
    (a points file), all at once; the files their reports went to."""
    procs = []
    for i, text in enumerate(texts):
        if not text:
            continue
        f = run.folder / f"{mode}-points{i}"
        f.write_text(text)
        cmd = [upy.binary(), "-X", f"heapsize={HEAP}", str(SCRIPT), mode, str(run.folder),
               str(f)]
        env = {"MICROPYPATH": upy.micropypath(MP)}
        # into files, not pipes: a full pipe would hold one worker up while
        # the other is read
        out = run.folder / f"{mode}-reports{i}"
        err = run.folder / f"{mode}-errors{i}"
        with open(out, "w") as o, open(err, "w") as e:
            procs.append((subprocess.Popen(cmd, stdout=o, stderr=e, env=env, cwd=upy.ROOT),
                          out, err))
    outs = []
    for p, out, err in procs:
        if p.wait(timeout=3600) != 0:
            raise RuntimeError(f"micropython _powercut.py {mode}: {err.read_text().strip()}")
        outs.append(out)
    return outs


def _reports(out: Path) -> Iterator[dict]:
    with open(out) as o:
        for line in o:
            yield json.loads(line)


def boot_points(run: Run, points: Sequence[tuple[int, bool]], workers: int = 2) -> list[dict]:
    """Boot the board after each cut point; the reports, in points' order
    (a segment's bytes come once, in the first report of its process that
    holds it: judge them in this order)."""
    chunks = [points[i::workers] for i in range(workers)]
    texts = [",".join(f"{n}{'t' if t else ''}" for n, t in chunk) for chunk in chunks]
    reports = [r for out in _board(run, "boot", texts) for r in _reports(out)]
    reports.sort(key=lambda r: (r["n"], r["torn"]))
    return reports


def single_cases(run: Run, points: Sequence[tuple[int, bool]], workers: int = 2
                 ) -> list[Case]:
    """Cut at each of points, boot, judge: the cases in points' order."""
    chunks = [points[i::workers] for i in range(workers)]
    texts = [",".join(f"{n}{'t' if t else ''}" for n, t in chunk) for chunk in chunks]
    cases = []
    for out in _board(run, "boot", texts):
        segments: dict[str, bytes] = {}  # each process sends a segment once
        cases += [judge(run, r, segments) for r in _reports(out)]
    cases.sort(key=lambda c: (c.n, c.torn))
    return cases


# a double cut's points: the first cut (n, torn) and the second cuts at the
# recovery boot's operations (m, torn), or None for every one of them
DoublePoint = tuple[int, bool, Sequence[tuple[int, bool]] | None]


def _double_text(points: Sequence[DoublePoint]) -> str:
    lines = []
    for n, torn, ms in points:
        line = f"{n}{'t' if torn else ''}"
        if ms is not None:
            line += " " + (",".join(f"{m}{'t' if t else ''}" for m, t in sorted(ms)) or "-")
        lines.append(line)
    return "\n".join(lines)


def recover(run: Run, firsts: Iterable[tuple[int, bool]], workers: int = 2
            ) -> dict[tuple[int, bool], Second]:
    """The recovery boot after each first cut, uncut and journalled."""
    chosen = sorted(set(firsts))
    texts = [_double_text([(n, t, []) for n, t in chosen[i::workers]]) for i in range(workers)]
    out = {}
    for f in _board(run, "double", texts):
        for line in _reports(f):
            out[(line["n"], line["torn"])] = Second.of(line)
    return out


def double_cases(run: Run, points: Sequence[DoublePoint], workers: int = 2
                 ) -> tuple[list[Case], dict[tuple[int, bool], Second]]:
    """Double cuts: after each first cut the recovery boot, cut at each of
    its operations named (all, clean and torn, if None), and the third
    boot judged. The cases, in order, and the recovery boots."""
    chosen = sorted(points, key=lambda p: (p[0], p[1]))
    texts = [_double_text(chosen[i::workers]) for i in range(workers)]
    cases = []
    seconds = {}
    for out in _board(run, "double", texts):
        segments: dict[str, bytes] = {}
        second = None
        for rep in _reports(out):
            if "m" not in rep:
                second = Second.of(rep)
                seconds[(second.n, second.torn)] = second
                continue
            assert second is not None and (second.n, second.torn) == (rep["n"], rep["torn"])
            cases.append(judge(run, rep, segments, second))
    cases.sort(key=lambda c: (c.n, c.torn, c.m or 0, c.mtorn))
    return cases, seconds


def double_points(run: Run, which: str | Iterable[DoublePoint] = "all",
                  seconds: dict[tuple[int, bool], Second] | None = None
                  ) -> list[DoublePoint]:
    """Double cuts: "all" (every first cut in the rotation's, the commit's
    and the erases' windows, clean and torn, and every second cut of the
    recovery boot after it, clean and torn), "sample" (in each window the
    first cuts whose recovery boot does the most: it logs KEY_ROTATED or
    PROFILE_ACCEPTED with a = 1, or has the most operations; every second
    cut of each; seconds: recover()'s of the windows, made if not given),
    or a list of (n, torn, [(m, torn), ...] or None)."""
    if not isinstance(which, str):
        return list(which)
    firsts = sorted({(n, t) for w in run.windows for n in w for t in (False, True)})
    if which == "all":
        return [(n, t, None) for n, t in firsts]
    assert which == "sample", which
    if seconds is None:
        seconds = recover(run, firsts)
    chosen: set[tuple[int, bool]] = set()
    for w in run.windows:
        here = [seconds[(n, t)] for n, t in firsts if n in w]
        finishing = [s for s in here if any(
            e[1] in (log.EV_KEY_ROTATED, log.EV_PROFILE_ACCEPTED) and e[2] == 1
            for a in s.appends for e in a.events)]
        for s in finishing[:1] + finishing[-1:] + [max(here, key=lambda s: s.ops)]:
            chosen.add((s.n, s.torn))
    return [(n, t, None) for n, t in sorted(chosen)]


def sweep(seed: int = 1, points: str | Iterable[tuple[int, bool]] = "sample",
          workers: int = 2, run: Run | None = None,
          double: str | Iterable[DoublePoint] | None = None) -> Sweep:
    """Cut at each of points (points_of) of seed's workload (recorded now,
    unless run is given) and judge each boot; and the double cuts double
    names (double_points), if any."""
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="powercut") as tmp:
        if run is None:
            run = Run.record(seed, Path(tmp))
        chosen = points_of(run, points)
        cases = single_cases(run, chosen, workers) if chosen else []
        if double is not None:
            cases += double_cases(run, double_points(run, double), workers)[0]
    return Sweep(run, cases, time.perf_counter() - t)


SOAK_POINTS = 100_000  # make soak's cut points at least, double cuts included


def soak(seeds: Iterable[int] | None = None, min_points: int = SOAK_POINTS, workers: int = 2,
         progress: Callable[[int, int], None] | None = None, chunk: int = 4000
         ) -> list[Sweep]:
    """make soak's sweep: every cut point of each seed's workload, clean and
    torn, and every double cut (double_points "all": every first cut in the
    windows, every second cut of the boot after it), in chunks of about
    chunk boots, progress(done, total) after each. seeds: 1, 2, ... until
    the points reach min_points, unless named. One Sweep a seed."""
    out = []
    done = 0
    total = 0
    with tempfile.TemporaryDirectory(prefix="powercut") as tmp:
        plans = []
        # the workloads and their recovery boots first: the total is known
        todo = iter(seeds) if seeds is not None else iter(range(1, 1 << 20))
        while seeds is not None or total < min_points:
            seed = next(todo, None)
            if seed is None:
                break
            run = Run.record(seed, Path(tmp) / f"s{seed}")
            firsts = [(n, t) for n, t, _ in double_points(run, "all")]
            seconds = recover(run, firsts, workers)
            plans.append((run, seconds))
            total += 2 * run.ops + sum(2 * s.ops for s in seconds.values())
        for run, seconds in plans:
            t = time.perf_counter()
            cases: list[Case] = []
            every = points_of(run, "all")
            for i in range(0, len(every), chunk):
                cases += single_cases(run, every[i : i + chunk], workers)
                done += len(every[i : i + chunk])
                if progress:
                    progress(done, total)
            group: list[DoublePoint] = []
            size = 0
            last = max(seconds)
            for key, second in sorted(seconds.items()):
                group.append((*key, None))
                size += 2 * second.ops
                if size >= chunk or key == last:
                    got, again = double_cases(run, group, workers)
                    for k, s in again.items():  # the same recovery boot again
                        assert (s.ops, s.appends) == (seconds[k].ops, seconds[k].appends), k
                    cases += got
                    done += len(got)
                    if progress:
                        progress(done, total)
                    group, size = [], 0
            out.append(Sweep(run, cases, time.perf_counter() - t))
    return out


def soak_figures(sweeps: Sequence[Sweep], seconds: float, suffix: str = "_soak"
                 ) -> dict[str, float]:
    """The figures of soak()'s sweeps, summed over the seeds."""
    f = tally([c for s in sweeps for c in s.cases], seconds)
    f["powercut_seeds"] = len(sweeps)
    f["powercut_workload_ops"] = sum(s.run.ops for s in sweeps)
    f["powercut_workload_appends"] = sum(len(s.run.appends) for s in sweeps)
    return {k + suffix: v for k, v in f.items()}


def bench_figures() -> dict[str, float]:
    """make bench's group powercut: the cut at every operation of seed 1's
    workload, clean and torn (tests/bench.py)."""
    result = sweep(1, "all")
    for check in CHECKS:
        print(f"powercut: {check} failed at {result.where(check)}", file=sys.stderr)
    return result.figures()


def replay(case_id: str, image: Path | None = None, run: Run | None = None
           ) -> tuple[Case, Path]:
    """Run case_id's workload again with the power cut at its operation for
    real, boot the flash saved to a file, judge it (against run, the seed's
    uncut workload, recorded now unless given). A double cut's: the boot
    after the cut has its power cut at its operation m for real too, and
    the board boots a third time on the flash saved then. The image is
    kept (build/powercut/<id>.img unless named)."""
    seed, n, torn, m, mtorn = parse_id(case_id)
    image = image or upy.ROOT / "build" / "powercut" / f"{case_id}.img"
    image.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="powercut") as tmp:
        if run is None:
            run = Run.record(seed, Path(tmp))
        assert run.seed == seed, (run.seed, case_id)
        args = [str(seed), str(n), "1" if torn else "0", str(image)]
        second = None
        if m is not None:
            second = recover(run, [(n, torn)], 1)[(n, torn)]
            args += [str(m), "1" if mtorn else "0"]
        r = _mp("replay", *args)
        rep = json.loads(r.stdout.splitlines()[-1])
        assert rep["ops"] == min(n, run.ops), ("the replay ran differently", rep["ops"])
        if second is not None:
            assert m is not None and rep["second_ops"] == min(m, second.ops), (
                "the recovery boot ran differently", rep["second_ops"])
        case = judge(run, rep, {}, second)
    case.where = rep["where"]
    return case, image


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.powercut")
    sub = ap.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("sweep", help="cut at every operation (--all) or a sample")
    s.add_argument("--all", action="store_true")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--double", choices=("none", "sample", "all"), default="none",
                   help="double cuts too: a second cut in the boot after a first in the"
                        " rotation's, the commit's and the erases' windows")
    s.add_argument("--only-double", action="store_true", help="no single cuts")
    r = sub.add_parser("replay", help="one case, the cut made for real")
    r.add_argument("case_id")
    args = ap.parse_args(argv)
    if args.verb == "replay":
        case, image = replay(args.case_id)
        print(case)
        print(f"the power went {case.where}")
        print(f"the flash after the cut: {image}")
        return 1 if case.problems else 0
    result = sweep(args.seed, [] if args.only_double else "all" if args.all else "sample",
                   double=None if args.double == "none" else args.double)
    for case in result.failed:
        print(case)
    for check in CHECKS:
        print(f"{check:<8} failed at {result.where(check)}")
    for k, v in result.figures().items():
        print(f"{k:<28} {v}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
