"""podctl: flash, configure, watch and certify payload containers.

The one place that prints errors and chooses exit statuses: every command
raises a podctl.errors.PodctlError and main() turns it into a single line
`podctl: <what is wrong and what to do>` and the error's documented status.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from podctl.errors import EXIT_INTERRUPTED, EXIT_TABLE, PodctlError, UsageError

if TYPE_CHECKING:
    import argparse

# The verb groups, in --help order: each module's add_parser(sub) declares
# its verbs (logs_cmds declares pull, verify, decode, extract, info and
# report). Imported when the parser is built, inside main()'s guard, so a
# Ctrl-C during the imports is handled like any other.
COMMANDS = (
    "podctl.protocol_cmds",
    "podctl.selftest",
    "podctl.sim_cmds",
    "podctl.board_cmd",
    "podctl.flash_cmd",
    "podctl.device_cmds",
    "podctl.profile_cmds",
    "podctl.logs_cmds",
    "podctl.forecast_cmd",
)

_EPILOG = (
    "examples:\n"
    "  podctl board nominal --speed 600 --port-file build/board/port &\n"
    "  podctl flash --port $(cat build/board/port)\n"
    "  podctl logs pull -o build/pulled && podctl logs verify build/pulled/log.bin\n"
    "  podctl COMMAND --help          # each command's options and examples\n\n"
    "exit status:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_TABLE)
)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from podctl import __version__
    from protocol.catalogue import PROTOCOL_VERSION

    class Parser(argparse.ArgumentParser):
        def error(self, message: str):  # one line, status 2, no usage dump
            raise UsageError(f"{message} (see {self.prog} --help)")

    p = Parser(
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
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return p


def _say(text: str) -> None:
    """One line on stderr (never through rich: it may not be loaded yet)."""
    try:
        sys.stderr.write(f"podctl: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr closed: the status says it


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        from rich.console import Console

        return int(args.run(args, Console()))
    except PodctlError as e:
        _say(str(e))
        return e.status
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
