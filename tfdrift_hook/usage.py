"""Who still uses a key: read-only KMS calls counted per key, cheaply.

Read-only calls (Decrypt, GenerateDataKey, DescribeKey...) change nothing, but they are
most of a busy account's KMS history and they show who still depends on a key that
someone disabled or scheduled for deletion. They are counted without building events:
the key comes from ``resources`` or ``keyId`` and the caller's name is resolved once per
principal, so the cost per read stays a few dictionary look-ups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tfdrift_hook.actors import Actor
from tfdrift_hook.arns import parse_key_ref
from tfdrift_hook.inventory import Inventory

Identity = tuple[str, str]

#: Calls that use a key's material: data that depends on the key passed through them.
#: Describing or listing a key (Terraform's refresh does) is reading, not using it.
CRYPTO_CALLS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "DeriveSharedSecret",
    }
)


@dataclass
class KeyUsage:
    """Read-only calls on one key in the window."""

    reads: int = 0
    last: str = ""
    callers: Counter[str] = field(default_factory=Counter)
    #: Of the reads, the cryptographic calls (:data:`CRYPTO_CALLS`), and the last one.
    uses: int = 0
    last_use: str = ""

    def to_json(self) -> dict[str, Any]:
        top = [name for name, _ in self.callers.most_common(5)]
        return {
            "reads": self.reads,
            "last_read": self.last or None,
            "top_callers": top,
            "uses": self.uses,
            "last_use": self.last_use or None,
        }


@dataclass
class UsageCounter:
    """Counts reads per (Region, key id), with the callers named as people would."""

    inventory: Inventory
    resolve_actor: Callable[..., Actor | None]
    usage: dict[Identity, KeyUsage] = field(default_factory=dict)
    _keys: dict[tuple[str, str, str], Identity | None] = field(default_factory=dict)
    _callers: dict[tuple[Any, ...], str] = field(default_factory=dict)

    def count(self, record: Mapping[str, Any]) -> None:
        if record.get("errorCode") is not None:
            return

        identity = self._identity(record)
        if identity is None:
            return

        usage = self.usage.get(identity)
        if usage is None:
            usage = self.usage[identity] = KeyUsage()
        usage.reads += 1
        stamp = str(record.get("eventTime") or "")
        if stamp > usage.last:
            usage.last = stamp
        usage.callers[self._caller(record)] += 1
        if record.get("eventName") in CRYPTO_CALLS:
            usage.uses += 1
            usage.last_use = max(usage.last_use, stamp)

    def _identity(self, record: Mapping[str, Any]) -> Identity | None:
        text = _key_text(record)
        if text is None:
            return None

        region = str(record.get("awsRegion") or "")
        cache_key = (text, region, str(record.get("recipientAccountId") or ""))
        if cache_key not in self._keys:
            self._keys[cache_key] = self._resolve(text, region)
        return self._keys[cache_key]

    def _resolve(self, text: str, region: str) -> Identity | None:
        ref = parse_key_ref(text)
        if ref is None:
            return None

        key_region = ref.region or region
        key_id = ref.key_id or self.inventory.key_id_for_alias(
            key_region, ref.alias or ""
        )
        return (key_region, key_id) if key_id else None

    def _caller(self, record: Mapping[str, Any]) -> str:
        identity = record.get("userIdentity")
        identity = identity if isinstance(identity, Mapping) else {}
        cache_key = (
            identity.get("arn"),
            identity.get("invokedBy"),
            identity.get("principalId"),
            identity.get("type"),
        )
        name = self._callers.get(cache_key)
        if name is None:
            actor = self.resolve_actor(record=record)
            name = self._callers[cache_key] = actor.name if actor else "unknown"
        return name


def _key_text(record: Mapping[str, Any]) -> str | None:
    """The key a read used; an ARN in ``resources`` wins over the request ``keyId``."""
    resources = record.get("resources")
    if isinstance(resources, list):
        for item in resources:
            arn = item.get("ARN") if isinstance(item, Mapping) else None
            if isinstance(arn, str) and ":key/" in arn:
                return arn

    request = record.get("requestParameters")
    key_id = request.get("keyId") if isinstance(request, Mapping) else None
    return key_id if isinstance(key_id, str) else None
