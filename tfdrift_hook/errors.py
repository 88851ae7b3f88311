"""Exit codes and the one error type that carries a message for the user."""

from __future__ import annotations

import enum


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


class TfdriftError(Exception):
    """An error the user can fix; printed as one line, without a traceback."""

    exit_code: ExitCode = ExitCode.USAGE
