"""The ``tfdrift-hook`` command line. It parses options and dispatches; nothing more.

Heavy modules (the pipeline, the rule language, the plugin manager) are imported
inside the commands, so that ``--help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from tfdrift_hook import __version__
from tfdrift_hook.errors import ExitCode, TfdriftError
from tfdrift_hook.priorities import PRIORITIES

logger = logging.getLogger("tfdrift_hook")

F = TypeVar("F", bound=Callable[..., Any])


def _directory_option(text: str) -> Callable[[F], F]:
    """``-C DIR``, the Terraform directory, which every command takes."""
    return click.option(
        "-C",
        "--chdir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help=text,
    )


_config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: .tfdrift.yml in -C DIR, or TFDRIFT_CONFIG).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfdrift-hook")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on standard error.")
def cli(verbose: int, quiet: bool) -> None:
    """Who changed the KMS keys and aliases your Terraform manages, outside Terraform?

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 usage, configuration or input error, 3 incomplete (an input could not be read).
    """
    _configure_logging(verbose, quiet)


def _check_option_table() -> dict[str, Any]:
    """The options of ``check`` by name; the lifecycle commands take them too."""
    options = [
        _directory_option(
            "Terraform directory, read with `terraform show -json` when no --state."
        ),
        click.option(
            "--state",
            type=click.Path(dir_okay=False, path_type=Path),
            help="terraform.tfstate, or the JSON of `terraform show -json`.",
        ),
        click.option(
            "--plan-json",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Plan JSON (`terraform show -json PLANFILE`); its prior state is "
            "read, and after a plan its drift is matched to the events.",
        ),
        click.option(
            "--events",
            "event_paths",
            multiple=True,
            type=click.Path(path_type=Path),
            help="CloudTrail records: log file (.json, .json.gz), JSON Lines, "
            "lookup-events output, or a directory of them. Repeatable.",
        ),
        click.option(
            "--since", help="Window start: ISO-8601 time, or a span such as 72h, 7d."
        ),
        click.option(
            "--until", help="Window end: ISO-8601 time, or a span back from now."
        ),
        click.option(
            "--trusted-principal",
            "trusted",
            multiple=True,
            metavar="ARN_GLOB",
            help="Principal whose Terraform calls are in band (ARN, * globs). "
            "Repeatable.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(PRIORITIES, case_sensitive=False),
            help="Exit 1 when a finding has this priority or a more severe one "
            "(default: error, or fail_on in .tfdrift.yml, or TFDRIFT_FAIL_ON).",
        ),
        _config_option,
        click.option(
            "--rules",
            "rule_files",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="Extra rule file (Falco-shaped YAML), loaded after the built-ins. "
            "Repeatable.",
        ),
        click.option(
            "--waivers",
            "waiver_files",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="Waiver file (YAML) in place of waiver_files in .tfdrift.yml; "
            ".tfdrift-waivers.yml in -C DIR is read as well. Repeatable.",
        ),
        click.option(
            "--require-complete",
            is_flag=True,
            help="Exit 3 while CloudTrail may still deliver events of the window "
            "(settle_minutes, default 15).",
        ),
        click.option(
            "--receipt",
            metavar="PATH|s3://BUCKET/KEY",
            help="The last apply's receipt (default .tfdrift/receipt.json in -C DIR, "
            "if any); the window starts at its end.",
        ),
        click.option(
            "--format",
            "report_format",
            help="Report format: text, json (one JSON object a line), github, "
            "markdown or sarif; plugins add more (default: github inside GitHub "
            "Actions, else text).",
        ),
        click.option(
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the report to this file instead of standard output.",
        ),
        click.option(
            "--metrics",
            "metrics_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="After the report, write Prometheus metrics to this file (for "
            "node_exporter's textfile collector, *.prom), whole or not at all.",
        ),
        click.option(
            "--pushgateway",
            metavar="URL",
            help="After the report, push the same metrics to this Prometheus "
            "Pushgateway (job and labels: the metrics section of .tfdrift.yml).",
        ),
        click.option("-v", "--verbose", count=True, help="More logging (-vv debug)."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
    ]
    names = [
        "directory",
        "state",
        "plan_json",
        "events",
        "since",
        "until",
        "trusted",
        "fail_on",
        "config",
        "rules",
        "waivers",
        "require_complete",
        "receipt",
        "format",
        "output",
        "metrics",
        "pushgateway",
        "verbose",
        "quiet",
    ]
    return dict(zip(names, options, strict=True))


_CHECK_OPTIONS = _check_option_table()


def _check_options(command: F) -> F:
    """Every option of ``check``."""
    return _with_options(command, _CHECK_OPTIONS)


def _some_check_options(*left_out: str) -> Callable[[F], F]:
    """The options of ``check`` but those named, for a command with no use of them."""
    kept = {
        name: option for name, option in _CHECK_OPTIONS.items() if name not in left_out
    }
    return lambda command: _with_options(command, kept)


def _with_options(command: F, options: dict[str, Any]) -> F:
    for option in reversed(list(options.values())):
        command = option(command)
    return command


_plan_file_option = click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Saved plan (`terraform plan -out FILE`), read with `terraform show -json`.",
)


@cli.command()
@_check_options
@click.pass_context
def check(ctx: click.Context, /, verbose: int, quiet: bool, **options: Any) -> None:
    """Report KMS changes made outside Terraform, with who and when."""
    _command_logging(verbose, quiet)
    ctx.exit(_run(_check, options))


@cli.command("pre-plan")
@_check_options
@click.pass_context
def pre_plan(ctx: click.Context, /, verbose: int, quiet: bool, **options: Any) -> None:
    """Before `terraform plan`: run the pre-plan hooks (the check of the window)."""
    _command_logging(verbose, quiet)
    ctx.exit(_run(_phase("pre-plan"), options))


@cli.command("post-plan")
@_check_options
@_plan_file_option
@click.pass_context
def post_plan(ctx: click.Context, /, verbose: int, quiet: bool, **options: Any) -> None:
    """After `terraform plan`: match the plan's drift to the events, who and when.

    Give the plan as --plan-json FILE or --plan PLANFILE.
    """
    _command_logging(verbose, quiet)
    ctx.exit(_run(_phase("post-plan"), options))


@cli.command("pre-apply")
@_check_options
@_plan_file_option
@click.pass_context
def pre_apply(ctx: click.Context, /, verbose: int, quiet: bool, **options: Any) -> None:
    """Before `terraform apply`: the check and, with the plan, the guardrails."""
    _command_logging(verbose, quiet)
    ctx.exit(_run(_phase("pre-apply"), options))


@cli.command("post-apply")
@_some_check_options(
    "plan_json",
    "events",
    "since",
    "until",
    "trusted",
    "fail_on",
    "rules",
    "require_complete",
    "metrics",
    "pushgateway",
)
@click.option(
    "--started",
    help="When the apply started (ISO-8601; default: when pre-apply ran here).",
)
@click.option("--finished", help="When it finished (ISO-8601; default now).")
@click.option(
    "--exit-code",
    "apply_exit_code",
    type=int,
    default=0,
    show_default=True,
    help="What `terraform apply` returned; no receipt is written unless 0.",
)
@click.option(
    "--command",
    "apply_command",
    type=click.Choice(["apply", "destroy"]),
    default="apply",
    show_default=True,
    help="Which Terraform command ran, for the hooks.",
)
@click.option(
    "--principal",
    metavar="ARN",
    help="Who applied (default: the caller of these credentials, from STS).",
)
@click.pass_context
def post_apply(
    ctx: click.Context, /, verbose: int, quiet: bool, **options: Any
) -> None:
    """After `terraform apply`: write the receipt when the apply succeeded."""
    _command_logging(verbose, quiet)
    ctx.exit(_run(_phase("post-apply"), options))


@cli.command(
    "terraform",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@_some_check_options("plan_json", "metrics", "pushgateway")
@click.option(
    "--principal",
    metavar="ARN",
    help="Who applies, for the receipt (default: the caller, from STS).",
)
@click.argument("terraform_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def terraform_command(
    ctx: click.Context, /, verbose: int, quiet: bool, **options: Any
) -> None:
    """Run terraform ARGS with the lifecycle hooks around plan, apply and destroy.

    Options for tfdrift-hook come first, then `--`, then terraform's own arguments:

        tfdrift-hook terraform --events trail/ -- apply -var-file=prod.tfvars

    The hooks run before and after; after a successful apply the receipt is
    written. Terraform's exit code is returned unless a hook gates the run.
    """
    _command_logging(verbose, quiet)
    ctx.exit(_run(_terraform, options))


@cli.command("pre-commit")
@_some_check_options("directory", "state", "plan_json", "metrics", "pushgateway")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def pre_commit(
    ctx: click.Context, /, verbose: int, quiet: bool, **options: Any
) -> None:
    """The check of each Terraform directory that holds one of FILES (pre-commit).

    pre-commit passes the changed files; each directory with a changed .tf file is
    checked once, from its state, with the events of --events or .tfdrift.yml.
    """
    _command_logging(verbose, quiet)
    ctx.exit(_run(_pre_commit, options))


def _pre_commit(options: dict[str, Any]) -> int:
    from tfdrift_hook.precommit_command import run_precommit_command

    files = list(options.pop("files"))
    return run_precommit_command(options, files, sys.stdout, os.environ)


@cli.group("rules")
def rules_group() -> None:
    """The rules a check judges by."""


@rules_group.command("list")
@_directory_option("Terraform directory, where .tfdrift.yml is looked for.")
@_config_option
@click.option(
    "--rules",
    "rule_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Extra rule file, loaded after the built-ins and .tfdrift.yml's. Repeatable.",
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A table, or one JSON object a rule.",
)
@click.pass_context
def rules_list(ctx: click.Context, /, **options: Any) -> None:
    """Every rule in force, most severe first: name, priority, source file."""
    ctx.exit(_run(_rules_list, options))


def _rules_list(options: dict[str, Any]) -> int:
    from tfdrift_hook.rules_command import run_rules_list

    return run_rules_list(options, sys.stdout, os.environ)


@rules_group.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.pass_context
def rules_validate(ctx: click.Context, /, files: tuple[Path, ...]) -> None:
    """Check rule FILES, loaded after the built-in rules; print every problem.

    Each problem names the file, the line, the rule and, in a condition, the
    column and what was expected there. Exit codes: 0 valid, 2 not valid,
    3 valid but a rule plugin failed.
    """
    ctx.exit(_run(_rules_validate, {"files": files}))


def _rules_validate(options: dict[str, Any]) -> int:
    from tfdrift_hook.rules_command import run_rules_validate

    return run_rules_validate(options["files"], sys.stdout, os.environ)


@rules_group.command("test")
@click.argument("rule_file", type=click.Path(dir_okay=False, path_type=Path))
@_some_check_options(
    "fail_on",
    "rules",
    "require_complete",
    "format",
    "output",
    "metrics",
    "pushgateway",
)
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Text, or one JSON object a rule with its matches.",
)
@click.pass_context
def rules_test(
    ctx: click.Context, /, verbose: int, quiet: bool, **options: Any
) -> None:
    """Run the check with the rules in force and RULE_FILE; show what each matches.

    The rules in force are the built-in ones and those of .tfdrift.yml; RULE_FILE is
    loaded last, as --rules would load it.

    For each rule RULE_FILE defines, overrides or switches: the records it matched
    (event id, time, event name, address) and its output for each, or that it
    matched nothing. Exit codes: 0 checked, 2 a bad rule file or option,
    3 an input could not be read.
    """
    _command_logging(verbose, quiet)
    ctx.exit(_run(_rules_test, options))


def _rules_test(options: dict[str, Any]) -> int:
    from tfdrift_hook.rules_command import run_rules_test

    rule_file = options.pop("rule_file")
    return run_rules_test(rule_file, options, sys.stdout, os.environ)


def _command_logging(verbose: int, quiet: bool) -> None:
    if verbose or quiet:
        _configure_logging(verbose, quiet)


def _phase(name: str) -> Callable[[dict[str, Any]], int]:
    def run(options: dict[str, Any]) -> int:
        from tfdrift_hook.phase_command import run_phase_command

        return run_phase_command(name, options, sys.stdout, os.environ)

    return run


def _terraform(options: dict[str, Any]) -> int:
    from tfdrift_hook.wrapper import run_wrapper

    args = list(options.pop("terraform_args"))
    return run_wrapper(options, args, sys.stdout, os.environ)


@cli.command()
@_directory_option(
    "Terraform directory; its state is read with `terraform state pull`."
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The terraform.tfstate the apply wrote (instead of `terraform state pull`).",
)
@click.option("--started", required=True, help="When the apply started (ISO-8601).")
@click.option("--finished", help="When it finished (ISO-8601; default now).")
@click.option(
    "--principal",
    metavar="ARN",
    help="Who applied (default: the caller of these credentials, from STS).",
)
@click.option(
    "--receipt",
    metavar="PATH|s3://BUCKET/KEY",
    help="Where to write it (default .tfdrift/receipt.json in the directory).",
)
@click.pass_context
def record(ctx: click.Context, /, **options: Any) -> None:
    """Write the receipt of a successful apply; the next check starts at its end."""
    ctx.exit(_run(_record, options))


def _record(options: dict[str, Any]) -> int:
    from tfdrift_hook.record_command import run_record_command

    return run_record_command(options, sys.stdout)


@cli.command()
@click.argument("finding_id", metavar="FINDING-ID")
@click.option("--owner", required=True, help="Who answers for the waiver.")
@click.option("--reason", required=True, help="Why the finding is accepted.")
@click.option(
    "--expires",
    required=True,
    metavar="YYYY-MM-DD",
    help="The last day it waives (UTC); today or later.",
)
@click.option(
    "--file",
    "waiver_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Waiver file to add to (default .tfdrift-waivers.yml in -C DIR).",
)
@click.option(
    "--from-report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Find the id in this `check --format json` report, not in a new check.",
)
@_some_check_options(
    "format", "output", "metrics", "pushgateway", "fail_on", "require_complete"
)
@click.pass_context
def waive(ctx: click.Context, /, verbose: int, quiet: bool, **options: Any) -> None:
    """Accept one finding, by the id its report prints, in a waiver file.

    The entry names the finding's rule, address and event id, with the owner,
    reason and expiry given; the file's other text and comments are kept. Exit
    codes: 0 written, 2 not written (a bad option, an id not found, a file the
    entry would break), 3 id not found by a check that could not read everything.
    """
    _command_logging(verbose, quiet)
    ctx.exit(_run(_waive, options))


def _waive(options: dict[str, Any]) -> int:
    from tfdrift_hook.waive_command import run_waive_command

    return run_waive_command(options, sys.stdout, os.environ)


@cli.command("config")
@_directory_option("Terraform directory, where .tfdrift.yml is looked for.")
@_config_option
@click.option(
    "--show", is_flag=True, help="Print the settings in force and their origin."
)
@click.pass_context
def config_command(ctx: click.Context, /, **options: Any) -> None:
    """Validate the settings file; with --show, print every setting and its origin."""
    ctx.exit(_run(_config, options))


def _config(options: dict[str, Any]) -> int:
    from tfdrift_hook.config import load_settings, render_settings

    settings = load_settings(options, os.environ, Path(options["directory"]))
    if options.get("show"):
        click.echo(render_settings(settings))
    else:
        where = settings.config_file or "no settings file; defaults"
        click.echo(f"settings valid ({where})")
    return 0


@cli.command("plugins")
@click.pass_context
def plugins_command(ctx: click.Context, /) -> None:
    """List the loaded plugins, the hooks each implements, and any that failed."""
    ctx.exit(_run(_plugins, {}))


def _plugins(options: dict[str, Any]) -> int:
    from tfdrift_hook.plugin_manager import build_plugin_manager, describe_plugins

    plugins = build_plugin_manager(os.environ)
    click.echo(describe_plugins(plugins))
    return 3 if plugins.failures else 0


def _check(options: dict[str, Any]) -> int:
    from tfdrift_hook.check_command import run_check_command

    return run_check_command(options, sys.stdout, os.environ)


def _run(command: Any, options: dict[str, Any]) -> int:
    """Run a command; a user error is one line, a bug is a traceback, never exit 0."""
    try:
        return int(command(options))
    except TfdriftError as exc:
        click.echo(f"tfdrift-hook: error: {exc}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("tfdrift-hook: interrupted", err=True)
        return 130
    except Exception:
        click.echo(traceback.format_exc(), err=True)
        click.echo(
            "tfdrift-hook: internal error (a bug; please report it with the "
            "traceback above). Nothing was checked.",
            err=True,
        )
        return int(ExitCode.USAGE)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO)[min(verbose, 1)]
    if verbose >= 2:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tfdrift-hook: %(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="tfdrift-hook")
