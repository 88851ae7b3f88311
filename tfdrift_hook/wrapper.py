"""``tfdrift-hook terraform [--] ARGS...``: Terraform with the lifecycle hooks around.

``plan`` runs pre-plan, then the plan (saved to a temporary file when no ``-out`` is
given, so that post-plan can read it), then post-plan with the plan. ``apply`` and
``destroy`` run pre-apply with the plan being applied: the saved plan given, or one made
first with the same arguments (``terraform plan -out``, output kept back), then the
command exactly as the user gave it, then post-apply, which writes the receipt when
Terraform succeeded. Any other subcommand runs as it is.

Terraform's exit status is returned unless a hook gates the run, which is said on
standard error with the reason.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import click

from tfdrift_hook.check_command import report_format_of, report_stream
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.lifecycle import (
    POST_APPLY,
    POST_PLAN,
    PRE_APPLY,
    PRE_PLAN,
    ApplyOutcome,
    Phase,
    PhaseRun,
    run_phase,
)
from tfdrift_hook.phase_command import (
    note_load_failures,
    report_phase,
    require_check,
)
from tfdrift_hook.plugin_manager import Plugins, build_plugin_manager, is_builtin
from tfdrift_hook.reporters.text import counted
from tfdrift_hook.terraform_cli import run_attached, run_captured, show_json

logger = logging.getLogger(__name__)

HOOKED = frozenset({"plan", "apply", "destroy"})

#: The prefix of the temporary folders that hold plans the wrapper made.
_SCRATCH = "tfdrift-plan-"

#: Options of apply that a plan does not take, left out of the plan made before it.
_APPLY_ONLY = ("-auto-approve", "-backup", "-state-out", "-json")


@dataclass
class TerraformArgs:
    """Terraform's command line: global options, the subcommand, and its arguments."""

    global_args: list[str]
    subcommand: str | None
    args: list[str]

    @property
    def chdir(self) -> str | None:
        for arg in self.global_args:
            if arg.startswith("-chdir="):
                return arg.split("=", 1)[1]
        return None

    def argv(self, *extra: str, subcommand: str | None = None) -> list[str]:
        name = subcommand or self.subcommand
        return [*self.global_args, *([name] if name else []), *extra, *self.args]

    def options(self) -> list[list[str]]:
        """Each option with its value: ``["-var-file=a"]`` or ``["-var-file", "a"]``."""
        return _split(self.args)[0]

    def plan_out(self) -> str | None:
        """The file of ``-out=FILE`` or ``-out FILE``."""
        for option in self.options():
            name, value = _option_value(option)
            if name == "-out":
                return value
        return None

    def saved_plan(self, directory: Path) -> Path | None:
        """The plan file an apply was given: its one argument that is not an option."""
        positional = _split(self.args)[1]
        if not positional:
            return None
        candidate = directory / positional[-1]
        return candidate if candidate.is_file() else None

    def plan_options(self) -> list[str]:
        """The apply's options that a plan takes too (vars, targets, refresh...)."""
        kept = []
        for option in self.options():
            if _option_value(option)[0] not in _APPLY_ONLY:
                kept += option
        return kept


#: Terraform's options that take a value, which may follow as the next argument.
_VALUED = frozenset(
    {
        "-var",
        "-var-file",
        "-target",
        "-replace",
        "-out",
        "-state",
        "-state-out",
        "-backup",
        "-lock-timeout",
        "-parallelism",
        "-generate-config-out",
    }
)


def _split(args: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """Options (with their values) and the positional arguments, in order."""
    options: list[list[str]] = []
    positional: list[str] = []
    pending = False
    for arg in args:
        if pending:
            options[-1].append(arg)
            pending = False
        elif arg.startswith("-"):
            options.append([arg])
            pending = "=" not in arg and arg.lstrip("-") in _bare(_VALUED)
        else:
            positional.append(arg)
    return options, positional


def _bare(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.lstrip("-") for name in names)


def _option_value(option: list[str]) -> tuple[str, str | None]:
    """``-name`` (one dash, as Terraform writes it) and its value, if any."""
    name, _, value = option[0].partition("=")
    name = "-" + name.lstrip("-")
    if len(option) > 1:
        return name, option[1]
    return name, value or None


def parse_terraform_args(args: Sequence[str]) -> TerraformArgs:
    """Split at the subcommand: the first argument that is not an option."""
    arguments = list(args[1:]) if args and args[0] == "--" else list(args)
    for number, arg in enumerate(arguments):
        if not arg.startswith("-"):
            return TerraformArgs(arguments[:number], arg, arguments[number + 1 :])
    return TerraformArgs(arguments, None, [])


def run_wrapper(
    options: dict[str, Any],
    args: Sequence[str],
    stream: TextIO,
    environ: Mapping[str, str],
) -> int:
    command = parse_terraform_args(args)
    if command.subcommand is None and not command.global_args:
        msg = "give terraform's arguments after --, e.g. `tfdrift-hook terraform"
        raise TfdriftError(f"{msg} --events trail/ -- plan`")
    workdir = Path(options.get("directory") or ".")
    if command.subcommand not in HOOKED:
        return run_attached(command.argv(), workdir)

    plugins = build_plugin_manager(environ)
    _preflight(options, environ, plugins, workdir / (command.chdir or "."))
    wrapper = _Wrapper(
        options={**options, "directory": workdir / (command.chdir or ".")},
        command=command,
        workdir=workdir,
        plugins=plugins,
        report_format=report_format_of(plugins, options.get("report_format"), environ),
        stream=stream,
        environ=environ,
    )
    try:
        with report_stream(options, stream, wrapper.report_format) as wrapper.stream:
            return wrapper.plan() if command.subcommand == "plan" else wrapper.apply()
    finally:
        wrapper.log_timings()


def _preflight(
    options: Mapping[str, Any],
    environ: Mapping[str, str],
    plugins: Plugins,
    directory: Path,
) -> None:
    """Settings errors and a missing event source, before Terraform runs for minutes."""
    from tfdrift_hook.config import load_settings
    from tfdrift_hook.pipeline import NoSourceError

    report_format_of(plugins, options.get("report_format"), environ)
    settings = load_settings(options, environ, directory)
    if settings.events or settings.sources:
        return
    caller = plugins.manager.hook.tfdrift_event_sources
    if any(not is_builtin(impl.plugin_name) for impl in caller.get_hookimpls()):
        return
    msg = "no event source: give --events PATH (CloudTrail files or a directory)"
    raise NoSourceError(f"{msg} or sources in .tfdrift.yml; terraform was not run")


@dataclass
class _Wrapper:
    options: dict[str, Any]
    command: TerraformArgs
    workdir: Path
    plugins: Plugins
    report_format: str
    stream: TextIO
    environ: Mapping[str, str]
    #: Seconds spent, by what: terraform's own runs and the hooks', kept apart.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return Path(self.options["directory"])

    def plan(self) -> int:
        pre = self._phase(PRE_PLAN, None)
        if pre.gates:
            return self._stop(pre, "before `terraform plan`; nothing was planned")

        with tempfile.TemporaryDirectory(prefix=_SCRATCH) as scratch:
            out = self.command.plan_out()
            extra = [] if out else [f"-out={Path(scratch) / 'plan.tfplan'}"]
            code = self._terraform("terraform plan", self.command.argv(*extra))
            if code not in (0, 2):
                return code
            plan_file = self.directory / out if out else Path(scratch) / "plan.tfplan"
            post = self._phase(POST_PLAN, self._read_plan(plan_file))
        if not out:
            click.echo(
                "tfdrift-hook: the plan was saved to a temporary file for the hooks "
                "and is gone now; give -out FILE to keep a plan to apply",
                err=True,
            )
        if post.gates:
            return self._stop(post, f"after `terraform plan` (which exited {code})")
        return code

    def apply(self) -> int:
        with tempfile.TemporaryDirectory(prefix=_SCRATCH) as scratch:
            plan_file = self.command.saved_plan(self.directory)
            if plan_file is None:
                made = self._plan_first(Path(scratch) / "plan.tfplan")
                if isinstance(made, int):
                    return made
                plan_file = made
            pre = self._phase(PRE_APPLY, self._read_plan(plan_file))
        name = f"terraform {self.command.subcommand}"
        if pre.gates:
            return self._stop(pre, f"before `{name}`; nothing was applied")

        started = datetime.now(timezone.utc)
        code = self._terraform(name, self.command.argv())
        outcome = ApplyOutcome(
            str(self.command.subcommand), code, started, datetime.now(timezone.utc)
        )
        post = self._phase(POST_APPLY, None, outcome=outcome)
        if post.gates and code == 0:
            return self._stop(post, f"after `{name}`, which succeeded")
        return code

    def _plan_first(self, plan_file: Path) -> Path | int:
        """The plan the apply will carry out, made quietly with the same options."""
        extra = ["-destroy"] if self.command.subcommand == "destroy" else []
        argv = [
            *self.command.global_args,
            "plan",
            "-input=false",
            f"-out={plan_file}",
            *extra,
            *self.command.plan_options(),
        ]
        started = time.perf_counter()
        code, output = run_captured(argv, self.workdir)
        self._spent("terraform plan (to see what the apply will do)", started)
        if code != 0:
            sys.stderr.write(output)
            click.echo(
                f"tfdrift-hook: the plan made to check this apply failed (exit {code});"
                " nothing was applied",
                err=True,
            )
            return code
        return plan_file

    def _read_plan(self, plan_file: Path) -> Any:
        from tfdrift_hook.plan_drift import read_plan

        started = time.perf_counter()
        document = show_json(self.directory, plan_file.absolute())
        self._spent("terraform show -json (for the hooks)", started)
        shown = self._plan_name(plan_file)
        self.options["plan_document"] = document
        self.options["plan_file"] = shown
        return read_plan(document, shown)

    def _plan_name(self, plan_file: Path) -> str:
        """The plan as the user knows it; a temporary file by what made it."""
        if plan_file.parent.name.startswith(_SCRATCH):
            return f"the plan of this `terraform {self.command.subcommand}`"
        return str(plan_file)

    def _phase(self, name: str, plan: Any, **arguments: Any) -> PhaseRun:
        phase = Phase(
            name,
            self.options,
            self.environ,
            datetime.now(timezone.utc),
            self.plugins,
            plan=plan,
            wrapped=True,
            command=str(self.command.subcommand),
        )
        run = run_phase(phase, **arguments)
        note_load_failures(run, self.plugins, later=name == PRE_PLAN)
        if name != PRE_PLAN:
            require_check(run)
        started = time.perf_counter()
        report_phase(run, self.plugins, self.report_format, self.stream)
        self.timings[f"{name} hooks"] = run.seconds + time.perf_counter() - started
        return run

    def _terraform(self, name: str, argv: list[str]) -> int:
        started = time.perf_counter()
        code = run_attached(argv, self.workdir)
        self._spent(name, started)
        return code

    def _spent(self, name: str, started: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    def _stop(self, run: PhaseRun, when: str) -> int:
        click.echo(f"tfdrift-hook: stopped {when}: {_reason(run)}", err=True)
        return int(run.exit_code())

    def log_timings(self) -> None:
        hooks = sum(
            value for name, value in self.timings.items() if name.endswith(" hooks")
        )
        spent = self.timings.items()
        parts = "; ".join(f"{name} {value:.2f} s" for name, value in spent)
        logger.info("time: %s; hooks in all %.2f s", parts, hooks)


def _reason(run: PhaseRun) -> str:
    """Why a phase gates: its findings at or above the threshold, or what is missing."""
    gating, threshold, problems = [], "error", 0
    for _, outcome in run.outcomes:
        if outcome.result is None:
            continue
        threshold = outcome.result.request.fail_on
        gating += outcome.result.gating()
        problems += len(outcome.result.problems)
    if gating:
        ranked = sorted(gating, key=lambda item: (-item.severity, item.rule.name))
        rules = list(dict.fromkeys(f"{i.rule.name} on {i.address}" for i in ranked))
        shown = ", ".join(rules[:3]) + (", ..." if len(rules) > 3 else "")
        worst = ranked[0].priority
        count = counted(len(gating), "finding")
        return f"{count} at or above {threshold}, worst {worst} ({shown}); see above"
    if problems or run.failures:
        total = problems + len(run.failures)
        return (
            f"the check is incomplete ({counted(total, 'problem')} above), so it "
            "cannot say the run is safe"
        )
    return "a hook asked to stop (see above)"
