"""Changes: each attribute of each resource, from its value in state through the events.

Events are applied in event order. The first change of an attribute starts from the
value Terraform has in state; each later one starts where the previous one ended. When
an attribute ends the window where it started, its changes are *reverted*: kept and
reported, never dropped.

The attribute vocabulary and the provider attributes it reads:

=========================  ===========================================================
attribute                  from state
=========================  ===========================================================
description                ``description``
key_usage                  ``key_usage``
customer_master_key_spec   ``customer_master_key_spec``
key_state                  ``is_enabled`` (``enabled`` on replica and external keys)
deletion_date              none: only events set it
enable_key_rotation        ``enable_key_rotation``
rotation_period_in_days    ``rotation_period_in_days``
policy                     ``policy`` (of ``aws_kms_key_policy`` when one owns it)
multi_region               ``multi_region``
primary_region             the Region of ``primary_key_arn`` on a replica
tags                       ``tags_all``, else ``tags`` (``null`` reads as ``{}``)
alias_name                 ``aws_kms_alias.name``
target_key_id              ``aws_kms_alias.target_key_id``
grant                      an ``aws_kms_grant``'s grantee, operations and constraints
key_material               none: ImportKeyMaterial and DeleteImportedKeyMaterial set it
last_rotation              none: rotations set it
=========================  ===========================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tfdrift_hook.arns import parse_key_ref
from tfdrift_hook.events import KmsEvent
from tfdrift_hook.inventory import ManagedResource
from tfdrift_hook.policy_diff import (
    PolicyError,
    diff_policies,
    normalize_policy,
    policies_equal,
)

#: Attributes whose change is a change of the key policy.
POLICY = "policy"


@dataclass
class Change:
    """One attribute of one resource moving from a value to another."""

    attribute: str
    before: Any
    after: Any
    event: KmsEvent
    address: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    reverted: bool = False

    def to_json(self) -> dict[str, Any]:
        before, after = self.before, self.after
        if self.attribute == POLICY:
            before, after = _parsed(before), _parsed(after)
        body: dict[str, Any] = {"before": before, "after": after}
        body.update(self.detail)
        if self.reverted:
            body["reverted"] = True
        return body


def state_value(resource: ManagedResource | None, attribute: str) -> Any:
    """The value Terraform last saw, in the attribute vocabulary; None when unknown."""
    if resource is None:
        return None

    attributes = resource.attributes
    reader = _STATE_READERS.get(attribute)
    if reader is not None:
        return reader(resource, attributes)

    return attributes.get(attribute)


def _key_state(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    if isinstance(attributes.get("key_state"), str):
        return attributes["key_state"]

    enabled = attributes.get("is_enabled", attributes.get("enabled"))
    if enabled is None:
        return None
    return "Enabled" if enabled else "Disabled"


def _tags(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    """``tags_all`` (with the provider's default tags) is what the key really has."""
    tags = attributes.get("tags_all")
    if not isinstance(tags, Mapping):
        tags = attributes.get("tags")
    return dict(tags) if isinstance(tags, Mapping) else {}


def _alias_name(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    return attributes.get("name", resource.alias_name)


def _target_key_id(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    target = attributes.get("target_key_id")
    ref = parse_key_ref(target) if isinstance(target, str) else None
    return ref.key_id if ref is not None and ref.key_id else target


def _primary_region(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    primary = attributes.get("primary_key_arn")
    ref = parse_key_ref(primary) if isinstance(primary, str) else None
    if ref is not None:
        return ref.region
    return resource.region if attributes.get("multi_region") else None


def _grant(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    if resource.type != "aws_kms_grant":
        return None
    grant = {
        "grant_id": attributes.get("grant_id", resource.grant_id),
        "grantee_principal": attributes.get("grantee_principal"),
        "operations": sorted(attributes.get("operations") or []),
    }
    return {key: value for key, value in grant.items() if value}


def _nothing(resource: ManagedResource, attributes: Mapping[str, Any]) -> Any:
    return None


_STATE_READERS = {
    "key_state": _key_state,
    "tags": _tags,
    "alias_name": _alias_name,
    "target_key_id": _target_key_id,
    "primary_region": _primary_region,
    "grant": _grant,
    "deletion_date": _nothing,
    "key_material": _nothing,
    "last_rotation": _nothing,
}


def next_value(attribute: str, before: Any, update: Any) -> Any:
    """The value after an event: tags merge or remove keys, everything else replaces."""
    if attribute != "tags" or not isinstance(update, Mapping):
        return update

    tags = dict(before) if isinstance(before, Mapping) else {}
    tags.update(update.get("set") or {})
    for key in update.get("remove") or ():
        tags.pop(key, None)
    return tags


def same_value(attribute: str, left: Any, right: Any) -> bool:
    """Equal in meaning: policies compare by statement, tags ``null`` equals ``{}``."""
    if attribute == POLICY:
        return _same_policy(left, right)

    if attribute == "tags":
        return dict(left or {}) == dict(right or {})

    return bool(left == right)


def _same_policy(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    try:
        return policies_equal(left, right)
    except PolicyError:
        return bool(left == right)


def describe(change: Change, key_account: str | None) -> None:
    """Add the details a person needs to read a change: principals, tag keys."""
    if change.attribute == POLICY:
        bypass = bool(change.event.details.get("bypass_lockout_check"))
        change.detail.update(_policy_detail(change, key_account, bypass))
        change.detail["policy_name"] = change.event.details.get(
            "policy_name", "default"
        )
        return

    if change.attribute == "tags":
        change.detail.update(_tag_detail(change.before, change.after))
        return

    if change.attribute == "key_material":
        for name in ("expiration_model", "valid_to"):
            if change.event.details.get(name):
                change.detail[name] = change.event.details[name]


def _policy_detail(
    change: Change, key_account: str | None, bypass: bool
) -> dict[str, Any]:
    """The statement diff; an unreadable old policy still lets the new one be judged."""
    try:
        return diff_policies(change.before, change.after, key_account, bypass).to_json()
    except PolicyError as exc:
        after_error = f"the new policy cannot be read: {exc}"
        if not _readable(change.after):
            return {"policy_error": after_error}

    detail = diff_policies(None, change.after, key_account, bypass).to_json()
    detail["policy_error"] = (
        "the previous policy cannot be read; the new one is judged alone"
    )
    return detail


def _readable(policy: Any) -> bool:
    try:
        normalize_policy(policy)
    except PolicyError:
        return False
    return policy is not None


def _tag_detail(before: Any, after: Any) -> dict[str, Any]:
    old = dict(before or {})
    new = dict(after or {})
    return {
        "added": {key: new[key] for key in sorted(new) if key not in old},
        "removed": sorted(key for key in old if key not in new),
        "modified": {
            key: {"before": old[key], "after": new[key]}
            for key in sorted(new)
            if key in old and old[key] != new[key]
        },
    }


def mark_reverted(history: Iterable[Change], initial: Any) -> None:
    """Mark an attribute's changes reverted when it ended where it started."""
    changes = list(history)
    if not changes:
        return

    final = changes[-1].after
    if same_value(changes[0].attribute, initial, final):
        for change in changes:
            change.reverted = True


def _parsed(policy: Any) -> Any:
    """Policies are JSON text in state and events; reports show them parsed."""
    if not isinstance(policy, str):
        return policy
    try:
        return json.loads(policy)
    except ValueError:
        return policy
