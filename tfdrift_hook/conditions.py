"""Rule conditions in the language of Falco rules, compiled to Python predicates.

A condition compares fields of a candidate finding with values::

    cloud.service = "kms" and evt.name in (ScheduleKeyDeletion, DisableKey)
    and not actor.arn startswith "arn:aws:iam::123456789012:role/breakglass"

The grammar is built with pyparsing: comparisons (``=``, ``!=``, ``<``, ``<=``, ``>``,
``>=``, ``contains``, ``icontains``, ``startswith``, ``endswith``, ``glob``, ``in``,
``intersects``), ``exists``, ``and``, ``or``, ``not``, parentheses, macros (a named
condition used by its name) and lists (a named set of values used after ``in``).
A field that the candidate does not have makes every comparison on it false.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyparsing as pp

Predicate = Callable[[Mapping[str, Any]], bool]

MISSING = object()

COMPARISONS = (
    "<=",
    ">=",
    "!=",
    "=",
    "<",
    ">",
    "icontains",
    "contains",
    "startswith",
    "endswith",
    "glob",
)
SET_OPERATORS = ("in", "intersects")
KEYWORDS = ("and", "or", "not", "exists", *SET_OPERATORS, *COMPARISONS[6:])


class ConditionError(ValueError):
    """A condition that does not parse or names an unknown macro or list."""

    def __init__(self, message: str, condition: str, position: int | None = None):
        self.condition = condition
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}: {condition!r}")


@dataclass(frozen=True)
class Definitions:
    """The macros and lists a condition may use by name."""

    macros: Mapping[str, str]
    lists: Mapping[str, Sequence[Any]]


def compile_condition(text: str, definitions: Definitions) -> Predicate:
    """A predicate over a candidate's fields; raises :class:`ConditionError`."""
    tree = parse_condition(text)
    return _Compiler(text, definitions).build(tree)


def parse_condition(text: str) -> Any:
    """The parse tree of a condition; raises :class:`ConditionError` with a position."""
    try:
        return _grammar().parse_string(text, parse_all=True)[0]
    except pp.ParseException as exc:
        raise ConditionError("condition does not parse", text, exc.loc) from exc


@lru_cache(maxsize=1)
def _grammar() -> pp.ParserElement:
    keyword = pp.MatchFirst([pp.Keyword(word) for word in KEYWORDS])
    field_name = pp.Regex(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]*")
    field_name = (~keyword + field_name).set_name("field")
    quoted = pp.QuotedString('"', esc_char="\\") | pp.QuotedString("'", esc_char="\\")
    number = pp.Regex(r"-?\d+(\.\d+)?(?![A-Za-z_.:/\-])")
    bare = pp.Regex(r"[^\s(),=<>!\"']+")
    scalar = (
        quoted.copy().set_parse_action(lambda t: ("str", t[0]))
        | number.copy().set_parse_action(lambda t: ("num", float(t[0])))
        | (~keyword + bare).set_parse_action(lambda t: ("word", t[0]))
    )
    items = pp.Group(
        pp.Suppress("(") + pp.Optional(pp.DelimitedList(scalar)) + pp.Suppress(")")
    )
    set_value = items | (~keyword + bare).set_parse_action(lambda t: ("listref", t[0]))

    operator = pp.MatchFirst(
        [pp.Keyword(op) if op.isalpha() else pp.Literal(op) for op in COMPARISONS]
    )
    set_operator = pp.MatchFirst([pp.Keyword(op) for op in SET_OPERATORS])
    exists = field_name + pp.Keyword("exists")
    compare = field_name + operator + scalar
    membership = field_name + set_operator + set_value
    macro_name = pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*(?![A-Za-z0-9_.\-\[\]])")
    macro = ~keyword + macro_name + ~pp.FollowedBy(operator)

    operand = (
        pp.Group(exists).set_parse_action(lambda t: ("exists", t[0][0]))
        | pp.Group(membership).set_parse_action(_membership)
        | pp.Group(compare).set_parse_action(_comparison)
        | macro.copy().set_parse_action(lambda t: ("macro", t[0]))
    )
    return pp.infix_notation(
        operand,
        [
            (pp.Keyword("not"), 1, pp.OpAssoc.RIGHT, lambda t: ("not", t[0][1])),
            (pp.Keyword("and"), 2, pp.OpAssoc.LEFT, lambda t: ("and", *t[0][0::2])),
            (pp.Keyword("or"), 2, pp.OpAssoc.LEFT, lambda t: ("or", *t[0][0::2])),
        ],
    )


def _comparison(tokens: pp.ParseResults) -> tuple[Any, ...]:
    field_name, operator, value = tokens[0]
    return ("cmp", field_name, operator, value)


def _membership(tokens: pp.ParseResults) -> tuple[Any, ...]:
    field_name, operator, value = tokens[0]
    if isinstance(value, tuple):
        return ("set", field_name, operator, [value])
    return ("set", field_name, operator, list(value))


class _Compiler:
    def __init__(self, text: str, definitions: Definitions) -> None:
        self.text = text
        self.definitions = definitions
        self.expanding: tuple[str, ...] = ()

    def build(self, node: Any) -> Predicate:
        kind = node[0]
        if kind == "and":
            parts = [self.build(child) for child in node[1:]]
            return lambda fields: all(part(fields) for part in parts)

        if kind == "or":
            parts = [self.build(child) for child in node[1:]]
            return lambda fields: any(part(fields) for part in parts)

        if kind == "not":
            inner = self.build(node[1])
            return lambda fields: not inner(fields)

        return self._leaf(node)

    def _leaf(self, node: Any) -> Predicate:
        kind = node[0]
        if kind == "exists":
            name = node[1]
            return lambda fields: _present(fields.get(name, MISSING))

        if kind == "macro":
            return self._macro(node[1])

        if kind == "set":
            return self._set(node[1], node[2], node[3])

        return _compare(node[1], node[2], _literal(node[3]))

    def _macro(self, name: str) -> Predicate:
        condition = self.definitions.macros.get(name)
        if condition is None:
            raise ConditionError(f"unknown macro or field {name!r}", self.text)

        if name in self.expanding:
            raise ConditionError(f"macro {name!r} refers to itself", self.text)

        self.expanding += (name,)
        try:
            return self.build(parse_condition(condition))
        finally:
            self.expanding = self.expanding[:-1]

    def _set(self, name: str, operator: str, values: list[Any]) -> Predicate:
        wanted = frozenset(_key(item) for item in self._expand(values))
        if operator == "intersects":
            return lambda fields: _intersects(fields.get(name, MISSING), wanted)
        return lambda fields: _member(fields.get(name, MISSING), wanted)

    def _expand(self, values: list[Any]) -> list[Any]:
        expanded: list[Any] = []
        for kind, value in values:
            if kind in ("word", "listref") and value in self.definitions.lists:
                expanded.extend(self.definitions.lists[value])
            elif kind == "listref":
                raise ConditionError(f"unknown list {value!r}", self.text)
            else:
                expanded.append(value)
        return expanded


def _literal(token: tuple[str, Any]) -> Any:
    return token[1]


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None and value != [] and value != {}


def _key(value: Any) -> Any:
    """Values compare as text, so that ``true`` matches True and ``30`` matches 30."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _member(actual: Any, wanted: frozenset[Any]) -> bool:
    if not _present(actual):
        return False
    if isinstance(actual, (list, tuple, set, frozenset)):
        return all(_key(item) in wanted for item in actual)
    return _key(actual) in wanted


def _intersects(actual: Any, wanted: frozenset[Any]) -> bool:
    if not _present(actual):
        return False
    items = actual if isinstance(actual, (list, tuple, set, frozenset)) else [actual]
    return any(_key(item) in wanted for item in items)


def _compare(name: str, operator: str, literal: Any) -> Predicate:
    test = _OPERATORS[operator]

    def predicate(fields: Mapping[str, Any]) -> bool:
        actual = fields.get(name, MISSING)
        if actual is MISSING or actual is None:
            return False
        return test(actual, literal)

    return predicate


def _equal(actual: Any, literal: Any) -> bool:
    if isinstance(actual, (list, tuple)):
        return False
    return _key(actual) == _key(literal)


def _ordered(compare: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def test(actual: Any, literal: Any) -> bool:
        try:
            return compare(float(actual), float(literal))
        except (TypeError, ValueError):
            return compare_text(str(actual), str(literal), compare)

    return test


def compare_text(left: str, right: str, compare: Callable[[Any, Any], bool]) -> bool:
    return bool(compare(left, right))


def _contains(actual: Any, literal: Any) -> bool:
    if isinstance(actual, (list, tuple, set, frozenset)):
        return _key(literal) in {_key(item) for item in actual}
    return _key(literal) in str(actual)


def _icontains(actual: Any, literal: Any) -> bool:
    if isinstance(actual, (list, tuple, set, frozenset)):
        return any(_key(literal).lower() in str(item).lower() for item in actual)
    return _key(literal).lower() in str(actual).lower()


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _equal,
    "!=": lambda actual, literal: not _equal(actual, literal),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "contains": _contains,
    "icontains": _icontains,
    "startswith": lambda actual, literal: str(actual).startswith(_key(literal)),
    "endswith": lambda actual, literal: str(actual).endswith(_key(literal)),
    "glob": lambda actual, literal: fnmatch.fnmatchcase(str(actual), _key(literal)),
}
