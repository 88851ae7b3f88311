"""Rules as data: Falco-shaped rules with conditions, outputs and priorities.

A :class:`RuleSet` holds rules in load order with the macros and lists they share;
compiling it turns every condition into a predicate and reports every problem, each
where it is written. ``rule_files.py`` reads rule files into a rule set. The built-in
rules are such a file, ``rules/builtin.yaml``, shipped with the package.
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
    compile_macro,
    possible_values,
    value_key,
)
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.hookspecs import hookimpl

BUILTIN_RULES = Path(__file__).with_name("rules") / "builtin.yaml"

# ``%field`` as Falco writes it, or ``%{field}`` where text follows the name at once.
_FIELD = re.compile(r"%\{([^{}\s]+)\}|%([A-Za-z_][A-Za-z0-9_.\-\[\]]*[A-Za-z0-9_\]])")


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
        # A waiver that expired or matched nothing is judged like a finding.
        "waiver.owner",
        "waiver.reason",
        "waiver.expires",
        "waiver.source",
        "waiver.rule",
        "waiver.address",
        "waiver.attribute",
        "waiver.actor",
        "waiver.event_id",
        "waiver.inline",
    }
)
#: The key a candidate is about: whether the state manages it, its id and address,
#: and how often it was read and used for cryptography in the window.
KEY_FIELDS = frozenset(
    {"key.managed", "key.id", "key.address", "key.reads", "key.uses"}
)
#: ``drift.<attribute>`` and what events and checks add there are an open family.
FIELD_FAMILIES = ("drift.",)
ACTOR_FIELDS = frozenset(f"actor.{item.name}" for item in dataclass_fields(Actor))


def is_known_field(name: str) -> bool:
    """Whether rules can name this field (a typo would make a rule never fire)."""
    if name in FIELDS or name in ACTOR_FIELDS or name in KEY_FIELDS:
        return True
    return name.startswith(FIELD_FAMILIES) and len(name) > len("drift.")


class RuleError(TfdriftError):
    """Rule files that cannot be loaded; the message says each problem on a line."""

    def __init__(self, message: str, problems: Sequence[RuleProblem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rule file, said where it is written.

    ``line`` is 0 for the whole file; ``column`` counts from 1 in ``condition``, the
    condition as it reads after the file's lines are joined.
    """

    file: str
    line: int
    rule: str | None
    message: str
    column: int | None = None
    #: What ``rule`` names: a rule, a macro or a list.
    kind: str = "rule"
    condition: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        named = f" {self.kind} {self.rule!r}:" if self.rule else ""
        text = f"{where}:{named} {self.message}"
        if self.column is None:
            return text
        return f"{text}, at column {self.column} of {self.condition!r}"


#: A file and a line.
Origin = tuple[str, int]


@dataclass
class Rule:
    """One rule: when its condition holds for a candidate, a finding is made."""

    name: str
    condition: str
    output: str
    priority: str
    #: Where the rule is defined, ``FILE:LINE``.
    source: str
    desc: str = ""
    tags: tuple[str, ...] = ()
    enabled: bool = True
    #: Where later entries appended to it, overrode it or switched it (``FILE:LINE``).
    amended: tuple[str, ...] = ()
    predicate: Predicate | None = field(default=None, repr=False)
    #: The values of each indexed field the condition can hold for; None: any.
    indexed: dict[str, frozenset[str] | None] = field(default_factory=dict, repr=False)
    #: Where each key was last written, so that a problem names that line.
    origins: dict[str, Origin] = field(default_factory=dict, repr=False)

    def matches(self, fields: Mapping[str, Any]) -> bool:
        return self.predicate is not None and self.predicate(fields)

    def render(self, fields: Mapping[str, Any]) -> str:
        """The output with each ``%field`` filled; Falco writes ``<NA>`` for none."""
        return _FIELD.sub(
            lambda match: _shown(fields.get(match.group(1) or match.group(2))),
            self.output,
        )

    def origin(self, key: str) -> Origin:
        file, _, line = self.source.rpartition(":")
        return self.origins.get(key, (file, int(line) if line.isdigit() else 0))


def output_fields(output: str) -> list[str]:
    """The fields an output template names, in order."""
    return [match.group(1) or match.group(2) for match in _FIELD.finditer(output)]


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
    #: Where each macro and list was last written, by ``(kind, name)``.
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict, repr=False)
    #: Macros whose entries could not be loaded: what uses them is not reported again.
    unloaded: set[str] = field(default_factory=set, repr=False)
    #: Rules whose entries could not be loaded, kept to report their conditions too.
    rejected: list[Rule] = field(default_factory=list, repr=False)
    #: The rules that can match each pair of indexed values, in load order.
    by_index: dict[tuple[str | None, ...], list[Rule]] = field(
        default_factory=dict, repr=False
    )

    def matching(self, fields: Mapping[str, Any]) -> list[Rule]:
        """The enabled rules whose condition holds, in load order.

        Only the rules whose condition can hold for the candidate's event name and
        status are evaluated: most rules name the one call and the status they are
        about.
        """
        rules = self._worth_evaluating(fields)
        return [rule for rule in rules if rule.enabled and rule.matches(fields)]

    def _worth_evaluating(self, fields: Mapping[str, Any]) -> list[Rule]:
        key = tuple(_indexed(fields.get(name)) for name in INDEXED_FIELDS)
        if _UNINDEXED in key:
            return self.rules
        rules = self.by_index.get(key)
        if rules is None:
            rules = [rule for rule in self.rules if _may_match(rule, key)]
            self.by_index[key] = rules
        return rules

    def rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def compile(self) -> None:
        """Compile every rule; every broken condition is reported at once."""
        problems = self.compile_problems()
        if problems:
            raise RuleError(problem_lines(problems), problems)

    def compile_problems(self) -> list[RuleProblem]:
        """Compile every rule; the problems met, each where it is written."""
        self.by_index.clear()
        lists, problems = self._expanded_lists()
        definitions = Definitions(self.macros, lists, is_known_field)
        broken, macro_problems = self._macro_problems(definitions)
        problems += macro_problems
        for rule in [*self.rules, *self.rejected]:
            problems += _rule_problems(rule, definitions, broken | self.unloaded)
        return problems

    def _expanded_lists(self) -> tuple[dict[str, list[Any]], list[RuleProblem]]:
        """Each list with the items of the lists it names in their place."""
        expanded: dict[str, list[Any]] = {}
        problems: list[RuleProblem] = []
        for name in self.lists:
            try:
                expanded[name] = _list_items(self.lists, name, ())
            except ValueError as exc:
                file, line = self.origins.get(("list", name), ("", 0))
                problems.append(RuleProblem(file, line, name, str(exc), kind="list"))
                expanded[name] = []
        return expanded, problems

    def _macro_problems(
        self, definitions: Definitions
    ) -> tuple[set[str], list[RuleProblem]]:
        """Each macro compiled alone; a problem is reported in the macro it is in."""
        broken: set[str] = set()
        problems: list[RuleProblem] = []
        for name in self.macros:
            try:
                compile_macro(name, definitions)
            except ConditionError as exc:
                broken.add(name)
                if exc.culprit in (None, name) and exc.macro not in self.unloaded:
                    file, line = self.origins.get(("macro", name), ("", 0))
                    problems.append(_condition_problem(exc, file, line, name, "macro"))
        return broken, problems


#: Fields whose values select the rules worth evaluating on a candidate.
INDEXED_FIELDS = ("evt.name", "status")


#: A value the index cannot stand for (a list): every rule is evaluated.
_UNINDEXED = "\x00unindexed"


def _indexed(value: Any) -> str | None:
    """The value as conditions compare it; None when no comparison can hold."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return _UNINDEXED
    return value_key(value)


def _may_match(rule: Rule, key: tuple[str | None, ...]) -> bool:
    for name, value in zip(INDEXED_FIELDS, key, strict=True):
        allowed = rule.indexed.get(name)
        if allowed is not None and value not in allowed:
            return False
    return True


def _list_items(
    lists: Mapping[str, list[Any]], name: str, path: tuple[str, ...]
) -> Any:
    if name in path:
        loop = " -> ".join((*path, name))
        raise ValueError(f"lists name each other in a loop ({loop})")

    items: list[Any] = []
    for item in lists[name]:
        if isinstance(item, str) and item in lists:
            items += _list_items(lists, item, (*path, name))
        else:
            items.append(item)
    return items


def _rule_problems(
    rule: Rule, definitions: Definitions, broken: set[str]
) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    try:
        rule.predicate = compile_condition(rule.condition, definitions)
        rule.indexed = {
            name: possible_values(rule.condition, definitions, name)
            for name in INDEXED_FIELDS
        }
    except ConditionError as exc:
        if exc.macro not in broken:
            file, line = rule.origin("condition")
            problems.append(_condition_problem(exc, file, line, rule.name, "rule"))

    unknown = [name for name in output_fields(rule.output) if not is_known_field(name)]
    for name in dict.fromkeys(unknown):
        file, line = rule.origin("output")
        msg = f"output names unknown field {name!r}; it would always read <NA>"
        problems.append(RuleProblem(file, line, rule.name, msg))
    return problems


def _condition_problem(
    exc: ConditionError, file: str, line: int, name: str, kind: str
) -> RuleProblem:
    column = exc.position + 1 if exc.position is not None else None
    return RuleProblem(
        file, line, name, exc.reason, column, kind=kind, condition=exc.condition
    )


def problem_lines(problems: Iterable[RuleProblem]) -> str:
    """Problems one a line, for an error message."""
    return "\n".join(str(problem) for problem in problems)


@hookimpl(trylast=True)
def tfdrift_rule_files() -> Sequence[Path]:
    return [BUILTIN_RULES]
