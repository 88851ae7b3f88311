"""The cases of ``real-inputs/cases.md``, sections A to D, through the real CLI.

Each test writes the state the case describes (the cases give records, not states),
runs ``tfdrift-hook check --format json`` on the case's own input file, and asserts the
result the case states. The expected values were worked out by reading the records.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    ACCOUNT,
    KEY_0987,
    KEY_1234,
    MRK,
    Run,
    check_json,
    key_arn,
    kms_alias,
    kms_grant,
    kms_key,
    write_records,
    write_state,
)
from tfdrift_hook.check_command import load_rules
from tfdrift_hook.inventory import load_inventory
from tfdrift_hook.pipeline import CheckRequest, run_check
from tfdrift_hook.plugin_manager import build_plugin_manager
from tfdrift_hook.trust import ApplyWindow, Trust

ARN_1234 = key_arn(KEY_1234)


# -- A. who did it -----------------------------------------------------------------


def test_case_01_assumed_role_session_names_the_person(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path, kms_key("app", KEY_1234, policy=_policy_with_reader())
    )

    run = check_json(state, real_inputs / "case-01.json")

    assert run.exit_code == 1
    finding = _one(run, "kms_key_policy_modified")
    assert finding["user"] == "john"
    actor = finding["actor"]
    assert actor["type"] == "AssumedRole"
    assert actor["session"] == "john"
    assert actor["role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/Administrators"
    assert actor["account"] == ACCOUNT
    assert actor["mfa"] is True
    assert finding["resource"] == ARN_1234
    assert finding["address"] == "aws_kms_key.app"
    assert finding["changes"]["policy"]["removed_principals"] == [
        f"arn:aws:iam::{ACCOUNT}:role/reader"
    ]


def test_case_19_console_reads_are_no_drift(real_inputs: Path, tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))

    run = check_json(state, real_inputs / "case-19.json")

    assert run.exit_code == 0
    assert run.findings == []


# -- B. which resource -------------------------------------------------------------


def test_case_02_resources_arn_wins_over_aws_region(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))

    run = check_json(state, real_inputs / "case-02.json")

    finding = _one(run, "kms_key_disabled")
    assert finding["resource"] == ARN_1234
    assert finding["region"] == "us-west-2"
    assert finding["address"] == "aws_kms_key.app"
    assert finding["changes"]["key_state"] == {"before": "Enabled", "after": "Disabled"}
    assert finding["user"] == "Alice"
    assert run.exit_code == 1


def test_case_02_a_write_naming_no_key_is_unattributable(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    record = _record("DisableKey", {"keyId": None}, event_id="no-key-1")
    events = write_records(tmp_path, "events.json", record)

    run = check_json(state, events)

    finding = _one(run, "kms_unattributable_event")
    assert finding["status"] == "unattributable"
    assert finding["event_id"] == "no-key-1"
    assert finding["user"] == "Alice"


def test_case_03_kms_tags_change_and_lambda_aliases_do_not(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234, tags={"Dept": "IT"}))

    run = check_json(state, real_inputs / "case-03.json")

    assert run.rules() == ["kms_key_tags_changed", "kms_key_tags_changed"]
    untag, tag = sorted(run.findings, key=lambda item: item["timestamp"])
    assert untag["event"] == "UntagResource"
    assert untag["changes"]["tags"]["removed"] == ["Dept"]
    assert tag["event"] == "TagResource"
    assert tag["changes"]["tags"]["added"] == {"Department": "IT"}
    assert tag["changes"]["tags"]["after"] == {"Department": "IT"}
    assert {untag["user"], tag["user"]} == {"Alice"}
    assert all(item["address"] == "aws_kms_key.app" for item in run.findings)


def test_case_14_replica_and_its_policy_not_the_primary(
    real_inputs: Path, tmp_path: Path
) -> None:
    case = json.loads((real_inputs / "case-14.json").read_text(encoding="utf-8"))
    state = tmp_path / "state.json"
    state.write_text(json.dumps(case["state_excerpt"]), encoding="utf-8")
    events = tmp_path / "event.json"
    events.write_text(json.dumps(case["event"]), encoding="utf-8")

    run = check_json(state, events)

    finding = _one(run, "kms_key_policy_modified")
    assert finding["address"] == "aws_kms_key_policy.eu_west_1"
    assert finding["region"] == "eu-west-1"
    assert finding["resource"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{MRK}"


def test_case_15_aws_managed_key_read_is_no_finding(
    real_inputs: Path, tmp_path: Path
) -> None:
    case = json.loads((real_inputs / "case-15.json").read_text(encoding="utf-8"))
    state = tmp_path / "state.json"
    state.write_text(json.dumps(case["state_excerpt"]), encoding="utf-8")
    events = tmp_path / "event.json"
    events.write_text(json.dumps(case["event"]), encoding="utf-8")

    run = check_json(state, events)

    assert run.exit_code == 0
    assert run.findings == []


def test_case_21_keys_and_aliases_made_by_hand_are_unmanaged(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path,
        kms_key("logs", KEY_0987),
        kms_alias("app", "alias/app", KEY_0987),
    )

    run = check_json(state, real_inputs / "case-21.json")

    assert run.rules() == ["kms_unmanaged_alias_created", "kms_unmanaged_key_created"]
    by_rule = {item["rule"]: item for item in run.findings}
    key = by_rule["kms_unmanaged_key_created"]
    assert key["terraform_type"] == "aws_kms_external_key"
    assert key["resource"] == ARN_1234
    assert key["status"] == "unmanaged"
    assert key["address"] is None
    assert key["event"] == "CreateKey"
    assert [item["event"] for item in key["related_events"]] == ["ImportKeyMaterial"]
    material = key["changes"]["key_material"]
    assert material["after"] == "Imported"
    assert material["expiration_model"] == "KEY_MATERIAL_EXPIRES"
    # The published ImportKeyMaterial is dated 2020, before the 2022 CreateKey, so in
    # event order the key ends in the state CreateKey left: PendingImport.
    assert key["changes"]["key_state"]["after"] == "PendingImport"
    alias = by_rule["kms_unmanaged_alias_created"]
    assert alias["terraform_type"] == "aws_kms_alias"
    assert alias["resource"] == f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/ExampleAlias"
    assert alias["changes"]["target_key_id"]["after"] == KEY_1234
    assert {key["user"], alias["user"]} == {"Alice"}


# -- C. what changed ---------------------------------------------------------------

GRANT_REVOKED = "abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a"
GRANT_CREATED = "f020fe75197b93991dc8491d6f19dd3cebb24ee62277a05914386724f3d48758"


def test_case_05_grants_created_revoked_and_retired_once(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path,
        kms_key("app", KEY_1234),
        kms_grant("reader", GRANT_REVOKED, KEY_1234),
    )

    run = check_json(
        state, real_inputs / "case-05.json", extra=("--fail-on", "warning")
    )

    assert run.rules() == ["kms_grant_changed", "kms_grant_changed"]
    created, revoked = sorted(run.findings, key=lambda item: item["timestamp"])
    assert created["event"] == "CreateGrant"
    assert created["address"] == "aws_kms_key.app"
    grant = created["changes"]["grant"]["after"]
    assert grant["grant_id"] == GRANT_CREATED
    assert grant["operations"] == ["Encrypt", "RetireGrant"]
    assert grant["constraints"] == {
        "encryptionContextSubset": {"ContextKey1": "Value1"}
    }
    assert revoked["event"] == "RevokeGrant"
    assert revoked["address"] == "aws_kms_grant.reader"
    assert revoked["changes"]["grant"]["after"] is None
    assert {created["user"], revoked["user"]} == {"Alice"}
    assert run.exit_code == 1


def test_case_06_failed_calls_are_not_changes(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))

    run = check_json(state, real_inputs / "case-06.json")

    assert run.exit_code == 0
    assert run.findings == []


def test_case_06_the_failed_attempt_is_a_note_in_the_text_report(
    real_inputs: Path, tmp_path: Path
) -> None:
    from tests.kms_state import run_cli

    state = write_state(tmp_path, kms_key("app", KEY_1234))

    run = run_cli("check", "--state", state, "--events", real_inputs / "case-06.json")

    assert run.exit_code == 0
    notes = [line for line in run.stdout.splitlines() if "failed attempt" in line]
    assert len(notes) == 1
    assert "DisableKey" in notes[0] and "tester" in notes[0]
    assert "NotFoundException" in notes[0]


def test_case_07_service_events_are_consequences_not_people(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234, enable_key_rotation=False))

    run = check_json(state, real_inputs / "case-07.json", extra=("--fail-on", "debug"))

    by_rule = {item["rule"]: item for item in run.findings}
    assert set(by_rule) == {
        "kms_key_rotation_enabled",
        "kms_key_rotated",
        "kms_key_deleted",
    }
    enabled = by_rule["kms_key_rotation_enabled"]
    assert enabled["user"] == "Alice"
    assert enabled["changes"]["enable_key_rotation"] == {"before": False, "after": True}
    assert enabled["changes"]["rotation_period_in_days"]["after"] == 180
    for name in ("kms_key_rotated", "kms_key_deleted"):
        assert by_rule[name]["user"] == "AWS KMS (scheduled)"
        assert by_rule[name]["status"] == "aws_service"
    deleted = by_rule["kms_key_deleted"]
    assert deleted["priority"] == "critical"
    assert deleted["changes"]["key_state"] == {"before": "Enabled", "after": "Deleted"}
    assert "scheduled_by=before the window" in deleted["output"]


def test_case_08_odd_deletion_dates_and_multi_region_pending_state(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path,
        kms_key("app", KEY_1234),
        kms_key("global", MRK),
        kms_key("hsm", KEY_0987),
    )

    run = check_json(
        state, real_inputs / "case-08.json", extra=("--fail-on", "warning")
    )

    schedules = {
        item["address"]: item
        for item in run.findings
        if item["rule"] == "kms_key_deletion_scheduled"
    }
    # "Apr 12, 2021 18:58:30 PM": a 24-hour time with PM, read as 18:58:30
    app = schedules["aws_kms_key.app"]["changes"]
    assert app["deletion_date"]["after"] == "2021-04-12T18:58:30Z"
    assert app["key_state"] == {"before": "Disabled", "after": "PendingDeletion"}
    # no date at all: eventTime 2021-10-28T17:59:05Z plus the 30-day window
    mrk = schedules["aws_kms_key.global"]["changes"]
    assert mrk["deletion_date"]["after"] == "2021-11-27T17:59:05Z"
    assert mrk["key_state"]["after"] == "PendingReplicaDeletion"
    # "Nov 2, 2021, 11:25:25 PM"
    hsm = schedules["aws_kms_key.hsm"]["changes"]
    assert hsm["deletion_date"]["after"] == "2021-11-02T23:25:25Z"
    assert (
        "deletion_date=2021-11-02T23:25:25Z" in schedules["aws_kms_key.hsm"]["output"]
    )
    cancelled = _one(run, "kms_key_disabled")
    assert cancelled["event"] == "CancelKeyDeletion"
    assert cancelled["address"] == "aws_kms_key.app"
    assert cancelled["changes"]["key_state"] == {
        "before": "Enabled",
        "after": "Disabled",
    }
    assert cancelled["user"] == "Alice"


def test_case_10_a_replica_made_by_hand_is_an_unmanaged_replica(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(tmp_path, kms_key("primary", KEY_1234, region="us-east-1"))

    run = check_json(state, real_inputs / "case-10.json", extra=("--fail-on", "debug"))

    assert run.rules() == ["kms_unmanaged_key_created"]
    finding = run.findings[0]
    assert finding["terraform_type"] == "aws_kms_replica_key"
    assert finding["region"] == "us-west-2"
    assert finding["resource"] == key_arn(KEY_1234, "us-west-2")
    assert finding["user"] == "Alice"
    policy = finding["changes"]["policy"]["after"]
    assert len(policy["Statement"]) == 3
    principals = finding["changes"]["policy"]["principals"]
    assert principals == [
        "arn:aws:iam::012345678901:user/Bob",
        "arn:aws:iam::012345678901:user/Charlie",
        "arn:aws:iam::123456789012:user/Alice",
    ]


def test_case_30_crypto_reads_are_counted_not_judged(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path, kms_key("app", KEY_1234, policy=_policy_with_reader())
    )

    run = check_json(state, real_inputs / "case-30.json")

    assert run.rules() == ["kms_key_policy_modified"]
    usage = run.findings[0]["context"]["key_usage"]
    # Decrypt, GenerateDataKey and DescribeKey read 1234abcd; the published DescribeKey
    # reuses the Decrypt's eventID, but it is another call, so both count.
    assert usage["reads"] == 3
    assert run.exit_code == 1


# -- D. is it really drift ---------------------------------------------------------


def test_case_11_the_same_policy_in_other_json_changes_no_principal(
    real_inputs: Path, tmp_path: Path
) -> None:
    case = json.loads((real_inputs / "case-11.json").read_text(encoding="utf-8"))
    state = write_state(
        tmp_path, kms_key("app", KEY_1234, policy=case["terraform_state_policy"])
    )
    record = _record(
        "PutKeyPolicy",
        {
            "keyId": KEY_1234,
            "policyName": "default",
            "policy": case["live_policy_from_GetKeyPolicy"],
        },
    )

    run = check_json(state, write_records(tmp_path, "events.json", record))

    # The call itself was made out of band and is reported, but nothing drifted: no
    # principal added or removed, and the external principal that the state already
    # grants is not a new external grant.
    assert run.rules() == ["kms_key_policy_modified"]
    policy = run.findings[0]["changes"]["policy"]
    assert policy["unchanged"] is True
    assert policy["added_principals"] == [] and policy["removed_principals"] == []


def test_case_13_only_the_real_drift_of_a_plan_is_reported(
    real_inputs: Path,
) -> None:
    from tests.kms_state import run_cli

    run = run_cli(
        "check",
        "--plan-json",
        real_inputs / "case-13.plan.json",
        "--events",
        real_inputs / "case-13.events.json",
        "--format",
        "json",
    )

    assert run.rules() == ["kms_key_rotation_disabled", "kms_key_tags_changed"]
    assert {item["address"] for item in run.findings} == {
        "module.logs.aws_kms_key.this[0]"
    }
    by_rule = {item["rule"]: item for item in run.findings}
    rotation = by_rule["kms_key_rotation_disabled"]["changes"]["enable_key_rotation"]
    assert rotation == {"before": True, "after": False}
    tags = by_rule["kms_key_tags_changed"]["changes"]["tags"]
    assert tags["added"] == {"owner": "oncall"}
    assert tags["after"] == {"team": "payments", "owner": "oncall"}
    assert {item["user"] for item in run.findings} == {"Alice"}


def test_case_16_terraforms_own_call_in_the_apply_window_is_in_band(
    real_inputs: Path, tmp_path: Path
) -> None:
    case = json.loads((real_inputs / "case-16.json").read_text(encoding="utf-8"))
    window = case["terraform_apply_window"]
    state = write_state(
        tmp_path, kms_key("example", KEY_1234, policy=_policy_with_reader())
    )
    applied = ApplyWindow(
        start=_time(window["start"]),
        end=_time(window["end"]),
        addresses=frozenset(window["applied_addresses"]),
    )
    plugins = build_plugin_manager({})
    request = CheckRequest(
        inventory=load_inventory(state),
        event_paths=(real_inputs / "case-16.json",),
        trust=Trust(apply_windows=(applied,)),
    )

    result = run_check(request, plugins.manager, load_rules(plugins, request))

    assert [event.event_id[-4:] for event in result.in_band] == ["0001"]
    assert {finding.rule.name for finding in result.findings} == {
        "kms_key_policy_modified"
    }
    finding = result.findings[0]
    assert finding.candidate.status == "out_of_band"
    assert finding.event.timestamp == "2022-09-01T21:40:02Z"
    assert finding.event.actor.name == "Alice"
    assert finding.event.actor.channel == "console"


def test_case_16_without_trust_terraforms_agent_is_terraform_outside_the_pipeline(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path, kms_key("example", KEY_1234, policy=_policy_with_reader())
    )

    run = check_json(state, real_inputs / "case-16.json")

    outside = _one(run, "kms_terraform_outside_pipeline")
    assert outside["timestamp"] == "2022-09-01T20:06:16Z"
    assert outside["status"] == "terraform_outside_pipeline"


def test_case_16_a_trusted_principal_makes_terraforms_call_in_band(
    real_inputs: Path, tmp_path: Path
) -> None:
    state = write_state(
        tmp_path, kms_key("example", KEY_1234, policy=_policy_with_reader())
    )
    trusted = ("--trusted-principal", f"arn:aws:iam::{ACCOUNT}:user/Ali*")

    run = check_json(state, real_inputs / "case-16.json", extra=trusted)

    assert [item["timestamp"] for item in run.findings] == ["2022-09-01T21:40:02Z"]


# -- helpers -----------------------------------------------------------------------


def _one(run: Run, rule: str) -> dict[str, Any]:
    findings = [item for item in run.findings if item["rule"] == rule]
    assert len(findings) == 1, f"{rule}: {findings}"
    return findings[0]


def _policy_with_reader() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "Reader",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                },
            ],
        }
    )


def _record(
    name: str, request: dict[str, object], event_id: str = "e-1"
) -> dict[str, object]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
            "accountId": ACCOUNT,
            "userName": "Alice",
        },
        "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-west-2",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR")
