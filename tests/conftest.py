"""Fixtures shared by every test module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
REAL_INPUTS = SHARED / "real-inputs"
#: Environment variables a user may have set that change what a check does.
USER_SETTINGS = (
    "TFDRIFT_CONFIG",
    "TFDRIFT_FAIL_ON",
    "TFDRIFT_SINCE",
    "TFDRIFT_TRUSTED_PRINCIPALS",
    "TFDRIFT_HOOK_DISABLE_PLUGINS",
    "GITHUB_ACTIONS",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name e2e tests in the JUnit report, so ``.ci/run`` can tell they ran."""
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.user_properties.append(("e2e", "true"))


@pytest.fixture(autouse=True)
def _away_from_the_checkout(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test runs in an empty directory of its own.

    A command without ``-C`` checks the working directory, and reads the
    ``.tfdrift.yml`` and ``.tfdrift-waivers.yml`` there: a user's own files at the
    top of their checkout, or settings in their environment (or CI's), must not
    change what the tests see.
    """
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def real_inputs() -> Path:
    """The public inputs beside the project; a user's fresh clone does not have them."""
    if not REAL_INPUTS.is_dir():
        pytest.skip(f"real inputs not found at {REAL_INPUTS} (only beside the project)")
    return REAL_INPUTS


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
