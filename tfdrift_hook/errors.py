"""Exit codes and the one error type that carries a message for the user."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    """What the process exit status means; CI systems gate on it."""

    #: Nothing at or above the fail threshold.
    OK = 0
    #: Findings at or above the fail threshold.
    FINDINGS = 1
    #: Usage, configuration or input error: nothing was checked.
    USAGE = 2
    #: A source or file could not be read, so a clean result cannot be claimed.
    INCOMPLETE = 3


#: Exit codes from least to most serious: a run that could not check outranks one
#: that read only part of its inputs, which outranks one with findings.
SERIOUSNESS = (ExitCode.OK, ExitCode.FINDINGS, ExitCode.INCOMPLETE, ExitCode.USAGE)


def most_serious(codes: Iterable[ExitCode]) -> ExitCode:
    """The exit code of several checks or hooks together."""
    return max(codes, key=SERIOUSNESS.index, default=ExitCode.OK)


class TfdriftError(Exception):
    """An error the user can fix; printed as one line, without a traceback."""

    exit_code: ExitCode = ExitCode.USAGE
