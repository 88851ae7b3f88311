"""``tfdrift-hook rules list``: the rules a check judges by, and where each is from.

The rules are those of the plugins (the built-in rule file first), then the files of
``rules`` in ``.tfdrift.yml`` and ``--rules``, in that order; a later rule of the same
name replaces an earlier one, and ``enabled: false`` switches one off.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from tfdrift_hook.check_command import rules_in_force
from tfdrift_hook.config import load_settings
from tfdrift_hook.errors import ExitCode
from tfdrift_hook.plugin_manager import build_plugin_manager
from tfdrift_hook.priorities import severity
from tfdrift_hook.problems import Problems
from tfdrift_hook.rules import Rule


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
        "tags": list(rule.tags),
    }


def _table(rules: list[Rule]) -> str:
    """One line a rule: name, priority, source; switched-off rules say so."""
    width = max((len(rule.name) for rule in rules), default=4)
    lines = [f"{'rule':<{width}}  {'priority':<13}  source"]
    for rule in rules:
        priority = rule.priority if rule.enabled else f"{rule.priority} (off)"
        lines.append(f"{rule.name:<{width}}  {priority:<13}  {rule.source}")
    enabled = sum(1 for rule in rules if rule.enabled)
    lines.append(f"{len(rules)} rules, {enabled} enabled.")
    return "\n".join(lines) + "\n"
