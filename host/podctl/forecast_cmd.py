"""`podctl forecast LOG_FOLDER`: hours until the first excursion, until the
cumulative allowance is spent and until the battery alarm, P10/P50/P90,
from the container's state at the end of a pulled log (podctl.forecast;
docs/forecast.md)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from podctl.cli_common import add_port_args, examples, finite_float, open_device, whole
from podctl.errors import UsageError

LABELS = {"first_excursion": "first excursion", "budget": "allowance spent",
          "battery": "battery alarm"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "forecast",
        help="how long can it still wait: hours until excursion, allowance and battery",
        description=(
            "Fly the unchanged firmware forward from the container's last state in a "
            "pulled log (temperatures, outputs, battery, phase and its time, alarms, "
            "out-of-band time), its battery capacity and heat loss identified from the "
            "log's own history and dispersed with the environment, and report P10/P50/P90 "
            "hours until the first excursion, until the cumulative allowance is spent and "
            "until the battery alarm, with what drives each."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "podctl forecast build/pulled",
            "podctl forecast build/pulled --environment orbit --runs 100 --horizon 480",
            "podctl forecast build/pulled --environment hangar.toml --json",
            "podctl forecast build/pulled --pack lifepo4 --cells 4 --capacity-wh 900",
            "podctl forecast --port /dev/ttyACM0        # pulls the running board's log first",
        ),
    )
    p.add_argument("log", metavar="LOG_FOLDER", nargs="?", default=None,
                   help="the folder `logs pull` wrote (log.bin, profile.bin); or --port")
    add_port_args(p)
    p.add_argument("--pull-to", type=Path, default=None,
                   help="with --port: keep the pulled log there (default: a temporary folder)")
    p.add_argument("--environment", default="recovery",
                   help="recovery (default), orbit, or a TOML file with one [[phase]]")
    p.add_argument("--runs", type=whole(1, 100_000, "--runs"), default=40,
                   help="dispersed runs flown forward (default 40; P10/P90 need a few dozen)")
    p.add_argument("--horizon", type=finite_float(0.1, 8760.0, "--horizon"), default=240.0,
                   help="hours to fly forward (default 240)")
    p.add_argument("--tick-s", type=whole(1, 60, "--tick-s"), default=10,
                   help="the simulated firmware's tick in seconds (default 10)")
    p.add_argument("--seed", type=whole(0, 2**32, "--seed"), default=1,
                   help="first run's seed: the same seed gives the same forecast (default 1)")
    p.add_argument("--workers", type=whole(1, 1024, "--workers"), default=None,
                   help="processes (default: every core)")
    add_pack_args(p)
    p.add_argument("--json", action="store_true", help="print the forecast as JSON")
    p.set_defaults(run=cmd_forecast)


def add_pack_args(p: Any) -> None:
    """--pack, --cells, --capacity-wh: the container's battery, on every verb
    that forecasts (forecast, monitor --forecast, logs report). The pack is
    the container's hardware: neither the profile's bytes nor the log say it
    (podctl.forecast_pack)."""
    p.add_argument("--pack", type=_pack, default=None,
                   help="the container's battery chemistry: li-ion or lifepo4 "
                        "(default: the reference container's li-ion)")
    p.add_argument("--cells", type=whole(1, 8, "--cells"), default=None,
                   help="its cells in series (default 3, the reference pack's)")
    p.add_argument("--capacity-wh", type=finite_float(1.0, 100_000.0, "--capacity-wh"),
                   default=None, help="its rated capacity (default 900 Wh, the reference's)")


def pack_of(args: Any) -> dict[str, Any]:
    """The pack's keywords of podctl.forecast.forecast from parsed options."""
    return dict(pack=args.pack, cells=args.cells, capacity_wh=args.capacity_wh)


def _pack(text: str) -> str:
    from sim.scenario import PACKS

    if text not in PACKS:
        raise argparse.ArgumentTypeError(f"--pack must be {' or '.join(PACKS)}, got {text!r}")
    return text


def _h(v: float | None, horizon: float) -> str:
    return f"> {horizon:g}" if v is None else f"{v:.1f}"


def cmd_forecast(args: argparse.Namespace, console: Console) -> int:
    from podctl.forecast import forecast

    if (args.log is None) == (args.port is None):
        raise UsageError("give LOG_FOLDER or --port, one of them (see podctl forecast --help)")
    kw = dict(environment=args.environment, runs=args.runs, horizon_h=args.horizon,
              tick_s=args.tick_s, seed=args.seed, workers=args.workers, **pack_of(args))
    if args.port is not None:
        # the live path: the board seals its open block and hands over its
        # whole log and profile (Device.pull), so the state is as of now
        # and the history is there to identify from
        with tempfile.TemporaryDirectory(prefix="podctl-forecast") as d:
            out = args.pull_to or Path(d)
            with open_device(args) as dev:
                dev.pull(out)
            args.log = f"{dev.device_id} on {args.port}"
            f = forecast(out, **kw)
    else:
        f = forecast(args.log, **kw)
    if args.json:
        console.print_json(json.dumps(f.to_json()))
        return 0
    s, i = f.start, f.identified
    console.print(
        f"{args.log}: phase {s.phase_name} for {s.phase_s / 3600:.1f} h, payload "
        f"{s.payload_c:.2f} degC (band {s.band[0]:g}..{s.band[1]:g}), battery {s.battery_v:.3f} V "
        f"(charge {100 * i.soc:.0f} %), out of band {s.out_s} s of {s.allowance_s} s"
        + (f", alarms {' '.join(s.alarm_names)}" if s.alarm_names else ""),
        highlight=False,
    )
    console.print(
        f"identified from {i.history_h:.1f} h of the phase: battery {i.capacity_wh:.0f} Wh "
        f"+-{i.capacity_sigma_pct:.0f} % ({i.pack} cells, charge read by {i.soc_read} "
        f"+-{i.soc_sigma_pct:.0f} points), heat loss x{i.heat_loss:.2f} "
        f"+-{i.heat_loss_sigma_pct:.0f} %",
        highlight=False,
    )
    console.print(hours_table(
        f, title=f"forecast: {f.runs} runs, {f.environment}, {f.horizon_h:g} h horizon"))
    return 0


def hours_table(f: Any, title: str | None = None) -> Table:
    """P10/P50/P90 hours of each quantity and what drives it most, as the
    forecast verb and the monitor's panel show them."""
    from podctl.forecast import QUANTITIES

    t = Table(title=title)
    for col in ("hours until", "P10", "P50", "P90", "driven most by"):
        t.add_column(col, justify="left" if col in ("hours until", "driven most by") else "right")
    for q in QUANTITIES:
        h = f.hours[q]
        top = f.drivers[q][0] if f.drivers[q] else None
        t.add_row(LABELS[q], _h(h["p10"], f.horizon_h), _h(h["p50"], f.horizon_h),
                  _h(h["p90"], f.horizon_h),
                  "" if top is None else f"{top['param']} (rho {top['rho']:+.2f})")
    return t
