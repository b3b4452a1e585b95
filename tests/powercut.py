"""Issue 15's power-cut sweep: the power cut at every flash operation of a
workload, and the board booted afresh on what the flash holds.

    from tests.powercut import sweep
    result = sweep(seed=1, points="sample")      # or "all", or [(n, torn), ...]
    result.figures()                             # powercut_points, ..._lost, ...
    for case in result.failed: print(case)       # a case id and what broke

    python -m tests.powercut sweep [--all] [--seed S]
    python -m tests.powercut replay s1-n3570      # one case, the cut made for real

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
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
            blk = log.parse_block(a.data, 0)
            assert isinstance(blk, log.Block), blk
            if blk.kind == log.KIND_EVENTS:
                run.events[a.seq] = log.events(a.data, blk)
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
        return [s for s in self.steps if s.name == name][which]

    def window(self, step: Step) -> range:
        """The operations from step's first to the end of the first append
        after it (its events reach the log there)."""
        end = next((a.after for a in self.appends if a.before >= step.after), self.ops)
        return range(step.before, end)

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
class Case:
    seed: int
    n: int
    torn: bool
    problems: dict[str, list[str]] = field(default_factory=dict)
    records_lost: int = 0
    where: str = ""  # where the workload was when the power went (replay only)

    @property
    def id(self) -> str:
        return f"s{self.seed}-n{self.n}{'t' if self.torn else ''}"

    def fail(self, check: str, why: str) -> None:
        self.problems.setdefault(check, []).append(why)

    def __str__(self) -> str:
        what = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.problems.items())
        return f"{self.id}: {what or 'ok'}"


def parse_id(case_id: str) -> tuple[int, int, bool]:
    """(seed, cut point, torn) of a case id s<seed>-n<N>[t]."""
    s, n = case_id.split("-")
    assert s[0] == "s" and n[0] == "n", case_id
    torn = n.endswith("t")
    return int(s[1:]), int(n[1:].rstrip("t")), torn


def judge(run: Run, rep: dict, segments: dict[str, bytes]) -> Case:
    """What the board booted after the cut at rep["n"] broke of CHECKS."""
    n = rep["n"]
    case = Case(run.seed, n, rep["torn"])
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
    blocks, findings = walk(raw, run.keys)
    for f in findings:
        if f.severity != "fail":
            continue
        case.fail("key" if f.code == "mac" else "verify", str(f))

    durable = [a for a in run.appends if a.after <= n]
    max_durable = max((a.seq for a in durable), default=-1)
    # the host erased, or the overwrite policy dropped, the blocks before
    # the log's first seq after any step that had begun (a torn operation
    # may have done all that mattered of it)
    torn = rep["torn"]
    head = max((s.first for s in run.steps
                if s.before < n or (torn and s.before == n < s.after)), default=0)
    present = set()
    new_events = []
    for b in blocks:
        if b.seq is None:
            continue
        data = raw[b.offset : b.offset + b.size]
        known = run.by_seq.get(b.seq)
        if known is not None and known.before <= n and known.data == data:
            present.add(b.seq)
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
    events = [e for a in durable for e in run.events.get(a.seq, ())]
    events += [e for s in present for e in run.events.get(s, ()) if run.by_seq[s].after > n]
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
        """The cut points that failed check, as ranges: "2130-2147 (t: 2129)"."""
        return _ranges([c for c in self.cases if check in c.problems])

    def figures(self, suffix: str = "") -> dict[str, float]:
        f = {
            "powercut_points": len(self.cases),
            "powercut_records_lost": sum(c.records_lost for c in self.cases),
            "powercut_profiles_lost": self.count("profile"),
            "powercut_keys_lost": self.count("key"),
            "powercut_seq_reused": self.count("seq"),
            "powercut_boot_failures": self.count("boot"),
            "powercut_unverified": self.count("verify"),
            "powercut_workload_ops": self.run.ops,
            "powercut_workload_appends": len(self.run.appends),
            "powercut_workload_segments": self.run.segments,
            "powercut_workload_drops": self.run.drops,
            "powercut_s": round(self.seconds, 1),
        }
        return {k + suffix: v for k, v in f.items()}


def _ranges(cases: Sequence[Case]) -> str:
    """Cut points as runs of consecutive operations, clean and torn apart."""
    out = []
    for torn in (False, True):
        ns = sorted(c.n for c in cases if c.torn == torn)
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
    for name, k in (("commit", 0), ("rotate", 0), ("erase", 0), ("erase", 1)):
        windows.update(run.window(run.step(name, k)))
    rest = [p for p in every if p[0] not in windows]
    stride = max(1, len(rest) // max(1, 2000 - 2 * len(windows)))
    return sorted([p for p in every if p[0] in windows] + rest[::stride])


def boot_points(run: Run, points: Sequence[tuple[int, bool]], workers: int = 2) -> list[dict]:
    """Boot the board after each cut point; the reports, in points' order."""
    chunks = [points[i::workers] for i in range(workers)]
    procs = []
    for i, chunk in enumerate(chunks):
        if not chunk:
            continue
        f = run.folder / f"points{i}"
        f.write_text(",".join(f"{n}{'t' if t else ''}" for n, t in chunk))
        cmd = [upy.binary(), "-X", f"heapsize={HEAP}", str(SCRIPT), "boot", str(run.folder),
               str(f)]
        env = {"MICROPYPATH": upy.micropypath(MP)}
        # into files, not pipes: a full pipe would hold one worker up while
        # the other is read
        out = run.folder / f"reports{i}"
        with open(out, "w") as o, open(run.folder / f"errors{i}", "w") as e:
            procs.append((subprocess.Popen(cmd, stdout=o, stderr=e, env=env, cwd=upy.ROOT),
                          i))
    reports = []
    for p, i in procs:
        if p.wait(timeout=1800) != 0:
            err = (run.folder / f"errors{i}").read_text().strip()
            raise RuntimeError(f"micropython _powercut.py boot: {err}")
        with open(run.folder / f"reports{i}") as o:
            reports += [json.loads(line) for line in o]
    reports.sort(key=lambda r: (r["n"], r["torn"]))
    return reports


def sweep(seed: int = 1, points: str | Iterable[tuple[int, bool]] = "sample",
          workers: int = 2, run: Run | None = None) -> Sweep:
    """Cut at each of points (points_of) of seed's workload (recorded now,
    unless run is given) and judge each boot."""
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="powercut") as tmp:
        if run is None:
            run = Run.record(seed, Path(tmp))
        chosen = points_of(run, points)
        segments: dict[str, bytes] = {}
        cases = [judge(run, r, segments) for r in boot_points(run, chosen, workers)]
    return Sweep(run, cases, time.perf_counter() - t)


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
    uncut workload, recorded now unless given). The image is kept
    (build/powercut/<id>.img unless named)."""
    seed, n, torn = parse_id(case_id)
    image = image or upy.ROOT / "build" / "powercut" / f"{case_id}.img"
    image.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="powercut") as tmp:
        if run is None:
            run = Run.record(seed, Path(tmp))
        assert run.seed == seed, (run.seed, case_id)
        r = _mp("replay", str(seed), str(n), "1" if torn else "0", str(image))
        rep = json.loads(r.stdout.splitlines()[-1])
        assert rep["ops"] == min(n, run.ops), ("the replay ran differently", rep["ops"])
        case = judge(run, rep, {})
    case.where = rep["where"]
    return case, image


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.powercut")
    sub = ap.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("sweep", help="cut at every operation (--all) or a sample")
    s.add_argument("--all", action="store_true")
    s.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("replay", help="one case, the cut made for real")
    r.add_argument("case_id")
    args = ap.parse_args(argv)
    if args.verb == "replay":
        case, image = replay(args.case_id)
        print(case)
        print(f"the power went {case.where}")
        print(f"the flash after the cut: {image}")
        return 1 if case.problems else 0
    result = sweep(args.seed, "all" if args.all else "sample")
    for case in result.failed:
        print(case)
    for check in CHECKS:
        print(f"{check:<8} failed at {result.where(check)}")
    for k, v in result.figures().items():
        print(f"{k:<28} {v}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
