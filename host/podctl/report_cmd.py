"""`podctl logs report LOG`: the QA report a reviewer signs off.

  podctl logs report LOG [-o report.html] [--pdf] [--profile FILE]
                         [--key-file FILE | --keystore FILE | --no-key]
                         [--shipment FILE] [--product TEXT] [--batch TEXT] ...

Reads LOG, its manifest (LOG.manifest.json), the profile it ran (--profile:
TOML or the device's bytes; default: profile.bin beside LOG) and the
device's key (--key-file FILE, or the keystore entry of the manifest's
device). Integrity is podctl.verify's verdict, the same as logs verify's.
The consignment (product, batch, quantity, labelled storage, consignor,
consignee, probe identities) is a [shipment] table in --shipment FILE or
the profile's TOML, or options; what nobody states reads "not stated".
The report carries no generation time unless SOURCE_DATE_EPOCH gives one,
so the same folder gives the same bytes.
Writes the HTML report with its plots beside it (and the PDF with --pdf).
Exit 0 when the log is VERIFIED; 1 when the report was written but the
integrity verdict is any other (FAILED, NOT AUTHENTICATED with --no-key,
HEAD NOT ATTESTED with --allow-unanchored, END NOT ATTESTED without a
seal): the report's first page names it; 2, 4 as usual.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

from rich.console import Console

from podctl import profile_file
from podctl import report as rpt
from podctl.cli_common import finite_float, whole
from podctl.errors import EXIT_CHECK_FAILED, EXIT_USAGE, BadInput, CommandError
from podctl.forecast_cmd import add_pack_args, pack_of
from podctl.pulled import open_pulled
from podctl.report import forecast_part, shipment
from podctl.verdict import HEAD_NOT_ATTESTED, NOT_ATTESTED
from protocol import profile as pf


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
            "examples:\n"
            "  podctl logs report build/pulled --pdf\n"
            "  podctl logs report run/log.bin --key-file run/key.bin --profile nominal.toml\n"
            "  podctl logs report build/pulled -o qa/batch-17.html\n\n"
            "exit status: 0 the log is VERIFIED; 1 the report was written but the integrity\n"
            "verdict is FAILED, NOT AUTHENTICATED (--no-key), HEAD NOT ATTESTED\n"
            "(--allow-unanchored) or END NOT ATTESTED (no seal); 2 usage; 4 bad input"
        ),
    )
    p.add_argument(
        "log", type=Path, help="the raw log (as logs pull saves it), its manifest beside it"
    )
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="the HTML report (default: LOG's folder/report.html);"
                        " plots are written beside it")
    p.add_argument(
        "--pdf", action="store_true", help="also write the same report as PDF (OUT with .pdf)"
    )
    p.add_argument("--profile", type=Path, default=None,
                   help="the profile the device ran: .toml, or its bytes"
                        " (.bin, as PROFILE_READ returns); default: profile.bin beside LOG")
    ship = p.add_argument_group(
        "consignment (what the log cannot say; 'not stated' when nobody says it)")
    ship.add_argument("--shipment", type=Path, default=None, metavar="FILE",
                      help="a TOML file with a [shipment] table: product, batch, quantity,"
                           " storage, consignor, consignee and [[shipment.probe]] identities"
                           " (the profile's TOML may carry the same table)")
    for key, label in shipment.FIELDS:
        ship.add_argument(f"--{key}", default=None, metavar="TEXT",
                          help=f"{label.lower()} (overrides --shipment's)")
    fc = p.add_argument_group(
        "forecast (only when the log ends before recovery: a model, not evidence)")
    fc.add_argument("--forecast-runs", type=whole(0, 10_000, "--forecast-runs"),
                    default=forecast_part.DEFAULT_RUNS, metavar="N",
                    help=f"dispersed runs flown forward from the log's end (default "
                         f"{forecast_part.DEFAULT_RUNS}, about 35 s on two cores; 0: none)")
    fc.add_argument("--no-forecast", action="store_true",
                    help="no forecast (the same as --forecast-runs 0)")
    fc.add_argument("--forecast-horizon", type=finite_float(0.1, 8760.0, "--forecast-horizon"),
                    default=forecast_part.DEFAULT_HORIZON_H, metavar="H",
                    help=f"hours flown forward (default {forecast_part.DEFAULT_HORIZON_H:g})")
    fc.add_argument("--forecast-environment", default="recovery", metavar="ENV",
                    help="recovery (default), orbit, or a TOML file with one [[phase]]")
    add_pack_args(fc)
    from podctl.logs_cmds import add_anchor_args, add_key_args

    add_key_args(p, no_key=True)
    add_anchor_args(p)
    p.set_defaults(run=cmd_report)


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"{path}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None


def load_shipment(args: argparse.Namespace) -> shipment.Shipment:
    """The consignment from --shipment FILE, else the profile's TOML, with
    the command line's values over it."""
    ship = shipment.Shipment()
    if args.shipment is not None:
        table = _toml(args.shipment).get("shipment")
        if table is None:
            raise BadInput(f"{args.shipment}: no [shipment] table")
        ship = shipment.from_table(table, str(args.shipment))
    elif args.profile is not None and args.profile.suffix == ".toml":
        table = _toml(args.profile).get("shipment")
        if table is not None:
            ship = shipment.from_table(table, str(args.profile))
    try:
        return ship.given(**{k: getattr(args, k, None) for k, _ in shipment.FIELDS})
    except ValueError as e:
        raise BadInput(str(e)) from None


def generated_at() -> float | None:
    """The report's generation time: SOURCE_DATE_EPOCH when set (the
    reproducible-builds convention), else none, so that the same log and
    seal give the same report byte for byte."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    try:
        return float(int(raw))
    except ValueError:
        raise BadInput(f"SOURCE_DATE_EPOCH={raw!r}: not a whole number of seconds") from None


def load_profile(path: Path | None, log_path: Path) -> pf.Profile:
    if path is None:
        path = log_path.with_name("profile.bin")
        if not path.exists():
            raise CommandError(
                f"no profile: give --profile FILE.toml (or .bin); {path} does not exist",
                EXIT_USAGE,
            )
    if path.suffix == ".toml":
        # a [shipment] table in it is the report's (load_shipment reads it);
        # compile_file leaves it out of the device's bytes
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


def _forecast_said(part: forecast_part.Part) -> str:
    if part.made:
        return f"{part.forecast.runs} runs, seed {part.options.seed}"
    return "refused: " + part.refused if part.refused else "not made (0 runs)"


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from podctl.logs_cmds import keys_for, load_data, verdict_for

    pulled = open_pulled(args.log, require_manifest=True)
    m = pulled.manifest
    assert m is not None
    args.log = pulled.log_path
    prof = load_profile(args.profile, args.log)
    ident = pf.ident(prof.data)
    if m.profile_ident is not None and m.profile_ident != ident:
        raise BadInput(
            f"profile mismatch: {args.profile or 'profile.bin'} is {ident:08x}, "
            f"the device ran {m.profile_ident:08x} ({pulled.manifest_path.name}):"
            " give the profile the device ran"
        )
    keys, _ = keys_for(args, m)
    verdict = verdict_for(args, pulled, keys)
    data = load_data(pulled, verdict)
    ship = load_shipment(args)
    runs = 0 if args.no_forecast else args.forecast_runs
    rep = rpt.build(data, verdict, prof, m.to_json(), log_name=str(args.log),
                    generated_utc=generated_at(), shipment=ship,
                    forecast=forecast_part.Options(runs=runs, horizon_h=args.forecast_horizon,
                                                   environment=args.forecast_environment,
                                                   **pack_of(args)))

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
        f"{len(rep.excursions)} excursion(s), {len(rep.alarms)} alarm(s); integrity {rep.verdict}"
        + ("" if rep.forecast is None else
           f"; the log ends before recovery: forecast {_forecast_said(rep.forecast)}"),
        highlight=False,
    )
    if rep.verdict == rpt.FAILED:
        raise CommandError(
            f"{args.log}: log FAILED verification ({rep.failure}); the report says so",
            EXIT_CHECK_FAILED,
        )
    if rep.verdict == rpt.NOT_AUTHENTICATED:
        raise CommandError(
            f"{args.log}: report written, but the log is NOT AUTHENTICATED (no key)",
            EXIT_CHECK_FAILED,
        )
    if rep.verdict == HEAD_NOT_ATTESTED:
        raise CommandError(f"{args.log}: report written, but the log's HEAD IS NOT ATTESTED: its "
                           "first block was accepted only by --allow-unanchored",
                           EXIT_CHECK_FAILED)
    if rep.verdict == NOT_ATTESTED:
        raise CommandError(f"{args.log}: report written, but the log's END IS NOT ATTESTED by the "
                           "device (no seal)", EXIT_CHECK_FAILED)
    if rep.verdict != rpt.VERIFIED:  # only VERIFIED is green, whatever comes next
        raise CommandError(f"{args.log}: report written, integrity {rep.verdict}",
                           EXIT_CHECK_FAILED)
    return 0
