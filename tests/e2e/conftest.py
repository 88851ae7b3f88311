"""Fixtures for the end-to-end tests: real terraform, a moto server, an applied example.

A machine without terraform or the provider mirror skips these tests with a reason
that names what is missing; ``.ci/run`` turns such a skip into a failed run. Applying
the example costs 20-40 s, so one applied copy is shared by the whole session. Tests
that change AWS out of band take ``applied_example_to_change`` (or call
``BaselineCache.taint``), and the next test that wants a clean baseline gets a fresh
apply; a moto reset by anyone is noticed the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_terraform import (
    PROJECT_ROOT,
    AppliedExample,
    BaselineCache,
    find_provider_mirror,
    find_terraform,
    kms_client,
    moto_server,
    reset_moto,
    terraform_environment,
    write_cli_config,
)


@pytest.fixture(scope="session")
def terraform_binary() -> Path:
    """The terraform binary (PATH or TFDRIFT_TERRAFORM); skips when there is none."""
    found = find_terraform()
    if isinstance(found, str):
        pytest.skip(f"end-to-end test needs terraform: {found}")
    return found


@pytest.fixture(scope="session")
def provider_mirror() -> Path:
    """The provider mirror (TFDRIFT_PROVIDER_MIRROR); skips when it lacks aws."""
    found = find_provider_mirror()
    if isinstance(found, str):
        pytest.skip(f"end-to-end test needs the AWS provider offline: {found}")
    return found


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server on a free loopback port, for the whole session."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def empty_moto(moto_endpoint: str) -> str:
    """The moto server, emptied before the test (the shared baseline notices)."""
    reset_moto(moto_endpoint)
    return moto_endpoint


@pytest.fixture(scope="session")
def terraform_cli_config(
    tmp_path_factory: pytest.TempPathFactory, provider_mirror: Path
) -> Path:
    """A CLI config installing providers from the mirror only; no checkpoint calls."""
    return write_cli_config(tmp_path_factory.mktemp("terraform-cli"), provider_mirror)


@pytest.fixture(scope="session")
def terraform_env(terraform_cli_config: Path) -> dict[str, str]:
    """Environment for terraform: offline, unattended, moto's dummy credentials."""
    return terraform_environment(terraform_cli_config)


@pytest.fixture(scope="session")
def baseline_cache(
    tmp_path_factory: pytest.TempPathFactory,
    moto_endpoint: str,
    terraform_binary: Path,
    terraform_env: dict[str, str],
) -> BaselineCache:
    """The one applied example of the session, applied on first use."""

    def new_directory() -> Path:
        return tmp_path_factory.mktemp("example")

    return BaselineCache(new_directory, moto_endpoint, terraform_binary, terraform_env)


@pytest.fixture
def applied_example(baseline_cache: BaselineCache) -> AppliedExample:
    """examples/terraform after init, apply, apply -refresh-only; do not change it."""
    return baseline_cache.get()


@pytest.fixture
def applied_example_to_change(
    baseline_cache: BaselineCache,
) -> Iterator[AppliedExample]:
    """Like ``applied_example``, for a test that changes it out of band."""
    yield baseline_cache.get()
    baseline_cache.taint()


@pytest.fixture(scope="session")
def kms(moto_endpoint: str) -> Any:
    """A boto3 KMS client talking to the moto server."""
    return kms_client(moto_endpoint)


@pytest.fixture(scope="session")
def committed_example_state() -> dict[str, Any]:
    """examples/terraform/terraform.tfstate as committed."""
    path = PROJECT_ROOT / "examples" / "terraform" / "terraform.tfstate"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
