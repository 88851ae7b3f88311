"""Reading a plan JSON into drifted attributes and planned changes of KMS resources.

Expected values were read off the plan files by hand: ``before`` and ``after`` of each
entry, mapped to the attribute vocabulary (``is_enabled`` is ``key_state``,
``tags_all`` is ``tags``, ``target_key_arn`` and ``target_key_id`` are one attribute).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_json
from tfdrift_hook.plan_drift import (
    AttributeDiff,
    PlanError,
    PlanView,
    load_plan,
    read_plan,
)

MOTO = Path("terraform/tf1.11-aws5.100-moto")
MAIN_KEY = "c98b59bd-75c3-4967-b747-bd70577b73a0"
SECONDARY_KEY = "bb630b43-af6c-47e7-89d5-95717dc07f17"
DOOMED_KEY = "72af7d32-b019-412b-ac2e-fe894e2f19f5"
MOTO_ARN = "arn:aws:kms:us-east-1:123456789012:key/"

APP_KEY = "1111aaaa-11aa-11aa-11aa-111111111111"
ACCOUNT = "111122223333"


def key_values(key_id: str = APP_KEY, **changed: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "arn": f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{key_id}",
        "id": key_id,
        "key_id": key_id,
        "description": "app",
        "is_enabled": True,
        "enable_key_rotation": True,
        "deletion_window_in_days": 30,
        "policy": _policy([f"arn:aws:iam::{ACCOUNT}:root"]),
        "tags": {"team": "payments"},
        "tags_all": {"team": "payments"},
    }
    values.update(changed)
    return values


def _policy(principals: list[str] | str, actions: Any = "kms:*") -> str:
    statement = {
        "Sid": "Admins",
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def entry(
    before: Any,
    after: Any,
    address: str | None = "aws_kms_key.app",
    actions: tuple[str, ...] = ("update",),
    **fields: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "mode": "managed",
        "type": "aws_kms_key",
        "name": "app",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": list(actions), "before": before, "after": after},
    }
    if address is not None:
        item["address"] = address
    item.update(fields)
    return item


def drift_plan(*entries: dict[str, Any], **sections: Any) -> PlanView:
    doc = {"format_version": "1.2", "resource_drift": list(entries), **sections}
    return read_plan(doc, "plan.json")


def attributes(plan: PlanView, address: str) -> dict[str, tuple[Any, Any]]:
    drift = plan.drift_of(address)
    assert drift is not None
    return {item.attribute: (item.before, item.after) for item in drift.attributes}


# -- the real plans ----------------------------------------------------------------


def test_moto_plan_reads_each_out_of_band_change_as_one_vocabulary_attribute(
    real_inputs: Path,
) -> None:
    plan = load_plan(real_inputs / MOTO / "plan.json")

    assert [item.address for item in plan.drift] == [
        "aws_kms_alias.main",
        "aws_kms_key.doomed",
        "aws_kms_key.main",
    ]
    main = plan.drift_of("aws_kms_key.main")
    assert main is not None
    assert (main.region, main.key_id, main.arn) == (
        "us-east-1",
        MAIN_KEY,
        MOTO_ARN + MAIN_KEY,
    )
    assert main.deleted is False
    found = attributes(plan, "aws_kms_key.main")
    # tags and tags_all both moved: one attribute, not two.
    assert sorted(found) == [
        "description",
        "enable_key_rotation",
        "key_state",
        "policy",
        "tags",
    ]
    assert found["description"] == ("probe main key", "changed out of band")
    assert found["enable_key_rotation"] == (True, False)
    assert found["key_state"] == ("Enabled", "Disabled")
    assert found["tags"] == (
        {"Env": "test", "Team": "security"},
        {"Backdoor": "yes", "Env": "prod", "Team": "security"},
    )
    before, after = (json.loads(text) for text in found["policy"])
    assert [s["Sid"] for s in before["Statement"]] == ["EnableRoot"]
    assert [s["Sid"] for s in after["Statement"]] == ["EnableRoot", "CrossAccount"]


def test_moto_plan_reads_the_key_scheduled_for_deletion_as_deleted(
    real_inputs: Path,
) -> None:
    plan = load_plan(real_inputs / MOTO / "plan.json")

    doomed = plan.drift_of("aws_kms_key.doomed")
    assert doomed is not None
    assert doomed.deleted is True
    assert doomed.key_id == DOOMED_KEY
    assert doomed.attributes == (AttributeDiff("key_state", "Enabled", None),)


def test_moto_plan_reads_the_alias_retargeted_to_the_secondary_key(
    real_inputs: Path,
) -> None:
    plan = load_plan(real_inputs / MOTO / "plan.json")

    alias = plan.drift_of("aws_kms_alias.main")
    assert alias is not None
    assert alias.region == "us-east-1"
    assert alias.key_id == MAIN_KEY  # the key the state knew it by
    assert alias.arn == "arn:aws:kms:us-east-1:123456789012:alias/probe-main"
    assert alias.attributes == (
        AttributeDiff("target_key_id", MAIN_KEY, SECONDARY_KEY),
    )


def test_moto_plan_changes_leave_out_the_no_op_key(real_inputs: Path) -> None:
    plan = load_plan(real_inputs / MOTO / "plan.json")

    assert [(item.address, item.actions) for item in plan.changes] == [
        ("aws_kms_alias.main", ("update",)),
        ("aws_kms_key.doomed", ("create",)),
        ("aws_kms_key.main", ("update",)),
    ]
    assert plan.change_of("aws_kms_key.secondary") is None


def test_moto_plan_update_sets_the_main_key_back_to_its_configuration(
    real_inputs: Path,
) -> None:
    plan = load_plan(real_inputs / MOTO / "plan.json")

    main = plan.change_of("aws_kms_key.main")
    assert main is not None
    found = {item.attribute: (item.before, item.after) for item in main.attributes}
    assert sorted(found) == [
        "description",
        "enable_key_rotation",
        "key_state",
        "policy",
        "tags",
    ]
    assert found["key_state"] == ("Disabled", "Enabled")
    assert found["tags"][1] == {"Env": "test", "Team": "security"}
    alias = plan.change_of("aws_kms_alias.main")
    assert alias is not None
    assert alias.attributes == (
        AttributeDiff("target_key_id", SECONDARY_KEY, MAIN_KEY),
    )
    assert alias.key_id == SECONDARY_KEY
    assert main.action_reason is None


def test_moto_plan_create_lists_unknown_values_as_none(real_inputs: Path) -> None:
    plan = load_plan(real_inputs / MOTO / "plan.json")

    doomed = plan.change_of("aws_kms_key.doomed")
    assert doomed is not None
    found = {item.attribute: (item.before, item.after) for item in doomed.attributes}
    assert found["key_state"] == (None, "Enabled")
    assert found["description"] == (None, "probe key to be scheduled for deletion")
    assert found["deletion_window_in_days"] == (None, 7)
    # after_unknown: arn, key_id, policy and tags_all are computed at apply.
    for name in ("arn", "key_id", "policy", "tags"):
        assert found[name] == (None, None)
    # The new key has no identity until it is created.
    assert (doomed.region, doomed.key_id, doomed.arn) == (None, None, None)


def test_refresh_only_plan_has_the_drift_and_no_changes(real_inputs: Path) -> None:
    plan = load_plan(real_inputs / MOTO / "refresh-only-plan.json")

    assert [item.address for item in plan.drift] == [
        "aws_kms_alias.main",
        "aws_kms_key.doomed",
        "aws_kms_key.main",
    ]
    assert attributes(plan, "aws_kms_key.main")["key_state"] == ("Enabled", "Disabled")
    assert plan.changes == []
    assert not plan.problems


def test_case_13_reordered_policy_is_cosmetic_and_rotation_and_tag_are_drift(
    real_inputs: Path,
) -> None:
    plan = load_plan(real_inputs / "case-13.plan.json")

    app = plan.drift_of('aws_kms_key.this["app"]')
    assert app is not None
    assert app.attributes == ()
    assert app.cosmetic == ("policy",)
    logs = plan.drift_of("module.logs.aws_kms_key.this[0]")
    assert logs is not None
    assert logs.cosmetic == ()
    assert attributes(plan, "module.logs.aws_kms_key.this[0]") == {
        "enable_key_rotation": (True, False),
        "tags": ({"team": "payments"}, {"team": "payments", "owner": "oncall"}),
    }
    assert logs.region == "us-west-2"
    assert logs.key_id == "0987dcba-09fe-87dc-65ba-ab0987654321"


def test_terraform_golden_drift_of_test_instances_holds_no_kms_drift(
    real_inputs: Path,
) -> None:
    plan = load_plan(
        real_inputs / "terraform/hashicorp-terraform-show-json-drift-golden.json"
    )

    assert (plan.drift, plan.changes, plan.notes) == ([], [], [])
    assert not plan.problems


def test_terraform_1_0_plan_without_addresses_is_read_without_problems(
    real_inputs: Path,
) -> None:
    name = "terraform/terraform-compliance-test_issue_522.plan.json"
    plan = load_plan(real_inputs / name)

    # Fifteen drift entries, none of them KMS: nothing to read, nothing broken.
    assert len(load_json(real_inputs / name)["resource_drift"]) == 15
    assert (plan.drift, plan.changes, plan.notes) == ([], [], [])
    assert not plan.problems


def test_terraform_0_12_create_plan_lists_the_configured_rotation(
    real_inputs: Path,
) -> None:
    name = "terraform/terraform-compliance-test_kms_key_rotation_failure.plan.json"
    plan = load_plan(real_inputs / name)

    assert plan.drift == []
    change = plan.change_of("aws_kms_key.test-fail-key")
    assert change is not None
    assert change.actions == ("create",)
    found = {item.attribute: (item.before, item.after) for item in change.attributes}
    assert found["enable_key_rotation"] == (None, False)
    assert found["key_state"] == (None, "Enabled")
    assert found["key_usage"] == (None, None)  # after_unknown
    assert "tags" not in found  # tags: null is no tags


def test_checkov_plan_reads_the_key_and_alias_it_creates(real_inputs: Path) -> None:
    plan = load_plan(real_inputs / "terraform/checkov-plan_tags.tfplan.json")

    assert [(item.address, item.actions) for item in plan.changes] == [
        ("aws_kms_alias.logs_key_alias", ("create",)),
        ("aws_kms_key.logs_key", ("create",)),
    ]


# -- what is and is not drift ------------------------------------------------------


def test_tags_null_against_empty_is_cosmetic() -> None:
    before = key_values(tags=None, tags_all={})
    after = key_values(tags={}, tags_all={})

    plan = drift_plan(entry(before, after))

    drift = plan.drift_of("aws_kms_key.app")
    assert drift is not None
    assert drift.attributes == ()
    assert drift.cosmetic == ("tags",)


def test_policy_order_and_string_against_list_are_cosmetic() -> None:
    one, two = f"arn:aws:iam::{ACCOUNT}:role/one", f"arn:aws:iam::{ACCOUNT}:role/two"
    before = key_values(policy=_policy([one, two], ["kms:Describe*", "kms:Put*"]))
    after = key_values(policy=_policy([two, one], ["kms:Put*", "kms:Describe*"]))
    single_before = key_values(policy=_policy([one]))
    single_after = key_values(policy=_policy(one))

    plan = drift_plan(
        entry(before, after),
        entry(single_before, single_after, address="aws_kms_key.other"),
    )

    for address in ("aws_kms_key.app", "aws_kms_key.other"):
        drift = plan.drift_of(address)
        assert drift is not None
        assert (drift.attributes, drift.cosmetic) == ((), ("policy",))


def test_identical_entry_is_no_drift_at_all() -> None:
    plan = drift_plan(entry(key_values(), key_values()))

    assert plan.drift == []


def test_attribute_outside_the_vocabulary_keeps_its_provider_name() -> None:
    plan = drift_plan(entry(key_values(), key_values(deletion_window_in_days=7)))

    assert attributes(plan, "aws_kms_key.app") == {"deletion_window_in_days": (30, 7)}


def test_replica_key_enabled_reads_as_key_state() -> None:
    before = {"arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{APP_KEY}", "enabled": True}
    after = {**before, "enabled": False}
    replica = entry(before, after, "aws_kms_replica_key.eu", type="aws_kms_replica_key")

    plan = drift_plan(replica)

    assert attributes(plan, "aws_kms_replica_key.eu") == {
        "key_state": ("Enabled", "Disabled")
    }
    drift = plan.drift_of("aws_kms_replica_key.eu")
    assert drift is not None and drift.region == "eu-west-1"


def test_key_policy_resource_names_its_key_and_its_region() -> None:
    arn = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{APP_KEY}"
    before = {"key_id": arn, "policy": _policy([f"arn:aws:iam::{ACCOUNT}:root"])}
    after = {**before, "policy": _policy(["*"])}
    policy = entry(before, after, "aws_kms_key_policy.app", type="aws_kms_key_policy")

    plan = drift_plan(policy)

    drift = plan.drift_of("aws_kms_key_policy.app")
    assert drift is not None
    assert (drift.region, drift.key_id, drift.arn) == ("us-west-2", APP_KEY, None)
    assert [item.attribute for item in drift.attributes] == ["policy"]


def test_deleted_alias_loses_its_name() -> None:
    before = {
        "arn": f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/app",
        "name": "alias/app",
        "target_key_id": APP_KEY,
    }
    alias = entry(before, None, "aws_kms_alias.app", ("delete",), type="aws_kms_alias")

    plan = drift_plan(alias)

    drift = plan.drift_of("aws_kms_alias.app")
    assert drift is not None
    assert drift.deleted is True
    assert drift.attributes == (AttributeDiff("alias_name", "alias/app", None),)
    assert (drift.region, drift.key_id) == ("us-west-2", APP_KEY)


def test_data_sources_and_other_types_are_left_out() -> None:
    data = entry(key_values(), key_values(description="x"), "data.aws_kms_key.app")
    data["mode"] = "data"
    bucket = entry({"acl": "private"}, {"acl": "public"}, "aws_s3_bucket.b")
    bucket["type"] = "aws_s3_bucket"

    plan = drift_plan(data, bucket)

    assert plan.drift == []


# -- planned changes ---------------------------------------------------------------


def test_unknown_after_of_an_update_is_listed_as_none() -> None:
    change = entry(key_values(), key_values(tags={"team": "x"}, tags_all=None))
    change["change"]["after_unknown"] = {"tags_all": True}

    plan = read_plan({"resource_changes": [change]}, "plan.json")

    planned = plan.change_of("aws_kms_key.app")
    assert planned is not None
    assert planned.attributes == (AttributeDiff("tags", {"team": "payments"}, None),)


def test_replacement_keeps_its_actions_and_action_reason() -> None:
    change = entry(
        key_values(),
        key_values(customer_master_key_spec="RSA_2048"),
        actions=("delete", "create"),
        action_reason="replace_because_cannot_update",
    )
    no_op = entry(key_values(), key_values(), "aws_kms_key.same", ("no-op",))

    plan = read_plan({"resource_changes": [change, no_op]}, "plan.json")

    assert len(plan.changes) == 1
    planned = plan.changes[0]
    assert planned.actions == ("delete", "create")
    assert planned.action_reason == "replace_because_cannot_update"
    assert planned.attributes == (
        AttributeDiff("customer_master_key_spec", None, "RSA_2048"),
    )


# -- addresses of Terraform 1.0 entries --------------------------------------------


def _prior_state(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"values": {"root_module": {"resources": list(resources)}}}


def _state_resource(address: str, index: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_kms_key",
        "name": "app",
        "index": index,
        "values": values,
    }


def test_entry_without_address_is_rebuilt_from_module_type_name_and_index() -> None:
    item = entry(
        key_values(),
        key_values(description="changed"),
        address=None,
        module_address="module.kms",
        index="app",
    )

    plan = drift_plan(item)

    assert [d.address for d in plan.drift] == ['module.kms.aws_kms_key.app["app"]']
    assert plan.notes == []


def test_entry_without_index_takes_the_only_instance_of_the_plan() -> None:
    refreshed = key_values(description="changed")
    item = entry(key_values(), refreshed, address=None)

    plan = drift_plan(
        item,
        prior_state=_prior_state(_state_resource("aws_kms_key.app[0]", 0, refreshed)),
    )

    assert [d.address for d in plan.drift] == ["aws_kms_key.app[0]"]
    assert plan.notes == []


def test_entry_without_index_among_two_instances_takes_the_one_with_its_values() -> (
    None
):
    refreshed = key_values(description="changed")
    item = entry(key_values(), refreshed, address=None)
    prior = _prior_state(
        _state_resource("aws_kms_key.app[0]", 0, key_values(description="zero")),
        _state_resource("aws_kms_key.app[1]", 1, refreshed),
    )

    plan = drift_plan(item, prior_state=prior)

    assert [d.address for d in plan.drift] == ["aws_kms_key.app[1]"]
    assert plan.notes == [
        "plan.json: resource_drift[0]: the entry has no address or index and 2 "
        "instances fit (aws_kms_key.app[0], aws_kms_key.app[1]); read as "
        "aws_kms_key.app[1], since its refreshed values are the drift's after"
    ]


def test_entry_without_index_that_no_values_tell_apart_takes_the_first() -> None:
    item = entry(key_values(), None, address=None, actions=("delete",))
    prior = _prior_state(
        _state_resource("aws_kms_key.app[0]", 0, key_values()),
        _state_resource("aws_kms_key.app[1]", 1, key_values()),
    )

    plan = drift_plan(item, prior_state=prior)

    assert [d.address for d in plan.drift] == ["aws_kms_key.app[0]"]
    assert len(plan.notes) == 1
    assert "read as aws_kms_key.app[0], since it is named first" in plan.notes[0]


def test_entry_without_address_or_module_matches_an_instance_in_a_module() -> None:
    refreshed = key_values(description="changed")
    changes = [entry(refreshed, key_values(), "module.kms.aws_kms_key.app")]
    changes[0]["module_address"] = "module.kms"

    plan = drift_plan(
        entry(key_values(), refreshed, address=None), resource_changes=changes
    )

    assert [d.address for d in plan.drift] == ["module.kms.aws_kms_key.app"]


# -- what cannot be read -----------------------------------------------------------


def test_broken_entries_are_problems_and_hide_no_other_entry() -> None:
    no_change = {"address": "aws_kms_key.broken", "type": "aws_kms_key"}
    bad_after = entry(key_values(), "gone", "aws_kms_key.bad")

    plan = drift_plan(
        "not an object",  # type: ignore[arg-type]
        no_change,
        bad_after,
        entry(key_values(), key_values(description="changed")),
    )

    assert [d.address for d in plan.drift] == ["aws_kms_key.app"]
    assert [str(p) for p in plan.problems.items] == [
        "plan.json: resource_drift[0]: is not an object (check that the plan JSON "
        "is complete (`terraform show -json PLANFILE`))",
        "plan.json: resource_drift[1]: aws_kms_key.broken has no change with "
        "actions (check that the plan JSON is complete (`terraform show -json "
        "PLANFILE`))",
        "plan.json: resource_drift[2]: aws_kms_key.bad: before or after is not an "
        "object (check that the plan JSON is complete (`terraform show -json "
        "PLANFILE`))",
    ]


def test_load_plan_names_the_file_and_the_place_of_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"resource_drift": [', encoding="utf-8")

    with pytest.raises(PlanError) as raised:
        load_plan(path)

    assert str(raised.value).startswith(f"{path}:1:21: not valid JSON")
    assert "terraform show -json PLANFILE" in str(raised.value)


def test_load_plan_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read it"):
        load_plan(tmp_path / "missing.json")


def test_state_json_is_not_a_plan(real_inputs: Path) -> None:
    path = real_inputs / MOTO / "show-state.json"

    with pytest.raises(PlanError) as raised:
        load_plan(path)

    assert str(raised.value) == (
        f"{path}: not a plan JSON (no resource_drift, resource_changes or "
        "planned_values); give the output of `terraform show -json PLANFILE`"
    )
