"""Count the LookupEvents calls of a busy day: 100 KMS writes among 20,000 KMS reads.

    python benchmarks/bench_lookup_events.py               # a clock that only sleeps
    python benchmarks/bench_lookup_events.py --real-time   # at 2 calls a second, slow

The records are served by the loopback CloudTrail of ``tests/fake_cloudtrail.py`` to the
real boto3 client, which throttles a region called faster than two times a second. The
lower bound is the pages the 100 writes alone need (50 a page); the target is at most
1.5 times that plus one call per event name queried. Each scenario adds writes of other
services, which the ``ReadOnly=false`` stream would have to page through.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_cloudtrail import FakeClock, FakeCloudTrail, serving  # noqa: E402
from tfdrift_hook.problems import Problems  # noqa: E402
from tfdrift_hook.sources.lookup_events import (  # noqa: E402
    KMS_WRITE_CALLS,
    LookupEventsSource,
)
from tfdrift_hook.sources.rate_limit import Pacing  # noqa: E402
from tfdrift_hook.window import Window  # noqa: E402

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
DAY = 86400
WRITE_NAMES = (
    "PutKeyPolicy",
    "TagResource",
    "CreateGrant",
    "DisableKey",
    "CreateAlias",
)


def record(name: str, offset: float, number: int, source: str, read_only: bool) -> Any:
    when = NOW - timedelta(days=1) + timedelta(seconds=offset)
    return {
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": f"{source}-{name}-{number}",
        "readOnly": read_only,
    }


def seed(fake: FakeCloudTrail, writes: int, reads: int, other: int) -> None:
    kms = "kms.amazonaws.com"
    fake.seed(
        record(WRITE_NAMES[i % 5], DAY * i / writes, i, kms, False)
        for i in range(writes)
    )
    fake.seed(record("Decrypt", DAY * i / reads, i, kms, True) for i in range(reads))
    fake.seed(
        record("PutObjectTagging", DAY * i / other, i, "s3.amazonaws.com", False)
        for i in range(other)
    )


def run(other: int, real_time: bool) -> dict[str, Any]:
    clock = FakeClock()
    fake = FakeCloudTrail() if real_time else FakeCloudTrail(clock=clock)
    pacing = Pacing() if real_time else Pacing(clock, clock.sleep)
    with serving(fake, lifetime=600) as server:
        seed(server, writes=100, reads=20_000, other=other)
        source = LookupEventsSource(
            ["us-east-1"],
            Window(NOW - timedelta(days=1), NOW),
            endpoint_url=server.url,
            pacing=pacing,
            now=lambda: NOW,
        )
        began = time.monotonic()
        problems = Problems()
        found = sum(1 for _ in source.records(problems))
        elapsed = time.monotonic() - began
    lower = math.ceil(100 / 50)
    return {
        "other": other,
        "found": found,
        "problems": len(problems),
        "calls": source.calls["us-east-1"],
        "lower": lower,
        "target": 1.5 * lower + len(KMS_WRITE_CALLS),
        "throttled": sum(fake.throttled.values()),
        "streamed": fake.queries.count("ReadOnly=false"),
        "seconds": elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-time", action="store_true")
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    print(
        "other writes  KMS writes read  calls  lower bound  target  "
        "write-stream pages  throttled  seconds"
    )
    failed = False
    for other in (0, 5_000, 50_000):
        row = run(other, args.real_time)
        failed |= row["calls"] > row["target"] or row["found"] != 100
        print(
            f"{row['other']:>12}  {row['found']:>15}  {row['calls']:>5}  "
            f"{row['lower']:>11}  {row['target']:>6}  {row['streamed']:>18}  "
            f"{row['throttled']:>9}  {row['seconds']:>7.1f}"
        )
    print(f"{len(KMS_WRITE_CALLS)} event names can be queried; 20,000 KMS reads each")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
