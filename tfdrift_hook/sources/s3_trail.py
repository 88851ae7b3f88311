"""CloudTrail records from the log files a trail delivers to an S3 bucket.

A trail writes ``[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/``
objects, each a gzipped ``{"Records": [...]}``. Only the day folders the window touches
are listed, for each account and region asked for. The folder's date is the day the
file was delivered, which is up to about 15 minutes after its last event, so the days
run from the window's start to an hour past its end.

Objects are fetched and inflated by a bounded pool of threads (zlib and ISA-L let go of
the interpreter lock while they inflate), at most two objects a thread ahead of the
reader, so memory stays bounded however long the window is. Records come out in the
order of the object keys, whatever order the downloads finish in. Each object's bytes go
through the file source's parser, so an object and a file holding the same bytes give
the same records and the same problems.

An object that cannot be fetched, inflated or parsed is a problem naming its key, and
the other objects are still read; a day folder that cannot be listed is a problem
naming the folder.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources.base import default_regions, live_bounds, utc_now

# The file source's parser, shared so that both sources read bytes alike. These names
# are private to files.py until it offers one public "records from bytes" function.
from tfdrift_hook.sources.files import (
    _FIX_DEPTH,
    _FIX_GZIP,
    _GZIP_MAGIC,
    _INFLATE_ERRORS,
    _TOO_DEEP,
    SourceRecord,
    Wanted,
    _gunzip,
    records_from_bytes,
)

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest

__all__ = ["S3TrailError", "S3TrailSource", "source_from_settings"]

logger = logging.getLogger(__name__)

#: How far back a window without a start reaches: CloudTrail's own event history.
#: How long after its last event a log file may be delivered, with room to spare.
DELIVERY_MARGIN = timedelta(hours=1)
DEFAULT_WORKERS = 8
#: Objects fetched ahead of the reader, for each thread of the pool.
AHEAD_PER_WORKER = 2
#: Inflated size past which an object is not held in memory (CloudTrail's are MiBs).
OBJECT_LIMIT = 1024 * 1024 * 1024
#: Errors every listing of the bucket would meet alike: reported once, for the bucket.
_BUCKET_WIDE = frozenset(
    {
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "NoCredentialsError",
        "EndpointConnectionError",
    }
)
_LOG_SUFFIXES = (".json.gz", ".json")

_FIX_LIST = "grant s3:ListBucket on the bucket, or check sources.s3.prefix"
_FIX_BUCKET = (
    "check sources.s3.bucket and endpoint_url, and that AWS credentials are set"
)
_FIX_GET = (
    "grant s3:GetObject on the trail's objects, and kms:Decrypt on the trail's key "
    "when its logs are encrypted with SSE-KMS"
)
_FIX_GONE = "the object was deleted after it was listed; run the check again"
_FIX_FETCH = "check the network and the endpoint, then run the check again"
_FIX_HUGE = "no CloudTrail log file is that big; leave the object out of the prefix"


class S3TrailError(TfdriftError):
    """The ``sources.s3`` settings cannot make a source that reads anything."""


@dataclass(frozen=True)
class _Object:
    key: str
    size: int


@dataclass(frozen=True)
class _Listing:
    """The log objects of one day folder, and why the listing stopped, if it did."""

    prefix: str
    objects: tuple[_Object, ...]
    error: tuple[str, str] | None = None


@dataclass(frozen=True)
class _Fetched:
    """One object's bytes, inflated, or why they could not be had."""

    key: str
    size: int
    data: bytes = b""
    gzipped: bool = False
    error: tuple[str, str] | None = None


class S3TrailSource:
    """CloudTrail records from a trail's log files in an S3 bucket."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        accounts: Iterable[str],
        regions: Iterable[str],
        since: datetime,
        until: datetime,
        *,
        prefix: str = "",
        organization_id: str | None = None,
        max_workers: int = DEFAULT_WORKERS,
        client: Any = None,
        endpoint_url: str | None = None,
        progress: bool | None = None,
    ) -> None:
        self.bucket = bucket
        self.accounts = tuple(sorted(set(accounts)))
        self.regions = tuple(sorted(set(regions)))
        self.since = since
        self.until = until
        self.root = _root(prefix, organization_id)
        self.max_workers = max_workers
        self.client = client or _s3_client(endpoint_url, max_workers)
        #: None: a bar when stderr is a terminal.
        self.progress = progress

    def prefixes(self) -> list[str]:
        """The day folders to list, in key order."""
        days = _days(self.since, self.until + DELIVERY_MARGIN)
        return sorted(
            f"{self.root}{account}/CloudTrail/{region}/{day}/"
            for account in self.accounts
            for region in self.regions
            for day in days
        )

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]:
        """Yield the records of every log object in the window's days, by key."""
        wanted = Wanted(event_sources)
        with ThreadPoolExecutor(self.max_workers, "tfdrift-s3") as pool:
            objects = self._listed(pool, problems)
            logger.info(
                "s3://%s: %d objects (%.1f MiB) to read",
                self.bucket,
                len(objects),
                sum(item.size for item in objects) / 2**20,
            )
            with self._bar(sum(item.size for item in objects)) as bar:
                for fetched in self._fetched(pool, objects):
                    yield from self._object_records(fetched, problems, wanted)
                    bar.update(fetched.size)

    # --- listing --------------------------------------------------------------

    def _listed(self, pool: ThreadPoolExecutor, problems: Problems) -> list[_Object]:
        """Every log object of the window's days; the folders are listed at once."""
        listings = list(pool.map(self._listing, self.prefixes()))
        objects: list[_Object] = []
        bucket_wide: set[str] = set()
        for listing in listings:
            objects.extend(listing.objects)
            if listing.error is None:
                continue
            code, message = listing.error
            if code not in _BUCKET_WIDE:
                where = f"s3://{self.bucket}/{listing.prefix}"
                problems.add(where, f"cannot be listed: {message}", _FIX_LIST)
            elif code not in bucket_wide:
                bucket_wide.add(code)
                where = f"s3://{self.bucket}"
                problems.add(where, f"cannot be listed: {message}", _FIX_BUCKET)
        return objects

    def _listing(self, prefix: str) -> _Listing:
        objects: list[_Object] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        try:
            for page in pages:
                objects.extend(_log_objects(page.get("Contents", ())))
        except _aws_errors() as exc:
            return _Listing(prefix, tuple(objects), _describe(exc))
        return _Listing(prefix, tuple(objects))

    # --- fetching -------------------------------------------------------------

    def _fetched(
        self, pool: ThreadPoolExecutor, objects: Sequence[_Object]
    ) -> Iterator[_Fetched]:
        """The objects in the order given, with a bounded number fetched ahead."""
        ahead = self.max_workers * AHEAD_PER_WORKER
        pending: deque[Future[_Fetched]] = deque()
        try:
            for item in objects:
                pending.append(pool.submit(self._fetch, item))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # A reader that stops early leaves no downloads running behind it.
            for future in pending:
                future.cancel()

    def _fetch(self, item: _Object) -> _Fetched:
        """The object's bytes, inflated here, in a thread of the pool."""
        key, size = item.key, item.size
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            blob: bytes = response["Body"].read()
        except _aws_errors() as exc:
            code, message = _describe(exc)
            error = (f"cannot be read: {message}", _fetch_fix(code))
            return _Fetched(key, size, error=error)
        if blob[:2] != _GZIP_MAGIC:
            return _Fetched(key, size, blob)
        try:
            data = _gunzip(blob, OBJECT_LIMIT)
        except _INFLATE_ERRORS as exc:
            error = (f"is not a readable gzip file: {exc}", _FIX_GZIP)
            return _Fetched(key, size, error=error)
        if data is None:
            error = (f"inflates to more than {OBJECT_LIMIT // 2**20} MiB", _FIX_HUGE)
            return _Fetched(key, size, error=error)
        return _Fetched(key, size, data, gzipped=True)

    # --- parsing --------------------------------------------------------------

    def _object_records(
        self, fetched: _Fetched, problems: Problems, wanted: Wanted
    ) -> Iterator[SourceRecord]:
        where = f"s3://{self.bucket}/{fetched.key}"
        if fetched.error is not None:
            problems.add(where, *fetched.error)
            return
        try:
            yield from records_from_bytes(
                fetched.data, where, problems, wanted, fetched.gzipped
            )
        except RecursionError:
            problems.add(where, _TOO_DEEP, _FIX_DEPTH)

    def _bar(self, total: int) -> Any:
        """A progress bar of bytes read, on a terminal only."""
        shown = sys.stderr.isatty() if self.progress is None else self.progress
        if not shown:
            return _NoBar()
        from tqdm import tqdm

        return tqdm(
            total=total,
            desc=f"s3://{self.bucket}",
            unit="B",
            unit_scale=True,
            # Short scans finish before the bar would appear.
            delay=2.0,
            file=sys.stderr,
        )


class _NoBar(contextlib.nullcontext["_NoBar"]):
    """What stands in for the bar when output is not a terminal."""

    def __init__(self) -> None:
        super().__init__(self)

    def update(self, _: int) -> None:
        pass


def _aws_errors() -> tuple[type[Exception], ...]:
    """What botocore raises for one failed call; imported late, as it loads slowly."""
    from botocore.exceptions import BotoCoreError, ClientError

    return ClientError, BotoCoreError, OSError


def _log_objects(contents: Iterable[Mapping[str, Any]]) -> Iterator[_Object]:
    for item in contents:
        key = str(item["Key"])
        if "CloudTrail-Digest" in key:
            logger.debug("skipping %s: a CloudTrail digest file", key)
        elif not key.endswith(_LOG_SUFFIXES):
            logger.debug("skipping %s: not a .json.gz log file", key)
        else:
            yield _Object(key, int(item.get("Size", 0)))


def _describe(exc: Exception) -> tuple[str, str]:
    """An AWS error's code and a message naming it, for any botocore exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error", {})
        code = str(error.get("Code", "")) or type(exc).__name__
        return code, f"{code}: {error.get('Message') or exc}"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


def _fetch_fix(code: str) -> str:
    if code in ("AccessDenied", "403", "KMS.AccessDeniedException"):
        return _FIX_GET
    if code in ("NoSuchKey", "404"):
        return _FIX_GONE
    return _FIX_FETCH


def _root(prefix: str, organization_id: str | None) -> str:
    """``PREFIX/AWSLogs/[o-ORGID/]``, where the account folders are."""
    root = f"{prefix.strip('/')}/AWSLogs/" if prefix.strip("/") else "AWSLogs/"
    return f"{root}{organization_id}/" if organization_id else root


def _days(since: datetime, until: datetime) -> list[str]:
    first = since.astimezone(timezone.utc).date()
    last = until.astimezone(timezone.utc).date()
    count = (last - first).days + 1
    return [(first + timedelta(days=n)).strftime("%Y/%m/%d") for n in range(count)]


def _s3_client(endpoint_url: str | None, max_workers: int) -> Any:
    import boto3
    from botocore.config import Config

    # One connection a thread, or the pool would wait on botocore's default of ten.
    config = Config(
        max_pool_connections=max(10, max_workers), retries={"mode": "standard"}
    )
    try:
        return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)
    except ValueError as exc:
        msg = f"sources.s3.endpoint_url {endpoint_url!r} is not a URL: {exc}"
        raise S3TrailError(msg) from exc


# --- settings -------------------------------------------------------------------


def source_from_settings(
    section: Mapping[str, Any],
    request: CheckRequest,
    now: Callable[[], datetime] | None = None,
) -> S3TrailSource:
    """The source ``sources.s3`` asks for; raises :class:`S3TrailError` if none can be.

    Accounts default to the inventory's; regions to the inventory's plus the
    top-level ``regions``. A window without a start reaches back
    :data:`~tfdrift_hook.sources.base.LIVE_HISTORY`, and one without an end stops now.
    """
    moment = (now or utc_now)()
    bucket = section.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise S3TrailError("sources.s3.bucket is not set; name the trail's bucket")

    accounts = _names(section, "accounts", request.inventory.accounts)
    regions = _names(section, "regions", default_regions(request))
    since, until = live_bounds(request.window, moment, "s3")
    return S3TrailSource(
        bucket,
        accounts,
        regions,
        since,
        until,
        prefix=str(section.get("prefix") or ""),
        organization_id=_organization(section.get("organization_id")),
        max_workers=_workers(section.get("max_workers")),
        endpoint_url=section.get("endpoint_url") or None,
    )


def _names(section: Mapping[str, Any], key: str, default: Iterable[str]) -> list[str]:
    names = sorted(section.get(key) or default)
    if not names:
        msg = (
            f"sources.s3.{key}: the state names none, so there is nothing to list; "
            f"set sources.s3.{key}"
        )
        raise S3TrailError(msg)
    return names


def _organization(value: Any) -> str | None:
    if not value:
        return None
    if not isinstance(value, str) or not value.startswith("o-"):
        msg = f"sources.s3.organization_id {value!r} is not an organization id (o-...)"
        raise S3TrailError(msg)
    return value


def _workers(value: Any) -> int:
    if value is None:
        return DEFAULT_WORKERS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"sources.s3.max_workers {value!r} is not a whole number of at least 1"
        raise S3TrailError(msg)
    return value


@hookimpl(trylast=True)
def tfdrift_event_sources(request: CheckRequest) -> Sequence[S3TrailSource]:
    """The S3 trail source, when the settings have a ``sources.s3`` section."""
    section = (request.settings.get("sources") or {}).get("s3")
    return [source_from_settings(section, request)] if section else []
