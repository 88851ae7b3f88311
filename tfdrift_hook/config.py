"""The settings in force, and where each came from.

A setting is taken from the first of: the command line, the environment
(``TFDRIFT_FAIL_ON``, ``TFDRIFT_SINCE``, ``TFDRIFT_TRUSTED_PRINCIPALS``), the config
file (``.tfdrift.yml`` in the Terraform directory, or ``--config`` / ``TFDRIFT_CONFIG``)
and the built-in default. A list given at a higher level replaces the lower one.

Any string in the file may be, or contain, ``$env:NAME``. An empty or unset variable
makes the key absent, so its default applies: CI systems such as Atlantis run each
step in its own shell, and a variable exported in an earlier step arrives empty, which
must never turn into zero or an error. A variable is converted to the integer, number
or comma-separated list the key wants.
"""

from __future__ import annotations

import copy
import difflib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

from tfdrift_hook.config_schema import SCHEMA
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.priorities import priority_name

logger = logging.getLogger(__name__)

CONFIG_NAME = ".tfdrift.yml"
SECRET_WORDS = ("secret", "token", "password")
MASK = "********"

_ENV_REF = re.compile(r"\$env:([A-Za-z_][A-Za-z0-9_]*)")
_WHOLE_ENV_REF = re.compile(r"^\$env:([A-Za-z_][A-Za-z0-9_]*)$")
_VALIDATOR = Draft202012Validator(SCHEMA)

Where = tuple[str | int, ...]


class ConfigError(TfdriftError):
    """The config file (or a setting in the environment) cannot be used as given."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        count = f"{len(errors)} errors: " if len(errors) > 1 else ""
        super().__init__(f"{source}: {count}{'; '.join(errors)}")


class _Absent:
    """A key left out, or given as an empty ``$env:NAME``: its default applies."""


ABSENT = _Absent()


# ---------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class Settings:
    """The effective values; ``origins`` maps each dotted name to where it came from."""

    config_file: Path | None = None
    fail_on: str = "error"
    since: str | None = None
    until: str | None = None
    trusted_principals: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    settle_minutes: int = 15
    events: tuple[Path, ...] = ()
    rules: tuple[Path, ...] = ()
    waiver_files: tuple[Path, ...] = ()
    #: Only the sections the file configures, each with its defaults filled in.
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    receipts: Mapping[str, Any] = field(default_factory=dict)
    #: Where metrics go (textfile, pushgateway) and how they are grouped.
    metrics: Mapping[str, Any] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)

    def origin(self, name: str) -> str:
        return self.origins.get(name, "default")

    def request_settings(self) -> dict[str, Any]:
        """The sections for ``CheckRequest.settings``, as plugins read them."""
        return {
            "regions": list(self.regions),
            "trusted_principals": list(self.trusted_principals),
            "fail_on": self.fail_on,
            "settle_minutes": self.settle_minutes,
            "sources": copy.deepcopy(dict(self.sources)),
            "receipts": dict(self.receipts),
            "metrics": dict(self.metrics),
        }

    def rows(self) -> Iterator[tuple[str, Any]]:
        """Every setting as (dotted name, value), in ``config --show`` order."""
        yield "config", self.config_file
        for name in _TOP_LEVEL:
            yield name, getattr(self, name)
        if not self.sources:
            yield "sources", None
        yield from _leaves(self.sources, "sources")
        yield from _leaves(self.receipts, "receipts")
        yield from _leaves(self.metrics, "metrics")


_TOP_LEVEL = (
    "fail_on",
    "since",
    "until",
    "trusted_principals",
    "regions",
    "settle_minutes",
    "events",
    "rules",
    "waiver_files",
)


def _leaves(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    if not isinstance(value, Mapping):
        yield name, value
        return

    for key, item in value.items():
        yield from _leaves(item, f"{name}.{key}" if name else key)


def render_settings(settings: Settings) -> str:
    """What ``tfdrift-hook config --show`` prints: name, value, origin, per line.

    Values of keys naming a secret, token or password are masked.
    """
    rows = [
        (name, _shown(name, value), settings.origin(name))
        for name, value in settings.rows()
    ]
    name_width = max(len(name) for name, _, _ in rows)
    value_width = min(40, max(len(value) for _, value, _ in rows))
    lines = [
        f"{name:<{name_width}}  {value:<{value_width}}  ({origin})"
        for name, value, origin in rows
    ]
    return "\n".join(lines) + "\n"


def _shown(name: str, value: Any) -> str:
    if value is None or value == () or value == []:
        return "(none)"
    if is_secret(name):
        return MASK
    if value == "":
        return '""'
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


# ---------------------------------------------------------------------------
# Precedence


@dataclass(frozen=True)
class _Override:
    """A setting the command line and the environment may give over the file."""

    name: str
    option: str
    flag: str
    env: str | None = None


_OVERRIDES = (
    _Override("fail_on", "fail_on", "--fail-on", "TFDRIFT_FAIL_ON"),
    _Override("since", "since", "--since", "TFDRIFT_SINCE"),
    _Override("until", "until", "--until"),
    _Override(
        "trusted_principals",
        "trusted",
        "--trusted-principal",
        "TFDRIFT_TRUSTED_PRINCIPALS",
    ),
    _Override("events", "event_paths", "--events"),
    _Override("rules", "rule_files", "--rules"),
    _Override("waiver_files", "waiver_files", "--waivers"),
)


def load_settings(
    options: Mapping[str, Any], environ: Mapping[str, str], directory: Path
) -> Settings:
    """Command line > environment > config file > default, for a check in directory.

    ``options`` are the parsed command-line options by their click names
    (``fail_on``, ``since``, ``until``, ``trusted``, ``event_paths``, ``rule_files``,
    ``config``); None or an empty tuple means the option was not given.
    """
    config_file, config_origin = find_config(options, environ, directory)
    loaded = read_config(config_file, environ) if config_file else ConfigFile({}, {})
    values, origins = loaded.values, dict(loaded.origins)
    _fill_defaults(values, SCHEMA, "", directory, loaded.empties, origins)
    values.update(since=None, until=None)
    origins.update(since="default", until="default", config=config_origin)
    for override in _OVERRIDES:
        _apply_override(override, options, environ, values, origins)
    return _settings(config_file, values, origins)


def find_config(
    options: Mapping[str, Any], environ: Mapping[str, str], directory: Path
) -> tuple[Path | None, str]:
    """The config file to read, and why; (None, "default") when there is none."""
    if options.get("config"):
        return Path(options["config"]), "--config"

    given = _env_value(environ, "TFDRIFT_CONFIG")
    if given is not None:
        return Path(given), "env TFDRIFT_CONFIG"

    found = directory / CONFIG_NAME
    if found.is_file():
        return found, "default"

    if (directory / ".tfdrift.yaml").is_file():
        logger.warning(
            "%s is not read: the config file is named %s",
            directory / ".tfdrift.yaml",
            CONFIG_NAME,
        )
    return None, "default"


def _env_value(environ: Mapping[str, str], name: str) -> str | None:
    """A variable's value, or None when it is unset or empty (the same thing here)."""
    value = environ.get(name, "")
    return value if value.strip() else None


def _apply_override(
    override: _Override,
    options: Mapping[str, Any],
    environ: Mapping[str, str],
    values: dict[str, Any],
    origins: dict[str, str],
) -> None:
    given = options.get(override.option)
    if given is not None and given != () and given != []:
        values[override.name] = _from_option(override.name, given)
        origins[override.name] = override.flag
        return

    text = _env_value(environ, override.env) if override.env else None
    if override.env and text is not None:
        values[override.name] = _from_env(override.name, override.env, text)
        origins[override.name] = f"env {override.env}"


def _from_option(name: str, given: Any) -> Any:
    if name == "fail_on":
        return priority_name(str(given))
    if name in ("events", "rules", "waiver_files"):
        return [Path(item) for item in given]
    if name == "trusted_principals":
        return list(given)
    return given


def _from_env(name: str, variable: str, text: str) -> Any:
    if name == "trusted_principals":
        return _comma_list(text)
    if name != "fail_on":
        return text.strip()

    try:
        return priority_name(text)
    except ValueError as exc:
        raise ConfigError("environment", [f"{variable}: {exc}"]) from exc


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _settings(
    config_file: Path | None, values: dict[str, Any], origins: dict[str, str]
) -> Settings:
    return Settings(
        config_file=config_file,
        fail_on=priority_name(values["fail_on"]),
        since=values["since"],
        until=values["until"],
        trusted_principals=tuple(values["trusted_principals"]),
        regions=tuple(values["regions"]),
        settle_minutes=int(values["settle_minutes"]),
        events=tuple(values["events"]),
        rules=tuple(values["rules"]),
        waiver_files=tuple(values["waiver_files"]),
        sources=values["sources"],
        receipts=values["receipts"],
        metrics=values["metrics"],
        origins=origins,
    )


def _fill_defaults(
    values: dict[str, Any],
    schema: Mapping[str, Any],
    prefix: str,
    directory: Path,
    empties: Mapping[str, str],
    origins: dict[str, str],
) -> None:
    """Defaults for absent keys, descending only into mappings that are present."""
    for key, child in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        if key not in values and "default" in child:
            values[key] = _default(child, directory)
            if child.get("type") != "object":
                origins[name] = _default_origin(name, empties)
        if isinstance(values.get(key), dict):
            _fill_defaults(values[key], child, f"{name}.", directory, empties, origins)
    # Schema order, so that ``config --show`` lists a section the same way each time.
    ordered = {key: values.pop(key) for key in schema["properties"] if key in values}
    values.update(ordered)


def _default(schema: Mapping[str, Any], directory: Path) -> Any:
    # A default path belongs to the Terraform directory, wherever the file is.
    if schema.get("x-path"):
        return directory / schema["default"]
    return copy.deepcopy(schema["default"])


def _default_origin(name: str, empties: Mapping[str, str]) -> str:
    variable = empties.get(name)
    return f"default, $env:{variable} is empty or unset" if variable else "default"


# ---------------------------------------------------------------------------
# The config file


@dataclass
class ConfigFile:
    """A config file read and validated: values without defaults, and origins."""

    values: dict[str, Any]
    origins: dict[str, str]
    #: Dotted names whose ``$env:NAME`` was empty or unset, with the variable.
    empties: dict[str, str] = field(default_factory=dict)


def read_config(path: Path, environ: Mapping[str, str]) -> ConfigFile:
    """Read, substitute ``$env:NAME``, validate; every error at once in ConfigError."""
    text = _read_text(path)
    data, lines = _parse(path, text)
    reading = _Reading(path, environ, lines)
    values = reading.clean(data, SCHEMA, ())
    errors = sorted(
        _VALIDATOR.iter_errors(values), key=lambda error: reading.sort_key(error)
    )
    if errors:
        raise ConfigError(str(path), [reading.message(error) for error in errors])

    _resolve_paths(values, SCHEMA, path.parent)
    return ConfigFile(values, reading.origins(values), reading.empties)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), ["is not UTF-8 text"]) from exc
    except OSError as exc:
        msg = f"cannot be read ({exc.strerror or exc})"
        fix = "check --config, TFDRIFT_CONFIG or -C"
        raise ConfigError(str(path), [f"{msg}; {fix}"]) from exc


def _parse(path: Path, text: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [_yaml_problem(exc)]) from exc
    except RecursionError as exc:
        msg = "is not valid YAML: it nests deeper than it can be read"
        raise ConfigError(str(path), [msg]) from exc

    if data is None:
        logger.debug("%s is empty: every setting takes its default", path)
        return {}, {}

    if not isinstance(data, dict):
        kind = type(data).__name__
        msg = f"the top level must be a mapping of settings (key: value), not a {kind}"
        raise ConfigError(str(path), [msg])
    return data, dict(_node_lines(node, ()))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"is not valid YAML: {problem}"

    text = f"is not valid YAML: {_at(mark)}: {problem}"
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        # An unclosed bracket is found at the end; where it opened is the clue.
        text += f" ({context} at {_at(context_mark)})"
    return text


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _node_lines(node: yaml.Node | None, where: Where) -> Iterator[tuple[str, int]]:
    """The line of every key and list item, by dotted name."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_where = (*where, str(key_node.value))
            yield dotted(key_where), key_node.start_mark.line + 1
            yield from _node_lines(value_node, key_where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_where = (*where, index)
            yield dotted(item_where), item.start_mark.line + 1
            yield from _node_lines(item, item_where)


def dotted(where: Where) -> str:
    """``("sources", "s3", "accounts", 0)`` as ``sources.s3.accounts[0]``."""
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _Reading:
    """One pass over the file's data: unknown keys, ``$env:NAME``, error messages."""

    def __init__(
        self, path: Path, environ: Mapping[str, str], lines: Mapping[str, int]
    ) -> None:
        self.path = path
        self.environ = environ
        self.lines = lines
        #: Dotted name → the variables its value was built from.
        self.refs: dict[str, list[str]] = {}
        self.empties: dict[str, str] = {}

    def clean(self, value: Any, schema: Mapping[str, Any], where: Where) -> Any:
        """The value with unknown keys dropped and ``$env:NAME`` substituted."""
        wanted = schema.get("type")
        if value is None:
            return {} if wanted == "object" else ABSENT
        if isinstance(value, str):
            return self._substituted(value, schema, where)
        if isinstance(value, dict) and wanted == "object":
            return self._mapping(value, schema, where)
        if isinstance(value, list) and wanted == "array":
            items = (
                self.clean(item, schema["items"], (*where, i))
                for i, item in enumerate(value)
            )
            return [item for item in items if item is not ABSENT]
        return value

    def _mapping(
        self, value: dict[Any, Any], schema: Mapping[str, Any], where: Where
    ) -> dict[str, Any]:
        known = schema.get("properties", {})
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if key not in known:
                self._unknown(str(key), known, where)
                continue
            item = self.clean(item, known[key], (*where, key))
            if item is not ABSENT:
                cleaned[key] = item
        return cleaned

    def _unknown(self, key: str, known: Mapping[str, Any], where: Where) -> None:
        name = dotted((*where, key))
        close = difflib.get_close_matches(key, list(known), n=1)
        hint = f" (did you mean {dotted((*where, close[0]))}?)" if close else ""
        logger.warning(
            "%s: unknown key %s%s is ignored%s", self.path, name, self._line(name), hint
        )

    def _substituted(self, text: str, schema: Mapping[str, Any], where: Where) -> Any:
        names = _ENV_REF.findall(text)
        if not names:
            return text

        name = dotted(where)
        self.refs[name] = names
        empty = [var for var in names if _env_value(self.environ, var) is None]
        if empty:
            self.empties[name] = empty[0]
            logger.info(
                "%s: $env:%s is empty, so %s takes its default",
                self.path,
                empty[0],
                name,
            )
            return ABSENT

        value = _ENV_REF.sub(lambda match: self.environ[match.group(1)], text)
        if _WHOLE_ENV_REF.match(text):
            return _converted(value, schema)
        return value

    def origins(self, values: Mapping[str, Any]) -> dict[str, str]:
        return {name: self._origin(name) for name, _ in _leaves(values, "")}

    def _origin(self, name: str) -> str:
        variables = [
            var
            for ref, names in self.refs.items()
            if ref == name or ref.startswith(f"{name}[")
            for var in names
        ]
        via = (
            f" via $env:{', $env:'.join(dict.fromkeys(variables))}" if variables else ""
        )
        return f"{self.path}: {name}{via}"

    def sort_key(self, error: ValidationError) -> tuple[int, str]:
        name = dotted(tuple(error.absolute_path))
        return self.lines.get(name, 0), name

    def message(self, error: ValidationError) -> str:
        where = tuple(error.absolute_path)
        if error.validator == "required":
            return "; ".join(self._missing(error, where))

        name = dotted(where)
        shown = MASK if is_secret(name) else _brief(error.instance)
        return f"{self._located(name)}: got {shown}, expected {_expected(error)}"

    def _missing(self, error: ValidationError, where: Where) -> Iterator[str]:
        properties = error.schema.get("properties", {})
        for key in error.validator_value:
            if key in error.instance:
                continue
            name = dotted((*where, key))
            expected = properties.get(key, {}).get("x-expected", "a value")
            variable = self.empties.get(name)
            if variable:
                problem = (
                    f"$env:{variable} is empty or unset and the key has no default"
                )
                yield f"{self._located(name)}: {problem} (expected {expected})"
            else:
                yield f"{name}: missing, expected {expected}"

    def _located(self, name: str) -> str:
        parts = [f"line {self.lines[name]}"] if name in self.lines else []
        parts += [f"$env:{var}" for var in self.refs.get(name, [])]
        return f"{name} ({', '.join(parts)})" if parts else name

    def _line(self, name: str) -> str:
        return f" (line {self.lines[name]})" if name in self.lines else ""


def _converted(text: str, schema: Mapping[str, Any]) -> Any:
    """A whole-value variable as the type the key wants; left as text if it is not."""
    wanted = schema.get("type")
    try:
        if wanted == "integer":
            return int(text.strip())
        if wanted == "number":
            return float(text.strip())
    except ValueError:
        return text

    if wanted == "array":
        return _comma_list(text)
    return text


def _expected(error: ValidationError) -> str:
    expected = error.schema.get("x-expected")
    return str(expected) if expected else error.message


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _resolve_paths(value: Any, schema: Mapping[str, Any], base: Path) -> Any:
    """Path strings as Paths relative to base (the config file's directory)."""
    if isinstance(value, str) and schema.get("x-path"):
        return base / value
    # Waiver entries are free-form here (tfdrift_hook.waivers checks them): no schema.
    if isinstance(value, list):
        items = schema.get("items", {})
        value[:] = [_resolve_paths(item, items, base) for item in value]
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            value[key] = _resolve_paths(item, properties.get(key, {}), base)
    return value
