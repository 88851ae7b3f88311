"""The Athena source: SQL, Athena's struct text, rows to records, moto and faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends

from tfdrift_hook.actors import actor_from_record
from tfdrift_hook.inventory import Inventory, ManagedResource
from tfdrift_hook.pipeline import CheckRequest
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources import athena
from tfdrift_hook.sources.athena import (
    AthenaError,
    AthenaSource,
    Pacing,
    Partitions,
    RowError,
    StructTextError,
    build_query,
    parse_struct_text,
    record_from_row,
    source_from_settings,
)
from tfdrift_hook.window import Window

REGION = "us-east-1"
#: The account moto answers as.
DEFAULT_ACCOUNT_ID = "123456789012"
ALICE, BOB = "111111111111", "222222222222"
SINCE = datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)
UNTIL = datetime(2026, 3, 3, 23, 30, tzinfo=timezone.utc)
KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ALICE}:key/{KEY}"
OTHER_KEY = "0987dcba-09fe-87dc-65ba-ab0987654321"
OTHER_ARN = f"arn:aws:kms:eu-west-1:{BOB}:key/{OTHER_KEY}"

#: The columns of the table the Athena documentation creates, and a projected partition.
COLUMNS = (
    "eventversion",
    "useridentity",
    "eventtime",
    "eventsource",
    "eventname",
    "awsregion",
    "sourceipaddress",
    "useragent",
    "errorcode",
    "errormessage",
    "requestparameters",
    "responseelements",
    "additionaleventdata",
    "requestid",
    "eventid",
    "resources",
    "eventtype",
    "apiversion",
    "readonly",
    "recipientaccountid",
    "serviceeventdetails",
    "sharedeventid",
    "vpcendpointid",
    "timestamp",
)

ROLE_IDENTITY = (
    "{type=AssumedRole, principalid=AROAEXAMPLEROLE:alice@example.com, "
    f"arn=arn:aws:sts::{ALICE}:assumed-role/Admin/alice@example.com, "
    f"accountid={ALICE}, invokedby=null, accesskeyid=ASIAEXAMPLE, username=null, "
    "onbehalfof=null, sessioncontext={attributes={mfaauthenticated=true, "
    "creationdate=2026-03-02T09:55:00Z}, sessionissuer={type=Role, "
    f"principalid=AROAEXAMPLEROLE, arn=arn:aws:iam::{ALICE}:role/Admin, "
    f"accountid={ALICE}, username=Admin}}, ec2roledelivery=null, "
    "webidfederationdata=null}}"
)
USER_IDENTITY = (
    f"{{type=IAMUser, principalid=AIDAEXAMPLEBOB, arn=arn:aws:iam::{BOB}:user/bob, "
    f"accountid={BOB}, invokedby=null, accesskeyid=AKIAEXAMPLE, username=bob, "
    "onbehalfof=null, sessioncontext=null}"
)
POLICY = {"Version": "2012-10-17", "Statement": []}


def row_values(**values: str | None) -> dict[str, str | None]:
    base: dict[str, str | None] = dict.fromkeys(COLUMNS)
    base.update(
        eventversion="1.08",
        eventsource="kms.amazonaws.com",
        readonly="false",
        eventtype="AwsApiCall",
        timestamp="2026/03/02",
    )
    base.update(values)
    return base


PUT_KEY_POLICY = row_values(
    useridentity=ROLE_IDENTITY,
    eventtime="2026-03-02T10:00:00Z",
    eventname="PutKeyPolicy",
    awsregion=REGION,
    sourceipaddress="203.0.113.7",
    useragent="aws-cli/2.15.0",
    requestparameters=json.dumps(
        {"keyId": KEY, "policyName": "default", "policy": json.dumps(POLICY)}
    ),
    requestid="req-1",
    eventid="event-1",
    resources=f"[{{arn={KEY_ARN}, accountid={ALICE}, type=AWS::KMS::Key}}]",
    recipientaccountid=ALICE,
)
DISABLE_KEY = row_values(
    useridentity=USER_IDENTITY,
    eventtime="2026-03-03T08:30:00Z",
    eventname="DisableKey",
    awsregion="eu-west-1",
    sourceipaddress="198.51.100.2",
    useragent="Boto3/1.34.0",
    requestparameters=json.dumps({"keyId": OTHER_ARN}),
    requestid="req-2",
    eventid="event-2",
    resources=f"[{{arn={OTHER_ARN}, accountid={BOB}, type=AWS::KMS::Key}}]",
    recipientaccountid=BOB,
    timestamp="2026/03/03",
)
BROKEN_JSON = row_values(
    useridentity=USER_IDENTITY,
    eventtime="2026-03-03T09:00:00Z",
    eventname="EnableKey",
    awsregion="eu-west-1",
    requestparameters='{"keyId": "truncated',
    eventid="event-3",
)

#: Worked out by hand from the rows above: CloudTrail's names, nulls left out.
PUT_KEY_POLICY_RECORD = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLE:alice@example.com",
        "arn": f"arn:aws:sts::{ALICE}:assumed-role/Admin/alice@example.com",
        "accountId": ALICE,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "attributes": {
                "mfaAuthenticated": "true",
                "creationDate": "2026-03-02T09:55:00Z",
            },
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLE",
                "arn": f"arn:aws:iam::{ALICE}:role/Admin",
                "accountId": ALICE,
                "userName": "Admin",
            },
        },
    },
    "eventTime": "2026-03-02T10:00:00Z",
    "eventSource": "kms.amazonaws.com",
    "eventName": "PutKeyPolicy",
    "awsRegion": REGION,
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "aws-cli/2.15.0",
    "requestParameters": {
        "keyId": KEY,
        "policyName": "default",
        "policy": '{"Version": "2012-10-17", "Statement": []}',
    },
    "requestID": "req-1",
    "eventID": "event-1",
    "resources": [{"ARN": KEY_ARN, "accountId": ALICE, "type": "AWS::KMS::Key"}],
    "eventType": "AwsApiCall",
    "readOnly": False,
    "recipientAccountId": ALICE,
}
DISABLE_KEY_RECORD = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEBOB",
        "arn": f"arn:aws:iam::{BOB}:user/bob",
        "accountId": BOB,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": "bob",
    },
    "eventTime": "2026-03-03T08:30:00Z",
    "eventSource": "kms.amazonaws.com",
    "eventName": "DisableKey",
    "awsRegion": "eu-west-1",
    "sourceIPAddress": "198.51.100.2",
    "userAgent": "Boto3/1.34.0",
    "requestParameters": {"keyId": OTHER_ARN},
    "requestID": "req-2",
    "eventID": "event-2",
    "resources": [{"ARN": OTHER_ARN, "accountId": BOB, "type": "AWS::KMS::Key"}],
    "eventType": "AwsApiCall",
    "readOnly": False,
    "recipientAccountId": BOB,
}


def athena_rows(*rows: dict[str, str | None]) -> list[dict[str, Any]]:
    """Rows as GetQueryResults returns them: a header row first, nulls as ``{}``."""
    header = {"Data": [{"VarCharValue": column} for column in COLUMNS]}
    body = [
        {"Data": [{} if row[c] is None else {"VarCharValue": row[c]} for c in COLUMNS]}
        for row in rows
    ]
    return [header, *body]


COLUMN_INFO = [{"Name": column, "Type": "varchar"} for column in COLUMNS]


def inventory() -> Inventory:
    resources = [
        ManagedResource("aws_kms_key.a", "aws_kms_key", REGION, ALICE, KEY, KEY_ARN),
        ManagedResource(
            "aws_kms_key.b", "aws_kms_key", "eu-west-1", BOB, OTHER_KEY, OTHER_ARN
        ),
    ]
    return Inventory(resources, "terraform.tfstate")


def request(section: dict[str, Any], **settings: Any) -> CheckRequest:
    return CheckRequest(
        inventory=inventory(),
        window=Window(SINCE, UNTIL),
        settings={"sources": {"athena": section}, **settings},
    )


SECTION: dict[str, Any] = {
    "database": "security",
    "table": "org_trail",
    "workgroup": "primary",
    "output_location": "s3://athena-results/tfdrift/",
    "partitions": {"account": "account", "region": "region", "date": "timestamp"},
}


# --- Athena's struct text ---------------------------------------------------------


def test_a_flat_struct_reads_as_a_dict_with_null_as_none() -> None:
    text = "{type=IAMUser, arn=arn:aws:iam::1:user/a, invokedby=null, username=a}"

    assert parse_struct_text(text) == {
        "type": "IAMUser",
        "arn": "arn:aws:iam::1:user/a",
        "invokedby": None,
        "username": "a",
    }


def test_nested_structs_and_an_empty_value_read_back() -> None:
    text = "{a={b={c=1}, d=}, e=x}"

    assert parse_struct_text(text) == {"a": {"b": {"c": "1"}, "d": ""}, "e": "x"}


def test_an_array_of_structs_reads_as_a_list() -> None:
    text = "[{arn=arn:aws:kms:r:1:key/k, type=AWS::KMS::Key}, {arn=x, type=y}]"

    assert parse_struct_text(text) == [
        {"arn": "arn:aws:kms:r:1:key/k", "type": "AWS::KMS::Key"},
        {"arn": "x", "type": "y"},
    ]


def test_empty_containers_null_and_plain_text() -> None:
    assert parse_struct_text("{}") == {}
    assert parse_struct_text("[]") == []
    assert parse_struct_text("[a, b]") == ["a", "b"]
    assert parse_struct_text("null") is None
    assert parse_struct_text("plain") == "plain"


def test_map_keys_with_punctuation_and_values_with_commas_but_no_key() -> None:
    text = "{cognito-identity.amazonaws.com:amr=[authenticated], note=a, b c}"

    assert parse_struct_text(text) == {
        "cognito-identity.amazonaws.com:amr": ["authenticated"],
        "note": "a, b c",
    }


@pytest.mark.parametrize("text", ["{a=1", "{a={b=1}", "[a, b", "{=1}", "{a=1}x"])
def test_unbalanced_text_is_refused(text: str) -> None:
    with pytest.raises(StructTextError):
        parse_struct_text(text)


# --- rows to records ---------------------------------------------------------------


def test_rows_become_cloudtrail_records_with_cloudtrail_names() -> None:
    assert record_from_row(PUT_KEY_POLICY) == PUT_KEY_POLICY_RECORD
    assert record_from_row(DISABLE_KEY) == DISABLE_KEY_RECORD


def test_the_actors_module_reads_who_made_each_call() -> None:
    role = actor_from_record(record_from_row(PUT_KEY_POLICY))
    user = actor_from_record(record_from_row(DISABLE_KEY))

    assert (role.type, role.name, role.account) == (
        "AssumedRole",
        "alice@example.com",
        ALICE,
    )
    assert role.role_arn == f"arn:aws:iam::{ALICE}:role/Admin"
    assert role.mfa is True
    assert (user.type, user.name, user.account) == ("IAMUser", "bob", BOB)


def test_readonly_text_becomes_a_flag() -> None:
    assert record_from_row({"readonly": "true"}) == {"readOnly": True}
    assert record_from_row({"readonly": "FALSE"}) == {"readOnly": False}


def test_invalid_json_names_the_column() -> None:
    with pytest.raises(RowError, match="requestparameters is not valid JSON"):
        record_from_row(BROKEN_JSON)


# --- the SQL -------------------------------------------------------------------------


def test_the_query_asks_for_kms_writes_of_the_window_only() -> None:
    sql = build_query("security", "org_trail", SINCE, UNTIL)

    assert sql == (
        'SELECT *\nFROM "security"."org_trail"\n'
        "WHERE eventsource = 'kms.amazonaws.com'\n"
        "  AND readonly = 'false'\n"
        "  AND eventtime >= '2026-03-01T00:00:00Z'\n"
        "  AND eventtime <= '2026-03-03T23:30:00Z'\n"
        "ORDER BY eventtime"
    )


def test_partition_predicates_cover_accounts_regions_and_days() -> None:
    sql = build_query(
        "security",
        "org_trail",
        SINCE,
        UNTIL,
        partitions=Partitions("account", "region", "timestamp"),
        accounts=[BOB, ALICE],
        regions=["us-east-1", "eu-west-1"],
    )

    assert f"\"account\" IN ('{ALICE}', '{BOB}')" in sql
    assert "\"region\" IN ('eu-west-1', 'us-east-1')" in sql
    # 23:30 plus the hour a log file may take to arrive falls on the 4th.
    assert "\"timestamp\" BETWEEN '2026/03/01' AND '2026/03/04'" in sql


def test_a_partition_without_values_adds_no_predicate() -> None:
    sql = build_query(
        "db", "t", SINCE, UNTIL, partitions=Partitions(account="account"), accounts=[]
    )

    assert '"account"' not in sql


def test_string_values_are_escaped() -> None:
    sql = build_query(
        "db",
        "t",
        SINCE,
        UNTIL,
        partitions=Partitions(region="region"),
        regions=["x') OR 1=1 --"],
    )

    assert "\"region\" IN ('x'') OR 1=1 --')" in sql


@pytest.mark.parametrize(
    ("database", "table"),
    [('sec"urity', "t"), ("db", "t; DROP TABLE x"), ("db", "t'"), ("db", "")],
)
def test_names_that_are_not_plain_are_refused(database: str, table: str) -> None:
    with pytest.raises(AthenaError, match="letters, digits and underscores"):
        build_query(database, table, SINCE, UNTIL)


# --- settings --------------------------------------------------------------------


def test_settings_with_a_quoted_name_are_refused_clearly() -> None:
    with pytest.raises(AthenaError, match=r"the table 'org\"trail' is not a plain"):
        source_from_settings({**SECTION, "table": 'org"trail'}, request(SECTION))
    partitions = {"region": "region`"}
    with pytest.raises(AthenaError, match="the partition column 'region`'"):
        source_from_settings({**SECTION, "partitions": partitions}, request(SECTION))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("partitions", {"day": "dt"}, "unknown day"),
        ("output_location", "bucket/prefix", "not an s3:// URL"),
        ("max_wait_seconds", 0, "above 0"),
        ("database", 7, "must be text"),
    ],
)
def test_bad_settings_are_refused(key: str, value: Any, message: str) -> None:
    with pytest.raises(AthenaError, match=message):
        source_from_settings({**SECTION, key: value}, request(SECTION))


def test_settings_make_the_query_for_the_inventory(aws: None) -> None:
    source = source_from_settings(SECTION, request(SECTION, regions=["ap-south-1"]))

    assert source.database == "security"
    assert source.workgroup == "primary"
    assert source.output_location == "s3://athena-results/tfdrift/"
    # The first of the inventory's regions, sorted.
    assert source.client.meta.region_name == "eu-west-1"
    assert "\"region\" IN ('ap-south-1', 'eu-west-1', 'us-east-1')" in source.query
    assert f"\"account\" IN ('{ALICE}', '{BOB}')" in source.query


def test_the_region_setting_wins(aws: None) -> None:
    source = source_from_settings({**SECTION, "region": "us-west-2"}, request(SECTION))

    assert source.client.meta.region_name == "us-west-2"


def test_no_section_no_source() -> None:
    assert athena.tfdrift_event_sources(CheckRequest(inventory=inventory())) == []


# --- against moto ----------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def seed(*rows: dict[str, str | None]) -> None:
    backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.query_results_queue.append(QueryResults(athena_rows(*rows), COLUMN_INFO))


def moto_source() -> AthenaSource:
    [source] = athena.tfdrift_event_sources(request({**SECTION, "region": REGION}))
    return source


def test_rows_from_athena_come_out_as_records(aws: None) -> None:
    seed(PUT_KEY_POLICY, DISABLE_KEY)
    source = moto_source()
    problems = Problems()

    found = list(source.records(problems))

    assert not problems
    assert [item.record for item in found] == [
        PUT_KEY_POLICY_RECORD,
        DISABLE_KEY_RECORD,
    ]
    query_id = source.query_id
    assert [item.where for item in found] == [
        f"athena:{query_id}#row 1",
        f"athena:{query_id}#row 2",
    ]


def test_the_query_athena_ran_is_the_one_built(aws: None) -> None:
    seed()
    source = moto_source()

    list(source.records(Problems()))

    execution = athena_backends[DEFAULT_ACCOUNT_ID][REGION].executions[
        str(source.query_id)
    ]
    assert execution.query == source.query
    assert 'FROM "security"."org_trail"' in execution.query
    assert "eventsource = 'kms.amazonaws.com'" in execution.query
    assert "readonly = 'false'" in execution.query
    assert "eventtime >= '2026-03-01T00:00:00Z'" in execution.query
    assert "eventtime <= '2026-03-03T23:30:00Z'" in execution.query
    assert "\"timestamp\" BETWEEN '2026/03/01' AND '2026/03/04'" in execution.query
    context: Any = execution.context
    assert context == {"Database": "security"}
    assert execution.workgroup is not None
    assert execution.workgroup.name == "primary"
    assert execution.config["OutputLocation"].startswith("s3://athena-results/tfdrift/")


def test_a_row_with_invalid_json_is_a_problem_and_the_others_come_out(
    aws: None,
) -> None:
    seed(PUT_KEY_POLICY, BROKEN_JSON, DISABLE_KEY)
    source = moto_source()
    problems = Problems()

    found = list(source.records(problems))

    assert [item.record["eventID"] for item in found] == ["event-1", "event-2"]
    [problem] = problems.items
    assert problem.where == f"athena:{source.query_id}#row 2"
    assert "requestparameters is not valid JSON" in problem.message


def test_other_event_sources_asked_for_start_no_query(aws: None) -> None:
    source = moto_source()

    assert list(source.records(Problems(), frozenset({"s3.amazonaws.com"}))) == []
    assert source.query_id is None


# --- faults, with a scripted client ----------------------------------------------


class ScriptedClient:
    """Athena calls answered from a script: states to go through, pages to hand out."""

    def __init__(
        self,
        states: list[dict[str, Any]],
        pages: list[dict[str, Any]] | None = None,
    ) -> None:
        self.states = states
        self.pages = pages or []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start_query_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("start", request))
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("get", request))
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"Status": state}}

    def get_query_results(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("results", request))
        return self.pages.pop(0)

    def stop_query_execution(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("stop", request))
        return {}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def scripted_source(client: ScriptedClient, clock: FakeClock) -> AthenaSource:
    pacing = Pacing(sleep=clock.sleep, clock=clock.clock)
    return AthenaSource(
        "SELECT 1", database="db", client=client, pacing=pacing, max_wait_seconds=10
    )


def test_a_failed_query_is_one_problem_with_athenas_reason() -> None:
    reason = "TABLE_NOT_FOUND: line 2:6: Table 'awsdatacatalog.db.t' does not exist"
    client = ScriptedClient(
        [{"State": "RUNNING"}, {"State": "FAILED", "StateChangeReason": reason}]
    )
    problems = Problems()

    found = list(scripted_source(client, FakeClock()).records(problems))

    assert found == []
    [problem] = problems.items
    assert problem.where == "athena:q-1"
    assert problem.message == f"the query FAILED: {reason}"


def test_a_query_that_runs_too_long_is_stopped_and_a_problem() -> None:
    client = ScriptedClient([{"State": "RUNNING"}])
    clock = FakeClock()
    problems = Problems()

    list(scripted_source(client, clock).records(problems))

    # 0.5 + 1 + 2 + 4 = 7.5, then the 2.5 seconds left of the 10.
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 2.5]
    assert client.calls[-1] == ("stop", {"QueryExecutionId": "q-1"})
    [problem] = problems.items
    assert "still RUNNING after 10 seconds" in problem.message


def test_results_are_read_page_after_page() -> None:
    first, second = athena_rows(PUT_KEY_POLICY), athena_rows(DISABLE_KEY)[1:]
    pages: list[dict[str, Any]] = [
        {
            "ResultSet": {
                "Rows": first,
                "ResultSetMetadata": {"ColumnInfo": COLUMN_INFO},
            },
            "NextToken": "page-2",
        },
        {
            "ResultSet": {
                "Rows": second,
                "ResultSetMetadata": {"ColumnInfo": COLUMN_INFO},
            }
        },
    ]
    client = ScriptedClient([{"State": "SUCCEEDED"}], pages)
    problems = Problems()

    found = list(scripted_source(client, FakeClock()).records(problems))

    assert [item.record["eventID"] for item in found] == ["event-1", "event-2"]
    assert [item.where for item in found] == ["athena:q-1#row 1", "athena:q-1#row 2"]
    requests = [request for name, request in client.calls if name == "results"]
    assert requests == [
        {"QueryExecutionId": "q-1", "MaxResults": 1000},
        {"QueryExecutionId": "q-1", "MaxResults": 1000, "NextToken": "page-2"},
    ]
    assert not problems
