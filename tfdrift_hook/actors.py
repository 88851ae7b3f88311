"""Who made a call: the actor of a CloudTrail record, and its channel.

``userIdentity`` has a different shape for every kind of principal, and
CloudTrail leaves fields out freely, so every reader here accepts missing, null
or partial blocks and falls back to the next field that still names someone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from tfdrift_hook.hookspecs import hookimpl


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
    ``AWSAccount``, ``AWSService``) or ``Unknown``; a record whose
    ``userIdentity`` has no type but names the invoking service (KMS RotateKey,
    DeleteKey) is ``AWSService``. ``name`` is never empty when the record names
    anyone: the user name, the role session name (or the ``sourceIdentity`` set
    when the role was assumed), the service.

    ``role_arn`` is the role of a role session; ``issuer_arn`` the IAM user or
    root that asked for a federated user's credentials. ``permission_set`` is
    set for IAM Identity Center sessions (roles named
    ``AWSReservedSSO_<set>_<suffix>``).
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
    source_identity: str | None = None
    permission_set: str | None = None
    issuer_arn: str | None = None
    identity_provider: str | None = None
    identity_store: str | None = None
    delegate_account: str | None = None

    def to_json(self) -> dict[str, Any]:
        values = ((item.name, getattr(self, item.name)) for item in fields(self))
        return {name: value for name, value in values if value is not None}


#: Who made a change that no event of the window shows: nobody can be named.
NO_EVENT_ACTOR = Actor(type="Unknown", name="unknown (no event in the window)")

UNKNOWN_NAME = "unknown"
AWS_INTERNAL = "AWS Internal"
KMS_SOURCE = "kms.amazonaws.com"
SERVICE_EVENT = "AwsServiceEvent"
SSO_ROLE_PREFIX = "AWSReservedSSO_"

# The AWS provider names itself; older ones only carried Terraform's token.
_TERRAFORM_AGENT = re.compile(
    r"terraform-provider-aws|(?:^|[\s\[(,])terraform/\d", re.IGNORECASE
)
# A bare service host name, which is how services sign the calls they make.
_SERVICE_HOST = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$")
_CONSOLE_MARKERS = (
    "console.amazonaws.com",
    "signin.amazonaws.com",
    "aws console",
    "s3console",
)
_CLI_MARKERS = ("aws-cli/", "awspowershell")
_SDK_MARKERS = ("boto3/", "botocore/", "aws-sdk-")


def actor_from_record(record: Mapping[str, Any]) -> Actor:
    """The actor of one CloudTrail record; never raises, whatever the record holds."""
    if not isinstance(record, Mapping):
        record = {}

    identity = _mapping(record.get("userIdentity"))
    kind = _identity_type(identity)

    base = _base_actor(kind, identity, record)
    build = _BUILDERS.get(kind, _other_actor)
    return build(base, identity, record)


@hookimpl(trylast=True)
def tfdrift_resolve_actor(record: Mapping[str, Any]) -> Actor:
    """The built-in resolver; an installed plugin's answer comes first."""
    return actor_from_record(record)


def channel_of(record: Mapping[str, Any]) -> str:
    """How the call reached AWS; one of the :class:`Channel` values.

    Terraform is checked first because its agent also names the Go SDK, and the
    console before services because a console user's call that a service
    forwards (S3 asking KMS for a data key) is still the person's console
    action.
    """
    if not isinstance(record, Mapping):
        return Channel.UNKNOWN

    identity = _mapping(record.get("userIdentity"))
    agent = (_text(record.get("userAgent")) or "").lower()

    if is_terraform_user_agent(agent):
        return Channel.TERRAFORM

    if _is_console(record, agent):
        return Channel.CONSOLE

    if _is_service_call(record, identity, agent):
        return Channel.AWS_SERVICE

    if any(marker in agent for marker in _CLI_MARKERS):
        return Channel.CLI

    if any(marker in agent for marker in _SDK_MARKERS):
        return Channel.SDK

    return Channel.UNKNOWN


def is_terraform_user_agent(user_agent: str | None) -> bool:
    """True for the AWS provider's user agent, also inside S3's ``[...]``.

    A hint only: any client can send this string.
    """
    if not user_agent:
        return False
    return _TERRAFORM_AGENT.search(user_agent) is not None


def _is_console(record: Mapping[str, Any], agent: str) -> bool:
    # CloudTrail writes the flag as the string "true", or leaves it out.
    if _flag(record.get("sessionCredentialFromConsole")):
        return True

    # Only a browser sends a Mozilla agent straight to an AWS endpoint.
    if agent.startswith("mozilla"):
        return True

    return any(marker in agent for marker in _CONSOLE_MARKERS)


def _is_service_call(
    record: Mapping[str, Any], identity: Mapping[str, Any], agent: str
) -> bool:
    if _text(identity.get("type")) == "AWSService":
        return True

    if _text(identity.get("invokedBy")):
        return True

    if _text(record.get("eventType")) == SERVICE_EVENT:
        return True

    return _SERVICE_HOST.match(agent) is not None


def _identity_type(identity: Mapping[str, Any]) -> str:
    declared = _text(identity.get("type"))
    if declared:
        return declared

    resource = _arn_resource(_arn(identity.get("arn")))
    if resource is not None:
        return _type_from_resource(resource)

    if _text(identity.get("invokedBy")):
        return "AWSService"

    return "Unknown"


def _type_from_resource(resource: str) -> str:
    if resource.startswith("assumed-role/"):
        return "AssumedRole"

    if resource.startswith("federated-user/"):
        return "FederatedUser"

    if resource.startswith("user/"):
        return "IAMUser"

    return "Root" if resource == "root" else "Unknown"


def _base_actor(
    kind: str, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    arn = _arn(identity.get("arn"))
    attributes = _mapping(_session_context(identity).get("attributes"))
    return Actor(
        type=kind,
        name=UNKNOWN_NAME,
        channel=channel_of(record),
        arn=arn,
        account=_text(identity.get("accountId")) or _arn_account(arn),
        principal_id=_text(identity.get("principalId")),
        mfa=_flag(attributes.get("mfaAuthenticated")),
        invoked_by=_text(identity.get("invokedBy")),
        source_ip=_text(record.get("sourceIPAddress")),
        user_agent=_text(record.get("userAgent")),
    )


def _iam_user(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    name = _text(identity.get("userName")) or _arn_tail(base.arn)
    return replace(base, name=name or _fallback_name(base))


def _assumed_role(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    context = _session_context(identity)
    issuer = _mapping(context.get("sessionIssuer"))
    role, session = _role_and_session(base.arn)
    session = session or _principal_suffix(base.principal_id)
    role = _text(issuer.get("userName")) or role
    source_identity = _text(context.get("sourceIdentity"))

    name = source_identity or session or role or _text(identity.get("userName"))
    return replace(
        base,
        name=name or _fallback_name(base),
        session=session,
        role_arn=_arn(issuer.get("arn")) or _derived_role_arn(base, role),
        source_identity=source_identity,
        permission_set=_permission_set(role),
        identity_provider=_web_identity_provider(context),
        delegate_account=_text(
            _mapping(identity.get("invokedByDelegate")).get("accountId")
        ),
    )


def _identity_center_user(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    on_behalf_of = _mapping(identity.get("onBehalfOf"))
    store_arn = _text(on_behalf_of.get("identityStoreArn"))
    name = _text(on_behalf_of.get("userId")) or _text(identity.get("userName"))
    return replace(
        base,
        name=name or _fallback_name(base),
        identity_store=store_arn.rsplit("/", 1)[-1] if store_arn else None,
    )


def _root(base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]) -> Actor:
    name = f"root ({base.account})" if base.account else "root"
    return replace(base, name=name)


def _federated_user(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    issuer = _mapping(_session_context(identity).get("sessionIssuer"))
    resource = _arn_resource(base.arn) or ""
    name = resource.split("/", 1)[1] if resource.startswith("federated-user/") else None
    name = name or _principal_suffix(base.principal_id)
    return replace(
        base, name=name or _fallback_name(base), issuer_arn=_arn(issuer.get("arn"))
    )


def _web_identity_user(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    provider = _web_identity_provider(_session_context(identity))
    provider = provider or _text(identity.get("identityProvider"))
    name = _text(identity.get("userName")) or base.principal_id
    return replace(base, name=name or _fallback_name(base), identity_provider=provider)


def _aws_account(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    if base.account:
        return replace(base, name=f"account {base.account}")
    return replace(base, name=_fallback_name(base))


def _aws_service(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    if _is_scheduled_kms_event(base, record):
        return replace(base, name="AWS KMS (scheduled)")

    if base.invoked_by in (AWS_INTERNAL, KMS_SOURCE) and _is_kms(record):
        return replace(base, name="AWS KMS")

    agent = (base.user_agent or "").lower()
    service = base.invoked_by or (agent if _SERVICE_HOST.match(agent) else None)
    return replace(base, name=service or "AWS service")


def _other_actor(
    base: Actor, identity: Mapping[str, Any], record: Mapping[str, Any]
) -> Actor:
    name = _text(identity.get("userName")) or _arn_tail(base.arn)
    return replace(base, name=name or _fallback_name(base))


_Builder = Callable[[Actor, Mapping[str, Any], Mapping[str, Any]], Actor]

_BUILDERS: dict[str, _Builder] = {
    "IAMUser": _iam_user,
    "AssumedRole": _assumed_role,
    "IdentityCenterUser": _identity_center_user,
    "Root": _root,
    "FederatedUser": _federated_user,
    "WebIdentityUser": _web_identity_user,
    "AWSAccount": _aws_account,
    "AWSService": _aws_service,
}


def _is_scheduled_kms_event(base: Actor, record: Mapping[str, Any]) -> bool:
    if base.invoked_by not in (AWS_INTERNAL, KMS_SOURCE):
        return False
    return _is_kms(record) and _text(record.get("eventType")) == SERVICE_EVENT


def _is_kms(record: Mapping[str, Any]) -> bool:
    return _text(record.get("eventSource")) == KMS_SOURCE


def _fallback_name(base: Actor) -> str:
    # Anything that still tells principals apart beats "unknown".
    return base.principal_id or base.invoked_by or UNKNOWN_NAME


def _role_and_session(arn: str | None) -> tuple[str | None, str | None]:
    resource = _arn_resource(arn) or ""
    if not resource.startswith("assumed-role/"):
        return None, None

    _, _, rest = resource.partition("/")
    role, _, session = rest.partition("/")
    return role or None, session or None


def _derived_role_arn(base: Actor, role: str | None) -> str | None:
    # Without a sessionIssuer the role's path is lost; name and account stay.
    if role is None or base.account is None:
        return None
    partition = _arn_partition(base.arn) or "aws"
    return f"arn:{partition}:iam::{base.account}:role/{role}"


def _permission_set(role: str | None) -> str | None:
    if role is None or not role.startswith(SSO_ROLE_PREFIX):
        return None
    rest = role.removeprefix(SSO_ROLE_PREFIX)
    # The generated suffix follows the last underscore; set names may hold more.
    name, _, suffix = rest.rpartition("_")
    if name and suffix:
        return name
    return rest or None


def _web_identity_provider(context: Mapping[str, Any]) -> str | None:
    federation = _mapping(context.get("webIdFederationData"))
    return _text(federation.get("federatedProvider"))


def _session_context(identity: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(identity.get("sessionContext"))


def _principal_suffix(principal_id: str | None) -> str | None:
    if principal_id is None or ":" not in principal_id:
        return None
    return principal_id.rsplit(":", 1)[1].strip() or None


def _arn(value: Any) -> str | None:
    # ARNs never hold whitespace; some published records carry stray spaces.
    text = _text(value)
    if text is None:
        return None
    return "".join(text.split())


def _arn_parts(arn: str | None) -> list[str] | None:
    if arn is None or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 else None


def _arn_resource(arn: str | None) -> str | None:
    parts = _arn_parts(arn)
    if parts is None:
        return None
    return parts[5]


def _arn_account(arn: str | None) -> str | None:
    parts = _arn_parts(arn)
    if parts is None:
        return None
    return parts[4] or None


def _arn_partition(arn: str | None) -> str | None:
    parts = _arn_parts(arn)
    if parts is None:
        return None
    return parts[1] or None


def _arn_tail(arn: str | None) -> str | None:
    resource = _arn_resource(arn)
    if not resource:
        return None
    return resource.rsplit("/", 1)[-1] or None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value

    text = _text(value)
    if text is None:
        return None

    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return None
