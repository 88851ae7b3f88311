"""Alice's out-of-band changes to the applied example, and the records they leave.

moto records no CloudTrail, so each call made here is followed by the record CloudTrail
would hold for it, written the way a trail and a console export write them.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from moto_terraform import ALICE, CLI_AGENT, AppliedExample

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTNER_ROOT = "arn:aws:iam::444455556666:root"

PAYMENTS = 'aws_kms_key.app["payments"]'
LEDGER = 'aws_kms_key.app["ledger"]'
AUDIT = "module.audit_logs.aws_kms_key.this"
AUDIT_POLICY = "module.audit_logs.aws_kms_key_policy.this"
PAYMENTS_ALIAS = 'aws_kms_alias.app["payments"]'

# What alice tags the ledger key with.
NEW_TAGS = {"Environment": "staging", "Ticket": "OPS-1234"}


@dataclass
class Drift:
    """What alice changed, and the records CloudTrail would hold for it."""

    applied: AppliedExample
    events_dir: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_time: datetime | None = None

    def key_id(self, address: str) -> str:
        return str(self.applied.attributes(address)["key_id"])

    def key_arn(self, address: str) -> str:
        return str(self.applied.attributes(address)["arn"])

    def record(
        self, name: str, command: str, request: dict[str, Any], resources: list[str]
    ) -> None:
        """Note the CloudTrail record of a call alice just made."""
        number = len(self.records) + 1
        self.records[name] = {
            "eventVersion": "1.11",
            "userIdentity": ALICE,
            "eventTime": self._event_time(),
            "eventSource": "kms.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.23",
            "userAgent": f"{CLI_AGENT}prompt/off command/kms.{command}",
            "requestParameters": request,
            "responseElements": None,
            "requestID": f"0e2d4c6a-8b1f-4d3e-9a5c-{number:012d}",
            "eventID": f"7f3a9c21-5e4b-4c8d-b6a2-{number:012d}",
            "readOnly": False,
            "resources": [
                {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn}
                for arn in resources
            ],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }

    def _event_time(self) -> str:
        # CloudTrail times are whole seconds; keep alice's calls in order.
        now = datetime.now(timezone.utc).replace(microsecond=0)
        if self.last_time is not None and now <= self.last_time:
            now = self.last_time + timedelta(seconds=1)
        self.last_time = now
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def change_out_of_band(drift: Drift, kms: Any) -> None:
    payments_id, ledger_id = drift.key_id(PAYMENTS), drift.key_id(LEDGER)
    audit_id = drift.key_id(AUDIT)
    ledger_arn = drift.key_arn(LEDGER)

    kms.disable_key(KeyId=payments_id)
    drift.record(
        "DisableKey", "disable-key", {"keyId": payments_id}, [drift.key_arn(PAYMENTS)]
    )

    kms.disable_key_rotation(KeyId=ledger_arn)
    drift.record(
        "DisableKeyRotation",
        "disable-key-rotation",
        {"keyId": ledger_arn},
        [ledger_arn],
    )

    policy = _opened_policy(drift)
    kms.put_key_policy(KeyId=audit_id, PolicyName="default", Policy=policy)
    drift.record(
        "PutKeyPolicy",
        "put-key-policy",
        {
            "keyId": audit_id,
            "policyName": "default",
            "policy": policy,
            "bypassPolicyLockoutSafetyCheck": False,
        },
        [drift.key_arn(AUDIT)],
    )

    retag_ledger(drift, kms)

    kms.update_alias(AliasName="alias/payments", TargetKeyId=ledger_id)
    drift.record(
        "UpdateAlias",
        "update-alias",
        {"aliasName": "alias/payments", "targetKeyId": ledger_id},
        [f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/payments", ledger_arn],
    )


def retag_ledger(drift: Drift, kms: Any) -> None:
    """Alice's TagResource on the ledger key, and its record."""
    ledger_arn = drift.key_arn(LEDGER)
    tags = [{"TagKey": k, "TagValue": v} for k, v in NEW_TAGS.items()]
    kms.tag_resource(KeyId=ledger_arn, Tags=tags)
    drift.record(
        "TagResource",
        "tag-resource",
        {
            "keyId": ledger_arn,
            "tags": [{"tagKey": k, "tagValue": v} for k, v in NEW_TAGS.items()],
        },
        [ledger_arn],
    )


def _opened_policy(drift: Drift) -> str:
    """The audit key policy from state, plus a statement for another account."""
    policy = json.loads(drift.applied.attributes(AUDIT_POLICY)["policy"])
    policy["Statement"].append(
        {
            "Sid": "PartnerDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": PARTNER_ROOT},
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        }
    )
    return json.dumps(policy, indent=2)


def write_records(drift: Drift) -> None:
    """Three records as a trail's gzipped log file, two as a console export."""
    records = list(drift.records.values())
    day = drift.last_time or datetime.now(timezone.utc)
    trail = drift.events_dir / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION
    trail = trail / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
    trail.mkdir(parents=True)
    name = f"{ACCOUNT}_CloudTrail_{REGION}_{day:%Y%m%dT%H%MZ}_E2eTestTrail0001.json.gz"
    body = json.dumps({"Records": records[:3]}).encode()
    (trail / name).write_bytes(gzip.compress(body))

    export = drift.events_dir / "alice-event-history.json"
    export.write_text(json.dumps({"Records": records[3:]}, indent=2), encoding="utf-8")
