"""The inventory read through the real ``terraform show -json``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tfdrift_hook.inventory import inventory_from_directory

MOTO = Path("terraform") / "tf1.11-aws5.100-moto"
MAIN_KEY = "c98b59bd-75c3-4967-b747-bd70577b73a0"


@pytest.mark.e2e
def test_real_terraform_show_json_of_the_probe_state(
    real_inputs: Path,
    tmp_path: Path,
    terraform_binary: Path,
    provider_mirror: Path,
    terraform_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("main.tf", "terraform.tfstate"):
        (tmp_path / name).write_bytes((real_inputs / MOTO / name).read_bytes())
    init = [str(terraform_binary), "init", "-no-color", "-input=false"]
    subprocess.run(
        init, cwd=tmp_path, env=terraform_env, check=True, capture_output=True
    )
    for name, value in terraform_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TERRAFORM_BINARY", str(terraform_binary))

    inventory = inventory_from_directory(tmp_path)

    assert inventory.source == f"terraform show -json in {tmp_path}"
    assert {resource.address for resource in inventory.resources} == {
        "aws_kms_key.main",
        "aws_kms_key.secondary",
        "aws_kms_key.doomed",
        "aws_kms_alias.main",
    }
    assert inventory.key_id_for_alias("us-east-1", "alias/probe-main") == MAIN_KEY
