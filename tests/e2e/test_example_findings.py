"""The check on the bundled example reports what ``examples/cloudtrail/README.md`` says.

Each example record carries, in ``examples/cloudtrail_examples.py``, the status and the
rule its author expected when writing it; the README's table is made from them. This
runs the real CLI over the committed example, with the pipeline role trusted as the
README's command does, and holds every record to its expectation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from moto_terraform import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples"
PIPELINE_ROLE = "arn:aws:iam::123456789012:role/terraform-ci"
#: Statuses that are not findings of their own.
SILENT = {"in_band", "failed_attempt", "no finding", "ignored"}


@pytest.fixture(scope="module")
def examples() -> Iterator[list[Any]]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import cloudtrail_examples

        state = json.loads((EXAMPLES / "terraform" / "terraform.tfstate").read_text())
        yield cloudtrail_examples.examples(state)
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="module")
def findings() -> list[dict[str, Any]]:
    command = [
        sys.executable,
        "-m",
        "tfdrift_hook",
        "check",
        "--state",
        str(EXAMPLES / "terraform" / "terraform.tfstate"),
        "--events",
        str(EXAMPLES / "cloudtrail"),
        "--trusted-principal",
        PIPELINE_ROLE,
        "--format",
        "json",
        "--fail-on",
        "critical",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _findings_of(event_id: str, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def mentions(finding: dict[str, Any]) -> bool:
        related = {item["event_id"] for item in finding.get("related_events", [])}
        return finding["event_id"] == event_id or event_id in related

    return [finding for finding in findings if mentions(finding)]


def test_every_record_gets_the_status_its_author_expected(
    examples: list[Any], findings: list[dict[str, Any]]
) -> None:
    wrong = []
    for example in examples:
        expected = example.expected.status
        got = {
            item["status"] for item in _findings_of(example.record["eventID"], findings)
        }
        if expected in SILENT and got:
            wrong.append(f"{example.label}: expected no finding, got {sorted(got)}")
        if expected not in SILENT and expected not in got:
            wrong.append(f"{example.label}: expected {expected}, got {sorted(got)}")

    assert wrong == []


def test_every_expected_rule_fires_with_its_priority(
    examples: list[Any], findings: list[dict[str, Any]]
) -> None:
    wrong = []
    for example in examples:
        if example.expected.rules in ("—", ""):
            continue
        found = {
            f"{item['rule']} ({item['priority']})"
            for item in _findings_of(example.record["eventID"], findings)
        }
        for rule in example.expected.rules.split(", "):
            if rule not in found:
                wrong.append(f"{example.label}: expected {rule}, got {sorted(found)}")

    assert wrong == []


def test_the_failed_attempt_is_no_finding_and_reads_are_counted(
    findings: list[dict[str, Any]],
) -> None:
    assert all(item["status"] != "failed_attempt" for item in findings)
    used = [item for item in findings if item.get("context", {}).get("key_usage")]
    assert used, "findings on keys that were read say how much they were used"
