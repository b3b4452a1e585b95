"""The error ladder: every failure a user can cause ends as one CommandError,
which podctl.cli.main() prints as one line and turns into an exit status.

Exit statuses (documented in README.md and `podctl --help`; scripts rely on
them, so they never change meaning):
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # the command ran; what it checked is not right
EXIT_USAGE = 2  # bad command line (argparse uses 2 as well)
EXIT_LINK = 3  # no device, busy port, timeout, cable pulled
EXIT_BAD_INPUT = 4  # a file or value given to podctl is malformed
EXIT_REFUSED = 5  # the device refused the request (auth, replay, state)
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_TABLE = (
    (EXIT_OK, "ok"),
    (EXIT_CHECK_FAILED, "a check failed (log not authentic, expectation not met)"),
    (EXIT_USAGE, "usage error on the command line"),
    (EXIT_LINK, "device or link problem (none found, busy, timeout, unplugged)"),
    (EXIT_BAD_INPUT, "bad input file or value (profile, log, scenario, hex)"),
    (EXIT_REFUSED, "the device refused the request (authentication, replay, state)"),
    (EXIT_INTERRUPTED, "interrupted by Ctrl-C"),
)


class CommandError(Exception):
    """A failure to report to the user as one line, with an exit status."""

    def __init__(self, message: str, status: int = EXIT_CHECK_FAILED):
        super().__init__(message)
        self.status = status


class BadInput(CommandError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_BAD_INPUT)


class LinkError(CommandError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_LINK)
