"""``tfdrift-hook check`` against a real apply, changed out of band with boto3.

The example is applied against moto; alice then changes it from the AWS CLI (as far
as CloudTrail can tell): she disables the payments key, turns off rotation of the
ledger key and retags it, opens the audit key policy to another account and points
alias/payments at the ledger key. moto records no CloudTrail, so the test writes the
records those calls produce, in two of the shapes the tool reads, and runs the real
command line on the applied state. Expected values come from the configuration in
examples/terraform and the calls made here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_terraform import (
    ALICE,
    LEDGER_TAGS,
    PROJECT_ROOT,
    BaselineCache,
    kms_client,
    run_check,
)
from out_of_band import (
    ACCOUNT,
    AUDIT,
    AUDIT_POLICY,
    LEDGER,
    NEW_TAGS,
    PARTNER_ROOT,
    PAYMENTS,
    PAYMENTS_ALIAS,
    REGION,
    Drift,
    change_out_of_band,
    write_records,
)

pytestmark = pytest.mark.e2e


EXPECTED = {
    (PAYMENTS, "kms_key_disabled"): ("DisableKey", "error"),
    (LEDGER, "kms_key_rotation_disabled"): ("DisableKeyRotation", "error"),
    (AUDIT_POLICY, "kms_key_policy_modified"): ("PutKeyPolicy", "critical"),
    (AUDIT_POLICY, "kms_key_policy_external_grant"): ("PutKeyPolicy", "critical"),
    (LEDGER, "kms_key_tags_changed"): ("TagResource", "warning"),
    (PAYMENTS_ALIAS, "kms_alias_modified"): ("UpdateAlias", "error"),
}


@pytest.fixture(scope="module")
def drift(
    baseline_cache: BaselineCache,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Drift]:
    """The applied example after alice's five calls, with their records on disk."""
    applied = baseline_cache.get()
    drift = Drift(applied, tmp_path_factory.mktemp("events"))
    try:
        change_out_of_band(drift, kms_client(moto_endpoint))
        write_records(drift)
        yield drift
    finally:
        baseline_cache.taint()


@pytest.fixture(scope="module")
def check(drift: Drift) -> subprocess.CompletedProcess[str]:
    """One run of the real command line over the drift."""
    return run_check(
        [
            "--state",
            str(drift.applied.state_path),
            "--events",
            str(drift.events_dir),
            "--format",
            "json",
        ],
        cwd=PROJECT_ROOT,
    )


@pytest.fixture(scope="module")
def findings(check: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    lines = [line for line in check.stdout.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def _one(findings: list[dict[str, Any]], address: str, rule: str) -> dict[str, Any]:
    matching = [f for f in findings if (f["address"], f["rule"]) == (address, rule)]
    assert len(matching) == 1, f"{address} {rule}: {matching}"
    return matching[0]


def _before_after(finding: dict[str, Any], attribute: str) -> tuple[Any, Any]:
    # A change may carry more than before and after (policy lists, tag deltas).
    change = finding["changes"][attribute]
    return change["before"], change["after"]


def test_out_of_band_changes_are_really_in_moto(
    drift: Drift, moto_endpoint: str
) -> None:
    kms = kms_client(moto_endpoint)
    payments = kms.describe_key(KeyId=drift.key_id(PAYMENTS))["KeyMetadata"]
    rotation = kms.get_key_rotation_status(KeyId=drift.key_id(LEDGER))
    tags = kms.list_resource_tags(KeyId=drift.key_id(LEDGER))["Tags"]
    aliases = {
        a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]
    }

    assert payments["KeyState"] == "Disabled"
    assert rotation["KeyRotationEnabled"] is False
    assert {t["TagKey"]: t["TagValue"] for t in tags} == {**LEDGER_TAGS, **NEW_TAGS}
    assert aliases["alias/payments"] == drift.key_id(LEDGER)


def test_check_exits_1_on_findings_at_or_above_error(
    check: subprocess.CompletedProcess[str],
) -> None:
    assert check.returncode == 1, check.stderr


def test_each_change_is_one_finding_per_rule(findings: list[dict[str, Any]]) -> None:
    found = {
        (f["address"], f["rule"]): (f["event"], f["priority"].lower()) for f in findings
    }

    assert found == EXPECTED
    assert len(findings) == len(EXPECTED)


def test_every_finding_is_alice_out_of_band_from_the_cli(
    drift: Drift, findings: list[dict[str, Any]]
) -> None:
    assert findings
    for finding in findings:
        record = drift.records[finding["event"]]

        assert finding["service"] == "kms"
        assert finding["user"] == "alice"
        assert finding["status"] == "out_of_band"
        assert finding["event_id"] == record["eventID"]
        assert finding["timestamp"] == record["eventTime"]
        assert finding["region"] == REGION
        assert finding["account"] == ACCOUNT
        assert finding["actor"]["type"] == "IAMUser"
        assert finding["actor"]["name"] == "alice"
        assert finding["actor"]["channel"] == "cli"
        assert finding["actor"]["arn"] == ALICE["arn"]
        assert isinstance(finding["output"], str) and finding["output"]


def test_disabled_key_goes_from_enabled_to_disabled(
    drift: Drift, findings: list[dict[str, Any]]
) -> None:
    finding = _one(findings, PAYMENTS, "kms_key_disabled")

    assert finding["resource"] == drift.key_arn(PAYMENTS)
    assert _before_after(finding, "key_state") == ("Enabled", "Disabled")


def test_rotation_goes_from_on_to_off(
    drift: Drift, findings: list[dict[str, Any]]
) -> None:
    finding = _one(findings, LEDGER, "kms_key_rotation_disabled")

    assert finding["resource"] == drift.key_arn(LEDGER)
    assert _before_after(finding, "enable_key_rotation") == (True, False)


def test_policy_change_names_the_other_accounts_root(
    drift: Drift, findings: list[dict[str, Any]]
) -> None:
    for rule in ("kms_key_policy_modified", "kms_key_policy_external_grant"):
        finding = _one(findings, AUDIT_POLICY, rule)
        policy = finding["changes"]["policy"]

        assert finding["resource"] == drift.key_arn(AUDIT)
        assert policy["added_principals"] == [PARTNER_ROOT]
        assert policy["removed_principals"] == []
        assert PARTNER_ROOT in policy["external_principals"]
        assert "444455556666" not in json.dumps(policy["before"])
        assert "444455556666" in json.dumps(policy["after"])


def test_tags_before_are_the_state_and_after_add_the_new_ones(
    drift: Drift, findings: list[dict[str, Any]]
) -> None:
    finding = _one(findings, LEDGER, "kms_key_tags_changed")

    assert finding["resource"] == drift.key_arn(LEDGER)
    assert _before_after(finding, "tags") == (LEDGER_TAGS, {**LEDGER_TAGS, **NEW_TAGS})


def test_alias_moves_from_the_payments_key_to_the_ledger_key(
    drift: Drift, findings: list[dict[str, Any]]
) -> None:
    finding = _one(findings, PAYMENTS_ALIAS, "kms_alias_modified")

    assert finding["resource"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/payments"
    assert _before_after(finding, "target_key_id") == (
        drift.key_id(PAYMENTS),
        drift.key_id(LEDGER),
    )


def test_fail_on_critical_still_fails_on_the_policy_change(drift: Drift) -> None:
    result = _check_only(drift, ["PutKeyPolicy"], "critical")

    assert result.returncode == 1, result.stderr


def test_a_warning_alone_passes_the_default_threshold(drift: Drift) -> None:
    result = _check_only(drift, ["TagResource"], None)

    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["rule"] for line in result.stdout.splitlines()] == [
        "kms_key_tags_changed"
    ]


def test_a_missing_state_file_is_a_usage_error(drift: Drift, tmp_path: Path) -> None:
    missing = tmp_path / "no-such.tfstate"

    result = run_check(
        ["--state", str(missing), "--events", str(drift.events_dir)], cwd=PROJECT_ROOT
    )

    assert result.returncode == 2
    assert "no-such.tfstate" in result.stderr


def _check_only(
    drift: Drift, events: list[str], fail_on: str | None
) -> subprocess.CompletedProcess[str]:
    events_dir = drift.events_dir.parent / f"only-{'-'.join(events)}-{fail_on}"
    events_dir.mkdir()
    records = [drift.records[name] for name in events]
    (events_dir / "records.json").write_text(json.dumps({"Records": records}))
    threshold = ["--fail-on", fail_on] if fail_on else []
    return run_check(
        [
            "--state",
            str(drift.applied.state_path),
            "--events",
            str(events_dir),
            "--format",
            "json",
            *threshold,
        ],
        cwd=PROJECT_ROOT,
    )
