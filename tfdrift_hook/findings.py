"""Findings: candidate changes judged by rules, and the fields rules see.

A *candidate* is what the rules judge: one event on a managed resource with the changes
it made, one unmanaged resource with everything done to it in the window, or one event
whose key cannot be found. Each rule whose condition holds for a candidate makes one
finding with the rule's priority and its rendered output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfdrift_hook.changes import Change
from tfdrift_hook.events import KmsEvent, Status
from tfdrift_hook.priorities import severity
from tfdrift_hook.resolution import Subject, Target
from tfdrift_hook.rules import Rule, RuleSet
from tfdrift_hook.waivers import Waiver, waiver_fields

if TYPE_CHECKING:
    from tfdrift_hook.hcl_source import SourceLocation

_ACCOUNT_IN_PRINCIPAL = re.compile(r"^(?:arn:aws[\w-]*:(?:iam|sts)::)?(\d{12})(?::|$)")


@dataclass
class Candidate:
    """What the rules judge: an event (or a group of them) and the changes made."""

    status: str
    event: KmsEvent
    target: Target
    changes: list[Change] = field(default_factory=list)
    related: list[KmsEvent] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    #: The waiver a stand-in candidate reports (expired, or matching nothing).
    stale_waiver: Waiver | None = None

    @property
    def resource(self) -> str | None:
        if self.stale_waiver is not None:
            return self.stale_waiver.source
        return self.target.arn or self.event.key_arn() or self.event.alias_arn()

    @property
    def address(self) -> str | None:
        """The address that changed: a key's ``aws_kms_key_policy`` for its policy."""
        owners = {change.address for change in self.changes if change.address}
        if len(owners) == 1:
            return owners.pop()
        return self.target.address


@dataclass
class Finding:
    """A candidate judged by one rule."""

    rule: Rule
    candidate: Candidate
    output: str
    #: Where the address is written in the configuration, when that is known.
    location: SourceLocation | None = None
    #: The waiver that accepts this finding: still reported, but it does not gate.
    waiver: Waiver | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    @property
    def priority(self) -> str:
        return self.rule.priority

    @property
    def severity(self) -> int:
        return severity(self.rule.priority)

    @property
    def event(self) -> KmsEvent:
        return self.candidate.event

    @property
    def address(self) -> str | None:
        return self.candidate.address

    @property
    def id(self) -> str:
        """A short id that stays the same for the same rule, event and resource."""
        parts = (self.rule.name, self.event.event_id, self.address or "", self.resource)
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        return f"TFD-{digest[:10]}"

    @property
    def resource(self) -> str:
        return self.candidate.resource or ""

    @property
    def region(self) -> str:
        """The Region of the resource; a replica's, not the primary's it came from."""
        identity = self.candidate.target.identity
        return identity[1] if identity is not None else self.event.region

    def to_json(self) -> dict[str, Any]:
        """The JSON log line: the keys drift tools share first, then ours."""
        candidate = self.candidate
        event = candidate.event
        line: dict[str, Any] = {
            "service": "kms",
            "event": event.name,
            "resource": self.resource,
            "changes": changes_json(candidate.changes),
            "user": event.actor.name,
            "timestamp": event.timestamp,
            "address": self.address,
            "key_address": self.candidate.target.address,
            "rule": self.rule.name,
            "priority": self.priority,
            "status": candidate.status,
            "actor": event.actor.to_json(),
            "event_id": event.event_id,
            "region": self.region,
            "account": event.account,
            "output": self.output,
            "id": self.id,
            "terraform_type": candidate.target.terraform_type,
            "source": event.where,
        }
        if candidate.related:
            line["related_events"] = [
                _event_summary(item) for item in candidate.related
            ]
        if candidate.context:
            line["context"] = candidate.context
        if self.waiver is not None:
            line["waiver"] = self.waiver.to_json()
        if candidate.stale_waiver is not None:
            line["stale_waiver"] = candidate.stale_waiver.to_json()
        if self.location is not None:
            line["location"] = {
                "file": self.location.file.as_posix(),
                "line": self.location.line,
                "end_line": self.location.end_line,
            }
        return line


def changes_json(changes: Iterable[Change]) -> dict[str, Any]:
    """One entry per attribute; a later change of the same attribute wins."""
    body: dict[str, Any] = {}
    for change in changes:
        body[change.attribute] = change.to_json()
        if change.attribute == "policy":
            body["policy_name"] = change.detail.get("policy_name", "default")
    if "policy_name" in body:
        body["policy_name"] = body.pop("policy_name")
    return body


def _event_summary(event: KmsEvent) -> dict[str, Any]:
    return {
        "event": event.name,
        "event_id": event.event_id,
        "timestamp": event.timestamp,
        "user": event.actor.name,
    }


def judge(candidates: Iterable[Candidate], rules: RuleSet) -> list[Finding]:
    """Every (candidate, rule) pair whose condition holds, most severe first."""
    findings: list[Finding] = []
    for candidate in candidates:
        fields = candidate_fields(candidate)
        for rule in rules.matching(fields):
            findings.append(Finding(rule, candidate, rule.render(fields)))
    return sorted(findings, key=_order)


def _order(finding: Finding) -> tuple[Any, ...]:
    return (finding.address or finding.resource, finding.event.time, -finding.severity)


def candidate_fields(candidate: Candidate) -> dict[str, Any]:
    """The fields a rule condition or output template can name."""
    event = candidate.event
    actor = event.actor
    fields: dict[str, Any] = {
        "cloud.service": "kms",
        "evt.name": event.name,
        "evt.id": event.event_id,
        "evt.time": event.timestamp,
        "evt.type": "AwsServiceEvent" if event.service_event else "AwsApiCall",
        "status": candidate.status,
        "resource": candidate.resource,
        "address": candidate.address,
        "key.address": candidate.target.address,
        "terraform.type": candidate.target.terraform_type,
        "region": candidate.target.identity[1]
        if candidate.target.identity
        else event.region,
        "account": event.account,
        "user": actor.name,
        "key.managed": candidate.target.subject == Subject.MANAGED,
        "key.id": candidate.target.identity[2] if candidate.target.identity else None,
    }
    fields.update({f"actor.{name}": value for name, value in actor.to_json().items()})
    fields.update(_drift_fields(candidate))
    fields.update({f"key.{name}": value for name, value in _key_context(candidate)})
    if candidate.stale_waiver is not None:
        fields.update(waiver_fields(candidate.stale_waiver))
    return fields


def _key_context(candidate: Candidate) -> Iterable[tuple[str, Any]]:
    usage = candidate.context.get("key_usage")
    usage = usage if isinstance(usage, Mapping) else {}
    yield "reads", usage.get("reads", 0)
    yield "uses", usage.get("uses", 0)


def _drift_fields(candidate: Candidate) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "drift.created": bool(candidate.event.details.get("created"))
        or any(bool(item.details.get("created")) for item in candidate.related),
        "drift.reverted": candidate.status == Status.REVERTED,
        "drift.attributes": [change.attribute for change in candidate.changes],
        "drift.changed": any(
            not change.detail.get("unchanged") for change in candidate.changes
        ),
    }
    for name, value in candidate.event.details.items():
        if isinstance(value, (str, int, float, bool)):
            fields[f"drift.{name}"] = value

    for change in candidate.changes:
        fields[f"drift.{change.attribute}"] = _field_value(change.after)
        fields[f"drift.{change.attribute}.before"] = _field_value(change.before)
        for name, value in change.detail.items():
            fields[f"drift.{change.attribute}.{name}"] = _detail_value(value)

    fields.update(_grant_fields(candidate))
    fields["drift.plan"] = candidate.context.get("plan")
    fields["drift.undone_by_plan"] = "undone_by_plan" in candidate.context
    if "scheduled_by" in candidate.context:
        fields["drift.scheduled_by"] = candidate.context["scheduled_by"]
    return fields


def _field_value(value: Any) -> Any:
    return value if not isinstance(value, Mapping) else dict(value)


def _detail_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return sorted(value)
    return value


def _grant_fields(candidate: Candidate) -> dict[str, Any]:
    grants = [change for change in candidate.changes if change.attribute == "grant"]
    if not grants:
        return {}

    grant = grants[-1].after if isinstance(grants[-1].after, Mapping) else {}
    grantee = grant.get("grantee_principal")
    key_account = candidate.event.account
    return {
        "drift.grant_id": grants[-1].detail.get("grant_id"),
        "drift.grant.grantee_principal": grantee,
        "drift.grant.operations": grant.get("operations"),
        "drift.grant.external": _is_external(grantee, key_account),
    }


def _is_external(principal: Any, key_account: str | None) -> bool:
    if not isinstance(principal, str) or key_account is None:
        return False
    match = _ACCOUNT_IN_PRINCIPAL.match(principal)
    return match is not None and match.group(1) != key_account
