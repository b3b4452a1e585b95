"""Commands that look at a container: info, status, monitor, time sync."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podctl.device import Device, add_port_args, open_device
from podctl.errors import LinkError
from protocol import catalogue as c
from protocol import codes, log, names


def add_parser(sub) -> None:
    i = sub.add_parser("info", help="who the container is: id, firmware, log, profile")
    add_port_args(i)
    i.set_defaults(run=cmd_info)
    s = sub.add_parser("status", help="the container's state now: probes, band, outputs, alarms, phase")
    add_port_args(s)
    s.add_argument("--json", action="store_true", help="print the raw STATUS fields as JSON")
    s.set_defaults(run=cmd_status)
    m = sub.add_parser(
        "monitor",
        help="live dashboard of probes, band, outputs, alarms and phase (Ctrl-C to leave)",
        description="Polls STATUS every --every seconds; a replugged cable is waited for, not fatal.",
    )
    add_port_args(m)
    m.add_argument("--every", type=float, default=1.0, help="seconds between polls (default 1)")
    m.add_argument("--count", type=int, default=0, help="stop after this many polls (default: until Ctrl-C)")
    m.set_defaults(run=cmd_monitor)
    mt = sub.add_parser(
        "maintenance",
        help="stop the firmware for mpremote (repl), or reboot the container",
        description=(
            "repl: the firmware stops serving and the board waits at its REPL, Ctrl-C restored, "
            "so `mpremote connect PORT resume ...` can work on it; a reset brings the firmware back. "
            "reboot: the board resets. Both authenticated."
        ),
    )
    mt.add_argument("action", choices=("repl", "reboot"))
    add_port_args(mt)
    mt.set_defaults(run=cmd_maintenance)
    k = sub.add_parser("key", help="the container's secret key")
    ksub = k.add_subparsers(dest="key_cmd", required=True, metavar="ACTION")
    kr = ksub.add_parser(
        "rotate",
        help="give the container a new key (authenticated with the old one)",
        description=(
            "The new key is added to the keystore's history first, so it is never lost; "
            "the device seals its log under the old key and switches. Logs that span the "
            "rotation verify with the history. A refused rotation takes the key back."
        ),
    )
    add_port_args(kr)
    kr.set_defaults(run=cmd_key_rotate)
    t = sub.add_parser("time", help="the container's clock")
    tsub = t.add_subparsers(dest="time_cmd", required=True, metavar="ACTION")
    ts = tsub.add_parser(
        "sync",
        help="set the container's UTC from this computer's clock (authenticated)",
        description="Sets the device clock and reports the drift it corrected; each set is logged on the device.",
    )
    add_port_args(ts)
    ts.set_defaults(run=cmd_time_sync)


def utc(ts: float | None) -> str:
    if not ts:
        return "never set"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _names(table, bits: int) -> str:
    return ", ".join(name for n, name in table if bits >> n & 1) or "none"


def _flags(bits: int) -> str:
    return ", ".join(name for b, name in log.STATUS_BITS if bits & b) or "-"


def _deg(mdeg: int) -> str:
    return "no reading" if mdeg == log.NO_READING_MDEG else f"{mdeg / 1000:.2f}"


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        ident = dev.identify()
        st = dev.status()
        li = dev.request(c.MSG_LOG_INFO)
        names = phase_names(dev)
        from podctl.profile_cmds import read_profile
        from protocol import profile as pf

        prof = pf.check(read_profile(dev))
    t = Table(show_header=False, title=f"container {dev.device_id} on {dev.url}")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("firmware", f"{dev.fw_version}, bundle {ident['fw_hash'].hex()}")
    t.add_row("protocol", f"v{ident['protocol']}, log layout v{ident['log_layout']}, frames up to {ident['max_payload']} B")
    if isinstance(prof, pf.Profile):
        name = prof.header[pf.H_NAME].rstrip(b"\x00").decode(errors="replace")
        t.add_row("profile", f"{name} ({pf.ident(prof.data):08x}), phases: {', '.join(names)}")
    else:
        t.add_row("profile", "none uploaded")
    t.add_row("log", f"{li['size']} bytes, blocks {li['first_seq']}..{li['last_seq']}")
    t.add_row("up", f"{st['uptime'] / 3600:.1f} h this boot, boot #{st['boot_count']}")
    clock = st["utc_at_boot"] + st["uptime"] if st["utc_at_boot"] else None
    t.add_row("clock", utc(clock))
    console.print(t)
    return 0


def phase_names(dev: Device) -> list[str]:
    """The names of the phases of the profile in force ([] if none)."""
    from podctl.profile_cmds import read_profile
    from protocol import profile as pf

    prof = pf.check(read_profile(dev))
    if not isinstance(prof, pf.Profile):
        return []
    return [prof.phase_name(i) for i in range(len(prof.phases))]


def status_table(dev_id: str, st: dict, phases: list[str] | None = None) -> Table:
    t = Table(show_header=False, title=f"container {dev_id}")
    t.add_column(style="bold")
    t.add_column()
    band = f"{st['band_low'] / 1000:.1f} .. {st['band_high'] / 1000:.1f} degC"
    phase = phases[st["phase"]] if phases and st["phase"] < len(phases) else str(st["phase"])
    t.add_row("phase", f"{phase}   mode {names.name(names.MODES, st['mode'])}")
    t.add_row("payload", f"{_deg(st['payload_temp'])} degC (setpoint {st['setpoint'] / 1000:.1f}, band {band})")
    probes = []
    for i in range(4):
        ok = st["probe_ok"] >> i & 1
        probes.append(f"{_deg(st[f'probe{i}'])}{'' if ok else ' (excluded)'}")
    t.add_row("probes", "   ".join(probes))
    t.add_row("outputs", f"heater {st['heater'] / 10:.0f}%   Peltier {st['peltier'] / 10:+.0f}% (+ cools)")
    t.add_row("battery", f"{st['battery'] / 1000:.2f} V")
    alarms = _names(names.ALARMS, st["alarms"])
    t.add_row("alarms", Text(alarms, style="bold red" if st["alarms"] else "green"))
    t.add_row("flags", _flags(st["flags"]))
    t.add_row("out of band", f"{st['out_of_band'] / 60:.1f} min in total")
    t.add_row("log", f"{st['log_bytes']} bytes, last block {st['log_seq']}")
    clock = st["utc_at_boot"] + st["uptime"] if st["utc_at_boot"] else None
    t.add_row("clock", f"{utc(clock)}   up {st['uptime'] / 3600:.1f} h, boot #{st['boot_count']}")
    return t


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        st = dev.status()
        dev_id = dev.device_id
        phases = phase_names(dev)
    if args.json:
        import json

        console.print_json(json.dumps({k: (v.hex() if isinstance(v, bytes) else v) for k, v in st.items()}))
    else:
        console.print(status_table(dev_id, st, phases))
    return 0


def cmd_monitor(args: argparse.Namespace, console: Console) -> int:
    from podctl import serialport

    url = serialport.resolve(args.port)
    dev: Device | None = None
    polls = 0
    phases: list[str] = []
    note = Text("")
    with Live(Text(f"connecting to {url} ..."), console=console, refresh_per_second=4) as live:
        try:
            while not args.count or polls < args.count:
                try:
                    if dev is None:
                        dev = Device(url, args.keystore, timeout=1.0)
                        phases = phase_names(dev)
                    st = dev.status()
                    note = Text(f"{url}   {datetime.now().strftime('%H:%M:%S')}   Ctrl-C to leave", style="dim")
                    live.update(Group(status_table(dev.device_id, st, phases), note))
                except LinkError as e:
                    if dev is not None:
                        dev.close()
                        dev = None
                    live.update(Text(f"{e}\nwaiting for the container on {url} ...", style="yellow"))
                polls += 1
                time.sleep(args.every)
        except KeyboardInterrupt:
            pass  # leaving the monitor is how it ends
        finally:
            if dev is not None:
                dev.close()
    return 0


def cmd_maintenance(args: argparse.Namespace, console: Console) -> int:
    action = c.MAINT_REPL if args.action == "repl" else c.MAINT_REBOOT
    with open_device(args) as dev:
        dev.command(c.MSG_MAINTENANCE, action)
        dev_id = dev.device_id
    if action == c.MAINT_REPL:
        console.print(f"{dev_id} is at its REPL: mpremote connect {dev.url} resume ...; reset it to resume", highlight=False)
    else:
        console.print(f"{dev_id} is rebooting", highlight=False)
    return 0


def cmd_key_rotate(args: argparse.Namespace, console: Console) -> int:
    import os

    from podctl import keystore
    from podctl.link import DeviceRefused

    with open_device(args) as dev:
        dev_id = dev.device_id
        dev.status()  # the counter
        dev.load_key()  # the old key, before the history grows
        new = os.urandom(32)
        path = keystore.append(dev_id, new, args.keystore)
        try:
            dev.command(c.MSG_KEY_ROTATE, new)
        except DeviceRefused:
            keystore.drop_newest(dev_id, args.keystore)
            raise
        except LinkError:
            raise LinkError(
                f"the link dropped during the rotation: {dev_id} may hold the old key or the new one; "
                f"both are in {path} (podctl status works either way)"
            ) from None
    console.print(f"{dev_id}: new key in force; the history is in {path}", highlight=False)
    return 0


def cmd_time_sync(args: argparse.Namespace, console: Console) -> int:
    with open_device(args) as dev:
        st = dev.status()
        now = int(time.time())
        got = dev.command(c.MSG_TIME_SET, now)
        dev_id = dev.device_id
    before = got["previous_utc"]
    if before:
        drift = before - now
        console.print(
            f"{dev_id}: clock set to {utc(now)}; it was {abs(drift)} s {'fast' if drift > 0 else 'slow'}"
            f" ({utc(before)})",
            highlight=False,
        )
    else:
        console.print(f"{dev_id}: clock set to {utc(now)} (it had never been set this boot, uptime {st['uptime']} s)",
                      highlight=False)
    return 0
