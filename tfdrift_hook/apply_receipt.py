"""The built-in receipt of each apply (the ``receipt`` plugin), and the apply's start.

After an apply that succeeded it writes the receipt; after one that failed it writes
none, so the next check still starts at the last apply that succeeded. CI systems run
``pre-apply`` and ``post-apply`` as separate steps that share the checkout but not the
environment, so a pre-apply step that lets the apply go ahead notes the start in
``.tfdrift/apply-started`` of the Terraform directory, for post-apply to read.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.lifecycle import ApplyOutcome, HookOutcome, Phase

logger = logging.getLogger(__name__)

START_MARKER = Path(".tfdrift") / "apply-started"
_TIME = "%Y-%m-%dT%H:%M:%SZ"


@hookimpl(trylast=True)
def tfdrift_post_apply(phase: Phase, outcome: ApplyOutcome) -> HookOutcome:
    from tfdrift_hook.record_command import write_receipt

    directory = _directory(phase)
    forget_apply_start(directory)
    if not outcome.succeeded:
        return HookOutcome(
            summary=f"terraform {outcome.command} failed (exit {outcome.exit_code}): "
            "no receipt written, so the next check starts at the last successful apply"
        )

    summary = write_receipt(phase.options, outcome.started, outcome.finished)
    return HookOutcome(summary=summary)


def note_apply_start(directory: Path, moment: datetime) -> None:
    """Write the start time atomically; a post-apply step reads it back."""
    marker = directory / START_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=marker.parent, prefix=".apply-started.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(moment.astimezone(timezone.utc).strftime(_TIME) + "\n")
    os.replace(temporary, marker)


def noted_apply_start(directory: Path) -> datetime | None:
    """The start a pre-apply step noted, or None when none was noted."""
    marker = directory / START_MARKER
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ApplyStartError(f"{marker}: cannot read it ({exc.strerror})") from exc

    try:
        return datetime.strptime(text, _TIME).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        msg = f"{marker}: {text[:40]!r} is not a time pre-apply wrote"
        raise ApplyStartError(f"{msg}; delete it and give --started") from exc


class ApplyStartError(TfdriftError):
    """The start a pre-apply step noted cannot be read."""


def forget_apply_start(directory: Path) -> None:
    (directory / START_MARKER).unlink(missing_ok=True)


def _directory(phase: Phase) -> Path:
    return Path(phase.options.get("directory") or ".")
