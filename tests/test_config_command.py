"""``.tfdrift.yml`` reaches ``check``; ``config --show`` says where values came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kms_state import (
    KEY_1234,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import PIPELINE, PIPELINE_ROLE, TERRAFORM_AGENT, record


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    write_state(tmp_path, kms_key("app", KEY_1234))
    write_records(
        tmp_path,
        "events.json",
        record(
            "TagResource",
            {"keyId": KEY_1234, "tags": [{"tagKey": "a", "tagValue": "b"}]},
            "2026-11-30T10:00:00Z",
            "t1",
        ),
        record(
            "PutKeyPolicy",
            {"keyId": KEY_1234, "policy": "{}"},
            "2026-11-30T10:05:00Z",
            "p1",
            identity=PIPELINE,
            agent=TERRAFORM_AGENT,
        ),
    )
    (tmp_path / ".tfdrift.yml").write_text(
        f"fail_on: warning\ntrusted_principals: ['{PIPELINE_ROLE}']\n"
        "events: [events.json]\n",
        encoding="utf-8",
    )
    return tmp_path


def test_the_settings_file_sets_threshold_trust_and_events(directory: Path) -> None:
    run = run_cli(
        "check",
        "-C",
        directory,
        "--state",
        directory / "terraform.tfstate",
        "--format",
        "json",
    )

    # the pipeline's call is in band; the tag change is a warning, which now gates
    assert run.exit_code == 1
    assert "kms_key_tags_changed" in run.stdout
    assert "kms_key_policy_modified" not in run.stdout


def test_the_command_line_beats_the_environment_which_beats_the_file(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = directory / "terraform.tfstate"
    monkeypatch.setenv("TFDRIFT_FAIL_ON", "critical")
    from_env = run_cli("check", "-C", directory, "--state", state)
    from_cli = run_cli(
        "check", "-C", directory, "--state", state, "--fail-on", "notice"
    )

    assert from_env.exit_code == 0
    assert from_cli.exit_code == 1


def test_config_show_names_each_origin(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFDRIFT_FAIL_ON", "")  # empty: use the file's value

    run = run_cli("config", "-C", directory, "--show")

    assert run.exit_code == 0
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line.strip()}
    assert "warning" in lines["fail_on"] and ".tfdrift.yml: fail_on" in lines["fail_on"]
    assert PIPELINE_ROLE in lines["trusted_principals"]
    assert "(default)" in lines["settle_minutes"]


def test_a_wrong_type_in_the_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / ".tfdrift.yml").write_text("settle_minutes: soon\n", encoding="utf-8")

    run = run_cli("config", "-C", tmp_path)

    assert run.exit_code == 2
    assert ".tfdrift.yml" in run.stderr and "settle_minutes" in run.stderr


def test_check_reads_live_events_from_cloudtrail_lookup_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fake_cloudtrail import serving

    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    disable = record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "d1")
    with serving() as fake:
        fake.seed([disable])
        (tmp_path / ".tfdrift.yml").write_text(
            f"sources:\n  lookup_events:\n    endpoint_url: {fake.url}\n",
            encoding="utf-8",
        )

        run = run_cli(
            "check",
            "-C",
            tmp_path,
            "--state",
            state,
            "--format",
            "json",
            "--since",
            "2026-11-29T00:00:00Z",
        )

    assert run.exit_code == 1, run.stderr
    assert "kms_key_disabled" in run.stdout and '"event_id": "d1"' in run.stdout
    assert fake.total_calls() >= 1


def test_a_window_cloudtrail_may_still_add_to_is_incomplete_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fake_cloudtrail import serving

    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    with serving() as fake:
        (tmp_path / ".tfdrift.yml").write_text(
            f"sources:\n  lookup_events:\n    endpoint_url: {fake.url}\n",
            encoding="utf-8",
        )
        base = ("check", "-C", tmp_path, "--state", state, "--since", "2026-11-29")
        open_ended = run_cli(*base, "--require-complete")
        settled = run_cli(*base, "--require-complete", "--until", "2026-11-30")
        plain = run_cli(*base)

    assert open_ended.exit_code == 3
    assert "not settled: CloudTrail may still deliver events after" in open_ended.stdout
    assert settled.exit_code == 0, settled.stdout
    assert plain.exit_code == 0
    assert "complete up to:" in plain.stdout
    assert "events: 0 KMS records from lookup_events " in plain.stdout
