"""Both figures of the live sources in one run: the S3 scan, then LookupEvents calls.

    python benchmarks/bench_live_sources.py

The S3 part builds a 200,000-record trail in moto S3 over HTTP and prints the scan's
records per second next to the time ``zcat`` takes on the same objects (target: the
scan at most 2 times as long). The LookupEvents part counts the calls for a window of
100 KMS writes among 20,000 KMS reads next to the lower bound (target: at most 1.5
times it plus one call per event name queried). Each part is also a script of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_lookup_events  # noqa: E402
import bench_s3_scan  # noqa: E402


def main() -> int:
    arguments = sys.argv[1:]
    sys.argv[1:] = []
    print("== S3 trail scan ==")
    scan = bench_s3_scan.main()
    print("\n== LookupEvents calls ==")
    calls = bench_lookup_events.main()
    sys.argv[1:] = arguments
    return scan or calls


if __name__ == "__main__":
    raise SystemExit(main())
