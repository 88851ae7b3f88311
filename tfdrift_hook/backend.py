"""The S3 backend a Terraform directory was initialised with, if any.

``terraform init`` keeps the backend's settings in ``.terraform/terraform.tfstate``.
For an S3 backend, the receipt of an apply goes beside the state object by default,
and the object's LastModified is when the state was last written.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BACKEND_CACHE = Path(".terraform") / "terraform.tfstate"
WORKSPACE_FILE = Path(".terraform") / "environment"


@dataclass(frozen=True)
class S3Backend:
    """Where an S3 backend keeps the state of the directory's current workspace."""

    bucket: str
    key: str
    region: str | None = None
    endpoint_url: str | None = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", region_name=self.region, endpoint_url=self.endpoint_url
        )

    def last_modified(self) -> datetime | None:
        """When the state object was last written, or None when it cannot be told."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client().head_object(Bucket=self.bucket, Key=self.key)
        except (BotoCoreError, ClientError) as exc:
            logger.warning(
                "s3://%s/%s: cannot read its date: %s", self.bucket, self.key, exc
            )
            return None
        moment = head.get("LastModified")
        return moment if isinstance(moment, datetime) else None


def s3_backend(
    directory: Path, environ: Mapping[str, str] = os.environ
) -> S3Backend | None:
    """The directory's S3 backend, from what ``terraform init`` recorded; else None."""
    try:
        cache = json.loads((directory / BACKEND_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

    backend = cache.get("backend") if isinstance(cache, Mapping) else None
    if not isinstance(backend, Mapping) or backend.get("type") != "s3":
        return None

    config = backend.get("config") or {}
    bucket, key = config.get("bucket"), config.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str):
        return None

    workspace = _workspace(directory, environ)
    if workspace != "default":
        prefix = config.get("workspace_key_prefix") or "env:"
        key = f"{prefix}/{workspace}/{key}"
    return S3Backend(bucket, key, config.get("region"), _endpoint(config))


def _workspace(directory: Path, environ: Mapping[str, str]) -> str:
    if environ.get("TF_WORKSPACE"):
        return environ["TF_WORKSPACE"]
    try:
        return (directory / WORKSPACE_FILE).read_text(
            encoding="utf-8"
        ).strip() or "default"
    except OSError:
        return "default"


def _endpoint(config: Mapping[str, Any]) -> str | None:
    endpoints = config.get("endpoints")
    if isinstance(endpoints, Mapping) and endpoints.get("s3"):
        return str(endpoints["s3"])
    legacy = config.get("endpoint")
    return str(legacy) if legacy else None
