"""The inventory read through the real ``terraform show -json`` of the example."""

from __future__ import annotations

import pytest
from moto_terraform import AppliedExample

from tfdrift_hook.inventory import inventory_from_directory


@pytest.mark.e2e
def test_show_json_of_the_applied_example_gives_every_kms_address(
    applied_example: AppliedExample,
    terraform_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in terraform_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TERRAFORM_BINARY", str(applied_example.terraform.binary))

    inventory = inventory_from_directory(applied_example.workdir)

    assert inventory.source == f"terraform show -json in {applied_example.workdir}"
    assert {resource.address for resource in inventory.resources} == {
        'aws_kms_key.app["payments"]',
        'aws_kms_key.app["ledger"]',
        'aws_kms_alias.app["payments"]',
        'aws_kms_alias.app["ledger"]',
        "module.audit_logs.aws_kms_key.this",
        "module.audit_logs.aws_kms_key_policy.this",
        "module.audit_logs.aws_kms_alias.this",
    }
    payments = applied_example.attributes('aws_kms_key.app["payments"]')
    alias = inventory.alias("us-east-1", "alias/payments")
    assert alias is not None and alias.key_id == payments["key_id"]
