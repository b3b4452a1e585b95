"""podctl: flash, configure, watch and certify payload containers.

The one place that prints errors and chooses exit statuses: every command
raises podctl.errors.CommandError (or a subclass) and main() turns it into a
single line `podctl: <what is wrong and what to do>` and a documented status.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from podctl import (
    __version__,
    board_cmd,
    device_cmds,
    flash_cmd,
    profile_cmds,
    protocol_cmds,
    selftest,
    sim_cmds,
)
from podctl import logs_cmds
from podctl.errors import EXIT_INTERRUPTED, EXIT_TABLE, EXIT_USAGE, CommandError
from protocol.catalogue import PROTOCOL_VERSION

_EPILOG = "exit status:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_TABLE)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2, no usage dump
        raise CommandError(f"{message} (see {self.prog} --help)", EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="podctl",
        description=__doc__.split("\n\n")[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"podctl {__version__} (protocol v{PROTOCOL_VERSION})",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    protocol_cmds.add_parser(sub)
    selftest.add_parser(sub)
    sim_cmds.add_parser(sub)
    board_cmd.add_parser(sub)
    flash_cmd.add_parser(sub)
    device_cmds.add_parser(sub)
    profile_cmds.add_parser(sub)
    logs_cmds.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    console = Console()
    err = Console(stderr=True)
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args, console))
    except CommandError as e:
        err.print(f"podctl: {e}", markup=False, highlight=False, soft_wrap=True)
        return e.status
    except KeyboardInterrupt:
        err.print("podctl: interrupted", highlight=False)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
