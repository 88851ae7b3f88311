"""Re-create the example state by a real ``terraform apply`` against moto.

Run from anywhere: ``python3 examples/regenerate.py``. It needs ``terraform`` (on
PATH or in TFDRIFT_TERRAFORM), the hashicorp/aws provider in a filesystem mirror
(TFDRIFT_PROVIDER_MIRROR, default /opt/tf-plugins) and moto[server]; no network.

Steps: start moto on a free loopback port, copy examples/terraform into a temporary
directory with a provider override pointing at moto, ``init``, ``apply``, then
``apply -refresh-only`` (the first refresh turns ``tags = null`` into ``{}``), and
copy the resulting terraform.tfstate back. The CloudTrail examples name the managed
keys by id, so they are rewritten from the new state too. ``--cloudtrail-only``
skips the apply and only rewrites the CloudTrail examples from the committed state.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
sys.path.insert(0, str(EXAMPLES.parent / "tests" / "e2e"))

import cloudtrail_examples  # noqa: E402
import moto_terraform  # noqa: E402


def apply_example(target: Path) -> float:
    """Apply examples/terraform against a fresh moto; copy the state to target."""
    terraform = _required(moto_terraform.find_terraform())
    mirror = _required(moto_terraform.find_provider_mirror())

    with tempfile.TemporaryDirectory(prefix="tfdrift-example-") as scratch:
        directory = Path(scratch)
        cli_config = moto_terraform.write_cli_config(directory, mirror)
        with moto_terraform.moto_server() as endpoint:
            workdir = moto_terraform.prepare_workdir(directory / "terraform", endpoint)
            runner = moto_terraform.Terraform(
                terraform, workdir, moto_terraform.terraform_environment(cli_config)
            )
            started = time.monotonic()
            runner.apply_baseline()
            elapsed = time.monotonic() - started
        shutil.copyfile(runner.state_path, target)
    for command, seconds in runner.durations.items():
        print(f"terraform {command}: {seconds:.1f} s")
    return elapsed


def _required(found: Path | str) -> Path:
    if isinstance(found, str):
        raise SystemExit(f"regenerate: {found}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cloudtrail-only",
        action="store_true",
        help="rewrite examples/cloudtrail from the committed state; no apply",
    )
    args = parser.parse_args(argv)

    if not args.cloudtrail_only:
        elapsed = apply_example(cloudtrail_examples.STATE)
        print(f"wrote {cloudtrail_examples.STATE} ({elapsed:.1f} s)")

    state = json.loads(cloudtrail_examples.STATE.read_text(encoding="utf-8"))
    for path in cloudtrail_examples.write_all(state):
        print(f"wrote {path.relative_to(EXAMPLES.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
