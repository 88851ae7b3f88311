"""The LookupEvents source against a loopback CloudTrail, with the real boto3 client."""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from tests.fake_cloudtrail import FakeClock, FakeCloudTrail, StoredEvent, serving
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources import lookup_events
from tfdrift_hook.sources.lookup_events import (
    KMS_WRITE_CALLS,
    LookupEventsError,
    LookupEventsSource,
    StreamProgress,
    cloudtrail_client,
    keep_reading_writes,
)
from tfdrift_hook.sources.rate_limit import Backoff, Pacing, RateLimiter
from tfdrift_hook.window import Window

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
NAMES = len(KMS_WRITE_CALLS)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeCloudTrail]:
    with serving(FakeCloudTrail(clock=clock), lifetime=120) as server:
        yield server


def record(
    name: str,
    when: datetime,
    number: int,
    *,
    source: str = "kms.amazonaws.com",
    region: str = "us-east-1",
    read_only: bool = False,
) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "eventID": f"{region}-{name}-{number}",
        "readOnly": read_only,
    }


def make_source(
    fake: FakeCloudTrail,
    clock: FakeClock,
    window: Window,
    *,
    regions: tuple[str, ...] = ("us-east-1",),
    rate: float = 2.0,
    backoff: Backoff | None = None,
) -> LookupEventsSource:
    return LookupEventsSource(
        regions,
        window,
        endpoint_url=fake.url,
        max_requests_per_second=rate,
        pacing=Pacing(clock, clock.sleep, lambda: 0.5),
        backoff=backoff,
        now=lambda: NOW,
    )


def read(source: LookupEventsSource) -> tuple[list[Any], Problems]:
    problems = Problems()
    return list(source.records(problems, frozenset({"kms.amazonaws.com"}))), problems


def ids(found: list[Any]) -> list[str]:
    return [item.record["eventID"] for item in found]


# --- pagination, time range, the lookup attribute ---------------------------------


def test_120_writes_come_in_three_pages_of_the_write_stream_newest_first(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    start = NOW - timedelta(hours=3)
    fake.seed(
        record("PutKeyPolicy", start + timedelta(minutes=i), i) for i in range(120)
    )
    source = make_source(fake, clock, Window(start, NOW))

    found, problems = read(source)

    assert not problems
    assert ids(found) == [f"us-east-1-PutKeyPolicy-{i}" for i in range(119, -1, -1)]
    # 120 events at 50 a page; the stream covers the window faster than 26 queries.
    assert fake.queries == ["ReadOnly=false"] * 3
    assert source.calls == {"us-east-1": 3}
    assert found[0].where == "lookup_events:us-east-1#page 1[0]"
    assert found[50].where == "lookup_events:us-east-1#page 2[0]"
    assert found[119].where == "lookup_events:us-east-1#page 3[19]"


def test_only_events_inside_the_window_both_ends_included(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    since, until = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    fake.seed(
        [
            record("DisableKey", since - timedelta(seconds=1), 1),
            record("DisableKey", since, 2),
            record("DisableKey", since + timedelta(minutes=30), 3),
            record("DisableKey", until, 4),
            record("DisableKey", until + timedelta(seconds=1), 5),
        ]
    )

    found, problems = read(make_source(fake, clock, Window(since, until)))

    assert not problems
    assert ids(found) == [f"us-east-1-DisableKey-{n}" for n in (4, 3, 2)]


def test_a_window_without_start_reads_the_90_days_lookup_events_keeps(
    fake: FakeCloudTrail, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake.seed(
        [
            record("EnableKey", NOW - timedelta(days=89), 1),
            record("EnableKey", NOW - timedelta(days=91), 2),
        ]
    )
    caplog.set_level(logging.INFO, logger="tfdrift_hook")

    found, problems = read(make_source(fake, clock, Window()))

    assert not problems
    assert ids(found) == ["us-east-1-EnableKey-1"]
    assert "reading LookupEvents' 90 days" in caplog.text


def test_a_window_older_than_90_days_is_a_problem_and_the_rest_is_read(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    fake.seed([record("EnableKey", NOW - timedelta(days=10), 1)])

    window = Window(NOW - timedelta(days=120), NOW)
    found, problems = read(make_source(fake, clock, window))

    assert ids(found) == ["us-east-1-EnableKey-1"]
    assert [p.where for p in problems.items] == ["lookup_events"]
    assert "more than 90 days ago" in problems.items[0].message


def test_busy_writes_of_other_services_switch_to_one_query_per_kms_write_name(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    start = NOW - timedelta(days=1)
    # 500 EC2 writes in the last hour: the first page of the write stream covers two
    # minutes of a day, so finishing it would take hundreds of pages.
    fake.seed(
        record(
            "CreateTags", NOW - timedelta(seconds=7 * i), i, source="ec2.amazonaws.com"
        )
        for i in range(500)
    )
    kms_writes = [
        record("TagResource", start + timedelta(hours=1), 1),
        record("PutKeyPolicy", start + timedelta(hours=2), 2),
        record("ScheduleKeyDeletion", start + timedelta(hours=3), 3),
    ]
    fake.seed(kms_writes)
    # Same name, other service: the EventName query returns it, the source drops it.
    fake.seed(
        [
            record(
                "TagResource",
                start + timedelta(hours=4),
                4,
                source="lambda.amazonaws.com",
            )
        ]
    )
    fake.seed(
        record("Decrypt", start + timedelta(minutes=i), i, read_only=True)
        for i in range(300)
    )

    found, problems = read(make_source(fake, clock, Window(start, NOW)))

    assert not problems
    assert sorted(ids(found)) == sorted(r["eventID"] for r in kms_writes)
    expected = ["ReadOnly=false"] + [f"EventName={n}" for n in sorted(KMS_WRITE_CALLS)]
    assert fake.queries == expected


def test_an_event_read_twice_by_two_queries_is_yielded_once(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    start = NOW - timedelta(days=1)
    fake.seed(
        record("CreateTags", NOW - timedelta(seconds=i), i, source="ec2.amazonaws.com")
        for i in range(49)
    )
    # The 50th event of the first page: the stream stops at its second and the
    # event-name queries end there, both ends included, so they find it again.
    fake.seed([record("DisableKey", NOW - timedelta(seconds=49), 1)])
    fake.seed([record("EnableKey", start + timedelta(hours=1), 2)])

    found, problems = read(make_source(fake, clock, Window(start, NOW)))

    assert not problems
    assert ids(found) == ["us-east-1-DisableKey-1", "us-east-1-EnableKey-2"]
    assert fake.queries.count("EventName=DisableKey") == 1


def test_records_of_unwanted_sources_are_not_yielded(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    fake.seed([record("DisableKey", NOW - timedelta(minutes=1), 1)])
    source = make_source(fake, clock, Window(NOW - timedelta(hours=1), NOW))

    problems = Problems()
    found = list(source.records(problems, frozenset({"s3.amazonaws.com"})))

    assert found == []
    assert fake.total_calls() == 0


# --- the planner ------------------------------------------------------------------


def test_the_stream_goes_on_while_it_covers_the_window_cheaper_than_switching() -> None:
    # One page covered half the window: about one more page, against 26 queries.
    progress = StreamProgress(pages=1, kms_writes=50, covered=3600, remaining=3600)
    assert keep_reading_writes(progress, names=26)


def test_the_stream_stops_when_its_pages_would_outnumber_the_queries() -> None:
    # One page covered 1/100 of the window: about 99 more pages, against 26 + 1.
    progress = StreamProgress(pages=1, kms_writes=2, covered=864, remaining=85536)
    assert not keep_reading_writes(progress, names=26)


def test_the_stream_never_runs_past_as_many_pages_as_there_are_names() -> None:
    progress = StreamProgress(pages=26, kms_writes=1300, covered=100, remaining=1)
    assert not keep_reading_writes(progress, names=26)


def test_a_first_page_all_in_one_second_gives_no_rate_and_switches() -> None:
    progress = StreamProgress(pages=1, kms_writes=0, covered=0, remaining=86400)
    assert not keep_reading_writes(progress, names=26)


def test_nothing_left_to_cover_needs_no_more_calls() -> None:
    progress = StreamProgress(pages=1, kms_writes=50, covered=86400, remaining=0)
    assert not keep_reading_writes(progress, names=26)


# --- pacing and throttling --------------------------------------------------------


def test_the_limiter_spaces_calls_by_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, Pacing(clock, clock.sleep))

    for _ in range(5):
        limiter.wait()

    assert clock.slept == [0.5, 0.5, 0.5, 0.5]


def test_the_limiter_does_not_wait_when_calls_are_slow_anyway() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, Pacing(clock, clock.sleep))

    limiter.wait()
    clock.now += 3
    limiter.wait()

    assert clock.slept == []


def test_backoff_doubles_within_half_and_all_of_its_ceiling() -> None:
    backoff = Backoff(attempts=6, base=0.5, cap=4.0)

    lows = [backoff.delay(n, lambda: 0.0) for n in range(1, 6)]
    highs = [backoff.delay(n, lambda: 1.0) for n in range(1, 6)]

    assert lows == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert highs == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_at_two_a_second_the_source_is_never_throttled(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    start = NOW - timedelta(hours=3)
    fake.seed(record("EnableKey", start + timedelta(minutes=i), i) for i in range(160))

    found, problems = read(make_source(fake, clock, Window(start, NOW)))

    assert not problems
    assert len(found) == 160
    assert fake.calls == {"us-east-1": 4}
    assert fake.throttled == {}


def test_at_ten_a_second_the_source_is_throttled_and_its_retries_succeed(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    start = NOW - timedelta(hours=10)
    fake.seed(record("EnableKey", start + timedelta(minutes=i), i) for i in range(500))
    source = make_source(fake, clock, Window(start, NOW), rate=10)

    found, problems = read(source)

    assert not problems
    assert len(found) == 500
    throttled = fake.throttled["us-east-1"]
    assert throttled > 0
    assert fake.calls["us-east-1"] == 10 + throttled
    assert source.calls == {"us-east-1": 10 + throttled}


def test_throttled_past_the_last_attempt_is_a_problem_naming_region_and_page(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    start = NOW - timedelta(hours=3)
    fake.seed(record("EnableKey", start + timedelta(minutes=i), i) for i in range(120))
    backoff = Backoff(attempts=2, base=0.001, cap=0.001)
    source = make_source(fake, clock, Window(start, NOW), rate=1000, backoff=backoff)

    found, problems = read(source)

    # Two calls from a full bucket, then the third page is throttled twice.
    assert len(found) == 100
    assert [p.where for p in problems.items] == ["lookup_events:us-east-1#page 3"]
    assert "still throttled after 2 attempts" in problems.items[0].message


def test_a_real_second_passes_between_three_calls_and_none_is_throttled() -> None:
    start = NOW - timedelta(hours=3)
    with serving(FakeCloudTrail(), lifetime=60) as fake:
        fake.seed(
            record("EnableKey", start + timedelta(minutes=i), i) for i in range(120)
        )
        source = LookupEventsSource(
            ["us-east-1"], Window(start, NOW), endpoint_url=fake.url, now=lambda: NOW
        )
        began = time.monotonic()

        found, problems = read(source)

        elapsed = time.monotonic() - began
    assert not problems
    assert len(found) == 120
    assert fake.calls == {"us-east-1": 3}
    assert fake.throttled == {}
    assert elapsed >= 1.0


# --- what cannot be read ----------------------------------------------------------


def test_a_bad_cloudtrail_event_is_a_problem_and_the_rest_is_read(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    fake.seed([record("EnableKey", NOW - timedelta(minutes=1), 1)])
    broken = record("DisableKey", NOW - timedelta(minutes=2), 2)
    fake.events.append(StoredEvent(broken, text='{"eventName": "DisableKey", '))
    fake.events.append(StoredEvent(record("DisableKey", NOW, 3), text="[1, 2]"))
    fake.seed([record("EnableKey", NOW - timedelta(minutes=3), 4)])

    found, problems = read(make_source(fake, clock, Window(NOW - timedelta(1), NOW)))

    assert ids(found) == ["us-east-1-EnableKey-1", "us-east-1-EnableKey-4"]
    assert [p.where for p in problems.items] == [
        "lookup_events:us-east-1#page 1[0]",
        "lookup_events:us-east-1#page 1[2]",
    ]
    assert "not a JSON object" in problems.items[0].message
    assert "not valid JSON" in problems.items[1].message


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_endpoint_is_a_problem_not_a_crash(clock: FakeClock) -> None:
    source = LookupEventsSource(
        ["us-east-1"],
        Window(NOW - timedelta(hours=1), NOW),
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        pacing=Pacing(clock, clock.sleep),
        now=lambda: NOW,
    )

    found, problems = read(source)

    assert found == []
    assert [p.where for p in problems.items] == ["lookup_events:us-east-1#page 1"]
    assert "ReadOnly=false" in problems.items[0].message


def test_a_region_that_fails_leaves_the_other_regions_read(
    fake: FakeCloudTrail, clock: FakeClock
) -> None:
    fake.seed([record("EnableKey", NOW - timedelta(minutes=1), 1, region="eu-west-1")])
    dead = f"http://127.0.0.1:{closed_port()}"

    def client(region: str, endpoint_url: str | None) -> Any:
        return cloudtrail_client(region, dead if region == "us-east-1" else fake.url)

    source = LookupEventsSource(
        ["us-east-1", "eu-west-1"],
        Window(NOW - timedelta(hours=1), NOW),
        client_factory=client,
        pacing=Pacing(clock, clock.sleep),
        now=lambda: NOW,
    )

    found, problems = read(source)

    assert ids(found) == ["eu-west-1-EnableKey-1"]
    assert [p.where for p in problems.items] == ["lookup_events:us-east-1#page 1"]


def test_an_access_error_is_a_problem_with_the_service_message(
    clock: FakeClock,
) -> None:
    # A request the server refuses (two lookup attributes) stands for any AWS error.
    with serving(FakeCloudTrail(clock=clock), lifetime=60) as fake:
        client = cloudtrail_client("us-east-1", fake.url)
        reader = lookup_events._Region(
            "us-east-1",
            client,
            RateLimiter(2, Pacing(clock, clock.sleep)),
            Backoff(),
            Pacing(clock, clock.sleep),
        )
        request = {"LookupAttributes": [{"AttributeKey": "X", "AttributeValue": "y"}]}
        with pytest.raises(lookup_events._CallFailed) as failed:
            reader._call(request, lookup_events.WRITES)
    assert failed.value.where == "lookup_events:us-east-1#page 0"
    assert "InvalidLookupAttributesException" in failed.value.message
    assert fake.calls == {"us-east-1": 1}


# --- how many calls ---------------------------------------------------------------


def busy_day(fake: FakeCloudTrail, start: datetime, other_writes: int) -> None:
    """100 KMS writes in five names among 20,000 reads over a day, and other writes."""
    names = ["PutKeyPolicy", "TagResource", "CreateGrant", "DisableKey", "CreateAlias"]
    day = 86400
    fake.seed(
        record(names[i % 5], start + timedelta(seconds=day * i / 100), i)
        for i in range(100)
    )
    fake.seed(
        record("Decrypt", start + timedelta(seconds=day * i / 20000), i, read_only=True)
        for i in range(20000)
    )
    fake.seed(
        record(
            "PutObjectTagging",
            start + timedelta(seconds=day * i / max(other_writes, 1)),
            i,
            source="s3.amazonaws.com",
        )
        for i in range(other_writes)
    )


@pytest.mark.parametrize("other_writes", [0, 5000])
def test_100_writes_among_20000_reads_take_at_most_the_target_calls(
    fake: FakeCloudTrail, clock: FakeClock, other_writes: int
) -> None:
    start = NOW - timedelta(days=1)
    busy_day(fake, start, other_writes)
    source = make_source(fake, clock, Window(start, NOW))

    found, problems = read(source)

    assert not problems
    assert len(found) == 100
    lower_bound = math.ceil(100 / 50)
    calls = source.calls["us-east-1"]
    assert calls <= 1.5 * lower_bound + NAMES
    assert fake.throttled == {}
    assert "EventSource=kms.amazonaws.com" not in fake.queries


# --- the plugin -------------------------------------------------------------------


def request(settings: dict[str, Any], regions: frozenset[str] = frozenset()) -> Any:
    return SimpleNamespace(
        settings=settings,
        inventory=SimpleNamespace(regions=regions),
        window=Window(NOW - timedelta(hours=1), NOW),
    )


def test_the_plugin_provides_nothing_without_a_section() -> None:
    assert lookup_events.tfdrift_event_sources(request({})) == []
    assert lookup_events.tfdrift_event_sources(request({"sources": {}})) == []


def test_the_plugin_queries_the_inventory_regions_and_the_configured_ones() -> None:
    settings = {
        "regions": ["us-east-1"],
        "sources": {"lookup_events": {"endpoint_url": "http://127.0.0.1:9"}},
    }
    found = lookup_events.tfdrift_event_sources(
        request(settings, frozenset({"eu-west-1", "ap-south-1"}))
    )

    assert [s.regions for s in found] == [("ap-south-1", "eu-west-1", "us-east-1")]
    assert found[0].endpoint_url == "http://127.0.0.1:9"
    assert found[0].max_requests_per_second == 2.0


def test_the_section_regions_replace_the_default_ones() -> None:
    section = {"regions": ["eu-central-1"], "max_requests_per_second": 1}
    settings = {"regions": ["us-east-1"], "sources": {"lookup_events": section}}

    (found,) = lookup_events.tfdrift_event_sources(
        request(settings, frozenset({"eu-west-1"}))
    )

    assert found.regions == ("eu-central-1",)
    assert found.max_requests_per_second == 1.0


def test_no_region_at_all_is_a_configuration_error() -> None:
    settings: dict[str, Any] = {"sources": {"lookup_events": {}}}
    with pytest.raises(LookupEventsError, match="no region to query"):
        lookup_events.tfdrift_event_sources(request(settings))


def test_a_rate_that_is_not_above_zero_is_a_configuration_error() -> None:
    section = {"regions": ["us-east-1"], "max_requests_per_second": 0}
    with pytest.raises(LookupEventsError, match="max_requests_per_second"):
        lookup_events.tfdrift_event_sources(
            request({"sources": {"lookup_events": section}})
        )
