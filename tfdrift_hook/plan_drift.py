"""A plan JSON read for what drifted outside Terraform and what the apply will do.

``resource_drift`` holds each resource whose real object no longer matches the state
of the last apply: ``before`` is the state, ``after`` the object as refreshed. The
``resource_changes`` hold what the apply will do: ``before`` is the refreshed object,
``after`` what the configuration asks for. Both are read into attribute differences in
the vocabulary of :mod:`tfdrift_hook.changes`, so that they compare with the changes
events made. Differences that mean nothing (statement order in a policy, ``tags: null``
against ``{}``) are set aside as cosmetic; provider attributes outside the vocabulary
keep their provider names, so no difference is lost.

Terraform 1.0 wrote drift entries without ``address``, ``module_address`` or
``index``. Their address is rebuilt from the plan's other mentions of the resource;
where several instances fit, the likeliest is taken and a note says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff

from tfdrift_hook.arns import KeyRef, parse_key_ref
from tfdrift_hook.changes import same_value, state_value
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.events import parse_event_time
from tfdrift_hook.inventory import (
    KEY_TYPES,
    KMS_RESOURCE_TYPES,
    ManagedResource,
    resource_address,
)
from tfdrift_hook.problems import Problems

logger = logging.getLogger(__name__)

_PLAN_KEYS = ("resource_drift", "resource_changes", "planned_values", "prior_state")
_ENTRY_FIX = "check that the plan JSON is complete (`terraform show -json PLANFILE`)"

#: Provider attributes read under another name of the vocabulary, by resource type.
_KEY_VOCABULARY = {
    "is_enabled": "key_state",
    "enabled": "key_state",
    "tags_all": "tags",
    "primary_key_arn": "primary_region",
}
_VOCABULARY: dict[str, dict[str, str]] = {
    "aws_kms_alias": {
        "name": "alias_name",
        "target_key_id": "target_key_id",
        "target_key_arn": "target_key_id",
    },
    "aws_kms_grant": {
        "grant_id": "grant",
        "grantee_principal": "grant",
        "operations": "grant",
    },
}
#: The attribute whose loss makes a resource gone; a key's is ``key_state``.
_GONE_ATTRIBUTE = {
    "aws_kms_alias": "alias_name",
    "aws_kms_grant": "grant",
    "aws_kms_key_policy": "policy",
}
#: Where the key of a resource that is not a key is named.
_KEY_ID_FROM: dict[str, tuple[str, ...]] = {
    "aws_kms_alias": ("target_key_arn", "target_key_id"),
    **{type_: ("arn", "key_id", "id") for type_ in KEY_TYPES},
}
#: Vocabulary attributes whose values ``changes.state_value`` reads from state.
_READ_AS_STATE = frozenset(
    {"key_state", "tags", "primary_region", "alias_name", "target_key_id", "grant"}
)


class PlanError(TfdriftError):
    """A plan JSON that cannot be read at all."""


@dataclass(frozen=True)
class AttributeDiff:
    """One attribute with two values: in the vocabulary, or under its provider name."""

    attribute: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ResourceDrift:
    """A managed KMS resource that changed outside Terraform since the last apply.

    ``deleted`` is set when the refreshed object is gone: deleted, or for a key,
    scheduled for deletion, which the provider reads as gone. Its one attribute is
    then the one whose loss makes it gone (``key_state`` of a key, ``alias_name``,
    ``grant``, ``policy``), with ``after`` None. ``cosmetic`` names the provider
    attributes that differ in form only.
    """

    address: str
    type: str
    region: str | None
    key_id: str | None
    arn: str | None
    deleted: bool
    attributes: tuple[AttributeDiff, ...]
    cosmetic: tuple[str, ...]

    def attribute(self, name: str) -> AttributeDiff | None:
        return next((item for item in self.attributes if item.attribute == name), None)


@dataclass(frozen=True)
class PlannedChange:
    """What the apply will do to one managed KMS resource.

    An attribute the plan cannot know yet (``after_unknown``) is listed with ``after``
    None.
    """

    address: str
    type: str
    actions: tuple[str, ...]
    region: str | None
    key_id: str | None
    arn: str | None
    attributes: tuple[AttributeDiff, ...]
    action_reason: str | None

    def attribute(self, name: str) -> AttributeDiff | None:
        return next((item for item in self.attributes if item.attribute == name), None)


@dataclass
class PlanView:
    """The drift and the planned changes of the KMS resources of one plan."""

    source: str
    drift: list[ResourceDrift] = field(default_factory=list)
    changes: list[PlannedChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    #: When Terraform made the plan (its ``timestamp``, Terraform 1.5 and later).
    made: datetime | None = None

    def drift_of(self, address: str) -> ResourceDrift | None:
        return next((item for item in self.drift if item.address == address), None)

    def change_of(self, address: str) -> PlannedChange | None:
        return next((item for item in self.changes if item.address == address), None)


def load_plan(path: Path) -> PlanView:
    """The plan JSON in a file, as ``terraform show -json PLANFILE`` writes it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        msg = (
            f"{path}: cannot read it ({exc}); give the output of `terraform show -json`"
        )
        raise PlanError(msg) from exc
    except json.JSONDecodeError as exc:
        msg = (
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); give the "
            "output of `terraform show -json PLANFILE`"
        )
        raise PlanError(msg) from exc

    return read_plan(document, str(path))


def _made(doc: Mapping[str, Any]) -> datetime | None:
    stamp = doc.get("timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return parse_event_time(stamp)
    except ValueError:
        return None


def read_plan(doc: Mapping[str, Any], where: str) -> PlanView:
    """The plan's drift and changes; entries that cannot be read go to ``problems``."""
    if not isinstance(doc, Mapping) or not any(key in doc for key in _PLAN_KEYS):
        msg = (
            f"{where}: not a plan JSON (no resource_drift, resource_changes or "
            "planned_values); give the output of `terraform show -json PLANFILE`"
        )
        raise PlanError(msg)

    plan = PlanView(where, made=_made(doc))
    instances = _instances(doc)
    for entry, entry_where in _entries(doc, "resource_drift", where, plan):
        address = _entry_address(entry, entry_where, instances, plan)
        drift = _drift(entry, address, entry_where, plan) if address else None
        if drift is not None:
            plan.drift.append(drift)

    for entry, entry_where in _entries(doc, "resource_changes", where, plan):
        address = _entry_address(entry, entry_where, instances, plan)
        change = _planned(entry, address, entry_where, plan) if address else None
        if change is not None:
            plan.changes.append(change)

    logger.debug(
        "%s: %d drifted, %d to change", where, len(plan.drift), len(plan.changes)
    )
    return plan


# -- entries -----------------------------------------------------------------------


def _entries(
    doc: Mapping[str, Any], section: str, where: str, plan: PlanView
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The entries of managed KMS resources in a section, with where each one is."""
    entries = doc.get(section)
    if entries is None:
        return
    if not isinstance(entries, list):
        plan.problems.add(f"{where}: {section}", "is not a list", _ENTRY_FIX)
        return

    for number, entry in enumerate(entries):
        entry_where = f"{where}: {section}[{number}]"
        if not isinstance(entry, Mapping):
            plan.problems.add(entry_where, "is not an object", _ENTRY_FIX)
        elif entry.get("mode", "managed") == "managed" and _is_kms(entry):
            yield entry, entry_where


def _is_kms(entry: Mapping[str, Any]) -> bool:
    return entry.get("type") in KMS_RESOURCE_TYPES


def _change_sides(
    entry: Mapping[str, Any], address: str, where: str, plan: PlanView
) -> tuple[Mapping[str, Any], Any, Any] | None:
    """The change object and its ``before`` and ``after``, or None when unreadable."""
    change = entry.get("change")
    if not isinstance(change, Mapping) or not isinstance(change.get("actions"), list):
        plan.problems.add(where, f"{address} has no change with actions", _ENTRY_FIX)
        return None

    before, after = change.get("before"), change.get("after")
    if not all(side is None or isinstance(side, Mapping) for side in (before, after)):
        plan.problems.add(
            where, f"{address}: before or after is not an object", _ENTRY_FIX
        )
        return None
    return change, before, after


def _drift(
    entry: Mapping[str, Any], address: str, where: str, plan: PlanView
) -> ResourceDrift | None:
    sides = _change_sides(entry, address, where, plan)
    if sides is None:
        return None

    _, before, after = sides
    if before is None:
        # Nothing was in state, so there is nothing to have drifted from.
        return None

    type_ = str(entry["type"])
    region, key_id, arn = _identity(type_, before)
    if after is None:
        gone = _GONE_ATTRIBUTE.get(type_, "key_state")
        lost = (AttributeDiff(gone, _value(type_, before, gone), None),)
        return ResourceDrift(address, type_, region, key_id, arn, True, lost, ())

    attributes, cosmetic = _differences(type_, before, after, frozenset())
    if not attributes and not cosmetic:
        return None
    return ResourceDrift(
        address, type_, region, key_id, arn, False, attributes, cosmetic
    )


def _planned(
    entry: Mapping[str, Any], address: str, where: str, plan: PlanView
) -> PlannedChange | None:
    sides = _change_sides(entry, address, where, plan)
    if sides is None:
        return None

    change, before, after = sides
    actions = tuple(str(action) for action in change["actions"])
    if actions == ("no-op",) or actions == ("read",):
        return None

    type_ = str(entry["type"])
    region, key_id, arn = _identity(type_, after or before or {})
    unknown = _unknown(change.get("after_unknown"))
    attributes, _ = _differences(type_, before, after, unknown)
    reason = entry.get("action_reason")
    return PlannedChange(
        address=address,
        type=type_,
        actions=actions,
        region=region,
        key_id=key_id,
        arn=arn,
        attributes=attributes,
        action_reason=reason if isinstance(reason, str) else None,
    )


def _unknown(after_unknown: Any) -> frozenset[str]:
    """The attributes the plan does not know yet, in whole or in part."""
    if not isinstance(after_unknown, Mapping):
        return frozenset()
    return frozenset(name for name, value in after_unknown.items() if _has_true(value))


def _has_true(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_true(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_true(item) for item in value)
    return value is True


# -- differences -------------------------------------------------------------------


def _differences(
    type_: str, before: Any, after: Any, unknown: frozenset[str]
) -> tuple[tuple[AttributeDiff, ...], tuple[str, ...]]:
    """The differences, and the provider attributes that differ in form only."""
    groups = _changed_groups(type_, before or {}, after or {}, unknown)
    diffs: list[AttributeDiff] = []
    cosmetic: list[str] = []
    for attribute, provider_names in groups.items():
        old = _value(type_, before, attribute)
        new = None if unknown & provider_names else _value(type_, after, attribute)
        if not unknown & provider_names and same_value(attribute, old, new):
            cosmetic.extend(sorted(provider_names))
        else:
            diffs.append(AttributeDiff(attribute, old, new))
    return tuple(diffs), tuple(cosmetic)


def _changed_groups(
    type_: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    unknown: frozenset[str],
) -> dict[str, set[str]]:
    """The provider attributes that differ, grouped by the attribute they are read as.

    Groups come in the order the provider attributes come in the document.
    """
    # Compared key by key however different the objects are: a create or a delete
    # must not be reported as one difference of the whole object.
    diff = DeepDiff(dict(before), dict(after), threshold_to_diff_deeper=0)
    changed = set(diff.affected_root_keys) | unknown
    groups: dict[str, set[str]] = {}
    for name in [*before, *(key for key in after if key not in before), *unknown]:
        if name in changed:
            groups.setdefault(_vocabulary_name(type_, name), set()).add(name)
    return groups


def _vocabulary_name(type_: str, provider_name: str) -> str:
    if type_ in KEY_TYPES or type_ == "aws_kms_key_policy":
        return _KEY_VOCABULARY.get(provider_name, provider_name)
    return _VOCABULARY.get(type_, {}).get(provider_name, provider_name)


def _value(type_: str, values: Mapping[str, Any] | None, attribute: str) -> Any:
    """An attribute's value, read the way the state of the last apply is read."""
    if values is None:
        return None
    if attribute not in _READ_AS_STATE:
        return values.get(attribute)
    resource = ManagedResource("", type_, None, None, None, None, attributes=values)
    return state_value(resource, attribute)


def _identity(
    type_: str, values: Mapping[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """Region, key id and ARN; the key id of an alias is its target's."""
    names = _KEY_ID_FROM.get(type_, ("key_id",))
    refs = [ref for ref in (_ref(values, name) for name in names) if ref]
    key_id = next((ref.key_id for ref in refs if ref.key_id), None)
    own = _ref(values, "arn")
    region = next((ref.region for ref in [own, *refs] if ref and ref.region), None)
    return region or _text(values, "region"), key_id, _text(values, "arn")


def _ref(values: Mapping[str, Any], name: str) -> KeyRef | None:
    text = _text(values, name)
    return parse_key_ref(text) if text else None


def _text(values: Mapping[str, Any], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) and value else None


# -- addresses of Terraform 1.0 entries --------------------------------------------


@dataclass(frozen=True)
class _Instance:
    """A resource instance the plan names with its address, and its refreshed values."""

    address: str
    module: str
    mode: str
    type: str
    name: str
    values: Any


def _instances(doc: Mapping[str, Any]) -> list[_Instance]:
    """Every instance named by address in ``resource_changes`` and ``prior_state``."""
    found: dict[str, _Instance] = {}
    for entry in _list(doc.get("resource_changes")):
        change = entry.get("change") if isinstance(entry, Mapping) else None
        before = change.get("before") if isinstance(change, Mapping) else None
        instance = _instance(entry, entry.get("module_address", ""), before)
        if instance is not None:
            found.setdefault(instance.address, instance)

    prior = doc.get("prior_state")
    values = prior.get("values") if isinstance(prior, Mapping) else None
    root = values.get("root_module") if isinstance(values, Mapping) else None
    if isinstance(root, Mapping):
        for instance in _module_instances(root):
            found.setdefault(instance.address, instance)
    return list(found.values())


def _module_instances(module: Mapping[str, Any]) -> Iterator[_Instance]:
    module_address = module.get("address", "")
    for resource in _list(module.get("resources")):
        values = resource.get("values") if isinstance(resource, Mapping) else None
        instance = _instance(resource, module_address, values)
        if instance is not None:
            yield instance
    for child in _list(module.get("child_modules")):
        if isinstance(child, Mapping):
            yield from _module_instances(child)


def _instance(entry: Any, module: Any, values: Any) -> _Instance | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("address"), str):
        return None
    mode, type_, name = entry.get("mode"), entry.get("type"), entry.get("name")
    parts = (module, mode, type_, name)
    if not all(isinstance(part, str) for part in parts):
        return None
    return _Instance(entry["address"], module, str(mode), str(type_), str(name), values)


def _entry_address(
    entry: Mapping[str, Any], where: str, instances: list[_Instance], plan: PlanView
) -> str | None:
    """The entry's address, rebuilt when Terraform 1.0 left it out."""
    address = entry.get("address")
    if isinstance(address, str) and address:
        return address

    mode, type_, name = entry.get("mode", "managed"), entry["type"], entry.get("name")
    module = entry.get("module_address")
    if not isinstance(name, str) or not isinstance(mode, str):
        plan.problems.add(where, f"{type_} has no address and no name", _ENTRY_FIX)
        return None

    if "index" in entry:
        return resource_address(module or "", mode, type_, name, entry["index"])

    fits = [
        item
        for item in instances
        if (item.mode, item.type, item.name) == (mode, type_, name)
        and (not isinstance(module, str) or item.module == module)
    ]
    if not fits:
        return resource_address(module or "", mode, type_, name)
    if len(fits) == 1:
        return fits[0].address
    return _likeliest(entry, fits, where, plan)


def _likeliest(
    entry: Mapping[str, Any], fits: list[_Instance], where: str, plan: PlanView
) -> str:
    """Of several instances, the one whose refreshed values are ``after``."""
    change = entry.get("change")
    after = change.get("after") if isinstance(change, Mapping) else None
    same = [item for item in fits if item.values == after]
    chosen = same[0] if len(same) == 1 else fits[0]
    why = (
        "its refreshed values are the drift's after"
        if len(same) == 1
        else "it is named first, and no instance's values tell them apart"
    )
    listed = ", ".join(item.address for item in fits)
    plan.notes.append(
        f"{where}: the entry has no address or index and {len(fits)} instances fit "
        f"({listed}); read as {chosen.address}, since {why}"
    )
    return chosen.address


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
