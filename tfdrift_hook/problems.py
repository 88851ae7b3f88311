"""Inputs that could not be read: each one named, none of them hiding the others."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


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

    def add(self, where: str, message: str, fix: str = "") -> None:
        problem = Problem(where, message, fix)
        logger.warning("%s", problem)
        self.items.append(problem)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)
