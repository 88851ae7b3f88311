"""``--format markdown``: the report for pull-request comments and job summaries.

A headline says whether the run is stopped and what the exit code means, with the
findings counted by priority; inputs that could not be read come next, so a partial
result never looks clean. Then a table of the findings, most severe first (priority,
rule, address, who, when), and the details of each: what changed, what the plan says,
what to do, and where the resource is written.

The report has to read well in two places. Rendered, in a GitHub job summary or a
comment a workflow posts from ``--output FILE``. And unrendered: Atlantis puts the
output of a ``run`` step inside a code fence in its comment (```` ```diff ```` when the
step passed, a plain fence under "Plan Error" when it failed, which is how a stopped
run shows), where markdown is printed as written. So the report is plain text that
happens to be markdown:

- no HTML, no code fence of its own (a ```` ``` ```` line would close Atlantis' fence
  and let everything after it render), and backticks in values are escaped;
- list items start with ``*``: a diff fence colours lines that start with ``-`` or
  ``+`` as removed or added;
- every line is short. Atlantis reads a step's output line by line and a line of
  64 KiB or more ends what it keeps; each value is capped
  (:data:`~tfdrift_hook.reporters.escaping.MAX_VALUE`, less in table cells);
- a value holding "Refreshing state" is broken with a zero-width joiner: with
  ``output: strip_refreshing`` Atlantis drops every line up to the last one that holds
  those words, which would erase the headline;
- escapes are the fewest that make a value inert (see
  :mod:`tfdrift_hook.reporters.escaping`), so in a fence they cost a backslash here
  and there, and ``&lt;`` where a value holds ``<``.

GitHub refuses a comment over 65,536 characters, and Atlantis splits a longer one.
:func:`render_markdown` stays under ``max_chars`` (65,000 by default, a margin for what
Atlantis puts around it): it drops the details of the least severe findings first,
then their table rows, and says exactly how many were left out and how to see them
all. The limit counts characters, as GitHub does; a surface that counts bytes passes a
smaller one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.reporters.escaping import escape_markdown
from tfdrift_hook.reporters.text import (
    STATUS_WORDS,
    by_priority,
    counted,
    describe_actor,
    plan_notes,
    policy_text,
    remedy_steps,
    value_text,
)

if TYPE_CHECKING:
    from tfdrift_hook.changes import Change
    from tfdrift_hook.findings import Finding
    from tfdrift_hook.pipeline import CheckResult

FORMAT = "markdown"

#: The default size limit: under GitHub's 65,536 characters a comment, with room for
#: the lines Atlantis writes around a step's output.
MAX_CHARS = 65_000

#: Longest value in a table cell; the details below the table carry the rest.
CELL_LIMIT = 160

#: What the problems and the notes may take of the limit, so findings still fit.
_PROBLEM_SHARE = 4
_NOTE_SHARE = 10

_TABLE_HEAD = [
    "| # | priority | rule | address | who | when |",
    "| ---: | --- | --- | --- | --- | --- |",
]

_SEE_ALL = (
    "See every finding with `--format json` (one line a finding), or keep it with "
    "`--output FILE`."
)


def render_markdown(result: CheckResult, max_chars: int = MAX_CHARS) -> str:
    """The report, at most ``max_chars`` characters, summarised to fit."""
    ranked = sorted(result.findings, key=_rank)
    report = _Report(
        head=_headline(result),
        problems=_problems(result, max_chars // _PROBLEM_SHARE),
        rows=[_row(number, item) for number, item in enumerate(ranked, 1)],
        details=[_details(number, item) for number, item in enumerate(ranked, 1)],
        notes=_notes(result, max_chars // _NOTE_SHARE),
        limit=max_chars,
    )
    rows, details = _fit(report, max_chars)
    return _cut(report.render(rows, details), max_chars)


def _rank(finding: Finding) -> tuple[Any, ...]:
    """Most severe first, waived ones last; then by address and time."""
    waived = finding.waiver is not None
    return (waived, -finding.severity, finding.address or "~", finding.event.time)


@dataclass
class _Report:
    """The parts of a report, rendered with as many rows and details as fit."""

    head: list[str]
    problems: list[str]
    rows: list[str]
    details: list[str]
    notes: list[str]
    #: The most characters the report may take.
    limit: int

    def render(self, rows: int, details: int) -> str:
        lines = [*self.head, *self._left_out(rows, details), *self.problems]
        lines += self._table(rows) + self._detail_section(details) + self.notes
        return "\n".join(lines) + "\n"

    def _table(self, rows: int) -> list[str]:
        if not self.rows:
            return ["No finding.", ""]
        lines = ["### Findings, most severe first", "", *_TABLE_HEAD, *self.rows[:rows]]
        left_out = len(self.rows) - rows
        if left_out:
            lines += ["", f"{counted(left_out, 'more finding')} not shown. {_SEE_ALL}"]
        return lines

    def _detail_section(self, details: int) -> list[str]:
        return ["", "### Details", "", *self.details[:details]] if details else [""]

    def _left_out(self, rows: int, details: int) -> list[str]:
        total = len(self.rows)
        if rows == total and details == total:
            return []
        table = f"{total - rows} of {total} findings are left out of the table"
        if rows == total:
            table = f"all {total} findings are in the table"
        return [
            f"Summarised to stay under {self.limit} characters: {table}, and "
            f"{_have(total - details)} no details below it (the least severe are "
            f"left out first). {_SEE_ALL}",
            "",
        ]


def _have(number: int) -> str:
    return f"{number} has" if number == 1 else f"{number} have"


def _fit(report: _Report, max_chars: int) -> tuple[int, int]:
    """How many table rows and details fit: details go first, then rows.

    Each row or block costs its length and the newline that joins it; the guess is
    checked against the rendered text, which also holds the section headings.
    """
    room = max_chars - len(report.render(0, 0))
    table = sum(len(row) + 1 for row in report.rows)
    if table <= room:
        rows, details = len(report.rows), _count_fitting(report.details, room - table)
    else:
        rows, details = _count_fitting(report.rows, room), 0
    while (rows or details) and len(report.render(rows, details)) > max_chars:
        if details:
            details -= 1
        else:
            rows -= 1
    return rows, details


def _count_fitting(pieces: Sequence[str], room: int) -> int:
    """How many of ``pieces``, from the first, fit in ``room`` characters."""
    used = 0
    for count, piece in enumerate(pieces):
        used += len(piece) + 1
        if used > room:
            return count
    return len(pieces)


def _cut(text: str, max_chars: int) -> str:
    """The last resort when even the headline and problems are over the limit."""
    if len(text) <= max_chars:
        return text
    note = f"\n\n(cut at {max_chars} characters; run with --format text for all)\n"
    return text[: max(0, max_chars - len(note))] + note


def _headline(result: CheckResult) -> list[str]:
    request = result.request
    code = int(result.exit_code())
    return [
        f"## tfdrift-hook {escape_markdown(request.phase)}: {_verdict(result)} "
        f"(exit {code})",
        "",
        _verdict_sentence(result),
        "",
        f"Findings: {_counts(result)}.",
        "",
        *_inputs(result),
        "",
    ]


def _verdict(result: CheckResult) -> str:
    if result.problems:
        return "INCOMPLETE"
    return "STOPPED" if result.gating() else "not stopped"


def _verdict_sentence(result: CheckResult) -> str:
    gating, fail_on = result.gating(), escape_markdown(result.request.fail_on)
    at_or_above = f"{counted(len(gating), 'finding')} at or above --fail-on {fail_on}"
    if result.problems:
        also = f"; {at_or_above}" if gating else ""
        return (
            "Some inputs could not be read (listed first), so this result is not "
            f"clean, whatever it shows{also}."
        )
    if gating:
        return f"{at_or_above}: this run is stopped."
    below = len(result.standing())
    listed = f" {counted(below, 'finding')} below it, for review." if below else ""
    return f"Nothing at or above --fail-on {fail_on}.{listed}"


def _counts(result: CheckResult) -> str:
    """Findings by priority; waived ones apart, as they do not gate."""
    waived = len(result.waived())
    findings = result.standing()
    text = f"{len(findings)} ({by_priority(findings)})" if findings else "none"
    return f"{text}, {waived} waived" if waived else text


def _inputs(result: CheckResult) -> list[str]:
    """What was read, one item each: state, plan, window, events."""
    request, stats = result.request, result.stats
    inventory = request.inventory
    lines = [
        f"* state: {counted(len(inventory.resources), 'managed KMS resource')} from "
        f"{escape_markdown(inventory.source)}",
    ]
    if request.plan is not None:
        lines.append(f"* plan: {escape_markdown(request.plan.source)}")
    reason = (
        f" ({escape_markdown(request.window_reason)})" if request.window_reason else ""
    )
    lines.append(f"* window: {escape_markdown(request.window.describe())}{reason}")
    sources = ", ".join(escape_markdown(name) for name in stats.sources) or "none"
    lines.append(
        f"* events: {counted(stats.kms_records, 'KMS record')} from {sources} "
        f"({stats.writes} writes, {stats.in_band} in band)"
    )
    return lines


def _problems(result: CheckResult, room: int) -> list[str]:
    """Every problem that fits in ``room``, then how many more there are."""
    items = result.problems.items
    if not items:
        return []
    lines = [f"### INCOMPLETE: {counted(len(items), 'input')} could not be read", ""]
    used = 0
    for shown, problem in enumerate(items):
        line = f"* {escape_markdown(problem)}"
        used += len(line) + 1
        if used > room:
            lines.append(
                f"* and {len(items) - shown} more: run with --format text to see "
                "them all"
            )
            break
        lines.append(line)
    return [*lines, ""]


def _notes(result: CheckResult, room: int) -> list[str]:
    if not result.notes:
        return []
    lines, used = ["### Notes", ""], 0
    for shown, note in enumerate(result.notes):
        line = f"* {escape_markdown(note)}"
        used += len(line) + 1
        if used > room:
            lines.append(f"* and {len(result.notes) - shown} more notes")
            break
        lines.append(line)
    return [*lines, ""]


def _row(number: int, finding: Finding) -> str:
    cells = [
        str(number),
        finding.priority.upper() + (" (waived)" if finding.waiver else ""),
        escape_markdown(finding.rule.name, CELL_LIMIT),
        escape_markdown(_address(finding), CELL_LIMIT),
        escape_markdown(finding.event.actor.name, CELL_LIMIT) or "(unknown)",
        escape_markdown(finding.event.timestamp, CELL_LIMIT),
    ]
    return "| " + " | ".join(cells) + " |"


def _address(finding: Finding) -> str:
    if finding.address:
        return finding.address
    if finding.candidate.stale_waiver is not None:
        return f"waiver {finding.resource}"
    kind = finding.candidate.target.terraform_type or "resource"
    return f"(not in state: {kind}) {finding.resource}"


def _details(number: int, finding: Finding) -> str:
    waived = " (waived)" if finding.waiver is not None else ""
    lines = [
        f"#### {number}. {finding.priority.upper()}{waived} "
        f"{escape_markdown(finding.rule.name)}: {escape_markdown(_address(finding))}",
        "",
        f"* what: {escape_markdown(finding.output)}",
        *_waiver_lines(finding),
        *_location(finding),
        *_changes(finding),
        *_plan(finding),
    ]
    return "\n".join([*lines, ""])


def _waiver_lines(finding: Finding) -> list[str]:
    """Who waived the finding, or the stale waiver it reports, else the event."""
    status = STATUS_WORDS.get(finding.candidate.status, finding.candidate.status)
    stale = finding.candidate.stale_waiver
    if stale is not None:
        described = escape_markdown(stale.describe())
        return [f"* {escape_markdown(status)}: {described} ({finding.id})"]

    event = finding.event
    lines = [
        f"* event: {escape_markdown(event.name)} at {event.timestamp}, "
        f"{escape_markdown(status)} ({finding.id})",
        f"* who: {escape_markdown(describe_actor(event.actor))}",
    ]
    if finding.waiver is not None:
        lines.append(f"* waived: {escape_markdown(finding.waiver.describe())}")
    return lines


def _location(finding: Finding) -> list[str]:
    where = finding.location
    if where is None:
        return []
    return [f"* written at: {escape_markdown(where.file.as_posix())}:{where.line}"]


def _changes(finding: Finding) -> list[str]:
    candidate = finding.candidate
    lines = [f"* change: {_change_text(change)}" for change in candidate.changes]
    for related in candidate.related:
        lines.append(
            f"* also: {escape_markdown(related.name)} at {related.timestamp} by "
            f"{escape_markdown(related.actor.name)}"
        )
    return lines


def _change_text(change: Change) -> str:
    """``attribute: before -> after``, each value escaped, the arrow kept plain."""
    detail, attribute = change.detail, escape_markdown(change.attribute)
    if detail.get("unchanged"):
        return f"{attribute}: unchanged (the call wrote what was there)"

    mark = " (reverted)" if change.reverted else ""
    if change.attribute == "policy":
        return f"{attribute}: {escape_markdown(policy_text(detail))}{mark}"

    if change.attribute == "tags":
        return f"{attribute}: {_tags_text(detail)}{mark}"

    before, after = (
        escape_markdown(value_text(change.before)),
        escape_markdown(value_text(change.after)),
    )
    return f"{attribute}: {before} -> {after}{mark}"


def _tags_text(detail: dict[str, Any]) -> str:
    added = detail.get("added", {})
    parts = [
        "added "
        + ", ".join(
            f"{escape_markdown(k)}={escape_markdown(v)}" for k, v in added.items()
        )
        if added
        else "",
        "removed " + ", ".join(escape_markdown(k) for k in detail.get("removed", []))
        if detail.get("removed")
        else "",
        "modified " + ", ".join(escape_markdown(k) for k in detail.get("modified", {}))
        if detail.get("modified")
        else "",
    ]
    return "; ".join(part for part in parts if part) or "changed"


def _plan(finding: Finding) -> list[str]:
    """What the plan beside the check says, why no event explains it, what to do."""
    lines = [
        f"* {label}: {escape_markdown(text)}" for label, text in plan_notes(finding)
    ]
    steps = remedy_steps(finding)
    if steps:
        lines.append("* to fix:")
        lines += [f"  * {escape_markdown(step)}" for step in steps]
    return lines


@hookimpl(trylast=True)
def tfdrift_report_formats() -> Sequence[str]:
    return [FORMAT]


@hookimpl(trylast=True)
def tfdrift_report(result: CheckResult, format: str, stream: TextIO) -> bool | None:
    if format != FORMAT:
        return None
    stream.write(render_markdown(result))
    return True
