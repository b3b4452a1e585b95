"""`make bench` figure for the QA report: report_s_90day_log, the seconds
`podctl logs report LOG --pdf` takes (open, verify the MAC chain, decode,
analyse, plots, HTML and PDF) on a 90-day mission logged once a minute.

The log is flown by the simulator: the nominal scenario and profile with
the orbit stretched so the mission lasts 90 days (the firmware samples every
minute in orbit and recovery, every 10 s in ascent and return), the
unchanged firmware on the CPython engine at a 60 s tick. Two things the
reference container lacks for 90 days are given to it, as a container built
for such a mission would have them: four times the battery (its 900 Wh last
about 29 days), and a log budget past the board's 1360 KiB (90 days at one
record a minute is about 1.4 MB); the log is the segment files read straight
from its flash folder.

Not part of `make test`. On this machine (2 cores): 15 to 30 s to fly the
mission, then three timed reports of about 3 s each (the median is the
figure): about 25 s in all.

  python -m tests.bench_report          # prints the figure as JSON
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

DAYS = 90
REPEATS = 3
BUDGET = 8 << 20  # bytes: room for 90 days and more


def fly_90_days(out: Path) -> Path:
    """Fly the stretched nominal mission; write log.bin, its manifest,
    profile.bin and key.bin into out. Returns the log's path."""
    from podctl import profile_file
    from podctl.sim_cmds import write_manifest
    from sim import run as simrun
    from sim import scenario
    from sim.cosim import CoSim

    sc = scenario.load("nominal")
    sc["tick_s"] = 60
    stretch = DAYS * 86400 - sc["duration_s"]
    orbit = next(p for p in sc["phases"] if p["name"] == "orbit")
    orbit["duration_h"] += stretch / 3600
    sc["duration_s"] += stretch
    # the 900 Wh pack lasts about 29 days of this mission: a 90-day one carries more
    sc["power"]["capacity_wh"] *= 4
    prof = tomllib.loads(profile_file.resolve("nominal").read_text())
    next(p for p in prof["phase"] if p["name"] == "orbit")["duration_h"] += stretch / 3600
    profile = profile_file.compile_data(prof)
    key = simrun.sim_key(sc["seed"])

    def more_flash(pod) -> None:
        pod.store.budget = BUDGET

    with tempfile.TemporaryDirectory(prefix="podsim") as d:
        sim = CoSim(sc, profile, d, key)
        more_flash(sim.box.pod)  # the first boot came with the CoSim
        sim.box.on_boot = more_flash
        summary = sim.run()
        segments = sorted((p for p in (Path(d) / "log").iterdir() if p.name.isdigit()),
                          key=lambda p: p.name)
        raw = b"".join(p.read_bytes() for p in segments)
    log = out / "log.bin"
    log.write_bytes(raw)
    (out / "profile.bin").write_bytes(profile)
    (out / "key.bin").write_bytes(key)
    write_manifest(log, sc, simrun.Result("cpython", summary, b"", raw, key))
    return log


def report_bench() -> dict[str, float]:
    from podctl import cli

    with tempfile.TemporaryDirectory(prefix="podrep") as d:
        tmp = Path(d)
        log = fly_90_days(tmp)
        argv = ["logs", "report", str(log), "--key-file", str(tmp / "key.bin"), "--pdf",
                "-o", str(tmp / "qa" / "report.html")]
        times = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                status = cli.main(argv)
            times.append(time.perf_counter() - t)
            if status != 0:
                raise SystemExit(f"bench: logs report exited {status} on the 90-day log")
        return {"report_s_90day_log": round(statistics.median(times), 2)}


def figures() -> dict[str, float]:
    """The report group's figures for `make bench`."""
    return report_bench()


if __name__ == "__main__":
    print(json.dumps(figures()))
