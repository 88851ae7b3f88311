"""Who made a call: the actor of a CloudTrail record and the channel it came through."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class Channel:
    """How a call reached AWS, as read from ``userAgent`` and ``sessionContext``."""

    CONSOLE = "console"
    CLI = "cli"
    SDK = "sdk"
    TERRAFORM = "terraform"
    AWS_SERVICE = "aws_service"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Actor:
    """The principal behind one record, named the way a person would name it.

    ``type`` is the ``userIdentity.type`` (``IAMUser``, ``AssumedRole``,
    ``IdentityCenterUser``, ``Root``, ``FederatedUser``, ``WebIdentityUser``,
    ``AWSAccount``, ``AWSService``) or ``Unknown``. ``name`` is never empty when the
    record names anyone: the user name, the role session name, the service.
    """

    type: str
    name: str
    channel: str = Channel.UNKNOWN
    arn: str | None = None
    account: str | None = None
    principal_id: str | None = None
    role_arn: str | None = None
    session: str | None = None
    mfa: bool | None = None
    invoked_by: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None

    @property
    def principal_arn(self) -> str | None:
        """The ARN trust decisions are made on: the role for a role session."""
        return self.role_arn or self.arn

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
