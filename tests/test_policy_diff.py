"""Key policies: equal in meaning, and what a change grants or takes away."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_json
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.policy_diff import (
    PolicyDiff,
    PolicyError,
    Statement,
    diff_policies,
    normalize_policy,
    policies_equal,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/App"


def stmt(sid: str | None, principal: Any, action: Any, **more: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal}
    if sid is not None:
        statement["Sid"] = sid
    statement.update(Action=action, Resource="*", **more)
    return statement


def policy(*statements: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", **top, "Statement": list(statements)}


ROOT_STATEMENT = stmt("Enable IAM User Permissions", {"AWS": ROOT}, "kms:*")
USE_STATEMENT = stmt("Use", {"AWS": [APP_ROLE]}, ["kms:Decrypt", "kms:Encrypt"])
BASE = policy(ROOT_STATEMENT, USE_STATEMENT)


def diff(after: Any, before: Any = BASE, account: str | None = ACCOUNT) -> PolicyDiff:
    return diff_policies(before, after, account)


# --- equal in meaning -----------------------------------------------------------


def test_case_11_reordered_live_policy_equals_terraform_policy(
    real_inputs: Path,
) -> None:
    case = load_json(real_inputs / "case-11.json")
    terraform = case["terraform_state_policy"]
    live = case["live_policy_from_GetKeyPolicy"]

    assert policies_equal(terraform, live)
    assert normalize_policy(terraform) == normalize_policy(live)
    assert diff_policies(terraform, live, ACCOUNT).is_empty
    assert diff_policies(terraform, live, ACCOUNT).to_json()["added_principals"] == []


def test_case_13_reordered_principals_and_actions_are_cosmetic(
    real_inputs: Path,
) -> None:
    plan = load_json(real_inputs / "case-13.plan.json")

    for drift in plan["resource_drift"]:
        change = drift["change"]
        assert policies_equal(change["before"]["policy"], change["after"]["policy"])


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"Action": "kms:Decrypt"}, {"Action": ["kms:Decrypt"]}),
        ({"Resource": "*"}, {"Resource": ["*"]}),
        ({"NotAction": "kms:Delete*"}, {"NotAction": ["kms:Delete*"]}),
        ({"Principal": {"AWS": ROOT}}, {"Principal": {"AWS": [ROOT]}}),
        ({"Principal": "*"}, {"Principal": {"AWS": "*"}}),
        ({"Principal": {"AWS": ACCOUNT}}, {"Principal": {"AWS": ROOT}}),
        (
            {"Action": ["kms:Encrypt", "kms:Decrypt"]},
            {"Action": ["kms:Decrypt", "kms:Encrypt"]},
        ),
        ({"Action": "KMS:Decrypt"}, {"Action": "kms:decrypt"}),
        ({"Action": ["kms:Decrypt", "kms:Decrypt"]}, {"Action": "kms:Decrypt"}),
        (
            {"Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
            {"Condition": {"Bool": {"kms:GrantIsForAWSResource": ["true"]}}},
        ),
        (
            {"Condition": {"Bool": {"kms:GrantIsForAWSResource": True}}},
            {"Condition": {"Bool": {"kms:grantisforawsresource": "true"}}},
        ),
        (
            {"Principal": {"Service": ["logs.amazonaws.com", "s3.amazonaws.com"]}},
            {"Principal": {"Service": ["s3.amazonaws.com", "logs.amazonaws.com"]}},
        ),
    ],
)
def test_equal_in_meaning(one: dict[str, Any], other: dict[str, Any]) -> None:
    base = {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*"}

    assert policies_equal(policy({**base, **one}), policy({**base, **other}))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"Sid": "A"}, {"Sid": "B"}),
        ({"Effect": "Allow"}, {"Effect": "Deny"}),
        ({"Action": "kms:Decrypt"}, {"Action": "kms:Encrypt"}),
        ({"Action": "kms:Decrypt"}, {"NotAction": "kms:Decrypt"}),
        (
            {"Principal": {"AWS": ROOT}},
            {"Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}},
        ),
        ({"Principal": {"AWS": "*"}}, {"NotPrincipal": {"AWS": "*"}}),
        ({"Principal": {"AWS": ROOT}}, {"Principal": {"Service": ROOT}}),
        (
            {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-aaa"}}},
            {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-bbb"}}},
        ),
        (
            {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-aaa"}}},
            {"Condition": {"StringLike": {"aws:PrincipalOrgID": "o-aaa"}}},
        ),
        ({"Resource": "*"}, {}),
        ({}, {"Extra": "x"}),
    ],
)
def test_different_in_meaning(one: dict[str, Any], other: dict[str, Any]) -> None:
    base = {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*"}
    first, second = policy({**base, **one}), policy({**base, **other})

    assert not policies_equal(first, second)
    assert not diff_policies(first, second, ACCOUNT).is_empty


def test_whitespace_key_order_and_single_statement_object_do_not_matter() -> None:
    compact = json.dumps(BASE, separators=(",", ":"))
    spread = json.dumps(dict(reversed(list(BASE.items()))), indent=4)
    single = {"Version": "2012-10-17", "Statement": ROOT_STATEMENT}

    assert policies_equal(compact, spread)
    assert policies_equal(single, policy(ROOT_STATEMENT))


def test_top_level_version_and_id_are_compared() -> None:
    assert not policies_equal(policy(ROOT_STATEMENT), policy(ROOT_STATEMENT, Id="k-1"))
    assert not policies_equal(BASE, {**BASE, "Version": "2008-10-17"})


def test_canonical_form_is_hashable_and_keeps_the_parts() -> None:
    canonical = normalize_policy(BASE)

    assert canonical is not None
    assert hash(tuple(sorted(canonical.items()))) is not None
    assert canonical["Version"] == "2012-10-17"
    use = next(s for s in canonical["Statement"] if s.sid == "Use")
    assert use == Statement(
        effect="Allow",
        sid="Use",
        principal=(("AWS", (APP_ROLE,)),),
        action=("kms:decrypt", "kms:encrypt"),
        resource=("*",),
    )


def test_no_policy_normalizes_to_none() -> None:
    assert normalize_policy(None) is None
    assert normalize_policy("") is None
    assert normalize_policy("  \n") is None
    assert policies_equal(None, "")


def test_invalid_json_names_the_position() -> None:
    with pytest.raises(PolicyError, match=r"not valid JSON: .* line 1 column 16"):
        normalize_policy('{"Statement": [,]}')


def test_policy_error_is_a_user_error() -> None:
    assert issubclass(PolicyError, TfdriftError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "must be a JSON object, not list"),
        ('{"Statement": "x"}', "Statement must be an object or a list"),
        ('{"Statement": [1]}', r"Statement\[0\] must be an object"),
        ('{"Statement": [{"Principal": ["a"]}]}', r"Statement\[0\].Principal must be"),
        ('{"Statement": [{"Action": [1]}]}', r"Statement\[0\].Action must be a string"),
        (
            '{"Statement": [{"Condition": {"Bool": 1}}]}',
            "must be an object of condition",
        ),
        ('{"Statement": [{"Condition": "x"}]}', "must be an object of operators"),
    ],
)
def test_malformed_policy_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        normalize_policy(text)


# --- reordering never changes equality (property) ----------------------------

names = st.sampled_from(
    [ROOT, ADMIN_ROLE, APP_ROLE, f"arn:aws:iam::{OTHER}:root", "*", ACCOUNT]
)
actions = st.sampled_from(
    ["kms:*", "kms:Decrypt", "kms:Encrypt", "kms:PutKeyPolicy", "kms:Describe*"]
)
statements = st.builds(
    lambda sid, effect, who, what, org: {
        **({"Sid": sid} if sid else {}),
        "Effect": effect,
        "Principal": {"AWS": who},
        "Action": what,
        "Resource": "*",
        **({"Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}} if org else {}),
    },
    st.sampled_from([None, "A", "B", "C"]),
    st.sampled_from(["Allow", "Deny"]),
    st.lists(names, min_size=1, max_size=4),
    st.lists(actions, min_size=1, max_size=4),
    st.sampled_from([None, "o-1", ["o-1", "o-2"]]),
)
policies = st.lists(statements, min_size=1, max_size=5).map(lambda s: policy(*s))


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same policy, reordered everywhere, with one-element lists as strings."""
    if isinstance(value, dict):
        items = [(k, shuffled(v, rng)) for k, v in value.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        items = [shuffled(v, rng) for v in value]
        rng.shuffle(items)
        return items[0] if len(items) == 1 and isinstance(items[0], str) else items
    return value


@given(policies, st.randoms(use_true_random=False))
def test_reordering_never_changes_equality(
    document: dict[str, Any], rng: random.Random
) -> None:
    reordered = shuffled(document, rng)

    assert policies_equal(document, json.dumps(reordered))
    assert diff_policies(document, reordered, ACCOUNT).is_empty


@given(policies, policies)
def test_empty_diff_exactly_when_equal(first: Any, second: Any) -> None:
    result = diff_policies(first, second, ACCOUNT)

    assert result.is_empty == policies_equal(first, second)


# --- statement-level diffs ------------------------------------------------------


def test_nothing_changed_is_empty() -> None:
    result = diff(BASE)

    assert result.is_empty
    assert result.to_json()["removed_principals"] == []
    assert not result.lockout_risk


def test_added_statement_with_other_account_principal_is_external() -> None:
    partner = f"arn:aws:iam::{OTHER}:role/Partner"
    after = policy(
        ROOT_STATEMENT, USE_STATEMENT, stmt("Partner", {"AWS": partner}, "kms:Decrypt")
    )

    result = diff(after)

    assert result.added_principals == [partner]
    assert result.external_principals == [partner]
    assert result.added_statements == ["Partner"]
    assert result.removed_principals == result.removed_statements == []
    assert not result.is_empty


def test_bare_account_id_of_another_account_is_external_as_its_root() -> None:
    after = policy(
        ROOT_STATEMENT,
        stmt("Use", {"AWS": [APP_ROLE, OTHER]}, ["kms:Decrypt", "kms:Encrypt"]),
    )

    result = diff(after)

    assert result.added_principals == [f"arn:aws:iam::{OTHER}:root"]
    assert result.external_principals == [f"arn:aws:iam::{OTHER}:root"]
    assert result.changed_statements == ["Use"]


def test_own_account_and_service_principals_are_not_external() -> None:
    grants = {"AWS": [APP_ROLE, ADMIN_ROLE], "Service": "logs.amazonaws.com"}
    after = policy(ROOT_STATEMENT, stmt("Use", grants, ["kms:Decrypt", "kms:Encrypt"]))

    result = diff(after)

    assert result.added_principals == [ADMIN_ROLE, "logs.amazonaws.com"]
    assert result.external_principals == []
    assert result.wildcard_principals == []


def test_wildcard_principals_are_counted_apart_from_external() -> None:
    after = policy(
        ROOT_STATEMENT,
        USE_STATEMENT,
        stmt("Public", "*", "kms:Decrypt"),
        stmt("AnyRoot", {"AWS": "arn:aws:iam::*:root"}, "kms:Decrypt"),
    )

    result = diff(after)

    assert result.wildcard_principals == ["*", "arn:aws:iam::*:root"]
    assert result.external_principals == []
    assert result.public_grant


def test_wildcard_under_a_condition_is_listed_but_not_public() -> None:
    org = {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}
    after = policy(
        ROOT_STATEMENT, USE_STATEMENT, stmt("Org", "*", "kms:Decrypt", Condition=org)
    )

    result = diff(after)

    assert result.wildcard_principals == ["*"]
    assert not result.public_grant


def test_public_grant_already_there_before_is_not_new() -> None:
    public = policy(ROOT_STATEMENT, USE_STATEMENT, stmt("Public", "*", "kms:Decrypt"))
    widened = policy(ROOT_STATEMENT, USE_STATEMENT, stmt("Public", "*", "kms:*"))

    result = diff(widened, public)

    assert not result.public_grant
    assert result.changed_statements == ["Public"]


def test_deny_with_not_principal_names_no_denied_principal() -> None:
    deny_all_but = {
        "Sid": "OnlyAdmins",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": ADMIN_ROLE},
        "Action": "kms:Disable*",
        "Resource": "*",
    }

    result = diff(policy(ROOT_STATEMENT, USE_STATEMENT, deny_all_but))

    assert result.added_denied_principals == []
    assert result.added_principals == []
    assert result.added_statements == ["OnlyAdmins"]


def test_removed_statement_removes_its_principals() -> None:
    result = diff(policy(ROOT_STATEMENT))

    assert result.removed_principals == [APP_ROLE]
    assert result.removed_statements == ["Use"]
    assert not result.lockout_risk


def test_changed_statement_by_sid_without_principal_change() -> None:
    after = policy(ROOT_STATEMENT, stmt("Use", {"AWS": APP_ROLE}, "kms:*"))

    result = diff(after)

    assert result.changed_statements == ["Use"]
    assert result.added_principals == result.removed_principals == []
    assert result.added_statements == result.removed_statements == []


def test_principal_moving_between_statements_is_not_added_or_removed() -> None:
    after = policy(
        stmt("Enable IAM User Permissions", {"AWS": [ROOT, APP_ROLE]}, "kms:*")
    )

    result = diff(after)

    assert result.added_principals == result.removed_principals == []
    assert result.changed_statements == ["Enable IAM User Permissions"]
    assert result.removed_statements == ["Use"]


def test_statements_without_sid_are_described() -> None:
    before = policy(ROOT_STATEMENT)
    after = policy(
        ROOT_STATEMENT,
        stmt(None, {"AWS": APP_ROLE}, ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*"]),
    )

    result = diff(after, before)

    assert result.added_statements == [
        f"Allow kms:decrypt, kms:encrypt +1 more for {APP_ROLE}"
    ]


def test_deny_changes_are_kept_apart_from_grants() -> None:
    deny = {
        **stmt("NoPartner", {"AWS": f"arn:aws:iam::{OTHER}:root"}, "kms:*"),
        "Effect": "Deny",
    }

    result = diff(policy(ROOT_STATEMENT, USE_STATEMENT, deny))

    assert result.added_principals == []
    assert result.added_denied_principals == [f"arn:aws:iam::{OTHER}:root"]
    assert result.added_statements == ["NoPartner"]
    assert diff(
        BASE, policy(ROOT_STATEMENT, USE_STATEMENT, deny)
    ).removed_denied_principals == [f"arn:aws:iam::{OTHER}:root"]


def test_allow_with_not_principal_counts_as_everyone() -> None:
    everyone_but = {
        "Sid": "AllBut",
        "Effect": "Allow",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }

    result = diff(policy(ROOT_STATEMENT, USE_STATEMENT, everyone_but))

    assert result.added_principals == ["*"]
    assert result.wildcard_principals == ["*"]
    assert result.public_grant


def test_version_or_id_change_is_a_changed_field() -> None:
    result = diff({**BASE, "Id": "key-consolepolicy-3"})

    assert result.changed_fields == ["Id"]
    assert not result.is_empty


# --- lockout --------------------------------------------------------------------


def test_removing_the_account_root_statement_is_a_lockout_risk() -> None:
    assert diff(policy(USE_STATEMENT)).lockout_risk


def test_narrowing_the_root_statement_is_a_lockout_risk() -> None:
    narrowed = stmt("Enable IAM User Permissions", {"AWS": ROOT}, "kms:Decrypt")

    result = diff(policy(narrowed, USE_STATEMENT))

    assert result.lockout_risk
    assert result.changed_statements == ["Enable IAM User Permissions"]


def test_root_statement_put_under_a_condition_is_a_lockout_risk() -> None:
    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    conditioned = stmt(
        "Enable IAM User Permissions", {"AWS": ROOT}, "kms:*", Condition=mfa
    )

    assert diff(policy(conditioned, USE_STATEMENT)).lockout_risk


def test_bare_account_id_with_admin_actions_keeps_control() -> None:
    admin = stmt("Admin", {"AWS": ACCOUNT}, ["kms:Put*", "kms:Describe*"])

    assert not diff(policy(admin, USE_STATEMENT)).lockout_risk


def test_not_action_that_spares_put_key_policy_keeps_control() -> None:
    allow_most = {
        "Sid": "Most",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "NotAction": "kms:ScheduleKeyDeletion",
        "Resource": "*",
    }

    assert not diff(policy(allow_most, USE_STATEMENT)).lockout_risk


def test_deny_of_put_key_policy_to_everyone_is_a_lockout_risk() -> None:
    deny = {**stmt("Freeze", "*", "kms:PutKeyPolicy"), "Effect": "Deny"}

    assert diff(policy(ROOT_STATEMENT, USE_STATEMENT, deny)).lockout_risk


def test_deny_of_put_key_policy_to_all_but_one_role_is_a_lockout_risk() -> None:
    only_admin = {
        "Sid": "OnlyAdmin",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": ADMIN_ROLE},
        "Action": "kms:PutKeyPolicy",
        "Resource": "*",
    }
    sparing_root = {**only_admin, "NotPrincipal": {"AWS": [ADMIN_ROLE, ROOT]}}

    assert diff(policy(ROOT_STATEMENT, USE_STATEMENT, only_admin)).lockout_risk
    assert not diff(policy(ROOT_STATEMENT, USE_STATEMENT, sparing_root)).lockout_risk


def test_other_account_root_does_not_keep_control_of_the_key() -> None:
    foreign = stmt("Enable IAM User Permissions", {"AWS": OTHER}, "kms:*")

    assert diff(policy(foreign, USE_STATEMENT)).lockout_risk


def test_without_key_account_any_root_counts_as_owner() -> None:
    foreign = stmt("Enable IAM User Permissions", {"AWS": OTHER}, "kms:*")

    result = diff(policy(foreign, USE_STATEMENT), account=None)

    assert not result.lockout_risk
    assert result.external_principals == []


def test_bypass_flag_is_carried() -> None:
    result = diff_policies(BASE, BASE, ACCOUNT, bypass_lockout_check=True)

    assert result.bypass_lockout_check
    assert result.to_json()["bypass_lockout_check"] is True


# --- unknown before, missing after -----------------------------------------------


def test_unknown_before_lists_principals_apart() -> None:
    result = diff_policies(None, BASE, ACCOUNT)

    assert result.principals == [APP_ROLE, ROOT]
    assert result.added_principals == result.removed_principals == []
    assert result.added_statements == []
    assert not result.before_known
    assert not result.is_empty
    assert result.to_json()["principals"] == [APP_ROLE, ROOT]


def test_known_before_has_no_principals_key() -> None:
    assert "principals" not in diff(BASE).to_json()


def test_missing_after_policy_is_an_error() -> None:
    with pytest.raises(PolicyError, match="after the change is missing"):
        diff_policies(BASE, None, ACCOUNT)


def test_to_json_is_json_ready_with_the_log_line_keys() -> None:
    data = diff(policy(ROOT_STATEMENT)).to_json()

    assert json.loads(json.dumps(data)) == data
    assert list(data)[:2] == ["added_principals", "removed_principals"]


# --- real PutKeyPolicy and ReplicateKey records ---------------------------------


def test_put_key_policy_doc_record_with_unknown_before(real_inputs: Path) -> None:
    record = load_json(
        real_inputs / "cloudtrail" / "aws-docs" / "ct-put-key-policy.json"
    )
    request = record["requestParameters"]

    result = diff_policies(
        None, request["policy"], ACCOUNT, request["bypassPolicyLockoutSafetyCheck"]
    )

    assert result.principals == ["arn:aws:iam::111122223333:root"]
    assert result.external_principals == result.wildcard_principals == []
    assert not result.lockout_risk
    assert not result.bypass_lockout_check


def test_case_01_policy_replacing_the_console_policy(real_inputs: Path) -> None:
    terraform = load_json(real_inputs / "case-11.json")["terraform_state_policy"]
    put = load_json(real_inputs / "case-01.json")["requestParameters"]["policy"]

    result = diff_policies(terraform, put, ACCOUNT)

    assert result.added_principals == []
    assert result.removed_principals == [
        "arn:aws:iam::111122223333:role/AdminAccessFromLegacy",
        "arn:aws:iam::444455556666:root",
    ]
    assert result.removed_statements == [
        "Allow attachment of persistent resources",
        "Allow use of the key",
    ]
    assert result.changed_statements == []
    assert result.changed_fields == ["Id"]
    assert not result.lockout_risk


def test_case_10_replica_policy_grants_two_other_accounts(real_inputs: Path) -> None:
    replicate = load_json(real_inputs / "case-10.json")["Records"][0]
    replica_policy = replicate["responseElements"]["replicaPolicy"]
    alice = "arn:aws:iam::123456789012:user/Alice"
    bob = "arn:aws:iam::012345678901:user/Bob"
    charlie = "arn:aws:iam::012345678901:user/Charlie"

    result = diff_policies(None, replica_policy, ACCOUNT)
    baseline = diff_policies(policy(ROOT_STATEMENT), replica_policy, ACCOUNT)

    assert result.principals == [bob, charlie, alice]
    assert result.external_principals == [bob, charlie, alice]
    assert {p.split(":")[4] for p in result.external_principals} == {
        "123456789012",
        "012345678901",
    }
    assert result.lockout_risk
    assert baseline.added_principals == [bob, charlie, alice]
    assert baseline.removed_principals == [ROOT]
    assert baseline.added_statements == [
        f"Allow kms:* for {alice}",
        f"Allow kms:creategrant for {bob}",
        f"Allow kms:encrypt for {charlie}",
    ]
    assert baseline.removed_statements == ["Enable IAM User Permissions"]


def test_panther_public_policy_given_as_an_object(real_inputs: Path) -> None:
    path = (
        real_inputs
        / "cloudtrail"
        / "fixtures"
        / "panther-analysis-kms-test-events.json"
    )
    records = {r["eventID"]: r for r in load_json(path)["Records"]}
    public = records["test-04"]["requestParameters"]["policy"]

    result = diff_policies(None, public, "123456789012")

    assert isinstance(public, dict)
    assert result.principals == ["*"]
    assert result.public_grant


def test_panther_org_restricted_wildcards_are_not_public(real_inputs: Path) -> None:
    path = (
        real_inputs
        / "cloudtrail"
        / "fixtures"
        / "panther-analysis-kms-test-events.json"
    )
    record = next(
        r
        for r in load_json(path)["Records"]
        if r["_panther_test"]["name"] == "KMS Key Restricted Access (Should Not Alert)"
    )

    result = diff_policies(None, record["requestParameters"]["policy"], "123456789012")

    assert result.principals == [
        "*",
        "arn:aws:iam::123456789012:role/ExampleRoleAssumption1",
        "arn:aws:iam::123456789012:role/ExampleRoleAssumption2",
        "arn:aws:iam::123456789012:root",
    ]
    assert result.wildcard_principals == ["*"]
    assert not result.public_grant
    assert not result.lockout_risk
