"""``tfdrift-hook rules``: list the rules in force, validate rule files, test them.

The rules are those of the plugins (the built-in rule file first), then the files of
``rules`` in ``.tfdrift.yml`` and ``--rules``, in that order; a later rule of the same
name replaces an earlier one, ``append`` and ``override`` change it, and
``enabled: false`` switches one off.

``rules validate`` and ``rules test`` load the plugins' rule files and then the
files named, so that a team's file can use the built-in macros and lists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from tfdrift_hook.check_command import (
    add_inline_waivers,
    build_request,
    plugin_rule_files,
    rules_in_force,
)
from tfdrift_hook.config import load_settings
from tfdrift_hook.errors import ExitCode
from tfdrift_hook.findings import Finding
from tfdrift_hook.pipeline import run_check
from tfdrift_hook.plugin_manager import build_plugin_manager
from tfdrift_hook.priorities import severity
from tfdrift_hook.problems import Problems
from tfdrift_hook.rule_files import read_rule_files
from tfdrift_hook.rules import Rule, RuleSet


def run_rules_list(
    options: Mapping[str, Any], stream: TextIO, environ: Mapping[str, str]
) -> int:
    directory = Path(options.get("directory") or ".")
    settings = load_settings(options, environ, directory)
    problems = Problems()
    rules = rules_in_force(build_plugin_manager(environ), settings.rules, problems)
    ranked = sorted(rules.rules, key=lambda rule: (-severity(rule.priority), rule.name))
    if options.get("report_format") == "json":
        for rule in ranked:
            stream.write(json.dumps(_rule_json(rule)) + "\n")
    else:
        stream.write(_table(ranked))
    return int(ExitCode.INCOMPLETE if problems else ExitCode.OK)


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "priority": rule.priority,
        "enabled": rule.enabled,
        "source": rule.source,
        "amended": list(rule.amended),
        "tags": list(rule.tags),
    }


def _table(rules: list[Rule]) -> str:
    """One line a rule: name, priority, source; switched-off rules say so."""
    width = max((len(rule.name) for rule in rules), default=4)
    lines = [f"{'rule':<{width}}  {'priority':<13}  source"]
    for rule in rules:
        priority = rule.priority if rule.enabled else f"{rule.priority} (off)"
        lines.append(f"{rule.name:<{width}}  {priority:<13}  {_source(rule)}")
    enabled = sum(1 for rule in rules if rule.enabled)
    lines.append(f"{len(rules)} rules, {enabled} enabled.")
    return "\n".join(lines) + "\n"


def _source(rule: Rule) -> str:
    if not rule.amended:
        return rule.source
    return f"{rule.source}, changed at {', '.join(rule.amended)}"


# -- rules validate ------------------------------------------------------------------


def run_rules_validate(
    paths: Sequence[Path], stream: TextIO, environ: Mapping[str, str]
) -> int:
    """Every problem of the files, one a line; 0 when valid, 2 (bad input) if not."""
    problems = Problems()
    files = plugin_rule_files(build_plugin_manager(environ), problems)
    rule_set, found = read_rule_files([*files, *paths])
    for problem in found:
        stream.write(f"{problem}\n")
    if found:
        stream.write(f"{_counted(len(found), 'problem')}: not valid\n")
        return int(ExitCode.USAGE)

    counts = _counts(rule_set)
    stream.write(f"{counts}: valid\n")
    return int(ExitCode.INCOMPLETE if problems else ExitCode.OK)


def _counts(rule_set: RuleSet) -> str:
    return (
        f"{len(rule_set.rules)} rules, {len(rule_set.macros)} macros, "
        f"{len(rule_set.lists)} lists"
    )


# -- rules test ----------------------------------------------------------------------


def run_rules_test(
    rule_file: Path,
    options: Mapping[str, Any],
    stream: TextIO,
    environ: Mapping[str, str],
) -> int:
    """The check, judged by the rules in force and then ``rule_file``, told per rule.

    The rules in force are the plugins' (the built-in ones first) and the files of
    ``rules`` in ``.tfdrift.yml``, so that the file is tried as a check would load it.
    Each rule the file defines, overrides or switches is shown with the records it
    matched and its rendered output, or as matching nothing. 0 when the check read
    everything, 3 when it could not, 2 for a bad file or option.
    """
    plugins = build_plugin_manager(environ)
    request = build_request(options, environ, datetime.now(timezone.utc))
    loading = Problems()
    in_force = [path for path in request.rule_files if path != rule_file]
    rules = rules_in_force(plugins, [*in_force, rule_file], loading)
    request.problems.extend(loading.items)
    add_inline_waivers(request, rules)
    result = run_check(request, plugins.manager, rules)
    tested = [rule for rule in rules.rules if _written_in(rule, rule_file)]
    matches = {rule.name: _matches_of(rule, result.findings) for rule in tested}
    if options.get("report_format") == "json":
        _write_json(tested, matches, stream)
    else:
        _write_text(tested, matches, rule_file, stream)
    for problem in result.problems.items:
        stream.write(f"incomplete: {problem}\n")
    return int(ExitCode.INCOMPLETE if result.problems else ExitCode.OK)


def _written_in(rule: Rule, path: Path) -> bool:
    prefix = f"{path}:"
    return any(where.startswith(prefix) for where in (rule.source, *rule.amended))


def _matches_of(rule: Rule, findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": finding.event.event_id,
            "time": finding.event.timestamp,
            "event": finding.event.name,
            "address": finding.address,
            "resource": finding.resource,
            "output": finding.output,
            "id": finding.id,
            "waiver": finding.waiver.to_json() if finding.waiver else None,
        }
        for finding in findings
        if finding.rule is rule
    ]


def _write_json(
    rules: Sequence[Rule], matches: Mapping[str, list[dict[str, Any]]], stream: TextIO
) -> None:
    for rule in rules:
        line = {**_rule_json(rule), "matches": matches[rule.name]}
        stream.write(json.dumps(line) + "\n")


def _write_text(
    rules: Sequence[Rule],
    matches: Mapping[str, list[dict[str, Any]]],
    rule_file: Path,
    stream: TextIO,
) -> None:
    if not rules:
        stream.write(f"{rule_file} defines, overrides or switches no rule.\n")
        return

    for rule in rules:
        found = matches[rule.name]
        state = "" if rule.enabled else ", off"
        head = f"{rule.name} ({rule.priority}{state}, {_source(rule)})"
        stream.write(
            f"{head}: {_records(len(found)) if found else 'matched nothing'}\n"
        )
        for match in found:
            where = match["address"] or match["resource"] or "-"
            waived = "  (waived)" if match["waiver"] else ""
            stream.write(
                f"  {match['event_id']}  {match['time']}  {match['event']}  {where}"
                f"{waived}\n    {match['output']}\n"
            )
    matched = sum(1 for rule in rules if matches[rule.name])
    stream.write(f"{len(rules)} rules of {rule_file}, {matched} matched.\n")


def _records(count: int) -> str:
    return _counted(count, "record")


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
