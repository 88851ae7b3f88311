"""``tfdrift-hook terraform`` around the real terraform, against moto.

Three runs, each on a fresh apply of examples/terraform:

- alice's five out-of-band calls (out_of_band.py), then ``terraform plan`` through
  the wrapper: every attribute the plan shows drifted is explained by her call, and
  the plan says it will set it back;
- alice retags the ledger key, then ``terraform apply`` through the wrapper: the
  apply puts the tags back, a receipt is written, and the next ``check`` starts at
  the receipt's end, so her call (made before the apply) is no longer in the window;
- alice schedules the deletion of the payments key, then ``terraform apply``: the
  wrapper stops before Terraform runs, names her and prints the commands that keep
  the key; moto still has the same keys and no new one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from moto_terraform import PROJECT_ROOT, AppliedExample, kms_client
from out_of_band import (
    ACCOUNT,
    AUDIT_POLICY,
    LEDGER,
    PAYMENTS,
    PAYMENTS_ALIAS,
    REGION,
    Drift,
    change_out_of_band,
    retag_ledger,
    write_records,
)

pytestmark = pytest.mark.e2e

APPLIER = f"arn:aws:iam::{ACCOUNT}:user/terraform-ci"


def wrapper(
    applied: AppliedExample,
    events: Path,
    *terraform_args: str,
    options: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``tfdrift-hook terraform --events DIR -- ARGS`` in the applied directory."""
    arguments = ["--events", str(events), "--format", "json", *options]
    return tool(applied, "terraform", *arguments, "--", *terraform_args)


def tool(applied: AppliedExample, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tfdrift_hook ARGS`` in the applied directory, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tfdrift_hook", *args],
        cwd=applied.workdir,
        env=_environment(applied),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _environment(applied: AppliedExample) -> dict[str, str]:
    terraform = applied.terraform
    return {
        **terraform.env,
        "TERRAFORM_BINARY": str(terraform.binary),
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    }


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The findings among Terraform's own output: the lines that are JSON objects."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def by_rule(findings: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["address"], item["rule"]): item for item in findings}


# -- a plan after alice's changes ----------------------------------------------------


@pytest.fixture
def drifted(applied_example_to_change: AppliedExample, tmp_path: Path) -> Drift:
    drift = Drift(applied_example_to_change, tmp_path / "events")
    drift.events_dir.mkdir()
    change_out_of_band(drift, kms_client(_endpoint(applied_example_to_change)))
    write_records(drift)
    return drift


def _endpoint(applied: AppliedExample) -> str:
    override = (applied.workdir / "moto_override.tf").read_text(encoding="utf-8")
    start = override.index("http://")
    return override[start : override.index('"', start)]


def test_a_plan_explains_each_drifted_attribute_with_alices_call(
    drifted: Drift,
) -> None:
    run = wrapper(drifted.applied, drifted.events_dir, "plan", "-no-color")
    findings = by_rule(json_lines(run.stdout))

    assert run.returncode == 1, run.stderr
    assert "Plan: 0 to add, 4 to change, 0 to destroy." in run.stdout
    assert "stopped after `terraform plan`" in run.stderr
    explained = {
        (PAYMENTS, "kms_key_disabled"): "key_state",
        (LEDGER, "kms_key_rotation_disabled"): "enable_key_rotation",
        (LEDGER, "kms_key_tags_changed"): "tags",
        (AUDIT_POLICY, "kms_key_policy_modified"): "policy",
        (PAYMENTS_ALIAS, "kms_alias_modified"): "target_key_id",
    }
    for (address, rule), attribute in explained.items():
        finding = findings[(address, rule)]
        assert finding["user"] == "alice", (address, rule)
        assert finding["actor"]["channel"] == "cli"
        assert finding["context"]["plan"] == "explained", (address, rule)
        undone = finding["context"]["undone_by_plan"]
        assert (undone["address"], undone["attribute"]) == (address, attribute)
    assert not [key for key in findings if key[1] == "kms_unexplained_drift"]


# -- an apply through the wrapper, then the next check -------------------------------


def test_an_apply_writes_a_receipt_and_the_next_check_starts_there(
    applied_example_to_change: AppliedExample, tmp_path: Path
) -> None:
    applied = applied_example_to_change
    drift = Drift(applied, tmp_path / "events")
    drift.events_dir.mkdir()
    retag_ledger(drift, kms_client(_endpoint(applied)))
    write_records(drift)

    run = wrapper(
        applied,
        drift.events_dir,
        "apply",
        "-no-color",
        "-auto-approve",
        options=("--principal", APPLIER),
    )

    assert run.returncode == 0, run.stdout + run.stderr
    findings = by_rule(json_lines(run.stdout))
    assert findings[(LEDGER, "kms_key_tags_changed")]["user"] == "alice"
    receipt = json.loads((applied.workdir / ".tfdrift/receipt.json").read_text())
    state = json.loads(applied.state_path.read_text(encoding="utf-8"))
    assert (receipt["lineage"], receipt["serial"]) == (
        state["lineage"],
        state["serial"],
    )
    assert receipt["principal"] == APPLIER
    assert receipt["apply_started"] >= drift.records["TagResource"]["eventTime"]
    kms = kms_client(_endpoint(applied))
    tags = kms.list_resource_tags(KeyId=drift.key_id(LEDGER))["Tags"]
    assert "Ticket" not in {tag["TagKey"] for tag in tags}

    after = _check(applied, drift.events_dir)
    assert after.returncode == 0, after.stdout + after.stderr
    assert json_lines(after.stdout) == []
    assert "end of the last apply, from the receipt" in _text_check(
        applied, drift.events_dir
    )


def _check(
    applied: AppliedExample, events: Path, report: str = "json"
) -> subprocess.CompletedProcess[str]:
    return tool(applied, "check", "--events", str(events), "--format", report)


def _text_check(applied: AppliedExample, events: Path) -> str:
    return _check(applied, events, report="text").stdout


# -- an apply onto a key pending deletion --------------------------------------------


def test_an_apply_after_a_scheduled_deletion_stops_before_terraform(
    applied_example_to_change: AppliedExample, tmp_path: Path
) -> None:
    applied = applied_example_to_change
    drift = Drift(applied, tmp_path / "events")
    drift.events_dir.mkdir()
    kms = kms_client(_endpoint(applied))
    payments_arn = drift.key_arn(PAYMENTS)
    response = kms.schedule_key_deletion(
        KeyId=drift.key_id(PAYMENTS), PendingWindowInDays=7
    )
    drift.record(
        "ScheduleKeyDeletion",
        "schedule-key-deletion",
        {"keyId": drift.key_id(PAYMENTS), "pendingWindowInDays": 7},
        [payments_arn],
    )
    deletion = response["DeletionDate"].strftime("%Y-%m-%dT%H:%M:%SZ")
    drift.records["ScheduleKeyDeletion"]["responseElements"] = _response(
        payments_arn, response
    )
    write_records(drift)
    keys_before = _key_ids(kms)
    state_before = applied.state_path.read_text(encoding="utf-8")

    run = wrapper(applied, drift.events_dir, "apply", "-no-color", "-auto-approve")

    assert run.returncode == 1, run.stdout + run.stderr
    assert "stopped before `terraform apply`; nothing was applied" in run.stderr
    finding = by_rule(json_lines(run.stdout))[
        (PAYMENTS, "kms_apply_replaces_key_pending_deletion")
    ]
    assert finding["user"] == "alice"
    assert finding["priority"] == "critical"
    assert f"deletion_date={deletion}" in finding["output"]
    assert finding["context"]["remedy"][:2] == [
        f"aws kms cancel-key-deletion --key-id {payments_arn} --region {REGION}",
        f"aws kms enable-key --key-id {payments_arn} --region {REGION}",
    ]
    assert _key_ids(kms) == keys_before
    assert applied.state_path.read_text(encoding="utf-8") == state_before


def _response(arn: str, response: Mapping[str, Any]) -> dict[str, Any]:
    """The responseElements CloudTrail writes for ScheduleKeyDeletion."""
    return {
        "keyId": arn,
        "deletionDate": response["DeletionDate"].strftime("%b %d, %Y, %I:%M:%S %p"),
        "keyState": "PendingDeletion",
        "pendingWindowInDays": 7,
    }


def _key_ids(kms: Any) -> set[str]:
    return {key["KeyId"] for key in kms.list_keys()["Keys"]}
