"""The moto server fixture: a reset forgets everything made against it."""

from __future__ import annotations

from typing import Any

import pytest
from moto_terraform import reset_moto

pytestmark = pytest.mark.e2e


def test_reset_forgets_keys_made_with_boto3(empty_moto: str, kms: Any) -> None:
    key = kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")
    key_id = key["KeyMetadata"]["KeyId"]
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key_id]

    reset_moto(empty_moto)

    assert kms.list_keys()["Keys"] == []
