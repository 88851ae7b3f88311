"""The hooks of tfdrift-hook, for plugin authors.

A plugin is a module or object with functions named like the hooks below, marked with
``tfdrift_hook.hookspecs.hookimpl``. Install it under the ``tfdrift_hook`` entry-point
group and every run loads it::

    [project.entry-points.tfdrift_hook]
    my_org = "my_org_tfdrift.plugin"

    # my_org_tfdrift/plugin.py
    from tfdrift_hook.hookspecs import hookimpl

    @hookimpl
    def tfdrift_resolve_actor(record):
        ...  # map an SSO session to a person; None leaves it to the next plugin

There are two families. The *lifecycle* hooks run around ``terraform plan`` and
``terraform apply`` (from ``tfdrift-hook terraform`` or the ``pre-plan``, ``post-plan``,
``pre-apply`` and ``post-apply`` commands); each implementation may return a
:class:`~tfdrift_hook.lifecycle.HookOutcome`, and any outcome that gates stops the run.
The *pipeline* hooks are the steps of one check: sources, actors, events, rules,
findings and reports.

The built-in behaviour is registered the same way (see ``tfdrift_hook.plugin_manager``)
and marked ``trylast``, so an installed plugin's answer wins where one answer is used.
Setting ``TFDRIFT_HOOK_DISABLE_PLUGINS`` to a comma-separated list of plugin names stops
those plugins from loading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pluggy

if TYPE_CHECKING:
    from tfdrift_hook.actors import Actor
    from tfdrift_hook.events import KmsEvent
    from tfdrift_hook.findings import Candidate, Finding
    from tfdrift_hook.lifecycle import ApplyOutcome, HookOutcome, Phase
    from tfdrift_hook.pipeline import CheckRequest, CheckResult
    from tfdrift_hook.sources.base import EventSource
    from tfdrift_hook.usage import KeyUsage

PROJECT = "tfdrift_hook"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# pluggy never runs a hookspec's body; it reads the name, arguments and docstring. A
# hookspec whose answer cannot be None raises NotImplementedError, so that the type
# checker does not take its empty body for a missing return.


# -- lifecycle: around terraform plan and apply -------------------------------------
#
# Every implementation is called, built-in ones last; one that raises is named and the
# run counts as incomplete. ``phase.check()`` runs the check for the phase (with the
# plan, when there is one) through the pipeline hooks below.


@hookspec
def tfdrift_pre_plan(phase: Phase) -> HookOutcome | None:
    """Before ``terraform plan``. The built-in runs the check of the window.

    Inside ``tfdrift-hook terraform plan`` the built-in leaves the check to post-plan,
    which has the plan; ``phase.wrapped`` says so.
    """


@hookspec
def tfdrift_post_plan(phase: Phase) -> HookOutcome | None:
    """After ``terraform plan``; ``phase.plan`` holds the plan read from its JSON.

    The built-in runs the check with the plan: each drifted attribute is matched to the
    events that made it, and the guardrails judge what the plan would do.
    """


@hookspec
def tfdrift_pre_apply(phase: Phase) -> HookOutcome | None:
    """Before ``terraform apply`` or ``destroy``; ``phase.plan`` is the plan applied.

    The plan is the saved plan being applied, or the one the wrapper made to see what
    the apply will do; a CI step without ``--plan`` gets None. The built-in runs the
    check with the guardrails.
    """


@hookspec
def tfdrift_post_apply(phase: Phase, outcome: ApplyOutcome) -> HookOutcome | None:
    """After ``terraform apply`` or ``destroy``: what Terraform returned and when.

    The built-in writes the receipt when the apply succeeded, so that the next check
    starts where this apply ended, and writes none when it failed.
    """


# -- event sources -----------------------------------------------------------------


@hookspec
def tfdrift_event_sources(request: CheckRequest) -> Sequence[EventSource]:
    """Event sources for this check; each plugin returns the ones it was asked for.

    Called once per check. A source yields CloudTrail records (see
    ``tfdrift_hook.sources.EventSource``); records from every source are merged and
    de-duplicated by ``eventID``. Return an empty sequence when the request does not
    configure the plugin's source.
    """
    raise NotImplementedError


# -- turning records into events ---------------------------------------------------


@hookspec(firstresult=True)
def tfdrift_resolve_actor(record: Mapping[str, Any]) -> Actor | None:
    """Who made the call of one record; the first answer that is not None wins.

    Called for every KMS record in the window. An organisation maps its role sessions
    to people here; the built-in resolver reads ``userIdentity`` and ``userAgent``.
    """


@hookspec(firstresult=True)
def tfdrift_normalize_record(
    record: Mapping[str, Any], where: str, actor: Actor
) -> KmsEvent | None:
    """The KMS event of one record; the first answer that is not None wins.

    ``where`` names the file or object and the record's place in it, for messages.
    Return None for records the plugin does not model; raise ``ValueError`` with a
    message for a record that is broken (it is reported and the run marked incomplete).
    """


# -- rules and findings ------------------------------------------------------------


@hookspec
def tfdrift_rule_files() -> Sequence[Path]:
    """Rule files to load, in the Falco-shaped format of ``rules/builtin.yaml``.

    Called once per check; the files of every plugin are loaded, built-in ones first.
    """
    raise NotImplementedError


@hookspec
def tfdrift_filter_findings(
    findings: list[Finding], request: CheckRequest
) -> list[Finding] | None:
    """Enrich or drop findings before they are reported.

    Called once per check with the findings so far; return a new list to replace it,
    or None to leave it as it is. Plugins are called in turn, each seeing the list the
    previous one returned. Waivers apply after the filters, and the findings of
    expired or unused waivers are added then: a filter cannot drop those.
    """


@hookspec
def tfdrift_plan_candidates(
    request: CheckRequest,
    candidates: list[Candidate],
    usage: Mapping[tuple[str, str], KeyUsage],
) -> Sequence[Candidate]:
    """More candidates from the plan beside the check (``request.plan``, never None).

    Called once per check that has a plan, with the candidates the events made; an
    implementation may add to their ``context`` (the built-in correlation labels each
    as explained by the plan's drift or net-zero) and returns new candidates (drift no
    event explains, guardrails on what the apply would do). ``usage`` counts the read
    calls of each key by (Region, key id).
    """
    raise NotImplementedError


# -- reports -----------------------------------------------------------------------


@hookspec
def tfdrift_report_formats() -> Sequence[str]:
    """The ``--format`` names this plugin can write."""
    raise NotImplementedError


@hookspec(firstresult=True)
def tfdrift_report(result: CheckResult, format: str, stream: TextIO) -> bool | None:
    """Write the result in ``format`` to ``stream``; True when this plugin wrote it."""
