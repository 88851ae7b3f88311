"""``tfdrift-hook pre-commit``: the check of each changed Terraform directory.

pre-commit passes the staged files its ``files`` pattern matches. Each root
module holding one of them is checked once, as ``tfdrift-hook check -C DIR``
would check it: the state from ``terraform show -json`` there (or its
``terraform.tfstate``), the settings from its own ``.tfdrift.yml``, the events
of ``--events`` or of those settings. A changed module with no state of its own
is checked through the root above it that has one. A directory that was never
applied has nothing to drift and is skipped with a line that says so.

Every report is printed, findings below the threshold too; the hook definition
sets ``verbose: true`` so that pre-commit shows them when the hook passes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from tfdrift_hook import terraform_cli
from tfdrift_hook.check_command import (
    add_load_failures,
    build_request,
    load_rules,
    report,
    report_format_of,
    report_stream,
    warn_if_empty,
)
from tfdrift_hook.errors import ExitCode, TfdriftError, most_serious
from tfdrift_hook.inventory import InventoryError
from tfdrift_hook.pipeline import run_check
from tfdrift_hook.plugin_manager import Plugins, build_plugin_manager

logger = logging.getLogger(__name__)

#: Names of the files that make a directory a Terraform configuration to check.
TERRAFORM_FILE = re.compile(r"\.(tf|tfvars)(\.json)?$")


_OUTCOME_WORDS = {
    ExitCode.OK: "passed",
    ExitCode.FINDINGS: "stopped by findings at or above the threshold",
    ExitCode.INCOMPLETE: "incomplete, an input could not be read",
    ExitCode.USAGE: "not checked, an error",
}

# A backend or cloud block other than the local one keeps the state elsewhere,
# so a missing terraform.tfstate does not say the directory was never applied.
_REMOTE_STATE = re.compile(
    r'^\s*(backend\s+"(?!local")[^"]+"|"backend"\s*:|cloud)\s*[{:]',
    re.MULTILINE,
)


@dataclass(frozen=True)
class DirectoryOutcome:
    """One directory's outcome; ``skipped`` says why its check did not run."""

    directory: Path
    exit_code: ExitCode
    skipped: str = ""

    def describe(self) -> str:
        if self.skipped:
            return f"{self.directory} skipped ({self.skipped})"
        return f"{self.directory} {_OUTCOME_WORDS[self.exit_code]}"


@dataclass(frozen=True)
class _Run:
    """What the checks of all directories share: options, plugins, streams."""

    options: Mapping[str, Any]
    environ: Mapping[str, str]
    plugins: Plugins
    report_format: str
    stdout: TextIO
    #: The report's stream: standard output, or the one --output file for all.
    target: TextIO


def run_precommit_command(
    options: Mapping[str, Any],
    files: Sequence[Path],
    stdout: TextIO,
    environ: Mapping[str, str],
) -> int:
    changed = terraform_directories(files)
    if not changed:
        given = len(files)
        stdout.write(f"tfdrift-hook: no Terraform file among {given} given\n")
        return int(ExitCode.OK)

    directories = root_directories(changed, Path.cwd(), stdout)

    plugins = build_plugin_manager(environ)
    wanted = options.get("report_format")
    report_format = report_format_of(plugins, wanted, environ)
    with report_stream(options, stdout, report_format) as target:
        run = _Run(options, environ, plugins, report_format, stdout, target)
        outcomes = [_check_directory(run, path) for path in directories]
    code = most_serious(outcome.exit_code for outcome in outcomes)
    stdout.write(final_line(outcomes, code))
    return int(code)


def terraform_directories(files: Iterable[Path]) -> list[Path]:
    """The directories holding the Terraform files among files, once, sorted.

    Files under ``.terraform/`` are the modules and providers that
    ``terraform init`` downloaded, not the configuration being committed.
    """
    paths = [Path(name) for name in files]
    wanted = [path for path in paths if TERRAFORM_FILE.search(path.name)]
    kept = [path for path in wanted if ".terraform" not in path.parts]
    return sorted({path.parent for path in kept})


#: What marks a root module, one that is planned and applied: its state, its
#: ``terraform init``, or its settings for tfdrift-hook.
ROOT_MARKERS = (
    "terraform.tfstate",
    ".terraform",
    "terraform.tfstate.d",
    ".tfdrift.yml",
)


def root_directories(changed: Sequence[Path], top: Path, stdout: TextIO) -> list[Path]:
    """The root modules to check: a changed module is checked through its root.

    A directory with none of :data:`ROOT_MARKERS` is taken for a module that a
    directory above it (up to ``top``, where pre-commit runs) calls; the nearest one
    with a marker is checked in its place, and a line says so. A directory with no
    root above it is kept, and its check says what it lacks.
    """
    roots: list[Path] = []
    for directory in changed:
        root = _root_of(directory, top)
        if root != directory:
            stdout.write(
                f"tfdrift-hook: {directory} holds no state of its own; "
                f"checking {root}, which it belongs to\n"
            )
        if root not in roots:
            roots.append(root)
    return sorted(roots)


def _root_of(directory: Path, top: Path) -> Path:
    here = directory if directory.is_absolute() else top / directory
    for candidate in [here, *here.parents]:
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return directory if candidate == here else _relative(candidate, top)
        if candidate == top:
            break
    return directory


def _relative(path: Path, top: Path) -> Path:
    try:
        return path.relative_to(top) if path != top else Path(".")
    except ValueError:
        return path


def final_line(outcomes: Sequence[DirectoryOutcome], code: ExitCode) -> str:
    described = "; ".join(outcome.describe() for outcome in outcomes)
    return f"tfdrift-hook pre-commit: {described} (exit {int(code)})\n"


def _check_directory(run: _Run, directory: Path) -> DirectoryOutcome:
    """One directory's check and report; its error is printed, not raised.

    One directory that cannot be checked must not hide the others' findings.
    """
    run.stdout.write(f"=== {directory}: tfdrift-hook check -C {directory}\n")
    run.stdout.flush()  # before the check logs anything to standard error
    try:
        code = _check(run, directory)
    except InventoryError as exc:
        reason = never_applied(directory)
        if reason is None:
            return _failed(run, directory, exc)
        run.stdout.write(f"{directory}: skipped, {reason}\n")
        return DirectoryOutcome(directory, ExitCode.OK, "no state yet")
    except TfdriftError as exc:
        return _failed(run, directory, exc)
    return DirectoryOutcome(directory, code)


def _check(run: _Run, directory: Path) -> ExitCode:
    """What ``tfdrift-hook check -C directory`` does, plugins loaded once."""
    options = {**run.options, "directory": directory}
    request = build_request(options, run.environ, datetime.now(timezone.utc))
    warn_if_empty(request.inventory)
    rules = load_rules(run.plugins, request)
    result = run_check(request, run.plugins.manager, rules)
    add_load_failures(result, run.plugins)
    report(result, run.plugins, run.report_format, run.target)
    return result.exit_code()


def _failed(run: _Run, directory: Path, exc: TfdriftError) -> DirectoryOutcome:
    run.stdout.write(f"tfdrift-hook: error: {exc}\n")
    return DirectoryOutcome(directory, exc.exit_code)


def never_applied(directory: Path) -> str | None:
    """Why the directory has no state yet; None when it may have one not read.

    Terraform itself answers where it can: with no state, ``terraform show
    -json`` prints only the format version, whatever the backend. Without
    terraform, only a configuration keeping its state here (no remote backend
    or cloud block) can be told apart, by the absence of ``terraform.tfstate``.
    """
    if (directory / "terraform.tfstate").exists():
        return None

    try:
        binary = terraform_cli.find_terraform()
    except TfdriftError:
        return None
    if binary is not None:
        return _shown_nothing(directory)

    if (directory / "terraform.tfstate.d").exists() or _remote_state(directory):
        return None
    return "never applied: no terraform.tfstate and no remote backend"


def _shown_nothing(directory: Path) -> str | None:
    try:
        document = terraform_cli.show_json(directory)
    except TfdriftError as exc:
        logger.debug("terraform show -json in %s: %s", directory, exc)
        return None
    if "values" in document:
        return None
    return "never applied: `terraform show -json` finds no state"


def _remote_state(directory: Path) -> bool:
    """Whether a ``.tf`` or ``.tf.json`` file names a non-local backend."""
    for path in sorted(directory.glob("*.tf*")):
        if not path.name.endswith((".tf", ".tf.json")):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return True  # unknown, so not known to be unapplied
        if _REMOTE_STATE.search(text):
            return True
    return False
