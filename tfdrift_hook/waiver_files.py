"""Waiver files: the YAML entries that name an owner, a reason and an expiry.

Waivers are read from ``.tfdrift-waivers.yml`` in the Terraform directory, from the
files ``waiver_files`` in ``.tfdrift.yml`` or ``--waivers`` name, and from the
``waivers:`` list of ``.tfdrift.yml``. A file is a YAML list of entries, or a mapping
whose ``waivers:`` key holds that list. A broken entry is a problem of the run (exit
3) that names its file and line; it waives nothing, and the other entries still apply.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tfdrift_hook.problems import Problem, brief
from tfdrift_hook.waivers import MATCH_KEYS, Waiver, parse_day

DEFAULT_FILE = ".tfdrift-waivers.yml"

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
_WILDCARDS = frozenset("*?")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MERGE = "merge key << is not supported, so the keys it would merge are not read"


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
        keys = [_key_text(key) for key, _ in node.value]
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


def _key_text(node: yaml.Node) -> str:
    """A key as a message names it: its text, or a list or mapping key in brief."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return brief(_constructed(node))


# -- one entry ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    """One key of an entry, the ``FILE:LINE`` it is written on, and its value."""

    name: str
    where: str
    value: yaml.Node


@dataclass(frozen=True)
class _Unbuilt:
    """A list or mapping value YAML cannot build, shown as it is written."""

    text: str

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


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

    keys, key_errors = _entry_keys(path, node)
    entry = _built(keys)
    label = f"waiver {number}" + (f" (rule {entry['rule']})" if "rule" in entry else "")
    lines = {key.name: key.where for key in keys}
    errors = key_errors + [
        (lines.get(key, where), message, fix) for key, message, fix in _errors(entry)
    ]
    problems = [
        Problem(line, f"{label}: {message}", f"{fix}; {_ENTRY_FIX}")
        for line, message, fix in errors
    ]
    if problems:
        return None, problems
    return _waiver(entry, where), []


_ENTRY_FIX = "this entry waives nothing until it is fixed"


def _entry_keys(
    path: Path, node: yaml.MappingNode
) -> tuple[list[_Key], list[tuple[str, str, str]]]:
    """The entry's keys, each once, and (where, what is wrong, how to fix it) for
    each key that is none: one given twice (YAML would keep the last silently), a
    merge key, a list or a mapping."""
    keys: dict[str, _Key] = {}
    errors: list[tuple[str, str, str]] = []
    for key_node, value in node.value:
        where = f"{path}:{key_node.start_mark.line + 1}"
        name = _key_text(key_node)
        if key_node.tag == _MERGE_TAG:
            fix = "write the keys out in the entry"
            errors.append((where, _MERGE, fix))
        elif not isinstance(key_node, yaml.ScalarNode):
            errors.append((where, f"unknown key {name}", _known_keys()))
        elif name in keys:
            first = keys[name].where.rpartition(":")[2]
            message = f"key {name!r} is given twice (line {first} too)"
            errors.append((where, message, "keep one of them"))
        else:
            keys[name] = _Key(name, where, value)
    return list(keys.values()), errors


def _built(keys: Iterable[_Key]) -> dict[str, Any]:
    """An entry's values as ``yaml.safe_load`` gives them, each built on its own.

    A value YAML cannot build (the date 2025-02-30) is kept as its text, so that it
    is reported as a bad value of its key beside the entry's other problems; a list
    or mapping that holds one stays no text.
    """
    return {key.name: _constructed(key.value) for key in keys}


def _constructed(node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader("").construct_document(node)
    except (ValueError, TypeError, yaml.YAMLError, RecursionError):
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)[:80]
        return _Unbuilt(_written(node))


def _written(node: yaml.Node) -> str:
    """The text a node is written as, on one line."""
    start, end = node.start_mark, node.end_mark
    if start.buffer is None:
        return "?"
    return " ".join(start.buffer[start.index : end.index].split())[:80]


def _errors(entry: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(key, what is wrong, how to fix it) for every problem of one entry's values."""
    for key in entry:
        if key not in ENTRY_KEYS:
            close = difflib.get_close_matches(key, ENTRY_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else ""
            yield key, f"unknown key {brief(key)}", hint or _known_keys()
    for key in ("owner", "reason"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            yield key, f"{key} must be text, not {brief(value)}", _text_fix(value)
        elif not _text(value):
            yield key, f"no {key}", f"say {_PURPOSE[key]}"
    yield from _expiry_errors(entry.get("expires"))
    for key in MATCH_KEYS:
        value = entry.get(key)
        if value is not None and not _text(value):
            yield key, f"{key} must be text, not {brief(value)}", _text_fix(value)
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


def _text_fix(value: Any) -> str:
    """Quotes make text of a number or a date, but not of a list or a mapping."""
    if isinstance(value, (list, dict, set, _Unbuilt)):
        return "write it as text"
    return "quote it"


def _expiry_errors(value: Any) -> Iterator[tuple[str, str, str]]:
    fix = "write expires: YYYY-MM-DD (the waiver holds through that day, UTC)"
    if value is None:
        yield "expires", "no expires date", fix
        return

    if parse_day(str(value).strip()) is None:
        yield "expires", f"expires {brief(value)} is not a date", fix


def _waives_everything(entry: Mapping[str, Any]) -> bool:
    """``rule: "*"`` and nothing narrower: a gate switched off, not a waiver."""
    rule = str(entry.get("rule") or "")
    return not _narrower(entry) and bool(rule) and set(rule) <= _WILDCARDS


def _narrower(entry: Mapping[str, Any]) -> list[str]:
    """The keys besides ``rule`` that narrow the waiver; ``*`` alone narrows nothing."""
    return [
        key
        for key in MATCH_KEYS
        if key != "rule"
        and _text(entry.get(key))
        and not set(str(entry[key]).strip()) <= _WILDCARDS
    ]


def _waiver(entry: Mapping[str, Any], where: str) -> Waiver:
    def optional(key: str) -> str | None:
        value = entry.get(key)
        return value.strip() if isinstance(value, str) else None

    return Waiver(
        owner=str(entry["owner"]).strip(),
        reason=" ".join(str(entry["reason"]).split()),
        expires=parse_day(str(entry["expires"]).strip()),
        rule=optional("rule"),
        address=optional("address"),
        attribute=optional("attribute"),
        actor=optional("actor"),
        event_id=optional("event_id"),
        source=where,
    )
