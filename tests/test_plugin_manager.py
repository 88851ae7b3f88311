"""The plugin manager: built-ins are plugins, installed ones win; broken ones named."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import KEY_1234, kms_key, write_records, write_state
from tfdrift_hook.actors import Actor
from tfdrift_hook.check_command import load_rules
from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.inventory import load_inventory
from tfdrift_hook.pipeline import CheckRequest, run_check
from tfdrift_hook.plugin_manager import (
    BUILTIN_PLUGINS,
    _load_installed,
    build_plugin_manager,
)


def test_every_builtin_piece_is_a_registered_plugin() -> None:
    plugins = build_plugin_manager({})

    names = {name for name, _ in plugins.manager.list_name_plugin()}

    assert {name for name, _ in BUILTIN_PLUGINS} <= names
    assert {"files", "actors", "kms-normalizer", "text-report", "json-report"} <= names


def test_named_plugins_can_be_disabled_from_the_environment() -> None:
    plugins = build_plugin_manager(
        {"TFDRIFT_HOOK_DISABLE_PLUGINS": "text-report, files"}
    )

    names = {name for name, _ in plugins.manager.list_name_plugin()}

    assert "text-report" not in names and "files" not in names
    assert "json-report" in names


def test_a_plugin_that_fails_to_load_is_reported_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plugins = build_plugin_manager({})
    broken = metadata.EntryPoint(
        name="acme-broken", value="acme_module_that_is_not_there", group="tfdrift_hook"
    )

    _load_installed(plugins, [broken])

    assert [failure.name for failure in plugins.failures] == ["acme-broken"]
    assert "ModuleNotFoundError" in plugins.failures[0].reason
    assert "plugin acme-broken failed to load" in caplog.text


class _PeopleDirectory:
    """Maps the session of a shared role to the person behind it."""

    @hookimpl
    def tfdrift_resolve_actor(self, record: Mapping[str, Any]) -> Actor | None:
        identity = record.get("userIdentity") or {}
        if identity.get("userName") != "shared-admin":
            return None
        return Actor(type="IAMUser", name="Jane Doe (via shared-admin)", channel="cli")


def test_an_installed_actor_resolver_wins_over_the_builtin(tmp_path: Path) -> None:
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    record = {
        "eventSource": "kms.amazonaws.com",
        "eventName": "DisableKey",
        "eventTime": "2026-11-30T10:00:00Z",
        "eventID": "x1",
        "awsRegion": "us-west-2",
        "recipientAccountId": "111122223333",
        "readOnly": False,
        "userIdentity": {"type": "IAMUser", "userName": "shared-admin"},
        "requestParameters": {"keyId": KEY_1234},
    }
    events = write_records(tmp_path, "events.json", record)
    plugins = build_plugin_manager({})
    plugins.manager.register(_PeopleDirectory(), name="people")
    request = CheckRequest(inventory=load_inventory(state), event_paths=(events,))

    result = run_check(request, plugins.manager, load_rules(plugins, request))

    assert [f.event.actor.name for f in result.findings] == [
        "Jane Doe (via shared-admin)"
    ]


def test_a_plugin_that_failed_to_load_makes_the_check_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.kms_state import check_json
    from tfdrift_hook import plugin_manager

    broken = metadata.EntryPoint(
        name="acme-broken", value="acme_module_that_is_not_there", group="tfdrift_hook"
    )
    monkeypatch.setattr(plugin_manager.metadata, "entry_points", lambda group: [broken])
    state = write_state(tmp_path, kms_key("app", KEY_1234))
    events = write_records(tmp_path, "events.json")

    run = check_json(state, events)

    assert run.exit_code == 3
    assert "plugin acme-broken: failed to load" in run.stderr


def test_the_plugins_command_lists_each_plugin_with_its_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.kms_state import run_cli

    monkeypatch.setenv("TFDRIFT_HOOK_DISABLE_PLUGINS", "athena")

    run = run_cli("plugins")

    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert "kms-normalizer (built-in): tfdrift_normalize_record" in lines
    assert "text-report (built-in): tfdrift_report, tfdrift_report_formats" in lines
    assert "athena: disabled by TFDRIFT_HOOK_DISABLE_PLUGINS" in lines


def test_the_plugins_command_names_a_broken_plugin_and_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.kms_state import run_cli
    from tfdrift_hook import plugin_manager

    broken = metadata.EntryPoint(
        name="acme-broken", value="acme_module_that_is_not_there", group="tfdrift_hook"
    )
    monkeypatch.setattr(plugin_manager.metadata, "entry_points", lambda group: [broken])

    run = run_cli("plugins")

    assert run.exit_code == 3
    assert "acme-broken: FAILED to load: ModuleNotFoundError" in run.stdout
