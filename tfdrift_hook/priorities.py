"""Falco's priorities, the scale every rule and the fail threshold use."""

from __future__ import annotations

#: Most severe first.
PRIORITIES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)
_ALIASES = {"info": "informational", "warn": "warning", "err": "error"}


def priority_name(text: str) -> str:
    """The canonical priority for a name, in any case; raises ValueError."""
    name = _ALIASES.get(text.strip().lower(), text.strip().lower())
    if name not in PRIORITIES:
        choices = ", ".join(PRIORITIES)
        raise ValueError(f"unknown priority {text!r} (use one of: {choices})")
    return name


def severity(priority: str) -> int:
    """A rank where larger is more severe, for sorting and thresholds."""
    return len(PRIORITIES) - PRIORITIES.index(priority)
