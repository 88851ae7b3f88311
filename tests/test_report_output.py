"""``--output FILE`` with any format, and the format chosen when none is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kms_state import KEY_1234, kms_key, run_cli, write_records, write_state
from tests.test_check_command import record


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "e-1"),
    )
    return state, events


def test_the_report_goes_to_the_file_and_not_to_standard_output(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    state, events = inputs
    report = tmp_path / "out" / "report.json"

    run = run_cli(
        "check", "--state", state, "--events", events, "--format", "json",
        "--output", report,
    )  # fmt: skip

    assert run.exit_code == 1
    assert run.stdout == ""
    [line] = report.read_text(encoding="utf-8").splitlines()
    finding = json.loads(line)
    assert (finding["rule"], finding["event_id"]) == ("kms_key_disabled", "e-1")
    assert [path.name for path in report.parent.iterdir()] == ["report.json"]


def test_an_output_that_cannot_be_written_is_an_error_naming_it(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    state, events = inputs
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")

    run = run_cli(
        "check", "--state", state, "--events", events, "--output", blocker / "r.md"
    )

    assert run.exit_code == 2
    assert f"{blocker / 'r.md'}: cannot write the report there" in run.stderr


def test_without_a_format_the_report_is_text_outside_github_actions(
    inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    state, events = inputs

    run = run_cli("check", "--state", state, "--events", events)

    assert run.stdout.startswith("tfdrift-hook check: 1 managed KMS resource from")


@pytest.mark.parametrize("given", ["", "-"])
def test_an_empty_output_or_a_dash_means_standard_output(
    inputs: tuple[Path, Path], given: str
) -> None:
    state, events = inputs

    run = run_cli("check", "--state", state, "--events", events, "--output", given)

    assert run.exit_code == 1, run.stderr
    assert "kms_key_disabled" in run.stdout


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(
    inputs: tuple[Path, Path],
) -> None:
    state, events = inputs
    before = state.read_bytes()

    run = run_cli("check", "--state", state, "--events", events, "--output", state)

    assert run.exit_code == 2
    assert f"--output {state} is the --state input" in run.stderr
    assert state.read_bytes() == before


def test_an_output_that_is_a_directory_is_refused(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    state, events = inputs

    run = run_cli("check", "--state", state, "--events", events, "--output", tmp_path)

    assert run.exit_code == 2
    assert "Invalid value for '--output'" in run.stderr
    assert f"'{tmp_path}' is a directory" in run.stderr


def test_the_report_file_gets_the_usual_permissions(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    import os

    state, events = inputs
    report = tmp_path / "report.txt"
    previous = os.umask(0o022)
    try:
        run_cli("check", "--state", state, "--events", events, "--output", report)
    finally:
        os.umask(previous)

    assert report.stat().st_mode & 0o777 == 0o644
