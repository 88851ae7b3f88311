"""Record an apply, then check a live S3 trail: the window comes from the receipt.

The example is applied against moto, then applied again without changes; that second
apply is "the apply" whose start and end ``tfdrift-hook record`` writes down, with the
state that terraform holds and the principal STS (moto) names. Alice then disables the
payments key and tags the ledger key from the AWS CLI. moto records no CloudTrail, so
the test writes what a trail would have delivered into a moto S3 bucket, in the
layout a trail uses: Alice's older change from before the apply, the apply's own calls
(one of them at the very second the apply ended), and Alice's new calls. ``check``
then reads the bucket through ``sources.s3`` in ``.tfdrift.yml``, with no ``--since``
and no ``--state``: only Alice's new calls may come out as findings.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from moto_terraform import (
    ALICE,
    CLI_AGENT,
    LEDGER_TAGS,
    PROJECT_ROOT,
    AppliedExample,
    BaselineCache,
    kms_client,
    run_check,
)

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "tfdrift-e2e-trail"
TRAIL = "management-events"
TIME = "%Y-%m-%dT%H:%M:%SZ"

PAYMENTS = 'aws_kms_key.app["payments"]'
LEDGER = 'aws_kms_key.app["ledger"]'
AUDIT = "module.audit_logs.aws_kms_key.this"
AUDIT_POLICY = "module.audit_logs.aws_kms_key_policy.this"

# Every managed instance of examples/terraform (main.tf, modules/log-key/main.tf).
ADDRESSES = [
    'aws_kms_alias.app["ledger"]',
    'aws_kms_alias.app["payments"]',
    LEDGER,
    PAYMENTS,
    "module.audit_logs.aws_kms_alias.this",
    AUDIT,
    AUDIT_POLICY,
]

# From examples/terraform/variables.tf and main.tf.
PAYMENTS_TAGS = {"Application": "payments", "Team": "payments", "Environment": "prod"}
NEW_TAGS = {"Environment": "staging", "Ticket": "OPS-5678"}

PROVIDER = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) "
    "terraform-provider-aws/5.100.0 (+https://registry.terraform.io/providers/"
    "hashicorp/aws) aws-sdk-go-v2/1.36.3 os/linux lang/go#1.24.2 api/kms#1.38.1"
)

# Alice's new calls, and what each must be judged as: (event, priority).
EXPECTED = {
    (PAYMENTS, "kms_key_disabled"): ("DisableKey", "error"),
    (LEDGER, "kms_key_tags_changed"): ("TagResource", "warning"),
}

_TIMEOUT_S = 300


@dataclass
class Trail:
    """The records a trail would hold, written as its log files in a moto bucket."""

    applied: AppliedExample
    s3: Any
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def key_id(self, address: str) -> str:
        return str(self.applied.attributes(address)["key_id"])

    def key_arn(self, address: str) -> str:
        return str(self.applied.attributes(address)["arn"])

    def record(
        self,
        label: str,
        name: str,
        moment: datetime,
        who: Mapping[str, Any],
        agent: str,
        request: dict[str, Any],
        address: str,
    ) -> dict[str, Any]:
        """The CloudTrail record of one KMS call on the key at ``address``."""
        number = len(self.records) + 1
        body = {
            "eventVersion": "1.11",
            "userIdentity": dict(who),
            "eventTime": moment.strftime(TIME),
            "eventSource": "kms.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.23",
            "userAgent": agent,
            "requestParameters": request,
            "responseElements": None,
            "requestID": f"5b1d3f7e-2c4a-4e6b-8d0f-{number:012d}",
            "eventID": f"9c4e2a70-1d3b-4f5a-a7c9-{number:012d}",
            "readOnly": False,
            "resources": [
                {
                    "accountId": ACCOUNT,
                    "type": "AWS::KMS::Key",
                    "ARN": self.key_arn(address),
                }
            ],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }
        self.records[label] = body
        return body

    def deliver(self, records: list[dict[str, Any]], suffix: str) -> str:
        """One gzipped log file, in the day folder of its last record, like a trail."""
        last = max(_parse_time(item["eventTime"]) for item in records)
        folder = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{last:%Y/%m/%d}"
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{last:%Y%m%dT%H%MZ}_{suffix}.json.gz"
        body = gzip.compress(json.dumps({"Records": records}).encode("utf-8"))
        self.s3.put_object(Bucket=BUCKET, Key=f"{folder}/{name}", Body=body)
        return f"{folder}/{name}"


@dataclass
class Scenario:
    """What the test did and what the commands answered."""

    trail: Trail
    principal: str
    started: datetime
    finished: datetime
    state: dict[str, Any]
    record: subprocess.CompletedProcess[str]
    receipt: dict[str, Any]
    keys: list[str]
    json_check: subprocess.CompletedProcess[str] | None = None
    text_check: subprocess.CompletedProcess[str] | None = None


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME).replace(tzinfo=timezone.utc)


def _whole_second(moment: datetime, up: bool = False) -> datetime:
    floor = moment.replace(microsecond=0)
    return floor + timedelta(seconds=1) if up and floor != moment else floor


def _boto3(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _tool(
    arguments: list[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfdrift_hook", *arguments],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _environment(
    terraform_env: Mapping[str, str], terraform_binary: Path, endpoint: str
) -> dict[str, str]:
    """Terraform's environment, with STS (for ``record``) answered by moto."""
    env = dict(terraform_env)
    env["TERRAFORM_BINARY"] = str(terraform_binary)
    env["AWS_ENDPOINT_URL_STS"] = endpoint
    return env


@pytest.fixture(scope="module")
def scenario(
    baseline_cache: BaselineCache,
    moto_endpoint: str,
    terraform_binary: Path,
    terraform_env: dict[str, str],
) -> Iterator[Scenario]:
    """Apply, record, change out of band, deliver the trail, check it twice."""
    applied = baseline_cache.get()
    try:
        yield _run_scenario(applied, moto_endpoint, terraform_binary, terraform_env)
    finally:
        baseline_cache.taint()


def _run_scenario(
    applied: AppliedExample,
    endpoint: str,
    terraform_binary: Path,
    terraform_env: dict[str, str],
) -> Scenario:
    env = _environment(terraform_env, terraform_binary, endpoint)
    workdir = applied.workdir
    principal = str(_boto3("sts", endpoint).get_caller_identity()["Arn"])

    # The apply: no changes, but a real run of terraform against moto.
    started = _whole_second(datetime.now(timezone.utc))
    applied.terraform.apply()
    finished = _whole_second(datetime.now(timezone.utc), up=True)
    state = json.loads(applied.terraform.run("state", "pull").stdout)

    recorded = _tool(
        [
            "record",
            "-C",
            str(workdir),
            "--started",
            started.strftime(TIME),
            "--finished",
            finished.strftime(TIME),
        ],
        env,
    )
    receipt_path = workdir / ".tfdrift" / "receipt.json"
    receipt = (
        json.loads(receipt_path.read_text("utf-8")) if receipt_path.is_file() else {}
    )

    s3 = _boto3("s3", endpoint)
    s3.create_bucket(Bucket=BUCKET)
    _create_trail(_boto3("cloudtrail", endpoint))
    trail = Trail(applied, s3)
    keys = _deliver_history(trail, principal, started, finished)
    keys.append(_change_out_of_band(trail, kms_client(endpoint), finished))

    (workdir / ".tfdrift.yml").write_text(
        f"sources:\n  s3:\n    bucket: {BUCKET}\n    endpoint_url: {endpoint}\n",
        encoding="utf-8",
    )
    scenario = Scenario(
        trail, principal, started, finished, state, recorded, receipt, keys
    )
    if recorded.returncode == 0:
        check_env = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL_STS"}
        arguments = ["-C", str(workdir), "--format"]
        scenario.json_check = run_check([*arguments, "json"], env=check_env)
        scenario.text_check = run_check([*arguments, "text"], env=check_env)
    return scenario


def _create_trail(cloudtrail: Any) -> None:
    """The trail that delivers to the bucket, logging KMS writes in every Region."""
    cloudtrail.create_trail(Name=TRAIL, S3BucketName=BUCKET, IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name=TRAIL)
    # What AWS answers for a trail left at its defaults; moto would answer [].
    cloudtrail.put_event_selectors(
        TrailName=TRAIL,
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}],
    )


def _deliver_history(
    trail: Trail, principal: str, started: datetime, finished: datetime
) -> list[str]:
    """Alice's change before the apply, and the apply's own calls, as two log files."""
    ledger_arn = trail.key_arn(LEDGER)
    old = trail.record(
        "old",
        "DisableKeyRotation",
        started - timedelta(minutes=10),
        ALICE,
        f"{CLI_AGENT}prompt/off command/kms.disable-key-rotation",
        {"keyId": ledger_arn},
        LEDGER,
    )
    first = trail.deliver([old], "E2eTrail0000001")

    terraform = {
        "type": "IAMUser",
        "principalId": "AIDA4EXAMPLEMOTO00001",
        "arn": principal,
        "accountId": ACCOUNT,
        "accessKeyId": "test",
        "userName": principal.rsplit("/", 1)[-1],
    }
    audit_policy = trail.applied.attributes(AUDIT_POLICY)["policy"]
    calls = [
        trail.record(
            "apply-rotation",
            "EnableKeyRotation",
            started + timedelta(seconds=1),
            terraform,
            PROVIDER,
            {"keyId": trail.key_id(LEDGER)},
            LEDGER,
        ),
        trail.record(
            "apply-policy",
            "PutKeyPolicy",
            started + timedelta(seconds=1),
            terraform,
            PROVIDER,
            {
                "keyId": trail.key_id(AUDIT),
                "policyName": "default",
                "policy": audit_policy,
                "bypassPolicyLockoutSafetyCheck": False,
            },
            AUDIT,
        ),
        # At the very second the apply ended: inside the window, and the apply's own.
        trail.record(
            "apply-tags",
            "TagResource",
            finished,
            terraform,
            PROVIDER,
            {
                "keyId": trail.key_arn(PAYMENTS),
                "tags": [
                    {"tagKey": k, "tagValue": v} for k, v in PAYMENTS_TAGS.items()
                ],
            },
            PAYMENTS,
        ),
    ]
    return [first, trail.deliver(calls, "E2eTrail0000002")]


def _change_out_of_band(trail: Trail, kms: Any, finished: datetime) -> str:
    """Alice disables the payments key and tags the ledger key, after the apply."""
    # Whole seconds after the apply's end, and not in the future.
    now = _whole_second(datetime.now(timezone.utc))
    moment = max(now - timedelta(seconds=2), finished)
    payments_id, ledger_arn = trail.key_id(PAYMENTS), trail.key_arn(LEDGER)

    kms.disable_key(KeyId=payments_id)
    disabled = trail.record(
        "DisableKey",
        "DisableKey",
        moment + timedelta(seconds=1),
        ALICE,
        f"{CLI_AGENT}prompt/off command/kms.disable-key",
        {"keyId": payments_id},
        PAYMENTS,
    )

    kms.tag_resource(
        KeyId=ledger_arn,
        Tags=[{"TagKey": k, "TagValue": v} for k, v in NEW_TAGS.items()],
    )
    tagged = trail.record(
        "TagResource",
        "TagResource",
        moment + timedelta(seconds=2),
        ALICE,
        f"{CLI_AGENT}prompt/off command/kms.tag-resource",
        {
            "keyId": ledger_arn,
            "tags": [{"tagKey": k, "tagValue": v} for k, v in NEW_TAGS.items()],
        },
        LEDGER,
    )
    return trail.deliver([disabled, tagged], "E2eTrail0000003")


# --- record -----------------------------------------------------------------------


def test_record_writes_the_receipt_of_the_apply(scenario: Scenario) -> None:
    assert scenario.record.returncode == 0, scenario.record.stderr
    receipt = scenario.receipt

    assert receipt["lineage"] == scenario.state["lineage"]
    assert receipt["serial"] == scenario.state["serial"]
    assert receipt["addresses"] == ADDRESSES
    assert receipt["apply_started"] == scenario.started.strftime(TIME)
    assert receipt["apply_finished"] == scenario.finished.strftime(TIME)
    assert receipt["principal"] == scenario.principal
    assert receipt["terraform_version"] == scenario.state["terraform_version"]


def test_the_trail_is_in_the_bucket_in_a_trails_layout(scenario: Scenario) -> None:
    listed = scenario.trail.s3.list_objects_v2(Bucket=BUCKET, Prefix="AWSLogs/")
    keys = sorted(item["Key"] for item in listed["Contents"])

    assert keys == sorted(scenario.keys)
    for key in keys:
        assert key.startswith(f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/")
        assert key.endswith(".json.gz")


def test_out_of_band_changes_are_really_in_moto(
    scenario: Scenario, moto_endpoint: str
) -> None:
    kms = kms_client(moto_endpoint)
    trail = scenario.trail
    payments = kms.describe_key(KeyId=trail.key_id(PAYMENTS))["KeyMetadata"]
    tags = kms.list_resource_tags(KeyId=trail.key_id(LEDGER))["Tags"]

    assert payments["KeyState"] == "Disabled"
    assert {t["TagKey"]: t["TagValue"] for t in tags} == {**LEDGER_TAGS, **NEW_TAGS}


# --- check ------------------------------------------------------------------------


def _findings(scenario: Scenario) -> list[dict[str, Any]]:
    check = scenario.json_check
    assert check is not None, f"record failed: {scenario.record.stderr}"
    lines = [line for line in check.stdout.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def _one(findings: list[dict[str, Any]], address: str, rule: str) -> dict[str, Any]:
    matching = [f for f in findings if (f["address"], f["rule"]) == (address, rule)]
    assert len(matching) == 1, f"{address} {rule}: {matching}"
    return matching[0]


def test_check_exits_1_on_alices_changes(scenario: Scenario) -> None:
    check = scenario.json_check
    assert check is not None, f"record failed: {scenario.record.stderr}"

    assert check.returncode == 1, check.stderr


def test_only_the_changes_after_the_apply_are_findings(scenario: Scenario) -> None:
    findings = _findings(scenario)
    found = {
        (f["address"], f["rule"]): (f["event"], f["priority"].lower()) for f in findings
    }

    assert found == EXPECTED
    assert len(findings) == len(EXPECTED)


def test_every_finding_is_alice_out_of_band_after_the_apply(
    scenario: Scenario,
) -> None:
    findings = _findings(scenario)
    finished = scenario.finished.strftime(TIME)

    assert findings
    for finding in findings:
        record = scenario.trail.records[finding["event"]]

        assert finding["user"] == "alice"
        assert finding["status"] == "out_of_band"
        assert finding["event_id"] == record["eventID"]
        assert finding["timestamp"] == record["eventTime"]
        assert finding["timestamp"] > finished
        assert finding["region"] == REGION
        assert finding["account"] == ACCOUNT
        assert finding["actor"]["arn"] == ALICE["arn"]
        assert finding["actor"]["channel"] == "cli"


def test_nothing_of_the_apply_or_before_it_is_found(scenario: Scenario) -> None:
    findings = _findings(scenario)
    before = {
        scenario.trail.records[label]["eventID"]
        for label in ("old", "apply-rotation", "apply-policy", "apply-tags")
    }

    assert not [f for f in findings if f["event_id"] in before]
    assert not [f for f in findings if f["rule"] == "kms_key_rotation_disabled"]
    assert not [f for f in findings if f["address"] == AUDIT_POLICY]


def test_the_disabled_key_goes_from_the_applied_state_to_disabled(
    scenario: Scenario,
) -> None:
    finding = _one(_findings(scenario), PAYMENTS, "kms_key_disabled")

    assert finding["resource"] == scenario.trail.key_arn(PAYMENTS)
    change = finding["changes"]["key_state"]
    assert (change["before"], change["after"]) == ("Enabled", "Disabled")


def test_the_tags_go_from_the_applied_state_to_alices(scenario: Scenario) -> None:
    finding = _one(_findings(scenario), LEDGER, "kms_key_tags_changed")

    assert finding["resource"] == scenario.trail.key_arn(LEDGER)
    change = finding["changes"]["tags"]
    assert change["before"] == LEDGER_TAGS
    assert change["after"] == {**LEDGER_TAGS, **NEW_TAGS}


def test_the_text_report_says_the_window_came_from_the_receipt(
    scenario: Scenario,
) -> None:
    check = scenario.text_check
    assert check is not None, f"record failed: {scenario.record.stderr}"
    lines = check.stdout.splitlines()
    window = [line for line in lines if line.startswith("window: ")]
    receipt = scenario.trail.applied.workdir / ".tfdrift" / "receipt.json"

    assert check.returncode == 1, check.stderr
    assert window == [
        f"window: {scenario.finished.strftime(TIME)} to the last record "
        f"(end of the last apply, from the receipt {receipt})"
    ]


def test_the_text_report_reads_the_bucket_and_counts_the_apply_in_band(
    scenario: Scenario,
) -> None:
    check = scenario.text_check
    assert check is not None, f"record failed: {scenario.record.stderr}"
    header = check.stdout.splitlines()
    events = [line for line in header if line.startswith("events: ")]

    assert "terraform show -json in" in header[0]
    assert "INCOMPLETE" not in check.stdout
    # Six records in the bucket; in the window only the apply's last call (in band)
    # and alice's two calls.
    assert len(events) == 1
    assert events[0].startswith("events: 6 KMS records from s3 (3 writes, 0 reads, ")
    assert ", 1 in band, " in events[0]
