"""Waivers: findings a named owner accepts, for a stated reason, until a date.

A waiver does not hide a finding: the finding is still reported, marked waived with
the owner and the reason, and does not gate. A waiver past its date waives nothing and
is itself judged as a finding (rule ``tfdrift_waiver_expired``), and so is one that
matched nothing (``tfdrift_waiver_unused``), so that stale entries get cleaned up
rather than pile up.

Waivers are read from ``.tfdrift-waivers.yml`` in the Terraform directory, from the
files ``waiver_files`` in ``.tfdrift.yml`` or ``--waivers`` name, and from the
``waivers:`` list of ``.tfdrift.yml``. A file is a YAML list of entries, or a mapping
whose ``waivers:`` key holds that list. A broken entry is a problem of the run (exit
3) that names its file and line; it waives nothing, and the other entries still apply.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tfdrift_hook.actors import Actor
from tfdrift_hook.events import KmsEvent
from tfdrift_hook.hcl_source import SourceLocation, config_address
from tfdrift_hook.problems import Problem, brief
from tfdrift_hook.resolution import Subject, Target

if TYPE_CHECKING:
    from tfdrift_hook.findings import Candidate, Finding

DEFAULT_FILE = ".tfdrift-waivers.yml"

#: The ``status`` of the stand-in candidates made for stale waivers.
WAIVER_EXPIRED = "waiver_expired"
WAIVER_UNUSED = "waiver_unused"

#: What an entry may say; an unknown key is an error, since ignoring a misspelt
#: ``adress`` would waive the rule everywhere.
ENTRY_KEYS = (
    "rule",
    "address",
    "attribute",
    "actor",
    "event_id",
    "owner",
    "reason",
    "expires",
)
_MATCH_KEYS = ("rule", "address", "attribute", "actor", "event_id")
_WILDCARDS = frozenset("*?")


@dataclass(frozen=True)
class Waiver:
    """One accepted finding pattern, with who accepts it, why, and until when."""

    owner: str
    reason: str
    #: Good through the end of this day, UTC; None only for inline waivers.
    expires: datetime.date | None
    #: An fnmatch glob on the rule name.
    rule: str | None = None
    #: A glob on the finding's address or on its key's address.
    address: str | None = None
    #: One of the attributes the finding's change moved.
    attribute: str | None = None
    #: A glob on the actor's name or ARN.
    actor: str | None = None
    event_id: str | None = None
    #: Where the waiver is written, as ``FILE:LINE``.
    source: str = ""
    inline: bool = False

    def expired(self, today: datetime.date) -> bool:
        """Past its date: a waiver holds through the whole of its expiry day, UTC."""
        return self.expires is not None and today > self.expires

    def matches(self, finding: Finding) -> bool:
        """Whether every part the waiver names holds for the finding."""
        if finding.candidate.stale_waiver is not None:
            # A waiver that waives the report of a stale waiver would never be cleaned.
            return False
        return all(test(self, finding) for test in _TESTS)

    def to_json(self) -> dict[str, Any]:
        """The waiver as reports show it beside a waived finding."""
        line: dict[str, Any] = {
            "owner": self.owner,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
            "source": self.source,
        }
        for name in _MATCH_KEYS:
            value = getattr(self, name)
            if value is not None:
                line[name] = value
        if self.inline:
            line["inline"] = True
        return line

    def describe(self) -> str:
        """``by OWNER until DATE: REASON (FILE:LINE)``, as the text report shows it."""
        until = f" until {self.expires.isoformat()}" if self.expires else " (no expiry)"
        # An inline waiver's owner already names its line.
        where = "" if self.source in self.owner else f" ({self.source})"
        return f"by {self.owner}{until}: {self.reason}{where}"


@functools.lru_cache(maxsize=1024)
def glob(pattern: str) -> re.Pattern[str]:
    """``*`` any text, ``?`` one character, all else literal, case and all.

    Unlike fnmatch, brackets are literal: ``aws_kms_key.app["payments"]`` is an
    address, not a character class.
    """
    parts = (
        ".*" if char == "*" else "." if char == "?" else re.escape(char)
        for char in pattern
    )
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _rule_matches(waiver: Waiver, finding: Finding) -> bool:
    return waiver.rule is None or glob(waiver.rule).match(finding.rule.name) is not None


def _address_matches(waiver: Waiver, finding: Finding) -> bool:
    """A block's address covers its instances: ``aws_kms_key.app`` waives
    ``aws_kms_key.app["payments"]``, and ``module.kms.aws_kms_key.this`` waives it in
    every instance of the module, as a marker on the block in the module's file means.
    """
    if waiver.address is None:
        return True
    pattern = glob(waiver.address)
    addresses = {finding.address, finding.candidate.target.address} - {None}
    blocks = {config_address(str(item)) for item in addresses}
    return any(pattern.match(str(item)) for item in addresses | blocks)


def _attribute_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.attribute is None:
        return True
    return waiver.attribute in finding_attributes(finding)


def _actor_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.actor is None:
        return True
    actor = finding.event.actor
    pattern = glob(waiver.actor)
    names = (actor.name, actor.arn, actor.role_arn)
    return any(item and pattern.match(item) for item in names)


def _event_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.event_id is None:
        return True
    events = (finding.event, *finding.candidate.related)
    return any(event.event_id == waiver.event_id for event in events)


_TESTS = (
    _rule_matches,
    _event_matches,
    _address_matches,
    _attribute_matches,
    _actor_matches,
)


def finding_attributes(finding: Finding) -> set[str]:
    """The attributes a finding's changes moved (or its plan drift names)."""
    names = {change.attribute for change in finding.candidate.changes}
    drifted = finding.event.details.get("attribute")
    if isinstance(drifted, str):
        names.add(drifted)
    return names


# ---------------------------------------------------------------------------
# Applying


@dataclass
class Waiving:
    """What applying the waivers did: findings marked, and the stale waivers."""

    expired: list[Waiver] = field(default_factory=list)
    unused: list[Waiver] = field(default_factory=list)


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[Waiver], today: datetime.date
) -> Waiving:
    """Mark each finding with the first live waiver that matches it.

    Every live waiver that matches a finding counts as used, even where an earlier
    one was chosen; an expired waiver waives nothing and is only reported.
    """
    live = [waiver for waiver in waivers if not waiver.expired(today)]
    used: set[int] = set()
    for finding in findings:
        matching = [index for index, item in enumerate(live) if item.matches(finding)]
        if matching:
            finding.waiver = live[matching[0]]
            used.update(matching)
    return Waiving(
        expired=[waiver for waiver in waivers if waiver.expired(today)],
        unused=[waiver for index, waiver in enumerate(live) if index not in used],
    )


def stale_candidates(
    waiving: Waiving, account: str | None, now: datetime.datetime
) -> list[Candidate]:
    """Stand-in candidates for the stale waivers, judged by the rules like any other.

    Being candidates, their rules can be overridden (a team that wants an expired
    waiver to stop the run raises ``tfdrift_waiver_expired`` to error).
    """
    from tfdrift_hook.findings import Candidate

    stale = [(WAIVER_EXPIRED, item) for item in waiving.expired]
    stale += [(WAIVER_UNUSED, item) for item in waiving.unused]
    target = Target(Subject.UNATTRIBUTABLE)
    return [
        Candidate(
            status,
            _stand_in_event(status, waiver, account, now),
            target,
            stale_waiver=waiver,
        )
        for status, waiver in stale
    ]


def _stand_in_event(
    status: str, waiver: Waiver, account: str | None, now: datetime.datetime
) -> KmsEvent:
    name = "WaiverExpired" if status == WAIVER_EXPIRED else "WaiverUnused"
    return KmsEvent(
        event_id=f"waiver:{waiver.source}",
        name=name,
        time=now,
        region="",
        account=account,
        actor=Actor(type="WaiverOwner", name=waiver.owner),
        where=waiver.source,
    )


def waiver_location(waiver: Waiver) -> SourceLocation | None:
    """The line the waiver is written on, for annotations; absolute, since a waiver
    file may lie outside the configuration directory locations are relative to."""
    file, _, line = waiver.source.rpartition(":")
    if not file or not line.isdigit():
        return None
    # An inline waiver's file is relative to the configuration, like other locations.
    path = Path(file) if waiver.inline else Path(file).resolve()
    return SourceLocation(path, int(line), int(line))


def waiver_fields(waiver: Waiver) -> dict[str, Any]:
    """The ``waiver.*`` fields rules see on a stale waiver's candidate."""
    fields: dict[str, Any] = {
        f"waiver.{name}": getattr(waiver, name) for name in (*_MATCH_KEYS, "owner")
    }
    fields["waiver.reason"] = waiver.reason
    fields["waiver.expires"] = waiver.expires.isoformat() if waiver.expires else None
    fields["waiver.source"] = waiver.source
    fields["waiver.inline"] = waiver.inline
    return fields


# ---------------------------------------------------------------------------
# Reading


def waiver_files(directory: Path, named: Sequence[Path]) -> list[Path]:
    """The default file when it exists, then the named ones, each once."""
    default = directory / DEFAULT_FILE
    paths = [default] if default.is_file() else []
    paths += named
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in paths:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(_from_here(path))
    return unique


def _from_here(path: Path) -> Path:
    """``path`` from the working directory when it lies below it, as given if not.

    A waiver's source is part of the id of its expired or unused finding (and of its
    SARIF fingerprint), so ``-C .`` and ``-C /abs/dir`` must spell it the same.
    """
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path


@dataclass
class WaiverLoad:
    """Waivers read, and what could not be read (each one a problem of the run)."""

    waivers: list[Waiver] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: WaiverLoad) -> None:
        self.waivers += other.waivers
        self.problems += other.problems


def load_waivers(paths: Iterable[Path], config_file: Path | None) -> WaiverLoad:
    """Every waiver file in order, then the ``waivers:`` list of the config file."""
    load = WaiverLoad()
    for path in paths:
        load.extend(read_waiver_file(path))
    if config_file is not None:
        load.extend(read_waiver_file(config_file, in_config=True))
    return load


def read_waiver_file(path: Path, *, in_config: bool = False) -> WaiverLoad:
    """One file's waivers; a file that cannot be read is one problem, naming it.

    ``in_config``: the file is ``.tfdrift.yml``, whose other keys are settings.
    """
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        return WaiverLoad(problems=[_unreadable(path, exc)])

    entries = _entry_nodes(path, node, in_config)
    if isinstance(entries, Problem):
        return WaiverLoad(problems=[entries])
    load = WaiverLoad()
    for index, entry_node in enumerate(entries):
        waiver, problems = _entry(path, index + 1, entry_node)
        load.problems += problems
        if waiver is not None:
            load.waivers.append(waiver)
    return load


_FILE_FIX = "no waiver of this file applies until it is fixed"


def _unreadable(path: Path, exc: Exception) -> Problem:
    if isinstance(exc, OSError):
        message = f"cannot read waiver file ({exc.strerror or exc})"
        fix = "fix the path in --waivers or waiver_files, or its permissions"
        return Problem(str(path), message, f"{fix}; {_FILE_FIX}")

    if isinstance(exc, UnicodeDecodeError):
        return Problem(str(path), "waiver file is not UTF-8 text", _FILE_FIX)

    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    if isinstance(exc, RecursionError):
        problem = "it nests deeper than it can be read"
    else:
        problem = getattr(exc, "problem", None) or str(exc)
    return Problem(where, f"waiver file is not valid YAML: {problem}", _FILE_FIX)


def _entry_nodes(
    path: Path, node: yaml.Node | None, in_config: bool
) -> list[yaml.Node] | Problem:
    """The entries' nodes, from a list or a mapping's ``waivers:`` key.

    Entries are built from their nodes one at a time, so that one that YAML cannot
    build (a date such as 2025-02-30) costs only itself.
    """
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return []

    if isinstance(node, yaml.MappingNode):
        keys = [str(key.value) for key, _ in node.value]
        others = sorted(key for key in keys if key != "waivers")
        if others and not in_config:
            message = f"unknown top-level key(s) {', '.join(others)}"
            fix = f"only waivers: belongs here; {_FILE_FIX}"
            return Problem(str(path), message, fix)
        value = next((item for key, item in node.value if key.value == "waivers"), None)
        return _entry_nodes(path, value, False)

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)

    where = f"{path}:{node.start_mark.line + 1}"
    message = "waivers are a YAML list of entries (or a mapping with waivers:)"
    return Problem(where, message, f"write '- rule: ...' entries; {_FILE_FIX}")


def _built(node: yaml.MappingNode) -> dict[str, Any]:
    """An entry's values as ``yaml.safe_load`` gives them, each built on its own.

    A value YAML cannot build (the date 2025-02-30) is kept as its text, so that it
    is reported as a bad value of its key beside the entry's other problems.
    """
    entry: dict[str, Any] = {}
    for key, value in node.value:
        try:
            entry[str(key.value)] = yaml.SafeLoader("").construct_document(value)
        except (ValueError, TypeError, yaml.YAMLError, RecursionError):
            entry[str(key.value)] = str(getattr(value, "value", "?"))[:80]
    return entry


def _entry(
    path: Path, number: int, node: yaml.Node
) -> tuple[Waiver | None, list[Problem]]:
    """One entry as a waiver, or None and every problem found in it."""
    where = f"{path}:{node.start_mark.line + 1}"
    if not isinstance(node, yaml.MappingNode):
        fix = "write a mapping with owner, reason, expires and rule (or event_id)"
        problem = Problem(
            where, f"waiver {number} is not a mapping", f"{fix}; {_ENTRY_FIX}"
        )
        return None, [problem]

    entry = _built(node)
    label = f"waiver {number}" + (f" (rule {entry['rule']})" if "rule" in entry else "")
    lines = _key_lines(path, node)
    problems = [
        Problem(lines.get(key, where), f"{label}: {message}", f"{fix}; {_ENTRY_FIX}")
        for key, message, fix in _entry_errors(entry)
    ]
    if problems:
        return None, problems
    return _waiver(entry, where), []


_ENTRY_FIX = "this entry waives nothing until it is fixed"


def _key_lines(path: Path, node: yaml.MappingNode) -> dict[str, str]:
    return {
        str(key.value): f"{path}:{key.start_mark.line + 1}" for key, _ in node.value
    }


def _entry_errors(entry: Mapping[Any, Any]) -> Iterator[tuple[str, str, str]]:
    """(key, what is wrong, how to fix it) for every problem of one entry."""
    for key in entry:
        if key not in ENTRY_KEYS:
            close = difflib.get_close_matches(str(key), ENTRY_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else ""
            yield str(key), f"unknown key {brief(key)}", hint or _known_keys()
    for key in ("owner", "reason"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            yield key, f"{key} must be text, not {brief(value)}", "quote it"
        elif not _text(value):
            yield key, f"no {key}", f"say {_PURPOSE[key]}"
    yield from _expiry_errors(entry.get("expires"))
    for key in _MATCH_KEYS:
        value = entry.get(key)
        if value is not None and not _text(value):
            yield key, f"{key} must be text, not {brief(value)}", "quote it"
    if entry.get("rule") is None and entry.get("event_id") is None:
        yield "rule", "names neither a rule nor an event_id", "add rule: RULE_NAME"
    elif _waives_everything(entry):
        yield "rule", "waives every finding", "name the rule, address or event_id"


_PURPOSE = {
    "owner": "who answers for it (owner: a person or team)",
    "reason": "why the finding is accepted (reason: ...)",
}


def _known_keys() -> str:
    return f"an entry may have: {', '.join(ENTRY_KEYS)}"


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _expiry_errors(value: Any) -> Iterator[tuple[str, str, str]]:
    fix = "write expires: YYYY-MM-DD (the waiver holds through that day, UTC)"
    if value is None:
        yield "expires", "no expires date", fix
        return

    if _date(value) is None:
        yield "expires", f"expires {brief(value)} is not a date", fix


def _date(value: Any) -> datetime.date | None:
    text = str(value).strip()
    if len(text) != len("YYYY-MM-DD"):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def _waives_everything(entry: Mapping[Any, Any]) -> bool:
    """``rule: "*"`` and nothing narrower: a gate switched off, not a waiver."""
    rule = str(entry.get("rule") or "")
    return not _narrower(entry) and bool(rule) and set(rule) <= _WILDCARDS


def _narrower(entry: Mapping[Any, Any]) -> list[str]:
    """The keys besides ``rule`` that narrow the waiver; ``*`` alone narrows nothing."""
    return [
        key
        for key in _MATCH_KEYS
        if key != "rule"
        and _text(entry.get(key))
        and not set(str(entry[key]).strip()) <= _WILDCARDS
    ]


def _waiver(entry: Mapping[Any, Any], where: str) -> Waiver:
    def optional(key: str) -> str | None:
        value = entry.get(key)
        return value.strip() if isinstance(value, str) else None

    return Waiver(
        owner=str(entry["owner"]).strip(),
        reason=" ".join(str(entry["reason"]).split()),
        expires=_date(entry["expires"]),
        rule=optional("rule"),
        address=optional("address"),
        attribute=optional("attribute"),
        actor=optional("actor"),
        event_id=optional("event_id"),
        source=where,
    )
