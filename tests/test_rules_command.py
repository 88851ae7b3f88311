"""``tfdrift-hook rules list``: every rule in force, its priority and its source."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.kms_state import run_cli
from tfdrift_hook.rules import BUILTIN_RULES


@pytest.fixture(autouse=True)
def _own_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TFDRIFT_CONFIG", "TFDRIFT_HOOK_DISABLE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _builtin_rule_names() -> set[str]:
    entries = yaml.safe_load(BUILTIN_RULES.read_text(encoding="utf-8"))
    return {entry["rule"] for entry in entries if "rule" in entry}


def test_the_builtin_rules_are_listed_most_severe_first_with_their_file() -> None:
    run = run_cli("rules", "list", "--format", "json")

    assert run.exit_code == 0, run.stderr
    listed = run.findings  # one JSON object a line
    assert {item["rule"] for item in listed} == _builtin_rule_names()
    assert listed[0]["priority"] == "critical"
    assert listed[-1]["priority"] == "informational"
    assert all(item["source"].startswith(str(BUILTIN_RULES)) for item in listed)


def test_a_users_file_overrides_and_switches_off_rules_and_says_where(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "team.yaml"
    mine.write_text(
        "- rule: kms_key_tags_changed\n"
        "  desc: Tags matter to us.\n"
        '  condition: kms_managed_change and evt.name = "TagResource"\n'
        '  output: "tags changed on %resource"\n'
        "  priority: error\n"
        "- rule: kms_key_rotated\n"
        "  enabled: false\n",
        encoding="utf-8",
    )

    run = run_cli("rules", "list", "--rules", mine)

    assert run.exit_code == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines()[1:-1]}
    assert lines["kms_key_tags_changed"].split()[1] == "error"
    assert lines["kms_key_tags_changed"].endswith(f"{mine}:1")
    assert "informational (off)" in lines["kms_key_rotated"]
    assert lines["kms_key_rotated"].endswith(f", changed at {mine}:6")
    count = len(_builtin_rule_names())
    assert run.stdout.splitlines()[-1] == f"{count} rules, {count - 1} enabled."


def test_validate_counts_what_it_loaded_when_the_file_is_valid(tmp_path: Path) -> None:
    mine = tmp_path / "team.yaml"
    mine.write_text(
        "- list: breakglass\n  items: [alice]\n"
        "- rule: breakglass_policy_change\n"
        "  condition: kms_managed_change and user in (breakglass)\n"
        "  output: '%user changed %resource'\n"
        "  priority: notice\n",
        encoding="utf-8",
    )
    entries = yaml.safe_load(BUILTIN_RULES.read_text(encoding="utf-8"))
    rules = sum(1 for entry in entries if "rule" in entry) + 1
    macros = sum(1 for entry in entries if "macro" in entry)
    lists = sum(1 for entry in entries if "list" in entry) + 1

    run = run_cli("rules", "validate", mine)

    assert run.exit_code == 0, run.stdout
    assert run.stdout == f"{rules} rules, {macros} macros, {lists} lists: valid\n"


def test_validate_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(
        "- rule: a\n  condition: kms_event and\n  output: x\n  priority: error\n"
        "- macro: kms_event\n  append: true\n  condition: and region = eu-west-1\n"
        "  priority: error\n",
        encoding="utf-8",
    )
    second = tmp_path / "second.yaml"
    second.write_text("rule: not a list\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"

    run = run_cli("rules", "validate", first, second, missing)

    assert run.exit_code == 2
    assert run.stdout.splitlines() == [
        f"{first}:2: rule 'a': condition does not parse (expected '(', a field, not), "
        "at column 14 of 'kms_event and'",
        f"{first}:8: macro 'kms_event': unknown key 'priority' in a macro entry",
        f"{second}:1: a rule file is a YAML list of rule, macro and list entries",
        f"{missing}: cannot read rule file: No such file or directory",
        "4 problems: not valid",
    ]


def test_validate_says_where_yaml_itself_is_broken(tmp_path: Path) -> None:
    mine = tmp_path / "team.yaml"
    mine.write_text("- rule: a\n  condition: [unclosed\n", encoding="utf-8")

    run = run_cli("rules", "validate", mine)

    assert run.exit_code == 2
    assert run.stdout.startswith(f"{mine}:3: not valid YAML: ")
