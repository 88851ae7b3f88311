"""``--format json``: one JSON object a line, one line a finding.

Each line starts with the keys KMS drift tools share in their log lines (``service``,
``event``, ``resource``, ``changes``, ``user``, ``timestamp``) and adds the address,
rule, priority, status, actor, event id, Region, account and the rendered output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from tfdrift_hook.hookspecs import hookimpl

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckResult

FORMAT = "json"


def write_json_lines(result: CheckResult, stream: TextIO) -> None:
    for finding in result.findings:
        stream.write(json.dumps(finding.to_json(), sort_keys=False, default=str))
        stream.write("\n")


@hookimpl(trylast=True)
def tfdrift_report_formats() -> Sequence[str]:
    return [FORMAT]


@hookimpl(trylast=True)
def tfdrift_report(result: CheckResult, format: str, stream: TextIO) -> bool | None:
    if format != FORMAT:
        return None
    write_json_lines(result, stream)
    return True
