"""The bundled examples agree with each other (no terraform needed).

examples/cloudtrail is written from examples/terraform/terraform.tfstate by
examples/cloudtrail_examples.py; these tests catch a hand edit of one without the
other, and check the shapes a reader of those files relies on.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_terraform import PROJECT_ROOT, instances

from tests.kms_state import SUPPORTED_CALLS

EXAMPLES = PROJECT_ROOT / "examples"
CLOUDTRAIL = EXAMPLES / "cloudtrail"
TRAIL_NAME = re.compile(
    r"AWSLogs/123456789012/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d\d)/"
    r"(?P<d>\d\d)/123456789012_CloudTrail_(?P=region)_(?P=y)(?P=m)(?P=d)T\d{4}Z_"
    r"[A-Za-z0-9]{16}\.json\.gz"
)


@pytest.fixture(scope="module")
def generator() -> Iterator[Any]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import cloudtrail_examples

        yield cloudtrail_examples
    finally:
        sys.path.remove(str(EXAMPLES))


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "README.md"
    }


def _all_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in sorted(CLOUDTRAIL.rglob("*.json.gz")):
        records += json.loads(gzip.decompress(path.read_bytes()))["Records"]
    records += json.loads(
        (CLOUDTRAIL / "exports" / "priya-raman-event-history.json").read_text()
    )["Records"]
    jsonl = (CLOUDTRAIL / "siem" / "kms-and-s3-2026-11.jsonl").read_text()
    records += [json.loads(line) for line in jsonl.splitlines()]
    lookup = json.loads(
        (CLOUDTRAIL / "lookup-events" / "username-alice.json").read_text()
    )
    records += [json.loads(event["CloudTrailEvent"]) for event in lookup["Events"]]
    return records


def test_cloudtrail_files_are_what_the_state_writes(
    generator: Any, committed_example_state: dict[str, Any], tmp_path: Path
) -> None:
    generator.write_all(committed_example_state, tmp_path)

    assert _tree(tmp_path) == _tree(CLOUDTRAIL), "run examples/regenerate.py"


def test_readme_table_is_current(
    generator: Any, committed_example_state: dict[str, Any]
) -> None:
    table = generator.events_table(generator.examples(committed_example_state))

    assert table in (CLOUDTRAIL / "README.md").read_text(encoding="utf-8")


def test_trail_files_follow_the_s3_layout() -> None:
    names = [
        str(path.relative_to(CLOUDTRAIL)) for path in CLOUDTRAIL.rglob("*.json.gz")
    ]

    assert names
    assert [name for name in names if not TRAIL_NAME.fullmatch(name)] == []


def test_every_record_is_in_one_file_once() -> None:
    ids = [record["eventID"] for record in _all_records()]

    assert len(ids) == len(set(ids)) == 39


def test_managed_keys_in_records_are_the_keys_of_the_state(
    committed_example_state: dict[str, Any],
) -> None:
    state_keys = {
        attributes["arn"]
        for address, attributes in instances(committed_example_state).items()
        if ".aws_kms_key." in f".{address}"
    }
    named = {
        resource["ARN"]
        for record in _all_records()
        for resource in record.get("resources") or []
        if ":key/" in resource["ARN"]
    }
    unmanaged = {arn for arn in named if arn not in state_keys}

    assert state_keys <= named
    assert {arn.rsplit("/", 1)[1] for arn in unmanaged} == {
        "b7e2c9a4-3f1d-4c8e-a6b5-0d9f8e7c6a51",
        "mrk-5d8a2f1c9e7b4a3d8c6f0e1b2a3c4d5e",
    }


def test_every_supported_event_name_appears() -> None:
    names = {
        record["eventName"]
        for record in _all_records()
        if record["eventSource"] == "kms.amazonaws.com"
    }

    assert names >= SUPPORTED_CALLS | {"Decrypt", "GenerateDataKey"}


def test_records_fall_in_late_november_2026() -> None:
    times = sorted(record["eventTime"] for record in _all_records())

    assert times[0] >= "2026-11-23T16:40:00Z"
    assert times[-1] <= "2026-11-30T23:59:59Z"
