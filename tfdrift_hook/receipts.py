"""Receipts: what an apply leaves behind, so the next check starts where it ended.

A receipt names the apply's start and end, the state it produced (lineage and serial),
the principal that applied, the Terraform version and the addresses in the state. The
next check searches from the apply's end; calls made between its start and end by the
applying principal are Terraform's own.

Receipts live in a store: a local file, written atomically (a temporary file in the
same folder, then a rename), or an S3 object (a single PUT is atomic). A receipt whose
lineage is not the state's belongs to another state and is refused.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from tfdrift_hook import __version__
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.trust import ApplyWindow

logger = logging.getLogger(__name__)

RECEIPT_VERSION = 1
#: Where receipts go when nothing else is said, relative to the Terraform directory.
DEFAULT_RECEIPT = Path(".tfdrift") / "receipt.json"
_TIME = "%Y-%m-%dT%H:%M:%SZ"


class ReceiptError(TfdriftError):
    """A receipt that cannot be read, written, or does not belong to this state."""


@dataclass(frozen=True)
class Receipt:
    """One successful apply, as the next check needs to know it."""

    apply_started: datetime
    apply_finished: datetime
    lineage: str
    serial: int
    principal: str | None
    terraform_version: str | None
    addresses: tuple[str, ...] = ()
    tool_version: str = __version__
    version: int = RECEIPT_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def apply_window(self) -> ApplyWindow:
        """The span in which the applying principal's Terraform calls are in band."""
        return ApplyWindow(
            start=self.apply_started,
            end=self.apply_finished,
            addresses=frozenset(self.addresses),
            principal=self.principal,
        )

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["apply_started"] = _text(self.apply_started)
        body["apply_finished"] = _text(self.apply_finished)
        body["addresses"] = list(self.addresses)
        body["extra"] = dict(self.extra)
        return body


def receipt_from_json(body: Mapping[str, Any], where: str) -> Receipt:
    """A receipt from its JSON; raises :class:`ReceiptError` naming what is wrong."""
    try:
        started = _time(body["apply_started"])
        finished = _time(body["apply_finished"])
        receipt = Receipt(
            apply_started=started,
            apply_finished=finished,
            lineage=str(body["lineage"]),
            serial=int(body["serial"]),
            principal=body.get("principal"),
            terraform_version=body.get("terraform_version"),
            addresses=tuple(str(item) for item in body.get("addresses") or ()),
            tool_version=str(body.get("tool_version") or ""),
            version=int(body.get("version") or RECEIPT_VERSION),
            extra=dict(body.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"{where}: not a tfdrift-hook receipt ({type(exc).__name__}: {exc})"
        raise ReceiptError(
            f"{msg}; write a new one with `tfdrift-hook record`"
        ) from exc

    if finished < started:
        raise ReceiptError(f"{where}: the apply finished before it started")
    return receipt


def check_lineage(receipt: Receipt, lineage: str | None, where: str) -> None:
    """Refuse a receipt of another state: its window would be someone else's."""
    if lineage is None or receipt.lineage == lineage:
        return
    msg = (
        f"{where} was written for state lineage {receipt.lineage}, but the state's "
        f"lineage is {lineage}"
    )
    raise ReceiptError(f"{msg}; record a receipt after this state's next apply")


class ReceiptStore(Protocol):
    """Where receipts are kept."""

    def describe(self) -> str: ...

    def read(self) -> Receipt | None: ...

    def write(self, receipt: Receipt) -> None: ...


@dataclass(frozen=True)
class LocalReceiptStore:
    """A receipt in a local file, replaced atomically."""

    path: Path

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> Receipt | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ReceiptError(f"{self.path}: cannot read: {exc.strerror}") from exc
        return receipt_from_json(_loads(text, str(self.path)), str(self.path))

    def write(self, receipt: Receipt) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(receipt.to_json(), indent=2) + "\n"
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", dir=self.path.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.info("receipt written to %s", self.path)


@dataclass(frozen=True)
class S3ReceiptStore:
    """A receipt in an S3 object; one PUT replaces it whole."""

    bucket: str
    key: str
    client: Any

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def read(self) -> Receipt | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise ReceiptError(f"{self.describe()}: cannot read: {exc}") from exc
        text = response["Body"].read().decode("utf-8")
        return receipt_from_json(_loads(text, self.describe()), self.describe())

    def write(self, receipt: Receipt) -> None:
        from botocore.exceptions import ClientError

        body = json.dumps(receipt.to_json(), indent=2).encode("utf-8")
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType="application/json",
            )
        except ClientError as exc:
            raise ReceiptError(f"{self.describe()}: cannot write: {exc}") from exc
        logger.info("receipt written to %s", self.describe())


def receipt_store(target: Any, directory: Path) -> ReceiptStore:
    """``s3://bucket/key``, a path, or ``.tfdrift/receipt.json`` in the directory."""
    text = str(target) if target else ""
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ReceiptError(f"{text}: an S3 receipt is s3://BUCKET/KEY")
        import boto3

        return S3ReceiptStore(bucket, key, boto3.client("s3"))

    return LocalReceiptStore(Path(text) if text else directory / DEFAULT_RECEIPT)


def beside_state_object(state_key: str) -> str:
    """The default receipt key next to an S3 backend's state object."""
    folder, _, name = state_key.rpartition("/")
    receipt = f"{name}.tfdrift-receipt.json"
    return f"{folder}/{receipt}" if folder else receipt


def state_identity(state: Mapping[str, Any], where: str) -> tuple[str, int]:
    """Lineage and serial of a v4 state (``terraform.tfstate``, ``state pull``)."""
    lineage, serial = state.get("lineage"), state.get("serial")
    if not isinstance(lineage, str) or not isinstance(serial, int):
        msg = f"{where}: no lineage and serial, so it is not a state file"
        raise ReceiptError(f"{msg}; give terraform.tfstate or `terraform state pull`")
    return lineage, serial


def state_addresses(state: Mapping[str, Any]) -> tuple[str, ...]:
    """Every managed address of a v4 state, the way Terraform prints them."""
    from tfdrift_hook.inventory import resource_address

    addresses: list[str] = []
    for resource in state.get("resources") or ():
        if not isinstance(resource, Mapping) or resource.get("mode") != "managed":
            continue
        for instance in resource.get("instances") or ():
            addresses.append(
                resource_address(
                    str(resource.get("module") or ""),
                    "managed",
                    str(resource.get("type")),
                    str(resource.get("name")),
                    instance.get("index_key")
                    if isinstance(instance, Mapping)
                    else None,
                )
            )
    return tuple(sorted(addresses))


def _loads(text: str, where: str) -> Mapping[str, Any]:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ReceiptError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(body, Mapping):
        raise ReceiptError(f"{where}: a receipt is a JSON object")
    return body


def _time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"time {text!r} is not a string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_TIME)
