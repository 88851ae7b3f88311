"""KMS identifiers as CloudTrail and Terraform write them: ids, ARNs and alias names."""

from __future__ import annotations

from dataclasses import dataclass

ALIAS_PREFIX = "alias/"


@dataclass(frozen=True)
class KeyRef:
    """A KMS key or alias as a record or the state names it, split into its parts.

    ``key_id`` is the bare id (a UUID or an ``mrk-`` id) and ``alias`` the alias
    name (``alias/app``); at most one of them is set. ``region`` and ``account`` are
    None when the text did not carry them (a bare id or alias name).
    """

    raw: str
    key_id: str | None = None
    alias: str | None = None
    region: str | None = None
    account: str | None = None

    @property
    def is_alias(self) -> bool:
        return self.alias is not None

    def key_arn(self, partition: str = "aws") -> str | None:
        """The key ARN, when the reference names a key with its region and account."""
        if self.key_id is None or self.region is None or self.account is None:
            return None
        return f"arn:{partition}:kms:{self.region}:{self.account}:key/{self.key_id}"


def parse_key_ref(text: str) -> KeyRef | None:
    """Split a key id, key ARN, alias name or alias ARN; None for anything else."""
    text = text.strip()
    if not text:
        return None

    if text.startswith("arn:"):
        return _parse_arn(text)

    if text.startswith(ALIAS_PREFIX):
        return KeyRef(raw=text, alias=text)

    if "/" in text or ":" in text:
        return None

    return KeyRef(raw=text, key_id=text)


def _parse_arn(text: str) -> KeyRef | None:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[2] != "kms":
        return None

    region, account, resource = parts[3], parts[4], parts[5]
    if resource.startswith("key/"):
        return KeyRef(raw=text, key_id=resource[4:], region=region, account=account)

    if resource.startswith(ALIAS_PREFIX):
        return KeyRef(raw=text, alias=resource, region=region, account=account)

    return None


def is_aws_managed_alias(alias: str | None) -> bool:
    """Aliases under ``alias/aws/`` belong to keys that AWS services manage."""
    return alias is not None and alias.startswith("alias/aws/")
