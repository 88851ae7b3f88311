"""``tfdrift-hook terraform`` around a stand-in terraform (fake_terraform.py).

The end-to-end tests run the real binary against moto; these cover what needs no
provider: which commands run in which order, what gates, the receipt after an apply
that succeeded and none after one that failed, and an interrupt reaching Terraform.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import ACCOUNT, KEY_0987, KEY_1234, key_arn, write_records
from tests.test_check_command import ALICE, record
from tfdrift_hook.wrapper import parse_terraform_args

FAKE = Path(__file__).with_name("fake_terraform.py")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROVIDER = "registry.terraform.io/hashicorp/aws"
APPLIER = f"arn:aws:iam::{ACCOUNT}:role/terraform-ci"
LOGS_ARN = key_arn(KEY_0987)


# -- the command line ----------------------------------------------------------------


def test_global_options_stay_before_the_subcommand() -> None:
    parsed = parse_terraform_args(["--", "-chdir=envs/prod", "apply", "-auto-approve"])

    assert parsed.global_args == ["-chdir=envs/prod"]
    assert parsed.subcommand == "apply"
    assert parsed.args == ["-auto-approve"]
    assert parsed.chdir == "envs/prod"


def test_the_plan_before_an_apply_keeps_vars_and_targets_only() -> None:
    parsed = parse_terraform_args(
        ["apply", "-auto-approve", "-var=env=prod", "-target=aws_kms_key.a", "-json"]
    )

    assert parsed.plan_options() == ["-var=env=prod", "-target=aws_kms_key.a"]


def test_option_values_given_as_the_next_argument_stay_with_their_option(
    tmp_path: Path,
) -> None:
    (tmp_path / "prod.tfvars").write_text('env = "prod"', encoding="utf-8")
    parsed = parse_terraform_args(
        [
            "apply",
            "-var-file",
            "prod.tfvars",
            "-target",
            "aws_kms_key.a",
            "-auto-approve",
        ]
    )

    assert parsed.saved_plan(tmp_path) is None
    assert parsed.plan_options() == [
        "-var-file",
        "prod.tfvars",
        "-target",
        "aws_kms_key.a",
    ]


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["plan", "-out=prod.tfplan"], "prod.tfplan"),
        (["plan", "-out", "prod.tfplan"], "prod.tfplan"),
        (["plan", "-var=x=1"], None),
    ],
)
def test_a_plans_out_file_is_found_in_both_spellings(
    args: list[str], out: str | None
) -> None:
    assert parse_terraform_args(args).plan_out() == out


def test_a_saved_plan_is_the_applys_one_file_argument(tmp_path: Path) -> None:
    (tmp_path / "prod.tfplan").write_text("plan", encoding="utf-8")

    saved = parse_terraform_args(["apply", "-no-color", "prod.tfplan"])
    unsaved = parse_terraform_args(["apply", "-auto-approve"])

    assert saved.saved_plan(tmp_path) == tmp_path / "prod.tfplan"
    assert unsaved.saved_plan(tmp_path) is None


# -- runs around the stand-in terraform ----------------------------------------------


def _values(key_id: str, **changes: Any) -> dict[str, Any]:
    values = {
        "id": key_id,
        "key_id": key_id,
        "arn": key_arn(key_id),
        "description": "logs key",
        "is_enabled": True,
        "enable_key_rotation": True,
        "key_usage": "ENCRYPT_DECRYPT",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "multi_region": False,
        "tags": {},
        "tags_all": {},
    }
    values.update(changes)
    return values


def _entry(address: str, actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_kms_key",
        "name": address.split(".")[1],
        "provider_name": PROVIDER,
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {"arn": True, "key_id": True} if before is None else {},
        },
    }


def _shown(address: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_kms_key",
        "name": address.split(".")[1],
        "provider_name": PROVIDER,
        "schema_version": 0,
        "values": values,
    }


def _plan(
    prior: list[dict[str, Any]],
    drift: list[dict[str, Any]],
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "prior_state": {
            "format_version": "1.0",
            "values": {"root_module": {"resources": prior}},
        },
        "resource_drift": drift,
        "resource_changes": changes,
    }


def pending_deletion_plan() -> dict[str, Any]:
    """aws_kms_key.logs is pending deletion, so the refresh lost it: plan creates."""
    app = _values(KEY_1234, description="app key", arn=key_arn(KEY_1234))
    before = _values(KEY_0987)
    after = {key: value for key, value in before.items() if key not in ("arn", "id")}
    after.pop("key_id")
    return _plan(
        prior=[_shown("aws_kms_key.app", app)],
        drift=[_entry("aws_kms_key.logs", ["delete"], before, None)],
        changes=[_entry("aws_kms_key.logs", ["create"], None, after)],
    )


def quiet_plan() -> dict[str, Any]:
    """Nothing drifted, nothing to change."""
    return _plan(
        prior=[_shown("aws_kms_key.logs", _values(KEY_0987))], drift=[], changes=[]
    )


def _state() -> dict[str, Any]:
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 7,
        "lineage": "5f0d7c2e-0000-4000-8000-000000000009",
        "outputs": {},
        "resources": [],
    }


class Workspace:
    """A Terraform directory, the stand-in binary, and what it was asked to run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events = root / "events"
        self.events.mkdir()
        write_records(self.events, "quiet.json")  # a trail file with no KMS call
        self.log = root / "terraform-calls.jsonl"
        binary = root / "terraform"
        binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        binary.chmod(0o755)
        self.plan_json = root / "plan.json"
        self.state = root / "pulled.tfstate"
        self.state.write_text(json.dumps(_state()), encoding="utf-8")
        self.env = {
            **os.environ,
            "TERRAFORM_BINARY": str(binary),
            "FAKE_TF_LOG": str(self.log),
            "FAKE_TF_PLAN_JSON": str(self.plan_json),
            "FAKE_TF_STATE": str(self.state),
            "PYTHONPATH": str(PROJECT_ROOT),
        }

    def use_plan(self, document: dict[str, Any]) -> None:
        self.plan_json.write_text(json.dumps(document), encoding="utf-8")

    def command(self, *terraform_args: str, options: tuple[str, ...] = ()) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tfdrift_hook",
            "terraform",
            "--events",
            str(self.events),
            "--principal",
            APPLIER,
            *options,
            "--",
            *terraform_args,
        ]

    def run(
        self, *terraform_args: str, options: tuple[str, ...] = (), **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*terraform_args, options=options),
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def calls(self) -> list[str]:
        """The terraform subcommands run, in order."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        called = [_subcommand(json.loads(line)) for line in lines]
        return [name for name in called if name != "ready"]

    def ready(self) -> bool:
        """Whether the stand-in apply has its interrupt handler in place."""
        return self.log.exists() and '["ready"]' in self.log.read_text("utf-8")

    @property
    def receipt(self) -> Path:
        return self.root / ".tfdrift" / "receipt.json"


def _subcommand(args: list[str]) -> str:
    words = [arg for arg in args if not arg.startswith("-")]
    return words[0] if words else ""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def _scheduled_deletion(events: Path) -> None:
    write_records(
        events,
        "alice.json",
        record(
            "ScheduleKeyDeletion",
            {"keyId": KEY_0987, "pendingWindowInDays": 7},
            "2026-12-01T09:30:00Z",
            "e-schedule",
            identity=ALICE,
            responseElements={
                "keyId": LOGS_ARN,
                "deletionDate": "Dec 8, 2026, 9:30:00 AM",
                "keyState": "PendingDeletion",
                "pendingWindowInDays": 7,
            },
            resources=[{"ARN": LOGS_ARN, "accountId": ACCOUNT}],
        ),
    )


def test_an_apply_onto_a_key_pending_deletion_is_stopped_before_terraform(
    workspace: Workspace,
) -> None:
    workspace.use_plan(pending_deletion_plan())
    _scheduled_deletion(workspace.events)

    run = workspace.run("apply", "-auto-approve")

    assert run.returncode == 1, run.stderr
    assert workspace.calls() == ["plan", "show"]
    assert "stopped before `terraform apply`; nothing was applied" in run.stderr
    assert "kms_apply_replaces_key_pending_deletion" in run.stderr
    assert "deletion_date=2026-12-08T09:30:00Z scheduled_by=alice" in run.stdout
    assert f"aws kms cancel-key-deletion --key-id {LOGS_ARN} --region us-west-2" in (
        run.stdout
    )
    assert f"aws kms enable-key --key-id {LOGS_ARN} --region us-west-2" in run.stdout
    assert not workspace.receipt.exists()


def test_the_plan_made_before_an_apply_drops_the_apply_only_options(
    workspace: Workspace,
) -> None:
    workspace.use_plan(quiet_plan())

    run = workspace.run("apply", "-auto-approve", "-var=env=prod")

    assert run.returncode == 0, run.stderr
    first = json.loads(workspace.log.read_text(encoding="utf-8").splitlines()[0])
    assert first[0] == "plan" and "-input=false" in first
    assert "-var=env=prod" in first and "-auto-approve" not in first
    assert workspace.calls() == ["plan", "show", "apply", "state"]


def test_a_successful_apply_writes_the_receipt_of_the_pulled_state(
    workspace: Workspace,
) -> None:
    workspace.use_plan(quiet_plan())
    before = time.time()

    run = workspace.run("apply", "-auto-approve")

    assert run.returncode == 0, run.stderr
    receipt = json.loads(workspace.receipt.read_text(encoding="utf-8"))
    assert receipt["serial"] == 7
    assert receipt["lineage"] == "5f0d7c2e-0000-4000-8000-000000000009"
    assert receipt["principal"] == APPLIER
    started = receipt["apply_started"]
    assert started >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before - 1))
    assert receipt["apply_finished"] >= started
    assert "receipt for serial 7" in run.stderr


def test_a_failed_apply_returns_terraforms_code_and_writes_no_receipt(
    workspace: Workspace,
) -> None:
    workspace.use_plan(quiet_plan())

    run = workspace.run("apply", "-auto-approve", FAKE_TF_APPLY_EXIT="1")

    assert run.returncode == 1
    assert not workspace.receipt.exists()
    assert "terraform apply failed (exit 1): no receipt written" in run.stderr


def test_a_plan_gets_an_out_file_and_post_plan_reads_it(workspace: Workspace) -> None:
    workspace.use_plan(quiet_plan())

    run = workspace.run("plan", "-no-color", FAKE_TF_PLAN_EXIT="2")

    assert run.returncode == 2, run.stderr
    plan_call = json.loads(workspace.log.read_text(encoding="utf-8").splitlines()[0])
    assert any(arg.startswith("-out=") for arg in plan_call)
    assert workspace.calls() == ["plan", "show"]
    assert "tfdrift-hook post-plan: 1 managed KMS resource from" in run.stdout


def test_a_plans_out_file_is_read_where_terraform_wrote_it_under_chdir(
    workspace: Workspace,
) -> None:
    workspace.use_plan(quiet_plan())
    (workspace.root / "envs" / "prod").mkdir(parents=True)

    run = workspace.run("-chdir=envs/prod", "plan", "-out=prod.tfplan")

    assert run.returncode == 0, run.stderr
    assert (workspace.root / "envs" / "prod" / "prod.tfplan").is_file()
    assert "the plan was saved to a temporary file" not in run.stderr


def test_other_subcommands_run_without_hooks(workspace: Workspace) -> None:
    run = workspace.run("validate")

    assert run.returncode == 0, run.stderr
    assert workspace.calls() == ["validate"]


def test_an_interrupt_reaches_terraform_and_no_receipt_is_written(
    workspace: Workspace,
) -> None:
    workspace.use_plan(quiet_plan())
    process = subprocess.Popen(
        workspace.command("apply", "-auto-approve"),
        cwd=workspace.root,
        env={**workspace.env, "FAKE_TF_APPLY_SLEEP": "60"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(workspace.ready)

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert workspace.calls()[-1] == "interrupted"
    assert not workspace.receipt.exists()


def _wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the stand-in terraform never started"
        time.sleep(0.05)
