"""Correlation of a plan's drift with the changes the events made.

The moto plan (``real-inputs/terraform/tf1.11-aws5.100-moto/plan.json``) shows
``aws_kms_key.main`` disabled, its rotation turned off, its description, policy and
tags changed; ``aws_kms_key.doomed`` gone (scheduled for deletion); and
``aws_kms_alias.main`` moved to the secondary key. The records below are written for
the tests: they make some of those changes and leave others out, so the expected
labels follow from which attribute each record moved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import write_records
from tfdrift_hook.check_command import load_rules
from tfdrift_hook.correlation import correlate
from tfdrift_hook.findings import Candidate
from tfdrift_hook.inventory import load_inventory
from tfdrift_hook.pipeline import CheckRequest, run_check
from tfdrift_hook.plan_drift import load_plan
from tfdrift_hook.plugin_manager import build_plugin_manager
from tfdrift_hook.resolution import Subject, Target
from tfdrift_hook.trail_coverage import COVERAGE_GAP, TrailGap, gap_event
from tfdrift_hook.trust import ApplyWindow, Trust
from tfdrift_hook.window import Window

MOTO_PLAN = Path("terraform/tf1.11-aws5.100-moto/plan.json")
ACCOUNT = "123456789012"
REGION = "us-east-1"
MAIN_KEY = "c98b59bd-75c3-4967-b747-bd70577b73a0"
SECONDARY_KEY = "bb630b43-af6c-47e7-89d5-95717dc07f17"
DOOMED_KEY = "72af7d32-b019-412b-ac2e-fe894e2f19f5"
START = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def record(
    name: str, request: dict[str, Any], minute: int, response: Any = None
) -> dict[str, Any]:
    """A console call by Alice, ``minute`` minutes after 10:00."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
            "accountId": ACCOUNT,
            "userName": "Alice",
        },
        "eventTime": (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "eventID": f"event-{minute:02d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }


def moto_records() -> list[dict[str, Any]]:
    """Four of the moto plan's out-of-band changes; rotation and policy are missing."""
    return [
        record("DisableKey", {"keyId": MAIN_KEY}, 1),
        record(
            "TagResource",
            {
                "keyId": MAIN_KEY,
                "tags": [
                    {"tagKey": "Backdoor", "tagValue": "yes"},
                    {"tagKey": "Env", "tagValue": "prod"},
                ],
            },
            2,
        ),
        record(
            "UpdateKeyDescription",
            {"keyId": MAIN_KEY, "description": "changed out of band"},
            3,
        ),
        record(
            "ScheduleKeyDeletion",
            {"keyId": DOOMED_KEY, "pendingWindowInDays": 7},
            4,
            {"keyId": DOOMED_KEY, "keyState": "PendingDeletion"},
        ),
        record(
            "UpdateAlias",
            {"aliasName": "alias/probe-main", "targetKeyId": SECONDARY_KEY},
            5,
        ),
        # Turned on and off again: the secondary key ends as it started.
        record("EnableKeyRotation", {"keyId": SECONDARY_KEY}, 6),
        record("DisableKeyRotation", {"keyId": SECONDARY_KEY}, 7),
    ]


def checked(
    plan_path: Path,
    events: Path,
    window: Window | None = None,
    trust: Trust | None = None,
) -> tuple[CheckRequest, list[Candidate]]:
    """The candidates the events make, as the check judged them, and its request."""
    plugins = build_plugin_manager({})
    request = CheckRequest(
        inventory=load_inventory(plan_path),
        event_paths=(events,),
        window=window or Window(),
        trust=trust or Trust(),
    )
    result = run_check(request, plugins.manager, load_rules(plugins, request))
    return request, _unique(finding.candidate for finding in result.findings)


def _unique(candidates: Iterable[Candidate]) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    for candidate in candidates:
        found.setdefault(id(candidate), candidate)
    return list(found.values())


def by_event(candidates: list[Candidate]) -> dict[str, Candidate]:
    return {candidate.event.name: candidate for candidate in candidates}


def drift_of(candidates: list[Candidate]) -> dict[tuple[str, str], Candidate]:
    return {
        (str(c.address), c.changes[0].attribute): c
        for c in candidates
        if c.status == "unexplained_drift"
    }


@pytest.fixture
def moto(real_inputs: Path, tmp_path: Path) -> tuple[Path, Path]:
    events = write_records(tmp_path, "events.json", *moto_records())
    return real_inputs / MOTO_PLAN, events


# -- labels ------------------------------------------------------------------------


def test_case_13_both_changes_of_the_logs_key_are_explained(real_inputs: Path) -> None:
    plan_path = real_inputs / "case-13.plan.json"
    request, candidates = checked(plan_path, real_inputs / "case-13.events.json")

    new = correlate(load_plan(plan_path), candidates, request)

    # The app key's reordered policy is cosmetic: nothing left to explain.
    assert new == []
    labels = {c.event.name: c.context["plan"] for c in candidates}
    assert labels == {"DisableKeyRotation": "explained", "TagResource": "explained"}
    assert {c.address for c in candidates} == {"module.logs.aws_kms_key.this[0]"}


def test_moto_changes_the_plan_shows_are_explained(moto: tuple[Path, Path]) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    correlate(load_plan(plan_path), candidates, request)

    found = by_event(candidates)
    for name in (
        "DisableKey",
        "TagResource",
        "UpdateKeyDescription",
        "ScheduleKeyDeletion",
        "UpdateAlias",
    ):
        assert found[name].context["plan"] == "explained", name
    # ScheduleKeyDeletion moves key_state and deletion_date; the gone key explains both.
    assert "plan_attributes" not in found["ScheduleKeyDeletion"].context


def test_moto_rotation_turned_on_and_off_is_net_zero(moto: tuple[Path, Path]) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    correlate(load_plan(plan_path), candidates, request)

    found = by_event(candidates)
    for name in ("EnableKeyRotation", "DisableKeyRotation"):
        assert found[name].status == "reverted"
        assert found[name].context["plan"] == "net_zero"
        assert found[name].address == "aws_kms_key.secondary"


def test_changes_with_different_labels_list_each_attribute(
    real_inputs: Path, tmp_path: Path
) -> None:
    # CancelKeyDeletion leaves the key Disabled and clears the deletion date; the
    # plan shows the main key disabled, and knows nothing of a deletion date.
    cancel = record("CancelKeyDeletion", {"keyId": MAIN_KEY}, 1)
    events = write_records(tmp_path, "events.json", cancel)
    plan_path = real_inputs / MOTO_PLAN
    request, candidates = checked(plan_path, events)

    correlate(load_plan(plan_path), candidates, request)

    (candidate,) = candidates
    assert [change.attribute for change in candidate.changes] == [
        "key_state",
        "deletion_date",
    ]
    assert candidate.context["plan"] == "explained"
    assert candidate.context["plan_attributes"] == {
        "key_state": "explained",
        "deletion_date": "net_zero",
    }


# -- undone by the plan ------------------------------------------------------------


def test_plan_that_sets_values_back_says_which_change_it_undoes(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    correlate(load_plan(plan_path), candidates, request)

    found = by_event(candidates)
    assert found["DisableKey"].context["undone_by_plan"] == {
        "address": "aws_kms_key.main",
        "attribute": "key_state",
        "actions": ["update"],
    }
    assert found["TagResource"].context["undone_by_plan"]["attribute"] == "tags"
    assert found["UpdateAlias"].context["undone_by_plan"] == {
        "address": "aws_kms_alias.main",
        "attribute": "target_key_id",
        "actions": ["update"],
    }
    # A new key in place of the doomed one undoes no deletion: it is another key.
    assert "undone_by_plan" not in found["ScheduleKeyDeletion"].context
    assert "undone_by_plan" not in found["EnableKeyRotation"].context


# -- unexplained drift -------------------------------------------------------------


def test_drift_no_event_made_becomes_a_candidate_per_attribute(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    new = correlate(load_plan(plan_path), candidates, request)

    assert sorted(drift_of(new)) == [
        ("aws_kms_key.main", "enable_key_rotation"),
        ("aws_kms_key.main", "policy"),
    ]
    rotation = drift_of(new)[("aws_kms_key.main", "enable_key_rotation")]
    assert rotation.status == "unexplained_drift"
    assert rotation.context["plan"] == "unexplained"
    assert rotation.event.event_id == "plan:aws_kms_key.main:enable_key_rotation"
    assert rotation.event.name == "PlanDrift"
    assert rotation.event.actor.name == "unknown (no event in the window)"
    assert rotation.event.actor.type == "Unknown"
    assert (rotation.event.region, rotation.event.account) == (REGION, ACCOUNT)
    assert rotation.target.subject == Subject.MANAGED
    assert rotation.target.identity == ("key", REGION, MAIN_KEY)
    assert rotation.target.address == "aws_kms_key.main"
    assert rotation.resource == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{MAIN_KEY}"
    change = rotation.changes[0]
    assert (change.before, change.after, change.address) == (
        True,
        False,
        "aws_kms_key.main",
    )


def test_unexplained_policy_drift_names_the_added_principal(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    new = correlate(load_plan(plan_path), candidates, request)

    policy = drift_of(new)[("aws_kms_key.main", "policy")].changes[0]
    assert policy.detail["added_principals"] == ["arn:aws:iam::999999999999:root"]


def test_without_a_window_start_the_records_may_not_reach_the_change(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    new = correlate(load_plan(plan_path), candidates, request)

    details = drift_of(new)[("aws_kms_key.main", "enable_key_rotation")].event.details
    assert details["reason"] == "outside_window"
    assert details["attribute"] == "enable_key_rotation"
    assert "no record read made this change" in details["explanation"]


def test_a_window_from_the_last_apply_leaves_aws_itself(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events, Window(since=START))
    request.window_from_last_apply = True

    new = correlate(load_plan(plan_path), candidates, request)

    details = drift_of(new)[("aws_kms_key.main", "enable_key_rotation")].event.details
    assert details["reason"] == "aws_internal"
    assert details["explanation"].startswith(
        "enable_key_rotation of aws_kms_key.main changed outside Terraform, and no "
        "event of the window says who did it: the window covers the time since "
        "the last apply, so AWS made the change itself"
    )


def test_window_starting_after_the_last_apply_may_miss_the_change(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    applied = ApplyWindow(START - timedelta(hours=2), START - timedelta(hours=1))
    window = Window(since=START)
    request, candidates = checked(
        plan_path, events, window, Trust(apply_windows=(applied,))
    )

    new = correlate(load_plan(plan_path), candidates, request)

    details = drift_of(new)[("aws_kms_key.main", "policy")].event.details
    assert details["reason"] == "outside_window"
    assert (
        "the window starts at 2026-11-30T10:00:00Z, after the last apply"
        in (details["explanation"])
    )


def test_window_starting_at_the_last_apply_misses_nothing(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    applied = ApplyWindow(START - timedelta(minutes=5), START)
    window = Window(since=START)
    request, candidates = checked(
        plan_path, events, window, Trust(apply_windows=(applied,))
    )

    new = correlate(load_plan(plan_path), candidates, request)

    reasons = {c.event.details["reason"] for c in new}
    assert reasons == {"aws_internal"}


def test_trail_gap_in_the_keys_region_is_the_reason(moto: tuple[Path, Path]) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)
    gap = TrailGap(REGION, "no trail records this Region")
    coverage = Candidate(
        COVERAGE_GAP, gap_event(gap, ACCOUNT, START), Target(Subject.UNATTRIBUTABLE)
    )
    other = TrailGap("eu-west-1", "no trail records this Region")
    elsewhere = Candidate(
        COVERAGE_GAP, gap_event(other, ACCOUNT, START), Target(Subject.UNATTRIBUTABLE)
    )

    new = correlate(load_plan(plan_path), [*candidates, elsewhere, coverage], request)

    details = drift_of(new)[("aws_kms_key.main", "enable_key_rotation")].event.details
    assert details["reason"] == "trail_gap"
    assert details["explanation"].endswith(
        "the trail may not record KMS calls in us-east-1 (no trail records this Region)"
    )


def test_without_events_every_drifted_attribute_is_unexplained(
    moto: tuple[Path, Path], tmp_path: Path
) -> None:
    plan_path, _ = moto
    events = write_records(tmp_path, "none.json")
    request, candidates = checked(plan_path, events)

    new = correlate(load_plan(plan_path), candidates, request)

    assert candidates == []
    assert sorted(drift_of(new)) == [
        ("aws_kms_alias.main", "target_key_id"),
        ("aws_kms_key.doomed", "key_state"),
        ("aws_kms_key.main", "description"),
        ("aws_kms_key.main", "enable_key_rotation"),
        ("aws_kms_key.main", "key_state"),
        ("aws_kms_key.main", "policy"),
        ("aws_kms_key.main", "tags"),
    ]
    doomed = drift_of(new)[("aws_kms_key.doomed", "key_state")]
    assert doomed.event.details["explanation"].startswith(
        "aws_kms_key.doomed is gone, and no event of the window says who did it"
    )
    assert (doomed.changes[0].before, doomed.changes[0].after) == ("Enabled", None)
    alias = drift_of(new)[("aws_kms_alias.main", "target_key_id")]
    assert alias.target.identity == ("alias", REGION, "alias/probe-main")


# -- a policy owned by aws_kms_key_policy ------------------------------------------


APP_KEY = "1111aaaa-11aa-11aa-11aa-111111111111"
APP_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{APP_KEY}"


def _policy(principal: str) -> str:
    statement = {
        "Sid": "Admins",
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _drift(address: str, type_: str, before: Any, after: Any) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": type_,
        "name": "app",
        "change": {"actions": ["update"], "before": before, "after": after},
    }


def test_policy_change_explains_the_drift_of_the_key_and_its_key_policy(
    tmp_path: Path,
) -> None:
    root, other = f"arn:aws:iam::{ACCOUNT}:root", "arn:aws:iam::999999999999:root"
    key = {"arn": APP_ARN, "key_id": APP_KEY, "is_enabled": True}
    plan_doc = {
        "format_version": "1.2",
        "resource_drift": [
            _drift(
                "aws_kms_key.app",
                "aws_kms_key",
                {**key, "policy": _policy(root)},
                {**key, "policy": _policy(other)},
            ),
            _drift(
                "aws_kms_key_policy.app",
                "aws_kms_key_policy",
                {"key_id": APP_KEY, "policy": _policy(root)},
                {"key_id": APP_KEY, "policy": _policy(other)},
            ),
        ],
    }
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan_doc), encoding="utf-8")
    put = record("PutKeyPolicy", {"keyId": APP_KEY, "policy": _policy(other)}, 1)
    request, candidates = checked(plan_path, write_records(tmp_path, "e.json", put))

    new = correlate(load_plan(plan_path), candidates, request)

    (candidate,) = candidates
    assert candidate.address == "aws_kms_key_policy.app"
    assert candidate.context["plan"] == "explained"
    assert new == []


# -- through the check -------------------------------------------------------------


def test_check_with_a_plan_reports_unexplained_drift_as_findings(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    plugins = build_plugin_manager({})
    request = CheckRequest(
        inventory=load_inventory(plan_path),
        event_paths=(events,),
        plan=load_plan(plan_path),
    )

    result = run_check(request, plugins.manager, load_rules(plugins, request))

    # Rotation went true -> false and the policy gained 999999999999 with no event:
    # both matter for security, so they are errors, not warnings.
    drift = [
        f for f in result.findings if f.rule.name == "kms_unexplained_security_drift"
    ]
    assert sorted(f.candidate.changes[0].attribute for f in drift) == [
        "enable_key_rotation",
        "policy",
    ]
    assert {f.output for f in drift} == {
        "KMS Security Drift Without An Event (address=aws_kms_key.main "
        "attribute=enable_key_rotation reason=outside_window)",
        "KMS Security Drift Without An Event (address=aws_kms_key.main "
        "attribute=policy reason=outside_window)",
    }
    assert {f.priority for f in drift} == {"error"}
    assert not [f for f in result.findings if f.rule.name == "kms_unexplained_drift"]
    disable = next(f for f in result.findings if f.event.name == "DisableKey")
    assert disable.candidate.context["plan"] == "explained"


def test_drift_no_event_explains_is_dated_when_terraform_made_the_plan(
    moto: tuple[Path, Path],
) -> None:
    plan_path, events = moto
    request, candidates = checked(plan_path, events)

    new = correlate(load_plan(plan_path), candidates, request)

    # The plan JSON's "timestamp" is 2026-12-03T08:24:44Z.
    rotation = drift_of(new)[("aws_kms_key.main", "enable_key_rotation")]
    assert rotation.event.timestamp == "2026-12-03T08:24:44Z"
