"""Write a synthetic CloudTrail trail and the Terraform state whose KMS keys it touches.

The trail follows the layout CloudTrail uses in its S3 bucket
(``AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/...json.gz``, each object a gzipped
``{"Records": [...]}`` covering five minutes), with hourly digest files beside it under
``CloudTrail-Digest``. About 1% of the records are KMS writes, nine in ten of them
against the keys of ``terraform.tfstate``; about 20% are KMS reads; the rest come from
other services, some with event names that KMS also has (``CreateAlias``,
``TagResource``) or with ``kms.amazonaws.com`` inside a field other than
``eventSource``, so that a reader that matches loosely is caught out.

The output depends only on the arguments: the same seed writes the same bytes.

    python benchmarks/generate_trail.py OUT_DIR --records 1000000 --seed 1

``generate()`` does the same for a caller in the same process and returns a
:class:`Summary` of what it wrote.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import functools
import gzip
import hashlib
import itertools
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

Record = dict[str, Any]
T = TypeVar("T")

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRAIL = "management-events"
BUCKET = "aws-cloudtrail-logs-123456789012-1a2b3c4d"
TERRAFORM_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) "
    "terraform-provider-aws/5.100.0 (+https://registry.terraform.io/providers/"
    "hashicorp/aws) aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.23.7 "
    "md/GOOS#linux md/GOARCH#amd64 api/kms#1.38.1"
)
CLI_UA = (
    "aws-cli/2.22.35 md/awscrt#0.23.8 ua/2.0 os/linux#6.8.0 md/arch#x86_64 "
    "lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#ubuntu.24 md/prompt#off md/command#kms.{command}"
)
BOTO_UA = (
    "Boto3/1.37.3 md/Botocore#1.37.3 ua/2.0 os/linux#5.10.234 md/arch#x86_64 "
    "lang/python#3.12.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.37.3"
)
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/133.0.0.0 Safari/537.36"
)

#: Terraform-managed keys: (resource name, key id, description).
MANAGED_KEYS = (
    ("app", "6f2d8c1e-4b7a-4e59-9d3c-2a1b0c9e8f71", "application data key"),
    ("logs", "0b9e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "log archive key"),
    ("backup", "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d", "backup vault key"),
    ("payments", "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "payments service key"),
)
MANAGED_IDS = tuple(key_id for _, key_id, _ in MANAGED_KEYS)
#: A key in the account that this configuration does not manage.
UNMANAGED_KEY = "7e6d5c4b-3a29-4f18-8e07-d6c5b4a39281"
#: The managed alias: (resource name, alias name, resource name of its key).
ALIAS = ("app", "alias/app-data", "app")

KMS_WRITES = (
    "PutKeyPolicy",
    "DisableKey",
    "EnableKey",
    "DisableKeyRotation",
    "EnableKeyRotation",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "UpdateKeyDescription",
    "CreateGrant",
)
PEOPLE = ("alice", "bob", "carol", "dmitri", "esther")
SERVICES = ("s3", "secretsmanager", "lambda", "dynamodb")
SECONDS_PER_FILE = 300


class Weighted:
    """Choices with fixed weights, the cumulative sums worked out once."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


KMS_READS = Weighted(
    [("Decrypt", 45), ("GenerateDataKey", 30), ("Encrypt", 15), ("DescribeKey", 10)]
)


@dataclasses.dataclass
class Summary:
    """What one run wrote; printed by the command line, returned to a caller."""

    out_dir: str
    state: str
    files: int = 0
    digest_files: int = 0
    records: int = 0
    kms_writes: int = 0
    kms_writes_managed: int = 0
    kms_reads: int = 0
    bytes_compressed: int = 0
    bytes_json: int = 0
    first_event_time: str = ""
    last_event_time: str = ""
    kms_writes_by_name: dict[str, int] = dataclasses.field(default_factory=dict)

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        return [
            f"wrote {self.files} log files and {self.digest_files} digest files "
            f"under {self.out_dir}",
            f"records: {self.records} ({self.kms_writes} KMS writes, "
            f"{self.kms_writes_managed} of them on managed keys; "
            f"{self.kms_reads} KMS reads)",
            f"bytes: {self.bytes_compressed / mib:.1f} MiB gzipped, "
            f"{self.bytes_json / mib:.1f} MiB of JSON",
            f"events from {self.first_event_time} to {self.last_event_time}",
            f"state: {self.state}",
        ]


class Faker:
    """Random values from one seeded generator, in the order they are asked for."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def uuid(self) -> str:
        text = f"{self.rng.getrandbits(128):032x}"
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"

    def token(self, size: int) -> str:
        """Upper-case letters and digits, as in access key ids."""
        return f"{self.rng.getrandbits(size * 4):0{size}X}"

    def hex(self, size: int) -> str:
        return f"{self.rng.getrandbits(size * 4):0{size}x}"

    def base64(self, size: int) -> str:
        raw = self.rng.getrandbits(size * 6).to_bytes(size * 6 // 8 + 1, "little")
        return base64.b64encode(raw).decode()[:size]

    def ip(self) -> str:
        network = self.rng.choice(("198.51.100", "203.0.113", "192.0.2"))
        return f"{network}.{self.rng.randint(1, 254)}"

    def choice(self, values: Sequence[T]) -> T:
        return self.rng.choice(values)


@functools.lru_cache(maxsize=4096)
def stable_id(prefix: str, name: str) -> str:
    """The unique id IAM gives a user or role: the same for the same name."""
    digest = hashlib.sha256(name.encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def key_resources(*key_ids: str) -> list[Record]:
    return [
        {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn(key_id)}
        for key_id in key_ids
    ]


# --- who calls --------------------------------------------------------------------


def iam_user(fake: Faker, name: str) -> Record:
    return {
        "type": "IAMUser",
        "principalId": stable_id("AIDA", name),
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": stable_id("AKIA", name)[:20],
        "userName": name,
    }


def assumed_role(fake: Faker, role: str, session: str, when: str) -> Record:
    role_id = stable_id("AROA", role)
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + fake.token(16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": when, "mfaAuthenticated": "false"},
        },
    }


def envelope(
    fake: Faker, when: str, source: str, name: str, identity: Record, agent: str
) -> Record:
    """Every field of a management event, in CloudTrail's order.

    The callers fill in the parameters; the optional fields they leave at None are
    dropped by :func:`finish`, which keeps the order of the rest.
    """
    service = source.split(".", 1)[0]
    return {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": fake.ip(),
        "userAgent": agent,
        "requestParameters": None,
        "responseElements": None,
        "additionalEventData": None,
        "requestID": fake.uuid(),
        "eventID": fake.uuid(),
        "readOnly": False,
        "resources": None,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{service}.{REGION}.amazonaws.com",
        },
    }


def finish(record: Record) -> Record:
    for optional in ("additionalEventData", "resources", "tlsDetails"):
        if record[optional] is None:
            del record[optional]
    return record


# --- KMS writes -------------------------------------------------------------------


def kms_write(fake: Faker, when: str) -> Record:
    name = fake.choice(KMS_WRITES)
    key_id = fake.choice(MANAGED_IDS) if fake.rng.random() < 0.9 else UNMANAGED_KEY
    roll = fake.rng.random()
    if roll < 0.4:
        session = f"terraform-{fake.rng.randint(1000, 9999)}"
        identity = assumed_role(fake, "terraform-deployer", session, when)
        agent = TERRAFORM_UA
    elif roll < 0.7:
        person = fake.choice(PEOPLE)
        identity = assumed_role(fake, "AWSReservedSSO_Admin_0a1b2c3d", person, when)
        agent = "AWS Internal"
    else:
        identity = iam_user(fake, fake.choice(PEOPLE))
        agent = CLI_UA.format(command=name.lower())
    record = envelope(fake, when, "kms.amazonaws.com", name, identity, agent)
    request, response = write_parameters(fake, name, key_id)
    record["requestParameters"] = request
    record["responseElements"] = response
    record["resources"] = key_resources(key_id)
    if name == "UpdateAlias":
        alias = {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": alias_arn()}
        record["resources"].insert(0, alias)
    if agent == "AWS Internal":
        record["sessionCredentialFromConsole"] = "true"
    return finish(record)


def write_parameters(fake: Faker, name: str, key_id: str) -> tuple[Any, Any]:
    """requestParameters and responseElements of one KMS write, as KMS logs them."""
    if name == "PutKeyPolicy":
        policy = key_policy(fake.choice(("ci-deployer", "analytics", "vendor-sync")))
        request = {"keyId": key_id, "policyName": "default", "policy": policy}
        return {**request, "bypassPolicyLockoutSafetyCheck": False}, None
    if name == "TagResource":
        tag = {"tagKey": fake.choice(("CostCenter", "Owner")), "tagValue": fake.hex(6)}
        return {"keyId": key_id, "tags": [tag]}, None
    if name == "UntagResource":
        return {"keyId": key_id, "tagKeys": [fake.choice(("Env", "Team"))]}, None
    if name == "UpdateAlias":
        return {"aliasName": ALIAS[1], "targetKeyId": key_id}, None
    if name == "ScheduleKeyDeletion":
        return schedule_deletion(fake.choice((7, 30)), key_id)
    if name == "CancelKeyDeletion":
        return {"keyId": key_id}, {"keyId": key_arn(key_id)}
    if name == "UpdateKeyDescription":
        return {"keyId": key_id, "description": f"edited by hand {fake.hex(6)}"}, None
    if name == "EnableKeyRotation":
        return {"keyId": key_id, "rotationPeriodInDays": 365}, None
    if name == "CreateGrant":
        return create_grant(fake, key_id)
    return {"keyId": key_id}, None


def key_policy(grantee: str) -> str:
    policy = {
        "Version": "2012-10-17",
        "Id": "key-policy-1",
        "Statement": [
            {
                "Sid": "EnableRoot",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowUse",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/{grantee}"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }
    return orjson.dumps(policy, option=orjson.OPT_INDENT_2).decode()


def schedule_deletion(days: int, key_id: str) -> tuple[Record, Record]:
    response = {
        "keyId": key_arn(key_id),
        "deletionDate": "2025-02-07T00:00:00Z",
        "keyState": "PendingDeletion",
        "pendingWindowInDays": days,
    }
    return {"keyId": key_id, "pendingWindowInDays": days}, response


def create_grant(fake: Faker, key_id: str) -> tuple[Record, Record]:
    request = {
        "keyId": key_arn(key_id),
        "granteePrincipal": f"arn:aws:iam::{ACCOUNT}:role/batch-worker",
        "operations": ["Decrypt", "GenerateDataKey"],
    }
    return request, {"grantId": fake.hex(64), "keyId": key_arn(key_id)}


def alias_arn() -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{ALIAS[1]}"


# --- KMS reads --------------------------------------------------------------------


def kms_read(fake: Faker, when: str) -> Record:
    name = KMS_READS.pick(fake.rng)
    key_id = fake.choice((*MANAGED_IDS, UNMANAGED_KEY))
    service = fake.choice(SERVICES)
    session = f"app-{fake.rng.randint(1, 40)}"
    identity = assumed_role(fake, f"{service}-app-role", session, when)
    identity["invokedBy"] = f"{service}.amazonaws.com"
    record = envelope(fake, when, "kms.amazonaws.com", name, identity, "")
    record["sourceIPAddress"] = record["userAgent"] = f"{service}.amazonaws.com"
    arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:x/{fake.token(10)}"
    request: Record = {"keyId": key_arn(key_id)}
    if name in ("Decrypt", "Encrypt"):
        request["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    if name != "DescribeKey":
        request["encryptionContext"] = {f"aws:{service}:arn": arn}
    if name == "GenerateDataKey":
        request["keySpec"] = "AES_256"
    record["requestParameters"] = request
    record["readOnly"] = True
    record["resources"] = key_resources(key_id)
    # Calls that a service makes on a caller's behalf carry no TLS details.
    record["tlsDetails"] = None
    return finish(record)


# --- other services ---------------------------------------------------------------


def fill_s3(fake: Faker, record: Record) -> None:
    bucket = f"app-bucket-{fake.rng.randint(1, 30)}"
    host = f"{bucket}.s3.{REGION}.amazonaws.com"
    record["requestParameters"] = {"bucketName": bucket, "Host": host, "acl": ""}
    record["additionalEventData"] = {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "SSEApplied": "SSE_KMS",
        "x-amz-server-side-encryption-aws-kms-key-id": key_arn(MANAGED_IDS[1]),
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": fake.base64(76),
        "bytesTransferredOut": fake.rng.randint(100, 900),
    }
    record["readOnly"] = record["eventName"].startswith("Get")
    arn = f"arn:aws:s3:::{bucket}"
    record["resources"] = [
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": arn}
    ]


def fill_ec2(fake: Faker, record: Record) -> None:
    instance = "i-0" + fake.hex(16)
    record["requestParameters"] = {
        "instancesSet": {"items": [{"instanceId": instance}]},
        "filterSet": {},
        "includeAllInstances": False,
    }
    record["readOnly"] = record["eventName"].startswith("Describe")


def fill_lambda(fake: Faker, record: Record) -> None:
    number = fake.rng.randint(1, 9)
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker-{number}"
    if record["eventName"].startswith("CreateAlias"):
        version = str(fake.rng.randint(1, 60))
        request = {"functionName": function, "name": "live", "functionVersion": version}
        record["requestParameters"] = request
        record["responseElements"] = {"aliasArn": f"{function}:live", "name": "live"}
    elif record["eventName"].startswith("TagResource"):
        record["requestParameters"] = {"resource": function, "tags": {"Team": "pay"}}
    else:
        record["requestParameters"] = {"functionName": function}
        record["readOnly"] = True


def fill_iam(fake: Faker, record: Record) -> None:
    if record["eventName"] == "CreateServiceLinkedRole":
        # The multi-Region key service principal holds "kms.amazonaws.com": a byte
        # test lets this record through, and its eventSource must not.
        record["requestParameters"] = {"aWSServiceName": "mrk.kms.amazonaws.com"}
        return
    record["requestParameters"] = {"roleName": f"app-role-{fake.rng.randint(1, 50)}"}
    record["readOnly"] = True


def fill_sts(fake: Faker, record: Record) -> None:
    role_name = f"app-role-{fake.rng.randint(1, 50)}"
    role = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
    session = f"session-{fake.hex(8)}"
    record["requestParameters"] = {
        "roleArn": role,
        "roleSessionName": session,
        "durationSeconds": 3600,
    }
    record["responseElements"] = {
        "credentials": {
            "accessKeyId": "ASIA" + fake.token(16),
            "sessionToken": fake.base64(200),
            "expiration": "Jan 6, 2030, 12:00:00 AM",
        },
        "assumedRoleUser": {
            "assumedRoleId": f"{stable_id('AROA', role_name)}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}",
        },
    }


def fill_dynamodb(fake: Faker, record: Record) -> None:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-{fake.rng.randint(1, 5)}"
    if record["eventName"] == "TagResource":
        tags = [{"key": "Env", "value": "prod"}]
        record["requestParameters"] = {"resourceArn": table, "tags": tags}
    else:
        record["requestParameters"] = {"tableName": table.rsplit("/", 1)[1]}
        record["readOnly"] = True


Filler = Callable[[Faker, Record], None]

#: (eventSource, eventName, filler) of the services that are not KMS, by weight.
OTHER_EVENTS = Weighted(
    [
        (("s3.amazonaws.com", "GetBucketAcl", fill_s3), 14),
        (("s3.amazonaws.com", "GetBucketEncryption", fill_s3), 6),
        (("s3.amazonaws.com", "PutBucketTagging", fill_s3), 2),
        (("ec2.amazonaws.com", "DescribeInstances", fill_ec2), 16),
        (("ec2.amazonaws.com", "DescribeVolumes", fill_ec2), 6),
        (("ec2.amazonaws.com", "CreateTags", fill_ec2), 2),
        (("sts.amazonaws.com", "AssumeRole", fill_sts), 14),
        (("iam.amazonaws.com", "GetRole", fill_iam), 6),
        (("iam.amazonaws.com", "CreateServiceLinkedRole", fill_iam), 1),
        (("lambda.amazonaws.com", "GetFunction20150331v2", fill_lambda), 5),
        (("lambda.amazonaws.com", "CreateAlias20150331", fill_lambda), 2),
        (("lambda.amazonaws.com", "TagResource20170331v2", fill_lambda), 2),
        (("dynamodb.amazonaws.com", "TagResource", fill_dynamodb), 2),
        (("dynamodb.amazonaws.com", "DescribeTable", fill_dynamodb), 4),
    ]
)


def other_event(fake: Faker, when: str) -> Record:
    source, name, fill = OTHER_EVENTS.pick(fake.rng)
    if fake.rng.random() < 0.5:
        role = fake.choice(("app-role-1", "eks-node", "ci-runner"))
        identity = assumed_role(fake, role, "i-0" + fake.hex(16), when)
        agent = BOTO_UA
    else:
        identity = iam_user(fake, fake.choice(PEOPLE))
        agent = fake.choice((BROWSER_UA, BOTO_UA))
    record = envelope(fake, when, source, name, identity, agent)
    fill(fake, record)
    return finish(record)


# --- log files --------------------------------------------------------------------


def make_record(fake: Faker, when: str) -> Record:
    roll = fake.rng.random()
    if roll < 0.01:
        return kms_write(fake, when)
    if roll < 0.21:
        return kms_read(fake, when)
    return other_event(fake, when)


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def file_records(fake: Faker, start: dt.datetime, count: int) -> list[Record]:
    """One log file's records, in time order within its five minutes."""
    stamps = [
        stamp(start + dt.timedelta(seconds=second))
        for second in range(SECONDS_PER_FILE)
    ]
    seconds = sorted(fake.rng.randrange(SECONDS_PER_FILE) for _ in range(count))
    return [make_record(fake, stamps[second]) for second in seconds]


def log_key(fake: Faker, start: dt.datetime) -> str:
    day = start.strftime("%Y/%m/%d")
    name = (
        f"{ACCOUNT}_CloudTrail_{REGION}_{start:%Y%m%dT%H%M}Z_{fake.token(16)}.json.gz"
    )
    return f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{day}/{name}"


def digest_key(end: dt.datetime) -> str:
    day = end.strftime("%Y/%m/%d")
    end_text = f"{end:%Y%m%dT%H%M%S}Z"
    name = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{end_text}.json.gz"
    return f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{day}/{name}"


def digest(start: dt.datetime, end: dt.datetime, logs: list[Record]) -> bytes:
    document = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": stamp(start),
        "digestEndTime": stamp(end),
        "digestS3Bucket": BUCKET,
        "digestS3Object": digest_key(end),
        "digestPublicKeyFingerprint": "0" * 32,
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": stamp(end),
        "oldestEventTime": stamp(start),
        "previousDigestS3Bucket": None,
        "previousDigestS3Object": None,
        "previousDigestHashValue": None,
        "previousDigestHashAlgorithm": None,
        "previousDigestSignature": None,
        "logFiles": logs,
    }
    return orjson.dumps(document)


def compress(data: bytes) -> bytes:
    # The default level, as most writers of gzip use; a fixed mtime keeps the bytes
    # the same from run to run.
    return gzip.compress(data, compresslevel=6, mtime=0)


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --- state ------------------------------------------------------------------------


PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
DEFAULT_POLICY = orjson.dumps(
    {
        "Id": "key-default-1",
        "Statement": [
            {
                "Action": "kms:*",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Resource": "*",
                "Sid": "Enable IAM User Permissions",
            }
        ],
        "Version": "2012-10-17",
    }
).decode()


def state_key(name: str, key_id: str, description: str) -> Record:
    attributes = {
        "arn": key_arn(key_id),
        "bypass_policy_lockout_safety_check": False,
        "custom_key_store_id": "",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "deletion_window_in_days": 30,
        "description": description,
        "enable_key_rotation": True,
        "id": key_id,
        "is_enabled": True,
        "key_id": key_id,
        "key_usage": "ENCRYPT_DECRYPT",
        "multi_region": False,
        "policy": DEFAULT_POLICY,
        "rotation_period_in_days": 365,
        "tags": {"Env": "prod", "Team": name},
        "tags_all": {"Env": "prod", "Team": name},
        "timeouts": None,
        "xks_key_id": "",
    }
    return state_resource("aws_kms_key", name, attributes)


def state_alias() -> Record:
    key_id = next(key_id for name, key_id, _ in MANAGED_KEYS if name == ALIAS[2])
    attributes = {
        "arn": alias_arn(),
        "id": ALIAS[1],
        "name": ALIAS[1],
        "name_prefix": "",
        "target_key_arn": key_arn(key_id),
        "target_key_id": key_id,
    }
    resource = state_resource("aws_kms_alias", ALIAS[0], attributes)
    resource["instances"][0]["dependencies"] = [f"aws_kms_key.{ALIAS[2]}"]
    return resource


def state_resource(kind: str, name: str, attributes: Record) -> Record:
    instance = {
        "schema_version": 0,
        "attributes": attributes,
        "sensitive_attributes": [],
        "private": "bnVsbA==",
    }
    return {
        "mode": "managed",
        "type": kind,
        "name": name,
        "provider": PROVIDER,
        "instances": [instance],
    }


def state_document(seed: int) -> Record:
    resources = [state_alias()] + [state_key(*key) for key in MANAGED_KEYS]
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 12,
        "lineage": Faker(seed).uuid(),
        "outputs": {},
        "resources": resources,
        "check_results": None,
    }


# --- the run ----------------------------------------------------------------------


def file_plan(fake: Faker, records: int) -> Iterator[int]:
    """Records per log file: a few hundred to about two thousand, adding up."""
    left = records
    while left > 0:
        count = min(left, fake.rng.randint(300, 2000))
        left -= count
        yield count


def count_record(summary: Summary, by_name: Counter[str], record: Record) -> None:
    summary.records += 1
    if record["eventSource"] != "kms.amazonaws.com":
        return
    if record["readOnly"]:
        summary.kms_reads += 1
        return
    summary.kms_writes += 1
    by_name[record["eventName"]] += 1
    arns = {resource["ARN"] for resource in record["resources"]}
    if any(key_arn(key_id) in arns for key_id in MANAGED_IDS):
        summary.kms_writes_managed += 1


class Writer:
    """Writes log files as they are compressed, and each hour's digest."""

    def __init__(self, out_dir: Path, summary: Summary) -> None:
        self.out_dir = out_dir
        self.summary = summary
        self.pending: list[tuple[str, Future[bytes], int]] = []
        # Compressing takes about as long as generating; a second process does it
        # on the other core. (A thread would wait on the interpreter lock instead.)
        self.pool = ProcessPoolExecutor(max_workers=1)

    def add(self, key: str, data: bytes) -> None:
        self.pending.append((key, self.pool.submit(compress, data), len(data)))

    def flush(self, start: dt.datetime, end: dt.datetime) -> None:
        """Write the pending log files and the digest that lists them."""
        if not self.pending:
            return
        logs = []
        for key, future, size in self.pending:
            data = future.result()
            write_file(self.out_dir / key, data)
            logs.append(
                {
                    "s3Bucket": BUCKET,
                    "s3Object": key,
                    "hashValue": hashlib.sha256(data).hexdigest(),
                    "hashAlgorithm": "SHA-256",
                }
            )
            self.summary.files += 1
            self.summary.bytes_compressed += len(data)
            self.summary.bytes_json += size
        write_file(self.out_dir / digest_key(end), compress(digest(start, end, logs)))
        self.summary.digest_files += 1
        self.pending.clear()

    def close(self) -> None:
        self.pool.shutdown()


def generate(out_dir: Path, records: int, seed: int, start: dt.datetime) -> Summary:
    """Write the trail and the state under ``out_dir``; return what was written."""
    fake = Faker(seed)
    summary = Summary(out_dir=str(out_dir), state=str(out_dir / "terraform.tfstate"))
    by_name: Counter[str] = Counter()
    writer = Writer(out_dir, summary)
    hour = start.replace(minute=0, second=0, microsecond=0)
    moment = start
    try:
        for count in file_plan(fake, records):
            if moment >= hour + dt.timedelta(hours=1):
                writer.flush(hour, hour + dt.timedelta(hours=1))
                hour += dt.timedelta(hours=1)
            batch = file_records(fake, moment, count)
            for record in batch:
                count_record(summary, by_name, record)
            writer.add(log_key(fake, moment), orjson.dumps({"Records": batch}))
            summary.first_event_time = summary.first_event_time or batch[0]["eventTime"]
            summary.last_event_time = batch[-1]["eventTime"]
            moment += dt.timedelta(seconds=SECONDS_PER_FILE)
        writer.flush(hour, moment)
    finally:
        writer.close()
    summary.kms_writes_by_name = dict(sorted(by_name.items()))
    state = orjson.dumps(state_document(seed), option=orjson.OPT_INDENT_2)
    write_file(out_dir / "terraform.tfstate", state + b"\n")
    return summary


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path, help="directory to write into")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--start",
        default="2025-01-06T00:00:00Z",
        help="time of the first log file, UTC (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = dt.datetime.strptime(args.start, "%Y-%m-%dT%H:%M:%SZ")
    summary = generate(args.out_dir, args.records, args.seed, start)
    if args.json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(summary)).decode() + "\n")
    else:
        sys.stdout.write("\n".join(summary.lines()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
