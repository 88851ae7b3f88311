"""``--metrics`` and ``--pushgateway``: what the metrics say, and where they go.

The scenario: two managed keys in us-west-2 of account 111122223333. Alice opens the
app key's policy to another account, switches its rotation off, disables the logs key
and enables it again, then schedules the logs key's deletion; the pipeline, trusted,
updates the app key's description. The expected counts below are read off that list.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.kms_state import (
    ACCOUNT,
    KEY_0987,
    KEY_1234,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import PIPELINE, PIPELINE_ROLE, TERRAFORM_AGENT, record
from tfdrift_hook.metrics import METRIC_NAMES, WAIVED_FINDINGS

EXTERNAL = "arn:aws:iam::444455556666:root"
SINCE = "2026-11-30T00:00:00Z"
UNTIL = "2026-11-30T12:00:00Z"
WHERE = {"account": ACCOUNT, "region": "us-west-2"}
APP = {**WHERE, "address": "aws_kms_key.app"}
LOGS = {**WHERE, "address": "aws_kms_key.logs"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def opened_policy() -> str:
    root = f"arn:aws:iam::{ACCOUNT}:root"
    statements = [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": root}},
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": EXTERNAL}},
    ]
    for statement, actions in zip(statements, ("kms:*", "kms:Decrypt"), strict=True):
        statement.update(Action=actions, Resource="*")
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return write_state(tmp_path, kms_key("app", KEY_1234), kms_key("logs", KEY_0987))


@pytest.fixture
def events(tmp_path: Path) -> Path:
    policy = {"keyId": KEY_1234, "policyName": "default", "policy": opened_policy()}
    return write_records(
        tmp_path,
        "events.json",
        record("PutKeyPolicy", policy, "2026-11-30T10:00:00Z", "e1"),
        record("DisableKeyRotation", {"keyId": KEY_1234}, "2026-11-30T10:10:00Z", "e2"),
        record("DisableKey", {"keyId": KEY_0987}, "2026-11-30T10:20:00Z", "e3"),
        record("EnableKey", {"keyId": KEY_0987}, "2026-11-30T10:30:00Z", "e4"),
        record(
            "ScheduleKeyDeletion",
            {"keyId": KEY_0987, "pendingWindowInDays": 7},
            "2026-11-30T10:40:00Z",
            "e5",
        ),
        record(
            "UpdateKeyDescription",
            {"keyId": KEY_1234, "description": "app key"},
            "2026-11-30T10:50:00Z",
            "e6",
            identity=PIPELINE,
            agent=TERRAFORM_AGENT,
        ),
    )


def check(state: Path, *extra: str | Path, events: Path | None = None) -> Any:
    arguments: list[str | Path] = ["check", "--state", state, "--format", "json"]
    if events is not None:
        arguments += ["--events", events]
    arguments += ["--trusted-principal", PIPELINE_ROLE, "--since", SINCE]
    return run_cli(*arguments, "--until", UNTIL, "--fail-on", "critical", *extra)


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def of(found: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {
        labels: value for (metric, labels), value in found.items() if metric == name
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_metrics_file_holds_the_counts_the_findings_imply(
    state: Path, events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "textfile" / "tfdrift.prom"

    run = check(state, "--metrics", path, events=events)

    assert run.exit_code == 1
    found = samples(path.read_text(encoding="utf-8"))
    prefix = "tfdrift_kms_"
    assert of(found, f"{prefix}key_policy_changes_in_window") == {labels(**APP): 1}
    assert of(found, f"{prefix}key_deletion_schedules_in_window") == {labels(**LOGS): 1}
    assert of(found, f"{prefix}key_rotation_changes_in_window") == {
        labels(**APP, **{"from": "enabled", "to": "disabled"}): 1
    }
    assert of(found, f"{prefix}key_state_transitions_in_window") == {
        labels(**LOGS, **{"from": "Enabled", "to": "Disabled"}): 1,
        labels(**LOGS, **{"from": "Disabled", "to": "Enabled"}): 1,
        labels(**LOGS, **{"from": "Enabled", "to": "PendingDeletion"}): 1,
    }
    assert of(found, f"{prefix}findings_in_window") == {
        labels(**APP, rule="kms_key_policy_modified", priority="critical"): 1,
        labels(**APP, rule="kms_key_policy_external_grant", priority="critical"): 1,
        labels(**APP, rule="kms_key_rotation_disabled", priority="error"): 1,
        labels(**LOGS, rule="kms_key_disabled", priority="error"): 1,
        labels(**LOGS, rule="kms_key_enabled", priority="notice"): 1,
        labels(**LOGS, rule="kms_key_deletion_scheduled", priority="critical"): 1,
    }
    # The logs key's state went Enabled, Disabled, Enabled, PendingDeletion: it ends
    # away from where it started, so none of its changes counts as reverted.
    assert of(found, f"{prefix}write_events_in_window") == {
        labels(**WHERE, status="out_of_band"): 5,
        labels(**WHERE, status="in_band"): 1,
    }
    assert of(found, f"{prefix}window_start_timestamp_seconds") == {
        labels(): epoch(SINCE)
    }
    assert of(found, f"{prefix}window_end_timestamp_seconds") == {
        labels(): epoch(UNTIL)
    }
    assert of(found, f"{prefix}check_complete") == {labels(): 1}
    assert of(found, f"{prefix}check_problems") == {labels(): 0}
    checked = found[(f"{prefix}check_timestamp_seconds", labels())]
    assert found[(f"{prefix}last_successful_check_timestamp_seconds", labels())] == (
        checked
    )
    # Every family but the waived findings, of which this check has none.
    assert {name for name, _ in found} == set(METRIC_NAMES) - {WAIVED_FINDINGS}


def test_a_waived_finding_is_counted_apart_and_its_change_not_at_all(
    state: Path, events: Path, tmp_path: Path
) -> None:
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "- rule: kms_key_rotation_disabled\n"
        "  address: aws_kms_key.app\n"
        "  owner: team-crypto\n"
        "  reason: rotation handled by re-encryption\n"
        "  expires: 2099-01-01\n",
        encoding="utf-8",
    )
    path = tmp_path / "tfdrift.prom"

    check(state, "--metrics", path, "--waivers", waivers, events=events)

    found = samples(path.read_text(encoding="utf-8"))
    rotation = labels(**APP, rule="kms_key_rotation_disabled", priority="error")
    assert of(found, WAIVED_FINDINGS) == {rotation: 1}
    assert rotation not in of(found, "tfdrift_kms_findings_in_window")
    # Alice's DisableKeyRotation (e2) was judged by that rule alone: no rotation
    # change is counted, and one out-of-band write fewer than the five.
    assert of(found, "tfdrift_kms_key_rotation_changes_in_window") == {}
    assert of(found, "tfdrift_kms_write_events_in_window") == {
        labels(**WHERE, status="out_of_band"): 4,
        labels(**WHERE, status="in_band"): 1,
    }


def test_the_report_is_written_before_the_metrics_and_unchanged_by_them(
    state: Path, events: Path, tmp_path: Path
) -> None:
    plain = check(state, events=events)
    with_metrics = check(state, "--metrics", tmp_path / "m.prom", events=events)

    assert with_metrics.stdout == plain.stdout
    assert with_metrics.exit_code == plain.exit_code == 1


def test_no_metrics_are_written_unless_asked(state: Path, tmp_path: Path) -> None:
    run = check(state, events=write_records(tmp_path, "none.json"))

    assert run.exit_code == 0
    assert list(tmp_path.glob("*.prom")) == []


def test_an_incomplete_check_carries_the_last_success_forward(
    state: Path, events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tfdrift.prom"
    check(state, "--metrics", path, events=events)
    success = samples(path.read_text())[
        ("tfdrift_kms_last_successful_check_timestamp_seconds", labels())
    ]
    broken = tmp_path / "broken.json"
    broken.write_text('{"Records": [{"eventName": "DisableKey",}]}', encoding="utf-8")

    run = check(state, "--metrics", path, "--events", broken, events=events)

    assert run.exit_code == 3
    found = samples(path.read_text())
    assert found[("tfdrift_kms_check_complete", labels())] == 0
    assert found[("tfdrift_kms_check_problems", labels())] == 1
    assert (
        found[("tfdrift_kms_last_successful_check_timestamp_seconds", labels())]
        == success
    )
    assert found[("tfdrift_kms_check_timestamp_seconds", labels())] >= success


def test_the_settings_file_names_the_textfile_and_its_labels(
    state: Path, events: Path, tmp_path: Path
) -> None:
    config = tmp_path / "ci" / ".tfdrift.yml"
    config.parent.mkdir()
    config.write_text(
        "metrics:\n  textfile: out/kms.prom\n  labels: [stack=payments-prod]\n",
        encoding="utf-8",
    )

    run = check(state, "--config", config, events=events)

    assert run.exit_code == 1
    found = samples((tmp_path / "ci" / "out" / "kms.prom").read_text())
    assert found[("tfdrift_kms_check_complete", labels(stack="payments-prod"))] == 1
    assert of(found, "tfdrift_kms_key_policy_changes_in_window") == {
        labels(**APP, stack="payments-prod"): 1
    }


def test_a_label_the_metrics_use_themselves_is_refused(
    state: Path, tmp_path: Path
) -> None:
    config = tmp_path / ".tfdrift.yml"
    config.write_text("metrics:\n  labels: [address=mine]\n", encoding="utf-8")

    run = check(state, "--config", config, events=write_records(tmp_path, "e.json"))

    assert run.exit_code == 2
    assert "metrics.labels: 'address' is a label the metrics set" in run.stderr


def test_a_pushgateway_that_is_no_url_stops_before_the_check(
    state: Path, tmp_path: Path
) -> None:
    run = check(state, "--pushgateway", "gateway:9091", events=tmp_path / "absent")

    assert run.exit_code == 2
    assert (
        "--pushgateway 'gateway:9091' is not a Pushgateway URL (it does not start "
        "with http:// or https://)" in run.stderr
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:abc", "Port could not be cast to integer value"),
        ("http://exa mple:9091", "it holds a blank"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://", "it names no host"),
    ],
)
def test_a_pushgateway_url_that_cannot_be_used_stops_before_the_check(
    state: Path, events: Path, url: str, why: str
) -> None:
    run = check(state, "--pushgateway", url, events=events)

    assert run.exit_code == 2
    assert run.stdout == ""
    assert f"--pushgateway {url!r} is not a Pushgateway URL ({why}" in run.stderr


# -- a Pushgateway on loopback -----------------------------------------------------


class Gateway(ThreadingHTTPServer):
    """Records each push; serves ``/metrics`` and answers pushes with ``status``."""

    def __init__(self, status: int = 200, exposition: str = "") -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.status = status
        self.exposition = exposition
        self.pushes: list[tuple[str, str, str]] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        self.server.pushes.append(("PUT", self.path, body))
        self.send_response(self.server.status)
        self.end_headers()

    def do_GET(self) -> None:
        body = self.server.exposition.encode("utf-8")
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the pushes, not the log."""


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_push_reaches_the_gateway_with_the_metrics_of_the_file(
    state: Path, events: Path, tmp_path: Path, gateway: Gateway
) -> None:
    path = tmp_path / "tfdrift.prom"
    config = tmp_path / ".tfdrift.yml"
    config.write_text(
        "metrics:\n  job: kms-drift\n  labels: [stack=payments-prod]\n",
        encoding="utf-8",
    )

    run = check(
        state,
        "--config",
        config,
        "--metrics",
        path,
        "--pushgateway",
        gateway.url,
        events=events,
    )

    assert run.exit_code == 1
    [(method, where, body)] = gateway.pushes
    assert method == "PUT"
    assert where == "/metrics/job/kms-drift/stack/payments-prod"
    assert body == path.read_text(encoding="utf-8")
    assert of(samples(body), "tfdrift_kms_key_deletion_schedules_in_window") == {
        labels(**LOGS, stack="payments-prod"): 1
    }


def test_a_push_that_fails_makes_the_run_incomplete_and_keeps_the_report(
    state: Path, events: Path, gateway: Gateway
) -> None:
    gateway.status = 503
    report = check(state, events=events).stdout

    run = check(state, "--pushgateway", gateway.url, events=events)

    assert run.exit_code == 3
    assert run.stdout == report
    assert f"pushgateway {gateway.url}: the metrics were not pushed (HTTP 503" in (
        run.stderr
    )
    assert "check --pushgateway (or metrics.pushgateway)" in run.stderr


def test_an_unreachable_gateway_is_a_problem_not_a_crash(
    state: Path, events: Path, gateway: Gateway
) -> None:
    url = gateway.url
    gateway.shutdown()
    gateway.server_close()

    run = check(state, "--pushgateway", url, events=events)

    assert run.exit_code == 3
    assert f"pushgateway {url}: the metrics were not pushed" in run.stderr
    assert len(run.findings) == 6


def test_an_incomplete_run_reads_the_last_success_back_from_the_gateway(
    state: Path, tmp_path: Path, gateway: Gateway
) -> None:
    gateway.exposition = (
        "# TYPE tfdrift_kms_last_successful_check_timestamp_seconds gauge\n"
        'tfdrift_kms_last_successful_check_timestamp_seconds{instance="",'
        'job="other"} 1.6e+09\n'
        'tfdrift_kms_last_successful_check_timestamp_seconds{instance="",'
        'job="tfdrift-hook"} 1.7e+09\n'
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")

    run = check(state, "--pushgateway", gateway.url, events=broken)

    assert run.exit_code == 3
    [(_, where, body)] = gateway.pushes
    assert where == "/metrics/job/tfdrift-hook"
    found = samples(body)
    assert found[("tfdrift_kms_last_successful_check_timestamp_seconds", labels())] == (
        1.7e9
    )
    assert found[("tfdrift_kms_check_complete", labels())] == 0


def test_pre_plan_writes_the_metrics_of_its_check(
    state: Path, events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "pre-plan.prom"

    run = run_cli(
        "pre-plan",
        "--state",
        state,
        "--events",
        events,
        "--trusted-principal",
        PIPELINE_ROLE,
        "--format",
        "json",
        "--metrics",
        path,
    )

    assert run.exit_code == 1
    found = samples(path.read_text(encoding="utf-8"))
    assert of(found, "tfdrift_kms_key_policy_changes_in_window") == {labels(**APP): 1}


def test_pre_plan_refuses_bad_metrics_settings_before_it_checks_anything(
    state: Path, events: Path, tmp_path: Path
) -> None:
    config = tmp_path / ".tfdrift.yml"
    config.write_text("metrics:\n  labels: [account=mine]\n", encoding="utf-8")

    run = run_cli("pre-plan", "--config", config, "--state", state, "--events", events)

    assert run.exit_code == 2
    assert run.stdout == ""
    assert "metrics.labels: 'account' is a label the metrics set themselves" in (
        run.stderr
    )


def test_a_check_without_a_window_end_covers_up_to_the_delivery_delay(
    state: Path, tmp_path: Path
) -> None:
    path = tmp_path / "m.prom"
    before = datetime.now(timezone.utc).timestamp()

    run_cli(
        "check",
        "--state",
        state,
        "--events",
        write_records(tmp_path, "e.json"),
        "--metrics",
        path,
    )

    found = samples(path.read_text(encoding="utf-8"))
    end = found[("tfdrift_kms_window_end_timestamp_seconds", labels())]
    checked = found[("tfdrift_kms_check_timestamp_seconds", labels())]
    # settle_minutes defaults to 15: CloudTrail may still deliver the last 15 min.
    assert checked - end == pytest.approx(15 * 60, abs=5)
    assert checked >= before
    assert ("tfdrift_kms_window_start_timestamp_seconds", labels()) not in found


def test_a_metrics_file_that_cannot_be_written_makes_the_run_incomplete(
    state: Path, events: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    report = check(state, events=events).stdout

    run = check(state, "--metrics", blocker / "kms.prom", events=events)

    assert run.exit_code == 3
    assert run.stdout == report
    assert f"{blocker / 'kms.prom'}: the metrics file cannot be written" in run.stderr


def test_a_disable_undone_in_the_window_counts_as_reverted(
    state: Path, tmp_path: Path
) -> None:
    events = write_records(
        tmp_path,
        "undone.json",
        record("DisableKey", {"keyId": KEY_1234}, "2026-11-30T10:00:00Z", "d1"),
        record("EnableKey", {"keyId": KEY_1234}, "2026-11-30T10:05:00Z", "e1"),
    )
    path = tmp_path / "m.prom"

    check(state, "--metrics", path, events=events)

    found = samples(path.read_text(encoding="utf-8"))
    assert of(found, "tfdrift_kms_write_events_in_window") == {
        labels(**WHERE, status="reverted"): 2
    }
    assert of(found, "tfdrift_kms_key_state_transitions_in_window") == {
        labels(**APP, **{"from": "Enabled", "to": "Disabled"}): 1,
        labels(**APP, **{"from": "Disabled", "to": "Enabled"}): 1,
    }


# -- the counter of checks, carried from run to run ----------------------------------


def checks(found: Samples, **constant: str) -> dict[str, float]:
    """``tfdrift_kms_checks_total`` by outcome, for series of these constant labels."""
    counted = of(found, "tfdrift_kms_checks_total")
    return {
        dict(series)["outcome"]: value
        for series, value in counted.items()
        if series - {("outcome", dict(series)["outcome"])} == labels(**constant)
    }


def broken_events(tmp_path: Path) -> Path:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    return broken


def test_each_check_adds_one_to_its_outcome_and_keeps_the_other(
    state: Path, events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tfdrift.prom"

    check(state, "--metrics", path, events=events)
    first = samples(path.read_text(encoding="utf-8"))
    check(state, "--metrics", path, events=events)
    second = samples(path.read_text(encoding="utf-8"))
    run = check(state, "--metrics", path, events=broken_events(tmp_path))
    third = samples(path.read_text(encoding="utf-8"))

    assert checks(first) == {"complete": 1, "incomplete": 0}
    assert checks(second) == {"complete": 2, "incomplete": 0}
    assert run.exit_code == 3
    assert checks(third) == {"complete": 2, "incomplete": 1}
    success = "tfdrift_kms_last_successful_check_timestamp_seconds"
    assert third[(success, labels())] == second[(success, labels())]


def test_the_counter_is_written_as_a_counter_without_created_samples(
    state: Path, events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tfdrift.prom"

    check(state, "--metrics", path, events=events)

    text = path.read_text(encoding="utf-8")
    assert "# TYPE tfdrift_kms_checks_total counter\n" in text
    assert 'tfdrift_kms_checks_total{outcome="complete"} 1.0\n' in text
    assert 'tfdrift_kms_checks_total{outcome="incomplete"} 0.0\n' in text
    assert "_created" not in text


def test_a_previous_file_that_is_garbage_starts_the_counter_from_zero(
    state: Path, events: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tfdrift.prom"
    path.write_text("tfdrift_kms_checks_total{outcome= what\n", encoding="utf-8")

    run = check(state, "--metrics", path, events=events)

    assert run.exit_code == 1
    assert checks(samples(path.read_text(encoding="utf-8"))) == {
        "complete": 1,
        "incomplete": 0,
    }
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().startswith(
        f"{path}: cannot parse the previous metrics: "
    )
    assert "not carried forward" in warning.getMessage()


def test_a_previous_file_of_other_labels_is_not_counted_on(
    state: Path, events: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tfdrift.prom"
    path.write_text(
        "# TYPE tfdrift_kms_checks_total counter\n"
        'tfdrift_kms_checks_total{outcome="complete",stack="other"} 7\n',
        encoding="utf-8",
    )

    check(state, "--metrics", path, events=events)

    assert checks(samples(path.read_text(encoding="utf-8"))) == {
        "complete": 1,
        "incomplete": 0,
    }


#: The gateway's exposition of the counter: the group of this run (job tfdrift-hook,
#: no labels: an empty instance) holds 4 complete and 2 incomplete checks; the
#: groups of another job and of another configuration must not be read.
GATEWAY_CHECKS = (
    'tfdrift_kms_checks_total{instance="",job="tfdrift-hook",outcome="complete"} 4\n'
    'tfdrift_kms_checks_total{instance="",job="tfdrift-hook",outcome="incomplete"} 2\n'
    'tfdrift_kms_checks_total{instance="",job="other",outcome="complete"} 40\n'
    'tfdrift_kms_checks_total{instance="",job="tfdrift-hook",outcome="complete",'
    'stack="other"} 400\n'
)


@pytest.mark.parametrize(
    "type_line",
    [
        "# TYPE tfdrift_kms_checks_total counter\n",
        "# TYPE tfdrift_kms_checks counter\n",
        "",
    ],
    ids=["type-names-the-sample", "type-names-the-family", "untyped"],
)
def test_a_push_carries_the_counter_on_from_the_gateway(
    state: Path, events: Path, gateway: Gateway, type_line: str
) -> None:
    gateway.exposition = type_line + GATEWAY_CHECKS

    run = check(state, "--pushgateway", gateway.url, events=events)

    assert run.exit_code == 1
    [(_, where, body)] = gateway.pushes
    assert where == "/metrics/job/tfdrift-hook"
    assert checks(samples(body)) == {"complete": 5, "incomplete": 2}


def test_an_incomplete_push_adds_to_incomplete_and_keeps_the_last_success(
    state: Path, tmp_path: Path, gateway: Gateway
) -> None:
    gateway.exposition = GATEWAY_CHECKS + (
        'tfdrift_kms_last_successful_check_timestamp_seconds{instance="",'
        'job="tfdrift-hook"} 1.7e+09\n'
    )

    run = check(state, "--pushgateway", gateway.url, events=broken_events(tmp_path))

    assert run.exit_code == 3
    [(_, _, body)] = gateway.pushes
    found = samples(body)
    assert checks(found) == {"complete": 4, "incomplete": 3}
    assert found[("tfdrift_kms_last_successful_check_timestamp_seconds", labels())] == (
        1.7e9
    )


def test_the_file_and_the_gateway_each_give_the_larger_count(
    state: Path, events: Path, tmp_path: Path, gateway: Gateway
) -> None:
    # The last push failed: the file is one complete check ahead of the gateway.
    path = tmp_path / "tfdrift.prom"
    path.write_text(
        'tfdrift_kms_checks_total{outcome="complete"} 5\n'
        'tfdrift_kms_checks_total{outcome="incomplete"} 2\n',
        encoding="utf-8",
    )
    gateway.exposition = GATEWAY_CHECKS

    run = check(state, "--metrics", path, "--pushgateway", gateway.url, events=events)

    assert run.exit_code == 1
    [(_, _, body)] = gateway.pushes
    assert checks(samples(body)) == {"complete": 6, "incomplete": 2}
    assert body == path.read_text(encoding="utf-8")


def test_a_gateway_that_cannot_be_read_counts_on_from_the_file(
    state: Path, events: Path, tmp_path: Path, gateway: Gateway
) -> None:
    path = tmp_path / "tfdrift.prom"
    path.write_text(
        'tfdrift_kms_checks_total{outcome="complete"} 3\n'
        'tfdrift_kms_checks_total{outcome="incomplete"} 1\n',
        encoding="utf-8",
    )
    gateway.exposition = "\xff garbage {"

    run = check(state, "--metrics", path, "--pushgateway", gateway.url, events=events)

    assert run.exit_code == 1
    assert checks(samples(path.read_text(encoding="utf-8"))) == {
        "complete": 4,
        "incomplete": 1,
    }
