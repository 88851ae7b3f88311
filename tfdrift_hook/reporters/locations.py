"""Where a finding's resource is written, as a path a code host understands.

A finding's location is relative to the configuration directory the check read. GitHub
annotations and SARIF want it relative to the repository root (``GITHUB_WORKSPACE`` in
a workflow), with forward slashes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfdrift_hook.findings import Finding
    from tfdrift_hook.pipeline import CheckResult


def repository_root(environ: Mapping[str, str] = os.environ) -> Path:
    """The checkout a workflow runs in, else the working directory."""
    return Path(environ.get("GITHUB_WORKSPACE") or ".").resolve()


def repository_path(result: CheckResult, finding: Finding, root: Path) -> str | None:
    """The finding's file relative to ``root`` (``infra/kms/main.tf``), or None.

    None when the finding has no location, or its file lies outside ``root``. An
    absolute location (a waiver file's line) needs no configuration directory.
    """
    location, config_dir = finding.location, result.request.config_dir
    if location is None:
        return None
    if config_dir is None and not location.file.is_absolute():
        return None

    path = (config_dir or Path(".")) / location.file
    path = path.resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None
