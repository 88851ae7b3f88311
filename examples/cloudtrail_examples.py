"""The example CloudTrail records under examples/cloudtrail, written from the state.

The records tell one week in the life of the example configuration: the pipeline's
apply on 23 November 2026, then people changing the keys by hand until 30 November.
Key ids and ARNs of managed keys are read from examples/terraform/terraform.tfstate,
so a new apply against moto (``examples/regenerate.py``) rewrites these files to
match; everything else (event ids, times, actors) is fixed here.

Each record is written to exactly one file, in the shape its source delivers:
gzipped trail log files in the S3 layout, a console export, a SIEM's JSON Lines
export and the output of ``aws cloudtrail lookup-events``. The README's table of
expected results is written from the same definitions.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent
STATE = EXAMPLES / "terraform" / "terraform.tfstate"
OUTPUT = EXAMPLES / "cloudtrail"

ACCOUNT = "123456789012"
PARTNER_ACCOUNT = "444455556666"
REGION = "us-east-1"
REPLICA_REGION = "us-west-2"

PAYMENTS = 'aws_kms_key.app["payments"]'
LEDGER = 'aws_kms_key.app["ledger"]'
AUDIT = "module.audit_logs.aws_kms_key.this"
AUDIT_POLICY = "module.audit_logs.aws_kms_key_policy.this"
PAYMENTS_ALIAS = 'aws_kms_alias.app["payments"]'
LEDGER_ALIAS = 'aws_kms_alias.app["ledger"]'
AUDIT_ALIAS = "module.audit_logs.aws_kms_alias.this"

# Keys nobody declared in Terraform; their ids are made up and fixed.
SCRATCH_KEY = "b7e2c9a4-3f1d-4c8e-a6b5-0d9f8e7c6a51"
SANDBOX_MRK = "mrk-5d8a2f1c9e7b4a3d8c6f0e1b2a3c4d5e"

TRAIL = "trail"
CONSOLE_EXPORT = "exports/priya-raman-event-history.json"
SIEM_EXPORT = "siem/kms-and-s3-2026-11.jsonl"
LOOKUP = "lookup-events/username-alice.json"

README_START = "<!-- events-table:start -->"
README_END = "<!-- events-table:end -->"

# Ids derive from the event's label, so rewriting the files keeps them stable.
_ID_SEED = "tfdrift-hook examples/cloudtrail"

# A trail delivers one file for each few minutes of calls.
_TRAIL_FILE_SPAN = timedelta(minutes=5)


@dataclass(frozen=True)
class Caller:
    """Who makes a call and from where: the parts of a record that name the actor."""

    identity: dict[str, Any]
    source_ip: str
    user_agent: str
    console: bool = False
    vpc_endpoint: str | None = None


@dataclass(frozen=True)
class Expected:
    """What the tool should report for one record, for the README table."""

    status: str
    target: str
    rules: str = "—"
    note: str = ""


@dataclass
class Example:
    """One record, the file it belongs to, and what the tool should make of it."""

    label: str
    file: str
    record: dict[str, Any]
    expected: Expected

    @property
    def event_time(self) -> datetime:
        return _parse_time(self.record["eventTime"])


@dataclass
class Keys:
    """Key ids and ARNs of the managed keys, read from the example state."""

    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Keys:
        keys = cls()
        for resource in state["resources"]:
            if resource["type"] != "aws_kms_key":
                continue
            for instance in resource["instances"]:
                keys.ids[_address(resource, instance)] = instance["attributes"]["id"]
        return keys

    def id(self, address: str) -> str:
        return self.ids[address]

    def arn(self, address: str) -> str:
        return key_arn(self.ids[address])


def key_arn(key_id: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(name: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"


def _address(resource: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    prefix = f"{resource['module']}." if resource.get("module") else ""
    address = f"{prefix}{resource['type']}.{resource['name']}"
    if "index_key" in instance:
        return f"{address}[{json.dumps(instance['index_key'])}]"
    return address


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _kms_date(moment: datetime) -> str:
    """Dates inside KMS response elements read like ``Nov 23, 2026, 4:40:12 PM``."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {suffix}"


def _id(label: str, kind: str) -> str:
    # CloudTrail's ids are random (version 4) UUIDs; these only look like them.
    digest = hashlib.sha256(f"{_ID_SEED}/{label}/{kind}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _hex_id(label: str, kind: str) -> str:
    return hashlib.sha256(f"{label}/{kind}".encode()).hexdigest()


# --- actors ----------------------------------------------------------------------

_CLI_ALICE = (
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 "
    "prompt/off command/kms.{command}"
)
_CLI_SSO = (
    "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 "
    "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard "
    "md/installer#source md/prompt#off md/command#kms.{command}"
)
_BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
_TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) "
    "terraform-provider-aws/5.100.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.36.3 ua/2.1 os/{os} lang/go#1.24.2 md/GOOS#{os} "
    "md/GOARCH#{arch} api/kms#1.38.3"
)
_BOTO3 = (
    "Boto3/1.35.68 md/Botocore#1.35.68 ua/2.0 os/linux#5.10.228-219.884.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy "
    "Botocore/1.35.68"
)
_SSO_ROLE = "AWSReservedSSO_PlatformAdmin_4b1c9e2d7a3f6e85"


def _iam_user(name: str, principal_id: str, access_key: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": principal_id,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": access_key,
        "userName": name,
    }


def _role_session(
    account: str, role_path: str, session: str, principal_id: str, access_key: str
) -> dict[str, Any]:
    role_name = role_path.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"{principal_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        "accountId": account,
        "accessKeyId": access_key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": principal_id,
                "arn": f"arn:aws:iam::{account}:role/{role_path}",
                "accountId": account,
                "userName": role_name,
            },
            "attributes": {
                "creationDate": "2026-11-23T08:00:00Z",
                "mfaAuthenticated": "false",
            },
        },
    }


def alice(command: str) -> Caller:
    """An IAM user with access keys, working from the AWS CLI."""
    identity = _iam_user("alice", "AIDA4EXAMPLEALICE0001", "AKIA4EXAMPLEALICE001")
    return Caller(identity, "198.51.100.23", _CLI_ALICE.format(command=command))


def dana() -> Caller:
    """An IAM user signed in to the console (MFA, temporary console credentials)."""
    identity = _iam_user(
        "dana.whitfield", "AIDA4EXAMPLEDANAW001", "ASIA4EXAMPLEDANAW001"
    )
    identity["sessionContext"] = {
        "attributes": {
            "creationDate": "2026-11-23T17:41:09Z",
            "mfaAuthenticated": "true",
        }
    }
    return Caller(identity, "203.0.113.77", _BROWSER, console=True)


def priya(command: str) -> Caller:
    """A person in an IAM Identity Center (SSO) permission set, via the CLI."""
    identity = _role_session(
        ACCOUNT,
        f"aws-reserved/sso.amazonaws.com/{_SSO_ROLE}",
        "priya.raman@example.com",
        "AROA4EXAMPLEPLATADM01",
        "ASIA4EXAMPLEPRIYA001",
    )
    identity["sessionContext"]["attributes"]["creationDate"] = "2026-11-25T09:58:31Z"
    return Caller(identity, "198.51.100.141", _CLI_SSO.format(command=command))


def partner() -> Caller:
    """A role in another account that the key policy was opened to."""
    identity = _role_session(
        PARTNER_ACCOUNT,
        "ledger-reconciler",
        "reconcile-20261126",
        "AROA4EXAMPLERECONC01",
        "ASIA4EXAMPLERECONC01",
    )
    return Caller(identity, "192.0.2.140", _BOTO3)


def terraform_ci(session: str) -> Caller:
    """The pipeline role running terraform, behind a VPC endpoint."""
    identity = _role_session(
        ACCOUNT,
        "terraform-ci",
        session,
        "AROA4EXAMPLETFCI0001",
        "ASIA4EXAMPLETFCI0001",
    )
    user_agent = _TERRAFORM.format(os="linux", arch="amd64")
    return Caller(
        identity, "10.20.4.18", user_agent, vpc_endpoint="vpce-0a1b2c3d4e5f60718"
    )


def jordan() -> Caller:
    """Terraform run from a laptop with a person's access keys, not the pipeline."""
    identity = _iam_user("jordan.kim", "AIDA4EXAMPLEJORDAN01", "AKIA4EXAMPLEJORDAN01")
    return Caller(
        identity, "198.51.100.88", _TERRAFORM.format(os="darwin", arch="arm64")
    )


def payments_api() -> Caller:
    """The payments service's ECS task role."""
    identity = _role_session(
        ACCOUNT,
        "payments-api-task",
        "8f2c6d0e4a1b4c7e9d3f5a6b7c8d9e0f",
        "AROA4EXAMPLEPAYAPI01",
        "ASIA4EXAMPLEPAYAPI01",
    )
    return Caller(identity, "10.20.9.61", _BOTO3)


def reports_batch() -> Caller:
    """A nightly job on EC2; its role session is named after the instance."""
    identity = _role_session(
        ACCOUNT,
        "reports-nightly",
        "i-0c4e1f2a3b5d6e7f8",
        "AROA4EXAMPLEREPORT01",
        "ASIA4EXAMPLEREPORT01",
    )
    return Caller(identity, "10.20.7.15", _BOTO3)


AWS_INTERNAL = Caller(
    {"accountId": ACCOUNT, "invokedBy": "AWS Internal"}, "AWS Internal", "AWS Internal"
)


# --- records ---------------------------------------------------------------------


def _key_resources(*arns: str) -> list[dict[str, str]]:
    return [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn} for arn in arns]


def kms_record(
    label: str,
    time: str,
    name: str,
    caller: Caller,
    request: dict[str, Any] | None,
    resources: list[dict[str, str]] | None,
    *,
    response: dict[str, Any] | None = None,
    read_only: bool = False,
    region: str = REGION,
    extra: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
    service_event: bool = False,
) -> dict[str, Any]:
    """A KMS management event in the field order CloudTrail writes."""
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": caller.identity,
        "eventTime": time,
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": caller.source_ip,
        "userAgent": caller.user_agent,
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error

    record["requestParameters"] = request
    record["responseElements"] = response
    record.update(extra or {})
    if not service_event:
        record["requestID"] = _id(label, "request")
    record["eventID"] = _id(label, "event")
    record["readOnly"] = read_only
    if resources is not None:
        record["resources"] = resources
    record["eventType"] = "AwsServiceEvent" if service_event else "AwsApiCall"
    record["managementEvent"] = True
    record["recipientAccountId"] = ACCOUNT
    return _finish(record, caller, region)


def _finish(record: dict[str, Any], caller: Caller, region: str) -> dict[str, Any]:
    account = caller.identity.get("accountId", ACCOUNT)
    if account != ACCOUNT:
        # Calls from another account are logged in both; this is the key owner's copy.
        record["sharedEventID"] = _id(record["eventID"], "shared")
    if caller.vpc_endpoint is not None:
        record["vpcEndpointId"] = caller.vpc_endpoint
        record["vpcEndpointAccountId"] = ACCOUNT
    record["eventCategory"] = "Management"
    if caller.source_ip != "AWS Internal":
        record["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"kms.{region}.amazonaws.com",
        }
    if caller.console:
        record["sessionCredentialFromConsole"] = "true"
    return record


def _key_metadata(
    key_id: str,
    created: str,
    description: str,
    *,
    origin: str = "AWS_KMS",
    multi_region: bool = False,
) -> dict[str, Any]:
    enabled = origin == "AWS_KMS"
    metadata: dict[str, Any] = {
        "AWSAccountId": ACCOUNT,
        "keyId": key_id,
        "arn": key_arn(key_id),
        "creationDate": _kms_date(_parse_time(created)),
        "enabled": enabled,
        "description": description,
        "keyUsage": "ENCRYPT_DECRYPT",
        "keyState": "Enabled" if enabled else "PendingImport",
        "origin": origin,
        "keyManager": "CUSTOMER",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "multiRegion": multi_region,
    }
    if multi_region:
        metadata["multiRegionConfiguration"] = {
            "multiRegionKeyType": "PRIMARY",
            "primaryKey": {"arn": key_arn(key_id), "region": REGION},
            "replicaKeys": [],
        }
    return metadata


def _create_key_request(
    description: str, tags: Mapping[str, str], *, origin: str = "AWS_KMS", **more: Any
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "description": description,
        "keyUsage": "ENCRYPT_DECRYPT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "origin": origin,
        "bypassPolicyLockoutSafetyCheck": False,
    }
    request.update(more)
    request["tags"] = [{"tagKey": k, "tagValue": v} for k, v in tags.items()]
    return request


def _default_policy(account: str = ACCOUNT) -> str:
    policy = {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    return json.dumps(policy, indent=2)


PARTNER_STATEMENT = {
    "Sid": "LedgerReconcilerCrossAccount",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"},
    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
    "Resource": "*",
}


def _policy_with_partner(state_policy: str) -> str:
    """The audit key policy as a person edits it in a file: one statement more."""
    policy = json.loads(state_policy)
    policy["Statement"].append(PARTNER_STATEMENT)
    return json.dumps(policy, indent=2)


def examples(state: Mapping[str, Any]) -> list[Example]:
    """Every example record, in time order."""
    keys = Keys.from_state(state)
    policies = _policies(state)
    found = [
        *_pipeline_apply(keys, policies),
        *_scratch_key(),
        *_reverted_disable(keys),
        *_ledger_tags(keys),
        *_audit_key_opened(keys, policies),
        *_sandbox_multi_region_key(),
        *_partner_use(keys),
        *_rotation(keys),
        *_alias_and_deletion(keys),
        *_pipeline_plan(keys),
    ]
    return sorted(found, key=lambda example: example.record["eventTime"])


def _policies(state: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for resource in state["resources"]:
        if resource["type"] not in ("aws_kms_key", "aws_kms_key_policy"):
            continue
        for instance in resource["instances"]:
            found[_address(resource, instance)] = instance["attributes"]["policy"]
    return found


def _pipeline_apply(keys: Keys, policies: Mapping[str, str]) -> list[Example]:
    ci = terraform_ci("atlantis-run-20261123T163955")
    audit_id, audit_arn = keys.id(AUDIT), keys.arn(AUDIT)
    description = "CloudTrail and application audit log encryption"
    tags = {"Application": "audit-logs", "DataClass": "audit", "Team": "security"}
    return [
        Example(
            "E01",
            TRAIL,
            kms_record(
                "E01",
                "2026-11-23T16:40:12Z",
                "CreateKey",
                ci,
                _create_key_request(description, tags, multiRegion=False),
                _key_resources(audit_arn),
                response={
                    "keyMetadata": _key_metadata(
                        audit_id, "2026-11-23T16:40:12Z", description
                    )
                },
            ),
            Expected("in_band", AUDIT, note="the apply that wrote the state"),
        ),
        Example(
            "E02",
            TRAIL,
            kms_record(
                "E02",
                "2026-11-23T16:40:14Z",
                "EnableKeyRotation",
                ci,
                {"keyId": audit_id},
                _key_resources(audit_arn),
                response={"keyId": audit_arn},
            ),
            Expected("in_band", AUDIT),
        ),
        Example(
            "E03",
            TRAIL,
            kms_record(
                "E03",
                "2026-11-23T16:40:19Z",
                "PutKeyPolicy",
                ci,
                {
                    "keyId": audit_id,
                    "policyName": "default",
                    "policy": policies[AUDIT_POLICY],
                    "bypassPolicyLockoutSafetyCheck": False,
                },
                _key_resources(audit_arn),
            ),
            Expected(
                "in_band", AUDIT_POLICY, note="policy owned by aws_kms_key_policy"
            ),
        ),
        Example(
            "E04",
            TRAIL,
            kms_record(
                "E04",
                "2026-11-23T16:40:21Z",
                "CreateAlias",
                ci,
                {"aliasName": "alias/audit-logs", "targetKeyId": audit_id},
                _key_resources(audit_arn, alias_arn("alias/audit-logs")),
            ),
            Expected("in_band", AUDIT_ALIAS),
        ),
    ]


def _scratch_key() -> list[Example]:
    console = dana()
    arn = key_arn(SCRATCH_KEY)
    description = "dana scratch - BYOK import test"
    created = "2026-11-23T17:52:40Z"
    unmanaged = Expected("unmanaged", f"key {SCRATCH_KEY}")
    deleted = _parse_time("2026-11-23T18:21:45Z") + timedelta(days=7)
    return [
        Example(
            "E05",
            TRAIL,
            kms_record(
                "E05",
                created,
                "CreateKey",
                console,
                _create_key_request(
                    description, {"Owner": "dana.whitfield"}, origin="EXTERNAL"
                ),
                _key_resources(arn),
                response={
                    "keyMetadata": _key_metadata(
                        SCRATCH_KEY, created, description, origin="EXTERNAL"
                    )
                },
            ),
            Expected("unmanaged", f"key {SCRATCH_KEY}", note="origin EXTERNAL"),
        ),
        Example(
            "E06",
            TRAIL,
            kms_record(
                "E06",
                "2026-11-23T17:58:03Z",
                "ImportKeyMaterial",
                console,
                {
                    "keyId": SCRATCH_KEY,
                    "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
                },
                _key_resources(arn),
                response={
                    "keyId": arn,
                    "keyMaterialId": _hex_id("E06", "key-material"),
                },
            ),
            unmanaged,
        ),
        Example(
            "E07",
            TRAIL,
            kms_record(
                "E07",
                "2026-11-23T17:59:30Z",
                "CreateAlias",
                console,
                {"aliasName": "alias/dana-scratch", "targetKeyId": SCRATCH_KEY},
                _key_resources(arn, alias_arn("alias/dana-scratch")),
            ),
            Expected("unmanaged", "alias/dana-scratch"),
        ),
        Example(
            "E08",
            TRAIL,
            kms_record(
                "E08",
                "2026-11-23T18:20:11Z",
                "DeleteImportedKeyMaterial",
                console,
                {"keyId": SCRATCH_KEY, "keyMaterialId": _hex_id("E06", "key-material")},
                _key_resources(arn),
                response={
                    "keyId": arn,
                    "keyMaterialId": _hex_id("E06", "key-material"),
                },
            ),
            unmanaged,
        ),
        Example(
            "E09",
            TRAIL,
            kms_record(
                "E09",
                "2026-11-23T18:21:45Z",
                "ScheduleKeyDeletion",
                console,
                {"keyId": SCRATCH_KEY, "pendingWindowInDays": 7},
                _key_resources(arn),
                response={
                    "keyId": arn,
                    "keyState": "PendingDeletion",
                    "deletionDate": _kms_date(deleted),
                    "pendingWindowInDays": 7,
                },
            ),
            unmanaged,
        ),
        Example(
            "E39",
            TRAIL,
            kms_record(
                "E39",
                "2026-11-30T18:27:02Z",
                "DeleteKey",
                AWS_INTERNAL,
                None,
                _key_resources(arn),
                service_event=True,
            ),
            Expected(
                "unmanaged",
                f"key {SCRATCH_KEY}",
                note="AWS service event ending E09's waiting period; no person",
            ),
        ),
    ]


def _reverted_disable(keys: Keys) -> list[Example]:
    pay_id, pay_arn = keys.id(PAYMENTS), keys.arn(PAYMENTS)
    reverted = Expected(
        "reverted",
        PAYMENTS,
        "kms_key_disabled (error)",
        "disabled at 09:12, enabled again at 09:31: net no change",
    )
    return [
        Example(
            "E10",
            LOOKUP,
            kms_record(
                "E10",
                "2026-11-24T09:12:03Z",
                "DisableKey",
                alice("disable-key"),
                {"keyId": pay_id},
                _key_resources(pay_arn),
            ),
            reverted,
        ),
        Example(
            "E11",
            LOOKUP,
            kms_record(
                "E11",
                "2026-11-24T09:31:47Z",
                "EnableKey",
                alice("enable-key"),
                {"keyId": pay_id},
                _key_resources(pay_arn),
            ),
            Expected("reverted", PAYMENTS, note="undoes E10"),
        ),
        Example(
            "E12",
            TRAIL,
            kms_record(
                "E12",
                "2026-11-24T10:05:10Z",
                "GenerateDataKey",
                payments_api(),
                {
                    "keyId": "alias/payments",
                    "keySpec": "AES_256",
                    "encryptionContext": {"service": "payments-api", "tenant": "eu-17"},
                },
                _key_resources(pay_arn),
                read_only=True,
            ),
            Expected("no finding", PAYMENTS, note="read (readOnly: true)"),
        ),
    ]


def _ledger_tags(keys: Keys) -> list[Example]:
    console = dana()
    led_arn = keys.arn(LEDGER)
    tags = Expected("out_of_band", LEDGER, "kms_key_tags_changed (warning)")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ledger-export"
    lambda_alias = {
        "eventVersion": "1.08",
        "userIdentity": console.identity,
        "eventTime": "2026-11-24T11:20:00Z",
        "eventSource": "lambda.amazonaws.com",
        "eventName": "CreateAlias20150331",
        "awsRegion": REGION,
        "sourceIPAddress": console.source_ip,
        "userAgent": console.user_agent,
        "requestParameters": {
            "functionName": "ledger-export",
            "name": "live",
            "functionVersion": "7",
        },
        "responseElements": {
            "aliasArn": f"{function}:live",
            "name": "live",
            "functionVersion": "7",
            "description": "",
            "revisionId": _id("E13", "revision"),
        },
        "requestID": _id("E13", "request"),
        "eventID": _id("E13", "event"),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "sessionCredentialFromConsole": "true",
    }
    return [
        Example(
            "E14",
            TRAIL,
            kms_record(
                "E14",
                "2026-11-24T14:02:31Z",
                "TagResource",
                console,
                {
                    "keyId": led_arn,
                    "tags": [
                        {"tagKey": "CostCenter", "tagValue": "cc-4410"},
                        {"tagKey": "Team", "tagValue": "finance-ops"},
                    ],
                },
                _key_resources(led_arn),
            ),
            Expected(
                "out_of_band",
                LEDGER,
                "kms_key_tags_changed (warning)",
                "adds CostCenter=cc-4410; Team finance-platform -> finance-ops",
            ),
        ),
        Example(
            "E15",
            TRAIL,
            kms_record(
                "E15",
                "2026-11-24T14:03:05Z",
                "UntagResource",
                console,
                {"keyId": led_arn, "tagKeys": ["Environment"]},
                _key_resources(led_arn),
            ),
            Expected(tags.status, LEDGER, tags.rules, "removes Environment=prod"),
        ),
        Example(
            "E13",
            TRAIL,
            lambda_alias,
            Expected("ignored", "—", note="Lambda's CreateAlias, not KMS"),
        ),
    ]


def _audit_key_opened(keys: Keys, policies: Mapping[str, str]) -> list[Example]:
    audit_id, audit_arn = keys.id(AUDIT), keys.arn(AUDIT)
    return [
        Example(
            "E17",
            CONSOLE_EXPORT,
            kms_record(
                "E17",
                "2026-11-25T10:15:22Z",
                "UpdateKeyDescription",
                priya("update-key-description"),
                {
                    "keyId": audit_id,
                    "description": "Audit logs (shared with ledger reconciliation)",
                },
                _key_resources(audit_arn),
            ),
            Expected(
                "out_of_band",
                AUDIT,
                note="description changed",
            ),
        ),
        Example(
            "E18",
            CONSOLE_EXPORT,
            kms_record(
                "E18",
                "2026-11-25T10:18:40Z",
                "PutKeyPolicy",
                priya("put-key-policy"),
                {
                    "keyId": audit_id,
                    "policyName": "default",
                    "policy": _policy_with_partner(policies[AUDIT_POLICY]),
                    "bypassPolicyLockoutSafetyCheck": False,
                },
                _key_resources(audit_arn),
            ),
            Expected(
                "out_of_band",
                AUDIT_POLICY,
                "kms_key_policy_modified (critical), "
                "kms_key_policy_external_grant (critical)",
                f"adds arn:aws:iam::{PARTNER_ACCOUNT}:root",
            ),
        ),
        Example(
            "E23",
            CONSOLE_EXPORT,
            kms_record(
                "E23",
                "2026-11-25T11:02:19Z",
                "RevokeGrant",
                priya("revoke-grant"),
                {"keyId": audit_id, "grantId": _hex_id("E23", "old-grant")},
                _key_resources(audit_arn),
            ),
            Expected(
                "out_of_band",
                AUDIT,
                note="grant revoked; grants are not attributes in state",
            ),
        ),
        Example(
            "E33",
            TRAIL,
            kms_record(
                "E33",
                "2026-11-28T15:40:12Z",
                "ScheduleKeyDeletion",
                dana(),
                {"keyId": audit_id, "pendingWindowInDays": 7},
                _key_resources(audit_arn),
                response={
                    "keyId": audit_arn,
                    "keyState": "PendingDeletion",
                    "deletionDate": _kms_date(
                        _parse_time("2026-11-28T15:40:12Z") + timedelta(days=7)
                    ),
                    "pendingWindowInDays": 7,
                },
            ),
            Expected(
                "out_of_band",
                AUDIT,
                "kms_key_deletion_scheduled (critical)",
                "deletion on 5 Dec 2026; cancelled by E34",
            ),
        ),
        Example(
            "E34",
            CONSOLE_EXPORT,
            kms_record(
                "E34",
                "2026-11-29T09:05:48Z",
                "CancelKeyDeletion",
                priya("cancel-key-deletion"),
                {"keyId": audit_id},
                _key_resources(audit_arn),
                response={"keyId": audit_arn},
            ),
            Expected(
                "out_of_band",
                AUDIT,
                "kms_key_disabled (error)",
                "PendingDeletion -> Disabled: KMS leaves a cancelled key disabled, "
                "so the key ends Disabled where the state says Enabled",
            ),
        ),
    ]


def _sandbox_multi_region_key() -> list[Example]:
    caller = priya("create-key")
    east = key_arn(SANDBOX_MRK)
    west = key_arn(SANDBOX_MRK, REPLICA_REGION)
    description = "priya sandbox multi-Region key"
    created = "2026-11-25T10:31:05Z"
    unmanaged = Expected("unmanaged", f"key {SANDBOX_MRK}")
    replica_metadata = _key_metadata(SANDBOX_MRK, "2026-11-25T10:33:47Z", "")
    replica_metadata.pop("AWSAccountId")
    replica_metadata = {"aWSAccountId": ACCOUNT, **replica_metadata}
    replica_metadata.update(
        arn=west,
        enabled=False,
        keyState="Creating",
        multiRegion=True,
        multiRegionConfiguration={
            "multiRegionKeyType": "REPLICA",
            "primaryKey": {"arn": east, "region": REGION},
            "replicaKeys": [{"arn": west, "region": REPLICA_REGION}],
        },
    )
    return [
        Example(
            "E19",
            CONSOLE_EXPORT,
            kms_record(
                "E19",
                created,
                "CreateKey",
                caller,
                _create_key_request(
                    description, {"Owner": "priya.raman"}, multiRegion=True
                ),
                _key_resources(east),
                response={
                    "keyMetadata": _key_metadata(
                        SANDBOX_MRK, created, description, multi_region=True
                    )
                },
            ),
            Expected("unmanaged", f"key {SANDBOX_MRK}", note="multi-Region primary"),
        ),
        Example(
            "E20",
            CONSOLE_EXPORT,
            kms_record(
                "E20",
                "2026-11-25T10:33:47Z",
                "ReplicateKey",
                priya("replicate-key"),
                {
                    "keyId": SANDBOX_MRK,
                    "replicaRegion": REPLICA_REGION,
                    "bypassPolicyLockoutSafetyCheck": False,
                    "description": "",
                },
                _key_resources(east),
                response={
                    "replicaKeyMetadata": replica_metadata,
                    "replicaPolicy": _default_policy(),
                },
            ),
            Expected("unmanaged", f"key {SANDBOX_MRK}", note="replica in us-west-2"),
        ),
        Example(
            "E21",
            TRAIL,
            kms_record(
                "E21",
                "2026-11-25T10:33:52Z",
                "SynchronizeMultiRegionKey",
                AWS_INTERNAL,
                None,
                _key_resources(west),
                region=REPLICA_REGION,
            ),
            Expected(
                "unmanaged",
                f"key {SANDBOX_MRK} (us-west-2)",
                note="AWS service call after E20; no person",
            ),
        ),
        Example(
            "E22",
            CONSOLE_EXPORT,
            kms_record(
                "E22",
                "2026-11-25T10:41:10Z",
                "UpdatePrimaryRegion",
                priya("update-primary-region"),
                {"keyId": east, "primaryRegion": REPLICA_REGION},
                _key_resources(east),
            ),
            unmanaged,
        ),
    ]


def _partner_use(keys: Keys) -> list[Example]:
    caller = partner()
    audit_arn, led_arn = keys.arn(AUDIT), keys.arn(LEDGER)
    session_arn = caller.identity["arn"]
    denied = (
        "AccessDeniedException",
        f"User: {session_arn} is not authorized to perform: kms:ScheduleKeyDeletion "
        f"on resource: {led_arn} because no resource-based policy allows the "
        "kms:ScheduleKeyDeletion action",
    )
    grantee = f"arn:aws:iam::{PARTNER_ACCOUNT}:role/ledger-reconciler"
    return [
        Example(
            "E24",
            SIEM_EXPORT,
            kms_record(
                "E24",
                "2026-11-26T08:14:33Z",
                "Decrypt",
                caller,
                {
                    "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    "keyId": audit_arn,
                    "encryptionContext": {
                        "aws:logs:arn": (
                            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/audit/ledger"
                        )
                    },
                },
                _key_resources(audit_arn),
                read_only=True,
            ),
            Expected("no finding", AUDIT, note="read from another account"),
        ),
        Example(
            "E25",
            SIEM_EXPORT,
            kms_record(
                "E25",
                "2026-11-26T08:15:02Z",
                "CreateGrant",
                caller,
                {
                    "keyId": audit_arn,
                    "granteePrincipal": grantee,
                    "operations": ["Decrypt", "GenerateDataKey"],
                    "name": "ledger-reconciler-batch",
                },
                _key_resources(audit_arn),
                response={"grantId": _hex_id("E25", "grant"), "keyId": audit_arn},
            ),
            Expected(
                "out_of_band",
                AUDIT,
                note="grant to a principal of another account",
            ),
        ),
        Example(
            "E26",
            SIEM_EXPORT,
            kms_record(
                "E26",
                "2026-11-26T08:16:40Z",
                "ScheduleKeyDeletion",
                caller,
                {"keyId": led_arn, "pendingWindowInDays": 7},
                _key_resources(led_arn),
                error=denied,
            ),
            Expected(
                "failed_attempt",
                LEDGER,
                note="AccessDeniedException: nothing changed",
            ),
        ),
        Example(
            "E27",
            SIEM_EXPORT,
            _s3_bucket_encryption(audit_arn),
            Expected("ignored", "—", note="S3 event naming the key; not KMS"),
        ),
        Example(
            "E28",
            SIEM_EXPORT,
            kms_record(
                "E28",
                "2026-11-27T03:10:44Z",
                "RetireGrant",
                payments_api(),
                None,
                _key_resources(keys.arn(PAYMENTS)),
                extra={"additionalEventData": {"grantId": _hex_id("E28", "grant")}},
            ),
            Expected(
                "out_of_band",
                PAYMENTS,
                note="grant id only in additionalEventData",
            ),
        ),
        Example(
            "E35",
            SIEM_EXPORT,
            kms_record(
                "E35",
                "2026-11-29T13:13:13Z",
                "DisableKey",
                reports_batch(),
                {"keyId": "alias/legacy-reports"},
                None,
            ),
            Expected(
                "unattributable",
                "alias/legacy-reports",
                note="no key id or ARN, no resources, alias not in state",
            ),
        ),
    ]


def _s3_bucket_encryption(key: str) -> dict[str, Any]:
    console = dana()
    bucket = f"acme-audit-logs-{ACCOUNT}"
    return {
        "eventVersion": "1.10",
        "userIdentity": console.identity,
        "eventTime": "2026-11-26T12:00:41Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketEncryption",
        "awsRegion": REGION,
        "sourceIPAddress": console.source_ip,
        "userAgent": "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750]",
        "requestParameters": {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
            "encryption": "",
            "ServerSideEncryptionConfiguration": {
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "Rule": {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    },
                    "BucketKeyEnabled": True,
                },
            },
        },
        "responseElements": None,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "bytesTransferredOut": 0,
        },
        "requestID": "7QK2M9XV4R8T1B6C",
        "eventID": _id("E27", "event"),
        "readOnly": False,
        "resources": [
            {
                "accountId": ACCOUNT,
                "type": "AWS::S3::Bucket",
                "ARN": f"arn:aws:s3:::{bucket}",
            }
        ],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "sessionCredentialFromConsole": "true",
    }


def _rotation(keys: Keys) -> list[Example]:
    pay_id, pay_arn = keys.id(PAYMENTS), keys.arn(PAYMENTS)
    led_id, led_arn = keys.id(LEDGER), keys.arn(LEDGER)
    return [
        Example(
            "E16",
            TRAIL,
            kms_record(
                "E16",
                "2026-11-25T02:13:07Z",
                "RotateKey",
                AWS_INTERNAL,
                None,
                _key_resources(led_arn),
                extra={
                    "serviceEventDetails": {
                        "rotationType": "AUTOMATIC",
                        "keyId": led_id,
                    }
                },
                service_event=True,
            ),
            Expected(
                "aws_service",
                LEDGER,
                "kms_key_rotated (informational)",
                note="yearly rotation, the result of enable_key_rotation = true",
            ),
        ),
        Example(
            "E29",
            TRAIL,
            kms_record(
                "E29",
                "2026-11-27T15:22:10Z",
                "DisableKeyRotation",
                jordan(),
                {"keyId": led_id},
                _key_resources(led_arn),
            ),
            Expected(
                "terraform_outside_pipeline",
                LEDGER,
                "kms_key_rotation_disabled (error)",
                "Terraform's user agent, a person's access keys",
            ),
        ),
        Example(
            "E30",
            LOOKUP,
            kms_record(
                "E30",
                "2026-11-28T09:02:55Z",
                "RotateKeyOnDemand",
                alice("rotate-key-on-demand"),
                {"keyId": pay_id},
                _key_resources(pay_arn),
                response={"keyId": pay_id},
            ),
            Expected(
                "out_of_band",
                PAYMENTS,
                note="new key material; no attribute in state moves",
            ),
        ),
        Example(
            "E31",
            TRAIL,
            kms_record(
                "E31",
                "2026-11-28T09:02:57Z",
                "RotateKey",
                AWS_INTERNAL,
                None,
                _key_resources(pay_arn),
                extra={
                    "serviceEventDetails": {
                        "rotationType": "ON_DEMAND",
                        "keyId": pay_id,
                    }
                },
                service_event=True,
            ),
            Expected(
                "no finding",
                PAYMENTS,
                note="AWS service event of E30's on-demand rotation, already reported",
            ),
        ),
    ]


def _alias_and_deletion(keys: Keys) -> list[Example]:
    return [
        Example(
            "E32",
            LOOKUP,
            kms_record(
                "E32",
                "2026-11-28T11:47:30Z",
                "UpdateAlias",
                alice("update-alias"),
                {"aliasName": "alias/payments", "targetKeyId": keys.id(LEDGER)},
                _key_resources(alias_arn("alias/payments"), keys.arn(LEDGER)),
            ),
            Expected(
                "out_of_band",
                PAYMENTS_ALIAS,
                "kms_alias_modified (error)",
                "target_key_id payments key -> ledger key",
            ),
        ),
        Example(
            "E36",
            TRAIL,
            kms_record(
                "E36",
                "2026-11-29T16:45:00Z",
                "DeleteAlias",
                dana(),
                {"aliasName": "alias/ledger"},
                _key_resources(alias_arn("alias/ledger"), keys.arn(LEDGER)),
            ),
            Expected(
                "out_of_band",
                LEDGER_ALIAS,
                "kms_alias_modified (error)",
                "alias_name alias/ledger -> gone",
            ),
        ),
    ]


def _pipeline_plan(keys: Keys) -> list[Example]:
    ci = terraform_ci("atlantis-run-20261130T075744")
    read = "read by the pipeline's plan refresh"
    return [
        Example(
            "E37",
            TRAIL,
            kms_record(
                "E37",
                "2026-11-30T07:58:10Z",
                "DescribeKey",
                ci,
                {"keyId": keys.id(LEDGER)},
                _key_resources(keys.arn(LEDGER)),
                read_only=True,
            ),
            Expected("no finding", LEDGER, note=read),
        ),
        Example(
            "E38",
            TRAIL,
            kms_record(
                "E38",
                "2026-11-30T07:58:11Z",
                "GetKeyPolicy",
                ci,
                {"keyId": keys.id(AUDIT), "policyName": "default"},
                _key_resources(keys.arn(AUDIT)),
                read_only=True,
            ),
            Expected("no finding", AUDIT_POLICY, note=read),
        ),
    ]


# --- files -----------------------------------------------------------------------


def write_all(state: Mapping[str, Any], output: Path = OUTPUT) -> list[Path]:
    """Rewrite every example file from the state; return the files written."""
    found = examples(state)
    _clear(output)
    written = [
        *_write_trail(found, output),
        _write_records_json(found, output / CONSOLE_EXPORT),
        _write_json_lines(found, output / SIEM_EXPORT),
        _write_lookup_events(found, output / LOOKUP),
    ]
    readme = output / "README.md"
    if readme.exists():
        _write_readme_table(found, readme)
    return written


def _clear(output: Path) -> None:
    for folder in ("AWSLogs", "exports", "siem", "lookup-events"):
        shutil.rmtree(output / folder, ignore_errors=True)


def _in_file(found: Iterable[Example], file: str) -> list[dict[str, Any]]:
    return [example.record for example in found if example.file == file]


def _write_trail(found: list[Example], output: Path) -> list[Path]:
    """One gzipped log file per region and five-minute span, as a trail delivers."""
    batches: dict[tuple[str, datetime], list[dict[str, Any]]] = {}
    for example in found:
        if example.file != TRAIL:
            continue
        region = example.record["awsRegion"]
        delivered = _delivery_time(example.event_time)
        batches.setdefault((region, delivered), []).append(example.record)

    return [
        _write_trail_file(output, region, delivered, records)
        for (region, delivered), records in sorted(batches.items())
    ]


def _delivery_time(moment: datetime) -> datetime:
    span = int(_TRAIL_FILE_SPAN.total_seconds())
    seconds = int(moment.timestamp())
    start = seconds - seconds % span
    return datetime.fromtimestamp(start, timezone.utc) + _TRAIL_FILE_SPAN


def _write_trail_file(
    output: Path, region: str, delivered: datetime, records: list[dict[str, Any]]
) -> Path:
    body = json.dumps({"Records": records}, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).digest()
    unique = base64.b32encode(digest).decode()[:16]
    folder = output / "AWSLogs" / ACCOUNT / "CloudTrail" / region
    folder = folder / f"{delivered:%Y}" / f"{delivered:%m}" / f"{delivered:%d}"
    name = f"{ACCOUNT}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    # mtime=0 keeps the bytes the same from one regeneration to the next.
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(body)
    return path


def _write_records_json(found: list[Example], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"Records": _in_file(found, CONSOLE_EXPORT)}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def _write_json_lines(found: list[Example], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, separators=(",", ":")) for r in _in_file(found, SIEM_EXPORT)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_lookup_events(found: list[Example], path: Path) -> Path:
    """What ``aws cloudtrail lookup-events`` prints: newest first, record as text."""
    records = sorted(
        _in_file(found, LOOKUP), key=lambda r: r["eventTime"], reverse=True
    )
    document = {"Events": [_lookup_event(record) for record in records]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    return path


def _lookup_event(record: Mapping[str, Any]) -> dict[str, Any]:
    identity = record["userIdentity"]
    event_time = _parse_time(record["eventTime"]).isoformat()
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record["readOnly"] else "false",
        "AccessKeyId": identity.get("accessKeyId", ""),
        "EventTime": event_time,
        "EventSource": record["eventSource"],
        "Username": identity.get("userName", ""),
        "Resources": [
            {"ResourceType": resource["type"], "ResourceName": resource["ARN"]}
            for resource in record.get("resources") or []
        ],
        "CloudTrailEvent": json.dumps(record, separators=(",", ":")),
    }


def _file_label(example: Example) -> str:
    if example.file == TRAIL:
        region = example.record["awsRegion"]
        delivered = _delivery_time(example.event_time)
        return f"trail {region} {delivered:%m-%d %H:%M}"
    return example.file


def _actor_label(record: Mapping[str, Any]) -> str:
    identity = record["userIdentity"]
    if "type" not in identity:
        return "AWS service"
    if identity["type"] == "IAMUser":
        return str(identity["userName"])
    return str(identity["arn"].rsplit("/", 1)[-1])


def events_table(found: Iterable[Example]) -> str:
    """The README table: one row per record, with what the tool should report."""
    rows = [
        "| id | file | eventTime | eventName | actor | target | expected status "
        "| expected rules | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for example in found:
        record, expected = example.record, example.expected
        cells = [
            example.label,
            _file_label(example),
            record["eventTime"],
            record["eventName"],
            _actor_label(record),
            f"`{expected.target}`" if expected.target not in ("", "—") else "—",
            expected.status,
            expected.rules,
            expected.note,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _write_readme_table(found: list[Example], readme: Path) -> None:
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    table = events_table(found)
    readme.write_text(
        f"{head}{README_START}\n{table}\n{README_END}{tail}", encoding="utf-8"
    )


def main() -> int:
    """Rewrite examples/cloudtrail from the committed example state."""
    state = json.loads(STATE.read_text(encoding="utf-8"))
    for path in write_all(state):
        print(path.relative_to(EXAMPLES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
