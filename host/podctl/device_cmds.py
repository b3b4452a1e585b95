"""Commands that look at a container or set it: info, status, monitor,
maintenance, key rotate, time sync. Each opens a podctl.Device and prints
what its typed verbs return."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podctl.cli_common import add_port_args, examples, finite_float, open_device, whole
from podctl.device import Device, Status
from podctl.errors import BadInput, LinkError, UsageError
from podctl.forecast_cmd import add_pack_args, pack_of
from podctl.monitor_forecast import DEFAULT_EVERY_MIN, LiveForecast
from protocol import log, names
from protocol import profile as pf

# monitor's forecast options and their defaults (given without --forecast: a mistake)
FORECAST_DEFAULTS = {"forecast_every": DEFAULT_EVERY_MIN, "pull_to": None,
                     "environment": "recovery", "runs": 20, "horizon": 240.0, "tick_s": 10,
                     "seed": 1, "workers": None, "pack": None, "cells": None,
                     "capacity_wh": None}


def add_parser(sub) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    i = sub.add_parser(
        "info",
        help="who the container is: id, firmware, log, profile",
        formatter_class=raw,
        epilog=examples("podctl info", "podctl info --port /dev/ttyACM0"),
    )
    add_port_args(i)
    i.set_defaults(run=cmd_info)
    s = sub.add_parser(
        "status",
        help="the container's state now: probes, band, outputs, alarms, phase",
        formatter_class=raw,
        epilog=examples("podctl status", "podctl status --json --port /dev/ttyACM0"),
    )
    add_port_args(s)
    s.add_argument(
        "--json", action="store_true", help="print the status fields as JSON (units in the names)"
    )
    s.set_defaults(run=cmd_status)
    m = sub.add_parser(
        "monitor",
        help="live dashboard of probes, band, outputs, alarms and phase (Ctrl-C to leave)",
        description=(
            "Polls STATUS every --every seconds; a replugged cable is waited for, not fatal. "
            "--forecast adds the live forecast under it (podctl forecast, docs/monitor.md): "
            "every --forecast-every minutes the log logged since the last pull is pulled "
            "between the polls and the forecast flies in a worker process while the polls "
            "go on; key f (or SIGUSR1) refreshes it at once."
        ),
        formatter_class=raw,
        epilog=examples(
            "podctl monitor", "podctl monitor --every 5 --port $(cat build/board/port)",
            "podctl monitor --forecast --forecast-every 15 --runs 20 --environment recovery",
        ),
    )
    add_port_args(m)
    m.add_argument("--every", type=finite_float(0.05, 3600, "--every"), default=1.0,
                   help="seconds between polls (default 1)")
    m.add_argument("--count", type=whole(0, 10**9, "--count"), default=0,
                   help="stop after this many polls (default: until Ctrl-C)")
    fc = m.add_argument_group("the live forecast (podctl forecast's options)")
    fc.add_argument("--forecast", action="store_true",
                    help="show the forecast under the status, refreshed")
    fc.add_argument("--forecast-every", type=finite_float(0.01, 24 * 60, "--forecast-every"),
                    default=FORECAST_DEFAULTS["forecast_every"], metavar="MIN",
                    help=f"minutes between forecasts (default {DEFAULT_EVERY_MIN:g})")
    fc.add_argument("--pull-to", type=Path, default=FORECAST_DEFAULTS["pull_to"],
                    help="keep the pulled log there (default: a temporary folder)")
    fc.add_argument("--environment", default=FORECAST_DEFAULTS["environment"],
                    help="recovery (default), orbit, or a TOML file with one [[phase]]")
    fc.add_argument("--runs", type=whole(1, 100_000, "--runs"),
                    default=FORECAST_DEFAULTS["runs"],
                    help="dispersed runs a forecast (default 20)")
    fc.add_argument("--horizon", type=finite_float(0.1, 8760.0, "--horizon"),
                    default=FORECAST_DEFAULTS["horizon"],
                    help="hours to fly forward (default 240)")
    fc.add_argument("--tick-s", type=whole(1, 60, "--tick-s"),
                    default=FORECAST_DEFAULTS["tick_s"],
                    help="the simulated firmware's tick in seconds (default 10)")
    fc.add_argument("--seed", type=whole(0, 2**32, "--seed"), default=FORECAST_DEFAULTS["seed"],
                    help="first run's seed (default 1)")
    fc.add_argument("--workers", type=whole(1, 1024, "--workers"),
                    default=FORECAST_DEFAULTS["workers"],
                    help="processes for the runs (default: every core)")
    add_pack_args(fc)
    m.set_defaults(run=cmd_monitor)
    mt = sub.add_parser(
        "maintenance",
        help="stop the firmware for mpremote (repl), or reboot the container",
        description=(
            "repl: the firmware stops and the board resets into its maintenance boot: no "
            "firmware, no watchdog, heater and Peltier off, Ctrl-C on, at its REPL, so "
            "`mpremote connect PORT resume ...` can work on it (its USB port comes back within "
            "a few seconds); the next reset runs the firmware again. "
            "reboot: the board resets. Both authenticated, and logged as commanded resets."
        ),
        formatter_class=raw,
        epilog=examples(
            "podctl maintenance repl && mpremote connect /dev/ttyACM0 resume exec \"print(1)\"",
            "podctl maintenance reboot",
        ),
    )
    mt.add_argument("action", choices=("repl", "reboot"))
    add_port_args(mt)
    mt.set_defaults(run=cmd_maintenance)
    k = sub.add_parser("key", help="the container's secret key", formatter_class=raw,
                       epilog=examples("podctl key rotate", "podctl key check"))
    ksub = k.add_subparsers(dest="key_cmd", required=True, metavar="ACTION")
    kr = ksub.add_parser(
        "rotate",
        help="give the container a new key (authenticated with the old one)",
        description=(
            "A transaction: the new key is kept in the keystore as pending before it is "
            "sent, wrapped under the old key (never in the clear); the device seals its log "
            "under the old key and switches; then a STATUS the device signs over a fresh "
            "nonce says which key it holds, and the keystore takes the new key or drops it. "
            "A lost answer or a forged refusal cannot lock you out: if no signed answer "
            "comes, both keys stay and the next podctl command to the device (or "
            "`podctl key check`) settles it. Logs that span the rotation verify with the "
            "history."
        ),
        formatter_class=raw,
        epilog=examples("podctl key rotate", "podctl key rotate --keystore ~/lab/keys.json"),
    )
    add_port_args(kr)
    kr.set_defaults(run=cmd_key_rotate)
    kc = ksub.add_parser(
        "check",
        help="which key of the keystore the container holds (settles an unfinished rotation)",
        description=(
            "Asks the container for its STATUS signed over a fresh nonce and names the key "
            "of the keystore's history that signed it; a rotation left unsettled (the link "
            "dropped) is settled: the keystore keeps the key the device holds."
        ),
        formatter_class=raw,
        epilog=examples("podctl key check", "podctl key check --port /dev/ttyACM1"),
    )
    add_port_args(kc)
    kc.set_defaults(run=cmd_key_check)
    t = sub.add_parser("time", help="the container's clock", formatter_class=raw,
                       epilog=examples("podctl time sync"))
    tsub = t.add_subparsers(dest="time_cmd", required=True, metavar="ACTION")
    ts = tsub.add_parser(
        "sync",
        help="set the container's UTC from this computer's clock (authenticated)",
        description=(
            "Sets the device clock and reports the drift it corrected; "
            "each set is logged on the device."
        ),
        formatter_class=raw,
        epilog=examples("podctl time sync", "podctl time sync --port /dev/ttyACM0"),
    )
    add_port_args(ts)
    ts.set_defaults(run=cmd_time_sync)


def utc(ts: float | None) -> str:
    if not ts:
        return "never set"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _names(table, bits: int) -> str:
    return ", ".join(name for n, name in table if bits >> n & 1) or "none"


def _flags(bits: int) -> str:
    return ", ".join(name for b, name in log.STATUS_BITS if bits & b) or "-"


def _deg(mdeg: int | None) -> str:
    return "no reading" if mdeg is None else f"{mdeg / 1000:.2f}"


def _profile(dev: Device) -> pf.Profile | None:
    prof = pf.check(dev.profile())
    return prof if isinstance(prof, pf.Profile) else None


def phase_names(dev: Device) -> list[str]:
    """The names of the phases of the profile in force ([] if none)."""
    prof = _profile(dev)
    return [] if prof is None else [prof.phase_name(i) for i in range(len(prof.phases))]


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        info = dev.info()
        st = dev.status()
        li = dev.log_info()
        prof = _profile(dev)
    t = Table(show_header=False, title=f"container {info.device_id} on {dev.url}")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("firmware", f"{info.fw_version}, bundle {info.fw_hash}")
    t.add_row("protocol", f"v{info.protocol}, log layout v{info.log_layout}, "
                          f"frames up to {info.max_payload_bytes} B")
    if prof is not None:
        name = prof.header[pf.H_NAME].rstrip(b"\x00").decode(errors="replace")
        phases = ", ".join(prof.phase_name(i) for i in range(len(prof.phases)))
        t.add_row("profile", f"{name} ({pf.ident(prof.data):08x}), phases: {phases}")
    else:
        t.add_row("profile", "none uploaded")
    t.add_row("log", f"{li.size_bytes} bytes, blocks {li.first_seq}..{li.last_seq}")
    t.add_row("up", f"{st.uptime_s / 3600:.1f} h this boot, boot #{st.boot_count}")
    t.add_row("clock", utc(st.utc_now))
    console.print(t)
    return 0


def status_table(dev_id: str, st: Status, phases: list[str] | None = None) -> Table:
    t = Table(show_header=False, title=f"container {dev_id}")
    t.add_column(style="bold")
    t.add_column()
    band = f"{st.band_low_mdeg / 1000:.1f} .. {st.band_high_mdeg / 1000:.1f} degC"
    phase = phases[st.phase] if phases and st.phase < len(phases) else str(st.phase)
    t.add_row("phase", f"{phase}   mode {names.name(names.MODES, st.mode)}")
    t.add_row(
        "payload",
        f"{_deg(st.payload_mdeg)} degC (setpoint {st.setpoint_mdeg / 1000:.1f}, band {band})",
    )
    probes = [
        f"{_deg(v)}{'' if st.probe_ok >> i & 1 else ' (excluded)'}"
        for i, v in enumerate(st.probes_mdeg)
    ]
    t.add_row("probes", "   ".join(probes))
    t.add_row("outputs", f"heater {st.heater_permille / 10:.0f}%   "
                         f"Peltier {st.peltier_permille / 10:+.0f}% (+ cools)")
    t.add_row("battery", f"{st.battery_mv / 1000:.2f} V")
    alarms = _names(names.ALARMS, st.alarms)
    t.add_row("alarms", Text(alarms, style="bold red" if st.alarms else "green"))
    t.add_row("flags", _flags(st.flags))
    t.add_row("out of band", f"{st.out_of_band_s / 60:.1f} min in total")
    t.add_row("log", f"{st.log_bytes} bytes, last block {st.log_seq}")
    t.add_row("clock", f"{utc(st.utc_now)}   up {st.uptime_s / 3600:.1f} h, boot #{st.boot_count}")
    return t


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        st = dev.status()
        dev_id = dev.device_id
        phases = [] if args.json else phase_names(dev)
    if args.json:
        console.print_json(json.dumps({"device_id": dev_id, **st.to_json()}))
    else:
        console.print(status_table(dev_id, st, phases))
    return 0


def cmd_monitor(args: argparse.Namespace, console: Console) -> int:
    from podctl import serialport

    if not getattr(args, "forecast", False):
        given = ["--" + name.replace("_", "-") for name, default in FORECAST_DEFAULTS.items()
                 if getattr(args, name, default) != default]
        if given:
            raise UsageError(f"{given[0]} is a forecast option: add --forecast")
        return _monitor(args, console, serialport.resolve(args.port), None)
    url = serialport.resolve(args.port)
    from podctl.forecast import environment_of

    environment_of(args.environment)  # a bad environment file: one line now, not each refresh
    if args.pull_to is not None:
        try:
            args.pull_to.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"{args.pull_to}: cannot create the folder: {e.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="podctl-monitor") as d:
        fc = LiveForecast(args.pull_to or Path(d), every_s=args.forecast_every * 60,
                          environment=args.environment, runs=args.runs,
                          horizon_h=args.horizon, tick_s=args.tick_s, seed=args.seed,
                          workers=args.workers, **pack_of(args))
        try:
            with _refresh_on_signal(fc):
                return _monitor(args, console, url, fc)
        finally:
            fc.close()


def _monitor(args: argparse.Namespace, console: Console, url: str,
             fc: LiveForecast | None) -> int:
    from podctl.monitor_panel import panel

    dev: Device | None = None
    polls = seen = 0
    last: LinkError | None = None
    phases: list[str] = []
    st: Status | None = None
    polled = 0.0  # monotonic time of the last poll

    def show() -> None:
        assert dev is not None and st is not None
        keys = "   f: forecast now" if fc is not None else ""
        note = Text(
            f"{url}   {datetime.now().strftime('%H:%M:%S')}   Ctrl-C to leave{keys}",
            style="dim",
        )
        below = [panel(fc)] if fc is not None else []
        live.update(Group(status_table(dev.device_id, st, phases), *below, note))

    def poll() -> None:
        nonlocal st, seen, polls, polled
        assert dev is not None
        polled = time.monotonic()
        st = dev.status()
        seen += 1
        polls += 1
        show()

    def between() -> None:
        # called by the pull between its frames, when the link is free:
        # the status goes on at its rate through a pull
        if time.monotonic() - polled >= args.every:
            poll()
        elif st is not None:
            show()

    with Live(Text(f"connecting to {url} ..."), console=console, refresh_per_second=4) as live, \
            _keys() as key:
        try:
            while not args.count or polls < args.count:
                try:
                    if dev is None:
                        dev = Device(url, args.keystore, timeout=1.0)
                        phases = phase_names(dev)
                    poll()
                    if fc is not None:
                        if fc.poll():
                            show()
                        if fc.due():
                            fc.refresh(dev, between)
                            show()
                except LinkError as e:
                    last = e
                    polls += 1
                    if dev is not None:
                        dev.close()
                        dev = None
                    waiting = Text(f"{e}\nwaiting for the container on {url} ...",
                                   style="yellow")
                    if fc is not None:  # a forecast flying goes on without the link
                        fc.poll()
                    live.update(waiting if fc is None else Group(waiting, panel(fc)))
                if key(max(0.0, args.every - (time.monotonic() - polled))) == "f" and fc:
                    fc.request()
        except KeyboardInterrupt:
            pass  # leaving the monitor is how it ends
        finally:
            if dev is not None:
                dev.close()
    if args.count and not seen and last is not None:
        raise last  # --count polls and not one answered: say why, as any verb would
    return 0


@contextmanager
def _keys() -> Iterator[Callable[[float], str]]:
    """wait(seconds) -> the key pressed meanwhile ("" if none): a terminal's
    keys one at a time (cbreak: Ctrl-C still interrupts); elsewhere a sleep."""
    import select
    import sys

    fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    if fd is None:
        def sleep(seconds: float) -> str:
            time.sleep(seconds)
            return ""

        yield sleep
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def wait(seconds: float) -> str:
        ready, _, _ = select.select([fd], [], [], seconds)
        return os.read(fd, 1).decode(errors="replace").lower() if ready else ""

    try:
        yield wait
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextmanager
def _refresh_on_signal(fc: LiveForecast) -> Iterator[None]:
    """SIGUSR1 asks for a forecast at once (kill -USR1 PID)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    before = signal.signal(signal.SIGUSR1, lambda *_: fc.request())
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR1, before)


def cmd_maintenance(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        dev.maintenance(args.action)
        dev_id = dev.device_id
    if args.action == "repl":
        console.print(
            f"{dev_id} resets into its maintenance boot, at its REPL: mpremote connect"
            f" {dev.url} resume ...; reset it to run the firmware again",
            highlight=False,
        )
    else:
        console.print(f"{dev_id} is rebooting", highlight=False)
    return 0


def cmd_key_rotate(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        path = dev.key_rotate()
        dev_id = dev.device_id
    console.print(f"{dev_id}: new key in force; the history is in {path}", highlight=False)
    return 0


def cmd_key_check(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        held, total = dev.key_check()
        dev_id = dev.device_id
    console.print(
        f"{dev_id} holds key {held} of {total} in {dev.keystore.path} (the newest):"
        " its signed STATUS verifies under it",
        highlight=False,
    )
    return 0


def cmd_time_sync(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        got = dev.time_sync()
        dev_id = dev.device_id
    if got.drift_s is not None:
        drift = got.drift_s
        console.print(
            f"{dev_id}: clock set to {utc(got.utc)};"
            f" it was {abs(drift)} s {'fast' if drift > 0 else 'slow'}"
            f" ({utc(got.previous_utc)})",
            highlight=False,
        )
    else:
        console.print(
            f"{dev_id}: clock set to {utc(got.utc)}"
            f" (it had never been set this boot, uptime {got.uptime_s} s)",
            highlight=False,
        )
    return 0
