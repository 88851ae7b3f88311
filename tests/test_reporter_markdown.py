"""``--format markdown``: the verdict first, escaped values, and a report that fits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    ACCOUNT,
    KEY_1234,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import record
from tfdrift_hook.check_command import load_rules
from tfdrift_hook.inventory import load_inventory
from tfdrift_hook.pipeline import CheckRequest, CheckResult, run_check
from tfdrift_hook.plugin_manager import build_plugin_manager
from tfdrift_hook.reporters.escaping import ZWJ, escape_markdown
from tfdrift_hook.reporters.markdown import render_markdown

HOSTILE = (
    "[x](http://e) ![i](http://e/i.png) <img src=x onerror=alert(1)> @admin "
    "`code` a|b <!-- c\nd\re _em_ key_id Refreshing state... #12 www.e.org"
)
# Worked out by hand: a backslash before the marks of links, code, emphasis and
# cells and before a # that would reference an issue, entities for HTML, joiners
# after @, after the ":" of a URL, after "www" and inside "Refreshing state", and
# visible escapes (their backslash escaped too) for the line breaks.
HOSTILE_ESCAPED = (
    f"\\[x\\](http:{ZWJ}//e) !\\[i\\](http:{ZWJ}//e/i.png) "
    "&lt;img src=x onerror=alert(1)&gt; "
    f"@{ZWJ}admin \\`code\\` a\\|b &lt;!-- c\\\\nd\\\\re \\_em\\_ key_id "
    f"Refreshing{ZWJ} state... \\#12 www{ZWJ}.e.org"
)
TIME = "2026-11-30T10:00:00Z"


def test_hostile_values_are_escaped_wherever_they_appear(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    person = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory",
        "accountId": ACCOUNT,
        "userName": HOSTILE,
    }
    events = write_records(
        tmp_path,
        "events.json",
        record(
            "UpdateKeyDescription",
            {"keyId": KEY_1234, "description": HOSTILE},
            TIME,
            "d1",
            identity=person,
        ),
    )

    run = run_cli("check", "--state", state, "--events", events, "--format", "markdown")

    lines = run.stdout.splitlines()
    assert f"* change: description: app key -> {HOSTILE_ESCAPED}" in lines
    row = next(line for line in lines if line.startswith("| 1 |"))
    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert [cell.strip() for cell in cells] == [
        "1",
        "NOTICE",
        "kms_key_description_changed",
        "aws_kms_key.app",
        HOSTILE_ESCAPED,
        TIME,
    ]
    assert "<" not in run.stdout and "@admin" not in run.stdout
    assert "Refreshing state" not in run.stdout
    assert not any(line.lstrip().startswith(("```", "-", "+")) for line in lines)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("1. item", "1\\. item"),
        ("2) item", "2\\) item"),
        ("**bold** ~~gone~~ $x$", "\\*\\*bold\\*\\* \\~\\~gone\\~\\~ \\$x\\$"),
        ("tab\tand\x1b[31m", "tab\\\\tand\\\\x1b\\[31m"),
        ("see https://e.org/x", f"see https:{ZWJ}//e.org/x"),
        ("zero\u200bwidth", "zero\\\\u200bwidth"),
        ("a\\b", "a\\\\b"),
        ("x" * 12, "xxxxxxxxxx... (2 more characters)"),
    ],
)
def test_escaping_of_one_value(value: str, escaped: str) -> None:
    limit = 10 if value == "x" * 12 else 1000

    assert escape_markdown(value, limit) == escaped


def many_findings(tmp_path: Path) -> tuple[Path, Path]:
    """5,000 keys: 200 scheduled for deletion (critical), 1,800 disabled (error),
    3,000 with a new description (notice), one event each, all by alice."""
    keys = [f"{index:08x}-0000-4000-8000-000000000000" for index in range(5000)]
    state = write_state(
        tmp_path, *[kms_key(f"k{index:04d}", key) for index, key in enumerate(keys)]
    )
    records = []
    request: dict[str, Any]
    for index, key in enumerate(keys):
        if index < 200:
            name, request = "ScheduleKeyDeletion", {"pendingWindowInDays": 7}
        elif index < 2000:
            name, request = "DisableKey", {}
        else:
            name, request = "UpdateKeyDescription", {"description": "new"}
        records.append(record(name, {"keyId": key, **request}, TIME, f"e{index}"))
    return state, write_records(tmp_path, "events.json", *records)


def test_5000_findings_fit_one_comment_and_say_how_many_were_left_out(
    tmp_path: Path,
) -> None:
    state, events = many_findings(tmp_path)

    run = run_cli("check", "--state", state, "--events", events, "--format", "markdown")

    report = run.stdout
    assert run.exit_code == 1
    assert len(report) < 65_535
    lines = report.splitlines()
    assert lines[0] == "## tfdrift-hook check: STOPPED (exit 1)"
    assert "2000 findings at or above --fail-on error: this run is stopped." in lines
    assert "Findings: 5000 (200 critical, 1800 error, 3000 notice)." in lines
    rows = [line for line in lines if re.match(r"\| \d+ \|", line)]
    left_out = 5000 - len(rows)
    assert left_out > 0
    assert any(
        line.startswith(
            f"Summarised to stay under 65000 characters: {left_out} of 5000 "
            "findings are left out of the table, and 5000 have no details below it "
            "(the least severe are left out first)."
        )
        for line in lines
    )
    assert f"{left_out} more findings not shown." in report
    assert "--format json" in report and "### Details" not in report
    # Most severe first, and no row was left out that would still have fitted.
    assert all("| CRITICAL |" in row for row in rows[:200])
    assert all("| ERROR |" in row for row in rows[200:])
    shown = len(rows)
    following = (
        f"| {shown + 1} | ERROR | kms_key_disabled | aws_kms_key.k{shown:04d} "
        f"| alice | {TIME} |"
    )
    assert len(report) + len(following) + 1 > 65_000


def test_details_go_before_table_rows(tmp_path: Path) -> None:
    state, events = many_findings(tmp_path)
    result = checked(state, events)
    whole = render_markdown(result, max_chars=10_000_000)

    trimmed = render_markdown(result, max_chars=len(whole) - 1)

    assert whole.count("\n#### ") == 5000
    assert trimmed.count("\n#### ") == 4999
    assert "#### 5000." not in trimmed
    assert "| 5000 | NOTICE |" in trimmed
    assert (
        f"Summarised to stay under {len(whole) - 1} characters: all 5000 findings "
        "are in the table, and 1 has no details below it" in trimmed
    )
    assert len(trimmed) <= len(whole) - 1


def checked(state: Path, events: Path) -> CheckResult:
    plugins = build_plugin_manager({})
    request = CheckRequest(inventory=load_inventory(state), event_paths=(events,))
    return run_check(request, plugins.manager, load_rules(plugins, request))


def test_an_incomplete_result_leads_with_what_could_not_be_read(
    tmp_path: Path,
) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    events = write_records(
        tmp_path, "events.json", record("DisableKey", {"keyId": KEY_1234}, TIME, "d1")
    )

    run = run_cli(
        "check", "--state", state, "--events", events, "--events", broken,
        "--format", "markdown",
    )  # fmt: skip

    lines = run.stdout.splitlines()
    assert run.exit_code == 3
    assert lines[0] == "## tfdrift-hook check: INCOMPLETE (exit 3)"
    problems = lines.index("### INCOMPLETE: 1 input could not be read")
    assert lines[problems + 2].startswith(f"* {escape_markdown(broken)}")
    assert problems < lines.index("### Findings, most severe first")


def test_a_check_with_no_finding_says_it_is_not_stopped(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    events = write_records(tmp_path, "events.json")

    run = run_cli("check", "--state", state, "--events", events, "--format", "markdown")

    lines = run.stdout.splitlines()
    assert run.exit_code == 0
    assert lines[0] == "## tfdrift-hook check: not stopped (exit 0)"
    assert "Nothing at or above --fail-on error." in lines
    assert "Findings: none." in lines and "No finding." in lines
