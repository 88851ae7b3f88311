"""``--format github``: annotations, a job summary and step outputs for GitHub Actions.

Findings become workflow commands on the report stream (``::error file=...::``), most
severe first and no more than GitHub shows (10 of each level per step, 50 per job);
one notice says how many more there are. The whole report goes to the job summary
(``$GITHUB_STEP_SUMMARY``, under GitHub's 1 MiB a step) and the counts to the step's
outputs (``$GITHUB_OUTPUT``). Both files are appended to: one run may report several
results, and other steps write there too.

Every value someone outside the pipeline can set (tags, alias names, session names,
user agents, the rule outputs that embed them) is escaped the way the runner unescapes
it, so a value can neither end its annotation nor start a command of its own.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.priorities import PRIORITIES
from tfdrift_hook.reporters.escaping import visible_escapes
from tfdrift_hook.reporters.locations import repository_path, repository_root
from tfdrift_hook.reporters.text import counted, describe_actor, finding_counts

if TYPE_CHECKING:
    from tfdrift_hook.findings import Finding
    from tfdrift_hook.pipeline import CheckResult

logger = logging.getLogger(__name__)

FORMAT = "github"

ERROR, WARNING, NOTICE = "error", "warning", "notice"
LEVELS = {
    "emergency": ERROR,
    "alert": ERROR,
    "critical": ERROR,
    "error": ERROR,
    "warning": WARNING,
    "notice": NOTICE,
    "informational": NOTICE,
    "debug": NOTICE,
}

#: Annotations GitHub keeps of each level in one step, and of all levels in one job;
#: those past either limit are dropped without a word.
STEP_LIMIT = 10
JOB_LIMIT = 50

#: GitHub refuses a step's summary above 1 MiB; the margin leaves room for others.
SUMMARY_BYTES = 1024 * 1024
SUMMARY_MARGIN = 48 * 1024
#: Below this, no report fits; a line saying so is written instead.
SUMMARY_MINIMUM = 2 * 1024

#: Longest annotation message; a finding's full text is in the job summary.
MAX_MESSAGE = 4000

#: Annotations already written in this job, by step; ``RUNNER_TEMP`` is emptied at
#: the start and end of every job, so the ledger lives exactly as long as the limits.
LEDGER_NAME = "tfdrift-hook-annotations.json"

# Control, zero-width and direction characters are written as visible escapes (a log
# would show colours or reordered text); line breaks and the characters that end a
# command are percent-encoded, as the runner decodes them.
_INVISIBLE = {
    code: text
    for code, text in visible_escapes().items()
    if code not in (ord("\n"), ord("\r"))
}
_BREAKS: dict[int, str] = {ord("%"): "%25", ord("\r"): "%0D", ord("\n"): "%0A"}
_DATA_ESCAPES: dict[int, str] = {**_INVISIBLE, **_BREAKS}
_PROPERTY_ESCAPES: dict[int, str] = {
    **_DATA_ESCAPES,
    ord(":"): "%3A",
    ord(","): "%2C",
}


def escape_data(text: str) -> str:
    """A message as the runner reads it back: no line break can end the command."""
    return text.translate(_DATA_ESCAPES)


def escape_property(text: str) -> str:
    """A property value: neither ``,`` nor ``::`` can end it early."""
    return text.translate(_PROPERTY_ESCAPES)


@dataclass
class Annotation:
    """One workflow command that shows a message on the run (and on a file's line)."""

    level: str
    message: str
    title: str
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    finding: Finding | None = field(default=None, repr=False)

    def command(self) -> str:
        properties = []
        if self.file is not None:
            properties.append(("file", self.file))
            if self.line is not None:
                properties.append(("line", str(self.line)))
            if self.end_line is not None:
                properties.append(("endLine", str(self.end_line)))
        properties.append(("title", self.title))
        written = ",".join(f"{name}={escape_property(v)}" for name, v in properties)
        return f"::{self.level} {written}::{escape_data(_bounded(self.message))}"


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    left = len(message) - MAX_MESSAGE
    return f"{message[:MAX_MESSAGE]}... ({left} more characters in the job summary)"


@dataclass
class Budget:
    """How many more annotations GitHub will show in this step and this job."""

    step: Counter[str] = field(default_factory=Counter)
    job: int = 0

    def take(self, level: str) -> bool:
        if self.step[level] >= STEP_LIMIT or self.job >= JOB_LIMIT:
            return False
        self.step[level] += 1
        self.job += 1
        return True

    def give_back(self, level: str) -> None:
        self.step[level] -= 1
        self.job -= 1


@dataclass
class Annotations:
    """What is written, and how many findings were left out for GitHub's limits."""

    written: list[Annotation]
    left_out: int


def write_github(
    result: CheckResult, stream: TextIO, environ: Mapping[str, str]
) -> Annotations:
    """Annotations and a summary line on ``stream``; summary and outputs appended."""
    ledger = _ledger_path(environ)
    budget = _read_ledger(ledger, _step_name(environ))
    annotations = select_annotations(result, budget, environ)
    lines = [annotation.command() for annotation in annotations.written]
    lines.append(summary_line(result, annotations))
    stream.write("\n".join(lines) + "\n")
    _write_ledger(ledger, _step_name(environ), budget)
    append_summary(result, environ)
    append_outputs(result, environ, write_report_file(result, environ))
    return annotations


def select_annotations(
    result: CheckResult, budget: Budget, environ: Mapping[str, str]
) -> Annotations:
    """The most severe annotations the budget allows, then the overflow notice."""
    root = repository_root(environ)
    ranked = [_problems_annotation(result)] if result.problems else []
    ranked += [_annotation(result, item, root) for item in _ranked(result.findings)]
    written = [annotation for annotation in ranked if budget.take(annotation.level)]
    left_out = _left_out(ranked, written)
    if left_out and _room_for_notice(written, budget):
        left_out = _left_out(ranked, written)
        written.append(_overflow(left_out, environ))
    return Annotations(written, left_out)


def _left_out(ranked: list[Annotation], written: list[Annotation]) -> int:
    kept = {id(annotation) for annotation in written}
    return sum(
        1 for item in ranked if item.finding is not None and id(item) not in kept
    )


def _ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, waived ones last; then by address and time."""
    return sorted(
        findings,
        key=lambda item: (
            item.waiver is not None,
            -item.severity,
            item.address or "~",
            item.event.timestamp,
        ),
    )


def _room_for_notice(written: list[Annotation], budget: Budget) -> bool:
    """Make room for the overflow notice, dropping the least severe annotation.

    The notice is worth more than one more finding: it says where the others are.
    """
    if budget.take(NOTICE):
        return True
    notices = [i for i, item in enumerate(written) if item.level == NOTICE]
    index = notices[-1] if notices else len(written) - 1
    if index < 0:
        return False

    dropped = written[index]
    budget.give_back(dropped.level)
    if not budget.take(NOTICE):
        budget.take(dropped.level)
        return False
    del written[index]
    return True


def _annotation(result: CheckResult, finding: Finding, root: Path) -> Annotation:
    path = repository_path(result, finding, root)
    location = finding.location if path is not None else None
    # A waived finding does not gate, so it must not read as an error on the run.
    level = NOTICE if finding.waiver is not None else LEVELS[finding.priority]
    waived = "waived " if finding.waiver is not None else ""
    return Annotation(
        level=level,
        message=finding_message(finding),
        title=f"{waived}{finding.priority}: {finding.rule.name} on {_subject(finding)}",
        file=path,
        line=location.line if location is not None else None,
        end_line=location.end_line if location is not None else None,
        finding=finding,
    )


def _subject(finding: Finding) -> str:
    return finding.address or finding.resource or "an unknown resource"


def finding_message(finding: Finding) -> str:
    """What the annotation says: the rule's output, who, when, and the finding's id."""
    event = finding.event
    lines = [
        finding.output,
        f"{event.name} at {event.timestamp} by {describe_actor(event.actor)}",
    ]
    if finding.address:
        lines.append(f"address: {finding.address}")
    lines.append(f"rule: {finding.rule.name} ({finding.priority}), id {finding.id}")
    if finding.waiver is not None:
        lines.append(f"waived, so it does not gate: {finding.waiver.describe()}")
    return "\n".join(lines)


def _problems_annotation(result: CheckResult) -> Annotation:
    problems = result.problems.items
    listed = "\n".join(f"- {problem}" for problem in problems)
    return Annotation(
        level=ERROR,
        title="tfdrift-hook: the check is incomplete",
        message=f"{counted(len(problems), 'input')} could not be read, so a clean "
        f"result cannot be claimed (exit 3):\n{listed}",
    )


def _overflow(left_out: int, environ: Mapping[str, str]) -> Annotation:
    where = (
        "see the job summary"
        if environ.get("GITHUB_STEP_SUMMARY")
        else "see the text report (--format text)"
    )
    more = counted(left_out, "more finding")
    return Annotation(
        level=NOTICE,
        title=f"tfdrift-hook: {more} not annotated",
        message=f"{more} not annotated: GitHub shows {STEP_LIMIT} annotations of "
        f"each level per step and {JOB_LIMIT} per job; {where}.",
    )


def summary_line(result: CheckResult, annotations: Annotations) -> str:
    """The line a person reads in the log; plain text, never a workflow command."""
    parts = [f"tfdrift-hook {result.request.phase}: {finding_counts(result)}"]
    annotated = sum(1 for item in annotations.written if item.finding is not None)
    parts.append(f"{annotated} annotated")
    if annotations.left_out:
        parts.append(f"{annotations.left_out} more in the job summary")
    return "; ".join(parts) + f". {_verdict(result)}"


def _verdict(result: CheckResult) -> str:
    gating, fail_on = len(result.gating()), result.request.fail_on
    if result.problems:
        return "INCOMPLETE: some inputs could not be read (exit 3)."
    if gating:
        return (
            f"{gating} at or above --fail-on {fail_on}: this run is stopped (exit 1)."
        )
    return f"Nothing at or above --fail-on {fail_on} (exit 0)."


# -- the job summary ------------------------------------------------------------------


def append_summary(result: CheckResult, environ: Mapping[str, str]) -> None:
    """The markdown report, appended so that the step's summary stays under 1 MiB."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return

    path = Path(target)
    written = _size(path)
    body = summary_markdown(result, SUMMARY_BYTES - SUMMARY_MARGIN - written)
    if written + len(body.encode("utf-8")) >= SUMMARY_BYTES:
        logger.warning("%s: the step's summary is full; the report is left out", path)
        return

    _append(path, body, "GITHUB_STEP_SUMMARY")


def _append(path: Path, text: str, variable: str) -> None:
    """Append to a file the runner reads; one it cannot open is named, with why."""
    try:
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        from tfdrift_hook.check_command import ReportWriteError

        msg = f"{variable}={path}: cannot append to it ({exc.strerror or exc})"
        raise ReportWriteError(f"{msg}; is the step running on a runner?") from exc


def summary_markdown(result: CheckResult, budget: int) -> str:
    """The report in at most ``budget`` bytes of UTF-8, blank lines around it.

    ``render_markdown`` counts characters; a character may take up to four bytes,
    so the limit shrinks until the bytes fit.
    """
    from tfdrift_hook.reporters.markdown import render_markdown

    if budget < SUMMARY_MINIMUM:
        return _no_room(result)

    limit = budget - 2
    for _ in range(8):
        body = f"\n{render_markdown(result, limit)}\n"
        size = len(body.encode("utf-8"))
        if size <= budget:
            return body
        limit = max(limit * budget // size - 64, 0)
    return _no_room(result)


def _no_room(result: CheckResult) -> str:
    found = counted(len(result.findings), "finding")
    return (
        f"\ntfdrift-hook {result.request.phase}: {found}; the step's summary is full, "
        "so this report is left out (see the annotations and the log).\n"
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- the step's outputs ---------------------------------------------------------------


def step_outputs(result: CheckResult, report: str = "") -> dict[str, str]:
    """``findings``, one count per priority, ``highest``, ``waived``, ``gating``,
    ``complete``, ``report``; waived findings count only as ``waived``."""
    standing = result.standing()
    counts = Counter(finding.priority for finding in standing)
    present = [priority for priority in PRIORITIES if counts[priority]]
    outputs = {"findings": str(len(standing))}
    outputs.update({priority: str(counts[priority]) for priority in PRIORITIES})
    outputs["highest"] = present[0] if present else "none"
    outputs["waived"] = str(len(result.waived()))
    outputs["gating"] = str(len(result.gating()))
    outputs["complete"] = "true" if result.complete else "false"
    outputs["report"] = report
    return outputs


def write_report_file(result: CheckResult, environ: Mapping[str, str]) -> str:
    """The markdown report a later step can post, sized for a pull request comment.

    It goes to --output FILE when given (the annotations stay in the log), else on a
    runner to ``$RUNNER_TEMP/tfdrift-hook/<phase>-report.md``; elsewhere there is
    none and the output is empty.
    """
    path = result.request.report_path
    scratch = environ.get("RUNNER_TEMP")
    if path is None and not scratch:
        return ""
    if path is None:
        path = Path(str(scratch)) / "tfdrift-hook" / f"{result.request.phase}-report.md"

    from tfdrift_hook.check_command import atomic_text
    from tfdrift_hook.reporters.markdown import render_markdown

    with atomic_text(path) as target:
        target.write(render_markdown(result) + "\n")
    return str(path)


def append_outputs(
    result: CheckResult, environ: Mapping[str, str], report: str = ""
) -> None:
    target = environ.get("GITHUB_OUTPUT")
    if not target:
        return

    outputs = step_outputs(result, report)
    text = "".join(output_entry(name, value) for name, value in outputs.items())
    _append(Path(target), text, "GITHUB_OUTPUT")


def output_entry(name: str, value: str) -> str:
    """``name=value``; a value with a line break gets a delimiter it cannot hold."""
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"

    delimiter = f"tfdrift_{uuid.uuid4().hex}"
    while delimiter in value:
        delimiter = f"tfdrift_{uuid.uuid4().hex}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


# -- the ledger of annotations already written in this job ----------------------------


def _ledger_path(environ: Mapping[str, str]) -> Path | None:
    temporary = environ.get("RUNNER_TEMP")
    return Path(temporary) / LEDGER_NAME if temporary else None


def _step_name(environ: Mapping[str, str]) -> str:
    return environ.get("GITHUB_ACTION", "")


def _read_ledger(path: Path | None, step: str) -> Budget:
    """What this job has written so far; outside a runner, a fresh budget."""
    ledger = _load_ledger(path)
    used = ledger["steps"].get(step, {})
    return Budget(Counter({str(k): int(v) for k, v in used.items()}), ledger["job"])


def _load_ledger(path: Path | None) -> dict[str, Any]:
    empty: dict[str, Any] = {"job": 0, "steps": {}}
    if path is None or not path.exists():
        return empty
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
        steps = {
            str(name): {str(k): int(v) for k, v in used.items()}
            for name, used in ledger["steps"].items()
        }
        return {"job": int(ledger["job"]), "steps": steps}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("%s: unreadable (%s); counting annotations afresh", path, exc)
        return empty


def _write_ledger(path: Path | None, step: str, budget: Budget) -> None:
    if path is None:
        return

    ledger = _load_ledger(path)
    ledger["steps"][step] = dict(budget.step)
    ledger["job"] = budget.job
    try:
        path.write_text(json.dumps(ledger), encoding="utf-8")
    except OSError as exc:
        logger.warning("%s: cannot record the annotations written (%s)", path, exc)


@hookimpl(trylast=True)
def tfdrift_report_formats() -> Sequence[str]:
    return [FORMAT]


@hookimpl(trylast=True)
def tfdrift_report(result: CheckResult, format: str, stream: TextIO) -> bool | None:
    if format != FORMAT:
        return None
    write_github(result, stream, os.environ)
    return True
