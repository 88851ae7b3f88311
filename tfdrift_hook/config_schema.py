"""The schema of ``.tfdrift.yml``, as data (JSON Schema, draft 2020-12).

Two keywords of our own ride along; validators ignore unknown keywords:

- ``x-expected``: how an error names what the key wants, in the user's words.
- ``x-path``: the string is a file path, relative to the config file's directory
  (or, for a default, to the Terraform directory).

``default`` fills a key that is absent, or whose ``$env:NAME`` is empty, inside a
mapping that is present; a source section that is absent stays absent, so that
source is off.
"""

from __future__ import annotations

from typing import Any

from tfdrift_hook.priorities import PRIORITIES

_PRIORITY_WORDS = (*PRIORITIES, "info", "warn", "err")

_REGION: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[a-z]{2}(-[a-z]+)+-[0-9]+$",
    "x-expected": "an AWS region name such as us-east-1",
}
_REGIONS: dict[str, Any] = {
    "type": "array",
    "items": _REGION,
    "x-expected": "a list of AWS region names",
}
_ENDPOINT_URL: dict[str, Any] = {
    "type": "string",
    "pattern": r"^https?://[^\s]+$",
    "x-expected": "an http:// or https:// URL",
}
_BUCKET: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    "x-expected": "an S3 bucket name (without s3://)",
}
_PATHS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "x-path": True},
    "x-expected": "a list of file paths",
}


def _text(default: str | None = None, expected: str = "a string") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "x-expected": expected}
    if default is not None:
        schema["default"] = default
    return schema


def _section(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "x-expected": "a mapping of settings",
        **extra,
    }


_LOOKUP_EVENTS = _section(
    {
        "regions": _REGIONS,
        "endpoint_url": _ENDPOINT_URL,
        "max_requests_per_second": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 2,
            "x-expected": "a number of requests per second above 0",
        },
    }
)

_S3 = _section(
    {
        "bucket": _BUCKET,
        "prefix": _text("", "a key prefix (the part before AWSLogs/)"),
        "organization_id": {
            "type": "string",
            "pattern": r"^o-[a-z0-9]{10,32}$",
            "x-expected": "an organisation ID such as o-a1b2c3d4e5",
        },
        "accounts": {
            "type": "array",
            "items": {
                "type": "string",
                "pattern": r"^[0-9]{12}$",
                "x-expected": "a 12-digit account ID in quotes",
            },
            "x-expected": "a list of 12-digit account IDs in quotes",
        },
        "regions": _REGIONS,
        "max_workers": {
            "type": "integer",
            "minimum": 1,
            "default": 8,
            "x-expected": "an integer >= 1",
        },
        "endpoint_url": _ENDPOINT_URL,
    },
    required=["bucket"],
)

_ATHENA = _section(
    {
        "database": _text("default"),
        "table": _text("cloudtrail_logs"),
        "workgroup": _text("primary"),
        "output_location": {
            "type": "string",
            "pattern": r"^s3://[^\s/]+(/\S*)?$",
            "x-expected": "an s3://bucket/prefix/ location",
        },
        "endpoint_url": _ENDPOINT_URL,
        "region": _REGION,
        "max_wait_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 300,
            "x-expected": "a number of seconds above 0",
        },
        "partitions": _section(
            {
                name: {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9_]{1,255}$",
                    "x-expected": "a column name (letters, digits, _)",
                }
                for name in ("account", "region", "date")
            }
        ),
    }
)

_RECEIPTS = _section(
    {
        "store": {
            "type": "string",
            "enum": ["local", "s3"],
            "default": "local",
            "x-expected": "local or s3",
        },
        "path": {
            "type": "string",
            "minLength": 1,
            "default": ".tfdrift/receipt.json",
            "x-path": True,
            "x-expected": "a file path",
        },
        "bucket": _BUCKET,
        "key": _text(expected="an S3 object key"),
    },
    default={},
)

# Checked again by tfdrift_hook.metrics_targets, which refuses a label name the
# metrics use themselves.
_METRICS = _section(
    {
        "textfile": {
            "type": "string",
            "minLength": 1,
            "x-path": True,
            "x-expected": "a file path (node_exporter reads *.prom files)",
        },
        "pushgateway": _ENDPOINT_URL,
        "job": {
            "type": "string",
            "pattern": r"^\S+$",
            "default": "tfdrift-hook",
            "x-expected": "a Pushgateway job name without spaces",
        },
        "labels": {
            "type": "array",
            "items": {
                "type": "string",
                "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*=\S.*$",
                "x-expected": "NAME=VALUE, such as stack=payments-prod",
            },
            "default": [],
            "x-expected": "a list of NAME=VALUE labels",
        },
        "timeout_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 10,
            "x-expected": "a number of seconds above 0",
        },
    },
    default={},
)

SCHEMA: dict[str, Any] = _section(
    {
        "regions": {**_REGIONS, "default": []},
        "trusted_principals": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "x-expected": "an ARN glob"},
            "default": [],
            "x-expected": "a list of ARN globs",
        },
        "fail_on": {
            "type": "string",
            "pattern": "^(?i:" + "|".join(_PRIORITY_WORDS) + ")$",
            "default": "error",
            "x-expected": "a priority: " + ", ".join(PRIORITIES),
        },
        "settle_minutes": {
            "type": "integer",
            "minimum": 0,
            "default": 15,
            "x-expected": "an integer >= 0",
        },
        "events": {**_PATHS, "default": []},
        "rules": {**_PATHS, "default": []},
        "waiver_files": {**_PATHS, "default": []},
        # Each entry is checked by tfdrift_hook.waivers, which reports every bad one
        # with its line; here only the list is required.
        "waivers": {
            "type": "array",
            "items": {"x-expected": "a waiver entry (a mapping)"},
            "default": [],
            "x-expected": "a list of waiver entries (owner, reason, expires, rule)",
        },
        "sources": _section(
            {"lookup_events": _LOOKUP_EVENTS, "s3": _S3, "athena": _ATHENA},
            default={},
        ),
        "receipts": _RECEIPTS,
        "metrics": _METRICS,
    }
)
