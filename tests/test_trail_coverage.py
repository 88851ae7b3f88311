"""Trail coverage: a Region whose trail does not record KMS writes is a finding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tfdrift_hook.trail_coverage import trail_gaps

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="trail-logs")
        yield boto3.client("cloudtrail", region_name=REGION)


def client_for(region: str) -> Any:
    return boto3.client("cloudtrail", region_name=region)


def trail(client: Any, multi_region: bool = True, logging: bool = True) -> str:
    client.create_trail(
        Name="org", S3BucketName="trail-logs", IsMultiRegionTrail=multi_region
    )
    if logging:
        client.start_logging(Name="org")
    return "org"


def test_no_trail_at_all_is_a_gap(aws: Any) -> None:
    gaps = trail_gaps([REGION], client_for)

    assert [(gap.region, gap.reason) for gap in gaps] == [
        (REGION, "no trail records this Region")
    ]


def test_a_logging_multi_region_trail_with_default_selectors_covers(aws: Any) -> None:
    trail(aws)

    assert trail_gaps([REGION, "eu-west-1"], client_for) == []


def test_a_trail_that_is_not_logging_is_a_gap(aws: Any) -> None:
    trail(aws, logging=False)

    (gap,) = trail_gaps([REGION], client_for)
    assert gap.reason.endswith("is not logging")


def test_selectors_that_exclude_kms_or_writes_are_gaps(aws: Any) -> None:
    name = trail(aws)
    aws.put_event_selectors(
        TrailName=name,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
            }
        ],
    )

    (gap,) = trail_gaps([REGION], client_for)
    assert "selectors leave out KMS write events" in gap.reason


def test_advanced_selectors_for_reads_only_are_a_gap(aws: Any) -> None:
    name = trail(aws)
    aws.put_event_selectors(
        TrailName=name,
        AdvancedEventSelectors=[
            {
                "Name": "reads",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                ],
            }
        ],
    )

    (gap,) = trail_gaps([REGION], client_for)
    assert "selectors leave out KMS write events" in gap.reason


def test_a_single_region_trail_elsewhere_does_not_cover(aws: Any) -> None:
    trail(aws, multi_region=False)

    gaps = trail_gaps([REGION, "eu-west-1"], client_for)

    assert [gap.region for gap in gaps] == ["eu-west-1"]
