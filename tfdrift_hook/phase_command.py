"""The lifecycle commands for CI steps: ``pre-plan``, ``post-plan``, ``pre-apply``,
``post-apply``.

Each runs one phase's hooks with the options of ``check`` and reports what they
found. A plan is read from ``--plan-json FILE`` or ``--plan PLANFILE`` (shown with
``terraform show -json``), or under Atlantis from ``SHOWFILE``; post-plan needs one,
pre-apply uses one when given. A pre-apply that lets the apply go ahead notes its
start in ``.tfdrift/apply-started``, which a post-apply step reads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import click

from tfdrift_hook.check_command import report, report_format_of, report_stream
from tfdrift_hook.config import load_settings
from tfdrift_hook.errors import ExitCode, TfdriftError
from tfdrift_hook.lifecycle import (
    POST_APPLY,
    POST_PLAN,
    PRE_APPLY,
    ApplyOutcome,
    Phase,
    PhaseRun,
    run_phase,
)
from tfdrift_hook.metrics_targets import check_metrics_settings, publish_metrics
from tfdrift_hook.plugin_manager import Plugins, build_plugin_manager
from tfdrift_hook.window import parse_bound

logger = logging.getLogger(__name__)


def run_phase_command(
    name: str, options: dict[str, Any], stream: TextIO, environ: Mapping[str, str]
) -> int:
    plugins = build_plugin_manager(environ)
    report_format = report_format_of(plugins, options.get("report_format"), environ)
    _check_metrics(options, environ)
    now = datetime.now(timezone.utc)
    _plan_from_atlantis(name, options, environ)
    plan = read_phase_plan(options)
    if name == PRE_APPLY and plan is None:
        logger.warning(
            "pre-apply has no plan, so the guardrails were not checked; give "
            "--plan PLANFILE or --plan-json FILE"
        )
    if name == POST_PLAN and plan is None:
        msg = "post-plan needs the plan: give --plan-json FILE (`terraform show"
        raise TfdriftError(f"{msg} -json PLANFILE > FILE`) or --plan PLANFILE")

    phase = Phase(name, options, environ, now, plugins, plan)
    arguments = {"outcome": _apply_outcome(options, now)} if name == POST_APPLY else {}
    run = run_phase(phase, **arguments)
    note_load_failures(run, plugins)
    require_check(run)
    with report_stream(options, stream, report_format) as target:
        report_phase(run, plugins, report_format, target)
    publish_phase_metrics(run, options)
    if name == PRE_APPLY:
        _note_start(run, Path(options.get("directory") or "."), now)
    return int(run.exit_code())


def _check_metrics(options: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Bad metrics options or settings stop the phase before it checks anything."""
    directory = Path(options.get("directory") or ".")
    settings = load_settings(options, environ, directory)
    check_metrics_settings(options, settings.request_settings())


def publish_phase_metrics(run: PhaseRun, options: Mapping[str, Any]) -> None:
    """The metrics of the phase's check; a second check would overwrite the first.

    The built-in ``phase-check`` makes the one check of a phase; a plugin that adds
    another gets its metrics only when it replaces the built-in one.
    """
    results = [outcome.result for _, outcome in run.outcomes if outcome.result]
    if results:
        publish_metrics(results[0], options)


def require_check(run: PhaseRun) -> None:
    """A phase before or after a plan that checked nothing must not look clean.

    With ``phase-check`` disabled and no plugin in its place, nothing would be read
    and the phase would pass in silence.
    """
    if run.phase == POST_APPLY:
        return
    if any(outcome.result is not None for _, outcome in run.outcomes):
        return
    run.failures.append(
        "no plugin ran the check of this phase; enable phase-check or install a "
        "plugin that replaces it"
    )


def _note_start(run: PhaseRun, directory: Path, now: datetime) -> None:
    """The apply's start, for a post-apply step; a stopped apply is not timed."""
    from tfdrift_hook.apply_receipt import forget_apply_start, note_apply_start

    if run.gates:
        forget_apply_start(directory)
    else:
        note_apply_start(directory, now)


def note_load_failures(run: PhaseRun, plugins: Plugins, later: bool = False) -> None:
    """Plugins that did not load, for a phase whose hooks ran no check to carry them.

    ``later`` says a check follows in this run (the wrapper's post-plan), which
    reports them itself.
    """
    if later or any(outcome.result is not None for _, outcome in run.outcomes):
        return
    for failure in plugins.failures:
        run.failures.append(f"plugin {failure.name} failed to load: {failure.reason}")


def _plan_from_atlantis(
    name: str, options: dict[str, Any], environ: Mapping[str, str]
) -> None:
    """Under Atlantis, post-plan and pre-apply read SHOWFILE when no plan is given.

    ``--plan-json ""`` (an unset variable in a run step) counts as not given.
    """
    from tfdrift_hook.atlantis import (
        atlantis_context,
        describe,
        plan_json_from_atlantis,
    )

    if options.get("plan_json") is not None and str(options["plan_json"]) in ("", "."):
        options["plan_json"] = None
    if name not in (POST_PLAN, PRE_APPLY) or options.get("plan_json"):
        return
    if options.get("plan_file"):
        return

    context = atlantis_context(environ)
    if context is None:
        return
    click.echo(f"tfdrift-hook: {describe(context)}", err=True)
    options["plan_json"] = plan_json_from_atlantis(context, required=name == POST_PLAN)


def read_phase_plan(options: dict[str, Any]) -> Any:
    """The plan of --plan-json or --plan, read into a PlanView; None without one.

    A shown --plan is kept in ``options["plan_document"]`` so that the check reads
    the managed resources from the same document.
    """
    from tfdrift_hook.plan_drift import load_plan, read_plan

    plan_json, plan_file = options.get("plan_json"), options.get("plan_file")
    if plan_json is not None and plan_file is not None:
        raise TfdriftError("give --plan-json or --plan, not both")

    if plan_json is not None:
        return load_plan(Path(plan_json))

    if plan_file is None:
        return None

    from tfdrift_hook.terraform_cli import show_json

    directory = Path(options.get("directory") or ".")
    document = show_json(directory, Path(plan_file))
    options["plan_document"] = document
    return read_plan(document, f"terraform show -json {plan_file}")


def _apply_outcome(options: Mapping[str, Any], now: datetime) -> ApplyOutcome:
    from tfdrift_hook.apply_receipt import noted_apply_start

    directory = Path(options.get("directory") or ".")
    code = int(options.get("apply_exit_code") or 0)
    finished = parse_bound(options.get("finished"), now, "--finished") or now
    started = parse_bound(options.get("started"), now, "--started")
    started = started or noted_apply_start(directory)
    if started is None and code != 0:
        started = finished  # a failed apply writes no receipt; its start is moot
    if started is None:
        msg = "post-apply needs to know when the apply started: run pre-apply"
        raise TfdriftError(f"{msg} in the same directory first, or give --started")
    _check_times(started, finished, now)
    return ApplyOutcome(
        str(options.get("apply_command") or "apply"), code, started, finished
    )


#: How far ahead of this machine's clock another machine's may be.
_CLOCK_SKEW = timedelta(minutes=5)


def _check_times(started: datetime, finished: datetime, now: datetime) -> None:
    if started > now + _CLOCK_SKEW:
        msg = f"--started {started:%Y-%m-%dT%H:%M:%SZ} is in the future"
        raise TfdriftError(f"{msg}; give the time the apply started, in UTC")
    if finished < started:
        msg = f"the apply finished ({finished:%Y-%m-%dT%H:%M:%SZ}) before it started"
        raise TfdriftError(f"{msg} ({started:%Y-%m-%dT%H:%M:%SZ}); check --started")


def report_phase(
    run: PhaseRun, plugins: Plugins, report_format: str, stream: TextIO
) -> None:
    """Each hook's check report on the stream; summaries and failures on stderr."""
    for name, outcome in run.outcomes:
        if outcome.result is not None:
            report(outcome.result, plugins, report_format, stream)
        if outcome.summary:
            click.echo(f"tfdrift-hook: {run.phase}: {outcome.summary}", err=True)
        logger.debug("%s: %s answered (exit %d)", run.phase, name, outcome.code())
    for failure in run.failures:
        click.echo(f"tfdrift-hook: {run.phase}: {failure}", err=True)
    if run.failures and run.exit_code() == ExitCode.INCOMPLETE:
        click.echo(
            f"tfdrift-hook: {run.phase} is incomplete: fix or disable the plugin "
            "(TFDRIFT_HOOK_DISABLE_PLUGINS)",
            err=True,
        )
