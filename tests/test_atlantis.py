"""Atlantis: its variables, its plan JSON, and the example workflows."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.kms_state import run_cli, write_records
from tests.test_correlation import moto_records
from tfdrift_hook.atlantis import (
    AtlantisPlanError,
    atlantis_context,
    describe,
    parse_comment_args,
    plan_json_from_atlantis,
)
from tfdrift_hook.cli import cli

MOTO_PLAN = Path("terraform/tf1.11-aws5.100-moto/plan.json")
EXAMPLES = PROJECT_ROOT / "examples" / "atlantis"


def escaped(*arguments: str) -> str:
    """``COMMENT_ARGS`` as Atlantis writes it: every character after a backslash."""
    return ",".join("".join(f"\\{char}" for char in argument) for argument in arguments)


def run_step(directory: Path, **extra: str) -> dict[str, str]:
    """What Atlantis sets for a run step of project ``kms`` in pull request 12."""
    return {
        "ATLANTIS_TERRAFORM_VERSION": "1.11.4",
        "DIR": str(directory),
        "WORKSPACE": "default",
        "PROJECT_NAME": "kms",
        "PULL_NUM": "12",
        "PULL_AUTHOR": "alice",
        "USER_NAME": "bob",
        "PLANFILE": str(directory / "default-kms.tfplan"),
        "SHOWFILE": str(directory / "default-kms.json"),
        "COMMENT_ARGS": "",
        **extra,
    }


def test_comment_args_split_on_bare_commas_only() -> None:
    text = escaped("-target=aws_kms_key.a,b", "-lock=false")

    assert text.startswith("\\-\\t\\a\\r")
    assert parse_comment_args(text) == ("-target=aws_kms_key.a,b", "-lock=false")
    assert parse_comment_args("") == ()
    assert parse_comment_args("\\a\\\\\\b") == ("a\\b",)


def test_no_atlantis_variables_means_no_context() -> None:
    assert atlantis_context({"PATH": "/bin", "WORKSPACE": "default"}) is None
    assert atlantis_context({"PULL_NUM": "", "DIR": " "}) is None


def test_an_empty_variable_is_not_given_and_described_as_such(tmp_path: Path) -> None:
    environ = run_step(tmp_path, PROJECT_NAME="", PULL_AUTHOR="", COMMENT_ARGS="")

    context = atlantis_context(environ)

    assert context is not None
    assert context.project_name is None and context.pull_author is None
    assert context.pull_num == "12" and context.workspace == "default"
    assert context.comment_args == ()
    assert describe(context) == (
        f"atlantis: DIR={tmp_path}, WORKSPACE=default, PROJECT_NAME=(not set), "
        "PULL_NUM=12, PULL_AUTHOR=(not set), USER_NAME=bob, "
        f"PLANFILE={tmp_path}/default-kms.tfplan, "
        f"SHOWFILE={tmp_path}/default-kms.json, COMMENT_ARGS=(not set), "
        "ATLANTIS_TERRAFORM_VERSION=1.11.4"
    )


def test_a_pull_author_cannot_write_control_characters_to_the_log(
    tmp_path: Path,
) -> None:
    context = atlantis_context(run_step(tmp_path, PULL_AUTHOR="eve\n::error::x\x1b"))

    assert context is not None
    assert "PULL_AUTHOR=eve\\x0a::error::x\\x1b," in describe(context)


def test_the_plan_json_of_a_run_step_is_showfile(
    real_inputs: Path, tmp_path: Path
) -> None:
    showfile = real_inputs / MOTO_PLAN
    context = atlantis_context(run_step(tmp_path, SHOWFILE=str(showfile)))
    assert context is not None

    plan_json = plan_json_from_atlantis(context, required=True)

    assert plan_json == showfile
    events = write_records(tmp_path, "events.json", *moto_records())
    run = run_cli(
        "post-plan", "--plan-json", plan_json, "--events", events,
        "--format", "markdown",
    )  # fmt: skip
    lines = run.stdout.splitlines()
    assert run.exit_code == 1
    assert lines[0] == "## tfdrift-hook post-plan: STOPPED (exit 1)"
    assert f"* plan: {showfile}" in lines
    # The moto plan's doomed key was scheduled for deletion by Alice at 10:04: the
    # most severe finding, first in the table.
    assert lines[lines.index("| ---: | --- | --- | --- | --- | --- |") + 1] == (
        "| 1 | CRITICAL | kms_key_deletion_scheduled | aws_kms_key.doomed | Alice "
        "| 2026-11-30T10:04:00Z |"
    )


def test_a_showfile_that_is_not_there_is_an_error_naming_it(tmp_path: Path) -> None:
    context = atlantis_context(run_step(tmp_path))
    assert context is not None

    with pytest.raises(AtlantisPlanError) as caught:
        plan_json_from_atlantis(context)

    assert str(caught.value) == (
        f"SHOWFILE={tmp_path}/default-kms.json does not exist: Atlantis names the "
        "plan JSON there but writes it only when a step runs `terraform show "
        "-json`, and pre/post workflow hooks do not get the plan at all; run "
        "tfdrift-hook in a run step of the workflow's plan stage, after "
        "`terraform show -json $PLANFILE > $SHOWFILE`, or give --plan-json FILE "
        "(or --plan PLANFILE)"
    )


def hook_environment(directory: Path) -> dict[str, str]:
    """What a pre/post workflow hook gets: the pull request, but no plan."""
    return {"PULL_NUM": "12", "DIR": str(directory), "PULL_AUTHOR": "alice"}


def test_a_workflow_hook_has_no_plan_and_post_plan_says_so(tmp_path: Path) -> None:
    context = atlantis_context(hook_environment(tmp_path))
    assert context is not None

    assert plan_json_from_atlantis(context) is None
    with pytest.raises(AtlantisPlanError) as caught:
        plan_json_from_atlantis(context, required=True)

    assert str(caught.value).startswith(
        "SHOWFILE is not set (this looks like a pre/post workflow hook): Atlantis "
        "gives PLANFILE and SHOWFILE only to the run steps of a workflow, and "
        "pre/post workflow hooks do not get the plan; "
    )
    assert str(caught.value).endswith("or give --plan-json FILE (or --plan PLANFILE)")


def test_case_28_reads_the_showfile_an_env_step_overrides(
    real_inputs: Path, tmp_path: Path
) -> None:
    config = yaml.safe_load((real_inputs / "case-28.atlantis-repo.yaml").read_text())
    steps = config["workflows"]["terraform"]["plan"]["steps"]
    override = next(
        step["env"] for step in steps if isinstance(step, dict) and "env" in step
    )
    environ = run_step(
        tmp_path, BASE_REPO_OWNER="acme", BASE_REPO_NAME="infra", REPO_REL_DIR="kms"
    )

    value = subprocess.run(
        ["sh", "-c", override["command"]],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    context = atlantis_context({**environ, override["name"]: value})

    assert context is not None
    assert context.showfile == Path(
        "/atlantis/repos/acme/infra/12/default/kms/default.json"
    )
    hook = config["repos"][0]["post_workflow_hooks"][0]
    assert "$SHOWFILE" in hook["run"]
    hooked = atlantis_context(hook_environment(tmp_path))
    assert hooked is not None and hooked.showfile is None


def example_workflows() -> list[tuple[str, str, list[Any]]]:
    """(file, stage, steps) of every workflow in the Atlantis examples."""
    found = []
    for name in ("repos.yaml", "atlantis.yaml"):
        config = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
        for workflow in config["workflows"].values():
            for stage, body in workflow.items():
                found.append((name, stage, body["steps"]))
    return found


def step_names(steps: list[Any]) -> list[str]:
    """Built-in steps by name, run steps by their first two words, env steps by var."""
    names = []
    for step in steps:
        if isinstance(step, str):
            names.append(step)
        elif "run" in step:
            names.append(" ".join(shlex.split(step["run"])[:2]))
        else:
            names.append(f"env {step['env']['name']}")
    return names


def test_the_example_workflows_run_the_hooks_around_plan_and_apply() -> None:
    stages = {
        (name, stage): step_names(steps) for name, stage, steps in example_workflows()
    }

    for name in ("repos.yaml", "atlantis.yaml"):
        plan, apply = stages[(name, "plan")], stages[(name, "apply")]
        hooks = [
            step
            for step in plan
            if step.startswith(("tfdrift-hook", "plan", "terraform"))
        ]
        assert hooks == [
            "tfdrift-hook pre-plan",
            "plan",
            "terraform show",
            "tfdrift-hook post-plan",
        ], name
        assert [step for step in apply if not step.startswith("env ")] == [
            "tfdrift-hook pre-apply",
            "apply",
            "tfdrift-hook post-apply",
        ], name
        assert plan.index("init") < plan.index("tfdrift-hook pre-plan")
        # A value set in one step and read in a later one comes from an env step.
        assert "env TFDRIFT_EVENTS_DIR" in plan and "env TFDRIFT_EVENTS_DIR" in apply
    assert yaml.safe_load((EXAMPLES / "atlantis.yaml").read_text())["version"] == 3


def test_every_example_command_parses_with_the_real_command_line() -> None:
    commands = [
        step["run"]
        for _, _, steps in example_workflows()
        for step in steps
        if isinstance(step, dict) and "run" in step
    ]
    assert not [command for command in commands if "export " in command]

    parsed = 0
    for command in commands:
        words = shlex.split(command)
        if words[0] != "tfdrift-hook":
            continue
        with click.Context(cli) as group:
            subcommand = cli.get_command(group, words[1])
            assert subcommand is not None, command
            context = subcommand.make_context(words[1], words[2:])
        parsed += 1
        if words[1] != "post-apply":
            assert context.params["report_format"] == "markdown", command
            assert context.params["event_paths"] == (Path("$TFDRIFT_EVENTS_DIR"),)
    assert parsed == 8


def test_a_mistyped_option_in_a_step_would_fail_to_parse() -> None:
    with click.Context(cli) as group:
        subcommand = cli.get_command(group, "post-plan")
        assert subcommand is not None
        with pytest.raises(click.NoSuchOption):
            subcommand.make_context("post-plan", ["--fromat", "markdown"])


# -- the phase commands under Atlantis -----------------------------------------------


def _atlantis_env(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


def test_post_plan_in_a_run_step_reads_showfile_and_says_what_it_used(
    real_inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    showfile = real_inputs / MOTO_PLAN
    _atlantis_env(monkeypatch, run_step(tmp_path, SHOWFILE=str(showfile)))
    events = write_records(tmp_path, "events.json", *moto_records())

    run = run_cli("post-plan", "--events", events, "--format", "markdown")

    assert run.exit_code == 1, run.stderr
    assert f"* plan: {showfile}" in run.stdout.splitlines()
    assert "tfdrift-hook: atlantis: DIR=" in run.stderr
    assert f"SHOWFILE={showfile}" in run.stderr


def test_post_plan_in_a_workflow_hook_names_the_missing_showfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _atlantis_env(monkeypatch, hook_environment(tmp_path))
    events = write_records(tmp_path, "events.json")

    run = run_cli("post-plan", "--events", events, "--plan-json", "")

    assert run.exit_code == 2
    assert "SHOWFILE is not set (this looks like a pre/post workflow hook)" in (
        run.stderr
    )
    assert "give --plan-json FILE" in run.stderr
