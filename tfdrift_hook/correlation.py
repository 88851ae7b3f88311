"""Correlation: the drift a plan shows, matched with the changes events made.

Each change of a managed resource gets a label in ``context["plan"]``: *explained*
when the plan shows that attribute drifted (the event says who and when), *net_zero*
when the plan shows no drift left for it (changed and changed back, or written as it
was: the plan cannot see it). Each drifted attribute that no change explains becomes
a candidate of its own, status ``unexplained_drift``, with the likeliest reason no
event was found: a gap in the trail, a window that starts after the last apply, or a
change AWS made itself. A planned update that sets an attribute back to its value
before an out-of-band change is named in ``context["undone_by_plan"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tfdrift_hook.actors import NO_EVENT_ACTOR
from tfdrift_hook.arns import parse_key_ref
from tfdrift_hook.changes import POLICY, Change, describe, same_value
from tfdrift_hook.events import KmsEvent, Status
from tfdrift_hook.findings import Candidate
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.inventory import KEY_TYPES, ManagedResource
from tfdrift_hook.plan_drift import AttributeDiff, PlanView, ResourceDrift
from tfdrift_hook.resolution import Subject, Target
from tfdrift_hook.sources.base import utc_now
from tfdrift_hook.trail_coverage import COVERAGE_GAP

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest
    from tfdrift_hook.usage import KeyUsage

logger = logging.getLogger(__name__)

EXPLAINED = "explained"
NET_ZERO = "net_zero"
UNEXPLAINED = "unexplained"

TRAIL_GAP = "trail_gap"
OUTSIDE_WINDOW = "outside_window"
AWS_INTERNAL = "aws_internal"

#: Key states in which the provider reads a key, and what hangs on it, as gone.
_GONE_STATES = frozenset({"PendingDeletion", "PendingReplicaDeletion", "Deleted"})
#: The changes that make a resource of each type gone, besides its key's deletion.
_GONE_BY: dict[str, frozenset[str]] = {
    "aws_kms_alias": frozenset({"alias_name", "target_key_id"}),
    "aws_kms_grant": frozenset({"grant"}),
    "aws_kms_key_policy": frozenset({POLICY}),
    **{type_: frozenset({"key_state", "deletion_date"}) for type_ in KEY_TYPES},
}

_KeyIdentity = tuple[str, str]


@hookimpl(trylast=True)
def tfdrift_plan_candidates(
    request: CheckRequest,
    candidates: list[Candidate],
    usage: Mapping[tuple[str, str], KeyUsage],
) -> list[Candidate]:
    if request.plan is None:
        return []
    return correlate(request.plan, candidates, request)


def correlate(
    plan: PlanView, candidates: list[Candidate], request: CheckRequest
) -> list[Candidate]:
    """Label the candidates' changes; return a candidate per unexplained attribute."""
    managed = [candidate for candidate in candidates if _is_managed(candidate)]
    for candidate in managed:
        _label(candidate, plan)
        _note_undone(candidate, plan)

    made = list(_made(managed))
    found: list[Candidate] = []
    for drift in plan.drift:
        for diff in drift.attributes:
            if not any(_explains(c, ch, drift, diff.attribute) for c, ch in made):
                found.append(_unexplained(drift, diff, plan, candidates, request))
    logger.debug("%s: %d drifted attributes no event explains", plan.source, len(found))
    return found


def _is_managed(candidate: Candidate) -> bool:
    return candidate.target.subject == Subject.MANAGED and bool(candidate.changes)


def _made(candidates: Iterable[Candidate]) -> Iterable[tuple[Candidate, Change]]:
    """Each change that moved a value: a call that rewrote a value explains nothing."""
    for candidate in candidates:
        for change in candidate.changes:
            if not change.detail.get("unchanged"):
                yield candidate, change


# -- labels ------------------------------------------------------------------------


def _label(candidate: Candidate, plan: PlanView) -> None:
    labels = {
        change.attribute: EXPLAINED if _explained(candidate, change, plan) else NET_ZERO
        for change in candidate.changes
    }
    if len(set(labels.values())) == 1:
        candidate.context["plan"] = next(iter(labels.values()))
        return

    candidate.context["plan"] = EXPLAINED
    candidate.context["plan_attributes"] = labels


def _explained(candidate: Candidate, change: Change, plan: PlanView) -> bool:
    if change.detail.get("unchanged"):
        return False
    return any(
        _explains(candidate, change, drift, diff.attribute)
        for drift in plan.drift
        for diff in drift.attributes
    )


def _explains(
    candidate: Candidate, change: Change, drift: ResourceDrift, attribute: str
) -> bool:
    """Whether the change accounts for that drifted attribute of the resource.

    A policy drifts on the key and on its ``aws_kms_key_policy`` at once, so a policy
    change explains the policy drift of every resource of its key. A deleted resource
    is explained by what removes it, or by its key going.
    """
    address = change.address or candidate.target.address
    key = _drift_key(drift)
    same_key = key is not None and key == _key_of(candidate)
    if drift.deleted:
        removes = change.attribute in _GONE_BY.get(drift.type, frozenset())
        key_gone = change.attribute == "key_state" and change.after in _GONE_STATES
        return (address == drift.address and removes) or (same_key and key_gone)

    if change.attribute != attribute:
        return False
    return address == drift.address or (attribute == POLICY and same_key)


def _key_of(candidate: Candidate) -> _KeyIdentity | None:
    identity = candidate.target.identity
    if identity is None or identity[0] != "key":
        return None
    return identity[1], identity[2]


def _drift_key(drift: ResourceDrift) -> _KeyIdentity | None:
    if drift.key_id is None or drift.type == "aws_kms_alias":
        return None
    return drift.region or "", drift.key_id


def _note_undone(candidate: Candidate, plan: PlanView) -> None:
    for change in candidate.changes:
        undone = _undone(candidate, change, plan)
        if undone is not None:
            candidate.context["undone_by_plan"] = undone
            return


def _undone(
    candidate: Candidate, change: Change, plan: PlanView
) -> dict[str, Any] | None:
    """The planned update that sets the attribute back to its value before."""
    address = change.address or candidate.target.address
    planned = plan.change_of(address) if address else None
    if planned is None or "update" not in planned.actions:
        return None

    diff = planned.attribute(change.attribute)
    if diff is None or diff.after is None or not _explained(candidate, change, plan):
        return None
    if not same_value(change.attribute, diff.after, change.before):
        return None
    return {
        "address": address,
        "attribute": change.attribute,
        "actions": list(planned.actions),
    }


# -- unexplained drift -------------------------------------------------------------


def _unexplained(
    drift: ResourceDrift,
    diff: AttributeDiff,
    plan: PlanView,
    candidates: list[Candidate],
    request: CheckRequest,
) -> Candidate:
    target = _target(drift, request)
    account = target.resource.account if target.resource else None
    details = _details(drift, diff.attribute, candidates, request)
    details["made"] = plan.made
    event = _drift_event(drift, diff.attribute, account, plan, details, request)
    change = Change(diff.attribute, diff.before, diff.after, event, drift.address)
    if diff.after is not None:
        describe(change, account)
    candidate = Candidate(Status.UNEXPLAINED_DRIFT, event, target, [change])
    candidate.context["plan"] = UNEXPLAINED
    return candidate


def _details(
    drift: ResourceDrift,
    attribute: str,
    candidates: list[Candidate],
    request: CheckRequest,
) -> dict[str, Any]:
    what = (
        f"{drift.address} is gone"
        if drift.deleted
        else f"{attribute} of {drift.address} changed outside Terraform"
    )
    reason, why = _reason(drift.region, candidates, request)
    explanation = f"{what}, and no event of the window says who did it: {why}"
    return {"reason": reason, "attribute": attribute, "explanation": explanation}


def plan_time(made: datetime | None, request: CheckRequest) -> datetime:
    """When the plan saw what no event explains: its timestamp, else the check's."""
    return made or request.window.until or utc_now()


def _reason(
    region: str | None, candidates: list[Candidate], request: CheckRequest
) -> tuple[str, str]:
    """The likeliest reason no event was found, and the sentence that says it."""
    gap = _gap_for(region, candidates)
    if gap is not None:
        return TRAIL_GAP, (
            f"the trail may not record KMS calls in {gap.region} ({_gap_text(gap)})"
        )

    since = request.window.since
    if since is None:
        return OUTSIDE_WINDOW, (
            "no record read made this change; if the records do not reach back to "
            "the last apply, it may predate them (record receipts after each apply)"
        )

    if not request.window_from_last_apply and _starts_after_last_apply(since, request):
        return OUTSIDE_WINDOW, (
            f"the window starts at {_stamp(since)}, after the last apply, so the "
            "change may predate it; search from the last apply"
        )

    return AWS_INTERNAL, (
        "the window covers the time since the last apply, so AWS made the "
        "change itself (automatic key rotation, or a deletion at the end of its "
        "waiting period, for example)"
    )


def _gap_for(region: str | None, candidates: list[Candidate]) -> KmsEvent | None:
    gaps = [c.event for c in candidates if c.status == COVERAGE_GAP]
    return next((event for event in gaps if region in (None, event.region)), None)


def _gap_text(gap: KmsEvent) -> str:
    return str(gap.details.get("reason") or "no trail covers it")


def _starts_after_last_apply(since: datetime, request: CheckRequest) -> bool:
    """A drift happened after the last apply; a later window start can miss it."""
    applied = [window.end for window in request.trust.apply_windows]
    return not applied or since > max(applied)


def _drift_event(
    drift: ResourceDrift,
    attribute: str,
    account: str | None,
    plan: PlanView,
    details: dict[str, Any],
    request: CheckRequest,
) -> KmsEvent:
    """A stand-in event, so that the drift is judged and reported like any change."""
    actor = NO_EVENT_ACTOR
    key = parse_key_ref(drift.arn) if drift.arn and drift.type in KEY_TYPES else None
    return KmsEvent(
        event_id=f"plan:{drift.address}:{attribute}",
        name="PlanDrift",
        time=plan_time(plan.made, request),
        region=drift.region or "",
        account=account,
        actor=actor,
        where=plan.source,
        key=key,
        details=details,
    )


def _target(drift: ResourceDrift, request: CheckRequest) -> Target:
    """The managed resource that drifted, from the inventory when it holds it."""
    inventory = request.inventory
    resource = next(
        (item for item in inventory.resources if item.address == drift.address), None
    )
    if resource is None:
        resource = _resource_of(drift, next(iter(sorted(inventory.accounts)), None))

    region = drift.region or resource.region or ""
    if drift.type == "aws_kms_alias":
        identity = (
            ("alias", region, resource.alias_name) if resource.alias_name else None
        )
    else:
        identity = ("key", region, drift.key_id) if drift.key_id else None
    arn = drift.arn or _key_arn(region, resource.account, drift.key_id)
    return Target(Subject.MANAGED, identity, resource, drift.type, arn)


def _resource_of(drift: ResourceDrift, account: str | None) -> ManagedResource:
    ref = parse_key_ref(drift.arn) if drift.arn else None
    return ManagedResource(
        address=drift.address,
        type=drift.type,
        region=drift.region,
        account=ref.account if ref and ref.account else account,
        key_id=drift.key_id,
        arn=drift.arn,
        alias_name=ref.alias if ref else None,
    )


def _key_arn(region: str, account: str | None, key_id: str | None) -> str | None:
    if not region or account is None or key_id is None:
        return None
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
