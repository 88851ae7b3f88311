"""The phase commands and the wrapper on bad or unusual input: each says what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import KEY_0987, key_arn, run_cli, write_records, write_state
from tests.test_wrapper import (
    APPLIER,
    Workspace,
    _entry,
    _plan,
    pending_deletion_plan,
    quiet_plan,
)
from tfdrift_hook.receipts import LocalReceiptStore, Receipt, receipt_from_json

START = "2026-12-01T10:00:00Z"


@pytest.fixture(autouse=True)
def _own_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TFDRIFT_CONFIG", "TFDRIFT_FAIL_ON", "TFDRIFT_HOOK_DISABLE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _events(directory: Path) -> Path:
    return write_records(directory, "events.json")


# -- receipts of another state -------------------------------------------------------


def test_a_receipt_naming_none_of_the_plans_addresses_is_refused(
    tmp_path: Path,
) -> None:
    store = LocalReceiptStore(tmp_path / ".tfdrift" / "receipt.json")
    store.write(
        receipt_from_json(
            {
                "apply_started": "2026-12-01T09:00:00Z",
                "apply_finished": "2026-12-01T09:05:00Z",
                "lineage": "another-state",
                "serial": 4,
                "principal": APPLIER,
                "terraform_version": "1.11.4",
                "addresses": ["aws_s3_bucket.logs", "aws_kms_key.elsewhere"],
            },
            "test",
        )
    )
    plan = _write(tmp_path / "plan.json", quiet_plan())

    run = run_cli("post-plan", "--plan-json", plan, "--events", _events(tmp_path))

    assert run.exit_code == 2
    assert "names none of the 1 addresses of" in run.stderr
    assert "belongs to another state" in run.stderr


def test_a_plan_that_only_creates_checks_a_new_workspace(tmp_path: Path) -> None:
    creates = _plan(
        prior=[],
        drift=[],
        changes=[_entry("aws_kms_key.logs", ["create"], None, {"description": "x"})],
    )
    del creates["prior_state"]
    plan = _write(tmp_path / "plan.json", creates)

    run = run_cli("post-plan", "--plan-json", plan, "--events", _events(tmp_path))

    assert run.exit_code == 0, run.stderr
    assert "0 managed KMS resources" in run.stdout


# -- the apply's start, for post-apply -----------------------------------------------


def test_a_pre_apply_that_stops_the_apply_notes_no_start(tmp_path: Path) -> None:
    marker = tmp_path / ".tfdrift" / "apply-started"
    marker.parent.mkdir()
    marker.write_text("2026-11-01T00:00:00Z\n", encoding="utf-8")
    plan = _write(tmp_path / "plan.json", pending_deletion_plan())
    events = write_records(tmp_path, "events.json", _scheduled())

    stopped = run_cli("pre-apply", "--plan-json", plan, "--events", events)

    assert stopped.exit_code == 1
    assert not marker.exists()


def test_a_pre_apply_that_lets_it_go_ahead_notes_the_start(tmp_path: Path) -> None:
    plan = _write(tmp_path / "plan.json", quiet_plan())

    run = run_cli("pre-apply", "--plan-json", plan, "--events", _events(tmp_path))

    assert run.exit_code == 0, run.stderr
    noted = (tmp_path / ".tfdrift" / "apply-started").read_text(encoding="utf-8")
    assert noted.startswith("20") and noted.strip().endswith("Z")


def _scheduled() -> dict[str, Any]:
    from tests.test_check_command import record

    arn = key_arn(KEY_0987)
    return record(
        "ScheduleKeyDeletion",
        {"keyId": KEY_0987, "pendingWindowInDays": 7},
        "2026-12-01T09:30:00Z",
        "e-schedule",
        responseElements={"keyId": arn, "keyState": "PendingDeletion"},
        resources=[{"ARN": arn}],
    )


# -- post-apply's own input ----------------------------------------------------------


def test_a_failed_apply_needs_no_start_and_writes_no_receipt(tmp_path: Path) -> None:
    run = run_cli("post-apply", "--exit-code", "1")

    assert run.exit_code == 0, run.stderr
    assert "terraform apply failed (exit 1): no receipt written" in run.stderr
    assert not (tmp_path / ".tfdrift" / "receipt.json").exists()


def test_an_unreadable_start_note_names_the_file(tmp_path: Path) -> None:
    marker = tmp_path / ".tfdrift" / "apply-started"
    marker.parent.mkdir()
    marker.write_text("yesterday-ish\n", encoding="utf-8")

    run = run_cli("post-apply", "--principal", APPLIER)

    assert run.exit_code == 2
    assert "apply-started: 'yesterday-ish' is not a time pre-apply wrote" in run.stderr
    assert "give --started" in run.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--started", START, "--finished", "2026-12-01T09:00:00Z"],
            "finished (2026-12-01T09:00:00Z) before it started",
        ),
        (["--started", "2099-01-01T00:00:00Z"], "is in the future"),
        (["--started", START, "--principal", "terraform-ci"], "is not an ARN"),
    ],
)
def test_post_apply_times_and_principal_that_cannot_be_right_are_refused(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    state = write_state(tmp_path)

    run = run_cli("post-apply", "--state", state, *arguments)

    assert run.exit_code == 2
    assert message in run.stderr
    assert not (tmp_path / ".tfdrift" / "receipt.json").exists()


def test_post_apply_writes_the_receipt_with_the_times_given(tmp_path: Path) -> None:
    state = write_state(tmp_path)
    finished = "2026-12-01T10:04:00Z"

    run = run_cli(
        "post-apply",
        "--state",
        state,
        "--started",
        START,
        "--finished",
        finished,
        "--principal",
        APPLIER,
    )

    assert run.exit_code == 0, run.stderr
    receipt: Receipt | None = LocalReceiptStore(
        tmp_path / ".tfdrift" / "receipt.json"
    ).read()
    assert receipt is not None
    assert receipt.to_json()["apply_started"] == START
    assert receipt.to_json()["apply_finished"] == finished
    assert receipt.principal == APPLIER


# -- plugins switched off ------------------------------------------------------------


def test_a_phase_whose_check_is_disabled_is_incomplete_not_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFDRIFT_HOOK_DISABLE_PLUGINS", "phase-check")
    plan = _write(tmp_path / "plan.json", quiet_plan())

    run = run_cli("post-plan", "--plan-json", plan, "--events", _events(tmp_path))

    assert run.exit_code == 3
    assert "no plugin ran the check of this phase" in run.stderr


def test_a_misspelt_plugin_to_disable_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFDRIFT_HOOK_DISABLE_PLUGINS", "plan-corelation")

    run = run_cli("plugins")

    assert "'plan-corelation', which is no plugin" in run.stderr
    assert "plan-correlation (built-in): tfdrift_plan_candidates" in run.stdout


# -- the wrapper, before Terraform runs ----------------------------------------------


def test_the_wrapper_without_an_event_source_stops_before_terraform(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path)
    workspace.use_plan(quiet_plan())
    command = workspace.command("plan")
    at = command.index("--events")
    del command[at : at + 2]

    import subprocess

    run = subprocess.run(
        command,
        cwd=workspace.root,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 2
    assert "no event source" in run.stderr and "terraform was not run" in run.stderr
    assert workspace.calls() == []


def test_the_wrapper_without_terraform_arguments_says_how_to_give_them() -> None:
    run = run_cli("terraform")

    assert run.exit_code == 2
    assert "give terraform's arguments after --" in run.stderr
