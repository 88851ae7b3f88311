"""What the rules cost: ``check`` over the same trail with every rule, and with none.

    python benchmarks/bench_rules.py                # 1,000,000 records in a temp dir
    python benchmarks/bench_rules.py --records 200000 --trail /tmp/trail --keep

Both runs read the same synthetic trail (``generate_trail.py``) with the real command
line in a child process. "No rules" is the built-in rule file with every rule
switched off by a user rule file (``enabled: false`` for each name ``rules list``
gives) and one rule that never matches in their place, since ``check`` refuses to run
with no rule at all; so the two runs differ only in the rules evaluated and the
findings reported.
The runs alternate (none, all, none, all...) so that a noisy machine slows both alike,
and the best of each is compared. The target is held to CPU time, which other load on
a shared machine moves much less than wall time (both are printed): the full rule set
costs at most 20% more than no rules.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_check import (  # noqa: E402
    CheckRun,
    measure_check,
    prepare_trail,
    run_on_trail,
)

TARGET_OVERHEAD = 0.20

_NEVER_MATCHES = """\
- rule: bench_never_matches
  desc: Stands in for no rules; check refuses a run with none.
  condition: evt.name = "NoSuchCall"
  output: "never (event=%evt.name)"
  priority: debug
"""


def main() -> int:
    return run_on_trail(__doc__, _run)


def _run(trail: Path, options: argparse.Namespace) -> int:
    summary = prepare_trail(trail, options.records, options.seed)
    print(f"trail: {trail} ({options.records:,} records; {summary})")

    switched_off = _rules_switched_off(trail / "no-rules.yaml")
    print(f"rules: {switched_off} enabled built-in rules; none in the second case")

    runs: dict[str, list[CheckRun]] = {"none": [], "all": []}
    for _ in range(options.repeat):
        runs["none"].append(
            measure_check(trail, ["--rules", str(trail / "no-rules.yaml")])
        )
        runs["all"].append(measure_check(trail))

    none = _report("no rules", runs["none"], options.records)
    every = _report("every built-in rule", runs["all"], options.records)
    wall = every.seconds / none.seconds - 1
    overhead = every.cpu_seconds / none.cpu_seconds - 1
    print(f"wall time overhead: {wall:+.1%}")
    print(
        f"rule evaluation overhead (CPU time): {overhead:+.1%} "
        f"(target at most +{TARGET_OVERHEAD:.0%})"
    )
    met = overhead <= TARGET_OVERHEAD
    print("target met" if met else "TARGET MISSED")
    return 0 if met else 1


def _rules_switched_off(path: Path) -> int:
    """A rule file that switches off every enabled rule; how many it switched off."""
    listing = subprocess.run(
        [sys.executable, "-m", "tfdrift_hook", "rules", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rules = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    names = [rule["rule"] for rule in rules if rule["enabled"]]
    entries = "".join(f"- rule: {name}\n  enabled: false\n" for name in names)
    path.write_text(entries + _NEVER_MATCHES, encoding="utf-8")
    return len(names)


class Best(NamedTuple):
    seconds: float
    cpu_seconds: float


def _report(label: str, runs: list[CheckRun], records: int) -> Best:
    """The best wall and CPU time of the runs (each the least another load added)."""
    best = Best(min(run.seconds for run in runs), min(run.cpu_seconds for run in runs))
    each = ", ".join(f"{run.seconds:.2f}/{run.cpu_seconds:.2f}" for run in runs)
    print(
        f"{label}: {best.seconds:.2f} s wall, {best.cpu_seconds:.2f} s CPU, best of "
        f"{len(runs)} (wall/CPU: {each}); {records / best.seconds:,.0f} records/s; "
        f"{runs[0].findings} findings; peak {max(run.peak_mb for run in runs):.0f} MB"
    )
    return best


if __name__ == "__main__":
    raise SystemExit(main())
