"""Terraform's three documents, read into the KMS resources and keys they hold.

The shape is told apart by the document itself: a v4 state file
(``terraform.tfstate``), the state JSON of ``terraform show -json``, or the plan JSON
of ``terraform show -json PLANFILE``, whose ``prior_state`` is used with the
``before`` values of ``resource_drift`` taking precedence.

Each shape is first read into records, one resource instance as the document gives
it; KMS meaning is then read from the records, keys first, since an alias, key policy
or grant is placed in the region of its key. A record that cannot be read is kept as
a problem and skipped; a document of no known shape raises ``InventoryError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from tfdrift_hook.arns import KeyRef, parse_key_ref
from tfdrift_hook.inventory import (
    DATA_SOURCE_TYPES,
    KEY_TYPES,
    KMS_RESOURCE_TYPES,
    MULTI_REGION_PREFIX,
    InventoryError,
    KnownKey,
    ManagedResource,
    index_suffix,
    resource_address,
)
from tfdrift_hook.problems import Problems

_PLAN_KEYS = ("prior_state", "planned_values", "resource_changes", "resource_drift")

_RECORD_FIX = "repair the record, or read the directory with `terraform show -json`"


def read_resources(
    doc: Mapping[str, Any], where: str, problems: Problems
) -> tuple[list[ManagedResource], list[KnownKey]]:
    """The managed resources and known keys of a document of any of the three shapes.

    Records that cannot be read are added to ``problems``; a document of no known
    shape raises :class:`InventoryError`.
    """
    records = _records(doc, where, problems)
    return _Builder(records, problems).build()


# -- reading the shapes ------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """One resource instance as the document gives it, before KMS meaning is read."""

    where: str
    address: str
    mode: str
    type: str
    provider: str
    attributes: Mapping[str, Any]


def _records(doc: Mapping[str, Any], where: str, problems: Problems) -> list[_Record]:
    if not isinstance(doc, Mapping):
        raise InventoryError(f"{where}: the document is not a JSON object; {_SHAPES}")

    if any(key in doc for key in _PLAN_KEYS):
        return _plan_records(doc, where, problems)

    if "format_version" in doc or "values" in doc:
        return _show_records(doc, where, problems)

    if isinstance(doc.get("resources"), list):
        return _state_file_records(doc, where, problems)

    raise InventoryError(f"{where}: not Terraform state or plan JSON; {_SHAPES}")


_SHAPES = (
    "give a terraform.tfstate (version 4), the output of `terraform show -json`, or "
    "of `terraform show -json PLANFILE`"
)


def _kind(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    """The mode and type of a resource worth reading; None for any other."""
    mode, type_ = resource.get("mode"), resource.get("type")
    if mode == "data" and type_ in DATA_SOURCE_TYPES:
        return mode, type_
    if mode == "managed" and type_ in KMS_RESOURCE_TYPES:
        return mode, type_
    return None


def _state_file_records(
    doc: Mapping[str, Any], where: str, problems: Problems
) -> list[_Record]:
    version = doc.get("version", 4)
    if version != 4:
        msg = (
            f"{where}: state format version {version!r} is not supported; run "
            "`terraform show -json` with Terraform 0.12 or later and give its output"
        )
        raise InventoryError(msg)

    records: list[_Record] = []
    for number, resource in enumerate(doc["resources"]):
        resource_where = f"{where}: resources[{number}]"
        records.extend(_state_file_resource(resource, resource_where, problems))
    return records


def _state_file_resource(
    resource: Any, where: str, problems: Problems
) -> Iterator[_Record]:
    if not isinstance(resource, Mapping):
        problems.add(where, "is not an object", _RECORD_FIX)
        return

    kind = _kind(resource)
    if kind is None:
        return

    template = _state_file_template(resource, kind, where)
    if isinstance(template, str):
        problems.add(where, template, _RECORD_FIX)
        return

    for number, instance in enumerate(resource["instances"]):
        record = _state_file_instance(
            instance, template, f"{where}.instances[{number}]"
        )
        if isinstance(record, str):
            problems.add(f"{where}.instances[{number}]", record, _RECORD_FIX)
        else:
            yield record


def _state_file_template(
    resource: Mapping[str, Any], kind: tuple[str, str], where: str
) -> _Record | str:
    """What every instance of the resource shares, or what is wrong with it."""
    mode, type_ = kind
    name, module = resource.get("name"), resource.get("module", "")
    if not isinstance(name, str) or not isinstance(module, str):
        return f"{type_} has no readable name or module"

    address = resource_address(module, mode, type_, name)
    if not isinstance(resource.get("instances"), list):
        return f"{address} has no instances list"

    provider = str(resource.get("provider", ""))
    return _Record(where, address, mode, type_, provider, {})


def _state_file_instance(instance: Any, template: _Record, where: str) -> _Record | str:
    """The record of one instance, or what is wrong with it."""
    if not isinstance(instance, Mapping):
        return f"{template.address}: the instance is not an object"

    index_key = instance.get("index_key")
    suffix = index_suffix(index_key)
    if suffix is None:
        return f"{template.address}: index_key {index_key!r} is not a number or string"

    attributes = instance.get("attributes", instance.get("attributes_flat"))
    if not isinstance(attributes, Mapping):
        return f"{template.address}{suffix}: the instance has no attributes object"

    address = template.address + suffix
    return replace(template, where=where, address=address, attributes=attributes)


def _show_records(
    doc: Mapping[str, Any], where: str, problems: Problems
) -> list[_Record]:
    values = doc.get("values")
    if values is None:
        # An empty state is shown as only its format and Terraform versions.
        return []
    if not isinstance(values, Mapping) or not isinstance(
        values.get("root_module", {}), Mapping
    ):
        raise InventoryError(
            f"{where}: `values.root_module` is not an object; {_SHAPES}"
        )

    records: list[_Record] = []
    _module_records(
        values.get("root_module", {}), f"{where}: values.root_module", records, problems
    )
    return records


def _module_records(
    module: Mapping[str, Any], where: str, records: list[_Record], problems: Problems
) -> None:
    module_address = module.get("address", "")
    for number, resource in enumerate(_list(module.get("resources"))):
        record_where = f"{where}.resources[{number}]"
        record = _show_resource(resource, record_where, module_address)
        if isinstance(record, str):
            problems.add(record_where, record, _RECORD_FIX)
        elif record is not None:
            records.append(record)

    for number, child in enumerate(_list(module.get("child_modules"))):
        child_where = f"{where}.child_modules[{number}]"
        if isinstance(child, Mapping):
            _module_records(child, child_where, records, problems)
        else:
            problems.add(child_where, "is not an object", _RECORD_FIX)


def _show_resource(
    resource: Any, where: str, module_address: Any
) -> _Record | str | None:
    """The record of one resource, None when it is not a KMS one, or what is wrong."""
    if not isinstance(resource, Mapping):
        return "is not an object"

    kind = _kind(resource)
    if kind is None:
        return None
    mode, type_ = kind

    address = resource.get("address")
    if not isinstance(address, str):
        address = _built_address(resource, module_address)
    if address is None:
        return f"{type_} has no address, and no name and index to build one from"

    attributes = resource.get("values")
    if not isinstance(attributes, Mapping):
        return f"{address} has no values object"

    provider = str(resource.get("provider_name", ""))
    return _Record(where, address, mode, type_, provider, attributes)


def _built_address(resource: Mapping[str, Any], module_address: Any) -> str | None:
    name, module = resource.get("name"), module_address or ""
    suffix = index_suffix(resource.get("index"))
    if not isinstance(name, str) or not isinstance(module, str) or suffix is None:
        return None
    return resource_address(module, resource["mode"], resource["type"], name) + suffix


def _plan_records(
    doc: Mapping[str, Any], where: str, problems: Problems
) -> list[_Record]:
    """What Terraform managed before the plan's refresh.

    ``prior_state`` is the state after refresh: a resource that drifted already holds
    the drifted values there, and one deleted (or scheduled for deletion) out of band
    is missing. The ``before`` of each ``resource_drift`` entry is what the state held
    at the last apply, so it replaces the refreshed values. A plan without
    ``prior_state`` is read from its drift and its planned changes alone; one that only
    creates (a new workspace) manages nothing yet.
    """
    prior_state = doc.get("prior_state")
    records: list[_Record] = []
    if isinstance(prior_state, Mapping):
        records = _show_records(prior_state, f"{where}: prior_state", problems)

    by_address = {record.address: record for record in records}
    for section in ("resource_drift", "resource_changes"):
        overrides = section == "resource_drift"
        for record in _change_befores(doc, section, where, problems):
            if overrides or record.address not in by_address:
                by_address[record.address] = record

    if (
        not by_address
        and not isinstance(prior_state, Mapping)
        and not _list(doc.get("resource_changes"))
    ):
        msg = (
            f"{where}: the plan has no prior_state and no drift or changes of a KMS "
            "resource, so it does not say what Terraform manages; give the state "
            "file or the output of `terraform show -json`"
        )
        raise InventoryError(msg)
    return list(by_address.values())


def _change_befores(
    doc: Mapping[str, Any], section: str, where: str, problems: Problems
) -> list[_Record]:
    """The ``before`` object of each ``resource_drift`` or ``resource_changes`` entry.

    Terraform 1.0 wrote entries without ``address``; it is rebuilt from
    ``module_address``, ``type``, ``name`` and ``index``.
    """
    records: list[_Record] = []
    for number, entry in enumerate(_list(doc.get(section))):
        record_where = f"{where}: {section}[{number}]"
        before = _change_before(entry)
        if before is None:
            continue
        record = _show_resource(before, record_where, before.get("module_address"))
        if isinstance(record, _Record):
            records.append(record)
        elif isinstance(record, str):
            problems.add(record_where, record, "check that the plan JSON is complete")
    return records


def _change_before(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, Mapping):
        return None
    change = entry.get("change")
    before = change.get("before") if isinstance(change, Mapping) else None
    if not isinstance(before, Mapping):
        return None
    return {**entry, "values": before}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- from records to resources -----------------------------------------------------


@dataclass(frozen=True)
class _Place:
    region: str | None
    account: str | None


class _Builder:
    """Reads KMS meaning into records: keys first, since the rest point at them."""

    def __init__(self, records: list[_Record], problems: Problems) -> None:
        self._records = records
        self._problems = problems
        self._key_places: dict[str, list[tuple[str, _Place]]] = {}

    def build(self) -> tuple[list[ManagedResource], list[KnownKey]]:
        managed = [r for r in self._records if r.mode == "managed"]
        keys = [self._key(r) for r in managed if r.type in KEY_TYPES]
        self._report_shared_identities(keys)

        others = [self._dependent(r) for r in managed if r.type not in KEY_TYPES]
        known = [self._known(r) for r in self._records if r.mode == "data"]
        return keys + others, known

    def _key(self, record: _Record) -> ManagedResource:
        attributes = record.attributes
        own = _ref(attributes, "arn")
        key_id = own.key_id if own and own.key_id else _key_id_text(attributes)
        place = _place_of((own,), attributes)
        if key_id is None:
            self._problems.add(
                record.where,
                f"{record.address} has no key id or ARN, so no event can match it",
                "refresh the state (`terraform apply -refresh-only`)",
            )
        else:
            self._key_places.setdefault(key_id, []).append((record.provider, place))
        return _resource(record, place, key_id, _text(attributes, "arn"))

    def _report_shared_identities(self, keys: list[ManagedResource]) -> None:
        first: dict[tuple[str | None, str], ManagedResource] = {}
        for key in keys:
            if key.key_id is None:
                continue
            earlier = first.setdefault((key.region, key.key_id), key)
            if earlier.address != key.address:
                self._problems.add(
                    key.address,
                    f"manages the same key as {earlier.address}; events about "
                    f"{key.key_id} are matched to {earlier.address}",
                    "remove one of them with `terraform state rm`",
                )

    def _dependent(self, record: _Record) -> ManagedResource:
        """An alias, key policy or grant, placed in the region of its key."""
        attributes = record.attributes
        if record.type == "aws_kms_alias":
            own = _ref(attributes, "arn")
            target = _ref(attributes, "target_key_arn") or _ref(
                attributes, "target_key_id"
            )
            arn = _text(attributes, "arn")
        else:
            # A key policy or grant has no ARN of its own; its key_id may be one.
            own, target, arn = None, _ref(attributes, "key_id"), None

        key_id = target.key_id if target else None
        place = _place_of((own, target), attributes)
        located = self._locate(key_id, record.provider) if key_id else None
        if place.account is None and located and place.region in (None, located.region):
            place = located
        return _resource(record, place, key_id, arn)

    def _locate(self, key_id: str, provider: str) -> _Place | None:
        """Where the state's key with that id is, when one place fits.

        Keys of the same provider configuration share its region. A UUID names one
        key anywhere; an ``mrk-`` id names a primary and its replicas, so without the
        same provider its region stays unknown.
        """
        places = self._key_places.get(key_id, [])
        same_provider = {place for owner, place in places if owner == provider}
        if len(same_provider) == 1:
            return same_provider.pop()

        anywhere = {place for _, place in places}
        if len(anywhere) == 1 and not key_id.startswith(MULTI_REGION_PREFIX):
            return anywhere.pop()
        return None

    def _known(self, record: _Record) -> KnownKey:
        attributes = record.attributes
        if record.type == "aws_kms_alias":
            alias_name = _text(attributes, "name")
            target = _ref(attributes, "target_key_arn") or _ref(
                attributes, "target_key_id"
            )
            place = _place_of((_ref(attributes, "arn"), target), attributes)
        else:
            # key_id is what the configuration looked the key up by: maybe an alias.
            lookup = _ref(attributes, "key_id")
            alias_name = lookup.alias if lookup else None
            target = _ref(attributes, "arn") or _ref(attributes, "id")
            place = _place_of((target, lookup), attributes)

        return KnownKey(
            address=record.address,
            region=place.region,
            account=place.account,
            key_id=target.key_id if target else None,
            alias_name=alias_name,
            key_manager=_text(attributes, "key_manager"),
        )


def _place_of(refs: Iterable[KeyRef | None], attributes: Mapping[str, Any]) -> _Place:
    """The region and account of the first ARN, else the provider v6 ``region``."""
    for ref in refs:
        if ref is not None and ref.region:
            return _Place(ref.region, ref.account)
    return _Place(_text(attributes, "region"), None)


def _resource(
    record: _Record, place: _Place, key_id: str | None, arn: str | None
) -> ManagedResource:
    attributes = record.attributes
    alias_name = grant_id = None
    if record.type == "aws_kms_alias":
        alias_name = _text(attributes, "name") or _text(attributes, "id")
    if record.type == "aws_kms_grant":
        grant_id = _text(attributes, "grant_id")

    return ManagedResource(
        address=record.address,
        type=record.type,
        region=place.region,
        account=place.account,
        key_id=key_id,
        arn=arn,
        alias_name=alias_name,
        grant_id=grant_id,
        attributes=MappingProxyType(dict(attributes)),
    )


def _text(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    return value if isinstance(value, str) and value else None


def _ref(attributes: Mapping[str, Any], name: str) -> KeyRef | None:
    text = _text(attributes, name)
    return parse_key_ref(text) if text else None


def _key_id_text(attributes: Mapping[str, Any]) -> str | None:
    """The key id of a key resource: ``key_id``, or ``id`` for an external key."""
    for name in ("key_id", "id"):
        ref = _ref(attributes, name)
        if ref is not None and ref.key_id:
            return ref.key_id
    return None
