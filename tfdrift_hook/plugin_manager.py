"""The plugin manager: hookspecs, the built-in plugins, and installed ones.

It is built by the command line for each run, never at import. Installed plugins come
from the ``tfdrift_hook`` entry-point group; a plugin that fails to load is reported by
name and the run goes on without it. ``TFDRIFT_HOOK_DISABLE_PLUGINS`` (comma-separated
names) keeps named plugins, built-in or installed, from being registered.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from tfdrift_hook import hookspecs

if TYPE_CHECKING:
    from tfdrift_hook.problems import Problems

logger = logging.getLogger(__name__)

DISABLE_VARIABLE = "TFDRIFT_HOOK_DISABLE_PLUGINS"

#: Built-in plugins: name and module. Each module holds its own hook implementations.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("files", "tfdrift_hook.sources.files"),
    ("lookup_events", "tfdrift_hook.sources.lookup_events"),
    ("s3", "tfdrift_hook.sources.s3_trail"),
    ("athena", "tfdrift_hook.sources.athena"),
    ("actors", "tfdrift_hook.actors"),
    ("kms-normalizer", "tfdrift_hook.normalizer"),
    ("builtin-rules", "tfdrift_hook.rules"),
    ("text-report", "tfdrift_hook.reporters.text"),
    ("json-report", "tfdrift_hook.reporters.json_lines"),
    ("github-report", "tfdrift_hook.reporters.github"),
    ("markdown-report", "tfdrift_hook.reporters.markdown"),
    ("sarif-report", "tfdrift_hook.reporters.sarif"),
    ("plan-correlation", "tfdrift_hook.correlation"),
    ("guardrails", "tfdrift_hook.guardrails"),
    ("phase-check", "tfdrift_hook.phase_check"),
    ("receipt", "tfdrift_hook.apply_receipt"),
)


def is_builtin(name: str) -> bool:
    return name in dict(BUILTIN_PLUGINS)


@dataclass
class LoadFailure:
    """An installed plugin that could not be loaded, and why."""

    name: str
    reason: str


@dataclass
class Plugins:
    """The plugin manager and what happened while filling it."""

    manager: pluggy.PluginManager
    failures: list[LoadFailure] = field(default_factory=list)
    disabled: frozenset[str] = frozenset()


def build_plugin_manager(environ: Mapping[str, str]) -> Plugins:
    """A plugin manager with the hookspecs, the built-ins and the installed plugins."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    disabled = _disabled(environ.get(DISABLE_VARIABLE, ""))
    plugins = Plugins(manager, disabled=disabled)
    _register_builtins(plugins)
    installed = list(metadata.entry_points(group=hookspecs.PROJECT))
    _load_installed(plugins, installed)
    _warn_unknown(plugins, {entry.name for entry in installed})
    return plugins


def _warn_unknown(plugins: Plugins, installed: set[str]) -> None:
    """A misspelt name in the variable would leave the plugin meant running."""
    known = installed | {name for name, _ in BUILTIN_PLUGINS}
    for name in sorted(plugins.disabled - known):
        logger.warning(
            "%s names %r, which is no plugin (see `tfdrift-hook plugins`); "
            "nothing was disabled for it",
            DISABLE_VARIABLE,
            name,
        )


def _disabled(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def _register_builtins(plugins: Plugins) -> None:
    for name, module_name in BUILTIN_PLUGINS:
        if name in plugins.disabled:
            logger.info("built-in plugin %s is disabled by %s", name, DISABLE_VARIABLE)
            continue
        plugins.manager.register(importlib.import_module(module_name), name=name)


def _load_installed(
    plugins: Plugins, entry_points: Iterable[metadata.EntryPoint]
) -> None:
    for entry_point in entry_points:
        if entry_point.name in plugins.disabled:
            logger.info(
                "plugin %s is disabled by %s", entry_point.name, DISABLE_VARIABLE
            )
            continue
        try:
            plugin = entry_point.load()
            plugins.manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # a third party's bug must not take the run down
            reason = f"{type(exc).__name__}: {exc}"
            logger.error(
                "plugin %s failed to load (%s); running without it",
                entry_point.name,
                reason,
            )
            plugins.failures.append(LoadFailure(entry_point.name, reason))


def describe_plugins(plugins: Plugins) -> str:
    """One line a plugin with the hooks it implements; failures and disabled after."""
    lines = []
    for name, plugin in plugins.manager.list_name_plugin():
        hooks = sorted(
            hook.name
            for hook in plugins.manager.get_hookcallers(plugin) or ()
            if hook.name.startswith("tfdrift_")
        )
        builtin = " (built-in)" if is_builtin(name) else ""
        lines.append(f"{name}{builtin}: {', '.join(hooks) or 'no hooks'}")
    for failure in plugins.failures:
        lines.append(f"{failure.name}: FAILED to load: {failure.reason}")
    for name in sorted(plugins.disabled):
        lines.append(f"{name}: disabled by {DISABLE_VARIABLE}")
    return "\n".join(lines)


def call_each(
    caller: Any, problems: Problems, **arguments: Any
) -> list[tuple[str, Any]]:
    """Call every implementation of a hook in pluggy's order; (plugin, answer) each.

    Answers that are None are left out; see :func:`call_one` for failures.
    """
    answers = []
    for impl in reversed(caller.get_hookimpls()):
        answer = call_one(impl, caller.name, problems, arguments)
        if answer is not None:
            answers.append((impl.plugin_name, answer))
    return answers


def call_one(
    impl: Any, hook: str, problems: Problems, arguments: Mapping[str, Any]
) -> Any:
    """One implementation's answer; None when it raised or answered None.

    An installed plugin that raises is named in ``problems`` (the result is then
    incomplete) and the others still answer; a built-in that raises is a bug and
    propagates.
    """
    wanted = {name: arguments[name] for name in impl.argnames if name in arguments}
    try:
        return impl.function(**wanted)
    except Exception as exc:
        if is_builtin(impl.plugin_name):
            raise
        problems.add(
            f"plugin {impl.plugin_name}",
            f"failed in {hook} ({type(exc).__name__}: {exc}), so the check ran "
            "without its answer",
            f"fix or uninstall it, or name it in {DISABLE_VARIABLE}",
        )
        return None
