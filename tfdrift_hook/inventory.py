"""The KMS resources a configuration manages, as Terraform sees them, and their keys.

Terraform's view comes in three shapes, told apart by the document itself: a v4 state
file (``terraform.tfstate``), the state JSON of ``terraform show -json``, and the plan
JSON of ``terraform show -json PLANFILE``, whose ``prior_state`` is used.

A key's identity is its region and key id together: a multi-Region primary and its
replicas share one ``mrk-`` id, so an id alone can name keys in several regions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from tfdrift_hook import terraform_cli
from tfdrift_hook.arns import KeyRef, is_aws_managed_alias, parse_key_ref
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.problems import Problem, Problems

logger = logging.getLogger(__name__)

KEY_TYPES: frozenset[str] = frozenset(
    {
        "aws_kms_key",
        "aws_kms_replica_key",
        "aws_kms_external_key",
        "aws_kms_replica_external_key",
    }
)
KMS_RESOURCE_TYPES: frozenset[str] = KEY_TYPES | {
    "aws_kms_alias",
    "aws_kms_key_policy",
    "aws_kms_grant",
}
DATA_SOURCE_TYPES: frozenset[str] = frozenset({"aws_kms_alias", "aws_kms_key"})

MULTI_REGION_PREFIX = "mrk-"

#: The order :meth:`Inventory.resources_for_key` lists a key's resources in.
_TYPE_ORDER = ("key", "aws_kms_key_policy", "aws_kms_grant", "aws_kms_alias")

_PLAN_KEYS = ("prior_state", "planned_values", "resource_changes", "resource_drift")

_RECORD_FIX = "repair the record, or read the directory with `terraform show -json`"


class InventoryError(TfdriftError):
    """Terraform's view could not be read, so no event can be matched to an address."""


@dataclass(frozen=True)
class ManagedResource:
    """One instance of a KMS resource in state, and the key it belongs to.

    Two resources compare equal when their address and identity do; ``attributes``
    (the provider's attributes from state) take no part in that.
    """

    address: str
    type: str
    region: str | None
    account: str | None
    key_id: str | None
    arn: str | None
    alias_name: str | None = None
    grant_id: str | None = None
    attributes: Mapping[str, Any] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def is_key(self) -> bool:
        return self.type in KEY_TYPES


@dataclass(frozen=True)
class KnownKey:
    """A key a data source read: Terraform knows it but does not manage it.

    ``alias_name`` is the alias the data source looked the key up by, and
    ``key_manager`` is ``AWS`` or ``CUSTOMER`` when the data source says so.
    """

    address: str
    region: str | None
    account: str | None
    key_id: str | None
    alias_name: str | None = None
    key_manager: str | None = None


class Inventory:
    """The managed KMS resources of one state, indexed by what events call them."""

    def __init__(
        self,
        resources: Iterable[ManagedResource],
        source: str,
        known_keys: Iterable[KnownKey] = (),
        problems: Iterable[Problem] = (),
        lineage: str | None = None,
    ) -> None:
        self.resources = tuple(resources)
        #: The state's lineage; a state file has one, ``show -json`` output has none.
        self.lineage = lineage
        self.source = source
        self.known_keys = tuple(known_keys)
        self.problems = tuple(problems)
        self._by_key_id = _group(self.resources, lambda r: r.key_id)
        self._by_alias = _group(self.resources, lambda r: r.alias_name)
        self._by_grant = _group(self.resources, lambda r: r.grant_id)
        self._known_by_alias = _group(self.known_keys, lambda k: k.alias_name)
        self._known_by_key_id = _group(self.known_keys, lambda k: k.key_id)

    def __repr__(self) -> str:
        return f"Inventory({len(self.resources)} resources from {self.source})"

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(r.region for r in self.resources if r.region)

    @property
    def accounts(self) -> frozenset[str]:
        return frozenset(r.account for r in self.resources if r.account)

    def key(self, region: str | None, key_id: str) -> ManagedResource | None:
        """The key resource with that identity.

        Without a region, only an id that the state holds in a single region matches.
        """
        keys = [r for r in self._by_key_id.get(key_id, ()) if r.is_key]
        return _first(_in_region(keys, region, _loose(key_id)))

    def resources_for_key(
        self, region: str | None, key_id: str
    ) -> list[ManagedResource]:
        """The key, its policy, its grants and the aliases pointing at it."""
        found = _in_region(self._by_key_id.get(key_id, ()), region, _loose(key_id))
        return sorted(found, key=_type_rank)

    def policy_owner(self, region: str | None, key_id: str) -> ManagedResource | None:
        """Where the key policy lives: its ``aws_kms_key_policy``, else the key."""
        found = self.resources_for_key(region, key_id)
        policies = [r for r in found if r.type == "aws_kms_key_policy"]
        return _first(policies) or _first(r for r in found if r.is_key)

    def alias(self, region: str | None, alias_name: str) -> ManagedResource | None:
        return _first(_in_region(self._by_alias.get(alias_name, ()), region, True))

    def grant(self, region: str | None, grant_id: str) -> ManagedResource | None:
        return _first(_in_region(self._by_grant.get(grant_id, ()), region, True))

    def key_id_for_alias(self, region: str | None, alias_name: str) -> str | None:
        """The key an alias points at, from managed aliases, then data sources."""
        target = self._alias_target(region, alias_name)
        return target[1] if target else None

    def alias_names_for_key(self, region: str | None, key_id: str) -> frozenset[str]:
        """Every alias name the state knows for the key, managed or read."""
        loose = _loose(key_id)
        managed = [r.alias_name for r in self.resources_for_key(region, key_id)]
        known = _in_region(self._known_by_key_id.get(key_id, ()), region, loose)
        names = managed + [k.alias_name for k in known]
        return frozenset(name for name in names if name)

    def is_aws_managed(self, region: str | None, key_id: str) -> bool:
        """Whether a data source shows the key as one AWS manages for a service."""
        known = _in_region(
            self._known_by_key_id.get(key_id, ()), region, _loose(key_id)
        )
        if any(k.key_manager == "AWS" for k in known):
            return True
        return any(map(is_aws_managed_alias, self.alias_names_for_key(region, key_id)))

    def resolve(
        self, ref: KeyRef, default_region: str | None
    ) -> ManagedResource | None:
        """The managed key a reference names; for an alias, the key it targets.

        The reference's own region wins over ``default_region`` (a record's
        ``awsRegion``), since an ARN says where the key is.
        """
        region = ref.region or default_region
        key_id = ref.key_id
        if ref.alias is not None:
            target = self._alias_target(region, ref.alias)
            region, key_id = target if target else (region, None)

        if key_id is None:
            return None

        found = self.key(region, key_id)
        if found is None or _accounts_differ(ref.account, found.account):
            return None
        return found

    def _alias_target(
        self, region: str | None, alias_name: str
    ) -> tuple[str | None, str] | None:
        managed = self.alias(region, alias_name)
        if managed is not None and managed.key_id is not None:
            return managed.region, managed.key_id

        known = _in_region(self._known_by_alias.get(alias_name, ()), region, True)
        fact = _first(k for k in known if k.key_id)
        if fact is None or fact.key_id is None:
            return None
        return fact.region, fact.key_id


def load_inventory(path: Path) -> Inventory:
    """Terraform's view read from a state file or a saved JSON of state or plan."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read it ({exc}); give the path of a state or plan JSON"
        raise InventoryError(msg) from exc

    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); give a "
            "terraform.tfstate or the output of `terraform show -json`"
        )
        raise InventoryError(msg) from exc

    return inventory_from_document(document, str(path))


def inventory_from_directory(directory: Path) -> Inventory:
    """``terraform show -json`` in the directory, else its ``terraform.tfstate``.

    The binary sees remote backends and workspaces; the file is the fallback for a
    directory without terraform on PATH or not initialised.
    """
    if not directory.is_dir():
        msg = f"{directory}: not a directory; give the Terraform working directory"
        raise InventoryError(msg)

    document, failure = _shown_state(directory)
    if document is not None:
        where = f"terraform show -json in {directory}"
        return inventory_from_document(document, where)

    state_file = directory / "terraform.tfstate"
    if not state_file.is_file():
        msg = (
            f"no Terraform state for {directory}: {failure}, and {state_file} does "
            "not exist; run `terraform init` there so `terraform show -json` works, "
            "or give the state or plan JSON file"
        )
        raise InventoryError(msg)

    logger.info("reading %s (%s)", state_file, failure)
    return load_inventory(state_file)


def _shown_state(directory: Path) -> tuple[dict[str, Any] | None, str]:
    """The output of ``terraform show -json``, or why there is none."""
    if terraform_cli.find_terraform() is None:
        return None, "terraform is not on PATH (install it or set TERRAFORM_BINARY)"

    try:
        document = terraform_cli.show_json(directory)
    except terraform_cli.TerraformError as exc:
        logger.warning("%s", exc)
        return None, str(exc)

    # With no state at all Terraform prints only the format version; that is a
    # directory without a state, not a configuration that manages nothing.
    if "values" not in document:
        return None, "`terraform show -json` found no state there"
    return document, ""


def inventory_from_document(doc: Mapping[str, Any], where: str) -> Inventory:
    """The inventory of a parsed document of any of the three shapes.

    Records that cannot be read are skipped and kept in ``Inventory.problems``; a
    document of no known shape raises :class:`InventoryError`.
    """
    problems = Problems()
    records = _records(doc, where, problems)
    resources, known_keys = _Builder(records, problems).build()
    logger.debug("%s: %d managed KMS resources", where, len(resources))
    lineage = doc.get("lineage")
    return Inventory(
        resources,
        where,
        known_keys,
        problems.items,
        lineage if isinstance(lineage, str) else None,
    )


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
    suffix = _index_suffix(index_key)
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
    suffix = _index_suffix(resource.get("index"))
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


# -- addresses ---------------------------------------------------------------------


def resource_address(
    module: str, mode: str, type_: str, name: str, index: int | str | None = None
) -> str:
    """The address Terraform prints: ``module.kms.aws_kms_key.this["app"]``.

    ``module`` is the module path as state writes it (``module.a["x"].module.b``),
    empty for the root module; ``index`` the count index or for_each key.
    """
    parts = [module] if module else []
    if mode == "data":
        parts.append("data")
    return ".".join([*parts, type_, name]) + (_index_suffix(index) or "")


def _index_suffix(key: Any) -> str | None:
    """The ``[0]`` or ``["app"]`` after an instance's address; None if invalid."""
    if key is None:
        return ""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return f"[{key}]"
    if isinstance(key, str):
        return f"[{quoted(key)}]"
    return None


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}


def quoted(text: str) -> str:
    """A string quoted the way Terraform prints a ``for_each`` key in an address.

    That is HCL's quoting: JSON-like backslash escapes, non-printable characters as
    ``\\uXXXX``, and ``${``/``%{`` doubled so that the key never reads as a template.
    """
    out = []
    for position, char in enumerate(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char in "$%" and text[position + 1 : position + 2] == "{":
            out.append(char * 2)
        elif not char.isprintable():
            out.append(_unicode_escape(char))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _unicode_escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


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
        if len(anywhere) == 1 and _loose(key_id):
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


# -- lookups -----------------------------------------------------------------------


class _Placed(Protocol):
    @property
    def region(self) -> str | None: ...


_Item = TypeVar("_Item")
_PlacedItem = TypeVar("_PlacedItem", bound=_Placed)


def _group(
    items: Iterable[_Item], key: Callable[[_Item], str | None]
) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {}
    for item in items:
        value = key(item)
        if value is not None:
            groups.setdefault(value, []).append(item)
    return groups


def _in_region(
    candidates: Iterable[_PlacedItem], region: str | None, loose: bool
) -> list[_PlacedItem]:
    """The candidates in the region; with no region, all of them if in one region.

    ``loose`` lets a candidate whose region the state does not say match any region;
    an ``mrk-`` id is never loose, since it is in several regions at once.
    """
    candidates = list(candidates)
    if region is None:
        regions = {c.region for c in candidates}
        return candidates if len(regions) == 1 else []

    exact = [c for c in candidates if c.region == region]
    if exact or not loose:
        return exact
    return [c for c in candidates if c.region is None]


def _loose(key_id: str) -> bool:
    return not key_id.startswith(MULTI_REGION_PREFIX)


def _first(items: Iterable[_Item]) -> _Item | None:
    return next(iter(items), None)


def _type_rank(resource: ManagedResource) -> int:
    kind = "key" if resource.is_key else resource.type
    return _TYPE_ORDER.index(kind)


def _accounts_differ(wanted: str | None, found: str | None) -> bool:
    return wanted is not None and found is not None and wanted != found
