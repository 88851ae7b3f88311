"""The lifecycle phases around plan and apply, and running their hooks.

A phase (pre-plan, post-plan, pre-apply, post-apply) is run by calling every plugin's
hook for it in turn. Each may return a :class:`HookOutcome`: a check result to report,
a line to say, an exit code. The phase's exit code is the most serious of them, so one
hook that gates stops the run. A hook that raises is named, and the phase is
incomplete rather than clean.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tfdrift_hook.errors import SERIOUSNESS, ExitCode, TfdriftError, most_serious

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckResult
    from tfdrift_hook.plan_drift import PlanView
    from tfdrift_hook.plugin_manager import Plugins

logger = logging.getLogger(__name__)

PRE_PLAN = "pre-plan"
POST_PLAN = "post-plan"
PRE_APPLY = "pre-apply"
POST_APPLY = "post-apply"

#: The hook each phase calls.
HOOKS = {
    PRE_PLAN: "tfdrift_pre_plan",
    POST_PLAN: "tfdrift_post_plan",
    PRE_APPLY: "tfdrift_pre_apply",
    POST_APPLY: "tfdrift_post_apply",
}


@dataclass
class ApplyOutcome:
    """What ``terraform apply`` (or ``destroy``) returned, and when it ran."""

    command: str
    exit_code: int
    started: datetime
    finished: datetime

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


@dataclass
class HookOutcome:
    """What one hook implementation has to say about its phase."""

    #: A check to report; its exit code counts unless ``exit_code`` is set.
    result: CheckResult | None = None
    #: One line for the user (standard error), such as where a receipt went.
    summary: str = ""
    exit_code: ExitCode | None = None

    def code(self) -> ExitCode:
        if self.exit_code is not None:
            return self.exit_code
        return self.result.exit_code() if self.result is not None else ExitCode.OK


@dataclass
class Phase:
    """What a lifecycle hook is given: the phase, the run's options and the plan."""

    name: str
    #: The options of ``check`` (state, events, window, format, fail threshold...).
    options: Mapping[str, Any]
    environ: Mapping[str, str]
    now: datetime
    plugins: Plugins
    plan: PlanView | None = None
    #: Inside ``tfdrift-hook terraform``: pre-plan is followed by post-plan.
    wrapped: bool = False
    #: The Terraform subcommand run around (``plan``, ``apply``, ``destroy``).
    command: str = ""

    def check(self) -> CheckResult:
        """The check of this phase, with the plan when there is one."""
        from tfdrift_hook.check_command import (
            add_load_failures,
            build_request,
            load_rules,
            warn_if_empty,
        )
        from tfdrift_hook.pipeline import run_check

        request = build_request(self.options, self.environ, self.now)
        request.plan = self.plan
        request.phase = self.name
        if self.plan is not None:
            request.problems.extend(self.plan.problems.items)
        warn_if_empty(request.inventory)
        rules = load_rules(self.plugins, request)
        result = run_check(request, self.plugins.manager, rules)
        add_load_failures(result, self.plugins)
        if self.plan is not None:
            result.notes.extend(self.plan.notes)
        return result


@dataclass
class PhaseRun:
    """The outcomes of one phase's hooks, by plugin, and the time they took."""

    phase: str
    outcomes: list[tuple[str, HookOutcome]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def exit_code(self) -> ExitCode:
        codes = [outcome.code() for _, outcome in self.outcomes]
        if self.failures:
            codes.append(ExitCode.INCOMPLETE)
        return most_serious(codes)

    @property
    def gates(self) -> bool:
        return self.exit_code() != ExitCode.OK


def run_phase(phase: Phase, **arguments: Any) -> PhaseRun:
    """Call every implementation of the phase's hook, installed plugins first."""
    started = time.perf_counter()
    run = PhaseRun(phase.name)
    caller = getattr(phase.plugins.manager.hook, HOOKS[phase.name])
    for impl in reversed(caller.get_hookimpls()):
        outcome = _call(impl, phase, arguments, run)
        if outcome is not None:
            run.outcomes.append((impl.plugin_name, outcome))
    run.seconds = time.perf_counter() - started
    logger.info("%s hooks took %.2f s", phase.name, run.seconds)
    return run


def _call(
    impl: Any, phase: Phase, arguments: Mapping[str, Any], run: PhaseRun
) -> HookOutcome | None:
    """One implementation; a built-in's user error stops the run, a plugin's bug not."""
    from tfdrift_hook.plugin_manager import is_builtin

    wanted = {name: value for name, value in arguments.items() if name in impl.argnames}
    if "phase" in impl.argnames:
        wanted["phase"] = phase
    if impl.wrapper or impl.hookwrapper:
        _failed(
            run,
            phase,
            impl,
            "a wrapper implementation, which lifecycle hooks "
            "do not take (drop wrapper=True)",
        )
        return None
    try:
        answer = impl.function(**wanted)
    except TfdriftError:
        raise
    except Exception as exc:
        if is_builtin(impl.plugin_name):
            raise
        _failed(run, phase, impl, f"{type(exc).__name__}: {exc}")
        return None
    return _outcome(answer, run, phase, impl)


def _outcome(answer: Any, run: PhaseRun, phase: Phase, impl: Any) -> HookOutcome | None:
    """The answer when it is None or a HookOutcome with a known exit code."""
    if answer is None:
        return None
    if not isinstance(answer, HookOutcome):
        kind = type(answer).__name__
        _failed(run, phase, impl, f"returned {kind}, not a HookOutcome")
        return None
    if answer.exit_code is not None and answer.exit_code not in SERIOUSNESS:
        _failed(run, phase, impl, f"returned exit code {answer.exit_code!r}")
        return None
    return answer


def _failed(run: PhaseRun, phase: Phase, impl: Any, reason: str) -> None:
    logger.error(
        "plugin %s failed in %s (%s); the %s phase is incomplete",
        impl.plugin_name,
        HOOKS[phase.name],
        reason,
        phase.name,
    )
    run.failures.append(f"plugin {impl.plugin_name} failed: {reason}")
