"""KMS write events from CloudTrail's LookupEvents API, region by region.

LookupEvents takes one lookup attribute a call, returns at most 50 events a page, newest
first, keeps 90 days of management events and allows two calls a second per account and
region. Crypto calls (Decrypt, GenerateDataKey...) are management events too and can be
nearly all of a busy account's KMS history, so asking for
``EventSource=kms.amazonaws.com`` would page through every read to find a few
writes. The plans that avoid the reads:

- ``ReadOnly=false``: every write of every service in one stream. One call when the
  account is quiet; thousands when other services write a lot.
- ``EventName=X`` for each KMS write call the normalizer models (``READERS``): at least
  one call a name, then a page for every 50 events of that name. The name is not
  service-specific (``CreateAlias``, ``TagResource``), so records of other services are
  dropped by their ``eventSource``.
- ``ResourceName=ARN`` per managed key: one call a key, but the key's reads come with
  it, which are what this source must not page through; it is not used.

Counts are not known before calling, so each region starts with ``ReadOnly=false`` and
after every page :func:`keep_reading_writes` compares what finishing that stream is
expected to cost (the pages so far, scaled by the part of the window still uncovered)
with switching to one query per event name. On a switch the event-name queries end
where the write stream stopped (events are newest first), so no span is read twice. The
stream never runs past as many pages as there are event names: whatever the traffic, a
region takes at most about twice the calls of the event-name plan alone.

Every call waits for the region's :class:`RateLimiter` (``max_requests_per_second``,
default 2); a ``ThrottlingException`` is retried with :class:`Backoff`, and botocore's
own retries are off so that every call is counted and paced here. A call that still
fails ends its region with one problem naming the region and page; the other regions are
read. An event whose ``CloudTrailEvent`` is not a JSON object is a problem of its own.
Pagination follows ``NextToken`` to its end, empty pages included, since an empty page
with a token does not prove that nothing older matches. Regions are read one after
another; reading them in parallel would be faster, since the limit is per region.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import (
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.events import KMS_EVENT_SOURCE
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.normalizer import READERS
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources.base import LIVE_HISTORY, default_regions, utc_now
from tfdrift_hook.sources.files import SourceRecord
from tfdrift_hook.sources.rate_limit import Backoff, Pacing, RateLimiter
from tfdrift_hook.window import Window

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest

__all__ = [
    "KMS_WRITE_CALLS",
    "LookupEventsError",
    "LookupEventsSource",
    "Query",
    "StreamProgress",
    "keep_reading_writes",
]

logger = logging.getLogger(__name__)

NAME = "lookup_events"
PAGE_SIZE = 50
#: The KMS calls that change something the normalizer models.
KMS_WRITE_CALLS = frozenset(READERS)

_THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException"}
)
_FIX_CALL = (
    "check the credentials, the region and cloudtrail:LookupEvents permission; "
    "run again later if CloudTrail was throttling"
)
_FIX_EVENT = "the record could not be read from LookupEvents; look it up by its id"
_FIX_HISTORY = "LookupEvents keeps 90 days; read older events from the trail's S3 logs"

ClientFactory = Callable[[str, "str | None"], Any]
Clock = Callable[[], datetime]


class LookupEventsError(TfdriftError):
    """A lookup_events section that leaves the source nothing it can do."""


class Query(NamedTuple):
    """One lookup attribute, the only filter LookupEvents takes besides time."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    def attributes(self) -> list[dict[str, str]]:
        return [{"AttributeKey": self.key, "AttributeValue": self.value}]


WRITES = Query("ReadOnly", "false")


def event_name_queries(names: Iterable[str] = KMS_WRITE_CALLS) -> tuple[Query, ...]:
    return tuple(Query("EventName", name) for name in sorted(names))


@dataclass(frozen=True)
class StreamProgress:
    """How far the ``ReadOnly=false`` stream of one region has come."""

    pages: int
    #: KMS writes among the events of those pages.
    kms_writes: int
    #: Seconds of the window the pages covered (end back to the oldest event).
    covered: float
    #: Seconds of the window still to read (the oldest event back to the start).
    remaining: float


def keep_reading_writes(progress: StreamProgress, names: int) -> bool:
    """Whether another ``ReadOnly=false`` page is expected to cost less than switching.

    Switching costs a call for each of ``names`` event-name queries plus a page for
    every 50 KMS writes still to come; going on costs the stream's pages still to come.
    Both are guessed from the pages so far, as if events kept coming at the same rate.
    """
    if progress.remaining <= 0:
        return False
    if progress.pages >= names:
        return False
    if progress.covered <= 0:
        # All the pages so far fell in one second: no rate to go by but a busy one.
        return False
    scale = progress.remaining / progress.covered
    stream_cost = progress.pages * scale
    switch_cost = names + math.ceil(progress.kms_writes * scale / PAGE_SIZE)
    return stream_cost < switch_cost


@dataclass
class _Page:
    number: int
    events: list[Mapping[str, Any]]
    next_token: str | None


class _CallFailed(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass
class _Region:
    """The calls of one region: paced, retried, counted."""

    region: str
    client: Any
    limiter: RateLimiter
    backoff: Backoff
    pacing: Pacing
    calls: int = 0
    pages: int = 0
    retries: int = 0
    seen: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        return f"{NAME}:{self.region}"

    def pages_of(
        self, query: Query, start: datetime, end: datetime
    ) -> Generator[_Page, None, None]:
        """Every page of one query, following ``NextToken`` to the end."""
        token: str | None = None
        while True:
            self.pages += 1
            request = {
                "LookupAttributes": query.attributes(),
                "StartTime": start,
                "EndTime": end,
                "MaxResults": PAGE_SIZE,
            }
            if token:
                request["NextToken"] = token
            answer = self._call(request, query)
            token = answer.get("NextToken") or None
            yield _Page(self.pages, list(answer.get("Events") or []), token)
            if token is None:
                return

    def _call(self, request: Mapping[str, Any], query: Query) -> Mapping[str, Any]:
        where = f"{self.where}#page {self.pages}"
        for attempt in range(1, self.backoff.attempts + 1):
            self.limiter.wait()
            self.calls += 1
            try:
                answer: Mapping[str, Any] = self.client.lookup_events(**request)
                return answer
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _THROTTLED:
                    raise _CallFailed(where, f"{query}: {exc}") from exc
                if attempt == self.backoff.attempts:
                    message = f"{query}: still throttled after {attempt} attempts"
                    raise _CallFailed(where, message) from exc
            except BotoCoreError as exc:
                raise _CallFailed(where, f"{query}: {exc}") from exc
            self.retries += 1
            self.pacing.sleep(self.backoff.delay(attempt, self.pacing.random))
        raise AssertionError("the loop returns or raises")  # pragma: no cover


class LookupEventsSource:
    """KMS write events of the window from LookupEvents, for each region in turn."""

    name = NAME

    def __init__(
        self,
        regions: Sequence[str],
        window: Window,
        *,
        endpoint_url: str | None = None,
        max_requests_per_second: float = 2.0,
        write_calls: Iterable[str] = KMS_WRITE_CALLS,
        client_factory: ClientFactory | None = None,
        pacing: Pacing | None = None,
        backoff: Backoff | None = None,
        now: Clock | None = None,
    ) -> None:
        self.regions = tuple(dict.fromkeys(regions))
        self.window = window
        self.endpoint_url = endpoint_url
        self.max_requests_per_second = max_requests_per_second
        self.queries = event_name_queries(write_calls)
        self.client_factory = client_factory or cloudtrail_client
        self.pacing = pacing or Pacing()
        self.backoff = backoff or Backoff()
        self.now = now or utc_now
        #: Calls made per region by the last :meth:`records`, for logs and benchmarks.
        self.calls: dict[str, int] = {}

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]:
        """The KMS writes of the window, region by region, newest first in each."""
        wanted = frozenset({KMS_EVENT_SOURCE})
        if event_sources is not None:
            wanted &= event_sources
        if not wanted:
            return
        start, end = self._bounds(problems)
        for region in self.regions:
            yield from self._region_records(region, start, end, problems, wanted)

    def _bounds(self, problems: Problems) -> tuple[datetime, datetime]:
        now = self.now()
        end = self.window.until or now
        oldest = now - LIVE_HISTORY
        start = self.window.since
        if start is None:
            logger.info(
                "%s: no start to the window; reading LookupEvents' 90 days", NAME
            )
            return oldest, end
        if start < oldest - timedelta(minutes=5):
            since = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            message = f"the window starts at {since}, more than 90 days ago"
            problems.add(NAME, message, _FIX_HISTORY)
        return start, end

    def _region_records(
        self,
        region: str,
        start: datetime,
        end: datetime,
        problems: Problems,
        wanted: frozenset[str],
    ) -> Iterator[SourceRecord]:
        try:
            client = self.client_factory(region, self.endpoint_url)
        except (BotoCoreError, ValueError) as exc:
            problems.add(f"{NAME}:{region}", f"no CloudTrail client: {exc}", _FIX_CALL)
            return
        limiter = RateLimiter(self.max_requests_per_second, self.pacing)
        reader = _Region(region, client, limiter, self.backoff, self.pacing)
        try:
            yield from self._planned(reader, start, end, problems, wanted)
        except _CallFailed as exc:
            problems.add(exc.where, exc.message, _FIX_CALL)
        finally:
            self.calls[region] = reader.calls
            logger.info(
                "%s %s: %d calls (%d throttled and retried), %d pages",
                NAME,
                region,
                reader.calls,
                reader.retries,
                reader.pages,
            )

    def _planned(
        self,
        reader: _Region,
        start: datetime,
        end: datetime,
        problems: Problems,
        wanted: frozenset[str],
    ) -> Iterator[SourceRecord]:
        """The write stream while it pays, then a query per event name for the rest."""
        oldest = end
        kms_writes = 0
        stream = reader.pages_of(WRITES, start, end)
        for page in stream:
            for found in _page_records(reader, page, problems, wanted):
                kms_writes += 1
                yield found
            oldest = min([oldest, *(_event_time(event, end) for event in page.events)])
            if page.next_token is None:
                return
            progress = StreamProgress(
                pages=page.number,
                kms_writes=kms_writes,
                covered=(end - oldest).total_seconds(),
                remaining=(oldest - start).total_seconds(),
            )
            if not keep_reading_writes(progress, len(self.queries)):
                stream.close()
                break
        logger.debug(
            "%s %s: one query per event name up to %s", NAME, reader.region, oldest
        )
        for query in self.queries:
            for page in reader.pages_of(query, start, oldest):
                yield from _page_records(reader, page, problems, wanted)


def _page_records(
    reader: _Region,
    page: _Page,
    problems: Problems,
    wanted: frozenset[str],
) -> Iterator[SourceRecord]:
    """The wanted records of one page, each event id once in the region."""
    for index, event in enumerate(page.events):
        source = event.get("EventSource")
        if isinstance(source, str) and source and source not in wanted:
            continue
        where = f"{reader.where}#page {page.number}[{index}]"
        record = _parsed(event, where, problems)
        if record is None or record.get("eventSource") not in wanted:
            continue
        event_id = str(record.get("eventID") or event.get("EventId") or where)
        if event_id in reader.seen:
            continue
        reader.seen.add(event_id)
        yield SourceRecord(record, where)


def _parsed(
    event: Mapping[str, Any], where: str, problems: Problems
) -> dict[str, Any] | None:
    text = event.get("CloudTrailEvent")
    if not isinstance(text, str):
        problems.add(where, "has no CloudTrailEvent text", _FIX_EVENT)
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:
        problems.add(where, f"CloudTrailEvent is not valid JSON: {exc}", _FIX_EVENT)
        return None
    if not isinstance(record, dict):
        problems.add(where, "CloudTrailEvent is not a JSON object", _FIX_EVENT)
        return None
    return record


def _event_time(event: Mapping[str, Any], default: datetime) -> datetime:
    moment = event.get("EventTime")
    if not isinstance(moment, datetime):
        return default
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def cloudtrail_client(region: str, endpoint_url: str | None) -> Any:
    """A CloudTrail client that makes each call once: retries are counted here."""
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    session = boto3.session.Session()
    return session.client(
        "cloudtrail", region_name=region, endpoint_url=endpoint_url, config=config
    )


# --- the plugin -------------------------------------------------------------------


@hookimpl(trylast=True)
def tfdrift_event_sources(request: CheckRequest) -> Sequence[LookupEventsSource]:
    """The LookupEvents source, when the settings have a ``sources.lookup_events``."""
    section = (request.settings.get("sources") or {}).get(NAME)
    if section is None or section is False:
        return []
    if section is True:
        section = {}
    if not isinstance(section, Mapping):
        raise LookupEventsError(f"sources.{NAME} must be a mapping, not {section!r}")
    regions = _regions(section, request)
    rate = _rate(section.get("max_requests_per_second"))
    endpoint_url = section.get("endpoint_url") or None
    return [
        LookupEventsSource(
            regions,
            request.window,
            endpoint_url=endpoint_url,
            max_requests_per_second=rate,
        )
    ]


def _regions(section: Mapping[str, Any], request: CheckRequest) -> list[str]:
    configured = section.get("regions")
    if configured:
        return [str(region) for region in configured]
    regions = default_regions(request)
    if not regions:
        msg = (
            f"sources.{NAME} has no region to query: the state holds no key with a "
            f"region; set sources.{NAME}.regions or the top-level regions"
        )
        raise LookupEventsError(msg)
    return regions


def _rate(value: Any) -> float:
    if value is None or value == "":
        return 2.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        msg = (
            f"sources.{NAME}.max_requests_per_second must be a number above 0, "
            f"not {value!r}"
        )
        raise LookupEventsError(msg)
    return float(value)
