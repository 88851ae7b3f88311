"""Receipts: written atomically, read back, refused for another state's lineage."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tfdrift_hook.receipts import (
    LocalReceiptStore,
    Receipt,
    ReceiptError,
    S3ReceiptStore,
    beside_state_object,
    check_lineage,
    receipt_from_json,
    state_addresses,
    state_identity,
)

STARTED = datetime(2026, 11, 23, 16, 39, 55, tzinfo=timezone.utc)
FINISHED = datetime(2026, 11, 23, 16, 40, 30, tzinfo=timezone.utc)
ROLE = "arn:aws:sts::123456789012:assumed-role/terraform-ci/run-42"


def receipt(lineage: str = "lin-1") -> Receipt:
    return Receipt(
        apply_started=STARTED,
        apply_finished=FINISHED,
        lineage=lineage,
        serial=9,
        principal=ROLE,
        terraform_version="1.11.4",
        addresses=("aws_kms_key.app", "aws_kms_alias.app"),
    )


def test_a_local_receipt_round_trips(tmp_path: Path) -> None:
    store = LocalReceiptStore(tmp_path / ".tfdrift" / "receipt.json")

    store.write(receipt())

    body = json.loads(store.path.read_text(encoding="utf-8"))
    assert body["apply_started"] == "2026-11-23T16:39:55Z"
    assert body["apply_finished"] == "2026-11-23T16:40:30Z"
    assert body["lineage"] == "lin-1" and body["serial"] == 9
    assert store.read() == receipt()
    assert [p.name for p in store.path.parent.iterdir()] == ["receipt.json"]


def test_a_missing_receipt_is_none_and_a_broken_one_is_named(tmp_path: Path) -> None:
    store = LocalReceiptStore(tmp_path / "receipt.json")
    assert store.read() is None

    store.path.write_text('{"lineage": "x"}', encoding="utf-8")

    with pytest.raises(ReceiptError) as error:
        store.read()
    assert str(store.path) in str(error.value)
    assert "tfdrift-hook record" in str(error.value)


def test_a_failed_write_leaves_the_old_receipt_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalReceiptStore(tmp_path / "receipt.json")
    store.write(receipt("old"))

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tfdrift_hook.receipts.os.replace", broken)
    with pytest.raises(OSError):
        store.write(receipt("new"))

    assert store.read() == receipt("old")
    assert [p.name for p in tmp_path.iterdir()] == ["receipt.json"]


def test_a_receipt_of_another_lineage_is_refused() -> None:
    with pytest.raises(
        ReceiptError, match="lineage lin-1, but the state's lineage is lin-2"
    ):
        check_lineage(receipt("lin-1"), "lin-2", "receipt.json")

    check_lineage(receipt("lin-1"), "lin-1", "receipt.json")


def test_the_apply_window_trusts_the_applying_principal_for_its_addresses() -> None:
    window = receipt().apply_window()

    assert (window.start, window.end) == (STARTED, FINISHED)
    assert window.principal == ROLE
    assert window.addresses == {"aws_kms_key.app", "aws_kms_alias.app"}


def test_an_apply_that_ends_before_it_starts_is_not_a_receipt() -> None:
    body = receipt().to_json()
    body["apply_finished"] = "2026-11-23T16:00:00Z"

    with pytest.raises(ReceiptError, match="finished before it started"):
        receipt_from_json(body, "r.json")


@mock_aws
def test_an_s3_receipt_round_trips_beside_the_state_object() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="tf-state")
    key = beside_state_object("env/prod/terraform.tfstate")
    store = S3ReceiptStore("tf-state", key, client)

    assert key == "env/prod/terraform.tfstate.tfdrift-receipt.json"
    assert store.read() is None
    store.write(receipt())
    assert store.read() == receipt()


def test_lineage_serial_and_addresses_come_from_the_state() -> None:
    state = json.loads(
        (
            Path(__file__).parent.parent / "examples/terraform/terraform.tfstate"
        ).read_text()
    )

    assert state_identity(state, "x") == ("d5488061-f726-f6dc-a02c-3f52ccf37c6a", 9)
    assert state_addresses(state) == (
        'aws_kms_alias.app["ledger"]',
        'aws_kms_alias.app["payments"]',
        'aws_kms_key.app["ledger"]',
        'aws_kms_key.app["payments"]',
        "module.audit_logs.aws_kms_alias.this",
        "module.audit_logs.aws_kms_key.this",
        "module.audit_logs.aws_kms_key_policy.this",
    )


def test_a_document_without_lineage_is_not_a_state() -> None:
    with pytest.raises(ReceiptError, match="no lineage and serial"):
        state_identity({"format_version": "1.0"}, "show.json")
