"""Real ``terraform`` against an in-process moto server: the pieces e2e tests share.

Nothing here is a pytest fixture, so ``examples/regenerate.py`` can drive the same
apply that the tests drive. The conftest beside this file wraps these pieces in
fixtures and turns a missing tool into a skip; ``BaselineCache`` is what lets the
tests of one session share a single apply.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = PROJECT_ROOT / "examples" / "terraform"

MOTO_ACCOUNT = "123456789012"
MOTO_REGION = "us-east-1"

TERRAFORM_VARIABLE = "TFDRIFT_TERRAFORM"
MIRROR_VARIABLE = "TFDRIFT_PROVIDER_MIRROR"
DEFAULT_MIRROR = "/opt/tf-plugins"
AWS_PROVIDER_IN_MIRROR = Path("registry.terraform.io", "hashicorp", "aws")

OVERRIDE_FILE = "moto_override.tf"
STATE_FILE = "terraform.tfstate"

# Services the example touches, plus the ones the provider probes at start-up.
_ENDPOINT_SERVICES = ("kms", "sts", "iam", "s3", "cloudtrail", "logs")

# Leftovers of a local run that must not be copied into a fresh working directory.
_NOT_CONFIGURATION = (
    ".terraform",
    ".terraform.lock.hcl",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfplan",
    OVERRIDE_FILE,
)

# Applying the example takes about 25 s here; this leaves room for a slow machine.
_COMMAND_TIMEOUT_S = 300


class TerraformError(Exception):
    """A terraform command failed; the message carries its output."""


def find_terraform(environ: Mapping[str, str] = os.environ) -> Path | str:
    """The terraform binary, or the reason it could not be found."""
    explicit = environ.get(TERRAFORM_VARIABLE, "")
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        return f"{TERRAFORM_VARIABLE}={explicit} is not an executable file"

    found = shutil.which("terraform", path=environ.get("PATH"))
    if found is None:
        return f"terraform is not on PATH (or set {TERRAFORM_VARIABLE})"
    return Path(found)


def find_provider_mirror(environ: Mapping[str, str] = os.environ) -> Path | str:
    """The filesystem mirror holding hashicorp/aws, or why it is not usable."""
    mirror = Path(environ.get(MIRROR_VARIABLE) or DEFAULT_MIRROR)
    provider = mirror / AWS_PROVIDER_IN_MIRROR
    if not provider.is_dir():
        return (
            f"no hashicorp/aws provider in the mirror {mirror} "
            f"(expected {provider}; set {MIRROR_VARIABLE})"
        )
    return mirror


def write_cli_config(directory: Path, mirror: Path) -> Path:
    """A CLI config that installs providers only from the mirror, never the registry."""
    path = directory / "terraform.rc"
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["*/*"]\n'
        "  }\n"
        "}\n"
        "disable_checkpoint = true\n",
        encoding="utf-8",
    )
    return path


def terraform_environment(
    cli_config: Path, base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment terraform runs in: offline, unattended, moto's dummy keys."""
    env = {k: v for k, v in base.items() if not _is_ambient_aws_setting(k)}
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=MOTO_REGION,
        AWS_DEFAULT_REGION=MOTO_REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _is_ambient_aws_setting(name: str) -> bool:
    # A developer's profile or session token must never reach the provider, nor
    # their TF_VAR_ values the configuration. The CA bundle is harmless (some
    # machines need it for anything HTTPS) and terraform's own logging helps.
    if name in ("AWS_CA_BUNDLE", "TF_LOG", "TF_LOG_PATH"):
        return False
    return name.startswith(("AWS_", "TF_"))


def override_text(endpoint: str) -> str:
    """The provider override that points every AWS call of the example at moto."""
    endpoints = "\n".join(
        f"    {service:<10} = {json.dumps(endpoint)}" for service in _ENDPOINT_SERVICES
    )
    return (
        "# Written by the test harness: points the AWS provider at a local moto\n"
        "# server. Terraform merges *_override.tf files into the provider block.\n"
        'provider "aws" {\n'
        '  access_key                  = "test"\n'
        '  secret_key                  = "test"\n'
        "  skip_credentials_validation = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_region_validation      = true\n"
        "  s3_use_path_style           = true\n"
        "\n"
        "  endpoints {\n"
        f"{endpoints}\n"
        "  }\n"
        "}\n"
    )


def prepare_workdir(
    destination: Path, endpoint: str, source: Path = EXAMPLE_CONFIG
) -> Path:
    """Copy a configuration without local leftovers and add the moto override."""
    shutil.copytree(
        source, destination, ignore=shutil.ignore_patterns(*_NOT_CONFIGURATION)
    )
    (destination / OVERRIDE_FILE).write_text(override_text(endpoint), encoding="utf-8")
    return destination


@dataclass
class Terraform:
    """One working directory and the binary and environment to run terraform in it."""

    binary: Path
    workdir: Path
    env: dict[str, str]
    durations: dict[str, float] = field(default_factory=dict)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``terraform <args>``; raise TerraformError with its output on failure."""
        command = [str(self.binary), *args]
        started = time.monotonic()
        result = subprocess.run(
            command,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=_COMMAND_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        self.durations[_command_name(args)] = time.monotonic() - started

        if result.returncode != 0:
            msg = (
                f"`terraform {' '.join(args)}` in {self.workdir} exited "
                f"{result.returncode}\n--- stdout\n{result.stdout}\n"
                f"--- stderr\n{result.stderr}"
            )
            raise TerraformError(msg)
        return result

    def init(self) -> None:
        self.run("init", "-no-color", "-input=false")

    def apply(self, *extra: str) -> None:
        self.run("apply", "-no-color", "-input=false", "-auto-approve", *extra)

    def apply_baseline(self) -> None:
        """Init, apply, then settle the first refresh's ``tags: null -> {}`` noise."""
        self.init()
        self.apply()
        self.apply("-refresh-only")

    @property
    def state_path(self) -> Path:
        return self.workdir / STATE_FILE

    def state(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.state_path.read_text("utf-8"))
        return document


def _command_name(args: Sequence[str]) -> str:
    quiet = ("-no-color", "-input=false", "-auto-approve")
    return " ".join(arg for arg in args if arg not in quiet)


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto server on a free loopback port; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    # The server logs every request at INFO; a provider run makes hundreds.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    """Forget every resource the moto server holds."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def kms_client(endpoint: str) -> Any:
    """A boto3 KMS client that talks to moto with its dummy credentials."""
    import boto3

    return boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=MOTO_REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def instances(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Attributes of each managed resource instance, keyed by Terraform address."""
    found: dict[str, dict[str, Any]] = {}
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        for instance in resource.get("instances", []):
            found[_address(resource, instance)] = instance["attributes"]
    return found


def _address(resource: Mapping[str, Any], instance: Mapping[str, Any]) -> str:
    prefix = f"{resource['module']}." if resource.get("module") else ""
    address = f"{prefix}{resource['type']}.{resource['name']}"
    key = instance.get("index_key")
    if key is None:
        return address
    return f"{address}[{json.dumps(key)}]"


def run_check(
    arguments: Sequence[str],
    cwd: Path = PROJECT_ROOT,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tfdrift_hook check ...`` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "tfdrift_hook", "check", *arguments],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@dataclass
class AppliedExample:
    """examples/terraform applied against moto in its own working directory."""

    terraform: Terraform
    state: dict[str, Any]
    resources: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.resources = instances(self.state)

    @property
    def workdir(self) -> Path:
        return self.terraform.workdir

    @property
    def state_path(self) -> Path:
        return self.terraform.state_path

    def attributes(self, address: str) -> dict[str, Any]:
        """State attributes of one managed instance, by Terraform address."""
        return self.resources[address]

    def key_ids(self) -> dict[str, str]:
        """Key id of every ``aws_kms_key`` instance, by address."""
        return {
            address: attributes["key_id"]
            for address, attributes in self.resources.items()
            if ".aws_kms_key." in f".{address}"
        }


class BaselineCache:
    """Applies the example once and hands the same copy out until it is spoiled."""

    def __init__(
        self,
        new_directory: Callable[[], Path],
        endpoint: str,
        binary: Path,
        env: Mapping[str, str],
    ) -> None:
        self._new_directory = new_directory
        self._endpoint = endpoint
        self._binary = binary
        self._env = dict(env)
        self._current: AppliedExample | None = None
        self._tainted = False

    def get(self) -> AppliedExample:
        """A clean applied example: the shared one, or a new apply if it was spoiled."""
        if self._current is None or self._tainted or not self._still_there():
            self._current = self._apply()
            self._tainted = False
        return self._current

    def taint(self) -> None:
        """Mark the shared copy as changed out of band; the next get() re-applies."""
        self._tainted = True

    def _apply(self) -> AppliedExample:
        reset_moto(self._endpoint)
        workdir = prepare_workdir(self._new_directory() / "terraform", self._endpoint)
        terraform = Terraform(self._binary, workdir, dict(self._env))
        terraform.apply_baseline()
        return AppliedExample(terraform, terraform.state())

    def _still_there(self) -> bool:
        # A reset of moto (by a test or another fixture) silently empties it.
        assert self._current is not None
        kms = kms_client(self._endpoint)
        listed = {key["KeyId"] for key in kms.list_keys()["Keys"]}
        return set(self._current.key_ids().values()) <= listed


# -- who changes keys out of band in the end-to-end tests ------------------------------

MOTO_ACCOUNT = "123456789012"
#: An IAM user who changes keys with the CLI, as CloudTrail writes her.
ALICE = {
    "type": "IAMUser",
    "principalId": "AIDA4EXAMPLEALICE0001",
    "arn": f"arn:aws:iam::{MOTO_ACCOUNT}:user/alice",
    "accountId": MOTO_ACCOUNT,
    "accessKeyId": "AKIA4EXAMPLEALICE001",
    "userName": "alice",
}
CLI_AGENT = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 "
#: The ledger key's tags, from examples/terraform/variables.tf and main.tf.
LEDGER_TAGS = {
    "Application": "ledger",
    "Team": "finance-platform",
    "Environment": "prod",
}
