"""``tfdrift-hook check`` end to end in-process: exit codes, window, order, reports."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    ACCOUNT,
    KEY_0987,
    KEY_1234,
    check_json,
    key_arn,
    kms_alias,
    kms_key,
    run_cli,
    write_records,
    write_state,
)

ALICE = {
    "type": "IAMUser",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "userName": "alice",
}
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/terraform-ci"
PIPELINE = {
    "type": "AssumedRole",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/terraform-ci/run-42",
    "accountId": ACCOUNT,
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "arn": PIPELINE_ROLE,
            "userName": "terraform-ci",
        },
        "attributes": {"mfaAuthenticated": "false"},
    },
}
TERRAFORM_AGENT = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) "
    "terraform-provider-aws/5.100.0 aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24"
)


def record(
    name: str,
    request: dict[str, Any],
    time: str,
    event_id: str,
    identity: dict[str, Any] = ALICE,
    agent: str = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-west-2",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        **extra,
    }


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return write_state(
        tmp_path,
        kms_key("app", KEY_1234, index="payments", module="module.kms"),
        kms_key("logs", KEY_0987),
        kms_alias("app", "alias/app", KEY_1234),
    )


APP = 'module.kms.aws_kms_key.app["payments"]'


def test_a_key_disabled_and_enabled_again_is_reverted_not_dropped(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "d1"),
        record("EnableKey", {"keyId": KEY_1234}, "2026-11-30T10:05:00Z", "e1"),
    )

    run = check_json(state, events, extra=("--fail-on", "notice"))

    assert run.rules() == ["kms_key_disabled", "kms_key_enabled"]
    assert {item["status"] for item in run.findings} == {"reverted"}
    disabled = next(item for item in run.findings if item["event"] == "DisableKey")
    assert disabled["changes"]["key_state"] == {
        "before": "Enabled",
        "after": "Disabled",
        "reverted": True,
    }
    assert disabled["address"] == APP


def test_events_apply_in_event_order_whatever_the_file_order(
    state: Path, tmp_path: Path
) -> None:
    later = record(
        "UpdateKeyDescription",
        {"keyId": KEY_1234, "description": "second"},
        "2026-11-30T11:00:00Z",
        "u2",
    )
    earlier = record(
        "UpdateKeyDescription",
        {"keyId": KEY_1234, "description": "first"},
        "2026-11-30T10:00:00Z",
        "u1",
    )
    events = write_records(tmp_path, "events.json", later, earlier)

    run = check_json(state, events)

    changes = [item["changes"]["description"] for item in run.findings]
    assert changes == [
        {"before": "app key", "after": "first"},
        {"before": "first", "after": "second"},
    ]
    assert run.exit_code == 0  # notice is below the default --fail-on error


def test_the_same_record_in_two_files_counts_once(state: Path, tmp_path: Path) -> None:
    disable = record(
        "DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "same-id"
    )
    first = write_records(tmp_path, "a.json", disable)
    second = tmp_path / "b.json.gz"
    second.write_bytes(gzip.compress(json.dumps({"Records": [disable]}).encode()))

    run = check_json(state, first, second)

    assert run.rules() == ["kms_key_disabled"]


def test_since_and_until_bound_the_window(state: Path, tmp_path: Path) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-29T23:59:59Z", "before"),
        record(
            "DisableKeyRotation", {"keyId": KEY_1234}, "2026-11-30T12:00:00Z", "inside"
        ),
        record("DisableKey", {"keyId": KEY_0987}, "2026-12-01T00:00:01Z", "after"),
    )
    window = ("--since", "2026-11-30T00:00:00Z", "--until", "2026-12-01T00:00:00Z")

    run = check_json(state, events, extra=window)

    assert [item["event_id"] for item in run.findings] == ["inside"]


def test_a_relative_since_reaches_back_from_now(state: Path, tmp_path: Path) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2020-01-01T00:00:00Z", "old"),
    )

    run = check_json(state, events, extra=("--since", "7d"))

    assert run.findings == []
    assert run.exit_code == 0


def test_a_bad_window_bound_is_a_usage_error(state: Path, tmp_path: Path) -> None:
    events = write_records(tmp_path, "events.json")

    run = check_json(state, events, extra=("--since", "last tuesday"))

    assert run.exit_code == 2
    assert "--since 'last tuesday' is neither an ISO-8601 time" in run.stderr


def test_a_broken_file_makes_the_run_incomplete_and_the_rest_is_still_read(
    state: Path, tmp_path: Path
) -> None:
    good = write_records(
        tmp_path,
        "good.json",
        record(
            "ScheduleKeyDeletion",
            {"keyId": KEY_1234, "pendingWindowInDays": 7},
            "2026-11-30T10:00:00Z",
            "s1",
        ),
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"Records": [{"eventName": "DisableKey",}]}', encoding="utf-8")

    run = check_json(state, good, broken)

    assert run.exit_code == 3
    assert run.rules() == ["kms_key_deletion_scheduled"]
    finding = run.findings[0]
    # no deletionDate in the response: eventTime plus the 7-day window
    assert finding["changes"]["deletion_date"]["after"] == "2026-12-07T10:00:00Z"
    assert str(broken) in run.stderr


def test_the_text_report_says_incomplete_before_the_findings(
    state: Path, tmp_path: Path
) -> None:
    good = write_records(
        tmp_path,
        "good.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "d1"),
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    run = run_cli("check", "--state", state, "--events", good, "--events", broken)

    assert run.exit_code == 3
    lines = run.stdout.splitlines()
    incomplete = next(
        i for i, line in enumerate(lines) if line.startswith("INCOMPLETE")
    )
    finding = next(i for i, line in enumerate(lines) if "kms_key_disabled" in line)
    assert incomplete < finding
    assert "Result INCOMPLETE" in run.stdout


def test_the_text_report_groups_by_address_with_who_when_and_channel(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKeyRotation", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "r1"),
        record(
            "UpdateAlias",
            {"aliasName": "alias/app", "targetKeyId": KEY_0987},
            "2026-11-30T10:01:00Z",
            "a1",
        ),
    )

    run = run_cli("check", "--state", state, "--events", events)

    assert run.exit_code == 1
    text = run.stdout
    assert f"{APP}  {key_arn(KEY_1234)}" in text
    assert f"aws_kms_alias.app  arn:aws:kms:us-west-2:{ACCOUNT}:alias/app" in text
    assert "ERROR  kms_key_rotation_disabled" in text
    assert "DisableKeyRotation at 2026-11-30T10:00:00Z, out of band" in text
    assert f"who: alice (IAMUser arn:aws:iam::{ACCOUNT}:user/alice, via cli" in text
    assert "enable_key_rotation: True -> False" in text
    assert f"target_key_id: {KEY_1234} -> {KEY_0987}" in text
    assert "2 at or above --fail-on error: this run is stopped (exit 1)." in text


def test_terraform_from_the_trusted_pipeline_is_in_band(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policy": _policy("role/app")},
            "2026-11-30T10:00:00Z",
            "p1",
            identity=PIPELINE,
            agent=TERRAFORM_AGENT,
        ),
    )

    trusted = check_json(state, events, extra=("--trusted-principal", PIPELINE_ROLE))
    untrusted = check_json(state, events)

    assert trusted.findings == [] and trusted.exit_code == 0
    assert untrusted.rules() == [
        "kms_key_policy_modified",
        "kms_terraform_outside_pipeline",
    ]
    assert {item["status"] for item in untrusted.findings} == {
        "terraform_outside_pipeline"
    }


def test_a_forged_terraform_agent_from_another_principal_is_not_in_band(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "DisableKey",
            {"keyId": KEY_1234},
            "2026-11-30T10:00:00Z",
            "f1",
            agent=TERRAFORM_AGENT,
        ),
    )

    run = check_json(state, events, extra=("--trusted-principal", PIPELINE_ROLE))

    assert run.rules() == ["kms_key_disabled", "kms_terraform_outside_pipeline"]


def test_a_policy_opened_to_another_account_is_critical(
    state: Path, tmp_path: Path
) -> None:
    external = "arn:aws:iam::444455556666:root"
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policy": _policy(external)},
            "2026-11-30T10:00:00Z",
            "p1",
        ),
    )

    run = check_json(state, events)

    finding = next(
        i for i in run.findings if i["rule"] == "kms_key_policy_external_grant"
    )
    assert finding["priority"] == "critical"
    assert finding["changes"]["policy"]["added_principals"] == [external]
    assert finding["changes"]["policy"]["external_principals"] == [external]
    assert finding["changes"]["policy_name"] == "default"
    assert external in finding["output"]


def test_an_alias_created_in_the_window_resolves_later_calls(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "CreateAlias",
            {"aliasName": "alias/temp", "targetKeyId": KEY_0987},
            "2026-11-30T10:00:00Z",
            "c1",
        ),
        record("DisableKey", {"keyId": "alias/temp"}, "2026-11-30T10:01:00Z", "d1"),
    )

    run = check_json(state, events, extra=("--fail-on", "warning"))

    disabled = next(i for i in run.findings if i["rule"] == "kms_key_disabled")
    assert disabled["address"] == "aws_kms_key.logs"
    assert "kms_unmanaged_alias_created" in run.rules()


def test_an_unknown_format_names_the_known_ones(state: Path, tmp_path: Path) -> None:
    events = write_records(tmp_path, "events.json")

    run = run_cli("check", "--state", state, "--events", events, "--format", "xml")

    assert run.exit_code == 2
    known = "github, json, markdown, sarif, text"
    assert f"--format 'xml' is not known (use one of: {known})" in run.stderr


def test_a_missing_state_file_is_an_input_error(tmp_path: Path) -> None:
    run = run_cli("check", "--state", tmp_path / "nope.tfstate")

    assert run.exit_code == 2
    assert "nope.tfstate" in run.stderr


def test_every_json_line_carries_the_coverage_documents_keys(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "d1"),
    )

    run = check_json(state, events)

    line = run.findings[0]
    for key in (
        "service",
        "event",
        "resource",
        "changes",
        "user",
        "timestamp",
        "address",
        "rule",
        "priority",
        "status",
        "actor",
        "event_id",
        "region",
        "account",
        "output",
    ):
        assert key in line
    assert line["service"] == "kms"
    assert line["timestamp"] == "2026-11-30T10:00:00Z"


def _policy(principal: str) -> str:
    aws = (
        principal
        if principal.startswith("arn:")
        else f"arn:aws:iam::{ACCOUNT}:{principal}"
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "Use",
                    "Effect": "Allow",
                    "Principal": {"AWS": aws},
                    "Action": ["kms:Decrypt", "kms:Encrypt"],
                    "Resource": "*",
                },
            ],
        }
    )


def test_a_check_with_no_event_source_is_a_usage_error(state: Path) -> None:
    run = run_cli("check", "--state", state)

    assert run.exit_code == 2
    assert "no event source: give --events PATH" in run.stderr


def test_a_kms_write_this_version_does_not_model_is_shown_not_dropped(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("FrobnicateKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "n1"),
        record(
            "ConnectCustomKeyStore",
            {"customKeyStoreId": "cks-1"},
            "2026-11-30T10:01:00Z",
            "k1",
        ),
    )

    run = check_json(state, events, extra=("--fail-on", "warning"))

    assert run.rules() == ["kms_unmodelled_call"]
    finding = run.findings[0]
    assert finding["status"] == "unmodelled"
    assert finding["address"] == APP
    assert run.exit_code == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventTime": None}, "eventTime is missing or not a string"),
        ({"eventTime": "yesterday"}, "eventTime 'yesterday' is not an ISO-8601 time"),
        ({"eventName": 5}, "eventName is missing or not a string"),
        (
            {
                "eventName": "TagResource",
                "requestParameters": {"keyId": KEY_1234, "tags": "x"},
            },
            "requestParameters.tags is str, not a list",
        ),
    ],
)
def test_a_broken_kms_record_is_named_and_the_others_still_count(
    state: Path, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    broken = {
        **record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "b1"),
        **change,
    }
    good = record(
        "DisableKeyRotation", {"keyId": KEY_1234}, "2026-11-30T10:05:00Z", "g1"
    )
    events = write_records(tmp_path, "events.json", broken, good)

    run = check_json(state, events)

    assert run.exit_code == 3
    assert run.rules() == ["kms_key_rotation_disabled"]
    assert f"{events}#Records[0]" in run.stderr
    assert message in run.stderr


def test_a_record_without_a_region_still_finds_its_key(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "DisableKey",
            {"keyId": KEY_0987},
            "2026-11-30T10:00:00Z",
            "r1",
            awsRegion=None,
        ),
    )

    run = check_json(state, events)

    finding = run.findings[0]
    assert finding["address"] == "aws_kms_key.logs"
    assert finding["resource"] == key_arn(KEY_0987)


def test_an_unreadable_previous_policy_does_not_hide_a_new_external_grant(
    state: Path, tmp_path: Path
) -> None:
    external = "arn:aws:iam::444455556666:root"
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policy": "{not json"},
            "2026-11-30T10:00:00Z",
            "p1",
        ),
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policy": _policy(external)},
            "2026-11-30T10:05:00Z",
            "p2",
        ),
    )

    run = check_json(state, events)

    grant = next(
        i for i in run.findings if i["rule"] == "kms_key_policy_external_grant"
    )
    assert grant["event_id"] == "p2"
    assert grant["changes"]["policy"]["external_principals"] == [external]
    first = next(i for i in run.findings if i["event_id"] == "p1")
    assert "cannot be read" in first["changes"]["policy"]["policy_error"]


def test_two_different_calls_with_one_event_id_are_both_read(
    state: Path, tmp_path: Path
) -> None:
    first = write_records(
        tmp_path,
        "a.json",
        record("EnableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "same"),
    )
    second = write_records(
        tmp_path,
        "b.json",
        record(
            "ScheduleKeyDeletion", {"keyId": KEY_1234}, "2026-11-30T10:05:00Z", "same"
        ),
    )

    run = check_json(state, first, second)

    assert "kms_key_deletion_scheduled" in run.rules()
    assert "eventID same also names a different call" in run.stderr


def test_values_anyone_can_set_cannot_drive_the_terminal(
    state: Path, tmp_path: Path
) -> None:
    sneaky = (
        "x\u001b[2J\n0 findings (none).\nNothing at or above --fail-on error (exit 0)."
    )
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "UpdateKeyDescription",
            {"keyId": KEY_1234, "description": sneaky},
            "2026-11-30T10:00:00Z",
            "d1",
        ),
    )

    run = run_cli("check", "--state", state, "--events", events)

    assert "\u001b" not in run.stdout
    assert "x\\x1b[2J\\x0a0 findings (none).\\x0aNothing at or above" in run.stdout
    lines = run.stdout.splitlines()
    assert not any(line.startswith("0 findings") for line in lines)


def test_calls_in_the_same_second_keep_the_trails_order(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "zzz"),
        record("EnableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "aaa"),
    )

    run = check_json(state, events, extra=("--fail-on", "notice"))

    disabled = next(i for i in run.findings if i["event"] == "DisableKey")
    assert disabled["changes"]["key_state"]["before"] == "Enabled"
    assert {item["status"] for item in run.findings} == {"reverted"}


def test_writes_against_a_state_without_kms_resources_are_incomplete(
    tmp_path: Path,
) -> None:
    empty = write_state(tmp_path)
    events = write_records(
        tmp_path,
        "events.json",
        record("ScheduleKeyDeletion", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "s"),
    )

    run = check_json(empty, events)

    assert run.exit_code == 3
    assert "holds no KMS resource, yet 1 KMS writes were read" in run.stderr


def test_with_the_normalizer_disabled_kms_writes_are_not_silently_lost(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFDRIFT_HOOK_DISABLE_PLUGINS", "kms-normalizer")
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "d1"),
    )

    run = check_json(state, events)

    assert run.exit_code == 3
    assert "no normalizer plugin made an event of this KMS record" in run.stderr


def test_with_every_rule_disabled_the_check_refuses_to_run(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFDRIFT_HOOK_DISABLE_PLUGINS", "builtin-rules")
    events = write_records(tmp_path, "events.json")

    run = check_json(state, events)

    assert run.exit_code == 2
    assert "no rule is loaded or enabled" in run.stderr


def test_tags_from_the_providers_default_tags_count(tmp_path: Path) -> None:
    state = write_state(
        tmp_path,
        kms_key("app", KEY_1234, tags={}, tags_all={"owner": "platform"}),
    )
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "UntagResource",
            {"keyId": KEY_1234, "tagKeys": ["owner"]},
            "2026-11-30T10:00:00Z",
            "u1",
        ),
    )

    run = check_json(state, events)

    assert run.findings[0]["changes"]["tags"]["removed"] == ["owner"]
