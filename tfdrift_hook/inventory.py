"""The KMS resources a configuration manages, as Terraform sees them, and their keys.

Terraform's view is read from a state file, ``terraform show -json`` or a saved JSON
of state or plan; :mod:`tfdrift_hook.terraform_documents` reads those documents.

A key's identity is its region and key id together: a multi-Region primary and its
replicas share one ``mrk-`` id, so an id alone can name keys in several regions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tfdrift_hook import terraform_cli
from tfdrift_hook.arns import KeyRef, is_aws_managed_alias
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
            "or give the file with --state FILE or --plan-json FILE"
        )
        raise InventoryError(msg)

    logger.info("reading %s (%s)", state_file, failure)
    return load_inventory(state_file)


def _shown_state(directory: Path) -> tuple[dict[str, Any] | None, str]:
    """The output of ``terraform show -json``, or why there is none.

    A directory never initialised cannot be shown (its providers are not installed);
    with a local state file beside it, that file is the answer, without a warning.
    """
    if terraform_cli.find_terraform() is None:
        return None, "terraform is not on PATH (install it or set TERRAFORM_BINARY)"

    local = (directory / "terraform.tfstate").is_file()
    if local and not (directory / ".terraform").is_dir():
        return None, "the directory is not initialised (no .terraform)"

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
    # Imported here, not at the top: terraform_documents builds this module's
    # model, so it imports this module.
    from tfdrift_hook.terraform_documents import read_resources

    problems = Problems()
    resources, known_keys = read_resources(doc, where, problems)
    logger.debug("%s: %d managed KMS resources", where, len(resources))
    lineage = doc.get("lineage")
    return Inventory(
        resources,
        where,
        known_keys,
        problems.items,
        lineage if isinstance(lineage, str) else None,
    )


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
    return ".".join([*parts, type_, name]) + (index_suffix(index) or "")


def index_suffix(key: Any) -> str | None:
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
