"""The built-in normalizer: KMS CloudTrail records into :class:`KmsEvent`.

Each supported call has a small reader that says which attributes the call set. Dispatch
is on ``(eventSource, eventName)`` because other services log calls with the same names
(``CreateAlias``, ``TagResource``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tfdrift_hook.actors import Actor
from tfdrift_hook.arns import KeyRef, parse_key_ref
from tfdrift_hook.events import KMS_EVENT_SOURCE, KmsEvent, parse_event_time
from tfdrift_hook.hookspecs import hookimpl

logger = logging.getLogger(__name__)

Record = Mapping[str, Any]
Reader = Callable[[KmsEvent, Record, Record], None]

#: KMS calls that only read; used when a record carries no ``readOnly`` field.
READ_ONLY_CALLS = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "VerifyMac",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
        "DescribeKey",
        "DescribeCustomKeyStores",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "GetParametersForImport",
        "GetPublicKey",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeyRotations",
        "ListKeys",
        "ListResourceTags",
        "ListRetirableGrants",
    }
)


#: Calls on custom key stores: they change no key and no alias.
KEY_STORE_CALLS = frozenset(
    {
        "CreateCustomKeyStore",
        "UpdateCustomKeyStore",
        "DeleteCustomKeyStore",
        "ConnectCustomKeyStore",
        "DisconnectCustomKeyStore",
    }
)


def normalize_record(record: Record, where: str, actor: Actor) -> KmsEvent | None:
    """The KMS event of one record, or None when the record is not a KMS call."""
    if record.get("eventSource") != KMS_EVENT_SOURCE:
        return None

    event = _base_event(record, where, actor)
    if event.read_only or event.failed:
        return event

    if event.name in KEY_STORE_CALLS:
        event.details["key_store"] = True
        return event

    reader = READERS.get(event.name)
    if reader is None:
        event.details["unmodelled"] = True
        return event

    reader(event, _mapping(record.get("requestParameters")), _mapping(record))
    return event


def _base_event(record: Record, where: str, actor: Actor) -> KmsEvent:
    name = record.get("eventName")
    if not isinstance(name, str) or not name:
        raise ValueError("eventName is missing or not a string")

    stamp = record.get("eventTime")
    if not isinstance(stamp, str):
        raise ValueError("eventTime is missing or not a string")
    region = str(record.get("awsRegion") or "")
    account = _account(record)
    event = KmsEvent(
        event_id=str(record.get("eventID") or ""),
        name=name,
        time=_event_time(stamp),
        region=region,
        account=account,
        actor=actor,
        where=where,
        read_only=_read_only(record, name),
        error_code=_text(record.get("errorCode")),
        error_message=_text(record.get("errorMessage")),
        service_event=record.get("eventType") == "AwsServiceEvent",
    )

    event.key = _key_from_record(record, region, account)
    if event.key is not None and event.key.region:
        event.region = event.key.region
        event.account = event.key.account or account
    return event


def _event_time(text: str) -> datetime:
    try:
        return parse_event_time(text)
    except ValueError as exc:
        raise ValueError(f"eventTime {text[:40]!r} is not an ISO-8601 time") from exc


def is_read_only(record: Record) -> bool:
    """``readOnly`` as the record says it, else whether the call only reads."""
    return _read_only(record, str(record.get("eventName") or ""))


def _read_only(record: Record, name: str) -> bool:
    flag = record.get("readOnly")
    if isinstance(flag, bool):
        return flag

    if isinstance(flag, str) and flag.lower() in ("true", "false"):
        return flag.lower() == "true"

    return name in READ_ONLY_CALLS


def _account(record: Record) -> str | None:
    account = record.get("recipientAccountId")
    if account:
        return str(account)

    identity = _mapping(record.get("userIdentity"))
    return _text(identity.get("accountId"))


def _key_from_record(record: Record, region: str, account: str | None) -> KeyRef | None:
    """The key a call acted on; an ARN in ``resources`` wins over ``awsRegion``."""
    response = _mapping(record.get("responseElements"))
    metadata = _mapping(response.get("keyMetadata"))
    request = _mapping(record.get("requestParameters"))
    service = _mapping(record.get("serviceEventDetails"))
    candidates: list[Any] = [metadata.get("arn")]
    candidates += [item.get("ARN") for item in _resources(record)]
    candidates += [request.get("keyId"), response.get("keyId"), service.get("keyId")]
    candidates += [request.get("targetKeyId")]

    refs = [parse_key_ref(text) for text in candidates if isinstance(text, str)]
    keys = [ref for ref in refs if ref is not None and ref.key_id is not None]
    with_arn = [ref for ref in keys if ref.region is not None]
    if with_arn:
        return with_arn[0]

    if keys:
        return _placed(keys[0], region, account)

    aliases = [ref for ref in refs if ref is not None and ref.alias is not None]
    return _placed(aliases[0], region, account) if aliases else None


def _placed(ref: KeyRef, region: str, account: str | None) -> KeyRef:
    """A bare id or alias name, placed in the Region and account of the call."""
    if ref.region is not None:
        return ref
    return KeyRef(
        raw=ref.raw,
        key_id=ref.key_id,
        alias=ref.alias,
        region=region or None,
        account=account,
    )


def _resources(record: Record) -> list[Mapping[str, Any]]:
    items = record.get("resources")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# -- readers, one per call ---------------------------------------------------------


def _create_key(event: KmsEvent, request: Record, record: Record) -> None:
    response = _mapping(record.get("responseElements"))
    metadata = _mapping(response.get("keyMetadata"))
    origin = metadata.get("origin") or request.get("origin") or "AWS_KMS"
    event.details["origin"] = origin
    event.details["created"] = True
    values = event.values
    values["description"] = metadata.get("description", request.get("description"))
    values["key_usage"] = metadata.get("keyUsage", request.get("keyUsage"))
    spec = metadata.get("keySpec") or request.get("keySpec")
    values["customer_master_key_spec"] = metadata.get("customerMasterKeySpec", spec)
    values["multi_region"] = bool(
        metadata.get("multiRegion", request.get("multiRegion", False))
    )
    values["key_state"] = metadata.get("keyState") or _created_state(metadata, origin)
    values["tags"] = _tag_dict(request.get("tags"))
    if request.get("policy"):
        values["policy"] = request.get("policy")
    _note_bypass(event, request)


def _created_state(metadata: Record, origin: str) -> str:
    if origin == "EXTERNAL":
        return "PendingImport"
    return "Enabled" if metadata.get("enabled", True) else "Disabled"


def _schedule_key_deletion(event: KmsEvent, request: Record, record: Record) -> None:
    response = _mapping(record.get("responseElements"))
    window = request.get("pendingWindowInDays") or response.get("pendingWindowInDays")
    days = (
        int(window) if isinstance(window, (int, str)) and str(window).isdigit() else 30
    )
    event.details["pending_window_days"] = days
    event.values["key_state"] = response.get("keyState") or "PendingDeletion"
    planned = _parse_deletion_date(response.get("deletionDate"))
    if planned is None:
        planned = event.time + timedelta(days=days)
        event.details["deletion_date_estimated"] = True
    event.values["deletion_date"] = planned.strftime("%Y-%m-%dT%H:%M:%SZ")


_MERIDIEM = re.compile(r"\s*[AP]M\s*$", re.IGNORECASE)


def _parse_deletion_date(text: Any) -> datetime | None:
    """CloudTrail writes this date for people (``Nov 2, 2021, 11:25:25 PM``)."""
    if not isinstance(text, str) or not text.strip():
        return None

    from dateutil import parser, tz

    for candidate in (text, _MERIDIEM.sub("", text)):
        try:
            moment: datetime = parser.parse(candidate)
        except (ValueError, OverflowError):
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz.UTC)
        return moment.astimezone(tz.UTC)

    logger.debug("deletion date %r is not a date; using the pending window", text)
    return None


def _cancel_key_deletion(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["key_state"] = "Disabled"
    event.values["deletion_date"] = None


def _disable_key(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["key_state"] = "Disabled"


def _enable_key(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["key_state"] = "Enabled"


def _put_key_policy(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["policy"] = request.get("policy")
    event.details["policy_name"] = request.get("policyName") or "default"
    _note_bypass(event, request)


def _note_bypass(event: KmsEvent, request: Record) -> None:
    flag = request.get("bypassPolicyLockoutSafetyCheck")
    event.details["bypass_lockout_check"] = flag is True or str(flag).lower() == "true"


def _create_alias(event: KmsEvent, request: Record, record: Record) -> None:
    _read_alias(event, request, record)
    event.values["alias_name"] = event.alias
    event.values["target_key_id"] = _target_id(event)
    event.details["created"] = True


def _update_alias(event: KmsEvent, request: Record, record: Record) -> None:
    _read_alias(event, request, record)
    event.values["target_key_id"] = _target_id(event)


def _delete_alias(event: KmsEvent, request: Record, record: Record) -> None:
    _read_alias(event, request, record)
    event.values["alias_name"] = None
    event.values["target_key_id"] = None
    event.details["deleted"] = True


def _read_alias(event: KmsEvent, request: Record, record: Record) -> None:
    name = request.get("aliasName")
    alias_ref = parse_key_ref(name) if isinstance(name, str) else None
    event.alias = alias_ref.alias if alias_ref is not None else None
    for item in _resources(record):
        ref = parse_key_ref(str(item.get("ARN") or ""))
        if ref is not None and ref.alias is not None and ref.region:
            event.region = ref.region
            event.account = ref.account or event.account

    target = request.get("targetKeyId")
    ref = parse_key_ref(target) if isinstance(target, str) else None
    if ref is not None:
        event.target_key = _placed(ref, event.region, event.account)


def _target_id(event: KmsEvent) -> str | None:
    if event.target_key is None:
        return None
    return event.target_key.key_id or event.target_key.alias


def _enable_key_rotation(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["enable_key_rotation"] = True
    period = request.get("rotationPeriodInDays")
    if isinstance(period, int):
        event.values["rotation_period_in_days"] = period


def _disable_key_rotation(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["enable_key_rotation"] = False


def _tag_resource(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["tags"] = {"set": _tag_dict(request.get("tags"))}


def _untag_resource(event: KmsEvent, request: Record, record: Record) -> None:
    keys = request.get("tagKeys")
    removed = [str(key) for key in keys] if isinstance(keys, list) else []
    event.values["tags"] = {"remove": removed}


def _tag_dict(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise ValueError(f"requestParameters.tags is {type(tags).__name__}, not a list")
    pairs = (_tag_pair(tag) for tag in tags if isinstance(tag, Mapping))
    return {key: value for key, value in pairs if key is not None}


def _tag_pair(tag: Mapping[str, Any]) -> tuple[str | None, str]:
    key = tag.get("tagKey", tag.get("TagKey"))
    value = tag.get("tagValue", tag.get("TagValue", ""))
    return (None if key is None else str(key)), str(value)


def _update_key_description(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["description"] = request.get("description")


def _create_grant(event: KmsEvent, request: Record, record: Record) -> None:
    response = _mapping(record.get("responseElements"))
    grant = {
        "grant_id": response.get("grantId"),
        "grantee_principal": request.get("granteePrincipal"),
        "retiring_principal": request.get("retiringPrincipal"),
        "operations": list(request.get("operations") or []),
        "constraints": request.get("constraints"),
        "name": request.get("name"),
    }
    event.values["grant"] = {key: value for key, value in grant.items() if value}
    event.details["grant_id"] = response.get("grantId")


def _remove_grant(event: KmsEvent, request: Record, record: Record) -> None:
    extra = _mapping(record.get("additionalEventData"))
    grant_id = request.get("grantId") or extra.get("grantId")
    event.details["grant_id"] = grant_id
    event.values["grant"] = None


def _replicate_key(event: KmsEvent, request: Record, record: Record) -> None:
    response = _mapping(record.get("responseElements"))
    metadata = _mapping(response.get("replicaKeyMetadata"))
    region = request.get("replicaRegion") or metadata.get("region")
    event.details["replica_region"] = region
    event.details["created"] = True
    event.details["origin"] = metadata.get("origin") or "AWS_KMS"
    event.values["multi_region"] = True
    policy = response.get("replicaPolicy") or request.get("policy")
    if policy:
        event.values["policy"] = policy
    if event.key is not None and isinstance(region, str):
        event.details["replica_key"] = KeyRef(
            raw=str(metadata.get("arn") or event.key.raw),
            key_id=event.key.key_id,
            region=region,
            account=event.key.account,
        )


def _update_primary_region(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["primary_region"] = request.get("primaryRegion")


def _import_key_material(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["key_material"] = "Imported"
    event.values["key_state"] = "Enabled"
    event.details["expiration_model"] = request.get("expirationModel")
    event.details["valid_to"] = request.get("validTo")


def _delete_imported_key_material(
    event: KmsEvent, request: Record, record: Record
) -> None:
    event.values["key_material"] = "Deleted"
    event.values["key_state"] = "PendingImport"


def _rotate_key_on_demand(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["last_rotation"] = event.timestamp
    event.details["rotation_type"] = "ON_DEMAND"


def _rotate_key(event: KmsEvent, request: Record, record: Record) -> None:
    details = _mapping(record.get("serviceEventDetails"))
    event.values["last_rotation"] = event.timestamp
    event.details["rotation_type"] = details.get("rotationType") or "AUTOMATIC"
    event.service_event = True


def _delete_key(event: KmsEvent, request: Record, record: Record) -> None:
    event.values["key_state"] = "Deleted"
    event.service_event = True


def _synchronize_multi_region_key(
    event: KmsEvent, request: Record, record: Record
) -> None:
    event.service_event = True


def _delete_expired_key_material(
    event: KmsEvent, request: Record, record: Record
) -> None:
    event.values["key_material"] = "Expired"
    event.values["key_state"] = "PendingImport"
    event.service_event = True


READERS: dict[str, Reader] = {
    "CreateKey": _create_key,
    "ScheduleKeyDeletion": _schedule_key_deletion,
    "CancelKeyDeletion": _cancel_key_deletion,
    "DisableKey": _disable_key,
    "EnableKey": _enable_key,
    "PutKeyPolicy": _put_key_policy,
    "CreateAlias": _create_alias,
    "DeleteAlias": _delete_alias,
    "UpdateAlias": _update_alias,
    "EnableKeyRotation": _enable_key_rotation,
    "DisableKeyRotation": _disable_key_rotation,
    "TagResource": _tag_resource,
    "UntagResource": _untag_resource,
    "UpdateKeyDescription": _update_key_description,
    "CreateGrant": _create_grant,
    "RetireGrant": _remove_grant,
    "RevokeGrant": _remove_grant,
    "ReplicateKey": _replicate_key,
    "UpdatePrimaryRegion": _update_primary_region,
    "ImportKeyMaterial": _import_key_material,
    "DeleteImportedKeyMaterial": _delete_imported_key_material,
    "RotateKeyOnDemand": _rotate_key_on_demand,
    "RotateKey": _rotate_key,
    "DeleteKey": _delete_key,
    "SynchronizeMultiRegionKey": _synchronize_multi_region_key,
    "DeleteExpiredKeyMaterial": _delete_expired_key_material,
}


@hookimpl(trylast=True)
def tfdrift_normalize_record(
    record: Mapping[str, Any], where: str, actor: Actor
) -> KmsEvent | None:
    return normalize_record(record, where, actor)
