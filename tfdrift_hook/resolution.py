"""Which managed resource an event touched, or why it touched none.

An event names a key by id, key ARN, alias name, alias ARN or ``mrk-`` id; all of them
come to one identity, (Region, key id), because a multi-Region primary and its replicas
share the id. Aliases created inside the window are remembered, so a later call that
names the key only by that alias still resolves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tfdrift_hook.arns import KeyRef, is_aws_managed_alias
from tfdrift_hook.events import KmsEvent
from tfdrift_hook.inventory import Inventory, ManagedResource


class Subject:
    """What kind of thing an event acted on."""

    MANAGED = "managed"
    UNMANAGED = "unmanaged"
    AWS_MANAGED = "aws_managed"
    UNATTRIBUTABLE = "unattributable"


@dataclass(frozen=True)
class Target:
    """The resource an event acted on, managed or not.

    ``identity`` names the thing for grouping: ``("key", region, key_id)`` or
    ``("alias", region, alias_name)``. ``terraform_type`` is the resource type that
    would manage it (``aws_kms_external_key`` for a key with imported material).
    """

    subject: str
    identity: tuple[str, str, str] | None = None
    resource: ManagedResource | None = None
    terraform_type: str | None = None
    arn: str | None = None

    @property
    def address(self) -> str | None:
        return self.resource.address if self.resource is not None else None


@dataclass
class Resolver:
    """Resolves events against the inventory, learning aliases as the window goes."""

    inventory: Inventory
    learned_aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    def target(self, event: KmsEvent) -> Target:
        if event.alias is not None:
            return self._alias_target(event)

        if event.name == "ReplicateKey" and "replica_key" in event.details:
            return self._key_target(event, event.details["replica_key"])

        if event.key is None:
            return Target(Subject.UNATTRIBUTABLE)

        return self._key_target(event, event.key)

    def key_id(self, ref: KeyRef | None, region: str) -> str | None:
        """The bare key id a reference names, following aliases."""
        if ref is None:
            return None

        if ref.key_id is not None:
            return ref.key_id

        alias_region = ref.region or region
        learned = self.learned_aliases.get((alias_region, ref.alias or ""))
        return learned or self.inventory.key_id_for_alias(alias_region, ref.alias or "")

    def remember(self, event: KmsEvent) -> None:
        """Keep alias targets set in the window, for calls that name only the alias."""
        if event.alias is None or event.failed:
            return

        target = self.key_id(event.target_key, event.region)
        if target is not None and event.name in ("CreateAlias", "UpdateAlias"):
            self.learned_aliases[(event.region, event.alias)] = target

    def _alias_target(self, event: KmsEvent) -> Target:
        alias = event.alias or ""
        identity = ("alias", event.region, alias)
        arn = event.alias_arn()
        if is_aws_managed_alias(alias):
            return Target(Subject.AWS_MANAGED, identity, arn=arn)

        resource = self.inventory.alias(event.region or None, alias)
        if resource is None:
            return Target(Subject.UNMANAGED, identity, None, "aws_kms_alias", arn)

        return Target(Subject.MANAGED, identity, resource, resource.type, arn)

    def _key_target(self, event: KmsEvent, ref: KeyRef) -> Target:
        region = ref.region or event.region
        key_id = self.key_id(ref, region)
        if key_id is None:
            if is_aws_managed_alias(ref.alias):
                return Target(Subject.AWS_MANAGED)
            return Target(Subject.UNATTRIBUTABLE)

        # A record without a Region still finds a key whose id is in one Region only.
        resource = self.inventory.key(region or None, key_id)
        if resource is not None and not region:
            region = resource.region or ""
        identity = ("key", region, key_id)
        arn = _key_arn(ref, region, key_id, event.account)
        if resource is None:
            kind = _unmanaged_type(event)
            return Target(Subject.UNMANAGED, identity, None, kind, arn)

        return Target(Subject.MANAGED, identity, resource, resource.type, resource.arn)


def _key_arn(ref: KeyRef, region: str, key_id: str, account: str | None) -> str | None:
    owner = ref.account or account
    if owner is None:
        return None
    return f"arn:aws:kms:{region}:{owner}:key/{key_id}"


def _unmanaged_type(event: KmsEvent) -> str:
    if event.name == "ReplicateKey":
        return "aws_kms_replica_key"

    if event.details.get("origin") == "EXTERNAL" or "key_material" in event.values:
        return "aws_kms_external_key"

    return "aws_kms_key"
