"""`podctl sim ...`: run the unchanged firmware through a simulated mission.

  podctl sim list
  podctl sim run SCENARIO [--engine cpython|micropython] [--seed N] [-o DIR]
                          [--tick-s S] [--table csv|parquet]
                          [--disperse NAME|FILE] [--hours H] [--junit FILE]
  podctl sim campaign SCENARIO --runs N [--disperse NAME|FILE|none] [--seed S]
                          [--hours H] [--workers K | --scheduler URL] [-o DIR]
                          [--junit FILE]   (podctl.campaign; docs/campaigns.md)

A run writes DIR/log.bin (the raw log, as `logs pull` saves it),
DIR/flash.img (the board's littlefs image), DIR/truth.csv or .parquet (true
against measured values each minute) and DIR/summary.json, prints a summary
and exits 1 when an expectation of the scenario fails.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from podctl import profile_file
from podctl.cli_common import examples, finite_float, whole
from podctl.errors import EXIT_LINK, BadInput, CheckFailed, PodctlError
from podctl.verdict import log_intact
from sim import run as simrun
from sim import scenario


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sim",
        help="run the firmware through a simulated mission",
        description=(
            "Software-in-the-loop: the unchanged firmware runs lock-step on a "
            "simulated container (thermal network, sensors, battery, faults) "
            "through a mission scenario from sim/scenarios/."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "podctl sim list", "podctl sim run nominal --tick-s 10 -o build/sim/nominal"
        ),
    )
    ssub = p.add_subparsers(dest="sim_cmd", required=True, metavar="ACTION")
    ls = ssub.add_parser("list", help="list the scenarios and what each exercises",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog=examples("podctl sim list"))
    ls.set_defaults(run=cmd_list)
    r = ssub.add_parser(
        "run",
        help="run one scenario and check its expectations",
        description=(
            "Run SCENARIO (a name from `podctl sim list` or a path to a .toml "
            "file) and check the expectations it states. Exit status 1 when one "
            "fails. The same scenario and seed give the same log, byte for byte, "
            "on both engines."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "outputs (in -o DIR):\n"
            "  log.bin        the raw log, as `podctl logs pull` saves it\n"
            "  log.bin.manifest.json  device id, firmware and profile,"
            " the log's end as the device reported it\n"
            "  flash.img      the board's littlefs image (podctl logs extract reads it)\n"
            "  truth.csv      true vs measured values every minute (--table parquet: .parquet)\n"
            "  summary.json   the run's figures and each expectation's verdict\n"
            "  key.bin        the simulated device's key (mode 0600), for logs verify\n\n"
            + examples(
                "podctl sim run nominal",
                "podctl sim run probe-failure --engine micropython --tick-s 10 -o build/sim/pf",
                "podctl sim run my-scenario.toml --seed 7 --table parquet",
            )
        ),
    )
    r.add_argument("scenario", help="scenario name or path to a .toml file")
    r.add_argument(
        "--engine",
        choices=simrun.ENGINES,
        default="cpython",
        help="cpython: in-process, fast; micropython: the firmware on the real interpreter",
    )
    r.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    r.add_argument(
        "-o", "--out", type=Path, default=None, help="output folder (default: build/sim/SCENARIO)"
    )
    r.add_argument(
        "--tick-s",
        type=_tick,
        default=None,
        help="firmware tick in seconds (default: the scenario's, 1); 10 runs ten times faster",
    )
    r.add_argument(
        "--table", choices=("csv", "parquet"), default="csv", help="format of the truth table"
    )
    _add_leg_args(r)
    r.add_argument(
        "--disperse", metavar="NAME|FILE", default=None,
        help="draw the container's numbers for the seed from a dispersion (sim/dispersions/, "
        "or a file), as run S of a campaign does (default: none)",
    )
    r.set_defaults(run=cmd_run)
    _add_campaign(ssub)


def _add_leg_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hours", type=finite_float(0.01, 1e6, "hours"), default=None,
        help="fly only the mission's first H hours (a leg: only the expectations that "
        "nothing went wrong are held)",
    )
    p.add_argument("--junit", type=Path, metavar="FILE", default=None,
                   help="write JUnit XML: one test case per expectation")


def _add_campaign(ssub) -> None:
    c = ssub.add_parser(
        "campaign",
        help="Monte Carlo: many seeds of a scenario, dispersed, on all cores or Dask",
        description=(
            "Fly SCENARIO on --runs seeds (--seed S .. S+N-1), each with its container, "
            "sensors, faults and environment drawn again from a dispersion, the firmware "
            "unchanged. Reports the probability of an excursion with its 95 % interval, "
            "each expectation's failure rate and failing seeds, worst-case percentiles "
            "and the parameters that drive failures. Run S replays alone with "
            "`podctl sim run SCENARIO --seed S --disperse NAME` (plus --hours, --tick-s). "
            "A campaign started again over the same -o DIR flies only what is not done. "
            "Exit status 1 when a run failed an expectation or was lost."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "outputs (in -o DIR):\n"
            "  runs/seed-S.parquet  one row per run (the Parquet dataset), written as it ends\n"
            "  logs/seed-S.bin      each run's raw log\n"
            "  campaign.parquet     all rows in one file\n"
            "  summary.json         probabilities, intervals, percentiles, sensitivity\n"
            "  plots/*.png          band margins, sensitivity, the drivers\n\n"
            + examples(
                "podctl sim campaign nominal --runs 200 --hours 24",
                "podctl sim campaign stranded --runs 50 --tick-s 10 --workers 2 -o build/c/st",
                "podctl sim campaign nominal --runs 500 --scheduler tcp://10.0.0.5:8786",
                "podctl sim campaign probe-failure --runs 20 --disperse none --junit ci.xml",
            )
        ),
    )
    c.add_argument("scenario", help="scenario name or path to a .toml file")
    c.add_argument("--runs", type=whole(1, 10**7, "runs"), required=True,
                   help="how many seeds to fly")
    c.add_argument("--seed", type=_seed, default=1, help="the first run's seed (default 1)")
    c.add_argument(
        "--disperse", metavar="NAME|FILE", default="default",
        help="dispersion (sim/dispersions/NAME or a .toml file; default: the scenario's own "
        "or default.toml; none: only the seed's sensor noise varies)",
    )
    c.add_argument("--engine", choices=simrun.ENGINES, default="cpython",
                   help="cpython: in-process, fast; micropython: the real interpreter")
    c.add_argument("--tick-s", type=_tick, default=None,
                   help="firmware tick in seconds (default: the scenario's)")
    _add_leg_args(c)
    where = c.add_mutually_exclusive_group()
    where.add_argument("--workers", type=whole(1, 4096, "workers"), default=None,
                       help="local worker processes (default: every core)")
    where.add_argument("--scheduler", metavar="URL", default=None,
                       help="a Dask scheduler (tcp://HOST:PORT); DIR must be reachable "
                       "from the workers at the same path for their own writes")
    c.add_argument("-o", "--out", type=Path, default=None,
                   help="output folder (default: build/campaign/SCENARIO)")
    c.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    c.set_defaults(run=cmd_campaign)


def _seed(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be a whole number, got {text!r}") from None
    if not 0 <= v < 2**64:
        raise argparse.ArgumentTypeError("seed must be between 0 and 2**64 - 1")
    return v


def _tick(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tick must be whole seconds, got {text!r}") from None
    if not 1 <= v <= 60:
        raise argparse.ArgumentTypeError("tick must be 1 to 60 seconds")
    return v


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    t = Table(title="scenarios (sim/scenarios/)")
    for col in ("name", "profile", "days", "faults", "description"):
        t.add_column(col)
    for name in scenario.scenario_names():
        try:
            sc = scenario.load(name)
        except scenario.ScenarioError as e:
            t.add_row(name, "", "", "", f"[red]{e}[/red]")
            continue
        faults = ", ".join(sorted({f["kind"] for f in sc["faults"]})) or "-"
        t.add_row(
            name, sc["profile"], f"{sc['duration_s'] / 86400:.1f}", faults, sc["description"]
        )
    console.print(t)
    return 0


def load_run_inputs(name: str, tick_s: int | None = None) -> tuple[dict, bytes]:
    """The validated scenario and its compiled profile; BadInput if either
    file is wrong."""
    try:
        sc = scenario.load(name)
    except scenario.ScenarioError as e:
        raise BadInput(str(e)) from None
    if tick_s is not None:
        sc["tick_s"] = tick_s
        try:
            sc = scenario.validate_tick(sc)
        except scenario.ScenarioError as e:
            raise BadInput(str(e)) from None
    try:
        prof = profile_file.compile_file(sc["profile"])
    except profile_file.ProfileError as e:
        raise BadInput(f"scenario {sc['name']}: profile: {e}") from None
    return sc, prof


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from podctl.campaign import check_writable
    from podctl.campaign_mission import Plan

    # the same plan a campaign makes: run S here is the campaign's run S
    plan = Plan.make(args.scenario, args.disperse, args.hours, args.tick_s, args.engine)
    sc, _ = plan.scenario_for(plan.sc["seed"] if args.seed is None else args.seed)
    prof = plan.profile
    if args.junit is not None:
        check_writable(args.junit)
    out = args.out or Path("build") / "sim" / sc["name"]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"{out}: cannot create the output folder: {e.strerror}") from None
    csv_path = out / "truth.csv"
    label = f"{sc['name']} on {args.engine}"
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[day]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=sc["duration_s"], day="day 0")
        started = time.perf_counter()

        def progress(t: int, end: int) -> None:
            bar.update(task, completed=t, day=f"day {t / 86400:.1f} of {end / 86400:.1f}")

        try:
            res = simrun.run(
                sc, prof, engine=args.engine, seed=args.seed, table=csv_path,
                progress=progress, progress_every=6 * 3600, verify_log=log_intact,
            )
        except simrun.RunError as e:
            # the simulated device failed (its interpreter, not a check): a device problem
            raise PodctlError(str(e), EXIT_LINK) from None
        elapsed = time.perf_counter() - started
    try:
        table = _write_outputs(out, sc, res, args, csv_path)
    except OSError as e:
        raise BadInput(f"{out}: cannot write the run's outputs: {e.strerror or e}") from None
    _print_summary(console, sc, res)
    console.print(f"wrote {out}/log.bin, flash.img, {table.name}, summary.json", highlight=False)
    if args.junit is not None:
        from podctl import campaign_junit
        from podctl.campaign_mission import labels

        cases = campaign_junit.from_checks(
            sc["name"], res.summary["seed"], labels(sc["expects"]), res.checks, elapsed
        )
        try:
            campaign_junit.write(args.junit, sc["name"], cases)
        except OSError as e:
            raise BadInput(f"{args.junit}: cannot write: {e.strerror or e}") from None
        console.print(f"wrote {args.junit}", highlight=False)
    if not res.passed:
        failed = sum(1 for ok, _ in res.checks if not ok)
        raise CheckFailed(f"{sc['name']}: {failed} expectation(s) not met")
    return 0


def _write_outputs(
    out: Path, sc: dict, res: simrun.Result, args: argparse.Namespace, csv_path: Path
) -> Path:
    (out / "log.bin").write_bytes(res.log)
    write_manifest(out / "log.bin", sc, res)
    (out / "flash.img").write_bytes(res.image)
    key = out / "key.bin"
    # a fresh file, never readable by others: an earlier run's key.bin (or a
    # link someone put there) is removed, not followed or reused with its mode
    try:
        key.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)  # whatever the umask
        f.write(res.key)
    table = csv_path
    if args.table == "parquet":
        table = _to_parquet(csv_path)
    summary = dict(res.summary)
    summary["scenario"] = sc["name"]
    summary["engine"] = args.engine
    if args.disperse not in (None, "none") or args.hours is not None:
        summary["dispersion"] = args.disperse
        summary["hours"] = args.hours
    summary["expectations"] = [{"passed": ok, "text": text} for ok, text in res.checks]
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return table


def write_manifest(log_path: Path, sc: dict, res: simrun.Result) -> Path:
    """The manifest a pull would write, from the simulated device's own
    account of its log (its STATUS at the mission's end). A board that died
    (battery) cannot be asked: its manifest anchors nothing and takes the
    log's end from the log itself, as an extract does."""
    from podctl import bundle
    from podctl.blocks import log_ends, walk
    from podctl.pulled import Anchor, Manifest, manifest_beside
    from podctl.seal import SEAL_NAME

    s = res.summary
    ends = None
    anchor = None
    source = (
        f"sim {sc['name']} ({res.engine}), board dead at the end: log read from its flash image"
    )
    if s["anchor"] is not None:
        first = (log_ends(res.log, walk(res.log)[0]) or (0, 0, b""))[0]
        ends = (first, s["log_last_seq"], bytes.fromhex(s["log_last_mac"]))
        anchor = Anchor(*s["anchor"])
        source = f"sim {sc['name']} ({res.engine})"
    m = Manifest.of_log(
        res.log,
        device_id=s["device_id"],
        fw_version=s["fw_version"],
        fw_hash=bundle.digest(bundle.sources())[:8].hex(),
        profile_ident=s["profile_ident"],
        source=source,
        anchor=anchor,
        ends=ends,
    )
    path = manifest_beside(log_path)
    m.write(path)
    write_seal(log_path.with_name(SEAL_NAME), s.get("seal"))
    return path


def write_seal(path: Path, wire_hex: str | None) -> None:
    """seal.bin from the simulated device's LOG_SEAL reply (its wire bytes,
    hex, in the summary), as a pull saves it; none when the board was dead
    at the end (its log's end is then not attested, as an extract's)."""
    from podctl.errors import LinkError
    from podctl.seal import Seal
    from protocol import frame

    if wire_hex is None:
        if path.exists():
            path.unlink()
        return
    replies = [
        f for f in frame.Deframer().feed(bytes.fromhex(wire_hex)) if isinstance(f, frame.Frame)
    ]
    if len(replies) != 1:
        raise LinkError("the simulated device's LOG_SEAL reply did not come back as one frame")
    path.write_bytes(Seal.from_frame(replies[0]).to_bytes())


def _to_parquet(csv_path: Path) -> Path:
    from pyarrow import csv as pcsv
    from pyarrow import parquet as pq

    pq_path = csv_path.with_suffix(".parquet")
    pq.write_table(pcsv.read_csv(csv_path), pq_path)
    csv_path.unlink()
    return pq_path


def _print_summary(console: Console, sc: dict, res: simrun.Result) -> None:
    s = res.summary
    t = Table(
        title=f"{sc['name']}: {sc['description']}"
        f" ({res.engine}, seed {s['seed']}, tick {s['tick_s']} s)"
    )
    for col in (
        "phase", "hours", "in band", "min degC", "max degC", "worst outside", "excursions"
    ):
        t.add_column(col, justify="right" if col != "phase" else "left")
    for p in s["phases"]:
        if not p["seconds"]:
            continue
        pct = 100 * p["in_band_s"] / p["seconds"]
        t.add_row(
            f"{p['name']} [{p['band_c'][0]:g}..{p['band_c'][1]:g}]",
            f"{p['seconds'] / 3600:.1f}",
            f"{pct:.2f}%",
            f"{p['min_c']:.2f}",
            f"{p['max_c']:.2f}",
            f"{p['worst_outside_c']:.2f}",
            str(len(p["excursions"])),
        )
    console.print(t)
    alarms = ", ".join(
        f"{n} at {at / 3600:.1f} h" for n, at in sorted(s["alarms"].items(), key=lambda x: x[1])
    )
    empty = s["battery_empty_s"]
    console.print(
        f"in band {s['in_band_percent']:.2f}%   worst {s['worst_outside_c']:.2f} degC outside   "
        f"energy {s['energy_wh']:.0f} Wh   battery left {100 * s['battery_soc']:.0f}%"
        + (f"   battery empty at {empty / 3600:.1f} h" if empty is not None else ""),
        highlight=False,
    )
    console.print(f"alarms: {alarms or 'none'}", highlight=False)
    if s["resets"]:
        console.print(
            "resets: " + ", ".join(f"{c} at {t / 3600:.2f} h" for t, c in s["resets"]),
            highlight=False,
        )
    for ok, text in res.checks:
        mark = "[green]PASS[/green]" if ok else "[red]FAIL[/red]"
        console.print(f"  {mark} {text}", highlight=False)


def cmd_campaign(args: argparse.Namespace, console: Console) -> int:
    """A screenful over podctl.campaign.run: a progress bar, the summary."""
    from rich.progress import MofNCompleteColumn

    from podctl import campaign

    out = args.out or Path("build") / "campaign" / Path(args.scenario).stem
    with Progress(
        TextColumn(f"[bold]{Path(args.scenario).stem}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("runs", total=None, rate="")
        t0 = time.perf_counter()
        first: list[int] = []

        def progress(done: int, total: int) -> None:
            if not first:
                first.append(done)  # runs already in DIR: not this call's rate
            new = done - first[0]
            dt = time.perf_counter() - t0
            rate = f"{3600 * new / dt:,.0f} runs/h" if new and dt > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        c = campaign.run(
            args.scenario, args.runs, out, disperse=args.disperse, seed=args.seed,
            hours=args.hours, tick_s=args.tick_s, engine=args.engine, workers=args.workers,
            scheduler=args.scheduler, junit=args.junit, plots=not args.no_plots,
            progress=progress,
        )
    print_campaign(console, c)
    console.print(f"wrote {c.out}/campaign.parquet, summary.json, runs/, logs/"
                  + (", plots/" if c.summary.get("plots") else "")
                  + (f" and {args.junit}" if args.junit else ""), highlight=False)
    if not c.passed:
        failed = c.summary["failed"]["count"] + len(c.summary["errors"])
        raise CheckFailed(
            f"{c.plan.name}: {failed} of {len(c.rows)} run(s) failed an expectation"
            + (f", {len(c.lost)} lost" if c.lost else "")
            + f"; replay one with: {c.replay(_first_bad(c))}"
        )
    return 0


def _first_bad(c) -> int:
    bad = [r["seed"] for r in c.rows if not r["passed"]] + [x["seed"] for x in c.lost]
    return min(bad) if bad else c.seeds[0]


def _ci(r: dict) -> str:
    w, e = r["wilson95"], r["clopper_pearson95"]
    if w is None:
        return "no run flown"
    return (f"{r['count']} of {r['n']} = {100 * r['rate']:.2f} %  "
            f"(95 %: Wilson {100 * w[0]:.2f}-{100 * w[1]:.2f} %, "
            f"Clopper-Pearson {100 * e[0]:.2f}-{100 * e[1]:.2f} %)")


def print_campaign(console: Console, c) -> None:
    s = c.summary
    leg = f", first {s['hours']:g} h" if s["leg"] else ""
    console.print(
        f"[bold]{s['scenario']}[/bold]: {s['done']} of {s['runs']} runs (seeds {s['seeds'][0]}"
        f"..{s['seeds'][1]}; {s['skipped']} already done), dispersion {s['dispersion']}, "
        f"tick {s['tick_s']} s{leg}, {s['where']}, {s['elapsed_s']:.1f} s",
        highlight=False,
    )
    console.print(f"excursion: {_ci(s['excursion'])}", highlight=False)
    console.print(f"any expectation failed: {_ci(s['failed'])}", highlight=False)
    t = Table(title="expectations")
    for col in ("expectation", "failed", "rate (95 % Wilson)", "failing seeds"):
        t.add_column(col)
    for e in s["expectations"]:
        w = e["wilson95"]
        seeds = ", ".join(str(x) for x in e["seeds"][:8]) + (" ..." if len(e["seeds"]) > 8 else "")
        t.add_row(
            e["label"], f"{e['count']} of {e['n']}",
            "-" if w is None else f"{100 * e['rate']:.2f} % ({100 * w[0]:.2f}-{100 * w[1]:.2f})",
            seeds or "-",
        )
    console.print(t)
    if s.get("not_held_on_a_leg"):
        console.print("not held on a leg: " + ", ".join(s["not_held_on_a_leg"]), highlight=False)
    w = s["worst"]
    if w["worst_outside_c"]:
        console.print(
            "worst outside band degC: " + _pcts(w["worst_outside_c"])
            + "\nband margin degC:        " + _pcts(w["band_margin_c"])
            + "\nbattery margin Wh:       " + _pcts(w["battery_margin_wh"]),
            highlight=False,
        )
    ranked = [x for x in s["sensitivity"] if x["rho_failure"] is not None
              or x["rho_margin"] is not None][:6]
    if ranked:
        console.print("drivers (Spearman rho with failure / with band margin; "
                      "~: of the distance from the median, both tails):", highlight=False)

        def rho(v: float | None, by: str) -> str:
            return "-" if v is None else f"{'~' if by == 'distance' else ''}{v:+.2f}"

        for x in ranked:
            rf = rho(x["rho_failure"], x["by_failure"])
            rm = rho(x["rho_margin"], x["by_margin"])
            console.print(f"  {escape(x['param']):<44} {rf:>6} / {rm}", highlight=False)
    for e in s["errors"][:5]:
        console.print(f"  [red]run {e['seed']} did not fly[/red]: {e['error']}", highlight=False)
    for x in c.lost[:5]:
        console.print(f"  [red]run {x['seed']} lost[/red]: {x['reason']}", highlight=False)


def _pcts(p: dict | None) -> str:
    if not p:
        return "-"
    return "  ".join(f"{k} {v:.3g}" for k, v in p.items())
