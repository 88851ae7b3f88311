"""What Atlantis tells a ``run`` step, read from the environment.

Atlantis runs each ``run`` step of a custom workflow in its own shell with
``PLANFILE``, ``SHOWFILE``, ``DIR``, ``WORKSPACE``, ``PROJECT_NAME``, ``PULL_NUM``,
``PULL_AUTHOR``, ``USER_NAME``, ``COMMENT_ARGS`` and ``ATLANTIS_TERRAFORM_VERSION``
set. Pre- and post-workflow hooks get the pull request's variables (``PULL_NUM``,
``DIR``...) but no plan: no ``PLANFILE``, no ``SHOWFILE``, no Terraform version.

An empty variable means "not given", never zero or an error: an ``export`` in one
step is gone in the next, so a step that reads ``${NAME:-}`` passes an empty string
where the value was meant to be.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.reporters.text import safe_line

#: Set in every ``run`` step of a workflow, and nowhere else.
_RUN_STEP_MARK = "ATLANTIS_TERRAFORM_VERSION"
#: Set in run steps and in workflow hooks alike.
_PULL_MARKS = ("PULL_NUM", "DIR")


class AtlantisPlanError(TfdriftError):
    """The plan JSON Atlantis was to provide is not there."""


@dataclass(frozen=True)
class AtlantisContext:
    """The Atlantis variables of one step; None where a variable is unset or empty."""

    planfile: Path | None = None
    showfile: Path | None = None
    dir: Path | None = None
    workspace: str | None = None
    project_name: str | None = None
    pull_num: str | None = None
    pull_author: str | None = None
    user_name: str | None = None
    comment_args: tuple[str, ...] = ()
    terraform_version: str | None = None

    @property
    def in_run_step(self) -> bool:
        """A workflow's ``run`` step, where the plan variables exist (not a hook)."""
        return self.terraform_version is not None


def atlantis_context(environ: Mapping[str, str] = os.environ) -> AtlantisContext | None:
    """The Atlantis variables, or None when this does not run under Atlantis."""
    marks = (_RUN_STEP_MARK, *_PULL_MARKS)
    if all(_value(environ, name) is None for name in marks):
        return None

    return AtlantisContext(
        planfile=_path(_value(environ, "PLANFILE")),
        showfile=_path(_value(environ, "SHOWFILE")),
        dir=_path(_value(environ, "DIR")),
        workspace=_value(environ, "WORKSPACE"),
        project_name=_value(environ, "PROJECT_NAME"),
        pull_num=_value(environ, "PULL_NUM"),
        pull_author=_value(environ, "PULL_AUTHOR"),
        user_name=_value(environ, "USER_NAME"),
        comment_args=parse_comment_args(environ.get("COMMENT_ARGS", "")),
        terraform_version=_value(environ, _RUN_STEP_MARK),
    )


def _value(environ: Mapping[str, str], name: str) -> str | None:
    """The variable, or None when it is unset, empty or only blanks."""
    text = environ.get(name, "").strip()
    return text or None


def _path(text: str | None) -> Path | None:
    return Path(text) if text is not None else None


def parse_comment_args(text: str) -> tuple[str, ...]:
    """``COMMENT_ARGS`` as the arguments typed after ``--`` in the comment.

    Atlantis joins them with commas after putting a backslash before every
    character (``atlantis plan -- -lock=false a,b`` gives ``\\-\\l...,\\a\\,\\b``),
    so an escaped comma belongs to an argument and a bare one separates two.
    """
    if not text:
        return ()

    arguments, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            arguments.append("".join(current))
            current = []
        else:
            current.append(char)
    arguments.append("".join(current))
    return tuple(argument for argument in arguments if argument)


def plan_json_from_atlantis(
    context: AtlantisContext, required: bool = False
) -> Path | None:
    """``SHOWFILE`` when the plan JSON is there; None when Atlantis names none.

    A ``SHOWFILE`` that names no file is an error: the check would otherwise run
    without the plan it was placed after. With ``required`` (post-plan, which needs
    a plan), a step with no ``SHOWFILE`` at all, such as a workflow hook, is one too.
    """
    showfile = context.showfile
    if showfile is None:
        if required:
            raise AtlantisPlanError(_no_showfile(context))
        return None

    if not showfile.is_file():
        raise AtlantisPlanError(_missing_showfile(showfile))
    return showfile


_INSTEAD = (
    "run tfdrift-hook in a run step of the workflow's plan stage, after "
    "`terraform show -json $PLANFILE > $SHOWFILE`, or give --plan-json FILE "
    "(or --plan PLANFILE)"
)


def _missing_showfile(showfile: Path) -> str:
    return (
        f"SHOWFILE={showfile} does not exist: Atlantis names the plan JSON there but "
        "writes it only when a step runs `terraform show -json`, and pre/post "
        f"workflow hooks do not get the plan at all; {_INSTEAD}"
    )


def _no_showfile(context: AtlantisContext) -> str:
    where = "a run step" if context.in_run_step else "a pre/post workflow hook"
    return (
        f"SHOWFILE is not set (this looks like {where}): Atlantis gives PLANFILE "
        "and SHOWFILE only to the run steps of a workflow, and pre/post workflow "
        f"hooks do not get the plan; {_INSTEAD}"
    )


def describe(context: AtlantisContext) -> str:
    """One line of the values used, ``(not set)`` for each one Atlantis left empty."""
    values = {
        "DIR": context.dir,
        "WORKSPACE": context.workspace,
        "PROJECT_NAME": context.project_name,
        "PULL_NUM": context.pull_num,
        "PULL_AUTHOR": context.pull_author,
        "USER_NAME": context.user_name,
        "PLANFILE": context.planfile,
        "SHOWFILE": context.showfile,
        "COMMENT_ARGS": " ".join(context.comment_args) or None,
        "ATLANTIS_TERRAFORM_VERSION": context.terraform_version,
    }
    shown = ", ".join(
        f"{name}={value if value is not None else '(not set)'}"
        for name, value in values.items()
    )
    # The pull request's author and the comment's arguments are anyone's to choose.
    return safe_line(f"atlantis: {shown}")
