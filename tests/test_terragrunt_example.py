"""The Terragrunt example: its hooks parse with the real CLI and run in lifecycle order.

Terragrunt is not run here. The unit's ``terragrunt.hcl`` is read with python-hcl2,
the few Terragrunt expressions it uses are resolved the way Terragrunt would, and
each ``tfdrift-hook`` command is parsed by click exactly as the shell would hand it
over, so a misspelt option or a missing value in the example fails this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import hcl2
import pytest

from tests.kms_state import run_cli
from tfdrift_hook.cli import cli

UNIT = Path(__file__).resolve().parent.parent / "examples" / "terragrunt"
HOOK_KINDS = ("before_hook", "after_hook", "error_hook")
PLAN_FILE = "tfdrift.tfplan"

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_CONTAINS_ARGS = re.compile(r"^contains\(get_terraform_cli_args\(\), (local\.\w+)\)$")


@dataclass(frozen=True)
class Hook:
    kind: str
    name: str
    commands: tuple[str, ...]
    execute: tuple[str, ...]
    condition: str | None
    run_on_error: bool

    def is_for(self, cli_args: tuple[str, ...]) -> bool:
        return cli_args[0] in self.commands

    def phase(self) -> str:
        """The tfdrift-hook subcommand this hook runs."""
        assert self.execute[0] == "tfdrift-hook", f"{self.name} runs {self.execute[0]}"
        return self.execute[1]


def load_unit() -> dict[str, Any]:
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, with_comments=False, explicit_blocks=False
    )
    with (UNIT / "terragrunt.hcl").open(encoding="utf-8") as stream:
        return hcl2.load(stream, serialization_options=options)


def local_values(unit: Mapping[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for block in unit.get("locals", []):
        values.update(
            {key: value for key, value in block.items() if not key.startswith("__")}
        )
    return values


def resolve(text: str, locals_: Mapping[str, str]) -> str:
    """Terragrunt's interpolations in text; one this test does not know fails it."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression == "get_terragrunt_dir()":
            return str(UNIT)
        if expression.startswith("local."):
            return resolve(locals_[expression.removeprefix("local.")], locals_)
        pytest.fail(f"terragrunt.hcl: no stand-in for ${{{expression}}}")

    return _INTERPOLATION.sub(value, text)


def terraform_block(unit: Mapping[str, Any]) -> Mapping[str, Any]:
    (block,) = unit["terraform"]
    return block  # type: ignore[no-any-return]


def hooks(unit: Mapping[str, Any]) -> Iterator[Hook]:
    """Every hook, in file order within its kind (the order Terragrunt runs them)."""
    locals_ = local_values(unit)
    block = terraform_block(unit)
    for kind in HOOK_KINDS:
        for labelled in block.get(kind, []):
            for name, body in labelled.items():
                yield Hook(
                    kind=kind,
                    name=name,
                    commands=tuple(body["commands"]),
                    execute=tuple(resolve(part, locals_) for part in body["execute"]),
                    condition=body.get("if"),
                    run_on_error=bool(body.get("run_on_error", False)),
                )


def runs_for(hook: Hook, cli_args: tuple[str, ...], locals_: Mapping[str, str]) -> bool:
    """Whether Terragrunt runs the hook for this command line (its ``if``)."""
    if not hook.is_for(cli_args):
        return False
    if hook.condition is None:
        return True

    expression = hook.condition.removeprefix("${").removesuffix("}")
    negated = expression.startswith("!")
    found = _CONTAINS_ARGS.match(expression.removeprefix("!"))
    assert found, f"{hook.name}: no stand-in for `if = {hook.condition}`"
    wanted = resolve("${" + found.group(1) + "}", locals_)
    return (wanted in cli_args) != negated


def lifecycle(
    unit: Mapping[str, Any], *cli_args: str, failed: bool = False
) -> list[str]:
    """What runs, in order, for ``terragrunt CLI_ARGS``: hooks and the command."""
    locals_ = local_values(unit)
    chosen = [hook for hook in hooks(unit) if runs_for(hook, cli_args, locals_)]
    before = [hook.phase() for hook in chosen if hook.kind == "before_hook"]
    after = [
        hook.phase()
        for hook in chosen
        if hook.kind == "after_hook" and (hook.run_on_error or not failed)
    ]
    errors = [hook.phase() for hook in chosen if hook.kind == "error_hook" and failed]
    return [*before, f"terraform {cli_args[0]}", *after, *errors]


def parse(arguments: tuple[str, ...]) -> click.Context:
    """Parse a tfdrift-hook command line as the real CLI would, without running it."""
    program, name, *rest = arguments
    assert program == "tfdrift-hook", f"not a tfdrift-hook command: {arguments}"
    command = cli.commands.get(name)
    assert command is not None, f"tfdrift-hook has no command {name!r}"
    return command.make_context(name, list(rest))


@pytest.fixture(scope="module")
def unit() -> dict[str, Any]:
    return load_unit()


def test_every_tfdrift_hook_command_parses_with_the_real_cli(
    unit: dict[str, Any],
) -> None:
    parsed = {hook.name: parse(hook.execute).params for hook in hooks(unit)}

    config = UNIT / ".tfdrift.yml"
    assert {name: params["config"] for name, params in parsed.items()} == {
        "tfdrift_pre_plan": config,
        "tfdrift_pre_apply_saved_plan": config,
        "tfdrift_pre_apply": config,
        "tfdrift_post_plan": config,
        "tfdrift_post_apply": config,
        "tfdrift_post_apply_failed": config,
    }
    assert parsed["tfdrift_post_plan"]["plan_file"] == Path(PLAN_FILE)
    assert parsed["tfdrift_pre_apply_saved_plan"]["plan_file"] == Path(PLAN_FILE)
    assert parsed["tfdrift_pre_apply"]["plan_file"] is None
    assert parsed["tfdrift_post_apply"]["apply_exit_code"] == 0
    assert parsed["tfdrift_post_apply_failed"]["apply_exit_code"] == 1


def test_a_misspelt_option_is_caught_by_the_same_parsing() -> None:
    with pytest.raises(click.NoSuchOption):
        parse(("tfdrift-hook", "post-plan", "--plan-jsn", PLAN_FILE))


def test_the_plan_writes_the_saved_plan_that_the_hooks_read(
    unit: dict[str, Any],
) -> None:
    (extra,) = terraform_block(unit)["extra_arguments"]
    locals_ = local_values(unit)

    assert extra["tfdrift_saved_plan"]["commands"] == ["plan"]
    assert [
        resolve(arg, locals_) for arg in extra["tfdrift_saved_plan"]["arguments"]
    ] == [f"-out={PLAN_FILE}"]


def test_a_plan_runs_pre_plan_before_and_post_plan_after(unit: dict[str, Any]) -> None:
    assert lifecycle(unit, "plan") == ["pre-plan", "terraform plan", "post-plan"]


def test_a_failed_plan_runs_no_post_plan(unit: dict[str, Any]) -> None:
    assert lifecycle(unit, "plan", failed=True) == ["pre-plan", "terraform plan"]


@pytest.mark.parametrize(
    "cli_args",
    [("apply",), ("apply", PLAN_FILE), ("destroy",)],
    ids=["apply", "apply-saved-plan", "destroy"],
)
def test_an_apply_runs_one_pre_apply_and_one_post_apply(
    unit: dict[str, Any], cli_args: tuple[str, ...]
) -> None:
    assert lifecycle(unit, *cli_args) == [
        "pre-apply",
        f"terraform {cli_args[0]}",
        "post-apply",
    ]


def test_only_the_saved_plan_apply_gives_pre_apply_the_plan(
    unit: dict[str, Any],
) -> None:
    locals_ = local_values(unit)
    chosen = {
        cli_args: [
            hook.name
            for hook in hooks(unit)
            if hook.kind == "before_hook" and runs_for(hook, cli_args, locals_)
        ]
        for cli_args in [("apply",), ("apply", PLAN_FILE)]
    }

    assert chosen == {
        ("apply",): ["tfdrift_pre_apply"],
        ("apply", PLAN_FILE): ["tfdrift_pre_apply_saved_plan"],
    }


def test_a_failed_apply_reaches_post_apply_only_as_a_failure(
    unit: dict[str, Any],
) -> None:
    by_name = {hook.name: hook for hook in hooks(unit)}

    assert lifecycle(unit, "apply", failed=True) == [
        "pre-apply",
        "terraform apply",
        "post-apply",
    ]
    assert by_name["tfdrift_post_apply"].run_on_error is False
    assert by_name["tfdrift_post_apply_failed"].kind == "error_hook"


def test_the_settings_file_of_the_example_is_valid() -> None:
    run = run_cli("config", "--config", UNIT / ".tfdrift.yml")

    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == f"settings valid ({UNIT / '.tfdrift.yml'})"


def test_the_unit_uses_the_bundled_configuration_without_its_state(
    unit: dict[str, Any],
) -> None:
    block = terraform_block(unit)

    source = Path(resolve(block["source"], local_values(unit)))
    assert source.resolve() == (UNIT.parent / "terraform").resolve()
    assert "terraform.tfstate" in block["exclude_from_copy"]
