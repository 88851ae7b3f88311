"""Rule files: loading, priorities, output templates, and the built-in rule set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfdrift_hook.priorities import priority_name
from tfdrift_hook.rule_files import load_rule_files, validate_rule_files
from tfdrift_hook.rules import BUILTIN_RULES, RuleError

POLICY_CHANGE = {
    "cloud.service": "kms",
    "evt.name": "PutKeyPolicy",
    "status": "out_of_band",
    "resource": "arn:aws:kms:us-east-1:111122223333:key/k1",
    "user": "alice",
    "drift.policy.external_principals": ["arn:aws:iam::444455556666:root"],
}


def test_builtin_rules_ship_the_coverage_documents_rules_and_alerts() -> None:
    rules = {rule.name: rule for rule in load_rule_files([BUILTIN_RULES]).rules}

    assert rules["kms_key_deletion_scheduled"].priority == "critical"
    assert rules["kms_key_rotation_disabled"].priority == "error"
    assert rules["kms_key_policy_modified"].priority == "critical"
    assert rules["kms_key_policy_external_grant"].priority == "critical"
    assert rules["kms_key_disabled"].priority == "error"
    assert rules["kms_key_deletion_scheduled"].output == (
        "KMS Key Deletion Scheduled (key=%resource deletion_date=%drift.deletion_date "
        "user=%user)"
    )


def test_a_policy_change_with_an_external_principal_matches_two_rules() -> None:
    rule_set = load_rule_files([BUILTIN_RULES])

    matched = {
        rule.name: rule.render(POLICY_CHANGE)
        for rule in rule_set.matching(POLICY_CHANGE)
    }

    assert set(matched) == {"kms_key_policy_modified", "kms_key_policy_external_grant"}
    assert matched["kms_key_policy_modified"] == (
        "KMS Key Policy Modified "
        "(key=arn:aws:kms:us-east-1:111122223333:key/k1 user=alice)"
    )


def test_in_band_changes_match_no_builtin_rule() -> None:
    rule_set = load_rule_files([BUILTIN_RULES])

    assert rule_set.matching({**POLICY_CHANGE, "status": "in_band"}) == []


def test_missing_fields_render_as_na() -> None:
    rule = load_rule_files([BUILTIN_RULES]).rules[0]

    assert "deletion_date=<NA>" in rule.render({"resource": "k", "user": "bob"})


def test_every_broken_entry_is_reported_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "- rule: no_condition\n  output: x\n  priority: error\n"
        "- rule: bad_priority\n  condition: evt.name = x\n"
        "  output: x\n  priority: loud\n"
        "- something: else\n",
        encoding="utf-8",
    )

    with pytest.raises(RuleError) as error:
        load_rule_files([rules])

    lines = str(error.value).splitlines()
    assert lines == [
        f"{rules}:1: rule 'no_condition': no 'condition'",
        f"{rules}:7: rule 'bad_priority': unknown priority 'loud' (use one of: "
        "emergency, alert, critical, error, warning, notice, informational, debug)",
        f"{rules}:8: entry has none of the keys rule, macro or list",
    ]


def test_a_condition_that_does_not_parse_names_the_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "- rule: broken\n  condition: evt.name = \n  output: x\n  priority: error\n",
        encoding="utf-8",
    )

    with pytest.raises(RuleError, match="rule 'broken': condition does not parse"):
        load_rule_files([rules])


def test_rule_files_that_are_not_lists_are_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rule: x\n", encoding="utf-8")

    with pytest.raises(RuleError, match="a rule file is a YAML list"):
        load_rule_files([rules])


@pytest.mark.parametrize(
    ("text", "name"), [("CRITICAL", "critical"), ("info", "informational")]
)
def test_priorities_are_falcos(text: str, name: str) -> None:
    assert priority_name(text) == name


def test_a_field_nobody_has_is_an_error_not_a_rule_that_never_fires(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        '- rule: typo\n  condition: evt.nme = "DisableKey"\n  output: x\n'
        "  priority: error\n",
        encoding="utf-8",
    )

    with pytest.raises(RuleError, match="rule 'typo': unknown field 'evt.nme'"):
        load_rule_files([rules])


@pytest.mark.parametrize("field", ["key.manged", "key.read", "key.", "key.reads.x"])
def test_the_key_fields_are_a_closed_set(tmp_path: Path, field: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"- rule: typo\n  condition: {field} exists\n  output: x\n  priority: error\n",
        encoding="utf-8",
    )

    with pytest.raises(RuleError, match=f"unknown field '{field}'"):
        load_rule_files([rules])


def test_a_rule_of_the_same_name_replaces_and_enabled_false_disables(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "- rule: kms_key_tags_changed\n  condition: evt.name = TagResource\n"
        "  output: tags %user\n  priority: critical\n"
        "- rule: kms_key_disabled\n  enabled: false\n",
        encoding="utf-8",
    )

    rule_set = load_rule_files([BUILTIN_RULES, rules])

    by_name = {rule.name: rule for rule in rule_set.rules}
    assert [rule.name for rule in rule_set.rules].count("kms_key_tags_changed") == 1
    assert by_name["kms_key_tags_changed"].priority == "critical"
    assert by_name["kms_key_tags_changed"].source == f"{rules}:1"
    assert by_name["kms_key_disabled"].amended == (f"{rules}:5",)
    assert by_name["kms_key_disabled"].enabled is False


def test_a_rule_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(bytes(range(128, 256)))

    with pytest.raises(RuleError, match="not UTF-8 text"):
        load_rule_files([rules])


def _line_of(path: Path, text: str) -> int:
    """The 1-based line of ``text`` in a file, read from the file itself."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines.index(text) + 1


def _write(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(*paths: Path) -> list[str]:
    return [str(problem) for problem in validate_rule_files(paths)]


def test_each_rule_says_the_file_and_line_it_is_defined_on() -> None:
    rules = {rule.name: rule for rule in load_rule_files([BUILTIN_RULES]).rules}

    line = _line_of(BUILTIN_RULES, "- rule: kms_key_policy_modified")
    assert rules["kms_key_policy_modified"].source == f"{BUILTIN_RULES}:{line}"


def test_a_condition_error_names_line_rule_column_and_what_was_expected(
    tmp_path: Path,
) -> None:
    rules = _write(
        tmp_path,
        "- rule: ok\n  condition: evt.name = x\n  output: x\n  priority: error\n"
        "- rule: broken\n  output: x\n  priority: error\n"
        "  condition: evt.name = x and (status = y\n",
    )

    problems = validate_rule_files([rules])

    assert len(problems) == 1
    problem = problems[0]
    # "evt.name = x and (status = y" is 28 characters; the ")" is due after them.
    assert (problem.file, problem.line, problem.rule) == (str(rules), 8, "broken")
    assert problem.column == 29
    assert problem.message == "condition does not parse (expected ')')"
    assert str(problem) == (
        f"{rules}:8: rule 'broken': condition does not parse (expected ')'), "
        "at column 29 of 'evt.name = x and (status = y'"
    )


def test_an_unknown_field_is_reported_at_its_column(tmp_path: Path) -> None:
    rules = _write(
        tmp_path,
        '- rule: typo\n  condition: kms_event and usr = "bob"\n  output: x\n'
        "  priority: error\n",
    )

    (problem,) = validate_rule_files([BUILTIN_RULES, rules])

    assert problem.message == "unknown field 'usr'"
    assert (problem.line, problem.column) == (2, 15)


def test_every_problem_of_every_file_is_reported_not_only_the_first(
    tmp_path: Path,
) -> None:
    first = _write(
        tmp_path,
        "- rule: a\n  conditon: evt.name = x\n  output: x\n  priority: error\n"
        "- rule: b\n  condition: evt.name =\n  output: x\n  priority: error\n",
        "first.yaml",
    )
    second = _write(
        tmp_path,
        "- rule: c\n  condition: evt.name = x\n  output: '%evt.nam'\n"
        "  priority: error\n",
        "second.yaml",
    )

    problems = _problems(first, second)

    assert problems == [
        f"{first}:2: rule 'a': unknown key 'conditon' in a rule entry; "
        "did you mean 'condition'?",
        f"{first}:6: rule 'b': condition does not parse (expected a quoted value, "
        "a value), at column 11 of 'evt.name ='",
        f"{second}:3: rule 'c': output names unknown field 'evt.nam'; "
        "it would always read <NA>",
    ]


def test_a_broken_macro_is_reported_once_where_it_is_written(tmp_path: Path) -> None:
    rules = _write(
        tmp_path,
        "- macro: mine\n  condition: evt.name = x and\n"
        "- rule: one\n  condition: mine\n  output: x\n  priority: error\n"
        "- rule: two\n  condition: not mine\n  output: x\n  priority: error\n",
    )

    assert _problems(rules) == [
        f"{rules}:2: macro 'mine': condition does not parse (expected '(', a field, "
        "not), at column 17 of 'evt.name = x and'"
    ]


def test_falco_version_entries_are_accepted_and_change_nothing(tmp_path: Path) -> None:
    rules = _write(
        tmp_path,
        "- required_engine_version: 0.26.0\n"
        "- required_plugin_versions:\n  - name: cloudtrail\n    version: 0.2.3\n",
    )

    rule_set = load_rule_files([BUILTIN_RULES, rules])

    assert len(rule_set.rules) == len(load_rule_files([BUILTIN_RULES]).rules)


def test_append_true_adds_condition_text_items_and_is_falcos_older_form(
    tmp_path: Path,
) -> None:
    rules = _write(
        tmp_path,
        "- list: breakglass\n  items: [alice]\n"
        "- list: breakglass\n  append: true\n  items: [bob]\n"
        "- macro: policy_event\n  condition: evt.name = PutKeyPolicy\n"
        "- macro: policy_event\n  append: true\n  condition: or evt.name = CreateKey\n"
        "- rule: kms_key_policy_modified\n  append: true\n"
        "  condition: and not user in (breakglass)\n",
    )

    rule_set = load_rule_files([BUILTIN_RULES, rules])

    assert rule_set.lists["breakglass"] == ["alice", "bob"]
    assert rule_set.macros["policy_event"] == (
        "evt.name = PutKeyPolicy or evt.name = CreateKey"
    )
    rule = rule_set.rule("kms_key_policy_modified")
    assert rule is not None
    assert rule.condition == (
        'kms_managed_change and evt.name = "PutKeyPolicy" and not user in (breakglass)'
    )
    assert rule.source.startswith(f"{BUILTIN_RULES}:")
    assert rule.amended == (f"{rules}:11",)
    assert rule.matches({**POLICY_CHANGE, "user": "carol"})
    assert not rule.matches({**POLICY_CHANGE, "user": "bob"})


def test_override_replaces_output_and_priority_and_appends_condition_and_tags(
    tmp_path: Path,
) -> None:
    rules = _write(
        tmp_path,
        "- rule: kms_key_policy_modified\n"
        "  override:\n    condition: append\n    output: replace\n"
        "    priority: replace\n    tags: append\n"
        '  condition: and not actor.arn endswith ":role/breakglass"\n'
        "  output: policy of %resource changed by %{user}!\n"
        "  priority: WARNING\n"
        "  tags: [team_a, kms]\n",
    )

    rule = load_rule_files([BUILTIN_RULES, rules]).rule("kms_key_policy_modified")

    assert rule is not None
    assert rule.priority == "warning"
    assert rule.tags == ("kms", "policy", "access", "team_a")
    assert rule.render(POLICY_CHANGE) == (
        "policy of arn:aws:kms:us-east-1:111122223333:key/k1 changed by alice!"
    )
    assert rule.matches(POLICY_CHANGE)
    breakglass = {**POLICY_CHANGE, "actor.arn": "arn:aws:iam::1:role/breakglass"}
    assert not rule.matches(breakglass)


def test_override_replace_of_a_macro_and_a_list(tmp_path: Path) -> None:
    rules = _write(
        tmp_path,
        "- list: admins\n  items: [alice]\n"
        "- list: admins\n  override: {items: replace}\n  items: [carol]\n"
        "- macro: kms_event\n  override: {condition: replace}\n"
        "  condition: cloud.service = kms and not user in (admins)\n",
    )

    rule_set = load_rule_files([BUILTIN_RULES, rules])

    assert rule_set.lists["admins"] == ["carol"]
    rule = rule_set.rule("kms_key_policy_modified")
    assert rule is not None
    assert rule.matches(POLICY_CHANGE)
    assert not rule.matches({**POLICY_CHANGE, "user": "carol"})


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            "- rule: kms_key_disabled\n  override: {output: append}\n  output: x\n",
            "2: rule 'kms_key_disabled': override of 'output' is replace, not 'append'",
        ),
        (
            "- rule: kms_key_disabled\n  override: {condition: append}\n",
            "2: rule 'kms_key_disabled': override names 'condition' but the "
            "entry has none",
        ),
        (
            "- rule: kms_key_disabled\n  override: {condition: append}\n"
            "  condition: and user = x\n  priority: notice\n",
            "4: rule 'kms_key_disabled': 'priority' is given but override does "
            "not say append or replace for it",
        ),
        (
            "- rule: kms_key_disabled\n  append: true\n  output: x\n",
            "3: rule 'kms_key_disabled': append: true adds to the condition only; "
            "to change 'output' use override: {output: replace}",
        ),
        (
            "- rule: nobody_wrote_me\n  append: true\n  condition: and x = y\n",
            "1: rule 'nobody_wrote_me': no rule 'nobody_wrote_me' is defined before "
            "this entry (files load in order, the built-in rules first)",
        ),
        (
            "- rule: nobody_wrote_me\n  enabled: false\n",
            "1: rule 'nobody_wrote_me': no rule 'nobody_wrote_me' is defined before "
            "this entry (files load in order, the built-in rules first) to switch "
            "on or off",
        ),
        (
            "- list: l\n  items: [a]\n  append: yes please\n",
            "3: list 'l': append is true or false",
        ),
        (
            "- rule: r\n  condition: evt.name = y\n  output: o\n  priority: info\n"
            "  enabled: 'no'\n",
            "5: rule 'r': enabled is true or false",
        ),
        (
            "- macro: m\n  condition: status = y\n  condition: status = z\n",
            "3: key 'condition' is given twice in this entry (line 2 too)",
        ),
        (
            "- rule: kms_key_disabled\n  override: {condition: [append]}\n"
            "  condition: and user = x\n",
            "2: rule 'kms_key_disabled': override of 'condition' is append or "
            "replace, not ['append']",
        ),
    ],
)
def test_append_and_override_mistakes_are_named(
    tmp_path: Path, entry: str, problem: str
) -> None:
    rules = _write(tmp_path, entry)

    assert _problems(BUILTIN_RULES, rules) == [f"{rules}:{problem}"]


def test_a_rule_entry_of_a_name_alone_is_a_rule_missing_its_keys(
    tmp_path: Path,
) -> None:
    rules = _write(tmp_path, "- rule: kms_key_disabled\n")

    assert _problems(BUILTIN_RULES, rules) == [
        f"{rules}:1: rule 'kms_key_disabled': no 'condition'",
        f"{rules}:1: rule 'kms_key_disabled': no 'output'",
        f"{rules}:1: rule 'kms_key_disabled': no 'priority'",
    ]


def test_list_items_may_name_lists_even_ones_appended_later(tmp_path: Path) -> None:
    rules = _write(
        tmp_path,
        "- list: humans\n  items: [alice]\n"
        "- list: allowed\n  items: [humans, ci-bot]\n"
        "- list: humans\n  append: true\n  items: [bob]\n"
        "- rule: outsider\n  condition: not user in (allowed)\n  output: '%user'\n"
        "  priority: notice\n",
    )

    rule = load_rule_files([rules]).rule("outsider")

    assert rule is not None
    assert not rule.matches({"user": "bob"})
    assert not rule.matches({"user": "ci-bot"})
    assert rule.matches({"user": "mallory"})


def test_lists_that_name_each_other_in_a_loop_are_an_error(tmp_path: Path) -> None:
    rules = _write(tmp_path, "- list: a\n  items: [b]\n- list: b\n  items: [x, a]\n")

    assert _problems(rules) == [
        f"{rules}:2: list 'a': lists name each other in a loop (a -> b -> a)",
        f"{rules}:4: list 'b': lists name each other in a loop (b -> a -> b)",
    ]


def test_the_error_of_load_rule_files_lists_each_problem_on_a_line(
    tmp_path: Path,
) -> None:
    rules = _write(
        tmp_path,
        "- rule: a\n  condition: evt.name = x\n  output: x\n  priority: loud\n"
        "- macro: m\n  items: [x]\n",
    )

    with pytest.raises(RuleError) as error:
        load_rule_files([rules])

    assert [str(problem) for problem in error.value.problems] == str(
        error.value
    ).splitlines()
    # The macro's unknown key is its one problem: a typo is not also a missing key.
    assert len(error.value.problems) == 2
