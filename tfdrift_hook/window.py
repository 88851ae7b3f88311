"""The window: the span of event times a check searches.

Bounds are ISO-8601 times (``2026-11-30T12:00:00Z``, a date alone means its midnight
UTC) or spans back from now (``90m``, ``72h``, ``7d``, ``2w``). A window with no bounds
takes every record it is given, which is how recorded files are replayed offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tfdrift_hook.errors import TfdriftError

_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_EVENT_TIME = "%Y-%m-%dT%H:%M:%SZ"


class WindowError(TfdriftError):
    """A window bound that is neither an ISO-8601 time nor a span such as ``72h``."""


@dataclass(frozen=True)
class Window:
    """``[since, until]``, either end open when None."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            since, until = _text(self.since), _text(self.until)
            msg = f"the window starts ({since}) after it ends ({until})"
            raise WindowError(f"{msg}; swap --since and --until")

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None

    def bounds_text(self) -> tuple[str | None, str | None]:
        """The bounds as CloudTrail writes ``eventTime``, for comparing as text."""
        since = _text(self.since) if self.since else None
        until = _text(self.until) if self.until else None
        return since, until

    def describe(self) -> str:
        if not self.bounded:
            return "every record given (no --since/--until)"
        since, until = self.bounds_text()
        return f"{since or 'the first record'} to {until or 'the last record'}"


def parse_bound(text: str | None, now: datetime, option: str) -> datetime | None:
    """One bound from the command line; raises :class:`WindowError` with the fix."""
    if text is None or not text.strip():
        return None

    span = _SPAN.match(text)
    moment = _span_back(span, now, option) if span else _iso_time(text, option)
    if option == "--since" and moment > now:
        # An end in the future is harmless; a start there would search nothing.
        raise WindowError(f"{option} {text!r} is in the future (now is {_text(now)})")
    return moment


def _span_back(span: re.Match[str], now: datetime, option: str) -> datetime:
    amount, unit = int(span.group(1)), _UNITS[span.group(2).lower()]
    try:
        return now - timedelta(**{unit: amount})
    except OverflowError as exc:
        msg = f"{option} {span.group(0).strip()!r} reaches back before the year 1"
        raise WindowError(f"{msg}; give a shorter span or an ISO-8601 time") from exc


def _iso_time(text: str, option: str) -> datetime:
    from dateutil import parser

    try:
        moment: datetime = parser.isoparse(text.strip())
    except (ValueError, OverflowError) as exc:
        msg = (
            f"{option} {text!r} is neither an ISO-8601 time "
            "(2026-11-30T12:00:00Z) nor a span back from now (90m, 72h, 7d, 2w)"
        )
        raise WindowError(msg) from exc

    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def window_from_options(since: str | None, until: str | None, now: datetime) -> Window:
    return Window(
        parse_bound(since, now, "--since"), parse_bound(until, now, "--until")
    )


def _text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_EVENT_TIME)
