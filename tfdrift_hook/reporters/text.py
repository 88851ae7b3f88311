"""``--format text``: the report for people, findings grouped by address.

Each finding says what changed (before and after), who made the change, when, and
through which channel. The header says what was read; the footer says whether the run
is gated, and by what. Anything that could not be read is listed before the findings,
so a partial result is never mistaken for a clean one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any, TextIO

from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.priorities import PRIORITIES
from tfdrift_hook.reporters.escaping import visible_escapes

if TYPE_CHECKING:
    from tfdrift_hook.actors import Actor
    from tfdrift_hook.changes import Change
    from tfdrift_hook.findings import Finding
    from tfdrift_hook.pipeline import CheckResult

FORMAT = "text"

STATUS_WORDS = {
    "out_of_band": "out of band",
    "in_band": "in band",
    "reverted": "out of band, reverted in the window",
    "failed_attempt": "failed attempt",
    "unmanaged": "not in the Terraform state",
    "unattributable": "key not resolvable",
    "terraform_outside_pipeline": "Terraform run outside the pipeline",
    "aws_service": "by AWS",
    "unmodelled": "a call this version does not model",
    "coverage_gap": "the trail may not record this Region's KMS calls",
    "unexplained_drift": "drift in the plan that no event of the window explains",
    "guardrail": "what this apply would do",
    "waiver_expired": "a waiver past its expiry date",
    "waiver_unused": "a waiver that matched no finding",
}

PLAN_WORDS = {
    "explained": "the plan shows this drift; this event made it",
    "net_zero": "the plan shows no drift left (changed back, or as configured)",
}


#: Longest line written; values anyone can set (tags, names) must not flood a log.
MAX_LINE = 2000

# Control characters, zero-width characters and bidirectional overrides in values that
# someone outside the pipeline can set (tags, descriptions, user names) would let them
# move the cursor, clear the screen, hide text or print fake summary lines; they are
# written as escapes instead.
_UNSAFE = visible_escapes()


def write_text(result: CheckResult, stream: TextIO) -> None:
    lines = [*_header(result), *_problems(result), *_findings(result.findings)]
    lines += [*_notes(result), *_footer(result)]
    stream.write("\n".join(safe_line(line) for line in lines) + "\n")


def safe_line(line: str) -> str:
    """One line as it may reach a terminal: no control characters, bounded length."""
    text = line.translate(_UNSAFE)
    if len(text) <= MAX_LINE:
        return text
    return f"{text[:MAX_LINE]}... ({len(text) - MAX_LINE} more characters)"


def _header(result: CheckResult) -> list[str]:
    request, stats = result.request, result.stats
    inventory = request.inventory
    sources = ", ".join(
        f"{name} ({stats.failed_sources[name]} problems)"
        if name in stats.failed_sources
        else name
        for name in stats.sources
    )
    live = [name for name in stats.sources if name != "files"]
    settled = request.settled_until
    complete = (
        [f"complete up to: {settled:%Y-%m-%dT%H:%M:%SZ} (CloudTrail delivers late)"]
        if live and settled is not None
        else []
    )
    plan = request.plan
    planned = (
        [
            f"plan: {plan.source}: "
            f"{counted(_real_drift(plan), 'KMS resource')} drifted, "
            f"{counted(len(plan.changes), 'planned change')}"
        ]
        if plan is not None
        else []
    )
    return [
        f"tfdrift-hook {request.phase}: "
        f"{counted(len(inventory.resources), 'managed KMS resource')} "
        f"from {inventory.source}",
        *planned,
        f"window: {request.window.describe()}"
        + (f" ({request.window_reason})" if request.window_reason else ""),
        f"events: {counted(stats.kms_records, 'KMS record')} from {sources} "
        f"({stats.writes} writes, {stats.reads} reads, {stats.in_band} in band, "
        f"{stats.failed_attempts} failed, {stats.duplicates} duplicates)",
        *complete,
        "",
    ]


def counted(number: int, noun: str) -> str:
    """``1 finding``, ``2 findings``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _real_drift(plan: Any) -> int:
    """Resources that drifted in earnest; policy order and the like do not count."""
    return sum(1 for item in plan.drift if item.deleted or item.attributes)


def _problems(result: CheckResult) -> list[str]:
    if not result.problems:
        return []
    lines = [f"INCOMPLETE: {counted(len(result.problems), 'input')} could not be read:"]
    lines += [f"  - {problem}" for problem in result.problems.items]
    return [*lines, ""]


def _findings(findings: Sequence[Finding]) -> list[str]:
    lines: list[str] = []
    ordered = sorted(findings, key=_group_key)
    for (address, resource), group in groupby(ordered, key=_group_key):
        items = sorted(group, key=_most_severe_first)
        lines.append(_group_title(items[0], address, resource))
        for finding in items:
            lines += _finding(finding)
        lines.append("")
    return lines


#: Sorts after every address, so findings outside the state come last.
_NO_ADDRESS = "~"


def _group_title(finding: Finding, address: str, resource: str) -> str:
    if finding.candidate.stale_waiver is not None:
        return f"waiver {resource}"
    kind = finding.candidate.target.terraform_type or "resource"
    title = address if address != _NO_ADDRESS else f"(not in state: {kind})"
    return f"{title}  {resource}"


def _most_severe_first(finding: Finding) -> tuple[int, str]:
    return (-finding.severity, finding.event.timestamp)


def _group_key(finding: Finding) -> tuple[str, str]:
    return (finding.address or _NO_ADDRESS, finding.resource)


def _finding(finding: Finding) -> list[str]:
    event = finding.event
    status = STATUS_WORDS.get(finding.candidate.status, finding.candidate.status)
    mark = "  (waived)" if finding.waiver is not None else ""
    lines = [
        f"  {finding.priority.upper()}  {finding.rule.name}  [{finding.id}]{mark}",
        f"    {finding.output}",
    ]
    if finding.waiver is not None:
        lines.append(f"    waived: {finding.waiver.describe()}")
    stale = finding.candidate.stale_waiver
    if stale is not None:
        return [*lines, f"    {status}: {stale.describe()}"]

    lines += [
        f"    {event.name} at {event.timestamp}, {status}",
        f"    who: {describe_actor(event.actor)}",
    ]
    if finding.location is not None:
        where = finding.location
        lines.append(f"    written at: {where.file.as_posix()}:{where.line}")
    lines += [f"    {text}" for text in _change_lines(finding.candidate.changes)]
    for related in finding.candidate.related:
        lines.append(
            f"    also: {related.name} at {related.timestamp} by {related.actor.name}"
        )
    usage = finding.candidate.context.get("key_usage")
    if usage:
        callers = ", ".join(usage["top_callers"])
        uses = usage.get("uses", 0)
        lines.append(
            f"    key still used: {usage['reads']} reads in the window, {uses} of "
            f"them cryptographic ({callers})"
        )
    return lines + _plan_lines(finding)


def _plan_lines(finding: Finding) -> list[str]:
    """What the plan beside the check says about this finding, and what to do."""
    lines = [f"    {label}: {text}" for label, text in plan_notes(finding)]
    steps = remedy_steps(finding)
    if steps:
        lines.append("    to fix:")
        lines += [f"      {step}" for step in steps]
    return lines


def plan_notes(finding: Finding) -> list[tuple[str, str]]:
    """What the plan beside the check says of a finding, as (label, text) pairs.

    Every report shows the same facts; each writes and escapes them its own way.
    """
    context, details = finding.candidate.context, finding.event.details
    notes = []
    label = context.get("plan")
    if label in PLAN_WORDS:
        notes.append(("plan", PLAN_WORDS[label]))
    undone = context.get("undone_by_plan")
    if isinstance(undone, dict):
        actions = "/".join(undone.get("actions") or ["update"])
        event = finding.event
        notes.append(
            (
                "plan",
                f"this plan ({actions}) sets {undone.get('attribute')} back, undoing "
                f"{event.actor.name}'s change of {event.timestamp}",
            )
        )
    if finding.candidate.status == "unexplained_drift" and details.get("explanation"):
        notes.append(("why no event", str(details["explanation"])))
    return notes


def remedy_steps(finding: Finding) -> list[str]:
    """The commands or steps a guardrail gives to keep a key or to decide."""
    return [str(step) for step in finding.candidate.context.get("remedy") or ()]


def describe_actor(actor: Actor) -> str:
    """``alice (AssumedRole of arn:...:role/Admin, console, MFA)``."""
    parts = [actor.type]
    principal = actor.role_arn or actor.arn
    if principal:
        parts[0] = f"{actor.type} {principal}"
    parts.append(f"via {actor.channel}")
    if actor.mfa:
        parts.append("MFA")
    if actor.source_ip:
        parts.append(f"from {actor.source_ip}")
    return f"{actor.name} ({', '.join(parts)})"


def _change_lines(changes: Iterable[Change]) -> list[str]:
    lines: list[str] = []
    for change in changes:
        if change.detail.get("unchanged"):
            lines.append(
                f"{change.attribute}: unchanged (the call wrote what was there)"
            )
            continue
        mark = " (reverted)" if change.reverted else ""
        lines.append(f"{change.attribute}: {_change_text(change)}{mark}")
    return lines


def _change_text(change: Change) -> str:
    detail = change.detail
    if change.attribute == "policy":
        return policy_text(detail)

    if change.attribute == "tags":
        added = ", ".join(f"{k}={v}" for k, v in detail.get("added", {}).items())
        removed = ", ".join(detail.get("removed", []))
        modified = ", ".join(detail.get("modified", {}))
        parts = [f"+{{{added}}}" if added else "", f"-[{removed}]" if removed else ""]
        parts.append(f"~[{modified}]" if modified else "")
        return " ".join(part for part in parts if part) or "changed"

    return f"{value_text(change.before)} -> {value_text(change.after)}"


def policy_text(detail: dict[str, Any]) -> str:
    parts = []
    for label, key in (
        ("added principals", "added_principals"),
        ("removed principals", "removed_principals"),
        ("external", "external_principals"),
        ("public", "wildcard_principals"),
    ):
        values = detail.get(key)
        if values:
            parts.append(f"{label} {', '.join(values)}")
    if detail.get("lockout_risk"):
        parts.append("LOCKOUT RISK: the account's own admin statement is gone")
    if detail.get("bypass_lockout_check"):
        parts.append("lockout safety check bypassed")
    if detail.get("policy_error"):
        parts.append(str(detail["policy_error"]))
    return "; ".join(parts) or "statements changed, principals the same"


def value_text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)


def _notes(result: CheckResult) -> list[str]:
    if not result.notes:
        return []
    return ["notes:", *[f"  - {note}" for note in result.notes], ""]


def _footer(result: CheckResult) -> list[str]:
    lines = [f"{finding_counts(result)}."]
    gating = result.gating()
    if result.problems:
        stopped = f", and {len(gating)} at or above --fail-on" if gating else ""
        lines.append(
            f"Result INCOMPLETE: some inputs could not be read{stopped} (exit 3)."
        )
    elif gating:
        lines.append(
            f"{len(gating)} at or above --fail-on {result.request.fail_on}: "
            "this run is stopped (exit 1)."
        )
    else:
        lines.append(
            f"Nothing at or above --fail-on {result.request.fail_on} (exit 0)."
        )
    return lines


def finding_counts(result: CheckResult) -> str:
    """``3 findings (1 error, 2 warning), 1 waived``: waived ones counted apart."""
    waived = result.waived()
    standing = result.standing()
    text = f"{counted(len(standing), 'finding')} ({by_priority(standing) or 'none'})"
    return f"{text}, {len(waived)} waived" if waived else text


def by_priority(findings: Sequence[Finding]) -> str:
    """``1 error, 2 warning``: how many of each priority, most severe first."""
    counts = Counter(finding.priority for finding in findings)
    return ", ".join(f"{counts[p]} {p}" for p in PRIORITIES if counts[p])


@hookimpl(trylast=True)
def tfdrift_report_formats() -> Sequence[str]:
    return [FORMAT]


@hookimpl(trylast=True)
def tfdrift_report(result: CheckResult, format: str, stream: TextIO) -> bool | None:
    if format != FORMAT:
        return None
    write_text(result, stream)
    return True
