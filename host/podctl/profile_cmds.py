"""`podctl profile ...`: handling profiles, from the file QA reviewed to the
container and back.

  validate FILE         check a TOML profile exactly as the device will
  upload FILE           chunked, authenticated, resumable upload
  show [--diff FILE]    the profile in force on the device (and how it
                        differs from FILE)
"""

from __future__ import annotations

import argparse
import difflib
from typing import Any

from rich.console import Console
from rich.table import Table

from podctl import profile_file
from podctl.cli_common import add_port_args, examples, open_device, progress_bar
from podctl.errors import BadInput, CheckFailed, DeviceMismatch
from protocol import profile as pf


def add_parser(sub) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "profile",
        help="validate, upload or show handling profiles",
        description=__doc__.split("\n\n")[0],
        formatter_class=raw,
        epilog=examples(
            "podctl profile validate nominal",
            "podctl profile upload examples/profiles/nominal.toml",
            "podctl profile show --diff nominal",
        ),
    )
    psub = p.add_subparsers(dest="profile_cmd", required=True, metavar="ACTION")
    v = psub.add_parser(
        "validate",
        help="check a TOML profile by the device's own rules",
        description=(
            "Exit 0 and show the phases if the device would take FILE;"
            " else name the field and the rule."
        ),
        formatter_class=raw,
        epilog=examples(
            "podctl profile validate nominal", "podctl profile validate my-profile.toml"
        ),
    )
    v.add_argument("file", help="profile TOML file, or a name from examples/profiles/")
    v.set_defaults(run=cmd_validate)
    u = psub.add_parser(
        "upload",
        help="send a profile to the container (authenticated; resumes an interrupted upload)",
        description="Validate FILE, send it in authenticated chunks and put it in force; the same "
        "upload cut short resumes where the device is.",
        formatter_class=raw,
        epilog=examples(
            "podctl profile upload nominal",
            "podctl profile upload my-profile.toml --port /dev/ttyACM0",
        ),
    )
    u.add_argument("file", help="profile TOML file, or a name from examples/profiles/")
    add_port_args(u)
    u.set_defaults(run=cmd_upload)
    s = psub.add_parser(
        "show",
        help="the profile in force on the container",
        description=(
            "Show the profile in force; with --diff, how it differs from FILE (exit 1 if it does)."
        ),
        formatter_class=raw,
        epilog=examples("podctl profile show", "podctl profile show --diff nominal"),
    )
    add_port_args(s)
    s.add_argument("--diff", metavar="FILE", help="show how it differs from a TOML profile")
    s.set_defaults(run=cmd_show)


def _compile(name: str) -> bytes:
    try:
        return profile_file.compile_file(name)
    except profile_file.ProfileError as e:
        raise BadInput(str(e)) from None


def phases_table(title: str, tables: dict[str, Any]) -> Table:
    t = Table(title=title)
    for col in (
        "#", "phase", "duration", "setpoint", "band", "absolute", "delay", "interval", "cool/heat"
    ):
        t.add_column(col)
    for i, p in enumerate(tables["phase"]):
        dur = (
            "until command"
            if p.get("until_command")
            else f"{p['duration_s'] / 3600:g} h"
            if "duration_s" in p
            else f"{p['duration_h']:g} h"
        )
        if p.get("max_hold_h"):
            dur += f", hold max {p['max_hold_h']} h"
        t.add_row(
            str(i),
            p["name"],
            dur,
            f"{p['setpoint_c']:g} degC",
            f"{p['band_c'][0]:g} .. {p['band_c'][1]:g}",
            f"{p['absolute_c'][0]:g} .. {p['absolute_c'][1]:g}",
            f"{p['excursion_delay_min']:g} min",
            f"{p['sample_interval_s']} s",
            ("C" if p["cool"] else "-")
            + ("H" if p["heat"] else "-")
            + ("P" if p["peltier_heats"] else ""),
        )
    return t


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    blob = _compile(args.file)
    tables = profile_file.decompile(blob)
    console.print(phases_table(
        f"{args.file}: profile {tables['name']!r} is valid"
        f" (identity {pf.ident(blob):08x}, {len(blob)} bytes)",
        tables))
    return 0


def cmd_upload(args: argparse.Namespace, console: Console) -> int:
    blob = _compile(args.file)
    with open_device(args) as dev:
        dev_id = dev.device_id
        with progress_bar(console, "uploading") as progress:
            ident = dev.profile_upload(blob, progress)
    console.print(
        f"{dev_id}: profile {profile_file.decompile(blob)['name']!r} ({ident:08x}) in force",
        highlight=False,
    )
    return 0


def _toml_lines(tables: dict[str, Any]) -> list[str]:
    lines = []
    for k, v in tables.items():
        if k == "phase":
            continue
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {vv!r}" for kk, vv in v.items()]
        else:
            lines.append(f"{k} = {v!r}")
    for i, p in enumerate(tables["phase"]):
        lines.append(f"[[phase]]  # {i}")
        lines += [f"{kk} = {vv!r}" for kk, vv in p.items()]
    return lines


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    other = _compile(args.diff) if args.diff else None  # a bad FILE before the device
    with open_device(args) as dev:
        blob = dev.profile()
        dev_id = dev.device_id
    if not blob:
        raise CheckFailed(f"{dev_id} has no profile: upload one with podctl profile upload FILE")
    try:
        tables = profile_file.decompile(blob)
    except profile_file.ProfileError as e:
        raise DeviceMismatch(f"{dev_id}: {e}: its profile is not one this podctl reads") from None
    if other is not None:
        if other == blob:
            console.print(
                f"{dev_id}: the profile in force is {args.diff} exactly ({pf.ident(blob):08x})",
                highlight=False,
            )
            return 0
        diff = difflib.unified_diff(
            _toml_lines(tables), _toml_lines(profile_file.decompile(other)),
            fromfile=f"{dev_id} (in force)", tofile=args.diff, lineterm="",
        )
        for line in diff:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            console.print(line, style=style, highlight=False, markup=False)
        return 1
    console.print(
        phases_table(f"{dev_id}: profile {tables['name']!r} ({pf.ident(blob):08x})", tables)
    )
    return 0
