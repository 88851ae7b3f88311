"""``tfdrift-hook record``: write the receipt of an apply that just succeeded."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.receipts import (
    Receipt,
    ReceiptError,
    ReceiptStore,
    receipt_store,
    state_addresses,
    state_identity,
)
from tfdrift_hook.window import parse_bound

logger = logging.getLogger(__name__)


def run_record_command(options: Mapping[str, Any], stream: TextIO) -> int:
    now = datetime.now(timezone.utc)
    started = _required_time(options.get("started"), now, "--started")
    finished = parse_bound(options.get("finished"), now, "--finished") or now
    stream.write(write_receipt(options, started, finished) + "\n")
    return 0


def write_receipt(
    options: Mapping[str, Any], started: datetime, finished: datetime
) -> str:
    """Write the receipt of the state the apply left; says what went where."""
    directory = Path(options.get("directory") or ".")
    state, where = read_state(options.get("state"), directory)
    lineage, serial = state_identity(state, where)
    principal = options.get("principal")
    if principal is not None and not str(principal).startswith("arn:"):
        msg = f"--principal {principal!r} is not an ARN"
        raise TfdriftError(f"{msg}; give the role or user ARN that applied")
    receipt = Receipt(
        apply_started=started,
        apply_finished=finished,
        lineage=lineage,
        serial=serial,
        principal=principal or caller_arn(),
        terraform_version=state.get("terraform_version"),
        addresses=state_addresses(state),
    )
    store = receipt_store(options.get("receipt") or _configured(options), directory)
    _refuse_older(store, receipt)
    store.write(receipt)
    return f"receipt for serial {serial} of {lineage} -> {store.describe()}"


def read_state(state: Any, directory: Path) -> tuple[dict[str, Any], str]:
    """The raw state: the file given, else ``terraform state pull`` in the directory."""
    if state is not None:
        path = Path(state)
        try:
            return json.loads(path.read_text(encoding="utf-8")), str(path)
        except (OSError, ValueError) as exc:
            raise ReceiptError(f"{path}: cannot read the state: {exc}") from exc

    from tfdrift_hook.terraform_cli import state_pull

    return state_pull(directory), f"terraform state pull in {directory}"


def caller_arn() -> str:
    """Who applied: the caller of these credentials, from STS GetCallerIdentity."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # STS answers in every Region; a machine with no Region set still gets an answer.
    region = boto3.session.Session().region_name or "us-east-1"
    try:
        identity = boto3.client("sts", region_name=region).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        msg = f"cannot ask STS who applied ({exc})"
        raise TfdriftError(f"{msg}; give --principal ARN or AWS credentials") from exc
    return str(identity["Arn"])


def _configured(options: Mapping[str, Any]) -> str | None:
    """The receipt store of the settings file, as ``check`` reads it."""
    import os

    from tfdrift_hook.check_command import configured_receipt
    from tfdrift_hook.config import load_settings

    directory = Path(options.get("directory") or ".")
    settings = load_settings(options, os.environ, directory)
    return configured_receipt(settings, directory)


def _required_time(text: Any, now: datetime, option: str) -> datetime:
    moment = parse_bound(text, now, option)
    if moment is None:
        raise TfdriftError(f"{option} is required: when the apply started (ISO-8601)")
    return moment


def _refuse_older(store: ReceiptStore, receipt: Receipt) -> None:
    """A receipt of an older serial of the same state must not replace a newer one."""
    try:
        existing = store.read()
    except ReceiptError as exc:
        logger.warning("replacing an unreadable receipt: %s", exc)
        return

    if existing is None:
        return
    if existing.lineage != receipt.lineage:
        logger.warning(
            "%s held a receipt of state lineage %s; this state is %s, replacing it",
            store.describe(),
            existing.lineage,
            receipt.lineage,
        )
        return
    if existing.serial > receipt.serial:
        msg = (
            f"{store.describe()} already holds serial {existing.serial}, newer than "
            f"this state's {receipt.serial}"
        )
        raise ReceiptError(f"{msg}; record from the state the apply wrote")
