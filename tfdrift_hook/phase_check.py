"""The built-in check of each lifecycle phase (the ``phase-check`` plugin).

Before a plan, the check of the window; after it and before an apply, the same check
with the plan beside it, so that drift is matched to events and the guardrails judge
what the apply would do. A plugin that wants its own check disables this one by name.
"""

from __future__ import annotations

import logging

from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.lifecycle import HookOutcome, Phase

logger = logging.getLogger(__name__)


@hookimpl(trylast=True)
def tfdrift_pre_plan(phase: Phase) -> HookOutcome | None:
    if phase.wrapped:
        logger.info("the check runs after the plan, with the plan beside it")
        return None
    return HookOutcome(result=phase.check())


@hookimpl(trylast=True)
def tfdrift_post_plan(phase: Phase) -> HookOutcome:
    return HookOutcome(result=phase.check())


@hookimpl(trylast=True)
def tfdrift_pre_apply(phase: Phase) -> HookOutcome:
    return HookOutcome(result=phase.check())
