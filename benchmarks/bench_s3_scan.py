"""Benchmark the S3 trail source against ``zcat`` of the same objects, in one run.

    python benchmarks/bench_s3_scan.py                  # 200,000 records, moto server
    python benchmarks/bench_s3_scan.py --records 500000 --workers 8 --moto thread

It writes a trail with ``generate_trail.py``, uploads its log objects to a moto S3
server on a free loopback port (``ThreadedMotoServer``, so every list and get goes over
HTTP to botocore as it would to AWS), then scans the window of the whole trail with
``S3TrailSource`` for KMS records and times ``zcat FILES > /dev/null`` on the local
copies of the same objects. Target: the scan takes at most twice as long as zcat.

Where moto runs (``--moto``): ``process`` (the default) starts the server in a child
process, as a bucket is on another machine; ``thread`` runs it in this process, where
it takes the interpreter lock from the scan, so that figure is pessimistic; ``mock``
uses ``mock_aws`` in-process, without HTTP. Both still share this machine's cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generate_trail import ACCOUNT, BUCKET, REGION, generate  # noqa: E402

from tfdrift_hook.problems import Problems  # noqa: E402
from tfdrift_hook.sources.s3_trail import S3TrailSource  # noqa: E402

TARGET_RATIO = 2.0
KMS = frozenset({"kms.amazonaws.com"})


def main() -> int:
    options = _options()
    trail = Path(tempfile.mkdtemp(prefix="tfdrift-s3-bench-"))
    try:
        return _run(trail, options)
    finally:
        shutil.rmtree(trail, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is kept")
    parser.add_argument(
        "--moto",
        choices=("process", "thread", "mock"),
        default="process",
        help="moto server in a child process, in this process, or mock_aws",
    )
    return parser.parse_args()


def _run(trail: Path, options: argparse.Namespace) -> int:
    start = dt.datetime(2025, 1, 6, tzinfo=dt.timezone.utc)
    summary = generate(trail, options.records, options.seed, start)
    objects = sorted((trail / "AWSLogs").rglob("*.json.gz"))
    logs = [path for path in objects if "CloudTrail-Digest" not in path.as_posix()]
    mib = sum(path.stat().st_size for path in logs) / 2**20
    print(f"trail: {summary.records:,} records in {len(logs)} objects ({mib:.1f} MiB)")

    with _s3(options.moto) as (client, endpoint_url, label):
        _upload(client, trail, objects)
        since = _time(summary.first_event_time)
        until = _time(summary.last_event_time)
        scans = [
            _scan(endpoint_url, since, until, options.workers)
            for _ in range(options.repeat)
        ]
    zcats = [_zcat(logs) for _ in range(options.repeat)]
    return _report(summary.records, label, scans, zcats)


def _report(
    records: int, endpoint: str, scans: list[tuple[float, int, int]], zcats: list[float]
) -> int:
    scan, kms, problems = min(scans)
    zcat = min(zcats)
    ratio = scan / zcat
    print(f"S3 endpoint: {endpoint}")
    print(f"scan: {scan:.2f} s (best of {_each(s[0] for s in scans)}), {kms:,} KMS")
    print(f"  records per second: {records / scan:,.0f}; problems: {problems}")
    print(f"zcat: {zcat:.2f} s (best of {_each(zcats)})")
    print(f"ratio scan/zcat: {ratio:.2f} (target at most {TARGET_RATIO:.0f})")
    print("target met" if ratio <= TARGET_RATIO else "TARGET MISSED")
    return 0 if ratio <= TARGET_RATIO and not problems else 1


def _each(seconds: Iterator[float] | list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in seconds)


@contextmanager
def _s3(moto: str) -> Iterator[tuple[Any, str | None, str]]:
    """A client on a fresh moto bucket, the endpoint URL for the source, a label."""
    import boto3
    from moto import mock_aws

    # The source makes its own client, as it does from the settings.
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION=REGION,
    )
    if moto == "mock":
        with mock_aws():
            client = boto3.client("s3")
            client.create_bucket(Bucket=BUCKET)
            yield client, None, "mock_aws (in-process, no HTTP)"
        return
    serve = _child_server if moto == "process" else _thread_server
    with serve() as endpoint:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=BUCKET)
        where = "a child process" if moto == "process" else "this process"
        yield client, endpoint, f"{endpoint} (ThreadedMotoServer in {where})"


@contextmanager
def _thread_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # The server logs every request at INFO; a scan makes hundreds.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def _child_server() -> Iterator[str]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    process.start()
    try:
        yield str(parent.recv())
    finally:
        parent.send("stop")
        process.join(timeout=10)


def _serve(connection: Connection) -> None:
    """The child: a moto server until the parent says stop."""
    with _thread_server() as endpoint:
        connection.send(endpoint)
        connection.recv()


def _upload(client: Any, trail: Path, objects: list[Path]) -> None:
    def put(path: Path) -> None:
        key = path.relative_to(trail).as_posix()
        client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, objects))


def _scan(
    endpoint_url: str | None, since: dt.datetime, until: dt.datetime, workers: int
) -> tuple[float, int, int]:
    """One scan of the whole window: seconds, KMS records, problems."""
    source = S3TrailSource(
        BUCKET,
        [ACCOUNT],
        [REGION],
        since,
        until,
        max_workers=workers,
        endpoint_url=endpoint_url,
        progress=False,
    )
    problems = Problems()
    started = time.perf_counter()
    kms = sum(1 for _ in source.records(problems, KMS))
    return time.perf_counter() - started, kms, len(problems)


def _zcat(files: list[Path]) -> float:
    started = time.perf_counter()
    subprocess.run(["zcat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc
    )


if __name__ == "__main__":
    raise SystemExit(main())
