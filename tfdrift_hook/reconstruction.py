"""Reconstruction: write events, in order, into changes and the candidates rules judge.

Each write event is placed (managed resource, unmanaged resource, AWS-managed key, or
unattributable), labelled (in band, out of band, Terraform outside the pipeline, AWS
service, failed attempt) and turned into changes of the attributes it set. Changes of
one attribute chain from the value in state; an attribute that ends where it started
marks its changes reverted. Unmanaged resources make one candidate each, with every
event done to them in the window.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfdrift_hook.changes import (
    Change,
    describe,
    mark_reverted,
    next_value,
    same_value,
    state_value,
)
from tfdrift_hook.events import KmsEvent, Status
from tfdrift_hook.findings import Candidate
from tfdrift_hook.inventory import Inventory, ManagedResource
from tfdrift_hook.resolution import Resolver, Subject, Target
from tfdrift_hook.trust import Trust

if TYPE_CHECKING:
    from tfdrift_hook.usage import KeyUsage

logger = logging.getLogger(__name__)

#: Attributes that belong to the alias, not to the key it targets.
ALIAS_ATTRIBUTES = frozenset({"alias_name", "target_key_id"})

HistoryKey = tuple[str, str, str]


@dataclass
class _Unmanaged:
    target: Target
    events: list[KmsEvent] = field(default_factory=list)


@dataclass
class Reconstruction:
    """Applies write events in order; collects candidates, notes and in-band calls."""

    inventory: Inventory
    resolver: Resolver
    trust: Trust
    usage: Mapping[tuple[str, str], KeyUsage]
    notes: list[str] = field(default_factory=list)
    failed: list[KmsEvent] = field(default_factory=list)
    in_band: list[KmsEvent] = field(default_factory=list)
    current: dict[HistoryKey, Any] = field(default_factory=dict)
    initial: dict[HistoryKey, Any] = field(default_factory=dict)
    history: dict[HistoryKey, list[Change]] = field(default_factory=dict)
    unmanaged: dict[tuple[str, str, str], _Unmanaged] = field(default_factory=dict)
    schedules: dict[tuple[str, str, str], KmsEvent] = field(default_factory=dict)

    def apply(self, events: Iterable[KmsEvent]) -> list[Candidate]:
        candidates: list[Candidate] = []
        for event in events:
            candidate = self._place(event)
            if candidate is not None:
                candidates.append(candidate)

        self._mark_reverted(candidates)
        candidates.extend(self._unmanaged_candidates())
        return candidates

    def _place(self, event: KmsEvent) -> Candidate | None:
        if event.failed:
            self._note_failure(event)
            return None

        if event.details.get("key_store"):
            logger.debug(
                "%s at %s concerns a key store, no key", event.name, event.where
            )
            return None

        self.resolver.remember(event)
        target = self.resolver.target(event)
        if event.details.get("unmodelled"):
            # A write this version does not know; it may still change a managed key.
            return Candidate(Status.UNMODELLED, event, target)
        if target.subject == Subject.AWS_MANAGED:
            return None

        if target.subject == Subject.UNATTRIBUTABLE:
            return Candidate(Status.UNATTRIBUTABLE, event, target)

        if target.subject == Subject.UNMANAGED:
            self._group_unmanaged(event, target)
            return None

        return self._managed(event, target)

    def _note_failure(self, event: KmsEvent) -> None:
        self.failed.append(event)
        key = event.alias or (event.key.raw if event.key else "no key named")
        self.notes.append(
            f"failed attempt: {event.name} on {key} by {event.actor.name} at "
            f"{event.timestamp} ({event.error_code}); nothing changed"
        )

    def _group_unmanaged(self, event: KmsEvent, target: Target) -> None:
        identity = target.identity or ("key", event.region, event.event_id)
        group = self.unmanaged.setdefault(identity, _Unmanaged(target))
        group.events.append(event)

    def _managed(self, event: KmsEvent, target: Target) -> Candidate | None:
        changes = self._changes(event, target)
        status = self._status(event, target, changes)
        if status == Status.IN_BAND:
            self.in_band.append(event)
            return None

        if not changes and not event.service_event:
            logger.debug("%s at %s changed nothing", event.name, event.where)
            return None

        candidate = Candidate(status, event, target, changes)
        self._add_context(candidate)
        return candidate

    def _status(self, event: KmsEvent, target: Target, changes: list[Change]) -> str:
        if event.service_event:
            return Status.AWS_SERVICE
        addresses = {change.address for change in changes if change.address}
        if target.address:
            addresses.add(target.address)
        return self.trust.status_of(event, addresses)

    def _changes(self, event: KmsEvent, target: Target) -> list[Change]:
        changes: list[Change] = []
        for attribute, update in event.values.items():
            owner = self._owner(event, target, attribute)
            change = self._change(event, owner, attribute, update)
            if change is not None:
                changes.append(change)
        return changes

    def _owner(
        self, event: KmsEvent, target: Target, attribute: str
    ) -> ManagedResource:
        resource = target.resource
        assert resource is not None
        if attribute in ALIAS_ATTRIBUTES or target.identity is None:
            return resource

        _, region, key_id = target.identity
        if attribute == "policy":
            return self.inventory.policy_owner(region, key_id) or resource

        grant_id = event.details.get("grant_id")
        if attribute == "grant" and isinstance(grant_id, str):
            return self.inventory.grant(region, grant_id) or resource

        return resource

    def _change(
        self, event: KmsEvent, owner: ManagedResource, attribute: str, update: Any
    ) -> Change | None:
        key = self._history_key(event, owner, attribute)
        if key not in self.current:
            self.initial[key] = self._start_value(event, owner, attribute)
            self.current[key] = self.initial[key]

        before = self.current[key]
        after = next_value(attribute, before, update)
        unchanged = same_value(attribute, before, after)
        if unchanged and attribute == "grant":
            self._note_grant_gone(event, owner)
            return None

        change = Change(attribute, before, after, event, owner.address)
        if attribute == "grant":
            change.detail["grant_id"] = event.details.get("grant_id")
        describe(change, owner.account or event.account)
        if unchanged:
            # The call was made, but wrote what was already there.
            change.detail["unchanged"] = True
            return change

        self.current[key] = after
        self.history.setdefault(key, []).append(change)
        return change

    def _history_key(
        self, event: KmsEvent, owner: ManagedResource, attribute: str
    ) -> HistoryKey:
        if attribute == "grant":
            return (owner.address, attribute, str(event.details.get("grant_id")))
        return (owner.address, attribute, "")

    def _start_value(
        self, event: KmsEvent, owner: ManagedResource, attribute: str
    ) -> Any:
        value = state_value(owner, attribute)
        if attribute != "grant" or value is not None:
            return value

        # A grant the state does not hold: one being removed existed before the window.
        if event.values.get("grant") is None:
            return {"grant_id": event.details.get("grant_id")}
        return None

    def _note_grant_gone(self, event: KmsEvent, owner: ManagedResource) -> None:
        self.notes.append(
            f"{event.name} of grant {event.details.get('grant_id')} on "
            f"{owner.address} at {event.timestamp}: the grant was already gone"
        )

    def _add_context(self, candidate: Candidate) -> None:
        event = candidate.event
        identity = candidate.target.identity
        if identity is None:
            return

        usage = self.usage.get((identity[1], identity[2]))
        if usage is not None:
            candidate.context["key_usage"] = usage.to_json()

        if event.name == "ScheduleKeyDeletion":
            self.schedules[identity] = event
        if event.name == "CancelKeyDeletion":
            self.schedules.pop(identity, None)
        if event.name == "DeleteKey":
            scheduled = self.schedules.get(identity)
            who = scheduled.actor.name if scheduled else "before the window"
            candidate.context["scheduled_by"] = who
            if scheduled is not None:
                candidate.related.append(scheduled)

    def _mark_reverted(self, candidates: list[Candidate]) -> None:
        for key, changes in self.history.items():
            mark_reverted(changes, self.initial.get(key))

        for candidate in candidates:
            changed = [c for c in candidate.changes if not c.detail.get("unchanged")]
            reverted = changed and all(change.reverted for change in changed)
            if reverted and candidate.status == Status.OUT_OF_BAND:
                candidate.status = Status.REVERTED

    def _unmanaged_candidates(self) -> Iterable[Candidate]:
        for group in self.unmanaged.values():
            yield _unmanaged_candidate(group)


def _unmanaged_candidate(group: _Unmanaged) -> Candidate:
    created = [event for event in group.events if event.details.get("created")]
    first = created[0] if created else group.events[0]
    rest = [event for event in group.events if event is not first]
    target = group.target
    if any(_is_external(event) for event in group.events):
        target = Target(
            target.subject, target.identity, None, "aws_kms_external_key", target.arn
        )

    changes: dict[str, Change] = {}
    for event in group.events:
        for attribute, update in event.values.items():
            before = changes[attribute].after if attribute in changes else None
            after = next_value(attribute, before, update)
            if attribute in changes:
                changes[attribute].after = after
            else:
                changes[attribute] = Change(attribute, None, after, event)

    kept = [change for change in changes.values() if change.after not in (None, {})]
    candidate = Candidate(Status.UNMANAGED, first, target, kept)
    candidate.related = rest
    for change in candidate.changes:
        describe(change, first.account)
    return candidate


def _is_external(event: KmsEvent) -> bool:
    return (
        event.details.get("origin") == "EXTERNAL" or event.name == "ImportKeyMaterial"
    )
