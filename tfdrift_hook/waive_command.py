"""``tfdrift-hook waive FINDING-ID``: accept one finding in a waiver file, narrowly.

The finding is found by its id (every report prints ``TFD-…``), in a fresh check or
in a JSON-lines report (``--from-report``). The entry written names its rule, its
address and its event id, so it waives that finding and no other, with the owner,
reason and expiry given.

The entry is added as text after the last entry of the file's list, so the file's
other text and comments stay as they are; the result is read back with the waiver
loader before it replaces the file, and a file the entry would break is left alone.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from tfdrift_hook.errors import ExitCode, TfdriftError
from tfdrift_hook.waiver_files import DEFAULT_FILE, WaiverLoad, read_waiver_file
from tfdrift_hook.waivers import parse_day

if TYPE_CHECKING:
    from tfdrift_hook.findings import Finding

__all__ = [
    "Waivable",
    "WaiveError",
    "entry_text",
    "findings_in_report",
    "insert_entry",
    "run_waive_command",
]

logger = logging.getLogger(__name__)

_ID = re.compile(r"(?i)tfd-([0-9a-f]+)\Z")
_REPORT_FIX = "write one with `tfdrift-hook check --format json --output FILE`"


class WaiveError(TfdriftError):
    """A waiver that cannot be added as asked; nothing was written."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Waivable:
    """What an entry needs of a finding, from a check or from a report line."""

    id: str
    rule: str
    address: str | None
    event_id: str | None
    #: The waiver that already accepts it (its source), or "" for none.
    waived_by: str = ""
    #: The stale waiver it reports (its source), or "" when it is a change.
    stale_waiver: str = ""


@dataclass(frozen=True)
class Terms:
    """Who accepts the finding, why, and through which day."""

    owner: str
    reason: str
    expires: datetime.date


def run_waive_command(
    options: Mapping[str, Any],
    stream: TextIO,
    environ: Mapping[str, str],
    today: datetime.date | None = None,
) -> int:
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    terms = entry_terms(options, today)
    wanted = finding_id(str(options["finding_id"]))
    report = options.get("from_report")
    if report:
        finding = _one(wanted, findings_in_report(Path(report)), f"in {report}")
    else:
        finding = _checked_finding(wanted, options, environ)
    target = waiver_file(options)
    text = entry_text(finding, terms, today)
    add_entry(target, text)
    stream.write(f"{target}: waived {finding.id} until {terms.expires}\n{text}")
    _warn_if_unread(target, options, environ)
    return int(ExitCode.OK)


def entry_terms(options: Mapping[str, Any], today: datetime.date) -> Terms:
    """--owner, --reason and --expires, each checked; every problem in one error."""
    owner = " ".join(str(options.get("owner") or "").split())
    reason = " ".join(str(options.get("reason") or "").split())
    expires = str(options.get("expires") or "").strip()
    problems = [
        *(["--owner is blank; name who answers for it"] if not owner else []),
        *(["--reason is blank; say why the finding is accepted"] if not reason else []),
    ]
    date = parse_day(expires)
    if date is None:
        problems.append(f"--expires {expires!r} is not a date; write YYYY-MM-DD")
    elif date < today:
        problems.append(f"--expires {date} is past (today is {today}, UTC)")
    if problems or date is None:
        raise WaiveError("; ".join(problems))
    return Terms(owner, reason, date)


def finding_id(text: str) -> str:
    """The id as findings print it (``TFD-`` and lower-case hex), however typed."""
    match = _ID.match(text.strip())
    if match is None:
        msg = f"{text!r} is not a finding id; ids look like TFD-0123456789"
        raise WaiveError(f"{msg} and every report prints them")
    return f"TFD-{match.group(1).lower()}"


# -- finding the finding -----------------------------------------------------------


def _one(wanted: str, findings: list[Waivable], where: str) -> Waivable:
    found = next((item for item in findings if item.id == wanted), None)
    if found is None:
        count = f"{len(findings)} finding" + ("" if len(findings) == 1 else "s")
        raise WaiveError(f"{wanted} is not among the {count} {where}")
    if found.stale_waiver:
        msg = f"{wanted} reports the waiver at {found.stale_waiver}"
        raise WaiveError(f"{msg}; renew or remove that entry instead")
    if found.waived_by:
        msg = f"{wanted} is already waived by the entry at {found.waived_by}"
        raise WaiveError(f"{msg}; edit that entry to change it")
    return found


def _checked_finding(
    wanted: str, options: Mapping[str, Any], environ: Mapping[str, str]
) -> Waivable:
    """The finding in a check run with the options given, as ``check`` would run it."""
    from tfdrift_hook.check_command import build_request, load_rules
    from tfdrift_hook.pipeline import run_check
    from tfdrift_hook.plugin_manager import build_plugin_manager

    plugins = build_plugin_manager(environ)
    request = build_request(
        options, environ, datetime.datetime.now(datetime.timezone.utc)
    )
    result = run_check(request, plugins.manager, load_rules(plugins, request))
    findings = [_from_finding(finding) for finding in result.findings]
    try:
        return _one(wanted, findings, "of this check")
    except WaiveError as exc:
        if result.complete or any(item.id == wanted for item in findings):
            raise
        problems = "; ".join(str(problem) for problem in result.problems.items)
        msg = f"{exc}, which could not read everything ({problems})"
        raise WaiveError(msg, ExitCode.INCOMPLETE) from exc


def _from_finding(finding: Finding) -> Waivable:
    waiver = finding.waiver
    stale = finding.candidate.stale_waiver
    return Waivable(
        id=finding.id,
        rule=finding.rule.name,
        address=finding.address,
        event_id=finding.event.event_id,
        waived_by=waiver.source if waiver is not None else "",
        stale_waiver=stale.source if stale is not None else "",
    )


def findings_in_report(path: Path) -> list[Waivable]:
    """The findings of a ``--format json`` report, one JSON object a line.

    A line that is no finding costs only itself (logged); a file with no finding
    line at all is refused, since it is most likely another format's report.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the report ({exc})"
        raise WaiveError(f"{msg}; {_REPORT_FIX}") from exc

    findings: list[Waivable] = []
    skipped: list[int] = []
    for number, line in enumerate(lines, start=1):
        found = _report_line(line)
        if found is not None:
            findings.append(found)
        elif line.strip():
            skipped.append(number)
    if skipped and not findings:
        msg = f"{path}:{skipped[0]}: not a finding of a JSON-lines report"
        raise WaiveError(f"{msg}; {_REPORT_FIX}")
    if skipped:
        logger.warning("%s: lines %s are no finding; skipped", path, skipped)
    return findings


def _report_line(line: str) -> Waivable | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    if not isinstance(item, dict) or not item.get("id") or not item.get("rule"):
        return None

    waiver = item.get("waiver") if isinstance(item.get("waiver"), dict) else {}
    stale = (
        item.get("stale_waiver") if isinstance(item.get("stale_waiver"), dict) else {}
    )
    return Waivable(
        id=str(item["id"]),
        rule=str(item["rule"]),
        address=str(item["address"]) if item.get("address") else None,
        event_id=str(item["event_id"]) if item.get("event_id") else None,
        waived_by=str(waiver.get("source") or "") if waiver else "",
        stale_waiver=str(stale.get("source") or "") if stale else "",
    )


# -- writing the entry -------------------------------------------------------------


def waiver_file(options: Mapping[str, Any]) -> Path:
    """--file, else ``.tfdrift-waivers.yml`` in -C DIR, which every check reads."""
    given = options.get("waiver_file")
    if given:
        return Path(given)
    return Path(options.get("directory") or ".") / DEFAULT_FILE


def entry_text(finding: Waivable, terms: Terms, today: datetime.date) -> str:
    """The entry as YAML list item text, with a comment naming the finding.

    The address is written as the finding gives it: in a waiver's address only
    ``*`` and ``?`` are wildcards, so an instance key's brackets stand for
    themselves.
    """
    entry: dict[str, Any] = {"rule": finding.rule}
    if finding.address:
        entry["address"] = finding.address
    if finding.event_id:
        entry["event_id"] = finding.event_id
    entry.update(owner=terms.owner, reason=terms.reason, expires=terms.expires)
    body = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=10_000)
    return f"# {finding.id}, added by tfdrift-hook waive on {today}\n{body}"


def add_entry(target: Path, entry: str) -> None:
    """Add ``entry`` to the waiver file, or create it; the file is replaced whole,
    and only once the result reads back as one more waiver and no new problem."""
    existing = _existing_text(target)
    in_config = target.name in (".tfdrift.yml", ".tfdrift.yaml")
    text = insert_entry(existing, entry, str(target))
    before = read_waiver_file(target, in_config=in_config) if existing else None
    with _written_beside(target, text) as temporary:
        after = read_waiver_file(temporary, in_config=in_config)
        _check_result(target, temporary, before, after)
        _keep_mode(target, temporary)
        os.replace(temporary, target)


def _existing_text(target: Path) -> str:
    if not target.exists():
        return ""
    try:
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{target}: cannot read it ({exc})"
        raise WaiveError(f"{msg}; nothing was written") from exc


def insert_entry(text: str, entry: str, where: str) -> str:
    """``text`` with ``entry`` (a one-item YAML list) after its list's last item.

    The list is the document itself, or the ``waivers:`` value of a mapping (a
    ``waivers:`` key is added at the end of a mapping that has none). Nothing else
    of ``text`` changes, but an empty ``[]`` the entry replaces.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError) as exc:
        raise WaiveError(f"{where}: not valid YAML ({exc}); fix it first") from exc

    if root is None:
        return _joined(text, entry)
    if isinstance(root, yaml.MappingNode):
        return _into_mapping(text, root, entry, where)
    return _into_list(text, root, entry, where, 0)


def _into_mapping(text: str, root: yaml.MappingNode, entry: str, where: str) -> str:
    found = [(key, value) for key, value in root.value if key.value == "waivers"]
    if not found:
        return _joined(text, "waivers:\n" + _indented(entry, 2))

    key, value = found[0]
    if isinstance(value, yaml.ScalarNode) and value.value in ("", "~", "null"):
        if value.value:
            msg = f"{where}:{key.start_mark.line + 1}: waivers: is {value.value}"
            raise WaiveError(f"{msg}; leave it empty or write a list")
        return _after_line(text, key.start_mark.line, _indented(entry, 2))
    return _into_list(text, value, entry, where, key.start_mark.column + 2)


def _into_list(text: str, node: yaml.Node, entry: str, where: str, indent: int) -> str:
    line = f"{where}:{node.start_mark.line + 1}"
    if not isinstance(node, yaml.SequenceNode):
        msg = f"{line}: waivers are a YAML list, or a mapping with waivers:"
        raise WaiveError(f"{msg}; write '- rule: ...' entries")
    if node.flow_style and node.value:
        msg = f"{line}: the list is written in [...] form"
        raise WaiveError(f"{msg}; rewrite it as '- ' items to add entries")

    if node.flow_style:
        head = text[: node.start_mark.index].rstrip(" \t")
        body = _indented(entry, indent).rstrip("\n")
        return f"{head}\n{body}{text[node.end_mark.index :]}"
    end = node.value[-1].end_mark
    last = end.line if end.column > 0 else end.line - 1
    return _after_line(text, last, _indented(entry, node.start_mark.column))


def _after_line(text: str, line: int, addition: str) -> str:
    """``text`` with ``addition`` after its line ``line`` (from 0)."""
    lines = text.splitlines(keepends=True)
    head = "".join(lines[: line + 1])
    return _joined(head, addition) + "".join(lines[line + 1 :])


def _joined(text: str, addition: str) -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return text + addition


def _indented(text: str, indent: int) -> str:
    pad = " " * indent
    return "".join(pad + line for line in text.splitlines(keepends=True))


@contextmanager
def _written_beside(target: Path, text: str) -> Iterator[Path]:
    """A temporary file beside ``target`` holding ``text``, removed unless moved."""
    try:
        handle, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".yml"
        )
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        msg = f"{target}: cannot write beside it ({exc.strerror or exc})"
        raise WaiveError(f"{msg}; give --file a writable path") from exc
    try:
        yield Path(name)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def _check_result(
    target: Path, temporary: Path, before: WaiverLoad | None, after: WaiverLoad
) -> None:
    """The file with the entry must read as one more waiver and no new problem."""
    known = {str(problem) for problem in before.problems} if before else set()
    new = [
        str(problem).replace(str(temporary), str(target))
        for problem in after.problems
        if str(problem).replace(str(temporary), str(target)) not in known
    ]
    counted = len(before.waivers) if before else 0
    if new or len(after.waivers) != counted + 1:
        details = "; ".join(new) or "the entry did not read back as a waiver"
        raise WaiveError(f"{target}: not changed, the entry would break it: {details}")


def _keep_mode(target: Path, temporary: Path) -> None:
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(temporary, mode)
    except OSError as exc:
        logger.debug("%s: permissions not copied (%s)", target, exc)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _warn_if_unread(
    target: Path, options: Mapping[str, Any], environ: Mapping[str, str]
) -> None:
    """A --file no check reads waives nothing; say how to have it read."""
    from tfdrift_hook.config import load_settings
    from tfdrift_hook.waiver_files import waiver_files

    directory = Path(options.get("directory") or ".")
    try:
        settings = load_settings(options, environ, directory)
    except TfdriftError as exc:
        logger.debug("settings not read to tell whether check reads it: %s", exc)
        return
    read = [*waiver_files(directory, settings.waiver_files), settings.config_file]
    if not any(path is not None and _same(path, target) for path in read):
        logger.warning(
            "%s is not read by check; add it to waiver_files in .tfdrift.yml "
            "or pass --waivers %s",
            target,
            target,
        )


def _same(left: Path, right: Path) -> bool:
    try:
        return left.exists() and right.exists() and left.samefile(right)
    except OSError:
        return False
