"""The monitoring examples agree with the tool: every metric they query is emitted.

examples/grafana holds the dashboard, examples/prometheus the alert rules and
examples/terraform/monitoring the AWS-side alarms; nothing here needs Grafana,
Prometheus or terraform (the module's real apply is in tests/e2e).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from tests.kms_state import COVERAGE_CALLS
from tfdrift_hook.metrics import (
    CHECKS,
    DELETION_SCHEDULES,
    FINDINGS,
    LAST_SUCCESS,
    METRIC_NAMES,
    POLICY_CHANGES,
    ROTATION_CHANGES,
    STATE_TRANSITIONS,
)
from tfdrift_hook.rule_files import load_rule_files

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DASHBOARD = EXAMPLES / "grafana" / "tfdrift-kms-dashboard.json"
ALERTS = EXAMPLES / "prometheus" / "tfdrift-kms-alerts.yml"
MODULE = EXAMPLES / "terraform" / "monitoring"
BUILTIN_RULES = (
    Path(__file__).resolve().parent.parent / "tfdrift_hook" / "rules" / "builtin.yaml"
)

_METRIC = re.compile(r"\btfdrift_\w+")
_RULE_LABEL = re.compile(r'rule=~?"([^"]+)"')
#: A counter read as it should be: through increase() or rate() over a range.
_COUNTER_READ = re.compile(rf"\b(?:increase|rate)\(\s*{CHECKS}\b[^\[]*\[")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def alerts() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return {
        rule["alert"]: rule for group in document["groups"] for rule in group["rules"]
    }


def panel_queries(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    return {
        panel["title"]: [target["expr"] for target in panel["targets"]]
        for panel in dashboard["panels"]
    }


def test_every_metric_the_dashboard_queries_is_one_the_tool_emits(
    dashboard: dict[str, Any],
) -> None:
    queries = [expr for exprs in panel_queries(dashboard).values() for expr in exprs]
    variables = [
        variable["definition"]
        for variable in dashboard["templating"]["list"]
        if "definition" in variable
    ]

    used = {name for text in queries + variables for name in _METRIC.findall(text)}

    assert used <= set(METRIC_NAMES)
    assert {
        POLICY_CHANGES,
        DELETION_SCHEDULES,
        ROTATION_CHANGES,
        STATE_TRANSITIONS,
        FINDINGS,
        LAST_SUCCESS,
    } <= used


def test_each_coverage_metric_has_its_own_panel(dashboard: dict[str, Any]) -> None:
    queries = panel_queries(dashboard)

    assert queries["Key policy changes"][0].count(POLICY_CHANGES) == 1
    assert DELETION_SCHEDULES in queries["Key deletion schedules"][0]
    assert ROTATION_CHANGES in queries["Key rotation status changes"][0]
    assert STATE_TRANSITIONS in queries["Key state transitions"][0]
    assert FINDINGS in queries["Findings by rule"][0]


def test_the_dashboard_counts_checks_per_day_by_outcome(
    dashboard: dict[str, Any],
) -> None:
    [expr] = panel_queries(dashboard)["Checks per day by outcome"]

    # The family is tfdrift_kms_checks; what a query names is its sample, ..._total.
    assert CHECKS.endswith("_total")
    assert expr == f"sum by (outcome) (increase({CHECKS}[1d]))"


def test_the_counter_is_only_read_through_increase_or_rate(
    dashboard: dict[str, Any], alerts: dict[str, dict[str, Any]]
) -> None:
    queries = [expr for exprs in panel_queries(dashboard).values() for expr in exprs]
    queries += [rule["expr"] for rule in alerts.values()]

    # A raw counter only grows: a panel or alert on its value says nothing.
    for expr in queries:
        assert expr.count(CHECKS) == len(_COUNTER_READ.findall(expr)), expr


def test_the_dashboard_picks_its_prometheus_from_a_datasource_variable(
    dashboard: dict[str, Any],
) -> None:
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    # Importable as is: no data source of the author's Grafana is named anywhere.
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
    assert "__inputs" not in dashboard
    assert dashboard["id"] is None
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_metric_the_alert_rules_use_is_one_the_tool_emits(
    alerts: dict[str, dict[str, Any]],
) -> None:
    used = {name for rule in alerts.values() for name in _METRIC.findall(rule["expr"])}

    assert used <= set(METRIC_NAMES)


def test_the_alerts_of_the_coverage_document_carry_its_priorities(
    alerts: dict[str, dict[str, Any]],
) -> None:
    severities = {name: rule["labels"]["severity"] for name, rule in alerts.items()}

    assert severities["KmsKeyDeletionScheduledUnplanned"] == "critical"
    assert severities["KmsKeyPolicyGrantsExternalAccount"] == "critical"
    assert severities["KmsKeyPolicyModified"] == "critical"
    assert severities["KmsKeyRotationDisabled"] == "warning"
    assert severities["KmsKeyDisabledUnexpectedly"] == "warning"
    assert DELETION_SCHEDULES in alerts["KmsKeyDeletionScheduledUnplanned"]["expr"]
    assert 'to="disabled"' in alerts["KmsKeyRotationDisabled"]["expr"]
    assert 'to="Disabled"' in alerts["KmsKeyDisabledUnexpectedly"]["expr"]


def test_checks_that_stop_reporting_alert_from_the_last_success(
    alerts: dict[str, dict[str, Any]],
) -> None:
    expr = alerts["TfdriftChecksStoppedReporting"]["expr"]

    # No aggregation: each configuration (its constant labels) alerts on its own,
    # where a max over job and instance would wait until all of them stopped.
    assert expr == f"time() - {LAST_SUCCESS} > 2 * 86400"


def test_checks_that_keep_failing_alert_when_a_day_had_no_complete_one(
    alerts: dict[str, dict[str, Any]],
) -> None:
    expr = alerts["TfdriftChecksKeepFailing"]["expr"]

    assert f'increase({CHECKS}{{outcome="incomplete"}}[1d]) > 0' in expr
    assert (
        f'and ignoring (outcome) increase({CHECKS}{{outcome="complete"}}[1d]) == 0'
        in (expr)
    )


def test_the_rules_the_alerts_name_are_built_in_rules(
    alerts: dict[str, dict[str, Any]],
) -> None:
    names = {rule.name for rule in load_rule_files([BUILTIN_RULES]).rules}
    named = {
        name
        for rule in alerts.values()
        for pattern in _RULE_LABEL.findall(rule["expr"])
        for name in pattern.split("|")
    }

    assert named == {"kms_key_policy_external_grant", "kms_grant_to_external_principal"}
    assert named <= names


def test_the_module_watches_every_call_of_the_coverage_document() -> None:
    with (MODULE / "variables.tf").open(encoding="utf-8") as handle:
        variables = {
            name.strip('"'): body
            for block in hcl2.load(handle)["variable"]
            for name, body in block.items()
        }

    # python-hcl2 keeps the quotes of string literals.
    watched = {item.strip('"') for item in variables["event_names"]["default"]}
    critical = {
        item.strip('"') for item in variables["critical_event_names"]["default"]
    }

    assert watched >= COVERAGE_CALLS
    assert {"ScheduleKeyDeletion", "PutKeyPolicy"} <= critical <= watched
