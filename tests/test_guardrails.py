"""The guardrails: what an apply of the plan would do to keys someone changed or uses.

Each test gives ``pre-apply`` a plan JSON written by hand for ``aws_kms_key.logs`` (and
the events of the window), and reads the guardrail findings it reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import ACCOUNT, KEY_0987, key_arn, run_cli, write_records
from tests.test_check_command import ALICE, record
from tests.test_wrapper import _entry, _plan, _shown, _values, pending_deletion_plan

LOGS = "aws_kms_key.logs"
LOGS_ARN = key_arn(KEY_0987)
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
READER = f"arn:aws:iam::{ACCOUNT}:role/reader"

GUARDS = (
    "kms_apply_replaces_key_pending_deletion",
    "kms_apply_reenables_key",
    "kms_apply_restores_policy",
    "kms_apply_deletes_key_in_use",
)


@pytest.fixture(autouse=True)
def _own_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TFDRIFT_HOOK_DISABLE_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)


def _policy(*principals: str) -> str:
    statements = [
        {
            "Sid": f"Allow{number}",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "kms:*" if principal == ROOT else ["kms:Decrypt"],
            "Resource": "*",
        }
        for number, principal in enumerate(principals)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _update(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A plan whose refresh saw ``before`` and whose config says ``after``."""
    return _plan(
        prior=[_shown(LOGS, before)],
        drift=[_entry(LOGS, ["update"], _values(KEY_0987), before)],
        changes=[_entry(LOGS, ["update"], before, after)],
    )


def _guards(tmp_path: Path, plan: dict[str, Any], *records: dict[str, Any]) -> Any:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    events = write_records(tmp_path, "events.json", *records)
    run = run_cli(
        "pre-apply", "--plan-json", path, "--events", events, "--format", "json"
    )
    found = {item["rule"]: item for item in run.findings if item["rule"] in GUARDS}
    return run, found


def _call(name: str, request: dict[str, Any], event_id: str, **extra: Any) -> Any:
    return record(
        name,
        request,
        "2026-12-01T09:30:00Z",
        event_id,
        identity=ALICE,
        resources=[{"ARN": LOGS_ARN, "accountId": ACCOUNT}],
        **extra,
    )


# -- a key pending deletion ----------------------------------------------------------


def test_a_new_key_in_place_of_one_pending_deletion_names_who_and_when(
    tmp_path: Path,
) -> None:
    scheduled = _call(
        "ScheduleKeyDeletion",
        {"keyId": KEY_0987, "pendingWindowInDays": 7},
        "e-schedule",
        responseElements={"keyId": LOGS_ARN, "deletionDate": "Dec 8, 2026, 9:30:00 AM"},
    )

    run, found = _guards(tmp_path, pending_deletion_plan(), scheduled)

    guard = found["kms_apply_replaces_key_pending_deletion"]
    assert run.exit_code == 1
    assert guard["priority"] == "critical"
    assert (guard["user"], guard["event_id"]) == ("alice", "e-schedule")
    assert "deletion_date=2026-12-08T09:30:00Z" in guard["output"]
    assert guard["context"]["remedy"][:2] == [
        f"aws kms cancel-key-deletion --key-id {LOGS_ARN} --region us-west-2",
        f"aws kms enable-key --key-id {LOGS_ARN} --region us-west-2",
    ]


def test_a_key_gone_from_the_plan_with_no_event_is_still_guarded(
    tmp_path: Path,
) -> None:
    run, found = _guards(tmp_path, pending_deletion_plan())

    guard = found["kms_apply_replaces_key_pending_deletion"]
    assert guard["user"] == "unknown (no event in the window)"
    assert "deletion_date=unknown" in guard["output"]


# -- undoing a change that may have been incident response ---------------------------


def test_re_enabling_a_key_alice_disabled_is_guarded(tmp_path: Path) -> None:
    disabled = _call("DisableKey", {"keyId": KEY_0987}, "e-disable")
    plan = _update(_values(KEY_0987, is_enabled=False), _values(KEY_0987))

    run, found = _guards(tmp_path, plan, disabled)

    guard = found["kms_apply_reenables_key"]
    assert run.exit_code == 1
    assert (guard["priority"], guard["user"]) == ("error", "alice")
    assert guard["changes"]["key_state"]["before"] == "Enabled"
    assert guard["changes"]["key_state"]["after"] == "Disabled"


def test_a_policy_that_lets_a_removed_principal_back_in_is_guarded(
    tmp_path: Path,
) -> None:
    live = _values(KEY_0987, policy=_policy(ROOT))
    configured = _values(KEY_0987, policy=_policy(ROOT, READER))

    run, found = _guards(tmp_path, _update(live, configured))

    guard = found["kms_apply_restores_policy"]
    assert f"lets_back_in={READER}" in guard["output"]
    assert guard["user"] == "unknown (no event in the window)"


def test_a_policy_restore_that_only_takes_away_is_the_fix_not_a_risk(
    tmp_path: Path,
) -> None:
    live = _values(KEY_0987, policy=_policy(ROOT, "arn:aws:iam::444455556666:root"))
    configured = _values(KEY_0987, policy=_policy(ROOT))

    run, found = _guards(tmp_path, _update(live, configured))

    assert "kms_apply_restores_policy" not in found


# -- deleting a key still in use -----------------------------------------------------


def _destroy_plan() -> dict[str, Any]:
    values = _values(KEY_0987)
    return _plan(
        prior=[_shown(LOGS, values)],
        drift=[],
        changes=[_entry(LOGS, ["delete"], values, None)],
    )


def _read(name: str, event_id: str, time: str) -> dict[str, Any]:
    service = {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}
    item = record(name, {"keyId": LOGS_ARN}, time, event_id, identity=service)
    return {**item, "readOnly": True, "resources": [{"ARN": LOGS_ARN}]}


def test_deleting_a_key_that_decrypt_calls_still_use_is_guarded(
    tmp_path: Path,
) -> None:
    reads = [
        _read("Decrypt", "r-1", "2026-12-01T08:00:00Z"),
        _read("GenerateDataKey", "r-2", "2026-12-01T08:30:00Z"),
        _read("DescribeKey", "r-3", "2026-12-01T09:00:00Z"),
    ]

    run, found = _guards(tmp_path, _destroy_plan(), *reads)

    guard = found["kms_apply_deletes_key_in_use"]
    assert run.exit_code == 1
    assert "uses=2 last_used=2026-12-01T08:30:00Z" in guard["output"]
    assert guard["context"]["key_usage"]["reads"] == 3


def test_deleting_a_key_only_described_is_not_a_key_in_use(tmp_path: Path) -> None:
    reads = [_read("DescribeKey", "r-1", "2026-12-01T09:00:00Z")]

    run, found = _guards(tmp_path, _destroy_plan(), *reads)

    assert "kms_apply_deletes_key_in_use" not in found
    assert run.exit_code == 0, run.stdout
