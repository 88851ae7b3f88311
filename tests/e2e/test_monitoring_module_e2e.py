"""examples/terraform/monitoring: a real plan and apply against moto, then a look.

The module is called from a root configuration written here, as a user would call
it, with the provider pointed at the session's moto server. After the apply, moto
is asked for what the module promises: both EventBridge rules on the KMS events,
the SNS topic with a policy that lets EventBridge publish, the rule's target, the
email subscription, and the alarms on AWS/Events TriggeredRules.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto_terraform import MOTO_REGION, PROJECT_ROOT, Terraform, reset_moto

pytestmark = pytest.mark.e2e

MODULE = PROJECT_ROOT / "examples" / "terraform" / "monitoring"
PIPELINE_ROLE = "arn:aws:iam::123456789012:role/terraform-ci"
EMAIL = "kms-oncall@example.com"


def root_configuration(directory: Path, endpoint: str) -> Path:
    """A root module that calls the monitoring module, with moto as every endpoint."""
    shutil.copytree(MODULE, directory / "monitoring")
    # The test writes the root module; a copy of the module is what it calls.
    endpoints = "\n".join(
        f"    {service} = {json.dumps(endpoint)}"
        for service in ("events", "sns", "cloudwatch", "sts", "iam")
    )
    (directory / "main.tf").write_text(
        'provider "aws" {\n'
        f'  region                      = "{MOTO_REGION}"\n'
        '  access_key                  = "test"\n'
        '  secret_key                  = "test"\n'
        "  skip_credentials_validation = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_region_validation      = true\n"
        "  endpoints {\n"
        f"{endpoints}\n"
        "  }\n"
        "}\n\n"
        'module "kms_alarms" {\n'
        '  source            = "./monitoring"\n'
        '  name_prefix       = "payments-kms"\n'
        f"  alarm_emails      = [{json.dumps(EMAIL)}]\n"
        f"  ignored_role_arns = [{json.dumps(PIPELINE_ROLE)}]\n"
        '  tags              = { Team = "platform" }\n'
        "}\n",
        encoding="utf-8",
    )
    return directory


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=MOTO_REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def applied_module(
    tmp_path_factory: pytest.TempPathFactory,
    moto_endpoint: str,
    terraform_binary: Path,
    terraform_env: dict[str, str],
) -> Terraform:
    """One plan and apply for the module's tests, on an emptied moto."""
    reset_moto(moto_endpoint)
    workdir = root_configuration(tmp_path_factory.mktemp("monitoring"), moto_endpoint)
    terraform = Terraform(terraform_binary, workdir, dict(terraform_env))
    terraform.init()
    planned = terraform.run("plan", "-no-color", "-input=false", "-out=tfplan")
    assert "Plan: 8 to add, 0 to change, 0 to destroy." in planned.stdout
    applied = terraform.run("apply", "-no-color", "-input=false", "tfplan")
    assert "Apply complete! Resources: 8 added, 0 changed, 0 destroyed." in (
        applied.stdout
    )
    return terraform


def test_the_module_applies_and_moto_holds_rules_topic_target_and_alarms(
    applied_module: Terraform, moto_endpoint: str
) -> None:
    events = client("events", moto_endpoint)
    changes = events.describe_rule(Name="payments-kms-changes")
    critical = events.describe_rule(Name="payments-kms-critical")
    pattern = json.loads(changes["EventPattern"])
    assert pattern["source"] == ["aws.kms"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["kms.amazonaws.com"]
    assert {"ScheduleKeyDeletion", "PutKeyPolicy", "DisableKeyRotation"} <= set(
        pattern["detail"]["eventName"]
    )
    assert len(pattern["detail"]["eventName"]) == 20
    assert pattern["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"] == {
        "arn": [{"anything-but": [PIPELINE_ROLE]}, {"exists": False}]
    }
    assert json.loads(critical["EventPattern"])["detail"]["eventName"] == [
        "ScheduleKeyDeletion",
        "PutKeyPolicy",
        "DisableKey",
    ]

    sns = client("sns", moto_endpoint)
    topic_arn = "arn:aws:sns:us-east-1:123456789012:payments-kms-alerts"
    policy = json.loads(
        sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]["Policy"]
    )
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["EventBridgePublishes"]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    assert by_sid["EventBridgePublishes"]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": changes["Arn"]}
    }
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
        ("email", EMAIL)
    ]

    targets = events.list_targets_by_rule(Rule="payments-kms-changes")["Targets"]
    assert [(t["Id"], t["Arn"]) for t in targets] == [("sns", topic_arn)]
    assert "<event>" in targets[0]["InputTransformer"]["InputTemplate"]

    alarms = client("cloudwatch", moto_endpoint).describe_alarms(
        AlarmNamePrefix="payments-kms-"
    )["MetricAlarms"]
    assert {alarm["AlarmName"] for alarm in alarms} == {
        "payments-kms-changes",
        "payments-kms-critical",
    }
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/Events"
        assert alarm["MetricName"] == "TriggeredRules"
        assert alarm["Dimensions"] == [
            {"Name": "RuleName", "Value": alarm["AlarmName"]}
        ]
        assert alarm["AlarmActions"] == [topic_arn]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Threshold"] == 1.0


def test_a_second_plan_after_the_apply_changes_nothing(
    applied_module: Terraform,
) -> None:
    planned = applied_module.run("plan", "-no-color", "-input=false")

    assert "No changes." in planned.stdout


def test_the_rules_match_a_kms_change_and_not_a_read_or_the_pipeline(
    applied_module: Terraform, moto_endpoint: str
) -> None:
    # moto serves no TestEventPattern; its own matcher (what put_events uses) judges
    # the pattern as the rule holds it.
    from moto.events.models import EventPattern

    events = client("events", moto_endpoint)
    stored = events.describe_rule(Name="payments-kms-critical")["EventPattern"]
    pattern = EventPattern.load(stored)
    alice = {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice"}
    pipeline = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/terraform-ci/run-42",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": PIPELINE_ROLE}},
    }
    other_role = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/admin/bob",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::123456789012:role/admin",
            }
        },
    }

    def matches(name: str, identity: dict[str, Any]) -> bool:
        event = {
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.kms",
            "account": "123456789012",
            "region": MOTO_REGION,
            "detail": {
                "eventSource": "kms.amazonaws.com",
                "eventName": name,
                "userIdentity": identity,
            },
        }
        return bool(pattern.matches_event(event))

    assert matches("ScheduleKeyDeletion", alice)
    assert matches("PutKeyPolicy", other_role)
    assert not matches("Decrypt", alice)
    assert not matches("ScheduleKeyDeletion", pipeline)
