"""KMS write events of an organisation trail, read with one Amazon Athena query.

The query goes to the table the CloudTrail console or the Athena documentation's
``CREATE TABLE`` makes over a trail's bucket: lowercase columns, ``useridentity`` and
``resources`` as structs, ``requestparameters`` and the other JSON fields as strings,
``readonly`` as the text ``'true'``/``'false'``. Only KMS writes of the window are asked
for, and when the table is partitioned (``sources.athena.partitions``) its partition
columns are restricted too, so Athena scans only the accounts, regions and days the
check needs::

    sources:
      athena:
        database: default           # Glue database of the table
        table: cloudtrail_logs
        workgroup: primary
        output_location: s3://athena-results/tfdrift/  # unless the workgroup sets it
        region: us-east-1           # optional; default: the first region of the keys
        max_wait_seconds: 300       # how long to wait for the query, at most
        partitions:                 # optional; which column holds what
          account: account          # 12-digit account id
          region: region
          date: timestamp           # 'YYYY/MM/DD', as partition projection writes it
        endpoint_url: null

Every name that goes into the SQL is checked against a strict pattern and quoted, and
every value is a quoted string literal, so no setting or state value can change the
query's meaning. Athena's answer is text: struct columns come back rendered as
``{type=IAMUser, arn=..., sessioncontext={...}}`` and struct arrays as ``[{...}, ...]``,
which :func:`parse_struct_text` reads back. Each row becomes the CloudTrail record the
normalizer reads, with CloudTrail's own (camelCase) field names.

A query that fails, is cancelled or does not finish in time is one problem naming the
query and Athena's reason; a row whose JSON fields cannot be read is a problem naming
the row, and the other rows are still read.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.events import KMS_EVENT_SOURCE
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.problems import Problems
from tfdrift_hook.sources.base import default_regions, live_bounds, utc_now
from tfdrift_hook.sources.files import SourceRecord

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest

__all__ = [
    "AthenaError",
    "AthenaSource",
    "Partitions",
    "StructTextError",
    "build_query",
    "parse_struct_text",
    "record_from_row",
    "source_from_settings",
]

logger = logging.getLogger(__name__)

NAME = "athena"
#: How far back a window without a start reaches: CloudTrail's own event history.
#: How long after its last event a log file may be delivered, with room to spare; the
#: date partition is the day of delivery, not of the event.
DELIVERY_MARGIN = timedelta(hours=1)
DEFAULT_MAX_WAIT = 300.0
#: Rows a ``GetQueryResults`` page holds at most (Athena's own limit).
PAGE_SIZE = 1000
FIRST_POLL = 0.5
LONGEST_POLL = 5.0

#: Glue database, table and column names: letters, digits and underscores.
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,255}$")
_EVENT_TIME = "%Y-%m-%dT%H:%M:%SZ"
_DAY = "%Y/%m/%d"
_DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

_FIX_QUERY = (
    "check sources.athena (database, table, workgroup, output_location), the "
    "credentials and athena:StartQueryExecution, glue:GetTable and s3 permissions"
)
_FIX_FAILED = "run the query shown in the log in the Athena console to see why it fails"
_FIX_WAIT = "raise sources.athena.max_wait_seconds, or partition the table"
_FIX_ROW = "the row was skipped; look the event up in CloudTrail by its eventid"


class AthenaError(TfdriftError):
    """The ``sources.athena`` settings cannot make a source that reads anything."""


class StructTextError(ValueError):
    """Text that is not a struct, array or map as Athena renders them."""


@dataclass(frozen=True)
class Partitions:
    """The table's partition columns, by what they hold; None when it has none."""

    account: str | None = None
    region: str | None = None
    #: A ``'YYYY/MM/DD'`` text column, as partition projection over CloudTrail writes.
    date: str | None = None


# --- the query ------------------------------------------------------------------


def build_query(
    database: str,
    table: str,
    since: datetime,
    until: datetime,
    *,
    partitions: Partitions = Partitions(),
    accounts: Iterable[str] = (),
    regions: Iterable[str] = (),
) -> str:
    """The SQL for the KMS writes of ``[since, until]``; raises :class:`AthenaError`.

    Partition predicates are added for the columns ``partitions`` names: accounts and
    regions when any are given, and the days from ``since`` to an hour past ``until``.
    """
    conditions = [
        f"eventsource = {_literal(KMS_EVENT_SOURCE)}",
        f"readonly = {_literal('false')}",
        f"eventtime >= {_literal(since.strftime(_EVENT_TIME))}",
        f"eventtime <= {_literal(until.strftime(_EVENT_TIME))}",
        *_partition_conditions(partitions, since, until, accounts, regions),
    ]
    source = f"{_identifier(database, 'database')}.{_identifier(table, 'table')}"
    where = "\n  AND ".join(conditions)
    return f"SELECT *\nFROM {source}\nWHERE {where}\nORDER BY eventtime"


def _partition_conditions(
    partitions: Partitions,
    since: datetime,
    until: datetime,
    accounts: Iterable[str],
    regions: Iterable[str],
) -> Iterator[str]:
    for column, values in (
        (partitions.account, sorted(set(accounts))),
        (partitions.region, sorted(set(regions))),
    ):
        if column is None or not values:
            continue
        listed = ", ".join(_literal(value) for value in values)
        yield f"{_identifier(column, 'partition column')} IN ({listed})"
    if partitions.date is not None:
        first = since.strftime(_DAY)
        last = (until + DELIVERY_MARGIN).strftime(_DAY)
        column = _identifier(partitions.date, "partition column")
        yield f"{column} BETWEEN {_literal(first)} AND {_literal(last)}"


def _identifier(name: str, what: str) -> str:
    """A checked name, double-quoted so that reserved words (``timestamp``) work."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        msg = (
            f"sources.athena: the {what} {name!r} is not a plain name; use letters, "
            f"digits and underscores only"
        )
        raise AthenaError(msg)
    return f'"{name}"'


def _literal(value: str) -> str:
    """A SQL string literal; a quote inside is doubled, which is all Athena needs."""
    return "'" + str(value).replace("'", "''") + "'"


# --- Athena's text form of structs, arrays and maps -------------------------------

#: Where the next ``key=`` of a struct or map starts, after the ``, `` between them.
_NEXT_KEY = re.compile(r", (?=[^\s=,{}\[\]]+=)")
_KEY = re.compile(r"[^\s=,{}\[\]]+")


def parse_struct_text(text: str) -> Any:
    """A struct, map or array as Athena renders it, as dicts, lists, str and None.

    ``{type=IAMUser, arn=arn:aws:iam::1:user/a, sessioncontext={attributes={...}}}``
    gives a dict, ``[{...}, {...}]`` a list, ``null`` None; any other text is itself.

    Athena quotes nothing, so this rests on what CloudTrail's fields hold: a scalar in
    a struct or map ends at the first ``, NAME=`` or at the closing brace, and one in an
    array at the first ``, `` or closing bracket. IAM names, ARNs and ids contain no
    spaces or braces, so they read back whole; a free-text value holding ``, x=`` or a
    brace would be cut there. Raises :class:`StructTextError` on unbalanced text.
    """
    reader = _StructReader(text)
    value = reader.value(closers="")
    if reader.position != len(text):
        raise StructTextError(f"unexpected text at {reader.position}: {text!r}")
    return value


class _StructReader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def value(self, closers: str) -> Any:
        char = self.text[self.position : self.position + 1]
        if char == "{":
            return self._struct()
        if char == "[":
            return self._array()
        return self._scalar(closers)

    def _struct(self) -> dict[str, Any]:
        self.position += 1
        fields: dict[str, Any] = {}
        if self._take("}"):
            return fields
        while True:
            key = _KEY.match(self.text, self.position)
            if key is None or self.text[key.end() : key.end() + 1] != "=":
                raise StructTextError(f"no NAME= at {self.position}: {self.text!r}")
            self.position = key.end() + 1
            fields[key.group()] = self.value(closers="}")
            if self._take("}"):
                return fields
            if not self._take(", "):
                raise StructTextError(f"no ', ' at {self.position}: {self.text!r}")

    def _array(self) -> list[Any]:
        self.position += 1
        items: list[Any] = []
        if self._take("]"):
            return items
        while True:
            items.append(self.value(closers="]"))
            if self._take("]"):
                return items
            if not self._take(", "):
                raise StructTextError(f"no ', ' at {self.position}: {self.text!r}")

    def _scalar(self, closers: str) -> str | None:
        start = self.position
        end = len(self.text)
        if closers == "}":
            found = _NEXT_KEY.search(self.text, start)
            end = found.start() if found else end
        elif closers == "]":
            found_comma = self.text.find(", ", start)
            end = found_comma if found_comma >= 0 else end
        if closers:
            close = self.text.find(closers, start, end)
            end = close if close >= 0 else end
        self.position = end
        if closers and end == len(self.text):
            raise StructTextError(f"no closing {closers!r}: {self.text!r}")
        raw = self.text[start:end]
        return None if raw == "null" else raw

    def _take(self, token: str) -> bool:
        if self.text.startswith(token, self.position):
            self.position += len(token)
            return True
        return False


# --- rows to records -------------------------------------------------------------

#: The lowercase names the table gives CloudTrail's fields, and CloudTrail's own.
_FIELD_NAMES = {
    "eventversion": "eventVersion",
    "useridentity": "userIdentity",
    "eventtime": "eventTime",
    "eventsource": "eventSource",
    "eventname": "eventName",
    "awsregion": "awsRegion",
    "sourceipaddress": "sourceIPAddress",
    "useragent": "userAgent",
    "errorcode": "errorCode",
    "errormessage": "errorMessage",
    "requestparameters": "requestParameters",
    "responseelements": "responseElements",
    "additionaleventdata": "additionalEventData",
    "requestid": "requestID",
    "eventid": "eventID",
    "resources": "resources",
    "eventtype": "eventType",
    "apiversion": "apiVersion",
    "readonly": "readOnly",
    "recipientaccountid": "recipientAccountId",
    "serviceeventdetails": "serviceEventDetails",
    "sharedeventid": "sharedEventID",
    "vpcendpointid": "vpcEndpointId",
    "vpcendpointaccountid": "vpcEndpointAccountId",
    "eventcategory": "eventCategory",
    "managementevent": "managementEvent",
    "addendum": "addendum",
    "sessioncredentialfromconsole": "sessionCredentialFromConsole",
    "edgedevicedetails": "edgeDeviceDetails",
    "tlsdetails": "tlsDetails",
    "inscopeof": "inScopeOf",
    # Inside the structs.
    "type": "type",
    "principalid": "principalId",
    "arn": "arn",
    "accountid": "accountId",
    "invokedby": "invokedBy",
    "invokedbydelegate": "invokedByDelegate",
    "accesskeyid": "accessKeyId",
    "username": "userName",
    "userid": "userId",
    "onbehalfof": "onBehalfOf",
    "identitystorearn": "identityStoreArn",
    "identityprovider": "identityProvider",
    "credentialid": "credentialId",
    "sessioncontext": "sessionContext",
    "attributes": "attributes",
    "mfaauthenticated": "mfaAuthenticated",
    "creationdate": "creationDate",
    "sessionissuer": "sessionIssuer",
    "sourceidentity": "sourceIdentity",
    "ec2roledelivery": "ec2RoleDelivery",
    "webidfederationdata": "webIdFederationData",
    "federatedprovider": "federatedProvider",
    "tlsversion": "tlsVersion",
    "ciphersuite": "cipherSuite",
    "clientprovidedhostheader": "clientProvidedHostHeader",
    "reason": "reason",
    "updatedfields": "updatedFields",
    "originalrequestid": "originalRequestID",
    "originaleventid": "originalEventID",
}
_STRUCT_COLUMNS = frozenset(
    {"useridentity", "addendum", "tlsdetails", "inscopeof", "resources"}
)
_JSON_COLUMNS = frozenset(
    {
        "requestparameters",
        "responseelements",
        "additionaleventdata",
        "serviceeventdetails",
        "edgedevicedetails",
    }
)
_FLAG_COLUMNS = frozenset({"readonly", "managementevent"})


class RowError(ValueError):
    """A row whose column cannot be read back into a CloudTrail field."""


def record_from_row(row: Mapping[str, str | None]) -> dict[str, Any]:
    """The CloudTrail record of one result row, keyed by lowercase column name.

    Columns the table has but CloudTrail does not (partition columns) are left out, and
    so are nulls, as CloudTrail leaves out a field it has no value for. Raises
    :class:`RowError` naming the column that cannot be read.
    """
    record: dict[str, Any] = {}
    for column, text in row.items():
        name = _FIELD_NAMES.get(column.lower())
        if name is None or text is None:
            continue
        value = _column_value(column.lower(), text)
        if value is not None:
            record[name] = value
    return record


def _column_value(column: str, text: str) -> Any:
    if column in _JSON_COLUMNS:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise RowError(f"{column} is not valid JSON: {exc}") from exc
    if column in _FLAG_COLUMNS:
        lowered = text.lower()
        return lowered == "true" if lowered in ("true", "false") else text
    if column not in _STRUCT_COLUMNS:
        return text
    try:
        parsed = parse_struct_text(text)
    except StructTextError as exc:
        raise RowError(f"{column} cannot be read: {exc}") from exc
    if column == "resources":
        return _resources(parsed)
    return _renamed(parsed)


def _resources(parsed: Any) -> list[dict[str, Any]] | None:
    if not isinstance(parsed, list):
        return None
    resources = []
    for item in parsed:
        renamed = _renamed(item)
        if not isinstance(renamed, dict):
            continue
        # The one place CloudTrail spells it in capitals.
        if "arn" in renamed:
            renamed["ARN"] = renamed.pop("arn")
        resources.append(renamed)
    return resources


def _renamed(value: Any) -> Any:
    """CloudTrail's names for a parsed struct's keys, without its null or empty parts.

    Keys the table does not define (those of a map) are kept as they are.
    """
    if isinstance(value, list):
        return [_renamed(item) for item in value]
    if not isinstance(value, dict):
        return value
    fields = {}
    for key, item in value.items():
        renamed = _renamed(item)
        if renamed is None or renamed == {}:
            continue
        fields[_FIELD_NAMES.get(key, key)] = renamed
    return fields or None


# --- running the query -----------------------------------------------------------


class _QueryFailed(Exception):
    def __init__(self, where: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message
        self.fix = fix


@dataclass
class Pacing:
    """How the wait for the query passes; tests give a clock that does not sleep."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class AthenaSource:
    """The KMS writes of the window from one Athena query over a CloudTrail table."""

    name = NAME

    def __init__(
        self,
        query: str,
        *,
        database: str,
        workgroup: str | None = None,
        output_location: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_wait_seconds: float = DEFAULT_MAX_WAIT,
        client: Any = None,
        pacing: Pacing | None = None,
    ) -> None:
        self.query = query
        self.database = database
        self.workgroup = workgroup
        self.output_location = output_location
        self.max_wait_seconds = max_wait_seconds
        self.client = client or athena_client(region, endpoint_url)
        self.pacing = pacing or Pacing()
        #: The id of the last query started, for logs and tests.
        self.query_id: str | None = None

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]:
        """The query's rows as CloudTrail records, in event time order."""
        if event_sources is not None and KMS_EVENT_SOURCE not in event_sources:
            return
        try:
            query_id = self._start()
            self._wait(query_id)
            for number, row in enumerate(self._rows(query_id), start=1):
                found = _row_record(row, f"{NAME}:{query_id}#row {number}", problems)
                if found is not None:
                    yield found
        except _QueryFailed as exc:
            problems.add(exc.where, exc.message, exc.fix)

    def _start(self) -> str:
        request: dict[str, Any] = {
            "QueryString": self.query,
            "QueryExecutionContext": {"Database": self.database},
        }
        if self.workgroup:
            request["WorkGroup"] = self.workgroup
        if self.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.output_location}
        logger.debug("%s: starting\n%s", NAME, self.query)
        try:
            answer = self.client.start_query_execution(**request)
        except _aws_errors() as exc:
            message = f"the query could not be started: {exc}"
            raise _QueryFailed(f"{NAME}:{self.database}", message, _FIX_QUERY) from exc
        self.query_id = str(answer["QueryExecutionId"])
        logger.info("%s: query %s started", NAME, self.query_id)
        return self.query_id

    def _wait(self, query_id: str) -> None:
        """Poll with a growing pause until the query ends or the wait runs out."""
        where = f"{NAME}:{query_id}"
        deadline = self.pacing.clock() + self.max_wait_seconds
        pause = FIRST_POLL
        while True:
            status = self._status(query_id)
            state = str(status.get("State", ""))
            if state == "SUCCEEDED":
                return
            if state in _DONE:
                reason = status.get("StateChangeReason") or "no reason given"
                raise _QueryFailed(where, f"the query {state}: {reason}", _FIX_FAILED)
            left = deadline - self.pacing.clock()
            if left <= 0:
                self._stop(query_id)
                message = (
                    f"the query was still {state or 'running'} after "
                    f"{self.max_wait_seconds:g} seconds and was stopped"
                )
                raise _QueryFailed(where, message, _FIX_WAIT)
            self.pacing.sleep(min(pause, left))
            pause = min(pause * 2, LONGEST_POLL)

    def _status(self, query_id: str) -> Mapping[str, Any]:
        try:
            answer = self.client.get_query_execution(QueryExecutionId=query_id)
        except _aws_errors() as exc:
            message = f"the query's state could not be read: {exc}"
            raise _QueryFailed(f"{NAME}:{query_id}", message, _FIX_QUERY) from exc
        status: Mapping[str, Any] = answer["QueryExecution"]["Status"]
        return status

    def _stop(self, query_id: str) -> None:
        try:
            self.client.stop_query_execution(QueryExecutionId=query_id)
        except _aws_errors() as exc:
            logger.warning("%s: query %s could not be stopped: %s", NAME, query_id, exc)

    def _rows(self, query_id: str) -> Iterator[dict[str, str | None]]:
        """Every result row by column name, following ``NextToken``, header skipped."""
        token: str | None = None
        columns: list[str] | None = None
        page = 0
        while True:
            page += 1
            answer = self._page(query_id, token, page)
            result = answer.get("ResultSet") or {}
            if columns is None:
                info = (result.get("ResultSetMetadata") or {}).get("ColumnInfo") or []
                columns = [str(column.get("Name", "")).lower() for column in info]
            rows = [_values(row) for row in result.get("Rows") or []]
            # The first row of the first page repeats the column names.
            if page == 1 and rows and [v and v.lower() for v in rows[0]] == columns:
                rows = rows[1:]
            for values in rows:
                yield dict(zip(columns, values, strict=False))
            token = answer.get("NextToken") or None
            if token is None:
                return

    def _page(self, query_id: str, token: str | None, page: int) -> Mapping[str, Any]:
        request: dict[str, Any] = {
            "QueryExecutionId": query_id,
            "MaxResults": PAGE_SIZE,
        }
        if token:
            request["NextToken"] = token
        try:
            answer: Mapping[str, Any] = self.client.get_query_results(**request)
        except _aws_errors() as exc:
            where = f"{NAME}:{query_id}#page {page}"
            message = f"the results could not be read: {exc}"
            raise _QueryFailed(where, message, _FIX_QUERY) from exc
        return answer


def _values(row: Mapping[str, Any]) -> list[str | None]:
    """A row's cells; a cell without ``VarCharValue`` is a null."""
    return [cell.get("VarCharValue") for cell in row.get("Data") or []]


def _row_record(
    row: Mapping[str, str | None], where: str, problems: Problems
) -> SourceRecord | None:
    try:
        record = record_from_row(row)
    except RowError as exc:
        problems.add(where, str(exc), _FIX_ROW)
        return None
    if record.get("eventSource") != KMS_EVENT_SOURCE:
        logger.debug("%s: not a KMS record; skipped", where)
        return None
    return SourceRecord(record, where)


def _aws_errors() -> tuple[type[Exception], ...]:
    """What botocore raises for one failed call; imported late, as it loads slowly."""
    from botocore.exceptions import BotoCoreError, ClientError

    return ClientError, BotoCoreError


def athena_client(region: str | None, endpoint_url: str | None) -> Any:
    """An Athena client for the region, and the endpoint when one is given."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    session = boto3.session.Session()
    return session.client(
        "athena", region_name=region, endpoint_url=endpoint_url, config=config
    )


# --- settings --------------------------------------------------------------------


def source_from_settings(
    section: Mapping[str, Any],
    request: CheckRequest,
    now: Callable[[], datetime] | None = None,
) -> AthenaSource:
    """The source ``sources.athena`` asks for; raises :class:`AthenaError` if none can.

    The query restricts the partitions to the inventory's accounts and regions (plus
    the top-level ``regions``). A window without a start reaches back
    :data:`~tfdrift_hook.sources.base.LIVE_HISTORY`, and one without an end stops now.
    """
    moment = (now or utc_now)()
    since, until = live_bounds(request.window, moment, "athena")
    database = _text(section, "database", "default")
    extra = [str(region) for region in request.settings.get("regions") or ()]
    query = build_query(
        database,
        _text(section, "table", "cloudtrail_logs"),
        since,
        until,
        partitions=_partitions(section.get("partitions")),
        accounts=request.inventory.accounts,
        regions=default_regions(request),
    )
    return AthenaSource(
        query,
        database=database,
        workgroup=_text(section, "workgroup", "primary"),
        output_location=_output_location(section.get("output_location")),
        region=_region(section, request, extra),
        endpoint_url=section.get("endpoint_url") or None,
        max_wait_seconds=_max_wait(section.get("max_wait_seconds")),
    )


def _text(section: Mapping[str, Any], key: str, default: str) -> str:
    value = section.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise AthenaError(f"sources.athena.{key} must be text, not {value!r}")
    return value


def _partitions(value: Any) -> Partitions:
    if not value:
        return Partitions()
    if not isinstance(value, Mapping):
        msg = f"sources.athena.partitions must be a mapping, not {value!r}"
        raise AthenaError(msg)
    unknown = sorted(set(value) - {"account", "region", "date"})
    if unknown:
        msg = (
            f"sources.athena.partitions: unknown {', '.join(map(str, unknown))}; "
            f"the keys are account, region and date"
        )
        raise AthenaError(msg)
    columns = {key: str(column) for key, column in value.items() if column}
    for column in columns.values():
        _identifier(column, "partition column")
    return Partitions(**columns)


def _output_location(value: Any) -> str | None:
    if not value:
        return None
    if not isinstance(value, str) or not value.startswith("s3://"):
        msg = f"sources.athena.output_location {value!r} is not an s3:// URL"
        raise AthenaError(msg)
    return value


def _region(
    section: Mapping[str, Any], request: CheckRequest, extra: Sequence[str]
) -> str:
    configured = section.get("region")
    if configured:
        return str(configured)
    regions = sorted(request.inventory.regions) or list(extra)
    if not regions:
        msg = (
            "sources.athena has no region to query in: the state holds no key with a "
            "region; set sources.athena.region"
        )
        raise AthenaError(msg)
    return regions[0]


def _max_wait(value: Any) -> float:
    if value is None or value == "":
        return DEFAULT_MAX_WAIT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        msg = f"sources.athena.max_wait_seconds must be a number above 0, not {value!r}"
        raise AthenaError(msg)
    return float(value)


@hookimpl(trylast=True)
def tfdrift_event_sources(request: CheckRequest) -> Sequence[AthenaSource]:
    """The Athena source, when the settings have a ``sources.athena`` section."""
    section = (request.settings.get("sources") or {}).get(NAME)
    if not section:
        return []
    if not isinstance(section, Mapping):
        raise AthenaError(f"sources.{NAME} must be a mapping, not {section!r}")
    return [source_from_settings(section, request)]
