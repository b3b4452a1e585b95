"""`podctl logs assess LOG`: both verdicts on a pulled log, never merged.

  podctl logs assess LOG [--profile FILE] [--key-file FILE | --keystore FILE]
                         [--after PREV] [--allow-unanchored]

Integrity is podctl.verify's (authentic, complete, end attested by the
device), with the key found as every logs verb finds it; the product
verdict is podctl.assess's (RELEASE, REVIEW, REJECT, INCOMPLETE) against
the profile the device ran, each with its reasons. Exit 0 only for a
VERIFIED log whose product is RELEASE; 1 otherwise (both verdicts are
printed either way); 2 usage; 4 bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from podctl import analysis
from podctl.assess import RELEASE, assess, log_end
from podctl.errors import EXIT_CHECK_FAILED, BadInput, CommandError
from podctl.pulled import open_pulled
from podctl.verdict import VERIFIED
from protocol import profile as pf


def add_parser(lsub) -> None:
    p = lsub.add_parser(
        "assess",
        help="both verdicts: integrity (verify) and product (RELEASE/REVIEW/REJECT/INCOMPLETE)",
        description=(
            "The two verdicts a batch is released on, each with its reasons.\n\n"
            "integrity  is the log authentic and complete, its end attested by the device\n"
            "           (podctl.verify, as logs verify)\n"
            "product    was the band held for the whole mission, by the profile's rules:\n"
            "  RELEASE     mission complete, every minute covered by a valid reading in\n"
            "              band, no alarm\n"
            "  REVIEW      a deviation the rules allow, for a person to judge (an alarm,\n"
            "              a short excursion or gap, a reset, a probe lost, a simulated board)\n"
            "  REJECT      an excursion beyond the rules (excursion delay, absolute limits,\n"
            "              cumulative allowance)\n"
            "  INCOMPLETE  the log cannot show the band held (a phase not reached, time\n"
            "              without a reading as long as the excursion delay, a log whose\n"
            "              end the device did not state, the battery run down)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  podctl logs assess build/pulled\n"
            "  podctl logs assess run --key-file run/key.bin --profile nominal.toml\n"
            "  podctl logs assess recovered/log.bin --keystore keys.json\n\n"
            "exit status: 0 integrity VERIFIED and product RELEASE; 1 anything else (both\n"
            "verdicts printed); 2 usage; 4 bad input"
        ),
    )
    p.add_argument("log", type=Path, metavar="LOG",
                   help="the raw log (as logs pull saves it), its manifest beside it")
    p.add_argument("--profile", type=Path, default=None,
                   help="the profile the device ran: .toml, or its bytes (.bin); default: "
                        "profile.bin beside LOG")
    from podctl.logs_cmds import add_anchor_args, add_key_args

    add_key_args(p)
    add_anchor_args(p)
    p.set_defaults(run=cmd_assess)


def cmd_assess(args: argparse.Namespace, console: Console) -> int:
    from podctl.logs_cmds import keys_for, load_data, print_findings, verdict_for
    from podctl.report_cmd import load_profile

    pulled = open_pulled(args.log, require_manifest=True)
    m = pulled.manifest
    assert m is not None
    prof = load_profile(args.profile, pulled.log_path)
    ident = pf.ident(prof.data)
    if m.profile_ident is not None and m.profile_ident != ident:
        raise BadInput(
            f"profile mismatch: {args.profile or 'profile.bin'} is {ident:08x}, the device ran "
            f"{m.profile_ident:08x} ({pulled.manifest_path.name}): give the profile the device ran"
        )
    keys, key_from = keys_for(args, m)
    verdict = verdict_for(args, pulled, keys)
    data = load_data(pulled, verdict)
    a = analysis.analyse(data, prof, until=log_end(verdict, m))
    product = assess(a, prof, data, simulated=bool(getattr(verdict, "simulated", False)),
                     unproven=getattr(verdict, "unproven_blocks", ()),
                     clock_offset_s=getattr(verdict, "clock_offset_s", None))

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(f"logs assess {pulled.log_path} (device {m.device_id}, key: {key_from})")
    sealed = getattr(verdict, "sealed_at", None)
    say(f"integrity: {verdict.status}" + (f" ({sealed()})" if sealed else ""))
    if product.simulated:
        say("SIMULATED — NOT FOR RELEASE: the device says it runs on no real hardware")
    print_findings(console, verdict)
    say(f"product: {product.status}: {product.headline}")
    for r in product.reasons:
        say(f"  {r.status} ({r.code}): {r}")
    if verdict.status == VERIFIED and product.status == RELEASE:
        say(f"{pulled.log_path}: integrity VERIFIED, product RELEASE")
        return 0
    raise CommandError(
        f"{pulled.log_path}: integrity {verdict.status}, product {product.status}: not releasable "
        "on this log alone", EXIT_CHECK_FAILED,
    )
