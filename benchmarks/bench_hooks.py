"""The time the lifecycle hooks add to ``terraform plan`` on examples/terraform.

    python benchmarks/bench_hooks.py [--runs 3]

examples/terraform is applied against a moto server on loopback (real terraform and
the provider mirror, as the end-to-end tests use them). Then, in turn, ``terraform
plan`` alone and ``tfdrift-hook terraform -- plan`` over the bundled CloudTrail
examples, best of ``--runs`` each. The wrapper reports its own time split up (its
``time:`` line at ``-v``): Terraform's plan, the ``terraform show -json`` it runs for
the hooks, and the hooks themselves. The hooks' own time is the figure to watch; the
show is Terraform's, paid once a plan.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from moto_terraform import (  # noqa: E402
    Terraform,
    find_provider_mirror,
    find_terraform,
    moto_server,
    prepare_workdir,
    terraform_environment,
    write_cli_config,
)

EVENTS = ROOT / "examples" / "cloudtrail"
_TIMING = re.compile(r"time: (.*); hooks in all ([\d.]+) s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    binary, mirror = find_terraform(), find_provider_mirror()
    if isinstance(binary, str) or isinstance(mirror, str):
        print(f"cannot run: {binary if isinstance(binary, str) else mirror}")
        return 2

    with tempfile.TemporaryDirectory() as scratch, moto_server() as endpoint:
        config = write_cli_config(Path(scratch), mirror)
        workdir = prepare_workdir(Path(scratch) / "terraform", endpoint)
        terraform = Terraform(binary, workdir, terraform_environment(config))
        terraform.apply_baseline()
        plain = min(_plain_plan(terraform) for _ in range(runs))
        wrapped = [_wrapped_plan(terraform) for _ in range(runs)]

    _report(plain, min(wrapped, key=lambda item: item[0]), runs)
    return 0


def _plain_plan(terraform: Terraform) -> float:
    started = time.perf_counter()
    terraform.run("plan", "-no-color", "-input=false")
    return time.perf_counter() - started


def _wrapped_plan(terraform: Terraform) -> tuple[float, float, str]:
    """Wall time of the wrapped plan, the hooks' own time, and the wrapper's split."""
    command = [
        sys.executable,
        "-m",
        "tfdrift_hook",
        "-v",
        "terraform",
        "--events",
        str(EVENTS),
        "--fail-on",
        "emergency",
        "--",
        "plan",
        "-no-color",
        "-input=false",
    ]
    environment = {
        **terraform.env,
        "TERRAFORM_BINARY": str(terraform.binary),
        "PYTHONPATH": str(ROOT),
    }
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=terraform.workdir,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    found = _TIMING.search(done.stderr)
    if found is None:
        raise SystemExit(f"the wrapper printed no time line:\n{done.stderr}")
    return wall, float(found.group(2)), found.group(1)


def _report(plain: float, wrapped: tuple[float, float, str], runs: int) -> None:
    wall, hooks, split = wrapped
    print(f"examples/terraform against moto, best of {runs}:")
    print(f"  terraform plan alone:                  {plain:6.2f} s")
    print(f"  tfdrift-hook terraform -- plan:        {wall:6.2f} s")
    print(f"  of which the hooks' own time:          {hooks:6.2f} s")
    print(f"  the wrapper's split: {split}")
    print(f"  hooks / plain plan:                    {hooks / plain:6.1%}")
    print(f"  whole wrapper / plain plan:            {wall / plain:6.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
