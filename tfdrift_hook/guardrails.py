"""Guardrails: what an apply of this plan would do to keys someone changed or uses.

Each guardrail is a candidate with status ``guardrail`` and ``drift.guard`` naming it,
judged by the rules like any other, so that it gates through ``--fail-on``:

- ``replaces_pending_deletion``: the managed key is pending deletion out of band, the
  provider no longer sees it, and the plan creates a new key in its place. Cancelling
  the deletion keeps the key and everything encrypted under it.
- ``reenables_key`` and ``restores_policy``: the apply undoes a change someone made
  outside Terraform, which may have been an incident response: it re-enables a key
  someone disabled, or writes a policy that lets back in a principal the live policy
  keeps out. A policy restore that only takes away what someone added is the fix.
- ``deletes_key_in_use``: the apply schedules the deletion of a key that cryptographic
  calls in the window show is still in use.

The evidence that someone changed a key is an event of the window or the plan's own
drift; where an event says who, the guardrail carries that event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tfdrift_hook.actors import NO_EVENT_ACTOR
from tfdrift_hook.changes import POLICY, Change
from tfdrift_hook.events import KmsEvent, Status
from tfdrift_hook.findings import Candidate
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.inventory import KEY_TYPES, ManagedResource
from tfdrift_hook.policy_diff import PolicyError, diff_policies
from tfdrift_hook.resolution import Subject, Target
from tfdrift_hook.sources.base import utc_now
from tfdrift_hook.usage import KeyUsage

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest
    from tfdrift_hook.plan_drift import PlannedChange, PlanView

logger = logging.getLogger(__name__)

REPLACES_PENDING_DELETION = "replaces_pending_deletion"
REENABLES_KEY = "reenables_key"
RESTORES_POLICY = "restores_policy"
DELETES_KEY_IN_USE = "deletes_key_in_use"

#: Statuses of a change someone made outside this pipeline's Terraform.
_OUT_OF_BAND = frozenset(
    {Status.OUT_OF_BAND, Status.TERRAFORM_OUTSIDE_PIPELINE, Status.AWS_SERVICE}
)


@hookimpl(trylast=True)
def tfdrift_plan_candidates(
    request: CheckRequest,
    candidates: list[Candidate],
    usage: Mapping[tuple[str, str], KeyUsage],
) -> list[Candidate]:
    if request.plan is None:
        return []
    return guardrails(request.plan, request, candidates, usage)


def guardrails(
    plan: PlanView,
    request: CheckRequest,
    candidates: Sequence[Candidate],
    usage: Mapping[tuple[str, str], KeyUsage],
) -> list[Candidate]:
    """One candidate for each guardrail the plan's changes run into."""
    evidence = _Evidence(plan, candidates)
    resources = {item.address: item for item in request.inventory.resources}
    found: list[Candidate] = []
    for change in plan.changes:
        resource = resources.get(change.address)
        found.extend(_pending_deletion(change, resource, evidence))
        found.extend(_undoes(change, resource, evidence))
        found.extend(_deletes_in_use(change, resource, usage, plan))
    return found


@dataclass
class _Evidence:
    """Who changed what: the events' changes by (address, attribute), and the drift."""

    plan: PlanView
    candidates: Sequence[Candidate]

    def last_change(
        self, address: str, attribute: str, wanted: Iterable[object] | None = None
    ) -> tuple[Candidate, Change] | None:
        """The latest out-of-band change of the attribute, to one of ``wanted``."""
        latest = None
        for candidate in self.candidates:
            if candidate.status not in _OUT_OF_BAND:
                continue
            for change in candidate.changes:
                owner = change.address or candidate.target.address
                if owner != address or change.attribute != attribute:
                    continue
                if wanted is None or change.after in wanted:
                    latest = (candidate, change)
        return latest

    def drifted(self, address: str, attribute: str) -> bool:
        drift = self.plan.drift_of(address)
        if drift is None:
            return False
        return drift.deleted or any(
            item.attribute == attribute for item in drift.attributes
        )


# -- the guardrails ----------------------------------------------------------------


def _pending_deletion(
    change: PlannedChange, resource: ManagedResource | None, evidence: _Evidence
) -> Iterator[Candidate]:
    """A key the plan creates anew because the managed one is pending deletion."""
    if change.type not in KEY_TYPES or "create" not in change.actions:
        return
    drift = evidence.plan.drift_of(change.address)
    if resource is None or drift is None or not drift.deleted:
        return

    found = evidence.last_change(change.address, "key_state", ("PendingDeletion",))
    event = (
        found[0].event
        if found
        else _stand_in(change, resource, "deletion", evidence.plan)
    )
    deletion_date = found[0].event.values.get("deletion_date") if found else None
    remedy = _cancel_deletion(resource)
    yield _guard(
        REPLACES_PENDING_DELETION,
        event,
        resource,
        changes=list(found[0].changes) if found else [],
        details={"deletion_date": deletion_date or "unknown"},
        remedy=remedy,
    )


def _undoes(
    change: PlannedChange, resource: ManagedResource | None, evidence: _Evidence
) -> Iterator[Candidate]:
    """An update that re-enables a key or writes back a policy changed out of band."""
    if resource is None or "update" not in change.actions:
        return
    for diff in change.attributes:
        details: dict[str, object] = {"attribute": diff.attribute}
        if diff.attribute == "key_state" and diff.after == "Enabled":
            guard, wanted = REENABLES_KEY, ("Disabled",)
        elif diff.attribute == POLICY:
            given_back = _access_given_back(diff.before, diff.after, resource.account)
            if given_back is None:
                continue
            guard, wanted = RESTORES_POLICY, None
            details["restored_principals"] = given_back
        else:
            continue
        found = evidence.last_change(change.address, diff.attribute, wanted)
        if found is None and not evidence.drifted(change.address, diff.attribute):
            continue
        event = (
            found[0].event
            if found
            else _stand_in(change, resource, guard, evidence.plan)
        )
        yield _guard(
            guard,
            event,
            resource,
            changes=[found[1]] if found else [],
            details=details,
            remedy=_undo_remedy(guard),
        )


def _access_given_back(
    live: object, configured: object, account: str | None
) -> str | None:
    """Whom the policy the apply writes lets in again; None when it only takes away.

    Incident response takes access away (a principal removed, a Deny added); an apply
    that puts it back undoes that. One that only removes what someone added is the
    fix, not a risk. A policy that is not known before the apply is a risk.
    """
    if configured is None:
        return "(the policy is known only after the apply)"
    try:
        change = diff_policies(_text(live), _text(configured), account)
    except PolicyError:
        return "(a policy that cannot be read)"

    given = [*change.added_principals, *change.removed_denied_principals]
    return ", ".join(given) if given else None


def _text(policy: object) -> str | Mapping[str, Any] | None:
    if policy is None or isinstance(policy, (str, Mapping)):
        return policy
    return str(policy)


def _deletes_in_use(
    change: PlannedChange,
    resource: ManagedResource | None,
    usage: Mapping[tuple[str, str], KeyUsage],
    plan: PlanView,
) -> Iterator[Candidate]:
    """A key the apply deletes (or replaces) while calls still use it."""
    if resource is None or not resource.is_key or "delete" not in change.actions:
        return
    if resource.region is None or resource.key_id is None:
        return
    used = usage.get((resource.region, resource.key_id))
    if used is None or not used.uses:
        return

    event = _stand_in(change, resource, "use", plan)
    callers = ", ".join(name for name, _ in used.callers.most_common(3))
    candidate = _guard(
        DELETES_KEY_IN_USE,
        event,
        resource,
        changes=[],
        details={"last_used": used.last_use, "callers": callers},
        remedy=[
            "find what still encrypts or decrypts with this key (the callers above) "
            "and move it to another key before the deletion is applied",
            "or keep the key: remove the change that deletes it from this plan",
        ],
    )
    candidate.context["key_usage"] = used.to_json()
    yield candidate


# -- building candidates -----------------------------------------------------------


def _guard(
    guard: str,
    event: KmsEvent,
    resource: ManagedResource,
    changes: list[Change],
    details: Mapping[str, object],
    remedy: list[str],
) -> Candidate:
    """A guardrail candidate; the event is copied so the original keeps its details."""
    guarded = replace(event, details={**event.details, **details, "guard": guard})
    target = Target(
        Subject.MANAGED,
        identity=("key", resource.region or event.region, resource.key_id or ""),
        resource=resource,
        terraform_type=resource.type,
        arn=resource.arn,
    )
    candidate = Candidate(Status.GUARDRAIL, guarded, target, changes=changes)
    candidate.context["remedy"] = remedy
    return candidate


def _stand_in(
    change: PlannedChange, resource: ManagedResource, what: str, plan: PlanView
) -> KmsEvent:
    """An event for a guardrail no event of the window explains, at the plan's time."""
    return KmsEvent(
        event_id=f"guardrail:{change.address}:{what}",
        name="PlanGuardrail",
        time=plan.made or utc_now(),
        region=resource.region or change.region or "",
        account=resource.account,
        actor=NO_EVENT_ACTOR,
        where="the plan",
    )


def _cancel_deletion(resource: ManagedResource) -> list[str]:
    """The commands that keep the key; a cancelled deletion leaves the key disabled."""
    key = resource.arn or resource.key_id or "KEY_ID"
    region = f" --region {resource.region}" if resource.region else ""
    return [
        f"aws kms cancel-key-deletion --key-id {key}{region}",
        f"aws kms enable-key --key-id {key}{region}",
        "then run terraform plan again: it no longer creates a new key",
    ]


def _undo_remedy(guard: str) -> list[str]:
    what = "disabled the key" if guard == REENABLES_KEY else "changed the key policy"
    return [
        f"ask whoever {what} whether it was incident response before applying",
        "if the change should stay, put it in the configuration instead of applying",
    ]
