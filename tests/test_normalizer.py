"""The KMS event model: every supported call, and every real record, normalized."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import SUPPORTED_CALLS
from tfdrift_hook.actors import actor_from_record
from tfdrift_hook.events import KmsEvent
from tfdrift_hook.normalizer import READERS, normalize_record
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources.files import FileSource

KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"


def normalized(record: dict[str, Any]) -> KmsEvent:
    event = normalize_record(record, "test", actor_from_record(record))
    assert event is not None
    return event


def aws_doc(real_inputs: Path, name: str) -> dict[str, Any]:
    document = json.loads((real_inputs / "cloudtrail" / "aws-docs" / name).read_text())
    return document["Records"][0] if "Records" in document else document


def test_every_real_record_normalizes_without_an_exception(real_inputs: Path) -> None:
    problems = Problems()
    # userIdentity-variants.json holds identities, not records
    paths = [
        path
        for path in sorted((real_inputs / "cloudtrail").rglob("*.json"))
        if path.name != "userIdentity-variants.json"
    ]
    count = 0
    for record, where in FileSource(paths).records(problems):
        event = normalize_record(record, where, actor_from_record(record))
        if record.get("eventSource") == "kms.amazonaws.com":
            assert event is not None, where
            assert event.name == record["eventName"]
            count += 1
        else:
            assert event is None, where

    assert not problems, problems.items
    # 90 KMS records: 72 in the AWS doc examples, 11 captured, 7 in the fixtures
    assert count == 90


def test_the_25_modelled_calls_and_the_service_events() -> None:
    assert set(READERS) >= SUPPORTED_CALLS


def test_other_services_with_kms_call_names_are_not_kms_events() -> None:
    record = {"eventSource": "lambda.amazonaws.com", "eventName": "CreateAlias"}

    assert normalize_record(record, "test", actor_from_record(record)) is None


def test_create_key_with_external_origin_is_pending_import(real_inputs: Path) -> None:
    event = normalized(aws_doc(real_inputs, "ct-createkey-1.json"))

    assert event.values["key_state"] == "PendingImport"
    assert event.details["origin"] == "EXTERNAL"
    assert event.key is not None and event.key.key_id == KEY
    assert event.region == "us-west-2"


def test_create_key_takes_the_key_from_the_response_not_a_stray_resource(
    real_inputs: Path,
) -> None:
    # The published record lists another account's key in "resources".
    event = normalized(aws_doc(real_inputs, "ct-createkey-3.json"))

    assert event.key is not None
    assert event.key.key_arn() == f"arn:aws:kms:us-west-2:111122223333:key/{KEY}"


def test_update_alias_reads_alias_region_and_new_target(real_inputs: Path) -> None:
    event = normalized(aws_doc(real_inputs, "ct-updatealias.json"))

    assert event.alias == "alias/my_alias"
    assert event.values == {"target_key_id": KEY}
    assert event.region == "us-west-2"


def test_delete_alias_clears_name_and_target(real_inputs: Path) -> None:
    event = normalized(aws_doc(real_inputs, "ct-deletealias.json"))

    assert event.alias == "alias/my_alias"
    assert event.values == {"alias_name": None, "target_key_id": None}


def test_retire_grant_reads_the_grant_from_additional_event_data(
    real_inputs: Path,
) -> None:
    event = normalized(aws_doc(real_inputs, "ct-retire-grant.json"))

    assert event.details["grant_id"] == (
        "abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a"
    )
    assert event.values == {"grant": None}


def test_tags_are_a_merge_and_a_removal(real_inputs: Path) -> None:
    tagged = normalized(aws_doc(real_inputs, "ct-tagresource.json"))
    untagged = normalized(aws_doc(real_inputs, "ct-untagresource.json"))

    assert tagged.values == {"tags": {"set": {"Department": "IT"}}}
    assert untagged.values == {"tags": {"remove": ["Dept"]}}


def test_rotation_period_comes_from_the_request(real_inputs: Path) -> None:
    event = normalized(
        aws_doc(real_inputs, "current-EnableKeyRotation-rotationPeriod.json")
    )

    assert event.values == {"enable_key_rotation": True, "rotation_period_in_days": 180}


def test_replicate_key_targets_the_replica_region(real_inputs: Path) -> None:
    event = normalized(aws_doc(real_inputs, "ct-replicate-key.repaired.json"))

    replica = event.details["replica_key"]
    assert (replica.region, replica.key_id) == ("us-west-2", KEY)
    assert event.key is not None and event.key.region == "us-east-1"


@pytest.mark.parametrize("name", ["ct-rotatekey.json", "ct-delete-key-1.json"])
def test_service_events_are_marked(real_inputs: Path, name: str) -> None:
    event = normalized(aws_doc(real_inputs, name))

    assert event.service_event
    assert event.actor.name == "AWS KMS (scheduled)"


def test_a_failed_call_changes_nothing() -> None:
    record = {
        "eventSource": "kms.amazonaws.com",
        "eventName": "DisableKey",
        "eventTime": "2026-11-30T10:00:00Z",
        "awsRegion": "us-east-1",
        "errorCode": "AccessDeniedException",
        "requestParameters": {"keyId": KEY},
    }

    event = normalized(record)

    assert event.failed and event.values == {}


def test_read_only_falls_back_to_the_call_name_when_the_flag_is_missing() -> None:
    base = {"eventSource": "kms.amazonaws.com", "eventTime": "2026-11-30T10:00:00Z"}

    assert normalized({**base, "eventName": "Decrypt"}).read_only
    assert not normalized({**base, "eventName": "DisableKey"}).read_only
    # an unknown call is never dropped as a read
    unknown = normalized({**base, "eventName": "SomeNewCall"})
    assert not unknown.read_only and unknown.details["unmodelled"]


def test_a_record_without_event_time_is_an_error() -> None:
    record = {"eventSource": "kms.amazonaws.com", "eventName": "DisableKey"}

    with pytest.raises(ValueError):
        normalized(record)
