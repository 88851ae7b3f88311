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
    assert lines["kms_key_tags_changed"].endswith(f"{mine}: entry 1")
    assert "informational (off)" in lines["kms_key_rotated"]
    count = len(_builtin_rule_names())
    assert run.stdout.splitlines()[-1] == f"{count} rules, {count - 1} enabled."
