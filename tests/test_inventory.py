"""Terraform's view of the managed KMS resources, and naming a key in every way."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_json
from tfdrift_hook import terraform_cli
from tfdrift_hook.arns import KeyRef, parse_key_ref
from tfdrift_hook.inventory import (
    KMS_RESOURCE_TYPES,
    Inventory,
    InventoryError,
    ManagedResource,
    inventory_from_directory,
    inventory_from_document,
    load_inventory,
    resource_address,
)

MOTO = Path("terraform/tf1.11-aws5.100-moto")
MAIN_KEY = "c98b59bd-75c3-4967-b747-bd70577b73a0"
SECONDARY_KEY = "bb630b43-af6c-47e7-89d5-95717dc07f17"
DOOMED_KEY = "72af7d32-b019-412b-ac2e-fe894e2f19f5"
MOTO_ACCOUNT = "123456789012"

MRK = "mrk-1234abcd12ab34cd56ef1234567890ab"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'

APP_KEY = "1111aaaa-11aa-11aa-11aa-111111111111"
LOGS_KEY = "2222bbbb-22bb-22bb-22bb-222222222222"
OTHER_KEY = "3333cccc-33cc-33cc-33cc-333333333333"
ACCOUNT = "111122223333"


def key_arn(region: str, key_id: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def v4_resource(
    type_: str,
    name: str,
    instances: list[dict[str, Any]],
    module: str = "",
    mode: str = "managed",
    provider: str = AWS,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "mode": mode,
        "type": type_,
        "name": name,
        "provider": provider,
        "instances": instances,
    }
    if module:
        resource["module"] = module
    return resource


def v4_state(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"version": 4, "terraform_version": "1.11.4", "resources": list(resources)}


def addresses(inventory: Inventory) -> set[str]:
    return {r.address for r in inventory.resources}


def by_address(inventory: Inventory, address: str) -> ManagedResource:
    return next(r for r in inventory.resources if r.address == address)


# -- addresses ---------------------------------------------------------------------


def modules_count_and_for_each_state() -> dict[str, Any]:
    return v4_state(
        v4_resource(
            "aws_kms_key",
            "this",
            [
                {
                    "index_key": "app",
                    "attributes": {
                        "id": APP_KEY,
                        "key_id": APP_KEY,
                        "arn": key_arn("us-west-2", APP_KEY),
                    },
                }
            ],
            module="module.kms",
        ),
        v4_resource(
            "aws_kms_key",
            "k",
            [
                {"index_key": 0, "attributes": {"key_id": LOGS_KEY, "id": LOGS_KEY}},
                {
                    "index_key": 1,
                    "attributes": {
                        "key_id": OTHER_KEY,
                        "arn": key_arn("eu-west-1", OTHER_KEY),
                    },
                },
            ],
        ),
        v4_resource(
            "aws_kms_alias",
            "this",
            [
                {
                    "index_key": 'a"b${x}',
                    "attributes": {
                        "name": "alias/app",
                        "arn": f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/app",
                        "target_key_id": APP_KEY,
                        "target_key_arn": key_arn("us-west-2", APP_KEY),
                    },
                }
            ],
            module='module.a["x"].module.b[0]',
        ),
        v4_resource("aws_s3_bucket", "logs", [{"attributes": {"id": "logs"}}]),
        v4_resource(
            "aws_kms_alias",
            "s3",
            [
                {
                    "attributes": {
                        "name": "alias/aws/s3",
                        "target_key_id": OTHER_KEY,
                        "arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/aws/s3",
                    }
                }
            ],
            module="module.kms",
            mode="data",
        ),
    )


def test_addresses_carry_module_path_count_index_and_quoted_for_each_key() -> None:
    inventory = inventory_from_document(modules_count_and_for_each_state(), "hand")

    assert addresses(inventory) == {
        'module.kms.aws_kms_key.this["app"]',
        "aws_kms_key.k[0]",
        "aws_kms_key.k[1]",
        'module.a["x"].module.b[0].aws_kms_alias.this["a\\"b$${x}"]',
    }
    assert inventory.problems == ()


def test_data_sources_are_known_facts_not_managed_resources() -> None:
    inventory = inventory_from_document(modules_count_and_for_each_state(), "hand")

    (known,) = inventory.known_keys
    assert known.address == "module.kms.data.aws_kms_alias.s3"
    assert (known.region, known.key_id) == ("eu-west-1", OTHER_KEY)
    assert inventory.key_id_for_alias("eu-west-1", "alias/aws/s3") == OTHER_KEY
    assert inventory.is_aws_managed("eu-west-1", OTHER_KEY)
    assert not inventory.is_aws_managed("us-west-2", APP_KEY)


def test_region_and_account_come_from_the_arn() -> None:
    inventory = inventory_from_document(modules_count_and_for_each_state(), "hand")

    other = by_address(inventory, "aws_kms_key.k[1]")
    assert (other.region, other.account, other.key_id) == (
        "eu-west-1",
        ACCOUNT,
        OTHER_KEY,
    )
    no_arn = by_address(inventory, "aws_kms_key.k[0]")
    assert (no_arn.region, no_arn.account, no_arn.arn) == (None, None, None)
    assert inventory.regions == {"us-west-2", "eu-west-1"}
    assert inventory.accounts == {ACCOUNT}


@pytest.mark.parametrize(
    ("key", "printed"),
    [
        (None, "aws_kms_key.k"),
        (0, "aws_kms_key.k[0]"),
        ("app", 'aws_kms_key.k["app"]'),
        ("a\\b\n", 'aws_kms_key.k["a\\\\b\\n"]'),
        ("%{if}", 'aws_kms_key.k["%%{if}"]'),
        ("$5", 'aws_kms_key.k["$5"]'),
        ("é", 'aws_kms_key.k["é"]'),
        ("\x07", 'aws_kms_key.k["\\u0007"]'),
    ],
)
def test_resource_address_quotes_keys_as_terraform_prints_them(
    key: int | str | None, printed: str
) -> None:
    assert resource_address("", "managed", "aws_kms_key", "k", key) == printed


def test_data_source_address_in_a_module() -> None:
    address = resource_address("module.kms", "data", "aws_kms_alias", "s3")

    assert address == "module.kms.data.aws_kms_alias.s3"


def test_show_json_child_modules_are_walked_and_addresses_kept() -> None:
    key = {
        "address": 'module.a.module.b.aws_kms_key.k["x"]',
        "mode": "managed",
        "type": "aws_kms_key",
        "name": "k",
        "index": "x",
        "values": {"arn": key_arn("us-west-2", APP_KEY)},
    }
    # Without an address, it is built from the module address, name and index.
    grant = {
        "mode": "managed",
        "type": "aws_kms_grant",
        "name": "g",
        "index": 2,
        "values": {"grant_id": "abc123", "key_id": key_arn("us-west-2", APP_KEY)},
    }
    inner = {"address": "module.a.module.b", "resources": [key, grant]}
    outer = {"address": "module.a", "child_modules": [inner]}
    root = {"resources": [], "child_modules": [outer]}
    document = {"format_version": "1.0", "values": {"root_module": root}}

    inventory = inventory_from_document(document, "hand show")

    assert addresses(inventory) == {
        'module.a.module.b.aws_kms_key.k["x"]',
        "module.a.module.b.aws_kms_grant.g[2]",
    }
    found = inventory.grant("us-west-2", "abc123")
    assert found is not None and found.key_id == APP_KEY and found.arn is None


def test_show_json_of_an_empty_state_is_an_empty_inventory() -> None:
    inventory = inventory_from_document({"format_version": "1.0"}, "empty")

    assert inventory.resources == ()


# -- the real shapes ---------------------------------------------------------------

MOTO_STATE_ADDRESSES = {
    "aws_kms_alias.main",
    "aws_kms_key.doomed",
    "aws_kms_key.main",
    "aws_kms_key.secondary",
}


@pytest.mark.parametrize("name", ["terraform.tfstate", "show-state.json"])
def test_state_file_and_show_json_give_the_same_inventory(
    real_inputs: Path, name: str
) -> None:
    inventory = load_inventory(real_inputs / MOTO / name)

    assert addresses(inventory) == MOTO_STATE_ADDRESSES
    assert inventory.regions == {"us-east-1"}
    assert inventory.accounts == {MOTO_ACCOUNT}
    alias = by_address(inventory, "aws_kms_alias.main")
    assert alias.alias_name == "alias/probe-main"
    assert alias.key_id == MAIN_KEY
    assert alias.arn == f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:alias/probe-main"
    main = by_address(inventory, "aws_kms_key.main")
    assert main.attributes["description"] == "probe main key"
    assert inventory.source == str(real_inputs / MOTO / name)


@pytest.mark.parametrize("name", ["plan.json", "refresh-only-plan.json"])
def test_plan_reads_what_the_state_held_before_the_refresh(
    real_inputs: Path, name: str
) -> None:
    inventory = load_inventory(real_inputs / MOTO / name)

    # The probe moved the alias to the secondary key and disabled the main key out of
    # band; prior_state is refreshed and says so, but the drift's "before" is what the
    # last apply left, and that is the baseline the events are applied to.
    assert inventory.key_id_for_alias("us-east-1", "alias/probe-main") == MAIN_KEY
    main = inventory.key("us-east-1", MAIN_KEY)
    assert main is not None and main.attributes["is_enabled"] is True


@pytest.mark.parametrize("name", ["plan.json", "refresh-only-plan.json"])
def test_plan_keeps_a_key_deleted_out_of_band(real_inputs: Path, name: str) -> None:
    inventory = load_inventory(real_inputs / MOTO / name)

    assert addresses(inventory) == MOTO_STATE_ADDRESSES
    doomed = inventory.key("us-east-1", DOOMED_KEY)
    assert doomed is not None and doomed.address == "aws_kms_key.doomed"
    assert doomed.attributes["description"] == "probe key to be scheduled for deletion"


def test_plan_without_prior_state_is_read_from_its_drift(real_inputs: Path) -> None:
    inventory = load_inventory(real_inputs / "case-13.plan.json")

    assert addresses(inventory) == {
        'aws_kms_key.this["app"]',
        "module.logs.aws_kms_key.this[0]",
    }
    logs = by_address(inventory, "module.logs.aws_kms_key.this[0]")
    assert logs.key_id == "0987dcba-09fe-87dc-65ba-ab0987654321"
    assert logs.region == "us-west-2"
    # the drift's "before": rotation still on, only the team tag
    assert logs.attributes["enable_key_rotation"] is True
    assert logs.attributes["tags"] == {"team": "payments"}


def test_plan_with_nothing_to_read_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"format_version": "1.2", "prior_state": null}', encoding="utf-8")

    with pytest.raises(InventoryError, match="prior_state") as caught:
        load_inventory(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        "terraform-compliance-test_kms_key_rotation_success.plan.json",
        "terraform-compliance-test_dynamodb_kms_key_problem.plan.json",
    ],
)
def test_plans_that_only_create_manage_nothing_yet(
    real_inputs: Path, name: str
) -> None:
    # Both plans have no prior_state and create their key (actions ["create"],
    # before null): a new workspace, whose first apply is still to come.
    inventory = load_inventory(real_inputs / "terraform" / name)

    assert inventory.resources == ()
    assert not inventory.problems


@pytest.mark.parametrize(
    "name",
    [
        "hashicorp-terraform-show-json-drift-golden.json",
        "checkov-plan_tags.tfplan.json",
        "terraform-compliance-test_issue_522.plan.json",
    ],
)
def test_plans_whose_prior_state_has_no_kms_resources(
    real_inputs: Path, name: str
) -> None:
    inventory = load_inventory(real_inputs / "terraform" / name)

    assert inventory.resources == ()
    assert inventory.problems == ()


# -- naming a key in every way -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        MAIN_KEY,
        f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/{MAIN_KEY}",
        "alias/probe-main",
        f"arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:alias/probe-main",
    ],
)
def test_id_key_arn_alias_and_alias_arn_resolve_to_the_same_key(
    real_inputs: Path, text: str
) -> None:
    inventory = load_inventory(real_inputs / MOTO / "terraform.tfstate")
    ref = parse_key_ref(text)
    assert ref is not None

    found = inventory.resolve(ref, "us-east-1")

    assert found is not None and found.address == "aws_kms_key.main"


def test_a_bare_id_resolves_without_a_region_when_state_has_it_once(
    real_inputs: Path,
) -> None:
    inventory = load_inventory(real_inputs / MOTO / "terraform.tfstate")

    found = inventory.resolve(KeyRef(raw=SECONDARY_KEY, key_id=SECONDARY_KEY), None)

    assert found is not None and found.address == "aws_kms_key.secondary"


@pytest.mark.parametrize(
    "text",
    [
        f"arn:aws:kms:us-west-2:{MOTO_ACCOUNT}:key/{MAIN_KEY}",
        f"arn:aws:kms:us-east-1:999999999999:key/{MAIN_KEY}",
        f"arn:aws:kms:eu-west-1:{MOTO_ACCOUNT}:alias/probe-main",
        "alias/unknown",
        "0000aaaa-0000-0000-0000-000000000000",
    ],
)
def test_other_region_account_or_name_resolves_to_nothing(
    real_inputs: Path, text: str
) -> None:
    inventory = load_inventory(real_inputs / MOTO / "terraform.tfstate")
    ref = parse_key_ref(text)
    assert ref is not None

    assert inventory.resolve(ref, "us-east-1") is None


def test_resources_for_key_lists_key_then_aliases(real_inputs: Path) -> None:
    inventory = load_inventory(real_inputs / MOTO / "terraform.tfstate")

    found = inventory.resources_for_key("us-east-1", MAIN_KEY)

    assert [r.address for r in found] == ["aws_kms_key.main", "aws_kms_alias.main"]
    assert inventory.alias_names_for_key("us-east-1", MAIN_KEY) == {"alias/probe-main"}
    owner = inventory.policy_owner("us-east-1", MAIN_KEY)
    assert owner is not None and owner.address == "aws_kms_key.main"


def test_resource_types_include_every_kms_resource_the_brief_names() -> None:
    assert {
        "aws_kms_key",
        "aws_kms_alias",
        "aws_kms_replica_key",
        "aws_kms_key_policy",
        "aws_kms_grant",
        "aws_kms_external_key",
    } <= KMS_RESOURCE_TYPES


# -- case 14: one mrk- id, two regions ---------------------------------------------


def case_14(real_inputs: Path) -> tuple[Inventory, dict[str, Any]]:
    document = load_json(real_inputs / "case-14.json")
    inventory = inventory_from_document(document["state_excerpt"], "case-14.json")
    return inventory, document["event"]


def test_case_14_put_key_policy_in_eu_west_1_finds_the_replica(
    real_inputs: Path,
) -> None:
    inventory, event = case_14(real_inputs)
    ref = parse_key_ref(event["requestParameters"]["keyId"])
    assert ref is not None and ref.key_id == MRK

    found = inventory.resolve(ref, event["awsRegion"])

    assert found is not None
    assert found.address == "aws_kms_replica_key.eu_west_1[0]"
    assert found.region == "eu-west-1"


def test_case_14_the_resources_arn_finds_the_same_replica(real_inputs: Path) -> None:
    inventory, event = case_14(real_inputs)
    ref = parse_key_ref(event["resources"][0]["ARN"])
    assert ref is not None

    found = inventory.resolve(ref, None)

    assert found is not None and found.address == "aws_kms_replica_key.eu_west_1[0]"


def test_case_14_the_policy_owner_is_the_standalone_policy(real_inputs: Path) -> None:
    inventory, event = case_14(real_inputs)

    related = inventory.resources_for_key(event["awsRegion"], MRK)
    owner = inventory.policy_owner(event["awsRegion"], MRK)

    assert [r.address for r in related] == [
        "aws_kms_replica_key.eu_west_1[0]",
        "aws_kms_key_policy.eu_west_1",
    ]
    assert owner is not None and owner.address == "aws_kms_key_policy.eu_west_1"
    assert "aws_kms_key.primary" not in {r.address for r in related}


def test_case_14_the_primary_stays_in_us_east_1(real_inputs: Path) -> None:
    inventory, _ = case_14(real_inputs)

    primary = inventory.key("us-east-1", MRK)

    assert primary is not None and primary.address == "aws_kms_key.primary"
    assert inventory.key(None, MRK) is None
    assert inventory.resources_for_key(None, MRK) == []


def test_case_14_policy_key_id_as_bare_id_or_arn_compares_equal(
    real_inputs: Path,
) -> None:
    document = load_json(real_inputs / "case-14.json")["state_excerpt"]
    as_arn = inventory_from_document(document, "case-14.json")
    policy = document["resources"][2]["instances"][0]["attributes"]
    policy["key_id"] = MRK
    as_id = inventory_from_document(document, "case-14.json, key_id as id")

    with_arn = by_address(as_arn, "aws_kms_key_policy.eu_west_1")
    with_id = by_address(as_id, "aws_kms_key_policy.eu_west_1")

    assert with_arn == with_id
    assert (with_id.region, with_id.key_id) == ("eu-west-1", MRK)


def test_a_bare_mrk_id_with_no_same_provider_key_stays_unplaced() -> None:
    document = v4_state(
        v4_resource(
            "aws_kms_key",
            "primary",
            [{"attributes": {"arn": key_arn("us-east-1", MRK)}}],
        ),
        v4_resource(
            "aws_kms_replica_key",
            "replica",
            [{"attributes": {"arn": key_arn("eu-west-1", MRK)}}],
            provider=f"{AWS}.euw1",
        ),
        v4_resource(
            "aws_kms_key_policy",
            "p",
            [{"attributes": {"key_id": MRK}}],
            provider=f"{AWS}.usw2",
        ),
    )

    policy = by_address(
        inventory_from_document(document, "hand"), "aws_kms_key_policy.p"
    )

    assert policy.region is None


def test_a_provider_v6_region_attribute_places_a_bare_id() -> None:
    document = v4_state(
        v4_resource(
            "aws_kms_grant",
            "g",
            [{"attributes": {"key_id": MRK, "grant_id": "g1", "region": "ap-south-1"}}],
        ),
    )

    inventory = inventory_from_document(document, "hand")

    grant = inventory.grant("ap-south-1", "g1")
    assert grant is not None and grant.key_id == MRK
    assert inventory.grant("eu-west-1", "g1") is None


def test_a_bare_uuid_takes_the_region_of_the_one_key_with_it() -> None:
    document = v4_state(
        v4_resource(
            "aws_kms_key", "k", [{"attributes": {"arn": key_arn("us-west-2", APP_KEY)}}]
        ),
        v4_resource(
            "aws_kms_grant",
            "g",
            [{"attributes": {"key_id": APP_KEY, "grant_id": "g1"}}],
            module="module.grants",
        ),
    )

    inventory = inventory_from_document(document, "hand")

    grant = inventory.grant("us-west-2", "g1")
    assert grant is not None
    assert (grant.region, grant.account) == ("us-west-2", ACCOUNT)
    assert [r.address for r in inventory.resources_for_key("us-west-2", APP_KEY)] == [
        "aws_kms_key.k",
        "module.grants.aws_kms_grant.g",
    ]


# -- case 15: an alias in the request ------------------------------------------------


def test_case_15_the_alias_resolves_through_the_data_source(real_inputs: Path) -> None:
    document = load_json(real_inputs / "case-15.json")
    inventory = inventory_from_document(document["state_excerpt"], "case-15.json")
    event = document["event"]
    alias_ref = parse_key_ref(event["requestParameters"]["keyId"])
    key_ref = parse_key_ref(event["resources"][0]["ARN"])
    assert alias_ref is not None and key_ref is not None

    key_id = inventory.key_id_for_alias(event["awsRegion"], "alias/aws/secretsmanager")

    assert key_id == "dad21b23-9915-42bd-981b-2a9f3c8f20c8" == key_ref.key_id
    assert inventory.is_aws_managed(key_ref.region, key_id)
    assert inventory.resolve(alias_ref, event["awsRegion"]) is None
    assert inventory.resolve(key_ref, event["awsRegion"]) is None
    assert inventory.resources == ()


def test_a_data_key_looked_up_by_alias_is_a_known_aws_managed_key() -> None:
    document = v4_state(
        v4_resource(
            "aws_kms_key",
            "s3",
            [
                {
                    "attributes": {
                        "key_id": "alias/aws/s3",
                        "id": OTHER_KEY,
                        "arn": key_arn("eu-west-1", OTHER_KEY),
                        "key_manager": "AWS",
                    }
                }
            ],
            mode="data",
        ),
    )

    inventory = inventory_from_document(document, "hand")

    assert inventory.key_id_for_alias("eu-west-1", "alias/aws/s3") == OTHER_KEY
    assert inventory.key_id_for_alias("us-east-1", "alias/aws/s3") is None
    assert inventory.is_aws_managed(None, OTHER_KEY)


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [{"foo": 1}, {"resources": "none"}, {"version": 3, "resources": []}],
)
def test_unknown_shapes_are_errors_naming_where(document: dict[str, Any]) -> None:
    with pytest.raises(InventoryError, match="^somewhere.json: .*terraform show -json"):
        inventory_from_document(document, "somewhere.json")


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    path.write_text('{\n  "version": 4,\n  "resources": [,]\n}\n', encoding="utf-8")

    with pytest.raises(InventoryError) as caught:
        load_inventory(path)

    assert str(caught.value).startswith(f"{path}:3:17: not valid JSON")


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.tfstate"

    with pytest.raises(InventoryError, match="nowhere.tfstate: cannot read it"):
        load_inventory(path)


def test_a_json_array_is_not_a_state(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]", encoding="utf-8")

    with pytest.raises(InventoryError, match="list.json: the document is not"):
        load_inventory(path)


def test_a_broken_record_is_reported_and_hides_no_other() -> None:
    document = v4_state(
        v4_resource("aws_kms_key", "a", [{"attributes": {"key_id": APP_KEY}}]),
        v4_resource("aws_kms_key", "broken", "not a list"),  # type: ignore[arg-type]
        v4_resource("aws_kms_key", "b", [{"index_key": 1.5, "attributes": {}}]),
        v4_resource("aws_kms_key", "c", [{"attributes": {"key_id": LOGS_KEY}}]),
    )

    inventory = inventory_from_document(document, "s.tfstate")

    assert addresses(inventory) == {"aws_kms_key.a", "aws_kms_key.c"}
    assert [p.where for p in inventory.problems] == [
        "s.tfstate: resources[1]",
        "s.tfstate: resources[2].instances[0]",
    ]
    assert "aws_kms_key.broken has no instances list" in str(inventory.problems[0])


def test_two_addresses_on_one_key_are_reported() -> None:
    attributes = {"arn": key_arn("us-west-2", APP_KEY)}
    document = v4_state(
        v4_resource("aws_kms_key", "a", [{"attributes": attributes}]),
        v4_resource("aws_kms_key", "b", [{"attributes": attributes}]),
    )

    inventory = inventory_from_document(document, "s.tfstate")

    (problem,) = inventory.problems
    assert problem.where == "aws_kms_key.b"
    assert "same key as aws_kms_key.a" in problem.message
    found = inventory.key("us-west-2", APP_KEY)
    assert found is not None and found.address == "aws_kms_key.a"


# -- directories and the terraform binary ------------------------------------------


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def no_terraform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(terraform_cli.BINARY_ENV, raising=False)


def small_state() -> dict[str, Any]:
    return v4_state(
        v4_resource(
            "aws_kms_key", "k", [{"attributes": {"arn": key_arn("us-west-2", APP_KEY)}}]
        ),
    )


def test_directory_without_terraform_reads_its_state_file(
    tmp_path: Path, no_terraform: None
) -> None:
    (tmp_path / "terraform.tfstate").write_text(json.dumps(small_state()))

    inventory = inventory_from_directory(tmp_path)

    assert addresses(inventory) == {"aws_kms_key.k"}
    assert inventory.source == str(tmp_path / "terraform.tfstate")


def test_directory_with_neither_names_both_ways(
    tmp_path: Path, no_terraform: None
) -> None:
    with pytest.raises(InventoryError) as caught:
        inventory_from_directory(tmp_path)

    message = str(caught.value)
    assert "terraform is not on PATH" in message
    assert str(tmp_path / "terraform.tfstate") in message


def test_directory_is_read_through_terraform_show_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = tmp_path / "shown.json"
    shown.write_text(json.dumps(show_state_of_one_key()))
    calls = tmp_path / "calls"
    binary = write_script(tmp_path / "tf", f'echo "$@" > {calls}\ncat {shown}\n')
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))

    inventory = inventory_from_directory(tmp_path)

    assert addresses(inventory) == {'module.kms.aws_kms_key.this["app"]'}
    assert inventory.source == f"terraform show -json in {tmp_path}"
    assert calls.read_text().split() == ["show", "-json", "-no-color"]


def show_state_of_one_key() -> dict[str, Any]:
    resource = {
        "address": 'module.kms.aws_kms_key.this["app"]',
        "mode": "managed",
        "type": "aws_kms_key",
        "name": "this",
        "index": "app",
        "values": {"arn": key_arn("us-west-2", APP_KEY)},
    }
    child = {"address": "module.kms", "resources": [resource]}
    return {
        "format_version": "1.0",
        "values": {"root_module": {"child_modules": [child]}},
    }


FAILING = (
    "echo 'Warning: Unable to open CLI configuration file' >&2\n"
    "echo 'Error: Backend initialization required' >&2\nexit 1\n"
)


def test_terraform_failing_falls_back_to_the_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    binary = write_script(tmp_path / "tf", FAILING)
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))
    (tmp_path / "terraform.tfstate").write_text(json.dumps(small_state()))
    (tmp_path / ".terraform").mkdir()  # initialised, yet terraform fails

    with caplog.at_level(logging.WARNING, logger="tfdrift_hook"):
        inventory = inventory_from_directory(tmp_path)

    assert addresses(inventory) == {"aws_kms_key.k"}
    assert "Error: Backend initialization required" in caplog.text


def test_an_uninitialised_directory_reads_its_state_file_without_terraform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    binary = write_script(tmp_path / "tf", FAILING)
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))
    (tmp_path / "terraform.tfstate").write_text(json.dumps(small_state()))

    with caplog.at_level(logging.WARNING, logger="tfdrift_hook"):
        inventory = inventory_from_directory(tmp_path)

    assert addresses(inventory) == {"aws_kms_key.k"}
    assert caplog.text == ""


def test_terraform_failing_without_state_file_quotes_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = write_script(tmp_path / "tf", FAILING)
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))

    with pytest.raises(InventoryError) as caught:
        inventory_from_directory(tmp_path)

    message = str(caught.value)
    assert "Error: Backend initialization required" in message
    assert "Warning" not in message
    assert "terraform.tfstate does not exist" in message


def test_show_json_passes_the_plan_file_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    binary = write_script(tmp_path / "tf", f'echo "$@" > {calls}\necho "{{}}"\n')
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "work"
    work.mkdir()

    assert terraform_cli.show_json(work, Path("plan.tfplan")) == {}
    assert calls.read_text().split()[-1] == str(tmp_path / "plan.tfplan")


def test_show_json_output_that_is_not_json_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = write_script(tmp_path / "tf", "echo 'Terraform v0.11.14'\n")
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))

    with pytest.raises(terraform_cli.TerraformError, match="printed no JSON"):
        terraform_cli.show_json(tmp_path)


def test_a_terraform_binary_variable_naming_nothing_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(terraform_cli.BINARY_ENV, "/nonexistent/terraform")

    with pytest.raises(terraform_cli.TerraformError, match="TERRAFORM_BINARY"):
        terraform_cli.find_terraform()


def test_a_state_pull_that_prints_nothing_says_there_is_no_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = write_script(tmp_path / "tf", "exit 0\n")
    monkeypatch.setenv(terraform_cli.BINARY_ENV, str(binary))

    with pytest.raises(terraform_cli.TerraformError, match="there is no state") as got:
        terraform_cli.state_pull(tmp_path)
    assert "give --state FILE" in str(got.value)
