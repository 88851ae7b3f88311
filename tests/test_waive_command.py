"""``tfdrift-hook waive``: one narrow entry from a finding's id, the file kept as is."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import KEY_0987, KEY_1234, kms_key, run_cli, write_records
from tests.kms_state import write_state as write_kms_state
from tfdrift_hook.waive_command import insert_entry
from tfdrift_hook.waiver_files import read_waiver_file
from tfdrift_hook.waivers import glob

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
LATER = TODAY + datetime.timedelta(days=30)
APP = 'module.kms.aws_kms_key.app["payments"]'
ENTRY = "- rule: r\n  owner: o\n"


def report_line(**fields: Any) -> str:
    line = {
        "service": "kms",
        "event": "DisableKey",
        "rule": "kms_key_disabled",
        "priority": "error",
        "address": APP,
        "event_id": "d1",
        "id": "TFD-0123456789",
        **fields,
    }
    return json.dumps(line) + "\n"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.jsonl"
    path.write_text(
        report_line()
        + report_line(
            id="TFD-abcdefabcd",
            rule="kms_key_rotation_disabled",
            address="aws_kms_key.logs",
            event_id="r1",
        ),
        encoding="utf-8",
    )
    return path


def waive(directory: Path, *args: str | Path, expires: Any = LATER) -> Any:
    # The arguments come last, so that a test's own --owner or --expires wins.
    return run_cli(
        "waive",
        "-C",
        directory,
        "--owner",
        "alice@example.com",
        "--reason",
        "paused for the key migration",
        "--expires",
        str(expires),
        *args,
    )


# -- what is written -----------------------------------------------------------------


def test_a_report_finding_becomes_one_narrow_entry_in_the_default_file(
    tmp_path: Path, report: Path
) -> None:
    run = waive(tmp_path, "TFD-0123456789", "--from-report", report)

    target = tmp_path / ".tfdrift-waivers.yml"
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(f"{target}: waived TFD-0123456789 until {LATER}\n")
    load = read_waiver_file(target)
    assert load.problems == []
    [waiver] = load.waivers
    assert (waiver.rule, waiver.event_id) == ("kms_key_disabled", "d1")
    assert (waiver.owner, waiver.reason) == (
        "alice@example.com",
        "paused for the key migration",
    )
    assert waiver.expires == LATER
    assert waiver.source == f"{target}:2"


def test_the_address_is_the_finding_s_and_matches_that_instance_only(
    tmp_path: Path, report: Path
) -> None:
    waive(tmp_path, "TFD-0123456789", "--from-report", report)

    [waiver] = read_waiver_file(tmp_path / ".tfdrift-waivers.yml").waivers
    assert waiver.address == APP
    pattern = glob(APP)
    assert pattern.match(APP)
    assert not pattern.match('module.kms.aws_kms_key.app["other"]')


def test_the_file_s_text_and_comments_are_kept_and_the_entry_follows_them(
    tmp_path: Path, report: Path
) -> None:
    existing = (
        "# Waivers for the payments stack; reviewed every quarter.\n"
        "- rule: kms_key_rotation_disabled  # the HSM rotates it\n"
        "  address: aws_kms_key.hsm\n"
        "  owner: hsm-team\n"
        "  reason: rotation is done in the HSM\n"
        f"  expires: {LATER}\n"
    )
    target = tmp_path / ".tfdrift-waivers.yml"
    target.write_text(existing, encoding="utf-8")

    run = waive(tmp_path, "tfd-0123456789", "--from-report", report)

    assert run.exit_code == 0, run.stderr
    text = target.read_text(encoding="utf-8")
    assert text.startswith(existing)
    assert text[len(existing) :].startswith(
        "# TFD-0123456789, added by tfdrift-hook waive on "
    )
    rules = [w.rule for w in read_waiver_file(target).waivers]
    assert rules == ["kms_key_rotation_disabled", "kms_key_disabled"]


def test_a_config_file_gets_the_entry_inside_its_waivers_list(
    tmp_path: Path, report: Path
) -> None:
    config = tmp_path / ".tfdrift.yml"
    config.write_text(
        "waivers:\n"
        "  - rule: kms_alias_modified\n"
        "    owner: dns\n"
        "    reason: the alias follows the DNS cutover\n"
        f"    expires: {LATER}\n"
        "fail_on: warning\n",
        encoding="utf-8",
    )

    run = waive(tmp_path, "TFD-abcdefabcd", "--from-report", report, "--file", config)

    assert run.exit_code == 0, run.stderr
    text = config.read_text(encoding="utf-8")
    assert text.endswith("fail_on: warning\n")
    load = read_waiver_file(config, in_config=True)
    assert load.problems == []
    assert [w.rule for w in load.waivers] == [
        "kms_alias_modified",
        "kms_key_rotation_disabled",
    ]
    assert "is not read by check" not in run.stderr


def test_a_file_no_check_reads_is_written_with_a_warning(
    tmp_path: Path, report: Path
) -> None:
    other = tmp_path / "elsewhere.yml"

    run = waive(tmp_path, "TFD-abcdefabcd", "--from-report", report, "--file", other)

    assert run.exit_code == 0
    assert read_waiver_file(other).waivers[0].event_id == "r1"
    assert f"{other} is not read by check" in run.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", ENTRY, id="empty"),
        pytest.param("# only a comment", "# only a comment\n" + ENTRY, id="comment"),
        pytest.param("[]\n", "\n" + ENTRY, id="empty flow list"),
        pytest.param(
            "waivers: []\n", "waivers:\n  - rule: r\n    owner: o\n", id="empty key"
        ),
        pytest.param(
            "waivers:\n# none yet\n",
            "waivers:\n  - rule: r\n    owner: o\n# none yet\n",
            id="key without value",
        ),
        pytest.param(
            "fail_on: warning\n",
            "fail_on: warning\nwaivers:\n  - rule: r\n    owner: o\n",
            id="config without waivers",
        ),
        pytest.param(
            "  - rule: a\n    owner: b\n",
            "  - rule: a\n    owner: b\n  - rule: r\n    owner: o\n",
            id="indented list",
        ),
        pytest.param(
            "- rule: a\n  reason: |\n    two\n    lines\n# trailing\n",
            # PyYAML ends a block scalar after the comment lines that follow it.
            "- rule: a\n  reason: |\n    two\n    lines\n# trailing\n" + ENTRY,
            id="block scalar last",
        ),
        pytest.param(
            "- rule: a\n  owner: b", "- rule: a\n  owner: b\n" + ENTRY, id="no newline"
        ),
    ],
)
def test_the_entry_goes_after_the_list_s_last_item(text: str, expected: str) -> None:
    assert insert_entry(text, ENTRY, "w.yml") == expected


# -- refused, nothing written --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("--expires", str(TODAY - datetime.timedelta(days=1))),
            f"--expires {TODAY - datetime.timedelta(days=1)} is past (today is {TODAY}",
            id="past",
        ),
        pytest.param(
            ("--expires", "31/12/2030"),
            "--expires '31/12/2030' is not a date; write YYYY-MM-DD",
            id="not a date",
        ),
        pytest.param(
            ("--expires", "2099-W01-1"),  # date.fromisoformat reads it as 2098-12-29
            "--expires '2099-W01-1' is not a date; write YYYY-MM-DD",
            id="week date",
        ),
        pytest.param(
            ("--owner", " "),
            "--owner is blank; name who answers for it",
            id="blank owner",
        ),
        pytest.param(
            ("--reason", ""),
            "--reason is blank; say why the finding is accepted",
            id="blank reason",
        ),
    ],
)
def test_bad_terms_are_refused_and_nothing_is_written(
    tmp_path: Path, report: Path, args: tuple[str, ...], message: str
) -> None:
    run = waive(tmp_path, "TFD-0123456789", "--from-report", report, *args)

    assert run.exit_code == 2
    assert message in run.stderr
    assert not (tmp_path / ".tfdrift-waivers.yml").exists()


def test_an_expiry_of_today_is_accepted(tmp_path: Path, report: Path) -> None:
    run = waive(tmp_path, "TFD-0123456789", "--from-report", report, expires=TODAY)

    assert run.exit_code == 0, run.stderr


def test_a_missing_owner_is_a_usage_error(tmp_path: Path, report: Path) -> None:
    run = run_cli(
        "waive", "TFD-0123456789", "--from-report", report, "--reason", "r",
        "--expires", str(LATER),
    )  # fmt: skip

    assert run.exit_code == 2
    assert "--owner" in run.stderr


def test_an_id_not_in_the_report_names_how_many_findings_there_were(
    tmp_path: Path, report: Path
) -> None:
    run = waive(tmp_path, "TFD-9999999999", "--from-report", report)

    assert run.exit_code == 2
    assert f"TFD-9999999999 is not among the 2 findings in {report}" in run.stderr


def test_something_that_is_no_id_is_refused(tmp_path: Path, report: Path) -> None:
    run = waive(tmp_path, "kms_key_disabled", "--from-report", report)

    assert run.exit_code == 2
    assert "'kms_key_disabled' is not a finding id" in run.stderr


def test_a_text_report_is_refused_as_no_json_lines_report(tmp_path: Path) -> None:
    text_report = tmp_path / "report.txt"
    text_report.write_text("  ERROR  kms_key_disabled  [TFD-0123456789]\n")

    run = waive(tmp_path, "TFD-0123456789", "--from-report", text_report)

    assert run.exit_code == 2
    assert f"{text_report}:1: not a finding of a JSON-lines report" in run.stderr


def test_a_finding_already_waived_is_refused(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    waiver = {"owner": "o", "reason": "r", "expires": str(LATER), "source": "w.yml:3"}
    report.write_text(report_line(waiver=waiver))

    run = waive(tmp_path, "TFD-0123456789", "--from-report", report)

    assert run.exit_code == 2
    assert "already waived by the entry at w.yml:3" in run.stderr


def test_the_report_of_a_stale_waiver_is_refused(tmp_path: Path) -> None:
    report = tmp_path / "report.jsonl"
    stale = {"owner": "o", "reason": "r", "expires": "2020-01-01", "source": "w.yml:3"}
    report.write_text(report_line(rule="tfdrift_waiver_expired", stale_waiver=stale))

    run = waive(tmp_path, "TFD-0123456789", "--from-report", report)

    assert run.exit_code == 2
    assert "reports the waiver at w.yml:3; renew or remove that entry" in run.stderr


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        pytest.param("[{rule: a}]\n", "the list is written in [...] form", id="flow"),
        pytest.param("key: [\n", "not valid YAML", id="broken"),
        pytest.param("just text\n", "waivers are a YAML list", id="scalar"),
        pytest.param("waivers: null\n", "waivers: is null", id="null"),
    ],
)
def test_a_file_the_entry_cannot_be_added_to_is_left_alone(
    tmp_path: Path, report: Path, existing: str, message: str
) -> None:
    target = tmp_path / ".tfdrift-waivers.yml"
    target.write_text(existing, encoding="utf-8")

    run = waive(tmp_path, "TFD-0123456789", "--from-report", report)

    assert run.exit_code == 2
    assert message in run.stderr
    assert target.read_text(encoding="utf-8") == existing
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tfdrift")] == [
        ".tfdrift-waivers.yml"
    ]


def test_a_file_with_other_broken_entries_still_gets_the_new_one(
    tmp_path: Path, report: Path
) -> None:
    # Someone else's broken entry is theirs to fix; it must not block this one.
    target = tmp_path / ".tfdrift-waivers.yml"
    target.write_text("- rule: kms_alias_modified\n  owner: dns\n", encoding="utf-8")

    run = waive(tmp_path, "TFD-0123456789", "--from-report", report)

    assert run.exit_code == 0, run.stderr
    load = read_waiver_file(target)
    assert [w.rule for w in load.waivers] == ["kms_key_disabled"]
    assert len(load.problems) == 2  # the old entry: no reason, no expires


# -- from a check ------------------------------------------------------------------


def disable_key_record(event_id: str, key_id: str, name: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "userName": "alice",
        },
        "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-west-2",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": {"keyId": key_id},
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
    }


@pytest.fixture
def checked(tmp_path: Path) -> tuple[Path, Path]:
    state = write_kms_state(
        tmp_path,
        kms_key("app", KEY_1234, index="payments", module="module.kms"),
        kms_key("logs", KEY_0987),
    )
    events = write_records(
        tmp_path,
        "events.json",
        disable_key_record("d1", KEY_1234, "DisableKey"),
        disable_key_record("r1", KEY_0987, "DisableKeyRotation"),
    )
    return state, events


def test_a_finding_of_a_fresh_check_is_waived_and_then_no_longer_gates(
    tmp_path: Path, checked: tuple[Path, Path]
) -> None:
    state, events = checked
    before = run_cli("check", "--state", state, "--events", events, "--format", "json")
    disabled = next(
        json.loads(line)
        for line in before.stdout.splitlines()
        if json.loads(line)["rule"] == "kms_key_disabled"
    )
    assert before.exit_code == 1

    run = waive(tmp_path, disabled["id"], "--state", state, "--events", events)

    assert run.exit_code == 0, run.stderr
    [waiver] = read_waiver_file(tmp_path / ".tfdrift-waivers.yml").waivers
    assert (waiver.rule, waiver.event_id) == ("kms_key_disabled", "d1")
    assert waiver.address == APP
    after = run_cli(
        "check", "-C", tmp_path, "--state", state, "--events", events,
        "--format", "json",
    )  # fmt: skip
    waived = [json.loads(line) for line in after.stdout.splitlines()]
    assert [item["rule"] for item in waived if "waiver" in item] == ["kms_key_disabled"]


def test_an_id_not_found_by_a_check_that_read_everything_is_a_usage_error(
    tmp_path: Path, checked: tuple[Path, Path]
) -> None:
    state, events = checked

    run = waive(tmp_path, "TFD-9999999999", "--state", state, "--events", events)

    assert run.exit_code == 2
    assert "TFD-9999999999 is not among the 2 findings of this check" in run.stderr


def test_an_id_not_found_by_an_incomplete_check_is_incomplete(
    tmp_path: Path, checked: tuple[Path, Path]
) -> None:
    state, events = checked
    missing = tmp_path / "missing.json"

    run = waive(
        tmp_path, "TFD-9999999999", "--state", state, "--events", events,
        "--events", missing,
    )  # fmt: skip

    assert run.exit_code == 3
    assert "which could not read everything" in run.stderr
    assert not (tmp_path / ".tfdrift-waivers.yml").exists()
