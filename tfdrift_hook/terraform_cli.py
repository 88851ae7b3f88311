"""Running the ``terraform`` binary: attached to the user's terminal for the commands
the wrapper runs, and captured for the JSON views of its state and plans."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from tfdrift_hook.errors import TfdriftError

logger = logging.getLogger(__name__)

BINARY_ENV = "TERRAFORM_BINARY"

#: ``terraform show`` reads state and provider schemas; starting the provider is what
#: takes time, a few seconds on a small machine, so this is generous.
DEFAULT_TIMEOUT_SECONDS = 300.0


class TerraformError(TfdriftError):
    """The binary is missing, failed, or printed something that is not JSON."""


def find_terraform() -> str | None:
    """The binary named by ``TERRAFORM_BINARY``, else ``terraform`` on PATH, else None.

    A ``TERRAFORM_BINARY`` that names nothing runnable is an error rather than None:
    the user asked for that binary, and silently reading another view would hide it.
    """
    wanted = os.environ.get(BINARY_ENV, "").strip()
    if not wanted:
        return shutil.which("terraform")

    found = shutil.which(wanted)
    if found is None:
        msg = (
            f"{BINARY_ENV}={wanted!r} is not an executable file or a program on PATH "
            f"(set {BINARY_ENV} to the terraform binary, or unset it to use PATH)"
        )
        raise TerraformError(msg)
    return found


def required_terraform() -> str:
    binary = find_terraform()
    if binary is None:
        msg = f"terraform not found on PATH (install it or set {BINARY_ENV})"
        raise TerraformError(msg)
    return binary


def run_attached(args: Sequence[str], directory: Path) -> int:
    """``terraform ARGS`` with the user's input, output and error; its exit status.

    An interrupt reaches Terraform, which stops cleanly (and releases its state lock)
    on the first one. From a terminal it already has it, being in the foreground
    process group; otherwise (a CI runner signalling this process) it is passed on.
    The wrapper waits for Terraform either way, so nothing runs after a half-done
    apply.
    """
    command = [required_terraform(), *args]
    logger.info("running terraform %s in %s", " ".join(args), directory)
    try:
        process = subprocess.Popen(command, cwd=directory)
    except OSError as exc:
        raise _not_started(command, directory, exc) from exc

    with _signals_passed_to(process):
        status = process.wait()
    return 128 - status if status < 0 else status


def run_captured(args: Sequence[str], directory: Path) -> tuple[int, str]:
    """``terraform ARGS`` with its output kept, for runs the user did not ask for."""
    command = [required_terraform(), *args]
    logger.info("running terraform %s in %s", " ".join(args), directory)
    environment = {**os.environ, "TF_IN_AUTOMATION": "1"}
    try:
        completed = subprocess.run(
            command,
            cwd=directory,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise _not_started(command, directory, exc) from exc
    return completed.returncode, completed.stdout


def _not_started(command: list[str], directory: Path, exc: OSError) -> TerraformError:
    msg = f"could not run {command[0]} in {directory}: {exc.strerror or exc}"
    return TerraformError(msg)


@contextmanager
def _signals_passed_to(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """While Terraform runs, SIGINT and SIGTERM go to it instead of ending this one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_delivers_to(process):
            return
        process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_FORWARDED = (signal.SIGINT, signal.SIGTERM)


def _terminal_delivers_to(process: subprocess.Popen[bytes]) -> bool:
    """Whether a Ctrl-C from the terminal reached Terraform itself as well.

    A second interrupt makes Terraform abandon a run at once, so one that already
    reached it is not passed on again.
    """
    try:
        return os.getpgid(process.pid) == os.tcgetpgrp(0)
    except OSError:
        return False


def show_json(
    directory: Path,
    plan_file: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """``terraform show -json [PLANFILE]`` run in ``directory``, parsed.

    Without ``plan_file`` this is the current state; with it, the saved plan. A
    relative ``plan_file`` is taken from the caller's working directory, not from
    ``directory``.
    """
    binary = find_terraform()
    if binary is None:
        msg = f"terraform not found on PATH (install it or set {BINARY_ENV})"
        raise TerraformError(msg)

    command = [binary, "show", "-json", "-no-color"]
    if plan_file is not None:
        command.append(os.fspath(plan_file.absolute()))

    what = " ".join(["terraform", *command[1:]])
    output = _run(command, directory, timeout, what)
    return _parse(output, what, directory)


def state_pull(
    directory: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """``terraform state pull`` in ``directory``: the raw state, lineage and serial too.

    ``show -json`` leaves lineage and serial out; a receipt needs both, and this also
    reaches a remote backend's state.
    """
    binary = find_terraform()
    if binary is None:
        msg = f"terraform not found on PATH (install it or set {BINARY_ENV})"
        raise TerraformError(msg)

    command = [binary, "state", "pull"]
    output = _run(command, directory, timeout, "terraform state pull")
    return _parse(output, "terraform state pull", directory)


def _run(command: list[str], directory: Path, timeout: float, what: str) -> str:
    logger.info("running %s in %s", what, directory)
    environment = {**os.environ, "TF_IN_AUTOMATION": "1"}
    try:
        completed = subprocess.run(
            command,
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"{what} in {directory} did not finish within {timeout:g} s"
        raise TerraformError(msg) from exc
    except OSError as exc:
        raise _not_started(command, directory, exc) from exc

    if completed.returncode != 0:
        detail = _error_text(completed.stderr) or f"exit status {completed.returncode}"
        msg = f"{what} failed in {directory}: {detail}"
        raise TerraformError(msg)
    return completed.stdout


def _error_text(stderr: str) -> str:
    """Terraform's own error, without the warnings it prints before it.

    A missing CLI configuration file, for one, produces a warning box on every run;
    quoting it would bury the line that says what went wrong.
    """
    lines = stderr.strip().splitlines()
    for number, line in enumerate(lines):
        if line.lstrip("│ ").startswith("Error:"):
            return " ".join(part.strip("│ ") for part in lines[number:] if part.strip())
    return " ".join(line.strip() for line in lines if line.strip())


def _parse(output: str, what: str, directory: Path) -> dict[str, Any]:
    if not output.strip():
        msg = f"{what} in {directory} printed nothing: there is no state there yet"
        raise TerraformError(
            f"{msg} (run terraform init and apply first, or give --state FILE)"
        )

    try:
        document = json.loads(output)
    except json.JSONDecodeError as exc:
        msg = (
            f"{what} in {directory} printed no JSON "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "is TERRAFORM_BINARY a terraform that supports -json (0.12 or later)?"
        )
        raise TerraformError(msg) from exc

    if not isinstance(document, dict):
        msg = f"{what} in {directory} printed JSON that is not an object"
        raise TerraformError(msg)
    return document
