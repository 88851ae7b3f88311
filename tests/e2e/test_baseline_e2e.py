"""The harness itself: a real apply of examples/terraform lands in moto as written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto_terraform import AppliedExample, instances

pytestmark = pytest.mark.e2e

ACCOUNT_ROOT = "arn:aws:iam::123456789012:root"

MANAGED = {
    'aws_kms_key.app["payments"]',
    'aws_kms_key.app["ledger"]',
    'aws_kms_alias.app["payments"]',
    'aws_kms_alias.app["ledger"]',
    "module.audit_logs.aws_kms_key.this",
    "module.audit_logs.aws_kms_key_policy.this",
    "module.audit_logs.aws_kms_alias.this",
}

# Written from examples/terraform/variables.tf and main.tf.
APP_KEYS = {
    'aws_kms_key.app["payments"]': (
        "Card payment tokens",
        {"Application": "payments", "Team": "payments", "Environment": "prod"},
    ),
    'aws_kms_key.app["ledger"]': (
        "General ledger exports",
        {"Application": "ledger", "Team": "finance-platform", "Environment": "prod"},
    ),
    "module.audit_logs.aws_kms_key.this": (
        "CloudTrail and application audit log encryption",
        {"Application": "audit-logs", "Team": "security", "DataClass": "audit"},
    ),
}

ALIASES = {
    "alias/payments": 'aws_kms_key.app["payments"]',
    "alias/ledger": 'aws_kms_key.app["ledger"]',
    "alias/audit-logs": "module.audit_logs.aws_kms_key.this",
}


def test_apply_creates_every_resource_of_the_example(
    applied_example: AppliedExample,
) -> None:
    assert set(applied_example.resources) == MANAGED


def test_moto_holds_the_keys_as_configured(
    applied_example: AppliedExample, kms: Any
) -> None:
    for address, (description, tags) in APP_KEYS.items():
        key_id = applied_example.attributes(address)["key_id"]
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        listed = kms.list_resource_tags(KeyId=key_id)["Tags"]

        assert metadata["KeyState"] == "Enabled"
        assert metadata["Description"] == description
        assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
        assert {tag["TagKey"]: tag["TagValue"] for tag in listed} == tags


def test_aliases_point_at_their_keys(applied_example: AppliedExample, kms: Any) -> None:
    targets = {
        alias["AliasName"]: alias.get("TargetKeyId")
        for alias in kms.list_aliases()["Aliases"]
    }

    for alias, key_address in ALIASES.items():
        assert targets[alias] == applied_example.attributes(key_address)["key_id"]


def test_the_policy_resource_owns_the_audit_key_policy(
    applied_example: AppliedExample, kms: Any
) -> None:
    key_id = applied_example.attributes("module.audit_logs.aws_kms_key.this")["key_id"]
    policy_resource = applied_example.attributes(
        "module.audit_logs.aws_kms_key_policy.this"
    )

    live = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])

    assert policy_resource["key_id"] == key_id
    assert json.loads(policy_resource["policy"]) == live
    assert [s["Sid"] for s in live["Statement"]] == [
        "AccountRootFullAccess",
        "LogServiceEncrypt",
    ]
    assert live["Statement"][0]["Principal"] == {"AWS": ACCOUNT_ROOT}
    assert live["Statement"][1]["Principal"] == {
        "Service": "logs.us-east-1.amazonaws.com"
    }


def test_refresh_after_apply_leaves_tags_as_configured(
    applied_example: AppliedExample,
) -> None:
    # The first refresh after an apply turns tags = null into {}; the baseline
    # settles that, so what the state says is what the configuration says.
    for address, (_, tags) in APP_KEYS.items():
        attributes = applied_example.attributes(address)

        assert attributes["tags"] == tags
        assert attributes["tags_all"] == tags
        assert attributes["enable_key_rotation"] is True
        assert attributes["is_enabled"] is True


def test_committed_example_state_is_what_the_configuration_applies_to(
    applied_example: AppliedExample, committed_example_state: dict[str, Any]
) -> None:
    fresh = _without_ids(applied_example.state)
    committed = _without_ids(committed_example_state)

    assert committed == fresh, "run python3 examples/regenerate.py"


def _without_ids(state: dict[str, Any]) -> dict[str, Any]:
    """Instances by address, with key ids (random in every apply) named by address."""
    found = instances(state)
    text = json.dumps(found, sort_keys=True)
    for address, attributes in found.items():
        if "aws_kms_key." in address:
            placeholder = address.replace('"', "")
            text = text.replace(attributes["key_id"], f"<{placeholder}>")
    document: dict[str, Any] = json.loads(text)
    return document
