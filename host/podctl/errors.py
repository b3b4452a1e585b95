"""The error ladder: every failure podctl reports is a PodctlError, one line
of text with its exit status. The library raises them and never prints or
exits; podctl.cli.main() is the one place that prints `podctl: <message>`
and returns the status, by the class, never by matching the text.

    PodctlError            (1 unless a subclass says otherwise)
    +-- CheckFailed        1  the command ran; what it checked is not right
    +-- UsageError         2  bad command line
    +-- LinkError          3  no device, busy port, timeout, cable pulled
    |   +-- DeviceMismatch 3  the device answers but speaks another version
    +-- BadInput           4  a file or value given to podctl is malformed
    +-- DeviceRefused      5  the device refused the request (auth, replay, state)

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


class PodctlError(Exception):
    """A failure to report as one line; `status` is the exit status."""

    status = EXIT_CHECK_FAILED

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


# The name the command modules have always raised; the same class.
CommandError = PodctlError


class CheckFailed(PodctlError):
    status = EXIT_CHECK_FAILED


class UsageError(PodctlError):
    status = EXIT_USAGE


class LinkError(PodctlError):
    status = EXIT_LINK


class DeviceMismatch(LinkError):
    """The device answers, but its protocol, layout or bytecode version is
    not this podctl's: update one side."""


class BadInput(PodctlError):
    status = EXIT_BAD_INPUT


class DeviceRefused(PodctlError):
    """The device answered ERROR: `code` is one of protocol.catalogue's
    ERR_*, `detail` its code-specific number, `msg_type` what was refused."""

    status = EXIT_REFUSED

    def __init__(self, message: str, code: int, detail: int = 0, msg_type: int = 0):
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.msg_type = msg_type
