"""``tfdrift-hook pre-commit`` in-process, and this repository's hook in use.

The in-process tests drive the real CLI with the files pre-commit would pass.
The slow test installs the hook the way a user does (a
``.pre-commit-config.yaml`` naming this repository at a commit) and makes real
``git commit`` runs: one passes and shows its findings below the threshold, one
is stopped and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    ACCOUNT,
    KEY_0987,
    KEY_1234,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tfdrift_hook import terraform_cli
from tfdrift_hook.precommit_command import terraform_directories

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def identity(user: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
        "accountId": ACCOUNT,
        "userName": user,
    }


def record(
    name: str, request: dict[str, Any], time: str, event_id: str, user: str
) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity(user),
        "eventTime": time,
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-west-2",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": request,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }


def disabled_by_alice(key_id: str = KEY_1234) -> dict[str, Any]:
    return record(
        "DisableKey", {"keyId": key_id}, "2026-11-30T10:00:00Z", "d1", "alice"
    )


def tagged_by_bob(key_id: str = KEY_1234) -> dict[str, Any]:
    tags = [{"tagKey": "team", "tagValue": "payments"}]
    request = {"keyId": key_id, "tags": tags}
    return record("TagResource", request, "2026-11-30T09:00:00Z", "t1", "bob")


def terraform_directory(root: Path, name: str, key_id: str = KEY_1234) -> Path:
    """A directory with a configuration and the state of one applied key."""
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "main.tf").write_text(
        'resource "aws_kms_key" "app" {\n  description = "app key"\n}\n',
        encoding="utf-8",
    )
    write_state(directory, kms_key("app", key_id))
    return directory


# -- which directories are checked ---------------------------------------------


def test_each_directory_with_a_terraform_file_is_checked_once() -> None:
    files = [
        Path("infra/prod/main.tf"),
        Path("infra/prod/variables.tf"),
        Path("infra/prod/prod.tfvars"),
        Path("infra/dev/main.tf.json"),
        Path("infra/dev/dev.tfvars.json"),
        Path("top.tf"),
        Path("README.md"),
        Path("infra/docs/notes.txt"),
        Path("infra/prod/.terraform/modules/kms/main.tf"),
    ]

    assert terraform_directories(files) == [
        Path("."),
        Path("infra/dev"),
        Path("infra/prod"),
    ]


def test_no_terraform_file_among_those_given_checks_nothing(
    tmp_path: Path,
) -> None:
    run = run_cli("pre-commit", "--events", tmp_path, "README.md", "docs/a.md")

    assert run.exit_code == 0
    assert run.stdout == "tfdrift-hook: no Terraform file among 2 given\n"


def test_a_changed_module_is_checked_through_the_root_that_holds_its_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = terraform_directory(tmp_path, "infra")
    module = root / "modules" / "key"
    module.mkdir(parents=True)
    (module / "main.tf").write_text('variable "name" {}\n', encoding="utf-8")
    events = write_records(tmp_path, "events.json", disabled_by_alice())

    run = run_cli("pre-commit", "--events", events, "infra/modules/key/main.tf")

    assert run.exit_code == 1, run.stdout
    assert (
        "tfdrift-hook: infra/modules/key holds no state of its own; checking infra, "
        "which it belongs to"
    ) in run.stdout
    assert "=== infra: tfdrift-hook check -C infra" in run.stdout
    assert "kms_key_disabled" in run.stdout


# -- the check of each directory -----------------------------------------------


def test_a_finding_at_the_threshold_stops_and_one_below_is_shown(
    tmp_path: Path,
) -> None:
    stopped = terraform_directory(tmp_path, "prod")
    passing = terraform_directory(tmp_path, "dev", KEY_0987)
    events = write_records(
        tmp_path, "events.json", disabled_by_alice(), tagged_by_bob(KEY_0987)
    )

    run = run_cli(
        "pre-commit", "--events", events, stopped / "main.tf", passing / "main.tf"
    )

    assert run.exit_code == 1
    dev, prod = run.stdout.split("=== ")[1:]
    assert dev.startswith(f"{passing}: tfdrift-hook check -C {passing}\n")
    assert "WARNING  kms_key_tags_changed" in dev
    assert "user=bob" in dev
    assert prod.startswith(f"{stopped}: tfdrift-hook check -C {stopped}\n")
    assert "ERROR  kms_key_disabled" in prod
    assert "aws_kms_key.app" in prod
    assert "user=alice" in prod
    assert "1 at or above --fail-on error: this run is stopped (exit 1)." in prod
    assert run.stdout.splitlines()[-1] == (
        f"tfdrift-hook pre-commit: {passing} passed; {stopped} stopped by "
        "findings at or above the threshold (exit 1)"
    )


def test_settings_are_read_from_each_directory(tmp_path: Path) -> None:
    strict = terraform_directory(tmp_path, "strict")
    lenient = terraform_directory(tmp_path, "lenient", KEY_0987)
    write_records(
        tmp_path,
        "events.json",
        disabled_by_alice(),
        disabled_by_alice(KEY_0987) | {"eventID": "d2"},
    )
    (strict / ".tfdrift.yml").write_text("events: [../events.json]\n", "utf-8")
    (lenient / ".tfdrift.yml").write_text(
        "events: [../events.json]\nfail_on: critical\n", "utf-8"
    )

    run = run_cli("pre-commit", strict / "main.tf", lenient / "main.tf")

    assert run.exit_code == 1
    assert run.stdout.count("ERROR  kms_key_disabled") == 2
    assert run.stdout.splitlines()[-1] == (
        f"tfdrift-hook pre-commit: {lenient} passed; {strict} stopped by "
        "findings at or above the threshold (exit 1)"
    )


def test_an_error_in_one_directory_does_not_hide_the_findings_of_another(
    tmp_path: Path,
) -> None:
    stopped = terraform_directory(tmp_path, "prod")
    broken = terraform_directory(tmp_path, "broken")
    (broken / "terraform.tfstate").write_text("{not json", encoding="utf-8")
    events = write_records(tmp_path, "events.json", disabled_by_alice())

    run = run_cli(
        "pre-commit", "--events", events, broken / "main.tf", stopped / "main.tf"
    )

    assert run.exit_code == 2
    broken_part, prod_part = run.stdout.split("=== ")[1:]
    assert "tfdrift-hook: error: " in broken_part
    assert str(broken / "terraform.tfstate") in broken_part
    assert "ERROR  kms_key_disabled" in prod_part
    assert run.stdout.splitlines()[-1] == (
        f"tfdrift-hook pre-commit: {broken} not checked, an error; {stopped} "
        "stopped by findings at or above the threshold (exit 2)"
    )


def test_an_unreadable_events_file_makes_its_directory_incomplete(
    tmp_path: Path,
) -> None:
    directory = terraform_directory(tmp_path, "prod")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    run = run_cli("pre-commit", "--events", broken, directory / "main.tf")

    assert run.exit_code == 3
    assert run.stdout.splitlines()[-1] == (
        f"tfdrift-hook pre-commit: {directory} incomplete, an input could not be "
        "read (exit 3)"
    )


@pytest.mark.parametrize("terraform_on_path", [True, False])
def test_a_directory_never_applied_is_skipped_with_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terraform_on_path: bool
) -> None:
    if terraform_on_path and terraform_cli.find_terraform() is None:
        pytest.skip("terraform is not on PATH")
    if not terraform_on_path:
        monkeypatch.setattr(terraform_cli, "find_terraform", lambda: None)
    new = tmp_path / "new"
    new.mkdir()
    (new / "main.tf").write_text('resource "aws_kms_key" "app" {}\n', "utf-8")
    events = write_records(tmp_path, "events.json", disabled_by_alice())

    run = run_cli("pre-commit", "--events", events, new / "main.tf")

    assert run.exit_code == 0
    assert f"{new}: skipped, never applied: " in run.stdout
    assert run.stdout.splitlines()[-1] == (
        f"tfdrift-hook pre-commit: {new} skipped (no state yet) (exit 0)"
    )


def test_a_remote_backend_without_state_here_is_an_error_not_a_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(terraform_cli, "find_terraform", lambda: None)
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "main.tf").write_text(
        'terraform {\n  backend "s3" {\n    bucket = "state"\n  }\n}\n', "utf-8"
    )
    events = write_records(tmp_path, "events.json", disabled_by_alice())

    run = run_cli("pre-commit", "--events", events, remote / "main.tf")

    assert run.exit_code == 2
    assert f"tfdrift-hook: error: no Terraform state for {remote}" in run.stdout


def test_the_reports_of_every_directory_go_to_one_output_file(
    tmp_path: Path,
) -> None:
    prod = terraform_directory(tmp_path, "prod")
    dev = terraform_directory(tmp_path, "dev", KEY_0987)
    events = write_records(tmp_path, "events.json", disabled_by_alice())
    output = tmp_path / "report.jsonl"

    run = run_cli(
        "pre-commit",
        "--events",
        events,
        "--format",
        "json",
        "--output",
        output,
        prod / "main.tf",
        dev / "main.tf",
    )

    assert run.exit_code == 1
    written = output.read_text("utf-8").splitlines()
    lines = [json.loads(line) for line in written]
    # dev first: the key alice disabled is not in its state
    assert [(line["rule"], line["address"]) for line in lines] == [
        ("kms_unmanaged_resource_changed", None),
        ("kms_key_disabled", "aws_kms_key.app"),
    ]
    assert f"=== {prod}: tfdrift-hook check -C {prod}" in run.stdout


# -- the hook under the real pre-commit ----------------------------------------


@pytest.fixture(scope="session")
def hook_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository's files, tracked and new, committed in a copy.

    pre-commit installs a hook repository at a commit; the copy carries the
    working tree's changes too, and its one rev keeps to one install a session.
    """
    if not (REPOSITORY_ROOT / ".git").exists():
        reason = "is not a git repository; the hook needs one"
        pytest.skip(f"{REPOSITORY_ROOT} {reason}")
    listed = _git(
        REPOSITORY_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    copy = tmp_path_factory.mktemp("hook-repository")
    for name in filter(None, listed.split("\0")):
        source = REPOSITORY_ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    _git(copy, "init", "-q")
    _git(copy, "config", "user.name", "Test User")
    _git(copy, "config", "user.email", "test@example.com")
    _git(copy, "add", "-A")
    _git(copy, "commit", "-q", "-m", "the hook under test")
    return copy, _git(copy, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache, shared by the session: the hook is installed once."""
    pytest.importorskip("pre_commit", reason="pre-commit is not installed")
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.mark.slow
@pytest.mark.e2e
def test_the_hook_passes_one_commit_and_stops_the_next_saying_why(
    tmp_path: Path, hook_repository: tuple[Path, str], pre_commit_home: Path
) -> None:
    hook_path, rev = hook_repository
    trail = tmp_path / "trail"
    trail.mkdir()
    repository = _user_repository(tmp_path / "infra-repo", hook_path, rev, trail)
    environ = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}

    write_records(trail, "events.json", tagged_by_bob())
    _git(repository, "add", "-A")
    passed = _commit(repository, "first", environ)

    write_records(trail, "events.json", tagged_by_bob(), disabled_by_alice())
    (repository / "prod" / "main.tf").write_text(
        'resource "aws_kms_key" "app" {\n  description = "app key, v2"\n}\n',
        encoding="utf-8",
    )
    _git(repository, "add", "-A")
    stopped = _commit(repository, "second", environ)

    assert passed.returncode == 0, passed.stdout
    assert "tfdrift-hook check" in passed.stdout and "Passed" in passed.stdout
    assert "WARNING  kms_key_tags_changed" in passed.stdout
    assert "user=bob" in passed.stdout
    assert stopped.returncode == 1, stopped.stdout
    assert "Failed" in stopped.stdout
    assert "ERROR  kms_key_disabled" in stopped.stdout
    assert "aws_kms_key.app" in stopped.stdout
    assert "user=alice" in stopped.stdout
    assert "1 at or above --fail-on error: this run is stopped (exit 1)." in (
        stopped.stdout
    )
    assert "tfdrift-hook pre-commit: prod stopped by findings" in stopped.stdout
    log = _git(repository, "log", "--format=%s")
    assert log.splitlines() == ["first"]


def _user_repository(path: Path, hook_path: Path, rev: str, trail: Path) -> Path:
    """A Terraform user's repository with the hook installed, as a user does."""
    path.mkdir()
    _git(path, "init", "-q")
    _git(path, "config", "user.name", "Test User")
    _git(path, "config", "user.email", "test@example.com")
    terraform_directory(path, "prod")
    ignored = "*.tfstate\n.terraform/\n"
    (path / ".gitignore").write_text(ignored, encoding="utf-8")
    (path / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_path}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: tfdrift-check\n"
        f"        args: [--events={trail}, --fail-on=error]\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=path,
        check=True,
        capture_output=True,
    )
    return path


def _commit(
    repository: Path, message: str, environ: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    completed = subprocess.run(
        ["git", "commit", "-m", message],
        cwd=repository,
        env=environ,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=600,
    )
    print(f"git commit -m {message}: {time.monotonic() - started:.1f}s")
    print(completed.stdout)
    return completed


def _git(directory: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=directory, check=True, capture_output=True, text=True
    )
    return completed.stdout
