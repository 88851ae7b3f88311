"""The config file, ``$env`` indirection, precedence and ``config --show``."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tfdrift_hook.config import (
    ConfigError,
    Settings,
    load_settings,
    read_config,
    render_settings,
)
from tfdrift_hook.config_schema import SCHEMA
from tfdrift_hook.errors import TfdriftError

NO_OPTIONS: dict[str, Any] = {
    "fail_on": None,
    "since": None,
    "until": None,
    "trusted": (),
    "event_paths": (),
    "rule_files": (),
    "config": None,
}

FULL = """\
regions: [us-east-1, eu-west-1]
trusted_principals:
  - arn:aws:iam::111122223333:role/terraform-*
fail_on: Warning
settle_minutes: 30
events: [trail/, /abs/events.json]
rules: [rules/local.yaml]
sources:
  lookup_events:
    regions: [us-west-2]
    endpoint_url: http://127.0.0.1:5000
    max_requests_per_second: 1.5
  s3:
    bucket: my-trail-bucket
    prefix: logs
    organization_id: o-a1b2c3d4e5
    accounts: ["111122223333", "444455556666"]
    regions: [us-east-1]
    max_workers: 4
    endpoint_url: null
  athena:
    database: audit
    table: trail
    workgroup: drift
    output_location: s3://athena-results/drift/
receipts:
  store: s3
  bucket: state-bucket
  key: kms/receipt.json
"""


def write(directory: Path, text: str, name: str = ".tfdrift.yml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(
    directory: Path,
    environ: dict[str, str] | None = None,
    **options: Any,
) -> Settings:
    return load_settings({**NO_OPTIONS, **options}, environ or {}, directory)


def test_the_schema_is_valid_json_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_a_full_file_gives_every_value_with_its_key_as_origin(tmp_path: Path) -> None:
    write(tmp_path, FULL)

    settings = settings_for(tmp_path)

    assert settings.config_file == tmp_path / ".tfdrift.yml"
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.trusted_principals == (
        "arn:aws:iam::111122223333:role/terraform-*",
    )
    assert settings.fail_on == "warning"
    assert settings.settle_minutes == 30
    assert settings.events == (tmp_path / "trail", Path("/abs/events.json"))
    assert settings.rules == (tmp_path / "rules/local.yaml",)
    assert settings.sources["lookup_events"] == {
        "regions": ["us-west-2"],
        "endpoint_url": "http://127.0.0.1:5000",
        "max_requests_per_second": 1.5,
    }
    # endpoint_url: null is as good as absent.
    assert settings.sources["s3"] == {
        "bucket": "my-trail-bucket",
        "prefix": "logs",
        "organization_id": "o-a1b2c3d4e5",
        "accounts": ["111122223333", "444455556666"],
        "regions": ["us-east-1"],
        "max_workers": 4,
    }
    assert settings.sources["athena"] == {
        "database": "audit",
        "table": "trail",
        "workgroup": "drift",
        "output_location": "s3://athena-results/drift/",
        "max_wait_seconds": 300,  # the schema's default
    }
    assert settings.receipts == {
        "store": "s3",
        "path": tmp_path / ".tfdrift/receipt.json",
        "bucket": "state-bucket",
        "key": "kms/receipt.json",
    }
    file = str(tmp_path / ".tfdrift.yml")
    assert settings.origin("fail_on") == f"{file}: fail_on"
    assert settings.origin("sources.s3.bucket") == f"{file}: sources.s3.bucket"
    assert settings.origin("receipts.path") == "default"
    assert settings.origin("since") == "default"
    assert settings.origin("config") == "default"


def test_no_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)

    assert settings.config_file is None
    assert settings.fail_on == "error"
    assert settings.settle_minutes == 15
    assert settings.regions == ()
    assert settings.trusted_principals == ()
    assert settings.sources == {}
    assert settings.receipts == {
        "store": "local",
        "path": tmp_path / ".tfdrift/receipt.json",
    }
    assert {settings.origin(name) for name, _ in settings.rows()} == {"default"}


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    write(tmp_path, "# nothing configured yet\n")

    settings = settings_for(tmp_path)

    assert settings.config_file == tmp_path / ".tfdrift.yml"
    assert settings.fail_on == "error"
    assert settings.settle_minutes == 15
    assert settings.sources == {}


def test_a_source_section_without_keys_is_on_with_its_defaults(tmp_path: Path) -> None:
    write(tmp_path, "sources:\n  lookup_events:\n")

    settings = settings_for(tmp_path)

    assert settings.sources == {"lookup_events": {"max_requests_per_second": 2}}
    assert settings.request_settings()["sources"] == {
        "lookup_events": {"max_requests_per_second": 2}
    }


def test_unknown_keys_warn_with_file_and_dotted_name_and_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(
        tmp_path,
        "fail_onn: debug\nsources:\n  s3:\n    bucket: b-1\n    region: us-east-1\n"
        "  cloudwatch: {}\n",
    )

    with caplog.at_level(logging.WARNING, logger="tfdrift_hook"):
        settings = settings_for(tmp_path)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{path}: unknown key fail_onn (line 1) is ignored (did you mean fail_on?)",
        f"{path}: unknown key sources.s3.region (line 5) is ignored "
        "(did you mean sources.s3.regions?)",
        f"{path}: unknown key sources.cloudwatch (line 6) is ignored",
    ]
    assert settings.fail_on == "error"
    assert settings.sources == {"s3": {"bucket": "b-1", "prefix": "", "max_workers": 8}}


def test_every_wrong_type_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fail_on: fatal\n"
        "settle_minutes: -5\n"
        "regions: us-east-1\n"
        "sources:\n"
        "  s3:\n"
        "    bucket: s3://my-trail\n"
        "    accounts: [111122223333]\n"
        "receipts:\n"
        "  store: gcs\n",
    )

    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path)

    assert isinstance(caught.value, TfdriftError)
    assert caught.value.errors == [
        "fail_on (line 1): got 'fatal', expected a priority: emergency, alert, "
        "critical, error, warning, notice, informational, debug",
        "settle_minutes (line 2): got -5, expected an integer >= 0",
        "regions (line 3): got 'us-east-1', expected a list of AWS region names",
        "sources.s3.bucket (line 6): got 's3://my-trail', "
        "expected an S3 bucket name (without s3://)",
        "sources.s3.accounts[0] (line 7): got 111122223333, "
        "expected a 12-digit account ID in quotes",
        "receipts.store (line 9): got 'gcs', expected local or s3",
    ]
    assert str(caught.value).startswith(f"{path}: 6 errors: fail_on (line 1)")


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    write(tmp_path, "sources:\n  s3:\n    prefix: logs\n")

    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path)

    assert caught.value.errors == [
        "sources.s3.bucket: missing, expected an S3 bucket name (without s3://)"
    ]


def test_env_values_are_substituted_and_converted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "settle_minutes: $env:SETTLE\n"
        "regions: $env:REGIONS\n"
        "sources:\n"
        "  athena:\n"
        "    output_location: s3://$env:RESULTS_BUCKET/drift/\n"
        "  lookup_events:\n"
        "    max_requests_per_second: $env:RATE\n",
    )
    environ = {
        "SETTLE": "30",
        "REGIONS": "us-east-1, eu-west-1",
        "RESULTS_BUCKET": "results",
        "RATE": "0.5",
    }

    settings = settings_for(tmp_path, environ)

    assert settings.settle_minutes == 30
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.sources["athena"]["output_location"] == "s3://results/drift/"
    assert settings.sources["lookup_events"]["max_requests_per_second"] == 0.5
    assert (
        settings.origin("settle_minutes") == f"{path}: settle_minutes via $env:SETTLE"
    )


@pytest.mark.parametrize("environ", [{"SETTLE": ""}, {"SETTLE": "  "}, {}])
def test_an_empty_or_unset_env_value_means_the_default(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    write(tmp_path, "settle_minutes: $env:SETTLE\nregions: [us-east-1, $env:EXTRA]\n")

    settings = settings_for(tmp_path, environ)

    assert settings.settle_minutes == 15
    assert settings.regions == ("us-east-1",)
    assert settings.origin("settle_minutes") == (
        "default, $env:SETTLE is empty or unset"
    )


def test_a_non_integer_env_value_is_an_error_naming_the_variable(
    tmp_path: Path,
) -> None:
    write(tmp_path, "settle_minutes: $env:SETTLE\nfail_on: $env:LEVEL\n")

    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path, {"SETTLE": "24h", "LEVEL": "loud"})

    assert caught.value.errors == [
        "settle_minutes (line 1, $env:SETTLE): got '24h', expected an integer >= 0",
        "fail_on (line 2, $env:LEVEL): got 'loud', expected a priority: emergency, "
        "alert, critical, error, warning, notice, informational, debug",
    ]


def test_an_empty_env_value_for_a_required_key_names_the_variable(
    tmp_path: Path,
) -> None:
    write(tmp_path, "sources:\n  s3:\n    bucket: $env:TRAIL_BUCKET\n")

    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path, {"TRAIL_BUCKET": ""})

    assert caught.value.errors == [
        "sources.s3.bucket (line 3, $env:TRAIL_BUCKET): $env:TRAIL_BUCKET is empty "
        "or unset and the key has no default (expected an S3 bucket name "
        "(without s3://))"
    ]


def _atlantis_environ(real_inputs: Path) -> dict[str, str]:
    """What the last run step of case 27 sees: env steps persist, exports do not."""
    workflow = yaml.safe_load((real_inputs / "case-27.atlantis.yaml").read_text())
    steps = workflow["workflows"]["kms-drift"]["plan"]["steps"]
    environ = {
        step["env"]["name"]: step["env"]["value"]
        for step in steps
        if isinstance(step, dict) and "env" in step
    }
    exported = [
        re.search(r"export (\w+)=", step["run"])
        for step in steps
        if isinstance(step, dict) and "export " in step.get("run", "")
    ]
    # "${DRIFT_LOOKBACK_HOURS:-}" in the next step: the variable arrives empty.
    environ.update({match.group(1): "" for match in exported if match})
    return environ


def test_case_27_an_export_lost_between_atlantis_steps_means_the_default(
    tmp_path: Path, real_inputs: Path
) -> None:
    environ = _atlantis_environ(real_inputs)
    assert environ == {"DRIFT_REGION": "us-west-2", "DRIFT_LOOKBACK_HOURS": ""}
    write(
        tmp_path,
        "regions: [$env:DRIFT_REGION]\nsettle_minutes: $env:DRIFT_LOOKBACK_HOURS\n",
    )

    settings = settings_for(tmp_path, {**environ, "TFDRIFT_SINCE": ""})

    assert settings.regions == ("us-west-2",)
    assert settings.settle_minutes == 15
    assert settings.since is None
    shown = render_settings(settings)
    assert "default, $env:DRIFT_LOOKBACK_HOURS is empty or unset" in shown


def test_command_line_beats_environment_beats_file_beats_default(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "fail_on: critical\ntrusted_principals: [arn:file]\nevents: [from-file]\n",
    )
    environ = {
        "TFDRIFT_FAIL_ON": "notice",
        "TFDRIFT_TRUSTED_PRINCIPALS": "arn:env-1, arn:env-2,",
        "TFDRIFT_SINCE": "72h",
    }

    from_file = settings_for(tmp_path)
    from_env = settings_for(tmp_path, environ)
    from_cli = settings_for(
        tmp_path,
        environ,
        fail_on="alert",
        trusted=("arn:cli",),
        since="7d",
        event_paths=(Path("cli-events"),),
    )

    assert (from_file.fail_on, from_env.fail_on, from_cli.fail_on) == (
        "critical",
        "notice",
        "alert",
    )
    assert from_file.trusted_principals == ("arn:file",)
    assert from_env.trusted_principals == ("arn:env-1", "arn:env-2")
    assert from_cli.trusted_principals == ("arn:cli",)
    assert (from_file.since, from_env.since, from_cli.since) == (None, "72h", "7d")
    assert from_env.events == (tmp_path / "from-file",)
    assert from_cli.events == (Path("cli-events"),)
    assert from_file.origin("fail_on") == f"{tmp_path / '.tfdrift.yml'}: fail_on"
    assert from_env.origin("fail_on") == "env TFDRIFT_FAIL_ON"
    assert from_cli.origin("fail_on") == "--fail-on"
    assert from_env.origin("trusted_principals") == "env TFDRIFT_TRUSTED_PRINCIPALS"
    assert from_cli.origin("trusted_principals") == "--trusted-principal"
    assert from_cli.origin("events") == "--events"


def test_an_empty_environment_variable_is_unset(tmp_path: Path) -> None:
    write(tmp_path, "fail_on: critical\n")

    settings = settings_for(
        tmp_path, {"TFDRIFT_FAIL_ON": "", "TFDRIFT_TRUSTED_PRINCIPALS": " "}
    )

    assert settings.fail_on == "critical"
    assert settings.trusted_principals == ()


def test_a_bad_fail_on_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^environment: TFDRIFT_FAIL_ON: unknown"):
        settings_for(tmp_path, {"TFDRIFT_FAIL_ON": "loud"})


def test_the_config_file_comes_from_option_then_env_then_directory(
    tmp_path: Path,
) -> None:
    write(tmp_path, "fail_on: debug\n")
    from_env = write(tmp_path, "fail_on: notice\n", "ci/env.yml")
    from_option = write(tmp_path, "fail_on: alert\n", "ci/option.yml")
    environ = {"TFDRIFT_CONFIG": str(from_env)}

    assert settings_for(tmp_path).fail_on == "debug"
    assert settings_for(tmp_path, environ).origin("config") == "env TFDRIFT_CONFIG"
    assert settings_for(tmp_path, environ).fail_on == "notice"
    chosen = settings_for(tmp_path, environ, config=from_option)
    assert (chosen.fail_on, chosen.origin("config")) == ("alert", "--config")
    assert settings_for(tmp_path, {"TFDRIFT_CONFIG": ""}).fail_on == "debug"


def test_an_explicit_config_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"

    with pytest.raises(ConfigError, match=r"nowhere\.yml: cannot be read"):
        settings_for(tmp_path, config=missing)


def test_paths_are_relative_to_the_config_files_directory(tmp_path: Path) -> None:
    terraform = tmp_path / "infra"
    terraform.mkdir()
    config = write(
        tmp_path,
        "events: [trail]\nrules: [../shared/rules.yaml]\n"
        "receipts:\n  path: state/receipt.json\n",
        "ci/drift.yml",
    )

    settings = settings_for(terraform, config=config)

    assert settings.events == (tmp_path / "ci/trail",)
    assert settings.rules == (tmp_path / "ci/../shared/rules.yaml",)
    assert settings.receipts["path"] == tmp_path / "ci/state/receipt.json"


def test_the_default_receipt_path_is_in_the_terraform_directory(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, "receipts:\n  store: local\n", "ci/drift.yml")

    settings = settings_for(tmp_path / "infra", config=config)

    assert settings.receipts["path"] == tmp_path / "infra/.tfdrift/receipt.json"


@pytest.mark.parametrize(
    ("text", "kind"), [("- fail_on: error\n", "list"), ("just text\n", "str")]
)
def test_a_file_that_is_not_a_mapping_is_an_error(
    tmp_path: Path, text: str, kind: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path)

    assert str(caught.value) == (
        f"{path}: the top level must be a mapping of settings (key: value), "
        f"not a {kind}"
    )


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "fail_on: error\nsources:\n  s3: {bucket: b\n")

    with pytest.raises(ConfigError) as caught:
        read_config(path, {})

    assert str(caught.value) == (
        f"{path}: is not valid YAML: line 4, column 1: expected ',' or '}}', but got "
        "'<stream end>' (while parsing a flow mapping at line 3, column 7)"
    )


def test_invalid_yaml_indentation_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "fail_on: error\n  settle_minutes: 3\n")

    with pytest.raises(ConfigError) as caught:
        read_config(path, {})

    # The colon after two spaces and the 14 letters of settle_minutes.
    assert str(caught.value) == (
        f"{path}: is not valid YAML: line 2, column 17: "
        "mapping values are not allowed here"
    )


def test_render_shows_value_and_origin_per_line(tmp_path: Path) -> None:
    write(tmp_path, "fail_on: critical\nsources:\n  s3:\n    bucket: trail-1\n")

    shown = render_settings(settings_for(tmp_path, {"TFDRIFT_SINCE": "72h"}))

    lines = {line.split()[0]: line for line in shown.splitlines()}
    file = str(tmp_path / ".tfdrift.yml")
    assert lines["fail_on"].split(maxsplit=2)[1:] == [
        "critical",
        f"({file}: fail_on)",
    ]
    assert lines["since"].split(maxsplit=2)[1:] == ["72h", "(env TFDRIFT_SINCE)"]
    assert lines["sources.s3.bucket"].split()[1] == "trail-1"
    assert lines["sources.s3.prefix"].split()[1:] == ['""', "(default)"]
    assert lines["trusted_principals"].split()[1:] == ["(none)", "(default)"]
    assert lines["config"].split()[1] == file


def test_render_masks_secrets() -> None:
    settings = Settings(
        sources={"athena": {"session_token": "abc123", "database": "audit"}},
        receipts={"Password": "hunter2"},
        origins={"sources.athena.session_token": "env X"},
    )

    shown = render_settings(settings)

    assert "abc123" not in shown
    assert "hunter2" not in shown
    lines = {line.split()[0]: line.split()[1:] for line in shown.splitlines()}
    assert lines["sources.athena.session_token"] == ["********", "(env", "X)"]
    assert lines["receipts.Password"] == ["********", "(default)"]
    assert lines["sources.athena.database"] == ["audit", "(default)"]


def test_request_settings_hold_the_sections_source_plugins_read(
    tmp_path: Path,
) -> None:
    write(tmp_path, FULL)

    sections = settings_for(tmp_path).request_settings()

    assert set(sections) == {
        "regions",
        "trusted_principals",
        "fail_on",
        "settle_minutes",
        "sources",
        "receipts",
        "metrics",
    }
    assert sections["sources"]["s3"]["bucket"] == "my-trail-bucket"
    assert sections["regions"] == ["us-east-1", "eu-west-1"]
