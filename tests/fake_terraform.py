"""A stand-in for the terraform binary, for the wrapper's tests that need no provider.

It does what the wrapper asks of Terraform, with files named by environment variables:

- ``plan ... -out=FILE``: writes FILE; exits ``FAKE_TF_PLAN_EXIT`` (default 0).
- ``show -json FILE``: prints the file ``FAKE_TF_PLAN_JSON``.
- ``apply``/``destroy``: exits ``FAKE_TF_APPLY_EXIT`` (default 0); with
  ``FAKE_TF_APPLY_SLEEP`` it waits that long first (noting ``ready`` once it can
  take an interrupt), and on SIGINT it notes ``interrupted`` and exits 130, as
  Terraform does after stopping cleanly.
- ``state pull``: prints the file ``FAKE_TF_STATE``.

Every command line is appended to ``FAKE_TF_LOG``, one JSON list a line; ``-chdir``
is honoured as Terraform honours it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType


def main(args: list[str]) -> int:
    _log(args)
    for arg in args:
        if arg.startswith("-chdir="):  # as Terraform does, before anything else
            os.chdir(arg.split("=", 1)[1])
    words = [arg for arg in args if not arg.startswith("-")]
    command = words[0] if words else ""
    if command == "plan":
        return _plan(args)
    if command == "show":
        sys.stdout.write(Path(os.environ["FAKE_TF_PLAN_JSON"]).read_text("utf-8"))
        return 0
    if command in ("apply", "destroy"):
        return _apply()
    if command == "state":
        sys.stdout.write(Path(os.environ["FAKE_TF_STATE"]).read_text("utf-8"))
        return 0
    return 0


def _plan(args: list[str]) -> int:
    for arg in args:
        if arg.startswith("-out="):
            Path(arg.split("=", 1)[1]).write_text("fake plan", encoding="utf-8")
    print("Plan: 0 to add, 0 to change, 0 to destroy.")
    return int(os.environ.get("FAKE_TF_PLAN_EXIT", "0"))


def _apply() -> int:
    def stop(signum: int, frame: FrameType | None) -> None:
        _log(["interrupted"])
        sys.exit(130)

    signal.signal(signal.SIGINT, stop)
    _log(["ready"])
    time.sleep(float(os.environ.get("FAKE_TF_APPLY_SLEEP", "0")))
    return int(os.environ.get("FAKE_TF_APPLY_EXIT", "0"))


def _log(args: list[str]) -> None:
    log = os.environ.get("FAKE_TF_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(args) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
