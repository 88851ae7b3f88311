"""Rules as data: Falco-shaped rule files with conditions, outputs and priorities.

A rule file is a YAML list of entries. A ``rule`` entry has ``condition``, ``output``
and ``priority`` (and optionally ``desc``, ``tags``, ``enabled``); ``macro`` and
``list`` entries name conditions and values that rules use. The built-in rules are such
a file, ``rules/builtin.yaml``, shipped with the package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from tfdrift_hook.actors import Actor
from tfdrift_hook.conditions import (
    ConditionError,
    Definitions,
    Predicate,
    compile_condition,
)
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.priorities import priority_name

BUILTIN_RULES = Path(__file__).with_name("rules") / "builtin.yaml"

_FIELD = re.compile(r"%([A-Za-z_][A-Za-z0-9_.\-\[\]]*[A-Za-z0-9_\]])")


#: Fields every candidate has; ``drift.``, ``actor.`` and ``key.`` name families.
FIELDS = frozenset(
    {
        "cloud.service",
        "evt.name",
        "evt.id",
        "evt.time",
        "evt.type",
        "status",
        "resource",
        "address",
        "terraform.type",
        "region",
        "account",
        "user",
    }
)
FIELD_FAMILIES = ("drift.", "key.")
ACTOR_FIELDS = frozenset(f"actor.{item.name}" for item in dataclass_fields(Actor))


def is_known_field(name: str) -> bool:
    """Whether rules can name this field (a typo would make a rule never fire)."""
    if name in FIELDS or name in ACTOR_FIELDS:
        return True
    return name.startswith(FIELD_FAMILIES) and len(name) > len("key.")


class RuleError(TfdriftError):
    """A rule file that cannot be loaded; the message names the file and the entry."""


@dataclass
class Rule:
    """One rule: when its condition holds for a candidate, a finding is made."""

    name: str
    condition: str
    output: str
    priority: str
    source: str
    desc: str = ""
    tags: tuple[str, ...] = ()
    enabled: bool = True
    predicate: Predicate | None = field(default=None, repr=False)

    def matches(self, fields: Mapping[str, Any]) -> bool:
        return self.predicate is not None and self.predicate(fields)

    def render(self, fields: Mapping[str, Any]) -> str:
        """The output with each ``%field`` filled; Falco writes ``<NA>`` for none."""
        return _FIELD.sub(lambda match: _shown(fields.get(match.group(1))), self.output)


def _shown(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "<NA>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


@dataclass
class RuleSet:
    """Rules in load order, with the macros and lists they share."""

    rules: list[Rule] = field(default_factory=list)
    macros: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[Any]] = field(default_factory=dict)

    def matching(self, fields: Mapping[str, Any]) -> list[Rule]:
        return [rule for rule in self.rules if rule.enabled and rule.matches(fields)]

    def compile(self) -> None:
        """Compile every enabled rule; every broken condition is reported at once."""
        definitions = Definitions(self.macros, self.lists, is_known_field)
        errors: list[str] = []
        for rule in self.rules:
            try:
                rule.predicate = compile_condition(rule.condition, definitions)
            except ConditionError as exc:
                errors.append(f"{rule.source}: rule {rule.name!r}: {exc}")
        if errors:
            raise RuleError("; ".join(errors))


def load_rule_files(paths: Iterable[Path]) -> RuleSet:
    """Load rule files in order into one compiled rule set."""
    rule_set = RuleSet()
    for path in paths:
        _add_entries(rule_set, _read_entries(path), str(path))
    rule_set.compile()
    return rule_set


def _read_entries(path: Path) -> list[Any]:
    import yaml

    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rule file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text (byte {exc.start}); a rule file is YAML"
        raise RuleError(msg) from exc
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc

    if entries is None:
        return []
    if not isinstance(entries, list):
        msg = f"{path}: a rule file is a YAML list of rule, macro and list entries"
        raise RuleError(msg)
    return entries


def _add_entries(rule_set: RuleSet, entries: Sequence[Any], where: str) -> None:
    errors: list[str] = []
    for index, entry in enumerate(entries):
        label = f"{where}: entry {index + 1}"
        try:
            _add_entry(rule_set, entry, label)
        except (ValueError, KeyError, TypeError) as exc:
            errors.append(f"{label}: {exc}")
    if errors:
        raise RuleError("; ".join(errors))


def _add_entry(rule_set: RuleSet, entry: Any, where: str) -> None:
    if not isinstance(entry, Mapping):
        raise ValueError("each entry is a mapping with a rule, macro or list key")

    if "macro" in entry:
        rule_set.macros[str(entry["macro"])] = _required(entry, "condition")
        return

    if "list" in entry:
        items = entry.get("items")
        if not isinstance(items, list):
            raise ValueError(f"list {entry['list']!r} needs 'items' as a list")
        rule_set.lists[str(entry["list"])] = list(items)
        return

    if "rule" in entry:
        _add_rule(rule_set, entry, where)
        return

    raise ValueError("entry has none of the keys rule, macro or list")


def _add_rule(rule_set: RuleSet, entry: Mapping[str, Any], where: str) -> None:
    """A new rule, a rule of the same name replaced, or one switched on or off."""
    name = str(entry["rule"])
    existing = next((rule for rule in rule_set.rules if rule.name == name), None)
    if existing is not None and set(entry) <= {"rule", "enabled"}:
        existing.enabled = bool(entry.get("enabled", True))
        return

    rule = _rule(entry, where)
    if existing is None:
        rule_set.rules.append(rule)
    else:
        rule_set.rules[rule_set.rules.index(existing)] = rule


def _rule(entry: Mapping[str, Any], where: str) -> Rule:
    tags = entry.get("tags") or ()
    return Rule(
        name=str(entry["rule"]),
        condition=_required(entry, "condition"),
        output=_required(entry, "output"),
        priority=priority_name(_required(entry, "priority")),
        source=where,
        desc=str(entry.get("desc") or ""),
        tags=tuple(str(tag) for tag in tags),
        enabled=bool(entry.get("enabled", True)),
    )


def _required(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None or not str(value).strip():
        name = entry.get("rule") or entry.get("macro") or entry.get("list")
        raise ValueError(f"{name!r} has no {key!r}")
    return " ".join(str(value).split()) if key == "condition" else str(value).strip()


@hookimpl(trylast=True)
def tfdrift_rule_files() -> Sequence[Path]:
    return [BUILTIN_RULES]
