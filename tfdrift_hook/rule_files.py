"""Reading rule files: Falco's YAML entries into a rule set, with the line of each.

A rule file is a YAML list of entries, read in the order given (the built-in file
first). A ``rule`` entry has ``condition``, ``output`` and ``priority`` (and
optionally ``desc``, ``tags``, ``enabled``); ``macro`` and ``list`` entries name
conditions and values that rules use, and a list's items may name other lists. A later
entry of an existing name works as in Falco:

- with no ``append`` or ``override`` it replaces the earlier one, except that a rule
  entry of only ``rule`` and ``enabled`` switches the rule on or off;
- ``append: true`` adds its condition text to the end of the earlier condition (so it
  usually starts with ``and``) and its items to a list;
- ``override:`` says per key what to do: ``condition`` and ``items`` ``append`` or
  ``replace``; ``tags`` append or replace; ``output``, ``priority``,
  ``desc`` and ``enabled`` replace.

Falco's ``required_engine_version`` and ``required_plugin_versions`` entries are
accepted and have no effect. Falco's ``exceptions`` are refused with a pointer to
waivers, which say who accepted the case and until when. Every problem is reported
with its file and line, and for a condition the column in it; one broken entry never
hides another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfdrift_hook.priorities import priority_name
from tfdrift_hook.problems import brief
from tfdrift_hook.rules import (
    Origin,
    Rule,
    RuleError,
    RuleProblem,
    RuleSet,
    problem_lines,
)


def load_rule_files(paths: Iterable[Path]) -> RuleSet:
    """Load rule files in order into one compiled rule set; raises :class:`RuleError`.

    The error's message has every problem of every file, one a line.
    """
    rule_set, problems = read_rule_files(paths)
    if problems:
        raise RuleError(problem_lines(problems), problems)
    return rule_set


def validate_rule_files(paths: Iterable[Path]) -> list[RuleProblem]:
    """Every problem of these rule files, loaded in order; empty when they are valid."""
    return read_rule_files(paths)[1]


def read_rule_files(paths: Iterable[Path]) -> tuple[RuleSet, list[RuleProblem]]:
    """The rule set of these files, loaded in order, and every problem met."""
    rule_set = RuleSet()
    problems: list[RuleProblem] = []
    order: dict[str, int] = {}
    for path in paths:
        order.setdefault(str(path), len(order))
        for entry in _read_entries(path, problems):
            problems += _added(rule_set, entry)
    problems += rule_set.compile_problems()
    # Problems found on loading and on compiling, read in the order of the files.
    problems.sort(key=lambda problem: (order.get(problem.file, 0), problem.line))
    return rule_set, problems


# -- reading a file: entries with the line of each key --------------------------------


@dataclass(frozen=True)
class _Entry:
    """One entry of a rule file and where each of its keys is written."""

    body: Mapping[str, Any]
    file: str
    line: int
    lines: Mapping[str, int]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def origin(self, key: str) -> Origin:
        return (self.file, self.lines.get(key, self.line))


def _read_entries(path: Path, problems: list[RuleProblem]) -> list[_Entry]:
    import yaml

    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read rule file: {exc.strerror or exc}"
        problems.append(RuleProblem(where, 0, None, msg))
        return []
    except UnicodeDecodeError as exc:
        msg = f"not UTF-8 text (byte {exc.start}); a rule file is YAML"
        problems.append(RuleProblem(where, 0, None, msg))
        return []

    loader = yaml.SafeLoader(text)
    try:
        return _entries(loader, loader.get_single_node(), where, problems)
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(exc, where))
        return []
    except RecursionError:
        msg = "not valid YAML: it nests deeper than it can be read"
        problems.append(RuleProblem(where, 0, None, msg))
        return []
    finally:
        loader.dispose()


def _entries(
    loader: Any, root: Any, where: str, problems: list[RuleProblem]
) -> list[_Entry]:
    import yaml

    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        msg = "a rule file is a YAML list of rule, macro and list entries"
        problems.append(RuleProblem(where, root.start_mark.line + 1, None, msg))
        return []

    entries: list[_Entry] = []
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            msg = "each entry is a mapping with a rule, macro or list key"
            problems.append(RuleProblem(where, line, None, msg))
            continue
        try:
            body = loader.construct_document(node)
        except yaml.YAMLError as exc:
            problems.append(_yaml_problem(exc, where))
            continue
        except RecursionError:
            msg = "entry nests deeper than it can be read; an entry holds flat values"
            problems.append(RuleProblem(where, line, None, msg))
            continue
        lines = _key_lines(node, where, problems)
        entries.append(_Entry(body, where, line, lines))
    return entries


def _key_lines(node: Any, where: str, problems: list[RuleProblem]) -> dict[str, int]:
    """The line of each key; a key given twice is a problem (YAML keeps the last)."""
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key in lines:
            msg = f"key {key!r} is given twice in this entry (line {lines[key]} too)"
            problems.append(RuleProblem(where, line, None, msg))
        lines.setdefault(key, line)
    return lines


def _yaml_problem(exc: Any, where: str) -> RuleProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    reason = getattr(exc, "problem", None) or str(exc)
    return RuleProblem(where, line, None, f"not valid YAML: {reason}")


# -- what an entry does to the rule set ---------------------------------------------

_KINDS = ("rule", "macro", "list")
_KEYS = {
    "rule": {"rule", "desc", "condition", "output", "priority", "tags", "enabled"},
    "macro": {"macro", "condition"},
    "list": {"list", "items"},
}
#: Keys of Falco rules for its own engine (event sources, captures): accepted, unused.
_FALCO_ONLY = {"source", "warn_evttypes", "skip-if-unknown-filter", "capture"}
#: Entries of Falco rule files that say which Falco a file needs; accepted, unused.
_FALCO_ENTRIES = {"required_engine_version", "required_plugin_versions"}
#: What ``override`` may do with each key.
_OVERRIDES: dict[str, dict[str, set[str]]] = {
    "rule": {
        "condition": {"append", "replace"},
        "tags": {"append", "replace"},
        "output": {"replace"},
        "priority": {"replace"},
        "desc": {"replace"},
        "enabled": {"replace"},
    },
    "macro": {"condition": {"append", "replace"}},
    "list": {"items": {"append", "replace"}},
}
_APPENDED = {"rule": "condition", "macro": "condition", "list": "items"}


class _EntryError(ValueError):
    """Problems of one entry: each a message and the key it is about."""

    def __init__(
        self, *items: tuple[str, str | None], rejected: Rule | None = None
    ) -> None:
        super().__init__("; ".join(message for message, _ in items))
        self.items = items
        #: The rule as far as it could be read, so that its condition is checked too.
        self.rejected = rejected


def _added(rule_set: RuleSet, entry: _Entry) -> list[RuleProblem]:
    """Add one entry; its problems, each on the line of the key it is about."""
    kind, name = _identity(entry.body)
    try:
        _add(rule_set, entry, kind, name)
    except _EntryError as exc:
        if kind == "macro" and name:
            rule_set.unloaded.add(name)
        if exc.rejected is not None:
            rule_set.rejected.append(exc.rejected)
        return [
            RuleProblem(
                entry.file,
                entry.lines.get(key or "", entry.line),
                name,
                message,
                kind=kind,
            )
            for message, key in exc.items
        ]
    return []


def _identity(body: Mapping[str, Any]) -> tuple[str, str | None]:
    kind = next((kind for kind in _KINDS if kind in body), "")
    name = body.get(kind) if kind else None
    return kind, name if isinstance(name, str) and name.strip() else None


def _add(rule_set: RuleSet, entry: _Entry, kind: str, name: str | None) -> None:
    body = entry.body
    if not kind:
        if body and set(body) <= _FALCO_ENTRIES:
            return
        raise _EntryError(("entry has none of the keys rule, macro or list", None))

    others = [other for other in _KINDS if other != kind and other in body]
    if others:
        msg = f"entry has both {kind!r} and {others[0]!r}; an entry defines one thing"
        raise _EntryError((msg, others[0]))

    if name is None:
        raise _EntryError((f"{kind!r} needs a name", kind))

    _check_keys(entry, kind)
    override = _override(entry, kind)
    if kind == "macro":
        _add_macro(rule_set, entry, name, override)
    elif kind == "list":
        _add_list(rule_set, entry, name, override)
    else:
        _add_rule(rule_set, entry, name, override)


def _check_keys(entry: _Entry, kind: str) -> None:
    import difflib

    known = _KEYS[kind] | {"append", "override"}
    if kind == "rule":
        known |= _FALCO_ONLY
    problems: list[tuple[str, str | None]] = []
    for key in entry.body:
        if key in known:
            continue
        if key == "exceptions":
            msg = "Falco's exceptions are not supported; write a waiver for the case"
            problems.append((f"{msg} (.tfdrift-waivers.yml)", key))
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append((f"unknown key {brief(key)} in a {kind} entry{hint}", key))
    if problems:
        raise _EntryError(*problems)


def _override(entry: _Entry, kind: str) -> dict[str, str] | None:
    """What the entry does to an earlier one of its name, key by key; None: define."""
    body = entry.body
    append, override = body.get("append"), body.get("override")
    if append is not None and override is not None:
        msg = "give append or override, not both (override says it key by key)"
        raise _EntryError((msg, "override"))

    if append is not None:
        return _append_mode(entry, kind, append)
    if override is None:
        return None
    if not isinstance(override, Mapping) or not override:
        msg = "override maps keys to append or replace, e.g. {condition: append}"
        raise _EntryError((msg, "override"))
    return _override_modes(entry, kind, override)


def _append_mode(entry: _Entry, kind: str, append: Any) -> dict[str, str] | None:
    if not isinstance(append, bool):
        raise _EntryError(("append is true or false", "append"))
    if not append:
        return None

    target = _APPENDED[kind]
    extra = sorted(set(entry.body) - {kind, "append", target} - _FALCO_ONLY)
    if extra:
        key = extra[0]
        msg = f"append: true adds to the {target} only; to change {key!r} use"
        raise _EntryError((f"{msg} override: {{{key}: replace}}", key))
    if target not in entry.body:
        raise _EntryError((f"append: true needs the {target} to add", "append"))
    return {target: "append"}


def _override_modes(
    entry: _Entry, kind: str, override: Mapping[Any, Any]
) -> dict[str, str]:
    allowed = _OVERRIDES[kind]
    problems: list[tuple[str, str | None]] = []
    for key, mode in override.items():
        if key not in allowed:
            names = ", ".join(allowed)
            msg = f"override cannot change {brief(key)} (only {names})"
            problems.append((msg, "override"))
        elif not isinstance(mode, str) or mode not in allowed[key]:
            ways = " or ".join(sorted(allowed[key]))
            msg = f"override of {key!r} is {ways}, not {brief(mode)}"
            problems.append((msg, "override"))
        elif key not in entry.body:
            msg = f"override names {key!r} but the entry has none"
            problems.append((msg, "override"))
    for key in set(entry.body) - set(override) - {kind, "override"} - _FALCO_ONLY:
        msg = f"{key!r} is given but override does not say append or replace for it"
        problems.append((msg, key))
    if problems:
        raise _EntryError(*problems)
    return {str(key): str(mode) for key, mode in override.items()}


def _add_macro(
    rule_set: RuleSet, entry: _Entry, name: str, override: dict[str, str] | None
) -> None:
    condition = _condition(entry)
    if override is not None:
        earlier = rule_set.macros.get(name)
        if earlier is None:
            raise _EntryError((_nothing_earlier("macro", name), "macro"))
        condition = _combined(earlier, condition, override["condition"])
    rule_set.macros[name] = condition
    rule_set.origins["macro", name] = entry.origin("condition")


def _add_list(
    rule_set: RuleSet, entry: _Entry, name: str, override: dict[str, str] | None
) -> None:
    items = _items(entry)
    if override is not None:
        earlier = rule_set.lists.get(name)
        if earlier is None:
            raise _EntryError((_nothing_earlier("list", name), "list"))
        if override["items"] == "append":
            items = [*earlier, *items]
    rule_set.lists[name] = items
    rule_set.origins["list", name] = entry.origin("items")


def _add_rule(
    rule_set: RuleSet, entry: _Entry, name: str, override: dict[str, str] | None
) -> None:
    """A new rule, one of the same name replaced, overridden or switched on or off."""
    existing = rule_set.rule(name)
    if override is None and set(entry.body) == {"rule", "enabled"}:
        override = {"enabled": "replace"}
        if existing is None:
            msg = f"{_nothing_earlier('rule', name)} to switch on or off"
            raise _EntryError((msg, "rule"))

    if override is not None:
        if existing is None:
            raise _EntryError((_nothing_earlier("rule", name), "rule"))
        _override_rule(existing, entry, override)
        return

    rule = _new_rule(entry, name)
    if existing is None:
        rule_set.rules.append(rule)
    else:
        rule_set.rules[rule_set.rules.index(existing)] = rule


def _nothing_earlier(kind: str, name: str) -> str:
    return (
        f"no {kind} {name!r} is defined before this entry (files load in order, "
        "the built-in rules first)"
    )


def _new_rule(entry: _Entry, name: str) -> Rule:
    values, problems = _rule_values(entry, ("condition", "output", "priority"))
    if problems:
        raise _EntryError(*problems, rejected=_stand_in(entry, name, values))
    return Rule(
        name=name,
        condition=values["condition"],
        output=values["output"],
        priority=values["priority"],
        source=entry.where,
        desc=values.get("desc", ""),
        tags=values.get("tags", ()),
        enabled=values.get("enabled", True),
        origins={key: entry.origin(key) for key in ("condition", "output")},
    )


def _stand_in(entry: _Entry, name: str, values: Mapping[str, Any]) -> Rule | None:
    if "condition" not in values:
        return None
    return Rule(
        name=name,
        condition=values["condition"],
        output=values.get("output", ""),
        priority="debug",
        source=entry.where,
        enabled=False,
        origins={key: entry.origin(key) for key in ("condition", "output")},
    )


def _override_rule(rule: Rule, entry: _Entry, override: dict[str, str]) -> None:
    """Every value is checked before any is changed: a bad entry changes nothing."""
    values, problems = _rule_values(entry, ())
    if problems:
        raise _EntryError(*problems)

    for key, mode in override.items():
        value = values[key]
        if key == "condition":
            value = _combined(rule.condition, value, mode)
        elif key == "tags" and mode == "append":
            value = (*rule.tags, *(tag for tag in value if tag not in rule.tags))
        setattr(rule, key, value)
        rule.origins[key] = entry.origin(key)
    rule.amended = (*rule.amended, entry.where)


def _rule_values(
    entry: _Entry, required: Sequence[str]
) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
    """The rule's keys read and checked; every problem of the entry at once."""
    readers = {
        "condition": _condition,
        "output": _output,
        "priority": _priority,
        "desc": _desc,
        "tags": _tags,
        "enabled": _enabled,
    }
    values: dict[str, Any] = {}
    problems: list[tuple[str, str | None]] = []
    for key, read in readers.items():
        if key not in entry.body and key not in required:
            continue
        try:
            values[key] = read(entry)
        except _EntryError as exc:
            problems += exc.items
    return values, problems


def _combined(earlier: str, condition: str, mode: str) -> str:
    """Falco appends the text as written, so an appended part starts with and/or."""
    return f"{earlier} {condition}" if mode == "append" else condition


def _text(entry: _Entry, key: str) -> str:
    value = entry.body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _EntryError((f"no {key!r}", key))
    if not isinstance(value, str):
        raise _EntryError((f"{key!r} is text, not {type(value).__name__}", key))
    return value.strip()


def _condition(entry: _Entry) -> str:
    """The condition on one line: columns count in it, quoted text keeps its spaces."""
    text = _text(entry, "condition")
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _output(entry: _Entry) -> str:
    return _text(entry, "output")


def _desc(entry: _Entry) -> str:
    return _text(entry, "desc") if entry.body.get("desc") else ""


def _priority(entry: _Entry) -> str:
    try:
        return priority_name(_text(entry, "priority"))
    except ValueError as exc:
        raise _EntryError((str(exc), "priority")) from exc


def _tags(entry: _Entry) -> tuple[str, ...]:
    tags = entry.body.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list) or any(isinstance(tag, (list, dict)) for tag in tags):
        raise _EntryError(("tags is a list of words, e.g. [kms, policy]", "tags"))
    return tuple(str(tag) for tag in tags)


def _enabled(entry: _Entry) -> bool:
    enabled = entry.body.get("enabled")
    if not isinstance(enabled, bool):
        raise _EntryError(("enabled is true or false", "enabled"))
    return enabled


def _items(entry: _Entry) -> list[Any]:
    items = entry.body.get("items")
    if not isinstance(items, list):
        raise _EntryError(("a list needs 'items' as a YAML list", "items"))
    nested = [item for item in items if isinstance(item, (list, dict))]
    if nested:
        msg = "list items are single values; a list is named by its name"
        raise _EntryError((f"{msg}, not written inside ({brief(nested[0])})", "items"))
    return list(items)
