"""The condition language: operators, precedence, macros, lists and error positions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfdrift_hook.conditions import (
    ConditionError,
    Definitions,
    compile_condition,
    possible_values,
)

NO_DEFINITIONS = Definitions(macros={}, lists={})

FIELDS = {
    "cloud.service": "kms",
    "evt.name": "PutKeyPolicy",
    "status": "out_of_band",
    "actor.arn": "arn:aws:iam::111122223333:user/Alice",
    "key.managed": True,
    "key.reads": 12,
    "drift.policy.external_principals": ["arn:aws:iam::444455556666:root"],
    "drift.policy.wildcard_principals": [],
}


def holds(condition: str, definitions: Definitions = NO_DEFINITIONS) -> bool:
    return compile_condition(condition, definitions)(FIELDS)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('cloud.service = "kms"', True),
        ("cloud.service = kms", True),
        ("cloud.service != kms", False),
        ("key.reads > 11", True),
        ("key.reads >= 12", True),
        ("key.reads < 12", False),
        ("key.reads <= 12", True),
        ('actor.arn startswith "arn:aws:iam::111122223333:"', True),
        ("actor.arn endswith user/Alice", True),
        ("actor.arn contains 1111", True),
        ("actor.arn icontains ALICE", True),
        ('actor.arn glob "arn:aws:iam::*:user/*"', True),
        ("evt.name in (PutKeyPolicy, CreateKey)", True),
        ("evt.name in (CreateKey)", False),
        ("drift.policy.external_principals exists", True),
        ("drift.policy.wildcard_principals exists", False),
        (
            "drift.policy.external_principals contains arn:aws:iam::444455556666:root",
            True,
        ),
        (
            "drift.policy.external_principals intersects "
            "(x, arn:aws:iam::444455556666:root)",
            True,
        ),
        ("key.managed = true", True),
        ("missing.field = x", False),
        ("missing.field != x", False),
        ("not missing.field exists", True),
    ],
)
def test_each_operator_gives_the_right_answer(condition: str, expected: bool) -> None:
    assert holds(condition) is expected


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    # (not false) and false or true -> ((not false) and false) or true -> true
    assert holds("not evt.name = x and evt.name = x or status = out_of_band")
    # not (a or b) differs from (not a) or b
    assert not holds("not (evt.name = PutKeyPolicy or status = x)")
    assert holds("not evt.name = x or status = x")
    assert not holds("evt.name = x or status = out_of_band and key.managed = false")


def test_macros_and_lists_expand_by_name() -> None:
    definitions = Definitions(
        macros={
            "drifted": "status in (drift_statuses)",
            "policy": "evt.name = PutKeyPolicy",
        },
        lists={"drift_statuses": ["out_of_band", "reverted"]},
    )
    assert holds("drifted and policy", definitions)
    assert holds("evt.name in drift_statuses or drifted", definitions)


def test_unknown_macro_and_self_reference_are_errors() -> None:
    with pytest.raises(ConditionError, match="unknown macro or field 'nope'"):
        holds("nope and cloud.service = kms")
    looping = Definitions(macros={"a": "b", "b": "a"}, lists={})
    with pytest.raises(ConditionError, match="refers to itself"):
        holds("a", looping)


@pytest.mark.parametrize(
    ("condition", "position"),
    [
        ("evt.name = ", 10),  # the value is missing at the end
        ("evt.name = x and", 16),  # "and" with nothing after it
        ("(evt.name = x", 13),  # the closing parenthesis is missing
        ("evt.name in (a, b", 17),  # the list is not closed
        ("a = b and c.d ~ 3", 14),  # "~" is no operator
        ("a = b and or c = d", 10),  # "or" where a comparison should start
    ],
)
def test_malformed_conditions_report_a_position(condition: str, position: int) -> None:
    with pytest.raises(ConditionError) as error:
        holds(condition)
    assert error.value.position == position
    assert f"at position {position + 1}:" in str(error.value)


words = st.sampled_from(
    [
        "and",
        "or",
        "not",
        "(",
        ")",
        "=",
        "!=",
        "in",
        "exists",
        "evt.name",
        "kms",
        '"x"',
        "12",
        ",",
        "contains",
        "glob",
        "status",
        "key.reads",
        ">",
        "<=",
    ]
)


@given(st.lists(words, max_size=12))
def test_generated_conditions_never_crash(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        predicate = compile_condition(text, NO_DEFINITIONS)
    except ConditionError:
        return
    assert predicate(FIELDS) in (True, False)


NAMED_DELETIONS = ("ScheduleKeyDeletion", "CancelKeyDeletion")
NAMED = Definitions(
    macros={
        "deletion": "evt.name in (ScheduleKeyDeletion, CancelKeyDeletion)",
        "kms_event": 'cloud.service = "kms"',
    },
    lists={"rotation_calls": ["EnableKeyRotation", "DisableKeyRotation"]},
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('evt.name = "DisableKey"', {"DisableKey"}),
        ("kms_event and evt.name = DisableKey", {"DisableKey"}),
        ("evt.name in (DisableKey, EnableKey)", {"DisableKey", "EnableKey"}),
        ("evt.name in rotation_calls", {"EnableKeyRotation", "DisableKeyRotation"}),
        ("deletion", {"ScheduleKeyDeletion", "CancelKeyDeletion"}),
        # Both sides of an ``and`` must hold: only the names both allow.
        ("deletion and evt.name = CancelKeyDeletion", {"CancelKeyDeletion"}),
        ("evt.name = DisableKey and evt.name = EnableKey", set()),
        # An ``or`` holds for what either side allows, unless one side allows any.
        ("evt.name = DisableKey or deletion", {"DisableKey", *NAMED_DELETIONS}),
        ("evt.name = DisableKey or kms_event", None),
        ("not evt.name = DisableKey", None),
        ("evt.name != DisableKey", None),
        ('evt.name startswith "Disable"', None),
        ("kms_event", None),
    ],
)
def test_the_event_names_a_condition_can_hold_for(
    condition: str, expected: set[str] | None
) -> None:
    names = possible_values(condition, NAMED, "evt.name")
    assert names == (None if expected is None else frozenset(expected))
