"""A CloudTrail LookupEvents endpoint on loopback, for the real boto3 client.

moto does not implement LookupEvents. This server speaks CloudTrail's JSON 1.1 protocol
as botocore's service model describes it (``POST /``, ``X-Amz-Target:
com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``, times as epoch
seconds): it serves the records it was seeded with, newest first, for the region
named in the request's signature, filtered by the one lookup attribute and the time
range (both ends inclusive), 50 or ``MaxResults`` a page with an opaque ``NextToken``.
A region called faster than two requests a second is answered ``ThrottlingException``
(HTTP 400), as AWS does; the bucket holds two calls and refills at two a second on
``clock``, which a test may share with the client under test so that no real time
passes. Every request is counted, throttled or not.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
PAGE_LIMIT = 50
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/cloudtrail/")
#: Lookup attributes read straight from one field of the record.
_PLAIN = {"EventId": "eventID", "EventName": "eventName", "EventSource": "eventSource"}
_ATTRIBUTE_KEYS = frozenset(
    {
        "EventId",
        "EventName",
        "ReadOnly",
        "Username",
        "ResourceType",
        "ResourceName",
        "EventSource",
        "AccessKeyId",
    }
)


@dataclass
class StoredEvent:
    """One seeded record, as LookupEvents returns it."""

    record: dict[str, Any]
    #: The ``CloudTrailEvent`` string; the record's JSON unless a test breaks it.
    text: str | None = None

    @property
    def region(self) -> str:
        return str(self.record.get("awsRegion", "us-east-1"))

    @cached_property
    def time(self) -> float:
        moment = datetime.strptime(self.record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        return moment.replace(tzinfo=timezone.utc).timestamp()

    def attribute(self, key: str) -> list[str]:
        record = self.record
        if key in _PLAIN:
            value = record.get(_PLAIN[key])
            return [] if value is None else [str(value)]
        resources = record.get("resources") or []
        values: list[Any] = {  # type: ignore[assignment]
            "EventId": [record.get("eventID")],
            "EventName": [record.get("eventName")],
            "ReadOnly": [str(record.get("readOnly", False)).lower()],
            "Username": [record.get("userIdentity", {}).get("userName")],
            "EventSource": [record.get("eventSource")],
            "AccessKeyId": [record.get("userIdentity", {}).get("accessKeyId")],
            "ResourceName": [item.get("ARN") for item in resources],
            "ResourceType": [item.get("type") for item in resources],
        }[key]
        return [str(value) for value in values if value is not None]

    def wire(self) -> dict[str, Any]:
        record = self.record
        return {
            "EventId": record.get("eventID", ""),
            "EventName": record.get("eventName", ""),
            "ReadOnly": str(record.get("readOnly", False)).lower(),
            "EventTime": self.time,
            "EventSource": record.get("eventSource", ""),
            "Resources": [
                {"ResourceType": item.get("type"), "ResourceName": item.get("ARN")}
                for item in record.get("resources") or []
            ],
            "CloudTrailEvent": self.text or json.dumps(record),
        }


@dataclass
class _Bucket:
    """Two calls of burst, refilled at two a second, as CloudTrail allows."""

    tokens: float = 2.0
    stamp: float | None = None

    def take(self, now: float, rate: float) -> bool:
        if self.stamp is not None:
            self.tokens = min(rate, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class _ServiceError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class FakeCloudTrail:
    """The events served and what the server saw."""

    events: list[StoredEvent] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    rate: float = 2.0
    #: Requests per region, throttled ones included.
    calls: dict[str, int] = field(default_factory=dict)
    throttled: dict[str, int] = field(default_factory=dict)
    #: The lookup attribute of each request, in order, as ``"Key=Value"``.
    queries: list[str] = field(default_factory=list)
    url: str = ""
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def seed(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.events.extend(StoredEvent(dict(record)) for record in records)

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def answer(self, region: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls[region] = self.calls.get(region, 0) + 1
            bucket = self._buckets.setdefault(region, _Bucket(tokens=self.rate))
            if not bucket.take(self.clock(), self.rate):
                self.throttled[region] = self.throttled.get(region, 0) + 1
                raise _ServiceError("ThrottlingException", "Rate exceeded")
            return self._page(region, body)

    def _page(self, region: str, body: Mapping[str, Any]) -> dict[str, Any]:
        test = _attribute_test(body.get("LookupAttributes") or [])
        self.queries.append(test.label)
        limit = _limit(body.get("MaxResults"))
        start = float(body.get("StartTime", float("-inf")))
        end = float(body.get("EndTime", float("inf")))
        found = [
            event
            for event in self.events
            if event.region == region and start <= event.time <= end and test(event)
        ]
        found.sort(key=lambda event: event.time, reverse=True)
        offset = _offset(body.get("NextToken"), test.label)
        page = found[offset : offset + limit]
        answer: dict[str, Any] = {"Events": [event.wire() for event in page]}
        if offset + limit < len(found):
            answer["NextToken"] = _token(offset + limit, test.label)
        return answer


@dataclass(frozen=True)
class _AttributeTest:
    key: str | None
    value: str | None

    @property
    def label(self) -> str:
        return f"{self.key}={self.value}" if self.key else "(all)"

    def __call__(self, event: StoredEvent) -> bool:
        return self.key is None or self.value in event.attribute(self.key)


def _attribute_test(attributes: list[Mapping[str, Any]]) -> _AttributeTest:
    if len(attributes) > 1:
        raise _ServiceError(
            "InvalidLookupAttributesException", "only one lookup attribute is allowed"
        )
    if not attributes:
        return _AttributeTest(None, None)
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in _ATTRIBUTE_KEYS:
        raise _ServiceError("InvalidLookupAttributesException", f"bad key {key!r}")
    return _AttributeTest(str(key), str(value))


def _limit(value: Any) -> int:
    if value is None:
        return PAGE_LIMIT
    if not 1 <= int(value) <= PAGE_LIMIT:
        raise _ServiceError("InvalidMaxResultsException", "MaxResults is 1 to 50")
    return int(value)


def _token(offset: int, label: str) -> str:
    raw = json.dumps({"offset": offset, "query": label}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _offset(token: Any, label: str) -> int:
    if token is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token)))
    except ValueError as exc:
        raise _ServiceError("InvalidNextTokenException", "bad token") from exc
    if data.get("query") != label:
        raise _ServiceError("InvalidNextTokenException", "token of another query")
    return int(data["offset"])


def _handler(fake: FakeCloudTrail) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; without this, delayed ACKs cost 40 ms.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                answer = self._answer(body)
            except _ServiceError as exc:
                error = {"__type": exc.code, "message": str(exc)}
                self._send(exc.status, error)
                return
            self._send(200, answer)

        def _answer(self, body: bytes) -> dict[str, Any]:
            if self.headers.get("X-Amz-Target") != TARGET:
                raise _ServiceError("UnknownOperationException", "only LookupEvents")
            found = _REGION.search(self.headers.get("Authorization", ""))
            region = found.group(1) if found else "us-east-1"
            return fake.answer(region, json.loads(body or b"{}"))

        def _send(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test output is no place for an access log

    return Handler


@contextmanager
def serving(
    fake: FakeCloudTrail | None = None, lifetime: float = 300.0
) -> Iterator[FakeCloudTrail]:
    """Serve ``fake`` on 127.0.0.1, a free port; stops on exit or after ``lifetime``."""
    fake = fake or FakeCloudTrail()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A test that hangs must not leave a server behind for ever.
    deadline = threading.Timer(lifetime, server.shutdown)
    deadline.daemon = True
    deadline.start()
    try:
        yield fake
    finally:
        deadline.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class FakeClock:
    """A monotonic clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)
