"""What every event source yields: CloudTrail records, each with where it came from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from tfdrift_hook.problems import Problems
from tfdrift_hook.sources.files import SourceRecord


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
