"""``--format sarif``: SARIF 2.1.0 for code scanning, one result a finding.

The document holds one run. Its rules are the rule set the findings were
judged by, each with a level and a ``security-severity`` from its priority.
Each finding points at the block that declares its address (``main.tf`` lines
5 to 31), relative to the repository root (``GITHUB_WORKSPACE`` in a
workflow). A result carries the finding id as its fingerprint, so the same
finding seen again in a later run is the same alert.

Anything that could not be read becomes an error notification of the run,
and the run is then not successful: an incomplete result never uploads as a
clean one.

Each call writes one whole document. When a command reports several results
to one stream (a lifecycle command reports each hook's result), the stream
holds one document after another, which SARIF tools do not read; give each
its own ``--output`` file.

Code scanning rejects a whole upload when one result lacks a file, and a
finding outside the configuration (a key the state does not have) has none.
Such a result names the address or ARN as a logical location and is also
shown at the first line of the configuration's main file. Without a
configuration directory inside the repository it keeps the logical location
only, and code scanning will refuse the document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tfdrift_hook import __version__
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.reporters.locations import repository_path, repository_root
from tfdrift_hook.reporters.text import describe_actor, safe_line

if TYPE_CHECKING:
    from tfdrift_hook.findings import Finding
    from tfdrift_hook.pipeline import CheckResult
    from tfdrift_hook.rules import Rule
    from tfdrift_hook.waivers import Waiver

FORMAT = "sarif"
SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
    "sarif-schema-2.1.0.json"
)
TOOL_NAME = "tfdrift-hook"
#: Where a result's file is relative to: the repository root.
SOURCE_ROOT = "%SRCROOT%"
#: The ``partialFingerprints`` key that holds the finding id.
FINGERPRINT = "tfdriftFindingId/v1"

#: SARIF has three levels; Falco's eight priorities fold into them.
LEVELS = {
    "emergency": "error",
    "alert": "error",
    "critical": "error",
    "error": "error",
    "warning": "warning",
    "notice": "note",
    "informational": "note",
    "debug": "note",
}

#: Code scanning's scale: 9.0 and up critical, 7.0 high, 4.0 medium, below low.
SECURITY_SEVERITY = {
    "emergency": "10.0",
    "alert": "9.5",
    "critical": "9.0",
    "error": "7.0",
    "warning": "4.0",
    "notice": "2.0",
    "informational": "1.0",
    "debug": "0.5",
}

# Code scanning reads security-severity only from rules tagged "security".
_SECURITY_TAG = "security"

# In SARIF plain text "[text](target)" is a link; a literal bracket or
# backslash is written with a backslash before it, so a tag cannot be a link.
_PLAIN_TEXT = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]"})


def write_sarif(
    result: CheckResult, stream: TextIO, environ: Mapping[str, str] = os.environ
) -> None:
    document = sarif_document(result, repository_root(environ))
    stream.write(json.dumps(document, indent=2, default=str) + "\n")


def sarif_document(result: CheckResult, root: Path) -> dict[str, Any]:
    """The SARIF log of one result, with files relative to ``root``."""
    rules = rules_of(result)
    index = {rule.name: number for number, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {"driver": _driver(rules)},
        "invocations": [_invocation(result)],
        "originalUriBaseIds": {SOURCE_ROOT: {"uri": _directory_uri(root)}},
        "results": [
            _result(result, finding, index[finding.rule.name], root)
            for finding in result.findings
        ],
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def rules_of(result: CheckResult) -> list[Rule]:
    """The rule set's rules, then any rule a finding names that it lacks."""
    listed = result.rules.rules if result.rules is not None else []
    found = [finding.rule for finding in result.findings]
    unique: dict[str, Rule] = {}
    for rule in [*listed, *found]:
        unique.setdefault(rule.name, rule)
    return list(unique.values())


def plain_text(text: str) -> str:
    """``text`` as one line of SARIF plain text: no control codes, no links."""
    return safe_line(text).translate(_PLAIN_TEXT)


def _driver(rules: Iterable[Rule]) -> dict[str, Any]:
    return {
        "name": TOOL_NAME,
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_descriptor(rule) for rule in rules],
    }


def _descriptor(rule: Rule) -> dict[str, Any]:
    description = rule.desc.strip() or rule.name
    tags = list(dict.fromkeys([*rule.tags, _SECURITY_TAG]))
    return {
        "id": rule.name,
        "shortDescription": {"text": plain_text(_first_sentence(description))},
        "fullDescription": {"text": plain_text(description)},
        "defaultConfiguration": {
            "level": LEVELS[rule.priority],
            "enabled": rule.enabled,
        },
        "properties": {
            "tags": tags,
            "priority": rule.priority,
            "security-severity": SECURITY_SEVERITY[rule.priority],
            "source": rule.source,
        },
    }


def _first_sentence(text: str) -> str:
    """What a list of alerts shows; code scanning cuts it at 1024."""
    head, dot, _ = text.partition(". ")
    return (head + dot.strip())[:1024]


def _result(
    result: CheckResult, finding: Finding, rule_index: int, root: Path
) -> dict[str, Any]:
    event = finding.event
    sarif: dict[str, Any] = {
        "ruleId": finding.rule.name,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.priority],
        "message": {"text": _message(finding)},
        "locations": [_location(result, finding, root)],
        "partialFingerprints": {FINGERPRINT: finding.id},
        "properties": {
            "id": finding.id,
            "address": finding.address,
            "resource": finding.resource,
            "user": event.actor.name,
            "event": event.name,
            "event_id": event.event_id,
            "timestamp": event.timestamp,
            "status": finding.candidate.status,
            "priority": finding.priority,
            "region": finding.region,
            "account": event.account,
        },
    }
    if finding.waiver is not None:
        sarif["suppressions"] = [_suppression(finding.waiver)]
    return sarif


def _suppression(waiver: Waiver) -> dict[str, Any]:
    """A waiver as SARIF writes an accepted suppression; inline ones are in source."""
    return {
        "kind": "inSource" if waiver.inline else "external",
        "status": "accepted",
        "justification": plain_text(waiver.describe()),
        "properties": waiver.to_json(),
    }


def _message(finding: Finding) -> str:
    """The rule's output first (code scanning's title), then who and when."""
    event = finding.event
    lines = [
        finding.output,
        f"who: {describe_actor(event.actor)}",
        f"when: {event.name} at {event.timestamp}",
        f"status: {finding.candidate.status}",
    ]
    if finding.waiver is not None:
        lines.append(f"waived: {finding.waiver.describe()}")
    return "\n".join(plain_text(line) for line in lines)


def _location(result: CheckResult, finding: Finding, root: Path) -> dict[str, Any]:
    path = repository_path(result, finding, root)
    where = finding.location
    if path is not None and where is not None:
        end = max(where.end_line, where.line)
        region = {"startLine": where.line, "endLine": end}
        return {"physicalLocation": _physical(path, region), **_logical(finding)}

    location: dict[str, Any] = _logical(finding)
    anchor = _anchor_file(result, root)
    if anchor is not None:
        location["physicalLocation"] = _physical(anchor, {"startLine": 1})
        location["message"] = {
            "text": "not declared in the configuration; shown at its main file"
        }
    return location


def _directory_uri(root: Path) -> str:
    """A base URI must end in a slash to name a directory."""
    return root.as_uri().rstrip("/") + "/"


def _physical(uri: str, region: dict[str, int]) -> dict[str, Any]:
    return {
        "artifactLocation": {"uri": uri, "uriBaseId": SOURCE_ROOT},
        "region": region,
    }


def _logical(finding: Finding) -> dict[str, Any]:
    """The address, else the ARN, else the event: every finding has a name."""
    name = finding.address or finding.resource
    kind = "resource"
    if not name:
        name, kind = f"CloudTrail event {finding.event.event_id}", "object"
    return {"logicalLocations": [{"fullyQualifiedName": name, "kind": kind}]}


def _anchor_file(result: CheckResult, root: Path) -> str | None:
    """The configuration's ``main.tf``, else its first ``.tf``, from ``root``."""
    config_dir = result.request.config_dir
    if config_dir is None:
        return None

    files = sorted(config_dir.glob("*.tf"), key=_main_first)
    if not files:
        return None

    try:
        return files[0].resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _main_first(path: Path) -> tuple[bool, str]:
    return (path.name != "main.tf", path.name)


def _invocation(result: CheckResult) -> dict[str, Any]:
    problems = [
        {
            "level": "error",
            "message": {"text": plain_text(str(problem))},
            "properties": {"where": problem.where, "fix": problem.fix},
        }
        for problem in result.problems.items
    ]
    notes = [
        {"level": "note", "message": {"text": plain_text(note)}}
        for note in result.notes
    ]
    request = result.request
    return {
        "executionSuccessful": result.complete,
        "toolExecutionNotifications": [*problems, *notes],
        "properties": {
            "phase": request.phase,
            "window": request.window.describe(),
            "fail_on": request.fail_on,
            "gating": len(result.gating()),
        },
    }


@hookimpl(trylast=True)
def tfdrift_report_formats() -> Sequence[str]:
    return [FORMAT]


@hookimpl(trylast=True)
def tfdrift_report(result: CheckResult, format: str, stream: TextIO) -> bool | None:
    if format != FORMAT:
        return None
    write_sarif(result, stream)
    return True
