"""An S3 backend: receipts beside its state object, and its LastModified as a start."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.kms_state import KEY_1234, kms_key, run_cli, write_state
from tfdrift_hook.backend import s3_backend


def initialised(directory: Path, **config: object) -> Path:
    cache = directory / ".terraform" / "terraform.tfstate"
    cache.parent.mkdir(parents=True)
    body = {"version": 3, "backend": {"type": "s3", "config": config}}
    cache.write_text(json.dumps(body), encoding="utf-8")
    return directory


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="tf-state")
        yield client


def test_the_backend_and_workspace_name_the_state_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    initialised(
        tmp_path, bucket="tf-state", key="kms/terraform.tfstate", region="eu-west-1"
    )
    monkeypatch.delenv("TF_WORKSPACE", raising=False)

    default = s3_backend(tmp_path, {})
    (tmp_path / ".terraform" / "environment").write_text("staging", encoding="utf-8")
    staging = s3_backend(tmp_path, {})

    assert default is not None and default.key == "kms/terraform.tfstate"
    assert default.region == "eu-west-1"
    assert staging is not None and staging.key == "env:/staging/kms/terraform.tfstate"
    assert s3_backend(tmp_path, {"TF_WORKSPACE": "prod"}).key == (  # type: ignore[union-attr]
        "env:/prod/kms/terraform.tfstate"
    )


def test_no_backend_cache_or_another_backend_is_none(tmp_path: Path) -> None:
    assert s3_backend(tmp_path, {}) is None
    cache = tmp_path / ".terraform" / "terraform.tfstate"
    cache.parent.mkdir()
    cache.write_text('{"backend": {"type": "gcs", "config": {}}}', encoding="utf-8")
    assert s3_backend(tmp_path, {}) is None


def test_an_s3_receipt_store_goes_beside_the_backends_state_object(
    tmp_path: Path, s3: object
) -> None:
    initialised(tmp_path, bucket="tf-state", key="kms/terraform.tfstate")
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    (tmp_path / ".tfdrift.yml").write_text("receipts:\n  store: s3\n", encoding="utf-8")

    run = run_cli(
        "record",
        "-C",
        tmp_path,
        "--state",
        state,
        "--started",
        "2026-11-30T10:00:00Z",
        "--principal",
        "arn:aws:iam::1:role/ci",
    )

    assert run.exit_code == 0, run.stderr
    assert "s3://tf-state/kms/terraform.tfstate.tfdrift-receipt.json" in run.stdout
    body = s3.get_object(  # type: ignore[attr-defined]
        Bucket="tf-state", Key="kms/terraform.tfstate.tfdrift-receipt.json"
    )["Body"].read()
    assert json.loads(body)["principal"] == "arn:aws:iam::1:role/ci"


def test_the_state_objects_last_modified_is_when_it_was_written(
    tmp_path: Path, s3: object
) -> None:
    initialised(tmp_path, bucket="tf-state", key="kms/terraform.tfstate")
    s3.put_object(Bucket="tf-state", Key="kms/terraform.tfstate", Body=b"{}")  # type: ignore[attr-defined]
    backend = s3_backend(tmp_path, {})

    written = backend.last_modified() if backend else None

    head = s3.head_object(Bucket="tf-state", Key="kms/terraform.tfstate")  # type: ignore[attr-defined]
    assert written == head["LastModified"]
