"""What every event source yields: CloudTrail records, each with where it came from."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from tfdrift_hook.problems import Problems
from tfdrift_hook.sources.files import SourceRecord

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest
    from tfdrift_hook.window import Window

logger = logging.getLogger(__name__)

#: How far back a live source reads when the window has no start: CloudTrail's
#: event history keeps 90 days, and the trail-based sources use the same reach.
LIVE_HISTORY = timedelta(days=90)


class EventSource(Protocol):
    """A place CloudTrail records come from: files, LookupEvents, S3, Athena.

    ``records`` yields the records whose ``eventSource`` is in ``event_sources`` (all of
    them when None). What cannot be read is added to ``problems`` and the rest is still
    yielded; any problem marks the check incomplete.
    """

    name: str

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]: ...


def default_regions(request: CheckRequest) -> list[str]:
    """The Regions a live source reads unless its section names them: those of the
    state's keys, and the top-level ``regions`` of the settings."""
    extra = {str(region) for region in request.settings.get("regions") or ()}
    return sorted(set(request.inventory.regions) | extra)


def live_bounds(window: Window, now: datetime, name: str) -> tuple[datetime, datetime]:
    """The window a live source searches: an open end stops now, an open start
    reaches back :data:`LIVE_HISTORY`."""
    until = window.until or now
    if window.since is not None:
        return window.since, until
    logger.info(
        "%s: the window has no start; reading the last %d days", name, LIVE_HISTORY.days
    )
    return until - LIVE_HISTORY, until


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
