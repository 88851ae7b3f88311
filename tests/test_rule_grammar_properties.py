"""Generated conditions: the parser and the evaluator never crash, and precedence
of ``not``, ``and`` and ``or`` is Python's."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tfdrift_hook.conditions import ConditionError, Definitions, compile_condition
from tfdrift_hook.rules import Rule, RuleSet

FIELD_NAMES = ["evt.name", "user", "key.reads", "drift.tags.added", "actor.arn", "x"]
OPERATORS = [
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "glob",
]
DEFINITIONS = Definitions(
    macros={"is_kms": 'cloud.service = "kms"', "loud": "key.reads > 10"},
    lists={"people": ["alice", "bob", 3, True], "empty": []},
)

# Bare values as the grammar has them: no space, quote, parenthesis, comma or operator.
words = st.text(
    alphabet=st.one_of(
        st.characters(whitelist_categories=("L", "N")), st.sampled_from(":/*-_.@[]")
    ),
    min_size=1,
    max_size=8,
)
values = st.one_of(
    words,
    st.text(max_size=8).map(json.dumps),
    st.integers(-5, 20).map(str),
)
members = st.one_of(
    st.lists(values, max_size=4).map(lambda items: f"({', '.join(items)})"),
    st.sampled_from(["people", "empty", "(people, carol)"]),
)
fields = st.sampled_from(FIELD_NAMES)
leaves = st.one_of(
    st.builds(
        lambda f, op, v: f"{f} {op} {v}", fields, st.sampled_from(OPERATORS), values
    ),
    st.builds(lambda f, m: f"{f} in {m}", fields, members),
    st.builds(lambda f, m: f"{f} intersects {m}", fields, members),
    fields.map(lambda f: f"{f} exists"),
    st.sampled_from(["is_kms", "loud"]),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not {c}"),
        inner.map(lambda c: f"({c})"),
        st.builds(lambda a, b: f"{a} and {b}", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
    ),
    max_leaves=12,
)
field_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
candidates = st.dictionaries(
    st.sampled_from([*FIELD_NAMES, "cloud.service"]), field_values
)


@given(conditions, candidates)
@settings(max_examples=200, deadline=None)
def test_conditions_from_the_grammar_compile_and_evaluate_without_raising(
    condition: str, fields: dict[str, Any]
) -> None:
    predicate = compile_condition(condition, DEFINITIONS)

    assert predicate(fields) in (True, False)


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_any_text_either_compiles_or_is_a_condition_error(text: str) -> None:
    try:
        predicate = compile_condition(text, DEFINITIONS)
    except ConditionError as exc:
        assert exc.position is None or 0 <= exc.position <= len(text)
        return
    assert predicate({"evt.name": "x"}) in (True, False)


tokens = st.sampled_from(
    [
        "and",
        "or",
        "not",
        "(",
        ")",
        "=",
        "in",
        "exists",
        "evt.name",
        '"x"',
        ",",
        "people",
    ]
)


@given(st.lists(tokens, max_size=16))
@settings(max_examples=200, deadline=None)
def test_token_soup_either_compiles_or_is_a_condition_error(words: list[str]) -> None:
    with contextlib.suppress(ConditionError):
        compile_condition(" ".join(words), DEFINITIONS)


def test_nesting_deeper_than_the_limit_is_an_error_not_a_crash() -> None:
    deep = "not " * 500 + "evt.name = x"

    try:
        compile_condition(deep, DEFINITIONS)
    except ConditionError as exc:
        assert "nests deeper" in str(exc)
    else:
        raise AssertionError("a 500-deep condition compiled")


# -- precedence against Python's own booleans ---------------------------------------

ATOMS = [f"f{index}" for index in range(4)]


@st.composite
def boolean_expressions(draw: st.DrawFn) -> str:
    """An expression over f0..f3 with not/and/or and parentheses, in Python syntax."""
    parts = [_operand(draw)]
    for _ in range(draw(st.integers(0, 5))):
        parts += [draw(st.sampled_from(["and", "or"])), _operand(draw)]
    return " ".join(parts)


def _operand(draw: st.DrawFn) -> str:
    prefix = "not " * draw(st.integers(0, 2))
    if draw(st.integers(0, 4)) == 0:
        return f"{prefix}({draw(boolean_expressions())})"
    return prefix + draw(st.sampled_from(ATOMS))


@given(boolean_expressions(), st.lists(st.booleans(), min_size=4, max_size=4))
@settings(max_examples=200, deadline=None)
def test_not_binds_tighter_than_and_which_binds_tighter_than_or(
    expression: str, truth: list[bool]
) -> None:
    assignment = dict(zip(ATOMS, truth, strict=True))
    condition = expression
    for atom in ATOMS:
        condition = condition.replace(atom, f"{atom}.v = yes")
    fields = {
        f"{atom}.v": "yes" if value else "no" for atom, value in assignment.items()
    }

    predicate = compile_condition(condition, Definitions(macros={}, lists={}))

    assert predicate(fields) is eval(expression, {}, assignment)  # noqa: S307


# -- the index by event name and status picks what evaluating every rule picks ------

INDEX_WORDS = ["DisableKey", "EnableKey", "out_of_band", "reverted", "3", "true"]
index_values = st.sampled_from(INDEX_WORDS)
index_members = st.lists(index_values, max_size=3).map(
    lambda items: f"({', '.join(items)})"
)
index_fields = st.sampled_from(["evt.name", "status", "user"])
index_leaves = st.one_of(
    st.builds(
        lambda f, op, v: f"{f} {op} {v}",
        index_fields,
        st.sampled_from(["=", "!=", "startswith", "glob"]),
        index_values,
    ),
    st.builds(lambda f, m: f"{f} in {m}", index_fields, index_members),
    st.builds(lambda f, m: f"{f} intersects {m}", index_fields, index_members),
    st.sampled_from(["a_call", "a_state"]),
)
index_conditions = st.recursive(
    index_leaves,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not {c}"),
        st.builds(lambda a, b: f"({a} and {b})", inner, inner),
        st.builds(lambda a, b: f"({a} or {b})", inner, inner),
    ),
    max_leaves=6,
)
index_field_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    index_values,
    st.integers(2, 4),
    st.booleans(),
    st.lists(index_values, max_size=2),
)
index_candidates = st.fixed_dictionaries(
    {"evt.name": index_field_values, "status": index_field_values},
    optional={"user": index_field_values},
)


@given(st.lists(index_conditions, min_size=1, max_size=6), index_candidates)
@settings(max_examples=300, deadline=None)
def test_the_rules_worth_evaluating_are_all_the_rules_that_can_match(
    written: list[str], fields: dict[str, Any]
) -> None:
    rule_set = RuleSet(
        rules=[
            Rule(f"r{index}", condition, "out", "error", f"t.yaml:{index + 1}")
            for index, condition in enumerate(written)
        ],
        macros={"a_call": "evt.name in (DisableKey, 3)", "a_state": "status = true"},
    )
    rule_set.compile()

    every = [rule.name for rule in rule_set.rules if rule.matches(fields)]

    assert [rule.name for rule in rule_set.matching(fields)] == every
