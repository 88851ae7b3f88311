"""A trail's log files read from S3 (moto, in-process): days, keys, faults, filter."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tfdrift_hook.inventory import Inventory, ManagedResource
from tfdrift_hook.pipeline import CheckRequest
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources import s3_trail
from tfdrift_hook.sources.files import SourceRecord
from tfdrift_hook.sources.s3_trail import S3TrailError, S3TrailSource
from tfdrift_hook.window import Window

BUCKET = "trail-bucket"
ALICE, BOB = "111111111111", "222222222222"
ACCOUNTS = (ALICE, BOB)
REGIONS = ("eu-west-1", "us-east-1")
#: The window's days; the day before and the day after hold poison objects.
DAYS = ("2026/03/01", "2026/03/02", "2026/03/03")
OUTSIDE = ("2026/02/28", "2026/03/04")
SINCE = datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)
#: Noon: an hour of delivery margin still ends on the 3rd.
UNTIL = datetime(2026, 3, 3, 12, 0, tzinfo=timezone.utc)
KMS = frozenset({"kms.amazonaws.com"})


def event(name: str, source: str, event_id: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": "2026-03-02T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": event_id,
    }


def day_folder(account: str, region: str, day: str, root: str = "AWSLogs/") -> str:
    return f"{root}{account}/CloudTrail/{region}/{day}/"


def log_key(folder: str, account: str, region: str, day: str) -> str:
    stamp = day.replace("/", "")
    return f"{folder}{account}_CloudTrail_{region}_{stamp}T0105Z_a1b2.json.gz"


def put(client: Any, key: str, body: bytes) -> None:
    client.put_object(Bucket=BUCKET, Key=key, Body=body)


def put_log(client: Any, key: str, records: list[dict[str, Any]]) -> None:
    put(client, key, gzip.compress(json.dumps({"Records": records}).encode()))


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def trail(s3: Any) -> list[str]:
    """One object for each account, region and day: a KMS write and an S3 call.

    Returns the twelve keys inside the window, in key order.
    """
    keys = []
    for account in ACCOUNTS:
        for region in REGIONS:
            for day in DAYS + OUTSIDE:
                key = log_key(day_folder(account, region, day), account, region, day)
                name = "PutKeyPolicy" if day in DAYS else "Poison"
                records = [
                    event(name, "kms.amazonaws.com", f"{key}-kms"),
                    event("GetObject", "s3.amazonaws.com", f"{key}-s3"),
                ]
                put_log(s3, key, records)
                keys += [key] if day in DAYS else []
    return sorted(keys)


def source(client: Any, **options: Any) -> S3TrailSource:
    settings: dict[str, Any] = {
        "bucket": BUCKET,
        "accounts": ACCOUNTS,
        "regions": REGIONS,
        "since": SINCE,
        "until": UNTIL,
        "client": client,
        "progress": False,
        **options,
    }
    return S3TrailSource(**settings)


def read(
    client: Any, sources: frozenset[str] | None = None, **options: Any
) -> tuple[list[SourceRecord], Problems]:
    problems = Problems()
    found = list(source(client, **options).records(problems, sources))
    return found, problems


def wheres(found: list[SourceRecord]) -> list[str]:
    return [item.where for item in found]


def problem_wheres(problems: Problems) -> list[str]:
    return [problem.where for problem in problems.items]


def url(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def refuse(
    client: Any, operation: str, code: str, status: int, matches: Callable[..., bool]
) -> None:
    """Answer ``operation`` with an AWS error whenever ``matches(request)`` holds."""

    class Answer:
        status_code = status

    def answer(params: dict[str, Any], **_: Any) -> Any:
        if not matches(params):
            return None
        error = {"Code": code, "Message": f"{code} (test)"}
        return Answer(), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    client.meta.events.register(f"before-call.s3.{operation}", answer)


def test_reads_every_account_region_and_day_of_the_window_in_key_order(
    s3: Any, trail: list[str]
) -> None:
    found, problems = read(s3)

    # 2 accounts x 2 regions x 3 days, two records an object.
    expected = [f"{url(key)}#Records[{n}]" for key in trail for n in (0, 1)]
    assert wheres(found) == expected
    assert len(found) == 24
    assert "Poison" not in {item.record["eventName"] for item in found}
    assert not problems


def test_lists_only_the_day_folders_the_window_touches(
    s3: Any, trail: list[str]
) -> None:
    listed: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        listed.append(params["Prefix"])

    s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", note)
    read(s3)

    expected = [
        day_folder(account, region, day)
        for account in ACCOUNTS
        for region in REGIONS
        for day in DAYS
    ]
    assert sorted(listed) == sorted(expected)
    assert len(listed) == 12


def test_a_window_ending_late_in_the_day_lists_the_next_day_for_late_delivery(
    s3: Any,
) -> None:
    late = datetime(2026, 3, 3, 23, 30, tzinfo=timezone.utc)
    prefixes = source(s3, until=late, accounts=[ALICE], regions=["us-east-1"])

    assert prefixes.prefixes() == [
        day_folder(ALICE, "us-east-1", day) for day in (*DAYS, "2026/03/04")
    ]


def test_event_sources_filter_keeps_only_the_kms_records(
    s3: Any, trail: list[str]
) -> None:
    found, problems = read(s3, KMS)

    assert wheres(found) == [f"{url(key)}#Records[0]" for key in trail]
    assert {item.record["eventSource"] for item in found} == {"kms.amazonaws.com"}
    assert not problems


def test_corrupt_objects_are_reported_by_key_and_the_others_still_read(
    s3: Any, trail: list[str]
) -> None:
    folder = day_folder(ALICE, "us-east-1", "2026/03/02")
    cut_short = f"{folder}{ALICE}_CloudTrail_us-east-1_20260302T0110Z_cut.json.gz"
    bad_json = f"{folder}{ALICE}_CloudTrail_us-east-1_20260302T0115Z_bad.json.gz"
    whole = gzip.compress(json.dumps({"Records": [event("X", "kms", "x")]}).encode())
    put(s3, cut_short, whole[: len(whole) // 2])
    put(s3, bad_json, gzip.compress(b'{"Records": [{"eventName": "X",}]}'))

    found, problems = read(s3)

    assert problem_wheres(problems) == [url(cut_short), url(bad_json)]
    assert "is not a readable gzip file" in problems.items[0].message
    assert "is not valid JSON" in problems.items[1].message
    assert len(found) == 24


def test_objects_that_cannot_be_fetched_are_reported_by_key(
    s3: Any, trail: list[str]
) -> None:
    denied, gone = trail[0], trail[5]
    refuse(s3, "GetObject", "AccessDenied", 403, lambda req: denied in req["url_path"])
    refuse(s3, "GetObject", "NoSuchKey", 404, lambda req: gone in req["url_path"])

    found, problems = read(s3)

    assert problem_wheres(problems) == [url(denied), url(gone)]
    assert "AccessDenied" in problems.items[0].message
    assert "s3:GetObject" in problems.items[0].fix
    assert "NoSuchKey" in problems.items[1].message
    # Twelve objects of two records, two of them unread.
    assert len(found) == 20


def test_a_folder_that_cannot_be_listed_is_reported_by_prefix(
    s3: Any, trail: list[str]
) -> None:
    folder = day_folder(BOB, "eu-west-1", "2026/03/03")

    def matches(request: dict[str, Any]) -> bool:
        return bool(request["query_string"].get("prefix") == folder)

    refuse(s3, "ListObjectsV2", "AccessDenied", 403, matches)

    found, problems = read(s3)

    assert problem_wheres(problems) == [url(folder)]
    assert "cannot be listed: AccessDenied" in problems.items[0].message
    assert len(found) == 22


def test_a_missing_bucket_is_one_problem_not_one_per_folder(s3: Any) -> None:
    found, problems = read(s3, bucket="no-such-bucket")

    assert found == []
    assert problem_wheres(problems) == ["s3://no-such-bucket"]
    assert "NoSuchBucket" in problems.items[0].message


def test_an_organization_trail_is_read_under_its_prefix_and_id(s3: Any) -> None:
    root = "org-logs/AWSLogs/o-abc123/"
    folder = day_folder(ALICE, "us-east-1", "2026/03/02", root)
    key = log_key(folder, ALICE, "us-east-1", "2026/03/02")
    put_log(s3, key, [event("DisableKey", "kms.amazonaws.com", "org-1")])
    # The same account's own trail, which an organisation source does not read.
    own = log_key(day_folder(ALICE, "us-east-1", "2026/03/02"), ALICE, "us-east-1", "x")
    put_log(s3, own, [event("Poison", "kms.amazonaws.com", "own-1")])

    found, problems = read(
        s3,
        accounts=[ALICE],
        regions=["us-east-1"],
        prefix="/org-logs/",
        organization_id="o-abc123",
    )

    assert wheres(found) == [f"{url(key)}#Records[0]"]
    assert not problems


def test_digest_files_are_skipped(s3: Any) -> None:
    folder = day_folder(ALICE, "us-east-1", "2026/03/02")
    log = log_key(folder, ALICE, "us-east-1", "2026/03/02")
    put_log(s3, log, [event("EnableKey", "kms.amazonaws.com", "log-1")])
    digest = f"AWSLogs/{ALICE}/CloudTrail-Digest/us-east-1/2026/03/02/d.json.gz"
    put(s3, digest, gzip.compress(b'{"digestStartTime": "x", "logFiles": []}'))
    # A digest name inside the log folder, holding records: the name decides.
    stray = f"{folder}{ALICE}_CloudTrail-Digest_us-east-1_20260302T0200Z.json.gz"
    put_log(s3, stray, [event("Poison", "kms.amazonaws.com", "digest-1")])

    found, problems = read(s3, accounts=[ALICE], regions=["us-east-1"])

    assert wheres(found) == [f"{url(log)}#Records[0]"]
    assert not problems


def test_only_a_bounded_number_of_objects_is_fetched_ahead(
    s3: Any, trail: list[str]
) -> None:
    fetched: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        fetched.append(params["Key"])

    s3.meta.events.register("before-parameter-build.s3.GetObject", note)
    records = source(s3, max_workers=2).records(Problems())

    first = next(records)

    # Two threads, two objects each ahead of the reader, of twelve.
    assert first.where == f"{url(trail[0])}#Records[0]"
    assert len(fetched) <= 4
    assert len(list(records)) == 23
    assert sorted(fetched) == trail


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    s3: Any, trail: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    found, _ = read(s3, progress=None)

    assert len(found) == 24
    assert capsys.readouterr().err == ""


# --- settings ---------------------------------------------------------------------


def inventory() -> Inventory:
    key = ManagedResource(
        address="aws_kms_key.app",
        type="aws_kms_key",
        region="eu-west-1",
        account=BOB,
        key_id="6f2d8c1e-4b7a-4e59-9d3c-2a1b0c9e8f71",
        arn=None,
    )
    return Inventory([key], source="terraform.tfstate")


def request(
    s3_section: dict[str, Any] | None, window: Window | None = None
) -> CheckRequest:
    settings: dict[str, Any] = {"regions": ["us-east-1"]}
    if s3_section is not None:
        settings["sources"] = {"s3": s3_section}
    return CheckRequest(
        inventory=inventory(), window=window or Window(SINCE, UNTIL), settings=settings
    )


def test_the_hook_provides_nothing_without_an_s3_section() -> None:
    assert s3_trail.tfdrift_event_sources(request(None)) == []


def test_accounts_and_regions_default_to_the_inventory_and_top_level_regions(
    s3: Any,
) -> None:
    (found,) = s3_trail.tfdrift_event_sources(request({"bucket": BUCKET}))

    assert found.name == "s3"
    assert found.accounts == (BOB,)
    assert found.regions == ("eu-west-1", "us-east-1")
    assert found.max_workers == 8
    assert (found.since, found.until) == (SINCE, UNTIL)


def test_configured_accounts_and_regions_replace_the_defaults(s3: Any) -> None:
    section = {"bucket": BUCKET, "accounts": [ALICE], "regions": ["ap-south-1"]}

    (found,) = s3_trail.tfdrift_event_sources(request(section))

    assert (found.accounts, found.regions) == ((ALICE,), ("ap-south-1",))


def test_a_window_without_bounds_reads_the_last_ninety_days(s3: Any) -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)
    section = {"bucket": BUCKET, "accounts": [ALICE], "regions": ["us-east-1"]}

    found = s3_trail.source_from_settings(
        section, request(section, Window()), lambda: now
    )

    assert (found.since, found.until) == (now - timedelta(days=90), now)
    # 31 December 2025 to 31 March 2026: 1 + 31 + 28 + 31 days, a folder each.
    prefixes = found.prefixes()
    assert len(prefixes) == 91
    assert prefixes[0].endswith("/2025/12/31/")
    assert prefixes[-1].endswith("/2026/03/31/")


@pytest.mark.parametrize(
    ("section", "mentions"),
    [
        ({"prefix": "x"}, "sources.s3.bucket"),
        ({"bucket": BUCKET, "organization_id": "abc123"}, "organization_id"),
        ({"bucket": BUCKET, "max_workers": 0}, "max_workers"),
    ],
)
def test_settings_that_cannot_work_are_an_error_naming_the_key(
    s3: Any, section: dict[str, Any], mentions: str
) -> None:
    with pytest.raises(S3TrailError, match=mentions):
        s3_trail.tfdrift_event_sources(request(section))


def test_a_state_without_accounts_needs_them_configured(s3: Any) -> None:
    empty = CheckRequest(
        inventory=Inventory([], source="terraform.tfstate"),
        settings={"sources": {"s3": {"bucket": BUCKET}}},
    )

    with pytest.raises(S3TrailError, match="sources.s3.accounts"):
        s3_trail.tfdrift_event_sources(empty)


def test_a_terminal_gets_a_progress_bar_of_the_bytes_to_read(s3: Any) -> None:
    from tqdm import tqdm

    with source(s3, progress=True)._bar(4096) as bar:
        assert isinstance(bar, tqdm)
        assert bar.total == 4096
