"""Where each address is written, and the literal values its block sets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, load_json
from tfdrift_hook.hcl_source import (
    Expression,
    SourceLocation,
    config_address,
    literal_attributes,
    source_map,
)
from tfdrift_hook.inventory import KMS_RESOURCE_TYPES, resource_address

EXAMPLE = PROJECT_ROOT / "examples" / "terraform"


def linked(directory: Path, *files: Path) -> Path:
    """A configuration directory holding links to ``files``, so one case is read."""
    directory.mkdir(parents=True, exist_ok=True)
    for file in files:
        (directory / file.name).symlink_to(file)
    return directory


def local_values(directory: Path) -> dict[str, Any]:
    """The local values of the root module by name: ``local.x`` is ``x``."""
    values = literal_attributes(directory)
    prefix = "local."
    return {
        a[len(prefix) :]: v["value"] for a, v in values.items() if a.startswith(prefix)
    }


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- case 22: a heredoc closed by a marker followed by spaces -----------------------

CASE_22_POLICY = (
    "{\n"
    '  "Version": "2012-10-17",\n'
    '  "Statement": [\n'
    "    {\n"
    '      "Effect": "Allow",\n'
    '      "Principal": "*",\n'
    '      "Action": "kms:*",\n'
    '      "Resource": "*"\n'
    "    }\n"
    "  ]\n"
    "}\n"
)


def test_marker_followed_by_spaces_still_closes_the_heredoc(
    real_inputs: Path, tmp_path: Path
) -> None:
    directory = linked(tmp_path, real_inputs / "case-22.tf")

    found = source_map(directory)
    policy = literal_attributes(directory)["aws_kms_key.fail_2"]["policy"]

    assert found.warnings == []
    assert found.locate("aws_kms_key.fail_2") == SourceLocation(
        Path("case-22.tf"), 1, 16
    )
    assert policy == CASE_22_POLICY
    assert json.loads(policy)["Statement"][0]["Principal"] == "*"


def test_checkov_fixture_with_that_heredoc_keeps_every_line(
    real_inputs: Path, tmp_path: Path
) -> None:
    fixture = Path("example_KMSKeyWildcardPrincipal.fail.tf")
    found = source_map(linked(tmp_path, real_inputs / "hcl" / "checkov" / fixture))

    assert found.warnings == []
    assert found.locate("aws_kms_key.fail_0") == SourceLocation(fixture, 1, 26)
    assert found.locate("aws_kms_key.fail_2") == SourceLocation(fixture, 45, 60)
    assert found.locate("aws_kms_key.fail_4") == SourceLocation(fixture, 79, 107)
    assert found.attributes("aws_kms_key.fail_2") == {
        "description": "description",
        "policy": CASE_22_POLICY,
    }


def test_spaces_inside_a_heredoc_body_are_kept(tmp_path: Path) -> None:
    write(tmp_path, "main.tf", "locals {\n  x = <<EOT\nPOLICY  \n  EOT  \n}\n")

    assert literal_attributes(tmp_path)["local.x"] == {"value": "POLICY  \n"}


# -- case 23: heredoc bodies as Terraform reads them --------------------------------


def test_heredoc_bodies_keep_blank_lines_empty_bodies_and_lose_indent(
    real_inputs: Path, tmp_path: Path
) -> None:
    values = literal_attributes(linked(tmp_path, real_inputs / "case-23.tf"))

    assert values["aws_kms_key.blank_line_heredoc"] == {
        "description": "payments key\n\n"
    }
    assert values["aws_kms_key.empty_heredoc"] == {"description": ""}
    assert values["aws_kms_key.indented_heredoc"] == {
        "policy": '{"Version": "2012-10-17", "Statement": []}\n'
    }


def test_case_23_blocks_are_located(real_inputs: Path, tmp_path: Path) -> None:
    found = source_map(linked(tmp_path, real_inputs / "case-23.tf"))
    file = Path("case-23.tf")

    assert found.blocks == {
        "aws_kms_key.blank_line_heredoc": SourceLocation(file, 1, 6),
        "aws_kms_key.empty_heredoc": SourceLocation(file, 8, 11),
        "aws_kms_key.indented_heredoc": SourceLocation(file, 13, 17),
    }


def test_indented_heredoc_removes_only_the_smallest_indent(tmp_path: Path) -> None:
    text = "locals {\n  x = <<-EOT\n      a\n\n    b\n    EOT\n}\n"
    write(tmp_path, "main.tf", text)

    assert literal_attributes(tmp_path)["local.x"] == {"value": "  a\n\nb\n"}


def test_escaped_interpolation_is_literal_text(tmp_path: Path) -> None:
    text = 'locals {\n  q = "$${a} %%{b} \\"c\\"\\n"\n  h = <<EOT\n$${a}\nEOT\n}\n'
    write(tmp_path, "main.tf", text)

    assert local_values(tmp_path) == {
        "q": '${a} %{b} "c"\n',
        "h": "${a}\n",
    }


# -- case 24: comments inside expressions -------------------------------------------


def test_comments_never_become_values(real_inputs: Path, tmp_path: Path) -> None:
    found = source_map(linked(tmp_path, real_inputs / "case-24.tf"))

    assert found.warnings == []
    assert found.attributes("aws_kms_key.this") == {"description": "app", "tags": {}}
    assert found.attributes("aws_kms_grant.this") == {
        "key_id": Expression(
            "${aws_kms_key.this.key_id}", ("aws_kms_key.this.key_id",)
        ),
        "grantee_principal": "arn:aws:iam::111122223333:role/app",
        "operations": ["Decrypt"],
    }


def test_a_function_call_in_locals_is_an_expression(
    real_inputs: Path, tmp_path: Path
) -> None:
    admins = local_values(linked(tmp_path, real_inputs / "case-24.tf"))["key_admins"]

    assert isinstance(admins, Expression)
    assert admins.text == (
        '${concat(["arn:aws:iam::111122223333:role/admin"], '
        '["arn:aws:iam::111122223333:role/breakglass"])}'
    )
    assert admins.references == ()


def test_each_local_value_is_located_across_locals_blocks(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        'locals {\n  a = "x"\n}\n\nlocals {\n  b = [\n    1,\n  ]\n}\n',
    )

    found = source_map(tmp_path)

    assert found.warnings == []
    assert found.blocks == {
        "local.a": SourceLocation(Path("main.tf"), 2, 2),
        "local.b": SourceLocation(Path("main.tf"), 6, 8),
    }
    assert local_values(tmp_path) == {"a": "x", "b": [1]}


# -- case 25: policies written with jsonencode --------------------------------------


def test_jsonencode_policy_is_an_expression_reading_the_account(
    real_inputs: Path, tmp_path: Path
) -> None:
    values = literal_attributes(linked(tmp_path, real_inputs / "case-25.tf"))
    key = values["aws_kms_key.example"]

    assert key["description"] == "An example symmetric encryption KMS key"
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 20
    assert isinstance(key["policy"], Expression)
    assert key["policy"].text.startswith("${jsonencode({Version = ")
    assert key["policy"].references == ("data.aws_caller_identity.current.account_id",)
    assert values["data.aws_caller_identity.current"] == {}


def test_references_skip_names_that_are_not_reads(tmp_path: Path) -> None:
    text = (
        'resource "aws_kms_alias" "a" {\n'
        "  target_key_id = aws_kms_key.app[each.key].key_id\n"
        "  names = [for k in var.keys : upper(k.name)]\n"
        "  tags = { Team = local.team }\n"
        "}\n"
    )
    write(tmp_path, "main.tf", text)
    alias = literal_attributes(tmp_path)["aws_kms_alias.a"]

    assert alias["target_key_id"].references == ("aws_kms_key.app", "each.key")
    assert alias["names"].references == ("var.keys",)
    assert alias["tags"].references == ("local.team",)


def test_literal_numbers_bools_and_null(tmp_path: Path) -> None:
    text = "locals {\n  a = 7\n  b = -2\n  c = 1.5\n  d = false\n  e = null\n}\n"
    write(tmp_path, "main.tf", text)

    assert local_values(tmp_path) == {
        "a": 7,
        "b": -2,
        "c": 1.5,
        "d": False,
        "e": None,
    }


# -- files python-hcl2 cannot parse -------------------------------------------------


def test_unparsable_file_costs_only_its_own_locations(tmp_path: Path) -> None:
    write(tmp_path, "good.tf", 'resource "aws_kms_key" "good" {\n}\n')
    bad = 'resource "aws_kms_key" "before" {}\n\nresource "aws_kms_key" "b" {\n'
    write(tmp_path, "bad.tf", bad + '  description = = "x"\n}\n')

    found = source_map(tmp_path)

    assert found.locate("aws_kms_key.good") == SourceLocation(Path("good.tf"), 1, 2)
    assert found.locate("aws_kms_key.before") is None
    assert len(found.warnings) == 1
    assert found.warnings[0].startswith("bad.tf: python-hcl2 stopped at line 4;")
    assert "no source location" in found.warnings[0]


def test_unclosed_brace_is_reported_at_the_end_of_the_file(tmp_path: Path) -> None:
    write(tmp_path, "open.tf", 'resource "aws_kms_key" "open" {\n  description = "x"\n')

    found = source_map(tmp_path)

    assert found.blocks == {}
    assert found.warnings[0].startswith("open.tf: python-hcl2 stopped at line 3;")


# -- modules ------------------------------------------------------------------------


def test_local_modules_are_mapped_with_their_prefix(tmp_path: Path) -> None:
    write(tmp_path, "main.tf", 'module "outer" {\n  source = "./outer"\n}\n')
    write(tmp_path, "outer/main.tf", 'module "inner" {\n  source = "./inner"\n}\n')
    write(tmp_path, "outer/inner/keys.tf", '\nresource "aws_kms_key" "k" {}\n')

    found = source_map(tmp_path)

    assert found.warnings == []
    assert found.blocks == {
        "module.outer": SourceLocation(Path("main.tf"), 1, 3),
        "module.outer.module.inner": SourceLocation(Path("outer/main.tf"), 1, 3),
        "module.outer.module.inner.aws_kms_key.k": SourceLocation(
            Path("outer/inner/keys.tf"), 2, 2
        ),
    }


def test_one_module_called_twice_is_mapped_under_both_names(tmp_path: Path) -> None:
    calls = 'module "a" {\n  source = "./key"\n}\nmodule "b" {\n  source = "./key"\n}\n'
    write(tmp_path, "main.tf", calls)
    write(tmp_path, "key/main.tf", 'resource "aws_kms_key" "this" {}\n')

    found = source_map(tmp_path)

    assert found.locate("module.a.aws_kms_key.this") == found.locate(
        "module.b.aws_kms_key.this"
    )
    assert found.locate("module.b.aws_kms_key.this") == SourceLocation(
        Path("key/main.tf"), 1, 1
    )


def test_remote_missing_and_cyclic_sources(tmp_path: Path) -> None:
    calls = (
        'module "remote" {\n  source = "terraform-aws-modules/kms/aws"\n}\n'
        'module "gone" {\n  source = "./modules/gone"\n}\n'
        'module "again" {\n  source = "./"\n}\n'
    )
    write(tmp_path, "main.tf", calls)

    found = source_map(tmp_path)

    assert set(found.blocks) == {"module.remote", "module.gone", "module.again"}
    assert len(found.warnings) == 2
    assert found.warnings[0].startswith(
        "main.tf:4: module.gone source './modules/gone'"
    )
    assert found.warnings[1].startswith("main.tf:7: module.again source './'")


def test_an_address_written_twice_is_reported_where_it_repeats(
    real_inputs: Path, tmp_path: Path
) -> None:
    rotation = real_inputs / "hcl" / "checkov" / "example_KMSRotation.main.tf"
    found = source_map(linked(tmp_path, rotation))

    assert found.warnings == [
        "example_KMSRotation.main.tf:26: aws_kms_key.unknown2 written again;"
        " kept at example_KMSRotation.main.tf:20"
    ]
    assert found.locate("aws_kms_key.unknown2") == SourceLocation(
        Path(rotation.name), 20, 24
    )


def test_override_file_does_not_take_the_location(tmp_path: Path) -> None:
    write(tmp_path, "main.tf", '\nresource "aws_kms_key" "k" {}\n')
    write(tmp_path, "a_override.tf", 'resource "aws_kms_key" "k" {}\n')

    found = source_map(tmp_path)

    assert found.warnings == []
    assert found.locate("aws_kms_key.k") == SourceLocation(Path("main.tf"), 2, 2)


def test_nothing_is_read_until_a_location_is_asked(tmp_path: Path) -> None:
    found = source_map(tmp_path)
    write(tmp_path, "late.tf", 'resource "aws_kms_key" "late" {}\n')

    assert found.locate("aws_kms_key.late") == SourceLocation(Path("late.tf"), 1, 1)


# -- addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "block"),
    [
        ('aws_kms_key.this["app"]', "aws_kms_key.this"),
        ("aws_kms_key.this[0]", "aws_kms_key.this"),
        ("module.logs[0].aws_kms_key.this[1]", "module.logs.aws_kms_key.this"),
        ('module.m["a\\"]b"].data.aws_kms_alias.x', "module.m.data.aws_kms_alias.x"),
        ("data.aws_kms_alias.x", "data.aws_kms_alias.x"),
    ],
)
def test_config_address_drops_instance_keys(address: str, block: str) -> None:
    assert config_address(address) == block


# -- real configurations ------------------------------------------------------------


def test_every_kms_address_of_the_example_state_is_located() -> None:
    state = load_json(EXAMPLE / "terraform.tfstate")
    found = source_map(EXAMPLE)
    addresses = [
        resource_address(r.get("module", ""), r["mode"], r["type"], r["name"], index)
        for r in state["resources"]
        if r["type"] in KMS_RESOURCE_TYPES and r["mode"] == "managed"
        for index in (i.get("index_key") for i in r["instances"])
    ]

    assert len(addresses) == 7
    assert found.warnings == []
    assert all(found.locate(address) is not None for address in addresses)
    assert found.locate('aws_kms_key.app["payments"]') == SourceLocation(
        Path("main.tf"), 5, 31
    )
    assert found.locate("module.audit_logs.aws_kms_key_policy.this") == SourceLocation(
        Path("modules/log-key/main.tf"), 15, 42
    )


def test_example_values_tell_literals_from_expressions() -> None:
    values = literal_attributes(EXAMPLE)
    key = values["aws_kms_key.app"]
    policy = values["module.audit_logs.aws_kms_key_policy.this"]["policy"]

    assert key["deletion_window_in_days"] == 30
    assert key["enable_key_rotation"] is True
    assert key["tags"].references == ("each.key", "each.value.team")
    assert policy.references == ("var.name", "var.account_root", "var.log_service")
    assert values["module.audit_logs.aws_kms_key.this"]["deletion_window_in_days"] == 7


@pytest.mark.parametrize(
    ("directory", "address", "location"),
    [
        ("terraform-aws-kms", "aws_kms_key.this", ("main.tf", 18, 36)),
        (
            "terraform-aws-kms",
            "data.aws_iam_policy_document.this",
            ("main.tf", 105, 453),
        ),
        ("terraform-aws-kms", "aws_kms_grant.this", ("main.tf", 477, 498)),
        (
            "terraform-aws-kms/examples-complete",
            "module.kms_complete",
            ("main.tf", 29, 109),
        ),
        (
            "provider-docs",
            "aws_kms_grant.a",
            ("kms_grant-heredoc-constraints.tf", 23, 34),
        ),
    ],
)
def test_real_configurations_are_located(
    real_inputs: Path, directory: str, address: str, location: tuple[str, int, int]
) -> None:
    file, line, end_line = location
    found = source_map(real_inputs / "hcl" / directory)

    assert found.locate(address) == SourceLocation(Path(file), line, end_line)


def test_every_real_hcl_file_is_read_without_a_problem(real_inputs: Path) -> None:
    directories = sorted({file.parent for file in (real_inputs / "hcl").rglob("*.tf")})
    for directory in directories:
        found = source_map(directory)

        assert len(found.literal_attributes()) == len(found.blocks), directory
        assert [w for w in found.warnings if "python-hcl2" in w] == [], directory


def test_mapping_the_example_after_the_parser_is_loaded_is_fast() -> None:
    source_map(EXAMPLE).locate("aws_kms_key.app")
    started = time.perf_counter()

    assert source_map(EXAMPLE).locate("aws_kms_key.app") is not None
    assert time.perf_counter() - started < 0.2


@pytest.mark.parametrize("directory", ["", "examples-complete", "wrappers"])
def test_the_kms_registry_module_maps_without_a_warning(
    real_inputs: Path, directory: str
) -> None:
    found = source_map(real_inputs / "hcl" / "terraform-aws-kms" / directory)

    assert found.blocks != {}
    assert found.warnings == []


# -- in the check's findings -----------------------------------------------------


def test_findings_carry_the_file_and_line_of_their_block() -> None:
    from tests.kms_state import run_cli

    example = Path(__file__).resolve().parents[1] / "examples"
    run = run_cli(
        "check",
        "--state",
        example / "terraform" / "terraform.tfstate",
        "--events",
        example / "cloudtrail",
        "--format",
        "json",
    )
    located = {
        finding["address"]: finding["location"]
        for finding in run.findings
        if finding.get("location")
    }

    # The resource blocks start at these lines of examples/terraform (grep ^resource).
    assert located["module.audit_logs.aws_kms_key_policy.this"]["file"] == (
        "modules/log-key/main.tf"
    )
    assert located["module.audit_logs.aws_kms_key_policy.this"]["line"] == 15
    assert located['aws_kms_key.app["ledger"]'] == {
        "file": "main.tf",
        "line": 5,
        "end_line": 31,
    }
    assert located['aws_kms_alias.app["payments"]']["line"] == 33


def test_a_tf_file_that_cannot_be_parsed_costs_locations_not_the_run(
    tmp_path: Path,
) -> None:
    from tests.kms_state import KEY_1234, check_json, kms_key, write_records
    from tests.test_check_command import record

    state = write_state_with_config(tmp_path, kms_key("app", KEY_1234))
    (tmp_path / "broken.tf").write_text('resource "aws_kms_key" "x" {\n', "utf-8")
    events = write_records(
        tmp_path,
        "events.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "e-1"),
    )

    run = check_json(state, events)

    assert run.exit_code == 1, run.stderr
    assert [finding["rule"] for finding in run.findings] == ["kms_key_disabled"]
    assert "location" not in run.findings[0]
    assert "broken.tf" in run.stderr


def write_state_with_config(directory: Path, *resources: dict[str, Any]) -> Path:
    from tests.kms_state import write_state

    (directory / "main.tf").write_text(
        'resource "aws_kms_key" "other" {\n  description = "x"\n}\n', "utf-8"
    )
    return write_state(directory, *resources)
