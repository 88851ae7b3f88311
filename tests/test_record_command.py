"""``tfdrift-hook record`` and the check that starts where the recorded apply ended."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.kms_state import (
    ACCOUNT,
    KEY_1234,
    check_json,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import PIPELINE, TERRAFORM_AGENT, record

SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/terraform-ci/run-42"


def recorded(tmp_path: Path, state: Path) -> Path:
    receipt = tmp_path / "receipt.json"
    run = run_cli(
        "record",
        "--state",
        state,
        "--started",
        "2026-11-30T10:00:00Z",
        "--finished",
        "2026-11-30T10:02:00Z",
        "--principal",
        SESSION,
        "--receipt",
        receipt,
    )
    assert run.exit_code == 0, run.stderr
    return receipt


def test_record_writes_what_the_next_check_needs(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))

    receipt = json.loads(recorded(tmp_path, state).read_text(encoding="utf-8"))

    assert receipt["apply_started"] == "2026-11-30T10:00:00Z"
    assert receipt["apply_finished"] == "2026-11-30T10:02:00Z"
    assert receipt["lineage"] == "5f0d7c2e-0000-4000-8000-000000000001"
    assert receipt["serial"] == 3
    assert receipt["principal"] == SESSION
    assert receipt["terraform_version"] == "1.11.4"
    assert receipt["addresses"] == ["aws_kms_key.app"]


def test_the_check_starts_at_the_apply_end_and_the_apply_is_terraforms(
    tmp_path: Path,
) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    receipt = recorded(tmp_path, state)
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T09:00:00Z", "before"),
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policy": "{}"},
            "2026-11-30T10:02:00Z",
            "apply",
            identity=PIPELINE,
            agent=TERRAFORM_AGENT,
        ),
        record(
            "DisableKeyRotation", {"keyId": KEY_1234}, "2026-11-30T11:00:00Z", "after"
        ),
    )

    run = check_json(state, events, extra=("--receipt", str(receipt)))

    # "before" is outside the window; "apply" is the recorded apply's own call,
    # made by its principal inside its span; only "after" is out of band.
    assert [item["event_id"] for item in run.findings] == ["after"]
    text = run_cli("check", "--state", state, "--events", events, "--receipt", receipt)
    assert f"end of the last apply, from the receipt {receipt}" in text.stdout


def test_a_receipt_of_another_state_is_refused(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    receipt = recorded(tmp_path, state)
    other = json.loads(state.read_text(encoding="utf-8"))
    other["lineage"] = "another-lineage"
    state.write_text(json.dumps(other), encoding="utf-8")
    events = write_records(tmp_path, "events.json")

    run = check_json(state, events, extra=("--receipt", str(receipt)))

    assert run.exit_code == 2
    assert "lineage 5f0d7c2e-0000-4000-8000-000000000001, but the state's" in run.stderr


def test_an_older_serial_does_not_replace_a_newer_receipt(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    receipt = recorded(tmp_path, state)
    older = json.loads(state.read_text(encoding="utf-8"))
    older["serial"] = 2
    state.write_text(json.dumps(older), encoding="utf-8")

    run = run_cli(
        "record",
        "--state",
        state,
        "--started",
        "2026-11-30T12:00:00Z",
        "--principal",
        SESSION,
        "--receipt",
        receipt,
    )

    assert run.exit_code == 2
    assert "already holds serial 3, newer than this state's 2" in run.stderr


@mock_aws
def test_the_principal_comes_from_sts_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    receipt = tmp_path / "r.json"
    expected = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Arn"]

    run = run_cli(
        "record",
        "--state",
        state,
        "--started",
        "2026-11-30T10:00:00Z",
        "--receipt",
        receipt,
    )

    assert run.exit_code == 0, run.stderr
    assert json.loads(receipt.read_text(encoding="utf-8"))["principal"] == expected


def test_a_missing_receipt_named_explicitly_is_an_error(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    events = write_records(tmp_path, "events.json")

    run = check_json(state, events, extra=("--receipt", str(tmp_path / "none.json")))

    assert run.exit_code == 2
    assert "no receipt there; record one after apply" in run.stderr
