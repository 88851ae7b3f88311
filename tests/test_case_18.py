"""Case 18 of cases.md: CloudTrail delivers the event minutes after the change.

A check polled right after the drift finds nothing; that must read as "not yet known"
(incomplete, exit 3), never as a clean result or an unknown actor. Once the event is
delivered it is attributed to Alice; the result stays incomplete until the window has
settled (the configurable delivery delay, here 20 minutes), and then it gates.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.fake_cloudtrail import serving
from tests.kms_state import KEY_1234, kms_key, write_state
from tfdrift_hook.check_command import load_rules
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.inventory import load_inventory
from tfdrift_hook.pipeline import CheckRequest, CheckResult, run_check
from tfdrift_hook.plugin_manager import build_plugin_manager
from tfdrift_hook.sources.lookup_events import LookupEventsSource
from tfdrift_hook.window import Window

SETTLE = timedelta(minutes=20)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


class _Poll:
    """The LookupEvents source as it would run at one moment of the case's timeline."""

    def __init__(self, url: str, window: Window, now: datetime) -> None:
        self.source = LookupEventsSource(
            ["us-west-2"], window, endpoint_url=url, now=lambda: now
        )

    @hookimpl
    def tfdrift_event_sources(self, request: CheckRequest) -> list[Any]:
        return [self.source]


def poll(url: str, state: Path, drift: datetime, at: datetime) -> CheckResult:
    # The window that explains the drift: back an hour from when it was seen.
    window = Window(drift - timedelta(hours=1), drift)
    plugins = build_plugin_manager({})
    plugins.manager.register(_Poll(url, window, at), name="poll")
    request = CheckRequest(
        inventory=load_inventory(state),
        window=window,
        settled_until=at - SETTLE,
        require_complete=True,
    )
    return run_check(request, plugins.manager, load_rules(plugins, request))


def test_a_late_event_is_pending_then_attributed_then_settled(
    real_inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "t")):
        monkeypatch.setenv(name, value)
    case = json.loads((real_inputs / "case-18.json").read_text(encoding="utf-8"))
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    drift = _time(case["drift_detected_at"])
    results = []
    with serving() as fake:
        for step in case["polls"]:
            fake.seed(step["events"])
            results.append(poll(fake.url, state, drift, _time(step["at"])))
        late = poll(fake.url, state, drift, drift + SETTLE + timedelta(minutes=1))

    first, second, delivered = results
    for pending in (first, second):
        assert pending.findings == []
        assert int(pending.exit_code()) == 3  # not clean: the window has not settled
        assert "not settled" in str(pending.problems.items[0])
    assert [f.event.actor.name for f in delivered.findings] == ["Alice"]
    assert delivered.findings[0].event.timestamp == "2022-09-01T20:06:16Z"
    assert int(delivered.exit_code()) == 3
    assert int(late.exit_code()) == 1  # settled: the critical policy change gates
