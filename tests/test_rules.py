"""Rule files: loading, priorities, output templates, and the built-in rule set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfdrift_hook.priorities import priority_name
from tfdrift_hook.rules import BUILTIN_RULES, RuleError, load_rule_files

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


def test_every_broken_entry_is_reported_with_file_and_entry(tmp_path: Path) -> None:
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

    message = str(error.value)
    assert f"{rules}: entry 1: 'no_condition' has no 'condition'" in message
    assert f"{rules}: entry 2: unknown priority 'loud'" in message
    assert (
        f"{rules}: entry 3: entry has none of the keys rule, macro or list" in message
    )


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
    assert by_name["kms_key_tags_changed"].source == f"{rules}: entry 1"
    assert by_name["kms_key_disabled"].enabled is False


def test_a_rule_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(bytes(range(128, 256)))

    with pytest.raises(RuleError, match="not UTF-8 text"):
        load_rule_files([rules])
