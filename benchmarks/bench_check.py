"""Benchmark ``tfdrift-hook check`` on a synthetic trail: records a second, peak memory.

    python benchmarks/bench_check.py            # 1,000,000 records in a temp dir
    python benchmarks/bench_check.py --records 200000 --trail /tmp/trail --keep

It writes the trail with ``generate_trail.py`` (about 1% KMS writes, 20% KMS reads, the
rest other services), then runs the real command line on it in a child process, the way
a user runs it, and reads the child's peak resident memory from the operating system.
The figures include start-up, reading the state, every file, the rules and the report.
Targets: at least 100,000 records/s and a peak under 200 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate_trail import generate  # noqa: E402

TARGET_RATE = 100_000
TARGET_PEAK_MB = 200


def main() -> int:
    return run_on_trail(__doc__, _run)


def run_on_trail(
    doc: str | None, run: Callable[[Path, argparse.Namespace], int]
) -> int:
    """Parse a benchmark's options and ``run`` it on its trail, removed afterwards
    when it was a temporary one."""
    options = _options(doc or "")
    trail = Path(options.trail or tempfile.mkdtemp(prefix="tfdrift-bench-"))
    try:
        return run(trail, options)
    finally:
        if not options.keep and options.trail is None:
            shutil.rmtree(trail, ignore_errors=True)


def _options(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trail", help="directory for the trail (reused if present)")
    parser.add_argument("--keep", action="store_true", help="keep a temporary trail")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is kept")
    return parser.parse_args()


def _run(trail: Path, options: argparse.Namespace) -> int:
    summary = prepare_trail(trail, options.records, options.seed)
    print(f"trail: {trail} ({options.records:,} records; {summary})")

    runs = [measure_check(trail) for _ in range(options.repeat)]
    seconds = min(run[0] for run in runs)
    peak_mb = max(run[1] for run in runs)
    findings = runs[0][2]
    rate = options.records / seconds

    print(f"check: {findings} findings, exit {runs[0][3]}")
    each = ", ".join(f"{run[0]:.2f}" for run in runs)
    print(f"time: {seconds:.2f} s (best of {len(runs)}: {each})")
    print(f"records per second: {rate:,.0f} (target at least {TARGET_RATE:,})")
    print(f"peak memory: {peak_mb:.0f} MB (target under {TARGET_PEAK_MB} MB)")
    met = rate >= TARGET_RATE and peak_mb < TARGET_PEAK_MB
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


def prepare_trail(trail: Path, records: int, seed: int) -> str:
    """The synthetic trail in ``trail``, written unless the directory has it already."""
    marker = trail / "summary.json"
    if marker.is_file():
        cached = json.loads(marker.read_text(encoding="utf-8"))
        if cached.get("records") == records and cached.get("seed") == seed:
            return cached["text"]

    started = time.perf_counter()
    start = dt.datetime(2025, 1, 6, tzinfo=None)
    summary = generate(trail, records, seed, start)
    text = (
        f"{summary.kms_writes:,} KMS writes, {summary.kms_reads:,} KMS reads, "
        f"generated in {time.perf_counter() - started:.0f} s"
    )
    record = {"records": records, "seed": seed, "text": text}
    marker.write_text(json.dumps(record), encoding="utf-8")
    return text


# Runs the CLI and then writes the process's own peak RSS (KiB on Linux) and CPU
# seconds to a file, so that the figures are the check's alone, not those of other
# children of this process.
_MEASURED = """
import resource, sys
from tfdrift_hook.cli import main
try:
    main(sys.argv[2:])
finally:
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime
    open(sys.argv[1], "w").write(f"{used.ru_maxrss} {cpu}")
"""


class CheckRun(NamedTuple):
    """One run of the check: wall and CPU seconds, peak memory, what it found."""

    seconds: float
    peak_mb: float
    findings: int
    exit_code: int
    #: CPU time of the check's process: less moved than wall time by other load.
    cpu_seconds: float


def measure_check(trail: Path, extra: Sequence[str] = ()) -> CheckRun:
    """One run of the real CLI, in a child process."""
    with tempfile.NamedTemporaryFile(suffix=".peak") as peak_file:
        command = [
            sys.executable,
            "-c",
            _MEASURED,
            peak_file.name,
            "check",
            "--state",
            str(trail / "terraform.tfstate"),
            "--events",
            str(trail / "AWSLogs"),
            "--format",
            "json",
            *extra,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        peak_kb, cpu = (Path(peak_file.name).read_text() or "0 0").split()

    if done.returncode not in (0, 1):
        raise SystemExit(f"check failed (exit {done.returncode}):\n{done.stderr}")
    findings = sum(1 for line in done.stdout.splitlines() if line.strip())
    return CheckRun(seconds, int(peak_kb) / 1024, findings, done.returncode, float(cpu))


if __name__ == "__main__":
    raise SystemExit(main())
