"""Hand-made Terraform states and a way to run the real CLI on them, for the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tfdrift_hook.cli import cli

ACCOUNT = "111122223333"
KEY_1234 = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_0987 = "0987dcba-09fe-87dc-65ba-ab0987654321"
MRK = "mrk-1234abcd12ab34cd56ef1234567890ab"

#: The 13 calls KMS drift coverage starts from (the coverage document's list).
COVERAGE_CALLS = frozenset(
    {
        "CreateKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
        "DisableKey",
        "EnableKey",
        "PutKeyPolicy",
        "CreateAlias",
        "DeleteAlias",
        "UpdateAlias",
        "EnableKeyRotation",
        "DisableKeyRotation",
        "TagResource",
        "UntagResource",
    }
)
#: The KMS calls the event model must support, as the project's scope names them.
SUPPORTED_CALLS = COVERAGE_CALLS | frozenset(
    {
        # the ones this project adds, AWS's own service events among them
        "UpdateKeyDescription",
        "CreateGrant",
        "RetireGrant",
        "RevokeGrant",
        "ReplicateKey",
        "UpdatePrimaryRegion",
        "ImportKeyMaterial",
        "DeleteImportedKeyMaterial",
        "RotateKeyOnDemand",
        "RotateKey",
        "DeleteKey",
        "SynchronizeMultiRegionKey",
    }
)

ROOT_ONLY_POLICY = json.dumps(
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
            }
        ],
    }
)


def key_arn(key_id: str, region: str = "us-west-2", account: str = ACCOUNT) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def kms_key(
    name: str,
    key_id: str,
    region: str = "us-west-2",
    index: Any = None,
    module: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """One ``aws_kms_key`` resource of a v4 state, enabled, rotation on, no tags."""
    values = {
        "id": key_id,
        "key_id": key_id,
        "arn": key_arn(key_id, region),
        "description": f"{name} key",
        "is_enabled": True,
        "enable_key_rotation": True,
        "key_usage": "ENCRYPT_DECRYPT",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "multi_region": key_id.startswith("mrk-"),
        "policy": ROOT_ONLY_POLICY,
        "tags": {},
        "tags_all": {},
    }
    values.update(attributes)
    if "tags" in attributes and "tags_all" not in attributes:
        values["tags_all"] = dict(attributes["tags"])  # as the provider writes it
    return _resource("aws_kms_key", name, values, index, module)


def kms_alias(
    name: str, alias_name: str, target_key_id: str, region: str = "us-west-2"
) -> dict[str, Any]:
    values = {
        "id": alias_name,
        "name": alias_name,
        "arn": f"arn:aws:kms:{region}:{ACCOUNT}:{alias_name}",
        "target_key_id": target_key_id,
        "target_key_arn": key_arn(target_key_id, region),
    }
    return _resource("aws_kms_alias", name, values)


def kms_grant(
    name: str, grant_id: str, key_id: str, region: str = "us-west-2"
) -> dict[str, Any]:
    values = {
        "id": f"{key_id}:{grant_id}",
        "grant_id": grant_id,
        "key_id": key_arn(key_id, region),
        "grantee_principal": f"arn:aws:iam::{ACCOUNT}:role/reader",
        "operations": ["Decrypt"],
    }
    return _resource("aws_kms_grant", name, values)


def _resource(
    type_: str,
    name: str,
    values: dict[str, Any],
    index: Any = None,
    module: str | None = None,
) -> dict[str, Any]:
    instance: dict[str, Any] = {"schema_version": 0, "attributes": values}
    if index is not None:
        instance["index_key"] = index
    resource: dict[str, Any] = {
        "mode": "managed",
        "type": type_,
        "name": name,
        "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
        "instances": [instance],
    }
    if module:
        resource["module"] = module
    return resource


def write_state(directory: Path, *resources: dict[str, Any]) -> Path:
    state = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 3,
        "lineage": "5f0d7c2e-0000-4000-8000-000000000001",
        "outputs": {},
        "resources": list(resources),
    }
    path = directory / "terraform.tfstate"
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def write_records(directory: Path, name: str, *records: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(json.dumps({"Records": list(records)}), encoding="utf-8")
    return path


class Run:
    """The outcome of one in-process CLI run."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def rules(self) -> list[str]:
        return sorted(finding["rule"] for finding in self.findings)


def run_cli(*args: str | Path) -> Run:
    result = CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def check_json(state: Path, *events: Path, extra: tuple[str, ...] = ()) -> Run:
    arguments: list[str | Path] = [
        "check",
        "--state",
        state,
        "--format",
        "json",
        *extra,
    ]
    for path in events:
        arguments += ["--events", path]
    return run_cli(*arguments)
