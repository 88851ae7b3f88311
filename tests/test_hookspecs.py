"""Every hookspec: a plugin that implements it is called with the documented arguments,
and its answer is used.

The plugins here are registered as if installed, through a stand-in for the entry-point
lookup of ``plugin_manager``, and the real CLI runs in-process. Beside one test per
hookspec: a lifecycle outcome that gates, a plugin that raises, a built-in replaced by
disabling it and registering another, and meta tests that keep the list of tested
hookspecs equal to ``hookspecs.py`` and every hookspec documented in docs/plugins.md.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO, TypeVar

import pytest

from tests.kms_state import (
    ACCOUNT,
    KEY_0987,
    KEY_1234,
    Run,
    key_arn,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import ALICE, record
from tests.test_wrapper import Workspace, _values, quiet_plan
from tfdrift_hook import hookspecs, plugin_manager
from tfdrift_hook.actors import Actor
from tfdrift_hook.arns import parse_key_ref
from tfdrift_hook.errors import ExitCode
from tfdrift_hook.events import KmsEvent, parse_event_time
from tfdrift_hook.findings import Candidate, Finding
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.lifecycle import ApplyOutcome, HookOutcome, Phase
from tfdrift_hook.pipeline import CheckRequest, CheckResult
from tfdrift_hook.plan_drift import AttributeDiff
from tfdrift_hook.problems import Problems
from tfdrift_hook.resolution import Subject, Target
from tfdrift_hook.sources.base import EventSource
from tfdrift_hook.sources.files import SourceRecord
from tfdrift_hook.usage import KeyUsage

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
PROVIDER = "registry.terraform.io/hashicorp/aws"
APPLIER = f"arn:aws:iam::{ACCOUNT}:role/terraform-ci"
BOB = {**ALICE, "arn": f"arn:aws:iam::{ACCOUNT}:user/bob", "userName": "bob"}
SHARED_ADMIN = {
    **ALICE,
    "arn": f"arn:aws:iam::{ACCOUNT}:user/shared-admin",
    "userName": "shared-admin",
}

F = TypeVar("F", bound=Callable[..., Any])

#: The hookspecs some test below shows working; the meta test compares it with them.
COVERED: set[str] = set()


def covers(*hooks: str) -> Callable[[F], F]:
    """Marks a test as the one that shows these hookspecs working."""

    def mark(test: F) -> F:
        COVERED.update(hooks)
        return test

    return mark


# -- installing test plugins ---------------------------------------------------------


@dataclass
class _EntryPoint:
    """What ``plugin_manager`` uses of an installed distribution's entry point."""

    name: str
    plugin: object

    def load(self) -> object:
        return self.plugin


Install = Callable[[str, object], None]


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> Install:
    """Register plugins as if installed under the ``tfdrift_hook`` entry-point group."""
    installed: list[_EntryPoint] = []

    def entry_points(group: str) -> list[_EntryPoint]:
        return list(installed) if group == hookspecs.PROJECT else []

    monkeypatch.setattr(
        "tfdrift_hook.plugin_manager.metadata.entry_points", entry_points
    )

    def add(name: str, plugin: object) -> None:
        installed.append(_EntryPoint(name, plugin))

    return add


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No settings of the machine running the tests, and a directory of our own."""
    for name in (
        "TFDRIFT_CONFIG",
        "TFDRIFT_FAIL_ON",
        "TFDRIFT_SINCE",
        "TFDRIFT_TRUSTED_PRINCIPALS",
        plugin_manager.DISABLE_VARIABLE,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# -- inputs --------------------------------------------------------------------------


def _two_keys(directory: Path) -> Path:
    return write_state(directory, kms_key("app", KEY_1234), kms_key("logs", KEY_0987))


def _disable(
    key_id: str, event_id: str, identity: Mapping[str, Any] = ALICE
) -> dict[str, Any]:
    return record(
        "DisableKey",
        {"keyId": key_id},
        "2026-11-30T10:00:00Z",
        event_id,
        identity=dict(identity),
    )


def _decrypt(key_id: str, event_id: str) -> dict[str, Any]:
    return record(
        "Decrypt",
        {"keyId": key_arn(key_id)},
        "2026-11-30T09:00:00Z",
        event_id,
        readOnly=True,
    )


def _logs_values(**changes: Any) -> dict[str, Any]:
    """aws_kms_key.logs as the provider writes it, enabled with rotation on."""
    return _values(KEY_0987, **changes)


def _write_plan(directory: Path) -> Path:
    """aws_kms_key.logs: description edited by hand; the plan sets it back."""
    common = {
        "address": "aws_kms_key.logs",
        "mode": "managed",
        "type": "aws_kms_key",
        "name": "logs",
        "provider_name": PROVIDER,
    }
    edited = _logs_values(description="edited by hand")
    document = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "prior_state": {
            "format_version": "1.0",
            "values": {
                "root_module": {
                    "resources": [
                        {**common, "schema_version": 0, "values": _logs_values()}
                    ]
                }
            },
        },
        "resource_drift": [
            {**common, "change": _change(["update"], _logs_values(), edited)}
        ],
        "resource_changes": [
            {**common, "change": _change(["update"], edited, _logs_values())}
        ],
    }
    path = directory / "plan.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _change(actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    return {"actions": actions, "before": before, "after": after, "after_unknown": {}}


def _rules(directory: Path, body: str) -> Path:
    path = directory / "acme-rules.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _findings(run: Run) -> dict[str, dict[str, Any]]:
    """The JSON findings of a run by event id."""
    return {line["event_id"]: line for line in run.findings}


# -- lifecycle hooks -----------------------------------------------------------------


class _Notes:
    """Says something in every phase and remembers what each phase was given."""

    def __init__(self) -> None:
        self.phases: list[Phase] = []
        self.outcomes: list[ApplyOutcome] = []

    def _say(self, phase: Phase) -> HookOutcome:
        self.phases.append(phase)
        return HookOutcome(summary=f"acme saw {phase.name}")

    @hookimpl
    def tfdrift_pre_plan(self, phase: Phase) -> HookOutcome:
        return self._say(phase)

    @hookimpl
    def tfdrift_post_plan(self, phase: Phase) -> HookOutcome:
        return self._say(phase)

    @hookimpl
    def tfdrift_pre_apply(self, phase: Phase) -> HookOutcome:
        return self._say(phase)

    @hookimpl
    def tfdrift_post_apply(self, phase: Phase, outcome: ApplyOutcome) -> HookOutcome:
        self.outcomes.append(outcome)
        return self._say(phase)


@covers("tfdrift_pre_plan")
def test_pre_plan_gets_the_phase_and_its_summary_is_said(
    tmp_path: Path, install: Install
) -> None:
    notes = _Notes()
    install("acme", notes)
    state = _two_keys(tmp_path)
    events = write_records(tmp_path, "events.json")

    run = run_cli("pre-plan", "--state", state, "--events", events, "-C", tmp_path)

    assert run.exit_code == 0, run.stderr
    [phase] = notes.phases
    assert (phase.name, phase.plan, phase.wrapped) == ("pre-plan", None, False)
    assert phase.options["state"] == state
    assert phase.options["event_paths"] == (events,)
    assert phase.now.tzinfo is not None
    assert "tfdrift-hook: pre-plan: acme saw pre-plan" in run.stderr
    # The built-in check ran beside it and reported both keys.
    assert f"pre-plan: 2 managed KMS resources from {state}" in run.stdout


@covers("tfdrift_post_plan")
def test_post_plan_gets_the_plan_read_from_its_json(
    tmp_path: Path, install: Install
) -> None:
    notes = _Notes()
    install("acme", notes)
    plan = _write_plan(tmp_path)
    events = write_records(tmp_path, "events.json")

    run = run_cli("post-plan", "--plan-json", plan, "--events", events, "-C", tmp_path)

    assert run.exit_code == 0, run.stderr
    [phase] = notes.phases
    assert phase.name == "post-plan"
    assert phase.plan is not None and phase.plan.source == str(plan)
    [drift] = phase.plan.drift
    assert drift.address == "aws_kms_key.logs"
    assert drift.attributes == (
        AttributeDiff("description", "logs key", "edited by hand"),
    )
    [change] = phase.plan.changes
    assert change.actions == ("update",)
    assert "tfdrift-hook: post-plan: acme saw post-plan" in run.stderr


@covers("tfdrift_pre_apply")
def test_pre_apply_gets_the_plan_being_applied(
    tmp_path: Path, install: Install
) -> None:
    notes = _Notes()
    install("acme", notes)
    plan = _write_plan(tmp_path)
    events = write_records(tmp_path, "events.json")

    run = run_cli("pre-apply", "--plan-json", plan, "--events", events, "-C", tmp_path)

    assert run.exit_code == 0, run.stderr
    [phase] = notes.phases
    assert phase.name == "pre-apply"
    assert phase.plan is not None
    assert [change.address for change in phase.plan.changes] == ["aws_kms_key.logs"]
    assert "tfdrift-hook: pre-apply: acme saw pre-apply" in run.stderr
    # The built-in receipt plugin noted the start beside it, for post-apply.
    assert (tmp_path / ".tfdrift" / "apply-started").is_file()


@covers("tfdrift_post_apply")
def test_post_apply_gets_what_the_apply_returned_and_when(
    tmp_path: Path, install: Install
) -> None:
    notes = _Notes()
    install("acme", notes)
    state = _two_keys(tmp_path)

    run = run_cli(
        "post-apply",
        "--state",
        state,
        "--started",
        "2026-12-01T10:00:00Z",
        "--finished",
        "2026-12-01T10:04:30Z",
        "--exit-code",
        "1",
        "-C",
        tmp_path,
    )

    assert run.exit_code == 0, run.stderr
    assert notes.outcomes == [
        ApplyOutcome(
            "apply",
            1,
            datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc),
            datetime(2026, 12, 1, 10, 4, 30, tzinfo=timezone.utc),
        )
    ]
    assert not notes.outcomes[0].succeeded
    assert "tfdrift-hook: post-apply: acme saw post-apply" in run.stderr
    assert "terraform apply failed (exit 1): no receipt written" in run.stderr
    assert not (tmp_path / ".tfdrift" / "receipt.json").exists()


class _ChangeFreeze:
    """Stops every plan: the organisation is in a change freeze."""

    @hookimpl
    def tfdrift_pre_plan(self, phase: Phase) -> HookOutcome:
        return HookOutcome(
            summary="change freeze until 2026-12-07", exit_code=ExitCode.FINDINGS
        )


def test_a_hook_outcome_with_exit_code_findings_gates_the_phase(
    tmp_path: Path, install: Install
) -> None:
    install("acme-freeze", _ChangeFreeze())
    state = _two_keys(tmp_path)
    events = write_records(tmp_path, "events.json")

    run = run_cli("pre-plan", "--state", state, "--events", events, "-C", tmp_path)

    assert run.exit_code == 1
    assert "tfdrift-hook: pre-plan: change freeze until 2026-12-07" in run.stderr
    # The built-in check found nothing; the exit code is the plugin's.
    assert "Nothing at or above --fail-on error (exit 0)." in run.stdout


def test_a_gating_pre_plan_hook_keeps_the_wrapper_from_planning(
    tmp_path: Path, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    install("acme-freeze", _ChangeFreeze())
    workspace = Workspace(tmp_path)
    workspace.use_plan(quiet_plan())
    for name in ("TERRAFORM_BINARY", "FAKE_TF_LOG", "FAKE_TF_PLAN_JSON"):
        monkeypatch.setenv(name, workspace.env[name])

    run = run_cli("terraform", "--events", workspace.events, "--", "plan")

    assert run.exit_code == 1
    assert workspace.calls() == []
    assert "stopped before `terraform plan`; nothing was planned" in run.stderr
    assert "a hook asked to stop" in run.stderr


class _BrokenDirectory:
    """A post-plan hook whose directory lookup fails."""

    @hookimpl
    def tfdrift_post_plan(self, phase: Phase) -> HookOutcome:
        raise RuntimeError("directory server unreachable")


def test_a_hook_that_raises_is_named_and_the_phase_is_incomplete(
    tmp_path: Path, install: Install
) -> None:
    install("acme-directory", _BrokenDirectory())
    plan = _write_plan(tmp_path)
    events = write_records(tmp_path, "events.json")

    run = run_cli("post-plan", "--plan-json", plan, "--events", events, "-C", tmp_path)

    assert run.exit_code == 3
    assert (
        "tfdrift-hook: post-plan: plugin acme-directory failed: "
        "RuntimeError: directory server unreachable"
    ) in run.stderr
    assert "post-plan is incomplete: fix or disable the plugin" in run.stderr
    # The built-in check still ran and reported the plan's drift.
    assert "post-plan: 1 managed KMS resource from" in run.stdout
    assert "kms_unexplained_drift" in run.stdout


class _OwnReceipt:
    """Keeps receipts in the organisation's own store instead of .tfdrift/."""

    def __init__(self, store: Path) -> None:
        self.store = store

    @hookimpl
    def tfdrift_post_apply(self, phase: Phase, outcome: ApplyOutcome) -> HookOutcome:
        entry = {"started": outcome.started.isoformat(), "ok": outcome.succeeded}
        with self.store.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")
        return HookOutcome(summary=f"receipt kept in {self.store.name}")


def _post_apply(directory: Path, state: Path) -> Run:
    return run_cli(
        "post-apply",
        "--state",
        state,
        "--started",
        "2026-12-01T10:00:00Z",
        "--principal",
        APPLIER,
        "-C",
        directory,
    )


def test_a_builtin_is_replaced_by_disabling_it_and_installing_another(
    tmp_path: Path, install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "acme-receipts.jsonl"
    install("acme-receipt", _OwnReceipt(store))
    state = _two_keys(tmp_path)
    builtin_receipt = tmp_path / ".tfdrift" / "receipt.json"

    added = _post_apply(tmp_path, state)
    assert added.exit_code == 0, added.stderr
    assert builtin_receipt.is_file()  # without disabling, the plugin only adds
    builtin_receipt.unlink()

    monkeypatch.setenv(plugin_manager.DISABLE_VARIABLE, "receipt")
    replaced = _post_apply(tmp_path, state)
    listed = run_cli("plugins")

    assert replaced.exit_code == 0, replaced.stderr
    assert not builtin_receipt.exists()
    assert "post-apply: receipt kept in acme-receipts.jsonl" in replaced.stderr
    assert "receipt for serial" not in replaced.stderr
    entries = [json.loads(line) for line in store.read_text("utf-8").splitlines()]
    assert entries == [{"started": "2026-12-01T10:00:00+00:00", "ok": True}] * 2
    assert "receipt: disabled by TFDRIFT_HOOK_DISABLE_PLUGINS" in listed.stdout
    assert "acme-receipt: tfdrift_post_apply" in listed.stdout.splitlines()


# -- event sources -------------------------------------------------------------------


class _TicketTrail:
    """An event source: KMS calls a change-ticket system kept a copy of."""

    name = "acme-tickets"

    def __init__(self, items: Sequence[dict[str, Any]]) -> None:
        self.items = items
        self.asked_for: list[frozenset[str] | None] = []

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]:
        self.asked_for.append(event_sources)
        for number, item in enumerate(self.items, start=1):
            yield SourceRecord(item, f"acme-tickets:{number}")


class _TicketSource:
    def __init__(self, trail: _TicketTrail) -> None:
        self.trail = trail
        self.requests: list[CheckRequest] = []

    @hookimpl
    def tfdrift_event_sources(self, request: CheckRequest) -> Sequence[EventSource]:
        self.requests.append(request)
        return [self.trail]


@covers("tfdrift_event_sources")
def test_an_event_source_plugin_provides_the_records_of_a_check(
    tmp_path: Path, install: Install
) -> None:
    trail = _TicketTrail([_disable(KEY_1234, "e-ticket")])
    source = _TicketSource(trail)
    install("acme-tickets", source)
    state = _two_keys(tmp_path)

    run = run_cli("check", "--state", state, "--format", "json", "-C", tmp_path)

    assert run.exit_code == 1, run.stderr
    [request] = source.requests
    addresses = [item.address for item in request.inventory.resources]
    assert addresses == ["aws_kms_key.app", "aws_kms_key.logs"]
    assert request.event_paths == ()
    assert trail.asked_for == [frozenset({"kms.amazonaws.com"})]
    [finding] = run.findings
    assert (finding["rule"], finding["address"]) == (
        "kms_key_disabled",
        "aws_kms_key.app",
    )
    assert (finding["source"], finding["user"]) == ("acme-tickets:1", "alice")


class _FailingTrail(_TicketTrail):
    """A source that yields one record, then breaks."""

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]:
        yield from super().records(problems, event_sources)
        raise ConnectionError("ticket system went away")


class _FailingFilter:
    @hookimpl
    def tfdrift_filter_findings(
        self, findings: list[Finding], request: CheckRequest
    ) -> list[Finding]:
        raise KeyError("on-call roster")


def test_installed_pipeline_plugins_that_raise_are_named_and_the_rest_is_kept(
    tmp_path: Path, install: Install
) -> None:
    install("acme-tickets", _TicketSource(_FailingTrail([_disable(KEY_1234, "e-1")])))
    install("acme-filter", _FailingFilter())
    state = _two_keys(tmp_path)
    events = write_records(tmp_path, "events.json", _disable(KEY_0987, "e-2", BOB))

    run = run_cli("check", "--state", state, "--events", events, "--format", "json")

    assert run.exit_code == 3, run.stderr
    assert sorted(_findings(run)) == ["e-1", "e-2"]
    assert "plugin acme-tickets: source acme-tickets failed (ConnectionError" in (
        run.stderr
    )
    assert "plugin acme-filter: failed in tfdrift_filter_findings (KeyError" in (
        run.stderr
    )
    assert "internal error" not in run.stderr


# -- turning records into events -----------------------------------------------------


class _PeopleDirectory:
    """Maps the shared admin user to the person who holds it this week."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def tfdrift_resolve_actor(self, record: Mapping[str, Any]) -> Actor | None:
        self.seen.append(str(record.get("eventID")))
        identity = record.get("userIdentity") or {}
        if identity.get("userName") != "shared-admin":
            return None
        return Actor(type="IAMUser", name="Jane Doe (shared-admin)", channel="cli")


@covers("tfdrift_resolve_actor")
def test_an_actor_resolver_names_people_and_none_leaves_it_to_the_builtin(
    tmp_path: Path, install: Install
) -> None:
    directory = _PeopleDirectory()
    install("acme-people", directory)
    state = _two_keys(tmp_path)
    events = write_records(
        tmp_path,
        "events.json",
        _disable(KEY_1234, "e-shared", SHARED_ADMIN),
        _disable(KEY_0987, "e-alice"),
    )

    run = run_cli("check", "--state", state, "--events", events, "--format", "json")

    assert directory.seen == ["e-shared", "e-alice"]
    findings = _findings(run)
    assert findings["e-shared"]["user"] == "Jane Doe (shared-admin)"
    assert findings["e-alice"]["user"] == "alice"


class _ProxyNormalizer:
    """Reads the records of a KMS proxy that names the key as ``acmeKeyArn``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def tfdrift_normalize_record(
        self, record: Mapping[str, Any], where: str, actor: Actor
    ) -> KmsEvent | None:
        self.seen.append((where, actor.name))
        arn = (record.get("requestParameters") or {}).get("acmeKeyArn")
        if arn is None:
            return None
        key = parse_key_ref(arn)
        if key is None or key.key_arn() is None:
            raise ValueError(f"acmeKeyArn {arn!r} is not a key ARN")
        return KmsEvent(
            event_id=record["eventID"],
            name=record["eventName"],
            time=parse_event_time(record["eventTime"]),
            region="us-west-2",
            account=ACCOUNT,
            actor=actor,
            where=where,
            key=key,
            values={"key_state": "Disabled"},
        )


def _proxy_disable(event_id: str, arn: str) -> dict[str, Any]:
    return record("DisableKey", {"acmeKeyArn": arn}, "2026-11-30T10:00:00Z", event_id)


@covers("tfdrift_normalize_record")
def test_a_normalizer_reads_records_the_builtin_cannot(
    tmp_path: Path, install: Install
) -> None:
    normalizer = _ProxyNormalizer()
    install("acme-proxy", normalizer)
    state = _two_keys(tmp_path)
    events = write_records(
        tmp_path,
        "events.json",
        _proxy_disable("e-proxy", key_arn(KEY_1234)),
        _proxy_disable("e-broken", "not-an-arn"),
        _disable(KEY_0987, "e-plain"),
    )

    run = run_cli("check", "--state", state, "--events", events, "--format", "json")

    where = f"{events}#Records"
    assert normalizer.seen == [
        (f"{where}[0]", "alice"),
        (f"{where}[1]", "alice"),
        (f"{where}[2]", "alice"),
    ]
    findings = _findings(run)
    assert set(findings) == {"e-proxy", "e-plain"}
    assert findings["e-proxy"]["address"] == "aws_kms_key.app"
    assert findings["e-proxy"]["changes"] == {
        "key_state": {"before": "Enabled", "after": "Disabled"}
    }
    assert findings["e-plain"]["address"] == "aws_kms_key.logs"  # the built-in's
    # The broken record is reported by place and reason; the others were still read.
    assert run.exit_code == 3
    assert f"{where}[1]" in run.stderr
    assert "acmeKeyArn 'not-an-arn' is not a key ARN" in run.stderr


# -- rules and findings --------------------------------------------------------------


class _OrgRules:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0

    @hookimpl
    def tfdrift_rule_files(self) -> Sequence[Path]:
        self.calls += 1
        return [self.path]


_PERSON_RULE = """\
- rule: acme_key_disabled_by_a_person
  desc: A person, not a role, disabled a key.
  condition: kms_event and evt.name = "DisableKey" and actor.type = "IAMUser"
  output: "Acme: %user disabled %address"
  priority: warning
"""


@covers("tfdrift_rule_files")
def test_a_plugins_rule_files_load_after_the_builtin_ones(
    tmp_path: Path, install: Install
) -> None:
    rules = _OrgRules(_rules(tmp_path, _PERSON_RULE))
    install("acme-rules", rules)
    state = _two_keys(tmp_path)
    events = write_records(tmp_path, "events.json", _disable(KEY_1234, "e-1"))

    run = run_cli("check", "--state", state, "--events", events, "--format", "json")

    assert rules.calls == 1
    # The plugin's rule uses the built-in macro kms_event, so the built-ins came first.
    assert run.rules() == ["acme_key_disabled_by_a_person", "kms_key_disabled"]
    outputs = {line["rule"]: line["output"] for line in run.findings}
    assert outputs["acme_key_disabled_by_a_person"] == (
        "Acme: alice disabled aws_kms_key.app"
    )


class _OnCallFilter:
    """Drops what the on-call responder did: their changes are tracked elsewhere."""

    def __init__(self) -> None:
        self.given: list[tuple[list[str], str]] = []

    @hookimpl
    def tfdrift_filter_findings(
        self, findings: list[Finding], request: CheckRequest
    ) -> list[Finding]:
        self.given.append(([item.event.event_id for item in findings], request.fail_on))
        return [item for item in findings if item.event.actor.name != "alice"]


@covers("tfdrift_filter_findings")
def test_a_findings_filter_replaces_the_list_reported_and_gated(
    tmp_path: Path, install: Install
) -> None:
    on_call = _OnCallFilter()
    install("acme-on-call", on_call)
    state = _two_keys(tmp_path)
    events = write_records(
        tmp_path,
        "events.json",
        _disable(KEY_1234, "e-alice"),
        _disable(KEY_0987, "e-bob", BOB),
    )

    run = run_cli("check", "--state", state, "--events", events, "--format", "json")

    assert on_call.given == [(["e-alice", "e-bob"], "error")]
    assert list(_findings(run)) == ["e-bob"]
    assert run.exit_code == 1


class _ChangeWindows:
    """Adds a review of each planned change, and marks what the events changed."""

    def __init__(self) -> None:
        self.given: list[tuple[str, list[str], dict[tuple[str, str], KeyUsage]]] = []

    @hookimpl
    def tfdrift_plan_candidates(
        self,
        request: CheckRequest,
        candidates: list[Candidate],
        usage: Mapping[tuple[str, str], KeyUsage],
    ) -> Sequence[Candidate]:
        assert request.plan is not None
        ids = [item.event.event_id for item in candidates]
        self.given.append((request.plan.source, ids, dict(usage)))
        for candidate in candidates:
            candidate.context["acme_ticket"] = "none found"
        return [_review(request, change.address) for change in request.plan.changes]


def _review(request: CheckRequest, address: str) -> Candidate:
    resource = next(r for r in request.inventory.resources if r.address == address)
    event = KmsEvent(
        event_id=f"acme-review:{address}",
        name="AcmeReview",
        time=datetime(2026, 12, 1, tzinfo=timezone.utc),
        region="us-west-2",
        account=ACCOUNT,
        actor=Actor(type="Unknown", name="acme change windows"),
        where="acme-change-windows",
    )
    target = Target(Subject.MANAGED, resource=resource, arn=resource.arn)
    return Candidate("acme_review", event, target)


_REVIEW_RULE = """\
- rule: acme_change_outside_window
  desc: The plan changes a key outside the change window.
  condition: status = acme_review
  output: "Acme: %address changes outside the change window"
  priority: error
"""


@covers("tfdrift_plan_candidates")
def test_plan_candidates_see_the_plan_events_and_usage_and_add_candidates(
    tmp_path: Path, install: Install
) -> None:
    windows = _ChangeWindows()
    install("acme-windows", windows)
    plan = _write_plan(tmp_path)
    events = write_records(
        tmp_path,
        "events.json",
        _decrypt(KEY_0987, "e-read"),
        _disable(KEY_0987, "e-disable"),
    )
    rules = _rules(tmp_path, _REVIEW_RULE)

    run = run_cli(
        "post-plan",
        "--plan-json",
        plan,
        "--events",
        events,
        "--rules",
        rules,
        "--format",
        "json",
        "-C",
        tmp_path,
    )

    [(source, ids, usage)] = windows.given
    assert (source, ids) == (str(plan), ["e-disable"])
    assert usage[("us-west-2", KEY_0987)].reads == 1
    assert usage[("us-west-2", KEY_0987)].uses == 1
    findings = _findings(run)
    review = findings["acme-review:aws_kms_key.logs"]
    assert review["rule"] == "acme_change_outside_window"
    assert review["output"] == (
        "Acme: aws_kms_key.logs changes outside the change window"
    )
    assert findings["e-disable"]["context"]["acme_ticket"] == "none found"
    assert run.exit_code == 1


# -- reports -------------------------------------------------------------------------


class _CsvReport:
    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    def tfdrift_report_formats(self) -> Sequence[str]:
        return ["acme-csv"]

    @hookimpl
    def tfdrift_report(
        self, result: CheckResult, format: str, stream: TextIO
    ) -> bool | None:
        self.asked.append(format)
        if format != "acme-csv":
            return None  # False would be an answer, and stop the built-ins
        stream.write("rule,address,user\n")
        for finding in result.findings:
            line = [finding.rule.name, finding.address or "", finding.event.actor.name]
            stream.write(",".join(line) + "\n")
        return True


@covers("tfdrift_report_formats")
def test_a_report_format_is_known_only_once_a_plugin_names_it(
    tmp_path: Path, install: Install
) -> None:
    state = _two_keys(tmp_path)
    events = write_records(tmp_path, "events.json")

    unknown = run_cli(
        "check", "--state", state, "--events", events, "--format", "acme-csv"
    )
    install("acme-csv", _CsvReport())
    known = run_cli(
        "check", "--state", state, "--events", events, "--format", "acme-csv"
    )

    assert unknown.exit_code == 2
    names = "github, json, markdown, sarif, text"
    assert f"--format 'acme-csv' is not known (use one of: {names})" in unknown.stderr
    assert known.exit_code == 0, known.stderr


@covers("tfdrift_report")
def test_a_report_plugin_writes_its_format_to_the_stream(
    tmp_path: Path, install: Install
) -> None:
    report = _CsvReport()
    install("acme-csv", report)
    state = _two_keys(tmp_path)
    events = write_records(tmp_path, "events.json", _disable(KEY_1234, "e-1"))

    run = run_cli("check", "--state", state, "--events", events, "--format", "acme-csv")

    assert run.exit_code == 1
    assert report.asked == ["acme-csv"]
    assert run.stdout == "rule,address,user\nkms_key_disabled,aws_kms_key.app,alice\n"


# -- meta: every hookspec tested and documented --------------------------------------


def _hookspec_names() -> set[str]:
    marker = f"{hookspecs.PROJECT}_spec"
    return {
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    }


def test_every_hookspec_has_a_test_here() -> None:
    assert _hookspec_names() == COVERED


def test_every_hookspec_and_builtin_plugin_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")

    missing = sorted(name for name in _hookspec_names() if f"`{name}" not in text)
    builtins = [name for name, _ in plugin_manager.BUILTIN_PLUGINS]
    undocumented = sorted(name for name in builtins if f"`{name}`" not in text)

    assert missing == []
    assert undocumented == []
