"""Who did it: actors and channels read from real and hand-written records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy
import pytest

from tests.conftest import load_json
from tfdrift_hook import actors, hookspecs
from tfdrift_hook.actors import (
    Actor,
    Channel,
    actor_from_record,
    channel_of,
    is_terraform_user_agent,
    tfdrift_resolve_actor,
)

TERRAFORM_AGENT = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) "
    "terraform-provider-aws/3.76.1 (+https://registry.terraform.io/providers/"
    "hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; darwin; arm64)"
)
SSO_PATH = "aws-reserved/sso.amazonaws.com"
BROWSER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/134.0"


def records_of(path: Path) -> list[dict[str, Any]]:
    data = load_json(path)
    if isinstance(data, dict) and "Records" in data:
        return list(data["Records"])
    return [data]


def by_event_id(path: Path) -> dict[str, dict[str, Any]]:
    return {record["eventID"]: record for record in records_of(path)}


# --- real cases from cases.md ---------------------------------------------------


def test_case_01_role_session_names_the_person_not_the_role(real_inputs: Path) -> None:
    actor = actor_from_record(load_json(real_inputs / "case-01.json"))

    assert actor.type == "AssumedRole"
    assert actor.name == "john"
    assert actor.session == "john"
    assert actor.role_arn == "arn:aws:iam::111122223333:role/Administrators"
    assert actor.account == "111122223333"
    assert actor.mfa is True
    assert actor.role_arn == "arn:aws:iam::111122223333:role/Administrators"


def test_case_01_fills_the_record_level_fields(real_inputs: Path) -> None:
    actor = actor_from_record(load_json(real_inputs / "case-01.json"))

    assert actor.source_ip == "192.0.2.0"
    assert actor.user_agent == "AWS Internal"
    assert actor.principal_id == "AROAEXAMPLEROLEID0001:john"
    assert actor.arn == "arn:aws:sts::111122223333:assumed-role/Administrators/john"
    # "AWS Internal" alone, without the console flag, does not say how it came.
    assert actor.channel == Channel.UNKNOWN


def test_case_19_console_session_and_lambda_call(real_inputs: Path) -> None:
    records = by_event_id(real_inputs / "case-19.json")
    lab_user = "5afab8dd-572c-45b1-8b68-6b9e00f836c7"
    lab_role = "arn:aws:iam::444455556666:role/AWSLabsUser-eo48QcrNoHcJZfkNoBbNHr"

    decrypt = actor_from_record(records["3be8ee01-58ae-4409-9982-da6d5cba400c"])
    aliases = actor_from_record(records["441141ed-3324-4589-9edb-3b423a5b067f"])
    data_key = actor_from_record(records["220b7c53-3946-49e7-b282-598c3084ef9a"])
    lookup = actor_from_record(records["7625ad7e-5b11-4d89-843b-8e83f536d2c2"])

    assert (decrypt.name, decrypt.channel) == (
        "AVS-AsyncResourceMonitor",
        "aws_service",
    )
    assert decrypt.invoked_by == "lambda.amazonaws.com"
    assert decrypt.role_arn == "arn:aws:iam::444455556666:role/AWSLabsController"
    assert (aliases.name, aliases.channel, aliases.role_arn) == (
        lab_user,
        "console",
        lab_role,
    )
    assert (data_key.name, data_key.channel) == (lab_user, "console")
    assert data_key.invoked_by == "AWS Internal"
    assert data_key.mfa is False
    assert lookup.channel == Channel.SDK


def test_case_07_service_events_belong_to_kms_not_a_person(real_inputs: Path) -> None:
    enable, rotate, delete = records_of(real_inputs / "case-07.json")

    alice = actor_from_record(enable)
    assert (alice.type, alice.name, alice.account) == (
        "IAMUser",
        "Alice",
        "111122223333",
    )
    for record in (rotate, delete):
        actor = actor_from_record(record)
        assert actor.type == "AWSService"
        assert actor.name == "AWS KMS (scheduled)"
        assert actor.channel == Channel.AWS_SERVICE
        assert actor.account == "111122223333"
        assert actor.invoked_by == "AWS Internal"


def test_case_16_terraform_agent_and_console_change(real_inputs: Path) -> None:
    by_terraform, by_console = records_of(real_inputs / "case-16.json")

    assert channel_of(by_terraform) == Channel.TERRAFORM
    assert channel_of(by_console) == Channel.CONSOLE
    assert actor_from_record(by_console).name == "Alice"


# --- userIdentity-variants.json -------------------------------------------------

# start of the label -> (type, name, other fields worked out from the block)
VARIANTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "IAMUser (plain)": (
        "IAMUser",
        "Alice",
        {"arn": "arn:aws:iam::123456789012:user/Alice", "account": "123456789012"},
    ),
    "AssumedRole with signInSessionArn (2025+ field)": (
        "AssumedRole",
        "MySessionName",
        {
            "session": "MySessionName",
            "role_arn": "arn:aws:iam::123456789012:role/RoleToBeAssumed",
            "mfa": False,
        },
    ),
    "IdentityCenterUser (no arn, no principalId)": (
        "IdentityCenterUser",
        "544894e8-80c1-707f-60e3-3ba6510dfac1",
        {"identity_store": "d-9067642ac7", "account": "123456789012"},
    ),
    "AssumedRole performed by a product provider (invokedByDelegate)": (
        "AssumedRole",
        "Session",
        {
            "role_arn": "arn:aws:iam::123456789012:role/Alice",
            "delegate_account": "999999999999",
        },
    ),
    "Root (console sign-in)": (
        "Root",
        "root (111122223333)",
        {"arn": "arn:aws:iam::111122223333:root"},
    ),
    "FederatedUser (GetFederationToken) issued by IAMUser": (
        "FederatedUser",
        "`user-name`",
        {"issuer_arn": "arn:aws:iam::`account-ID`:user/`user-name`"},
    ),
    "WebIdentityUser (only on STS AssumeRoleWithWebIdentity)": (
        "WebIdentityUser",
        "user-id",
        {"identity_provider": "accounts.google.com"},
    ),
    "AWSAccount (cross-account caller; no arn)": (
        "AWSAccount",
        "account 123456789012",
        {"principal_id": "AIDAJ45Q7YFFAREXAMPLE"},
    ),
    "AssumedRole with sourceIdentity (doc has spaces inside ARNs)": (
        "AssumedRole",
        "source-identity-value-set",
        {
            "session": "Dev1",
            "source_identity": "source-identity-value-set",
            "arn": "arn:aws:sts::123456789012:assumed-role/DevRole/Dev1",
            "role_arn": "arn:aws:iam::123456789012:role/DevRole",
        },
    ),
    "AWSService with invokedBy only": (
        "AWSService",
        "tlsconnectionmanager.amazonaws.com",
        {"channel": "aws_service"},
    ),
    "No type at all, invokedBy 'AWS Internal'": (
        "AWSService",
        "AWS Internal",
        {"account": "111122223333", "channel": "aws_service"},
    ),
    "IAMUser WITH sessionContext (empty sessionIssuer) and invokedBy a service": (
        "IAMUser",
        "ir-analyst",
        {
            "invoked_by": "secretsmanager.amazonaws.com",
            "channel": "aws_service",
            "mfa": False,
            "role_arn": None,
        },
    ),
    "IAM Identity Center permission-set role": (
        "AssumedRole",
        "john",
        {
            "role_arn": "arn:aws:iam::21321:role/Administrators",
            "account": "324",
            "mfa": True,
        },
    ),
}


def variant_blocks(real_inputs: Path) -> dict[str, dict[str, Any]]:
    variants = load_json(real_inputs / "cloudtrail" / "userIdentity-variants.json")
    blocks: dict[str, dict[str, Any]] = {}
    for variant in variants["variants"]:
        keys = [key for key in VARIANTS if variant["label"].startswith(key)]
        assert len(keys) == 1, f"no single expectation for {variant['label']!r}"
        blocks[keys[0]] = variant["userIdentity"]
    return blocks


def test_every_variant_in_the_file_has_an_expectation(real_inputs: Path) -> None:
    assert set(variant_blocks(real_inputs)) == set(VARIANTS)


@pytest.mark.parametrize("label", sorted(VARIANTS))
def test_user_identity_variant(real_inputs: Path, label: str) -> None:
    block = variant_blocks(real_inputs)[label]
    kind, name, fields = VARIANTS[label]

    actor = actor_from_record({"userIdentity": block})

    assert (actor.type, actor.name) == (kind, name)
    for attribute, expected in fields.items():
        assert getattr(actor, attribute) == expected, attribute


# --- captured logs --------------------------------------------------------------

ANALYST = ("IAMUser", "ir-analyst")
LAB = "5afab8dd-572c-45b1-8b68-6b9e00f836c7"
# event id -> (type, name, channel, invokedBy)
CAPTURED: dict[str, tuple[str, str, str, str | None]] = {
    # awslab-kms-console-and-service-events.json
    "3be8ee01-58ae-4409-9982-da6d5cba400c": (
        "AssumedRole",
        "AVS-AsyncResourceMonitor",
        "aws_service",
        "lambda.amazonaws.com",
    ),
    "441141ed-3324-4589-9edb-3b423a5b067f": ("AssumedRole", LAB, "console", None),
    "220b7c53-3946-49e7-b282-598c3084ef9a": (
        "AssumedRole",
        LAB,
        "console",
        "AWS Internal",
    ),
    "7625ad7e-5b11-4d89-843b-8e83f536d2c2": (
        "AssumedRole",
        "AVS-AsyncResourceMonitor",
        "sdk",
        None,
    ),
    # invictus-aws_dataset-kms-read-events.json: Secrets Manager and S3 forwarding
    "1fb0962b-8d29-4ea5-b0f3-b12665a99c40": (
        *ANALYST,
        "aws_service",
        "secretsmanager.amazonaws.com",
    ),
    "556a2c3a-0c8b-46bd-8f6b-8ee957f27ae0": (
        *ANALYST,
        "aws_service",
        "secretsmanager.amazonaws.com",
    ),
    "c6ebc8b7-572c-4123-92bf-9d94933724ca": (
        *ANALYST,
        "aws_service",
        "secretsmanager.amazonaws.com",
    ),
    "0bc421fd-c87b-4566-9f11-ac6bd40d4733": (
        *ANALYST,
        "aws_service",
        "secretsmanager.amazonaws.com",
    ),
    "d38e82b1-27a8-4932-baff-6b084884a6c1": (*ANALYST, "aws_service", "AWS Internal"),
    "a8713198-6e16-4b3a-9481-16e6ea225acd": (*ANALYST, "aws_service", "AWS Internal"),
    "d7e73607-73ad-4a3e-99b5-49298fb4ecb3": (*ANALYST, "aws_service", "AWS Internal"),
    "de917e91-5190-4a99-a559-7ace51ba2d30": (*ANALYST, "aws_service", "AWS Internal"),
    # invictus-aws_dataset-userIdentity-shapes.json
    "293ba626-3be5-4a26-ab1b-0f4c54f49959": (
        "IAMUser",
        "benjamin",
        "aws_service",
        "AWS Internal",
    ),
    "6c1eed73-00ee-4810-8009-c9ce5990c100": (*ANALYST, "terraform", None),
    "111f1ab1-d904-4aab-bc84-95b9ad3b3357": (*ANALYST, "terraform", None),
    "21c87313-5709-46b6-9a83-c7096a761200": (
        "IAMUser",
        "benjamin",
        "console",
        "health.amazonaws.com",
    ),
    "647da679-c336-4b47-9610-2e740bfb6764": (*ANALYST, "console", None),
    "be7f89b5-d456-4423-b3e6-0fb0b19bad7c": (
        "AssumedRole",
        "aws-go-sdk-1688990515440126480",
        "unknown",
        None,
    ),
    "a4a7b25e-c2d5-436f-8a7e-ea89f50541ab": (
        "AWSService",
        "inspector2.amazonaws.com",
        "aws_service",
        "inspector2.amazonaws.com",
    ),
    "75f05727-9451-4593-9dd2-921cb841f2c3": (
        "AssumedRole",
        "SLRManagement",
        "aws_service",
        "rds.amazonaws.com",
    ),
    "895dc875-cb08-45a5-b8c2-9158838741c0": (
        "AWSService",
        "ec2.amazonaws.com",
        "aws_service",
        "ec2.amazonaws.com",
    ),
    "6bf8950b-f1ed-439d-8fc8-211645bfbe0f": (
        "AssumedRole",
        "i-0dbc91f429e48eeed",
        "sdk",
        None,
    ),
}


def captured_records(real_inputs: Path) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((real_inputs / "cloudtrail" / "captured").glob("*.json")):
        records.update(by_event_id(path))
    return records


def test_every_captured_record_has_an_expectation(real_inputs: Path) -> None:
    assert set(captured_records(real_inputs)) == set(CAPTURED)


@pytest.mark.parametrize("event_id", sorted(CAPTURED))
def test_captured_record(real_inputs: Path, event_id: str) -> None:
    record = captured_records(real_inputs)[event_id]

    actor = actor_from_record(record)

    assert (actor.type, actor.name, actor.channel, actor.invoked_by) == CAPTURED[
        event_id
    ]
    assert actor.source_ip == record["sourceIPAddress"]
    assert actor.user_agent == record["userAgent"]


def test_every_aws_docs_record_names_someone(real_inputs: Path) -> None:
    docs = sorted((real_inputs / "cloudtrail" / "aws-docs").glob("*.json"))

    actors = [actor_from_record(r) for path in docs for r in records_of(path)]

    assert len(actors) > 60
    assert all(actor.name not in ("", "unknown") for actor in actors)


# --- hand-written shapes --------------------------------------------------------


def assumed_role(role: str, session: str, **context: Any) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/{role}/{session}",
        "accountId": "111122223333",
        "sessionContext": context,
    }


def test_identity_center_session_is_the_person_with_permission_set() -> None:
    role = "AWSReservedSSO_Admin_Access_0123456789abcdef"
    identity = assumed_role(
        role,
        "jane.doe@example.com",
        sessionIssuer={
            "type": "Role",
            "arn": f"arn:aws:iam::111122223333:role/{SSO_PATH}/{role}",
            "userName": role,
        },
        attributes={"mfaAuthenticated": "false"},
    )

    actor = actor_from_record({"userIdentity": identity})

    assert actor.name == "jane.doe@example.com"
    assert actor.permission_set == "Admin_Access"
    assert actor.role_arn is not None
    assert actor.role_arn.endswith("/sso.amazonaws.com/" + role)
    assert actor.mfa is False


def test_role_session_without_issuer_derives_role_arn_from_session_arn() -> None:
    identity = assumed_role("deployer", "ci-run-42")

    actor = actor_from_record({"userIdentity": identity})

    assert actor.role_arn == "arn:aws:iam::111122223333:role/deployer"
    assert actor.session == "ci-run-42"
    assert actor.mfa is None


def test_role_session_from_web_identity_keeps_the_provider() -> None:
    provider = (
        "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
    )
    identity = assumed_role(
        "gha-deploy",
        "GitHubActions",
        webIdFederationData={"federatedProvider": provider, "attributes": {}},
    )

    actor = actor_from_record({"userIdentity": identity})

    assert (actor.name, actor.identity_provider) == ("GitHubActions", provider)


def test_role_arn_without_session_falls_back_to_principal_id() -> None:
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:tester",
        "arn": "arn:aws:sts::123456789012:assumed-role/tester",
    }

    actor = actor_from_record({"userIdentity": identity})

    assert actor.name == "tester"
    assert actor.account == "123456789012"


def test_federated_user_name_and_issuer() -> None:
    identity = {
        "type": "FederatedUser",
        "principalId": "111122223333:bob",
        "arn": "arn:aws:sts::111122223333:federated-user/bob",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {"arn": "arn:aws:iam::111122223333:user/broker"},
            "attributes": {"mfaAuthenticated": "true"},
        },
    }

    actor = actor_from_record({"userIdentity": identity})

    assert actor.name == "bob"
    assert actor.issuer_arn == "arn:aws:iam::111122223333:user/broker"
    assert actor.role_arn is None
    assert actor.mfa is True


def test_web_identity_user_reads_provider_from_session_context() -> None:
    identity = {
        "type": "WebIdentityUser",
        "principalId": "cognito-identity.amazonaws.com:us-east-1:1234",
        "userName": "us-east-1:1234",
        "sessionContext": {
            "webIdFederationData": {
                "federatedProvider": "cognito-identity.amazonaws.com"
            }
        },
    }

    actor = actor_from_record({"userIdentity": identity})

    assert actor.name == "us-east-1:1234"
    assert actor.identity_provider == "cognito-identity.amazonaws.com"


def test_cross_account_caller_keeps_invoked_by() -> None:
    identity = {
        "type": "AWSAccount",
        "principalId": "AIDAEXAMPLE",
        "accountId": "444455556666",
        "invokedBy": "ec2.amazonaws.com",
    }

    actor = actor_from_record({"userIdentity": identity})

    assert actor.name == "account 444455556666"
    assert actor.principal_id == "AIDAEXAMPLE"
    assert actor.invoked_by == "ec2.amazonaws.com"
    assert actor.channel == Channel.AWS_SERVICE


def test_aws_service_is_named_by_invoked_by() -> None:
    record = {"userIdentity": {"type": "AWSService", "invokedBy": "kms.amazonaws.com"}}

    actor = actor_from_record(record)

    assert (actor.type, actor.name) == ("AWSService", "kms.amazonaws.com")


def test_kms_service_event_invoked_by_kms_itself_is_scheduled() -> None:
    record = {
        "userIdentity": {"accountId": "111122223333", "invokedBy": "kms.amazonaws.com"},
        "eventSource": "kms.amazonaws.com",
        "eventType": "AwsServiceEvent",
    }

    assert actor_from_record(record).name == "AWS KMS (scheduled)"


def test_kms_internal_call_that_is_not_a_service_event(real_inputs: Path) -> None:
    _, sync = records_of(real_inputs / "case-10.json")

    actor = actor_from_record(sync)

    assert (actor.type, actor.name) == ("AWSService", "AWS KMS")
    assert actor.channel == Channel.AWS_SERVICE


def test_service_event_of_another_service_is_named_by_that_service() -> None:
    record = {
        "userIdentity": {"accountId": "111122223333", "invokedBy": "AWS Internal"},
        "eventSource": "ec2.amazonaws.com",
        "eventType": "AwsServiceEvent",
    }

    assert actor_from_record(record).name == "AWS Internal"


def test_root_without_account_is_still_root() -> None:
    actor = actor_from_record({"userIdentity": {"type": "Root"}})

    assert (actor.type, actor.name) == ("Root", "root")


def test_type_is_inferred_from_the_arn_when_missing() -> None:
    user = {"arn": "arn:aws:iam::111122223333:user/ops/carol"}
    role = {"arn": "arn:aws:sts::111122223333:assumed-role/ops/dave"}
    root = {"arn": "arn:aws:iam::111122223333:root"}

    assert actor_from_record({"userIdentity": user}) == Actor(
        type="IAMUser",
        name="carol",
        arn="arn:aws:iam::111122223333:user/ops/carol",
        account="111122223333",
    )
    assert actor_from_record({"userIdentity": role}).name == "dave"
    assert actor_from_record({"userIdentity": root}).name == "root (111122223333)"


def test_unlisted_identity_type_uses_user_name() -> None:
    identity = {"type": "SAMLUser", "userName": "erin", "principalId": "SAML:erin"}

    actor = actor_from_record({"userIdentity": identity})

    assert (actor.type, actor.name) == ("SAMLUser", "erin")


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"userIdentity": None},
        {"userIdentity": {}},
        {"userIdentity": "Alice"},
        {"userIdentity": {"type": None, "arn": 7, "accountId": ["x"]}},
        {"userIdentity": {"type": "AssumedRole", "sessionContext": "broken"}},
        {"userIdentity": {"type": "IAMUser", "arn": "not-an-arn"}},
    ],
)
def test_nothing_naming_a_principal_gives_unknown_and_never_raises(
    record: dict[str, Any],
) -> None:
    actor = actor_from_record(record)

    assert actor.name == "unknown"
    assert actor.channel == Channel.UNKNOWN


def test_a_record_that_is_not_a_mapping_gives_unknown() -> None:
    actor = actor_from_record(None)  # type: ignore[arg-type]

    assert (actor.type, actor.name) == ("Unknown", "unknown")


def test_principal_id_keeps_a_partial_identity_named() -> None:
    actor = actor_from_record(
        {"userIdentity": {"type": "IAMUser", "principalId": "AIDA1"}}
    )

    assert actor.name == "AIDA1"


def test_mfa_accepts_the_string_form_and_json_booleans() -> None:
    def mfa(value: Any) -> bool | None:
        identity = assumed_role("r", "s", attributes={"mfaAuthenticated": value})
        return actor_from_record({"userIdentity": identity}).mfa

    assert mfa("true") is True
    assert mfa("TRUE") is True
    assert mfa("false") is False
    assert mfa(True) is True
    assert mfa("yes") is None
    assert mfa(None) is None


def test_to_json_drops_empty_fields() -> None:
    actor = Actor(type="IAMUser", name="Alice", account="111122223333")

    assert actor.to_json() == {
        "type": "IAMUser",
        "name": "Alice",
        "channel": "unknown",
        "account": "111122223333",
    }


# --- channels -------------------------------------------------------------------


def channel(user_agent: str | None, **record: Any) -> str:
    return channel_of({"userAgent": user_agent, **record})


@pytest.mark.parametrize(
    "agent",
    [
        TERRAFORM_AGENT,
        f"[{TERRAFORM_AGENT}]",
        "aws-sdk-go/1.25.3 (go1.13.3; linux; amd64) APN/1.0 HashiCorp/1.0 "
        "Terraform/0.12.29 (+https://www.terraform.io)",
        "APN/1.0 HashiCorp/1.0 OpenTofu/1.6.0 (+https://opentofu.org) "
        "terraform-provider-aws/5.31.0 aws-sdk-go-v2/1.24.0",
    ],
)
def test_terraform_agents_win_over_the_sdk_they_contain(agent: str) -> None:
    assert is_terraform_user_agent(agent)
    assert channel(agent) == Channel.TERRAFORM


@pytest.mark.parametrize(
    "agent",
    [None, "", "aws-sdk-go/1.44.157 (go1.19.3; linux; amd64)", "terraform-docs/0.16"],
)
def test_other_agents_are_not_terraform(agent: str | None) -> None:
    assert not is_terraform_user_agent(agent)


@pytest.mark.parametrize(
    ("agent", "record", "expected"),
    [
        ("AWS Internal", {"sessionCredentialFromConsole": "true"}, "console"),
        (BROWSER_AGENT, {}, "console"),
        ("signin.amazonaws.com", {}, "console"),
        ("console.amazonaws.com", {}, "console"),
        ("AWS Console, aws-sdk-java/unknown-version Linux", {}, "console"),
        ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]", {}, "console"),
        ("aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 botocore/2.4.5", {}, "cli"),
        ("aws-cli/1.29.0 Python/3.11 botocore/1.31.0", {}, "cli"),
        ("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux", {}, "sdk"),
        ("botocore/1.34.0 Python/3.12", {}, "sdk"),
        ("aws-sdk-java/2.20.0 Linux/5.10 OpenJDK_64-Bit_Server_VM", {}, "sdk"),
        ("aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21", {}, "sdk"),
        ("aws-sdk-nodejs/2.1692.0 linux/v20.19.4", {}, "sdk"),
        ("lambda.amazonaws.com", {}, "aws_service"),
        ("AWS Internal", {"eventType": "AwsServiceEvent"}, "aws_service"),
        (
            "AWS Internal",
            {"userIdentity": {"invokedBy": "AWS Internal"}},
            "aws_service",
        ),
        ("AWS Internal", {"sourceIPAddress": "192.0.2.0"}, "unknown"),
        ("stratus-red-team_7d2a6913", {}, "unknown"),
        (None, {}, "unknown"),
    ],
)
def test_channel_from_user_agent_and_context(
    agent: str | None, record: dict[str, Any], expected: str
) -> None:
    assert channel(agent, **record) == expected


def test_console_flag_beats_the_service_that_forwarded_the_call() -> None:
    record = {
        "userAgent": "AWS Internal",
        "sessionCredentialFromConsole": "true",
        "userIdentity": {"type": "IAMUser", "invokedBy": "s3.amazonaws.com"},
    }

    assert channel_of(record) == Channel.CONSOLE


def test_console_flag_false_is_not_console() -> None:
    assert channel("AWS Internal", sessionCredentialFromConsole="false") == "unknown"


def test_aws_service_type_is_a_service_channel_whatever_the_agent() -> None:
    record = {"userIdentity": {"type": "AWSService"}, "userAgent": "Boto3/1.34.0"}

    assert channel_of(record) == Channel.AWS_SERVICE


# --- the built-in plugin --------------------------------------------------------


def plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(actors, name="actors")
    return manager


def test_builtin_resolver_answers_through_the_hook(real_inputs: Path) -> None:
    record = load_json(real_inputs / "case-01.json")

    actor = plugin_manager().hook.tfdrift_resolve_actor(record=record)

    assert actor == actor_from_record(record) == tfdrift_resolve_actor(record)
    assert actor.name == "john"


def test_an_installed_resolver_wins_over_the_builtin() -> None:
    class Directory:
        @hookspecs.hookimpl
        def tfdrift_resolve_actor(self, record: dict[str, Any]) -> Actor:
            return Actor(type="AssumedRole", name="John Smith")

    manager = plugin_manager()
    manager.register(Directory())

    actor = manager.hook.tfdrift_resolve_actor(record={})

    assert actor.name == "John Smith"
