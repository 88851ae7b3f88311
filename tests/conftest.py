"""Fixtures shared by every test module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
REAL_INPUTS = SHARED / "real-inputs"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name e2e tests in the JUnit report, so ``.ci/run`` can tell they ran."""
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.user_properties.append(("e2e", "true"))


@pytest.fixture
def real_inputs() -> Path:
    """The public inputs beside the project; a user's fresh clone does not have them."""
    if not REAL_INPUTS.is_dir():
        pytest.skip(f"real inputs not found at {REAL_INPUTS} (only beside the project)")
    return REAL_INPUTS


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
