"""Inputs that could not be read: each one named, none of them hiding the others."""

from __future__ import annotations

import datetime
import logging
import reprlib
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


def _brief_repr() -> reprlib.Repr:
    shown = reprlib.Repr()
    shown.maxstring = shown.maxother = 80
    shown.maxlist = shown.maxdict = 4
    shown.maxlevel = 2
    return shown


_BRIEF = _brief_repr()


def brief(value: Any) -> str:
    """A value of the user's input, short enough for a message.

    A YAML alias can make one value megabytes long; a message shows its start.
    """
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return _BRIEF.repr(value)


@dataclass(frozen=True)
class Problem:
    """One file, object or record that was not read, and what the user can do next."""

    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text} ({self.fix})" if self.fix else text


@dataclass
class Problems:
    """Collects what could not be read; any entry makes the result incomplete."""

    items: list[Problem] = field(default_factory=list)

    def add(
        self, where: str, message: str, fix: str = "", *, level: int = logging.WARNING
    ) -> None:
        """Note a problem; ``level`` ERROR for one that no report will show."""
        problem = Problem(where, message, fix)
        logger.log(level, "%s", problem)
        self.items.append(problem)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)
