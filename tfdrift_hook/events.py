"""The one KMS event model every CloudTrail record is normalized into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tfdrift_hook.actors import Actor
from tfdrift_hook.arns import KeyRef

KMS_EVENT_SOURCE = "kms.amazonaws.com"


class Status:
    """How a change relates to Terraform; the ``status`` of a finding."""

    IN_BAND = "in_band"
    OUT_OF_BAND = "out_of_band"
    REVERTED = "reverted"
    UNMANAGED = "unmanaged"
    UNATTRIBUTABLE = "unattributable"
    TERRAFORM_OUTSIDE_PIPELINE = "terraform_outside_pipeline"
    AWS_SERVICE = "aws_service"
    UNMODELLED = "unmodelled"
    #: A drifted attribute in a plan that no event of the window explains.
    UNEXPLAINED_DRIFT = "unexplained_drift"
    #: What an apply would do to a key that someone changed or still uses.
    GUARDRAIL = "guardrail"


@dataclass
class KmsEvent:
    """One KMS CloudTrail record, whatever its shape or ``eventVersion``.

    ``values`` holds the attributes the call set, in the attribute vocabulary of
    :mod:`tfdrift_hook.changes` (``key_state``, ``policy``, ``tags``...). ``key`` is the
    key the call acted on; for a call that names only an alias, ``key`` holds that alias
    (the resolver follows it to a key). ``region`` is the key's Region, which the
    ``resources`` ARN gives even when the call was logged in another Region.
    """

    event_id: str
    name: str
    time: datetime
    region: str
    account: str | None
    actor: Actor
    where: str
    read_only: bool = False
    error_code: str | None = None
    error_message: str | None = None
    service_event: bool = False
    key: KeyRef | None = None
    alias: str | None = None
    target_key: KeyRef | None = None
    values: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def timestamp(self) -> str:
        """``eventTime`` in UTC with a ``Z``, as the JSON report writes it."""
        return self.time.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def failed(self) -> bool:
        return self.error_code is not None

    def key_arn(self) -> str | None:
        if self.key is None:
            return None
        return self.key.key_arn() or (
            self.key.raw if self.key.raw.startswith("arn:") else None
        )

    def alias_arn(self) -> str | None:
        if self.alias is None or self.account is None:
            return None
        return f"arn:aws:kms:{self.region}:{self.account}:{self.alias}"


def parse_event_time(text: str) -> datetime:
    """``eventTime`` as an aware UTC datetime.

    CloudTrail writes ``2022-09-01T20:06:16Z``; a time with no offset is read as UTC.
    """
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
