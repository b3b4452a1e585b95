"""`podctl logs report LOG`: the QA report a reviewer signs off.

  podctl logs report LOG [-o report.html] [--pdf] [--profile FILE]
                         [--key FILE | --keystore FILE | --no-key]

Reads LOG, its manifest (LOG.manifest.json), the profile it ran (--profile:
TOML or the device's bytes; default: profile.bin beside LOG) and the
device's key (--key FILE, or the keystore entry of the manifest's device).
Writes the HTML report with its plots beside it (and the PDF with --pdf).
Exit 0 when the log verified; 1 when the report was written but the log
FAILED verification or was not authenticated (--no-key); 2, 4 as usual.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from podctl import keystore, logdata, manifest, profile_file
from podctl import report as rpt
from podctl.errors import EXIT_CHECK_FAILED, EXIT_USAGE, BadInput, CommandError
from protocol import profile as pf


def register() -> None:
    """Add `report` to `podctl logs`: host/podctl/logs_cmds.py calls each of its
    EXTRA with the logs subparsers. Call before building the parser."""
    from podctl import logs_cmds

    if add_report_parser not in logs_cmds.EXTRA:
        logs_cmds.EXTRA.append(add_report_parser)


def add_report_parser(logs_sub) -> None:
    p = logs_sub.add_parser(
        "report",
        help="write the QA report (HTML, optionally PDF) of a pulled log",
        description=(
            "The report a QA reviewer signs off: integrity verdict, per-phase temperature "
            "against the profile's band (min, max, mean, MKT, time in band), every excursion, "
            "alarm, probe fault, reset and clock setting, plots, and a sign-off block."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "exit status: 0 the log verified; 1 the report was written but the log FAILED\n"
            "verification or is NOT AUTHENTICATED (--no-key); 2 usage; 4 bad input"
        ),
    )
    p.add_argument("log", type=Path, help="the raw log (as logs pull saves it), its manifest beside it")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="the HTML report (default: LOG's folder/report.html); plots are written beside it")
    p.add_argument("--pdf", action="store_true", help="also write the same report as PDF (OUT with .pdf)")
    p.add_argument("--profile", type=Path, default=None,
                   help="the profile the device ran: .toml, or its bytes (.bin, as PROFILE_READ returns); "
                        "default: profile.bin beside LOG")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--key", type=Path, default=None, help="the device key file (32 bytes)")
    keys.add_argument("--keystore", type=Path, default=None, help="keystore to take the device's key from")
    keys.add_argument("--no-key", action="store_true",
                      help="report without the key: the log is then NOT AUTHENTICATED")
    p.set_defaults(run=cmd_report)


def _read_log(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such log file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read the log: {e.strerror}") from None


def load_profile(path: Path | None, log_path: Path) -> pf.Profile:
    if path is None:
        path = log_path.with_name("profile.bin")
        if not path.exists():
            raise CommandError(
                f"no profile: give --profile FILE.toml (or .bin); {path} does not exist", EXIT_USAGE
            )
    if path.suffix == ".toml":
        try:
            blob = profile_file.compile_file(path)
        except profile_file.ProfileError as e:
            raise BadInput(str(e)) from None
    else:
        try:
            blob = path.read_bytes()
        except OSError as e:
            raise BadInput(f"{path}: cannot read the profile: {e.strerror}") from None
    got = pf.check(blob)
    if not isinstance(got, pf.Profile):
        reason, at = got
        name = next((r[2] for r in pf.REFUSALS if r[0] == reason), f"reason {reason}")
        where = pf.where(reason, at)
        raise BadInput(f"{path}: not a valid profile: {name}{' (' + where + ')' if where else ''}")
    return got


def _key(args: argparse.Namespace, device_id: str) -> bytes | list[bytes] | None:
    if args.no_key:
        return None
    if args.key is not None:
        return keystore.read_key_file(args.key)
    return keystore.device_keys(device_id, args.keystore)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    raw = _read_log(args.log)
    m_path = manifest.beside(args.log)
    if not m_path.exists():
        raise BadInput(f"{m_path}: no manifest beside the log (logs pull writes it; it names the device)")
    m = manifest.read(m_path)
    if not isinstance(m.get("device_id"), str):
        raise BadInput(f"{m_path}: the manifest names no device")
    try:
        anchor = manifest.anchor(m)
    except (KeyError, TypeError, ValueError):
        raise BadInput(f"{m_path}: the manifest's anchor is malformed") from None
    prof = load_profile(args.profile, args.log)
    ident = f"{pf.ident(prof.data):08x}"
    if m.get("profile_ident") is not None and m["profile_ident"] != ident:
        raise BadInput(
            f"profile mismatch: {args.profile or 'profile.bin'} is {ident}, "
            f"the device ran {m['profile_ident']} ({m_path.name}): give the profile the device ran"
        )
    key = _key(args, m["device_id"])
    data = logdata.load(raw, key, anchor)
    rep = rpt.build(data, prof, m, log_name=str(args.log))

    out = args.out or args.log.with_name("report.html")
    want_pdf = args.pdf or out.suffix == ".pdf"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        written = []
        if out.suffix != ".pdf":
            written.append(rpt.render_html(rep, out))
        if want_pdf:
            written.append(rpt.render_pdf(rep, out.with_suffix(".pdf")))
    except OSError as e:
        raise BadInput(f"{e.filename or out}: cannot write the report: {e.strerror}") from None
    names = ", ".join(str(w) for w in written)
    console.print(
        f"wrote {names} and {len(rep.plots)} plot(s): {len(rep.phases)} phases, "
        f"{len(rep.excursions)} excursion(s), {len(rep.alarms)} alarm(s); integrity {rep.verdict}",
        highlight=False,
    )
    if rep.verdict == rpt.FAILED:
        raise CommandError(f"{args.log}: log FAILED verification ({rep.failure}); the report says so",
                           EXIT_CHECK_FAILED)
    if rep.verdict == rpt.NOT_AUTHENTICATED:
        raise CommandError(f"{args.log}: report written, but the log is NOT AUTHENTICATED (no key)",
                           EXIT_CHECK_FAILED)
    return 0
