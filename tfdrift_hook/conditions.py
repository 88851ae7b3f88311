"""Rule conditions in the language of Falco rules, compiled to Python predicates.

A condition compares fields of a candidate finding with values::

    cloud.service = "kms" and evt.name in (ScheduleKeyDeletion, DisableKey)
    and not actor.arn startswith "arn:aws:iam::123456789012:role/breakglass"

The grammar is built with Lark (LALR): comparisons (``=``, ``!=``, ``<``, ``<=``, ``>``,
``>=``, ``contains``, ``icontains``, ``startswith``, ``endswith``, ``glob``, ``in``,
``intersects``), ``exists``, ``and``, ``or``, ``not``, parentheses, macros (a named
condition used by its name) and lists (a named set of values used after ``in``).
A field that the candidate does not have makes every comparison on it false.
Conditions nest at most :data:`MAX_DEPTH` deep, so that a generated or hostile
condition is an error rather than a stack overflow.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import lark

Predicate = Callable[[Mapping[str, Any]], bool]

MISSING = object()

#: How deep ``not``, ``and``, ``or``, parentheses and macros may nest.
MAX_DEPTH = 64


class ConditionError(ValueError):
    """A condition that does not parse or names an unknown field, macro or list.

    ``position`` counts from 0 in ``condition``; ``reason`` is the message without
    the position and the text. ``macro`` names the macro, used in ``condition``,
    through which the error arises; ``culprit`` the macro in whose own text the
    error is written (None: in ``condition`` itself). A rule file loader reports each
    error once, in the macro that holds it.
    """

    def __init__(
        self,
        message: str,
        condition: str,
        position: int | None = None,
        macro: str | None = None,
        culprit: str | None = None,
    ):
        self.reason = message
        self.condition = condition
        self.position = position
        self.macro = macro
        self.culprit = culprit
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}: {condition!r}")


@dataclass(frozen=True)
class Definitions:
    """The macros and lists a condition may use by name."""

    macros: Mapping[str, str]
    lists: Mapping[str, Sequence[Any]]
    #: Whether a field name is one the candidates have; None accepts any name.
    known_field: Callable[[str], bool] | None = None


def compile_condition(text: str, definitions: Definitions) -> Predicate:
    """A predicate over a candidate's fields; raises :class:`ConditionError`."""
    tree = parse_condition(text)
    return _Compiler(text, definitions).build(tree, 0)


def compile_macro(name: str, definitions: Definitions) -> Predicate:
    """A macro's own condition, compiled as where a rule uses it; raises KeyError."""
    text = definitions.macros[name]
    return _Compiler(text, definitions, (name,)).build(parse_condition(text), 0)


def possible_values(
    text: str, definitions: Definitions, name: str
) -> frozenset[str] | None:
    """The values of field ``name`` for which a condition can hold; None when any can.

    A rule set evaluates a rule only on the candidates whose event name and status it
    can hold for, the way Falco indexes its rules by event type: ``a and evt.name = X``
    needs X, ``or`` needs what either side needs, and ``not`` may hold for anything.
    Read from a condition that compiled.
    """
    return _values(parse_condition(text), definitions, name, ())


def _values(
    node: Any, definitions: Definitions, name: str, expanding: tuple[str, ...]
) -> frozenset[str] | None:
    kind = node[0]
    if kind in ("and", "or"):
        parts = [_values(child, definitions, name, expanding) for child in node[1:]]
        return _joined_names(kind, parts)

    if kind == "macro":
        macro, text = node[1], definitions.macros.get(node[1])
        if text is None or macro in expanding:
            return None
        return _values(parse_condition(text), definitions, name, (*expanding, macro))

    if kind == "cmp" and node[1] == name and node[2] == "=":
        return frozenset({_key(_literal(node[3]))})

    if kind == "set" and node[1] == name:
        values = _Compiler("", definitions)._expand(node[3])
        return frozenset(_key(value) for value in values)
    return None


def _joined_names(
    kind: str, parts: list[frozenset[str] | None]
) -> frozenset[str] | None:
    if kind == "and":
        known = [part for part in parts if part is not None]
        return frozenset.intersection(*known) if known else None
    if any(part is None for part in parts):
        return None
    return frozenset().union(*[part for part in parts if part is not None])


# Rule files use the same macros in many rules; a text is parsed once.
@lru_cache(maxsize=1024)
def parse_condition(text: str) -> Any:
    """The parse tree of a condition; raises :class:`ConditionError` with a position."""
    try:
        return _parser().parse(text)
    except lark.UnexpectedInput as exc:
        raise ConditionError(_expected(exc), text, _position(exc, text)) from exc


def _position(exc: Any, text: str) -> int:
    token = getattr(exc, "token", None)
    at_end = token is not None and token.type == "$END"
    if at_end or exc.pos_in_stream is None or exc.pos_in_stream < 0:
        return len(text.rstrip())
    return int(exc.pos_in_stream)


# The words of the language. A field may not be one of them, so ``exists`` alone or
# ``a and or b`` is an error at the keyword, not a field named ``exists`` or ``or``.
# The inner lookahead still lets a field start with one (``index``, ``notes``).
_KEYWORDS = (
    "and",
    "or",
    "not",
    "exists",
    "in",
    "intersects",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "glob",
)
_NAME_CHAR = r"[A-Za-z0-9_.\[\]-]"
_FIELD_PATTERN = rf"(?!({'|'.join(_KEYWORDS)})(?!{_NAME_CHAR}))[A-Za-z_]{_NAME_CHAR}*"

_GRAMMAR = rf"""
?start: any
?any: all ("or" all)*            -> either
?all: negated ("and" negated)*   -> both
?negated: "not" negated          -> negation
        | atom
?atom: "(" any ")"
     | FIELD "exists"            -> exists
     | FIELD COMPARE value       -> compare
     | FIELD MEMBER members      -> member
     | FIELD                     -> macro
members: "(" [value ("," value)*] ")"   -> items
       | WORD                           -> listref
value: STRING                    -> text
     | WORD                      -> word
COMPARE: "<=" | ">=" | "!=" | "=" | "<" | ">" | "icontains" | "contains"
       | "startswith" | "endswith" | "glob"
MEMBER: "in" | "intersects"
FIELD: /{_FIELD_PATTERN}/
WORD: /[^\s(),=<>!"']+/
STRING: ESCAPED_STRING | SINGLE_QUOTED
SINGLE_QUOTED: /'[^']*'/
%import common.ESCAPED_STRING
%import common.WS
%ignore WS
"""


@lru_cache(maxsize=1)
def _parser() -> Any:
    return lark.Lark(
        _GRAMMAR,
        parser="lalr",
        lexer="contextual",
        transformer=_TreeBuilder(),
        propagate_positions=False,
    )


_TOKEN_WORDS = {
    "FIELD": "a field",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "STRING": "a quoted value",
    "WORD": "a value",
    "COMPARE": "an operator",
    "MEMBER": "in",
    "EXISTS": "exists",
    "AND": "and",
    "OR": "or",
    "NOT": "not",
    "$END": "the end",
}


def _expected(exc: Any) -> str:
    names = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    words = sorted({_TOKEN_WORDS.get(name, name) for name in names})
    if not words:
        return "condition does not parse"
    return f"condition does not parse (expected {', '.join(words)})"


class _TreeBuilder(lark.Transformer[lark.Token, Any]):
    """Lark parse trees into the plain tuples the compiler reads."""

    def either(self, children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else ("or", *children)

    def both(self, children: list[Any]) -> Any:
        return children[0] if len(children) == 1 else ("and", *children)

    def negation(self, children: list[Any]) -> Any:
        return ("not", children[0])

    # Each leaf ends with where its field (or macro, or list) starts in the text,
    # so that an unknown name is reported where it is written.
    def exists(self, children: list[Any]) -> Any:
        return ("exists", str(children[0]), _start(children[0]))

    def compare(self, children: list[Any]) -> Any:
        field_name, operator, value = children
        return ("cmp", str(field_name), str(operator), value, _start(field_name))

    def member(self, children: list[Any]) -> Any:
        field_name, operator, values = children
        return ("set", str(field_name), str(operator), values, _start(field_name))

    def macro(self, children: list[Any]) -> Any:
        return ("macro", str(children[0]), _start(children[0]))

    def items(self, children: list[Any]) -> Any:
        return [child for child in children if child is not None]

    def listref(self, children: list[Any]) -> Any:
        return [("listref", str(children[0]), _start(children[0]))]

    def text(self, children: list[Any]) -> Any:
        return ("str", _unquoted(str(children[0])))

    def word(self, children: list[Any]) -> Any:
        return ("word", str(children[0]))


def _start(token: Any) -> int | None:
    start = getattr(token, "start_pos", None)
    return int(start) if start is not None else None


def _unquoted(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


class _Compiler:
    """One condition's tree into a predicate; a macro gets a compiler of its own."""

    def __init__(
        self, text: str, definitions: Definitions, expanding: tuple[str, ...] = ()
    ) -> None:
        self.text = text
        self.definitions = definitions
        #: The macros being expanded around this text, to refuse a loop.
        self.expanding = expanding
        #: The macro whose text this is; None for the condition itself.
        self.owner = expanding[-1] if expanding else None

    def build(self, node: Any, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            msg = f"condition nests deeper than {MAX_DEPTH} levels"
            raise ConditionError(msg, self.text, culprit=self.owner)

        kind = node[0]
        if kind == "and":
            parts = [self.build(child, depth + 1) for child in node[1:]]
            return lambda fields: all(part(fields) for part in parts)

        if kind == "or":
            parts = [self.build(child, depth + 1) for child in node[1:]]
            return lambda fields: any(part(fields) for part in parts)

        if kind == "not":
            inner = self.build(node[1], depth + 1)
            return lambda fields: not inner(fields)

        return self._leaf(node, depth)

    def _leaf(self, node: Any, depth: int) -> Predicate:
        kind = node[0]
        if kind == "macro":
            return self._macro(node[1], node[-1], depth)

        self._check_field(node[1], node[-1])
        if kind == "exists":
            name = node[1]
            return lambda fields: _present(fields.get(name, MISSING))

        if kind == "set":
            return self._set(node[1], node[2], node[3])

        return _compare(node[1], node[2], _literal(node[3]))

    def _check_field(self, name: str, position: int | None) -> None:
        known = self.definitions.known_field
        if known is not None and not known(name):
            msg = f"unknown field {name!r}"
            raise ConditionError(msg, self.text, position, culprit=self.owner)

    def _macro(self, name: str, position: int | None, depth: int) -> Predicate:
        condition = self.definitions.macros.get(name)
        if condition is None:
            msg = f"unknown macro or field {name!r}"
            raise ConditionError(msg, self.text, position, name, self.owner)

        if name in self.expanding:
            msg = f"macro {name!r} refers to itself"
            raise ConditionError(msg, self.text, position, name, name)

        inner = _Compiler(condition, self.definitions, (*self.expanding, name))
        try:
            return inner.build(parse_condition(condition), depth + 1)
        except ConditionError as exc:
            # Said where this text uses the macro; the culprit says whose text it is.
            msg = f"macro {name!r}: {exc.reason}"
            culprit = name if exc.culprit is None else exc.culprit
            raise ConditionError(msg, self.text, position, name, culprit) from exc

    def _set(self, name: str, operator: str, values: list[Any]) -> Predicate:
        wanted = frozenset(_key(item) for item in self._expand(values))
        if operator == "intersects":
            return lambda fields: _intersects(fields.get(name, MISSING), wanted)
        return lambda fields: _member(fields.get(name, MISSING), wanted)

    def _expand(self, values: list[Any]) -> list[Any]:
        expanded: list[Any] = []
        for kind, value, *position in values:
            if kind in ("word", "listref") and value in self.definitions.lists:
                expanded.extend(self.definitions.lists[value])
            elif kind == "listref":
                msg = f"unknown list {value!r}"
                raise ConditionError(msg, self.text, position[0], culprit=self.owner)
            else:
                expanded.append(value)
        return expanded


def _literal(token: tuple[str, Any]) -> Any:
    return token[1]


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None and value != [] and value != {}


def value_key(value: Any) -> str:
    """A value as conditions compare it: as text (``true`` for True, ``30`` for 30)."""
    return _key(value)


def _key(value: Any) -> str:
    """Values compare as text, so that ``true`` matches True and ``30`` matches 30."""
    if type(value) is str:
        return value
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
    literal = _key(literal)

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


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def test(actual: Any, literal: Any) -> bool:
        try:
            return compare(float(actual), float(literal))
        except (TypeError, ValueError):
            return bool(compare(str(actual), str(literal)))

    return test


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
