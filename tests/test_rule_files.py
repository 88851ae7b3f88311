"""The coverage document's three example rules, in a file written as it shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    KEY_1234,
    check_json,
    key_arn,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import record

#: The document's "Falco Rule Examples", each rule an entry of a YAML list; the
#: condition stays on the line after ``condition:``, as the document has it.
COVERAGE_RULES = """\
- rule: kms_key_deletion_scheduled
  condition:
    cloud.service = "kms" and evt.name = "ScheduleKeyDeletion"
  output: "KMS Key Deletion Scheduled (key=%resource deletion_date=%drift.deletion_date user=%user)"
  priority: critical
- rule: kms_key_rotation_disabled
  condition:
    cloud.service = "kms" and evt.name = "DisableKeyRotation"
  output: "KMS Key Rotation Disabled (key=%resource user=%user)"
  priority: error
- rule: kms_key_policy_modified
  condition:
    cloud.service = "kms" and evt.name = "PutKeyPolicy"
  output: "KMS Key Policy Modified (key=%resource user=%user)"
  priority: critical
"""  # noqa: E501 (the document's output lines are longer than ours)
COVERAGE_DOCUMENT = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "seeds"
    / "000_ee20623535ef841b.txt"
)
KEY = key_arn(KEY_1234)
EMPTY_POLICY = '{"Version":"2012-10-17","Statement":[]}'


def test_the_file_says_what_the_coverage_document_says() -> None:
    if not COVERAGE_DOCUMENT.is_file():
        pytest.skip(f"{COVERAGE_DOCUMENT} is only beside the project")
    # Lines 33-47: the three rules, under the heading "Falco Rule Examples".
    lines = COVERAGE_DOCUMENT.read_text(encoding="utf-8").splitlines()[32:47]

    written = [line.strip().removeprefix("- ") for line in COVERAGE_RULES.splitlines()]

    assert written == [line.strip() for line in lines]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    rules = tmp_path / "coverage.yaml"
    rules.write_text(COVERAGE_RULES, encoding="utf-8")
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "ScheduleKeyDeletion",
            {"keyId": KEY_1234, "pendingWindowInDays": 7},
            "2026-11-30T10:00:00Z",
            "s1",
        ),
        record("DisableKeyRotation", {"keyId": KEY_1234}, "2026-11-30T09:00:00Z", "r1"),
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policyName": "default", "policy": EMPTY_POLICY},
            "2026-11-30T08:00:00Z",
            "p1",
        ),
    )
    return rules, state, events


def test_the_three_rules_load_with_rules_and_fire_as_written(
    inputs: tuple[Path, Path, Path],
) -> None:
    rules, state, events = inputs

    run = check_json(state, events, extra=("--rules", str(rules)))

    outputs = {item["rule"]: item["output"] for item in run.findings}
    # Seven days after 2026-11-30T10:00:00Z; alice is the caller of every record.
    assert outputs["kms_key_deletion_scheduled"] == (
        f"KMS Key Deletion Scheduled (key={KEY} deletion_date=2026-12-07T10:00:00Z "
        "user=alice)"
    )
    assert outputs["kms_key_rotation_disabled"] == (
        f"KMS Key Rotation Disabled (key={KEY} user=alice)"
    )
    assert outputs["kms_key_policy_modified"] == (
        f"KMS Key Policy Modified (key={KEY} user=alice)"
    )
    priorities = {item["rule"]: item["priority"] for item in run.findings}
    assert priorities["kms_key_deletion_scheduled"] == "critical"
    assert priorities["kms_key_rotation_disabled"] == "error"
    assert run.exit_code == 1


def test_rules_test_shows_each_rule_of_the_file_with_what_it_matched(
    inputs: tuple[Path, Path, Path],
) -> None:
    rules, state, events = inputs

    run = run_cli("rules", "test", rules, "--state", state, "--events", events)

    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"kms_key_deletion_scheduled (critical, {rules}:1): 1 record",
        "  s1  2026-11-30T10:00:00Z  ScheduleKeyDeletion  aws_kms_key.app",
        f"    KMS Key Deletion Scheduled (key={KEY} deletion_date=2026-12-07T10:00:00Z"
        " user=alice)",
        f"kms_key_rotation_disabled (error, {rules}:6): 1 record",
        "  r1  2026-11-30T09:00:00Z  DisableKeyRotation  aws_kms_key.app",
        f"    KMS Key Rotation Disabled (key={KEY} user=alice)",
        f"kms_key_policy_modified (critical, {rules}:11): 1 record",
        "  p1  2026-11-30T08:00:00Z  PutKeyPolicy  aws_kms_key.app",
        f"    KMS Key Policy Modified (key={KEY} user=alice)",
        f"3 rules of {rules}, 3 matched.",
    ]


def test_rules_test_names_the_rules_that_matched_nothing_and_speaks_json(
    inputs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, state, events = inputs
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "- rule: kms_key_enabled_by_bob\n"
        "  condition: kms_managed_change and evt.name = EnableKey and user = bob\n"
        "  output: bob enabled %resource\n"
        "  priority: notice\n"
        "- rule: kms_key_rotation_disabled\n"
        "  override: {priority: replace}\n"
        "  priority: critical\n",
        encoding="utf-8",
    )

    run = run_cli(
        "rules", "test", mine, "--state", state, "--events", events, "--format", "json"
    )

    assert run.exit_code == 0, run.stderr
    by_rule = {item["rule"]: item for item in run.findings}
    assert set(by_rule) == {"kms_key_enabled_by_bob", "kms_key_rotation_disabled"}
    assert by_rule["kms_key_enabled_by_bob"]["matches"] == []
    rotation = by_rule["kms_key_rotation_disabled"]
    assert rotation["priority"] == "critical"
    assert rotation["amended"] == [f"{mine}:5"]
    assert [match["event_id"] for match in rotation["matches"]] == ["r1"]
    assert rotation["matches"][0]["output"] == (
        f"KMS Key Rotation Disabled (key={KEY} user=alice)"
    )


# -- the rule file a team starts from: examples/rules/tfdrift-rules.yaml --------------

PROJECT = Path(__file__).resolve().parent.parent
STARTER = PROJECT / "examples" / "rules" / "tfdrift-rules.yaml"
EXAMPLE_STATE = PROJECT / "examples" / "terraform" / "terraform.tfstate"
EXAMPLE_EVENTS = PROJECT / "examples" / "cloudtrail"


def test_the_starter_rule_file_is_valid() -> None:
    run = run_cli("rules", "validate", STARTER)

    assert run.exit_code == 0, run.stdout
    assert run.stdout.endswith(": valid\n")


def test_the_starter_rule_file_changes_the_example_as_its_comments_say() -> None:
    plain = check_json(EXAMPLE_STATE, EXAMPLE_EVENTS)
    started = check_json(EXAMPLE_STATE, EXAMPLE_EVENTS, extra=("--rules", str(STARTER)))

    # examples/cloudtrail/README.md: the partner's principals are granted by E18's
    # PutKeyPolicy and E25's CreateGrant, and E17 edits the audit key's description.
    gone = {
        "kms_key_policy_external_grant",
        "kms_grant_to_external_principal",
        "kms_key_description_changed",
    }
    before = plain.rules()
    after = started.rules()
    assert gone <= set(before)
    assert not gone & set(after)
    # E33 schedules the audit key's deletion with 7 days of wait.
    assert after.count("kms_key_deletion_short_wait") == 1
    assert len(after) == len(before) - len(gone) + 1
    # Alice (E30) is no crypto operator: her on-demand rotation is still reported.
    assert "kms_key_rotated_on_demand" in after

    by_rule: dict[str, list[dict[str, Any]]] = {}
    for line in started.findings:
        by_rule.setdefault(line["rule"], []).append(line)
    assert {line["priority"] for line in by_rule["kms_terraform_outside_pipeline"]} == {
        "error"
    }
    (short,) = by_rule["kms_key_deletion_short_wait"]
    assert short["priority"] == "emergency"
    assert short["address"] == "module.audit_logs.aws_kms_key.this"
    assert " in 7 days on 2026-12-05T15:40:12Z user=dana.whitfield)" in short["output"]
