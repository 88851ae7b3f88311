"""``tfdrift-hook check``: build the request, run it, report and pick the exit code."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from tfdrift_hook.backend import s3_backend
from tfdrift_hook.config import Settings, load_settings
from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.inline_waivers import inline_waivers
from tfdrift_hook.inventory import (
    Inventory,
    inventory_from_directory,
    inventory_from_document,
    load_inventory,
)
from tfdrift_hook.last_apply import WindowStart, window_start
from tfdrift_hook.metrics_targets import check_metrics_settings, publish_metrics
from tfdrift_hook.pipeline import CheckRequest, CheckResult, run_check
from tfdrift_hook.plugin_manager import Plugins, build_plugin_manager, call_each
from tfdrift_hook.problems import Problems
from tfdrift_hook.receipts import (
    Receipt,
    ReceiptError,
    beside_state_object,
    check_lineage,
    receipt_store,
)
from tfdrift_hook.rule_files import load_rule_files
from tfdrift_hook.rules import RuleError, RuleSet
from tfdrift_hook.trust import Trust
from tfdrift_hook.waiver_files import load_waivers, waiver_files
from tfdrift_hook.window import Window, parse_bound

logger = logging.getLogger(__name__)


class ReportFormatError(TfdriftError):
    """A ``--format`` no reporter writes."""


def run_check_command(
    options: Mapping[str, Any], stream: TextIO, environ: Mapping[str, str]
) -> int:
    plugins = build_plugin_manager(environ)
    report_format = report_format_of(plugins, options.get("report_format"), environ)
    request = build_request(options, environ, datetime.now(timezone.utc))
    check_metrics_settings(options, request.settings)
    warn_if_empty(request.inventory)
    rules = load_rules(plugins, request)
    result = run_check(request, plugins.manager, rules)
    add_load_failures(result, plugins)
    with report_stream(options, stream, report_format) as target:
        report(result, plugins, report_format, target)
    publish_metrics(result, options)
    return int(result.exit_code())


@contextmanager
def report_stream(
    options: Mapping[str, Any], stream: TextIO, report_format: str = ""
) -> Iterator[TextIO]:
    """Where the report goes: --output FILE (written whole, then renamed), or stream.

    A reader of the file (a workflow step posting it) never sees half a report. With
    ``--format github`` the annotations must reach the log, so they stay on the
    stream and the file gets the markdown report (the github reporter writes it).
    """
    path = output_path(options)
    if path is None or report_format == "github":
        yield stream
        return

    with atomic_text(path) as target:
        yield target
    logger.info("report written to %s", path)


def output_path(options: Mapping[str, Any]) -> Path | None:
    """--output as a file to write; None for standard output (empty, ``-``).

    An empty value is what ``--output "$REPORT"`` gives where nothing set REPORT; it
    means "not given". A file the check reads is refused rather than overwritten.
    """
    output = options.get("output")
    if output is None or str(output) in ("", ".", "-"):
        return None

    path = Path(output)
    if path.is_dir():
        raise ReportWriteError(f"--output {path} is a directory; name a file in it")
    for name in ("state", "plan_json", "config", "receipt"):
        if options.get(name) and _same_file(path, Path(str(options[name]))):
            raise ReportWriteError(
                f"--output {path} is the --{name.replace('_', '-')} input; "
                "name another file"
            )
    for events in options.get("event_paths") or ():
        if _same_file(path, Path(events)):
            raise ReportWriteError(
                f"--output {path} is an --events input; name another file"
            )
    return path


def _same_file(left: Path, right: Path) -> bool:
    try:
        return left.exists() and right.exists() and left.samefile(right)
    except OSError:
        return False


@contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text file written in full or not at all, with the usual permissions."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        msg = f"{path}: cannot write the report there ({exc.strerror or exc})"
        raise ReportWriteError(f"{msg}; give --output a writable path") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as target:
            yield target
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def add_load_failures(result: CheckResult, plugins: Plugins) -> None:
    """A plugin that did not load makes the check incomplete: it may have mattered."""
    for failure in plugins.failures:
        result.problems.add(
            f"plugin {failure.name}",
            f"failed to load ({failure.reason}), so the check ran without it",
            "fix or uninstall it, or name it in TFDRIFT_HOOK_DISABLE_PLUGINS",
        )


def warn_if_empty(inventory: Inventory) -> None:
    if not inventory.resources:
        logger.warning(
            "%s holds no KMS resource: every key in the events is unmanaged; "
            "is this the right state (--state, --plan-json, -C)?",
            inventory.source,
        )


def build_request(
    options: Mapping[str, Any], environ: Mapping[str, str], now: datetime
) -> CheckRequest:
    """Options over environment over ``.tfdrift.yml`` over defaults, then the window."""
    directory = Path(options.get("directory") or ".")
    settings = load_settings(options, environ, directory)
    inventory = _inventory(options)
    start = _window_start(settings, options, inventory, now)
    apply_windows = (start.apply_window,) if start.apply_window else ()
    waivers = load_waivers(
        waiver_files(directory, settings.waiver_files), settings.config_file
    )
    return CheckRequest(
        inventory=inventory,
        event_paths=settings.events,
        window=Window(start.since, parse_bound(settings.until, now, "--until")),
        window_reason=start.reason,
        window_from_last_apply=start.since is not None and settings.since is None,
        trust=Trust(settings.trusted_principals, apply_windows),
        fail_on=settings.fail_on,
        rule_files=settings.rules,
        settings=settings.request_settings(),
        settled_until=now - timedelta(minutes=settings.settle_minutes),
        require_complete=bool(options.get("require_complete")),
        config_dir=config_directory(directory, options.get("state")),
        report_path=output_path(options),
        waivers=tuple(waivers.waivers),
        checked_at=now,
        problems=waivers.problems,
    )


def config_directory(directory: Path, state: Any) -> Path | None:
    """Where the ``.tf`` files are: -C DIR, else beside a local --state file."""
    for candidate in (directory, Path(state).parent if state else None):
        if candidate is not None and any(candidate.glob("*.tf")):
            return candidate
    return None


def _window_start(
    settings: Settings, options: Mapping[str, Any], inventory: Inventory, now: datetime
) -> WindowStart:
    """--since, else the last apply's receipt; a receipt of another state is refused."""
    since = parse_bound(settings.since, now, "--since")
    directory = Path(options.get("directory") or ".")
    store = receipt_store(
        options.get("receipt") or configured_receipt(settings, directory), directory
    )
    receipt = store.read()
    if receipt is None and options.get("receipt"):
        msg = f"{store.describe()}: no receipt there"
        raise ReceiptError(f"{msg}; record one after apply with `tfdrift-hook record`")
    if receipt is not None:
        _check_receipt(receipt, inventory, options, store.describe())
    written = state_written(options) if settings.sources else None
    return window_start(since, receipt, store.describe(), written, inventory.source)


def _check_receipt(
    receipt: Receipt, inventory: Inventory, options: Mapping[str, Any], where: str
) -> None:
    """A receipt of another state is refused; its window would be someone else's.

    The lineage decides. ``show -json`` and plan JSON carry none, so it is read with
    ``terraform state pull`` in the directory; where that cannot be done either, a
    receipt naming none of the managed addresses is refused.
    """
    lineage = inventory.lineage or _pulled_lineage(options)
    if lineage is not None:
        check_lineage(receipt, lineage, where)
        return

    managed = {resource.address for resource in inventory.resources}
    if receipt.addresses and managed and managed.isdisjoint(receipt.addresses):
        msg = (
            f"{where} names none of the {len(managed)} addresses of {inventory.source}"
        )
        raise ReceiptError(f"{msg}, so it belongs to another state; give --receipt")
    logger.warning(
        "%s: the state's lineage could not be read, so the receipt is used unchecked",
        where,
    )


def _pulled_lineage(options: Mapping[str, Any]) -> str | None:
    """The lineage of the directory's state; None with --state or no init."""
    directory = Path(options.get("directory") or ".")
    if options.get("state") or not (directory / ".terraform").is_dir():
        return None

    from tfdrift_hook.terraform_cli import state_pull

    try:
        lineage = state_pull(directory).get("lineage")
    except TfdriftError as exc:
        logger.info("cannot read the state's lineage: %s", exc)
        return None
    return str(lineage) if lineage else None


def state_written(options: Mapping[str, Any]) -> datetime | None:
    """When the state was last written: the closest known apply, for live sources.

    Replayed files keep every record; only a live source needs a start, and without a
    receipt or --since this is the best one known. An S3 backend's state object says
    it with its LastModified; a local state with its modification time.
    """
    directory = Path(options.get("directory") or ".")
    backend = None if options.get("state") else s3_backend(directory)
    if backend is not None:
        return backend.last_modified()

    path = Path(options.get("state") or directory / "terraform.tfstate")
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None


def configured_receipt(settings: Settings, directory: Path) -> str | None:
    """The receipt the settings name: ``s3://bucket/key``, or a local path.

    An S3 store without a bucket and key keeps the receipt beside the S3 backend's
    state object.
    """
    receipts = settings.receipts
    if receipts.get("store") != "s3":
        path = receipts.get("path")
        return str(path) if path else None

    if receipts.get("bucket") and receipts.get("key"):
        return f"s3://{receipts['bucket']}/{receipts['key']}"

    backend = s3_backend(directory)
    if backend is None:
        msg = "receipts.store is s3 but names no bucket and key, and the directory"
        raise ReceiptError(f"{msg} has no S3 backend; give receipts.bucket and .key")
    return f"s3://{backend.bucket}/{beside_state_object(backend.key)}"


def _inventory(options: Mapping[str, Any]) -> Inventory:
    """The state given, else the plan's view of the last apply, else the directory's."""
    state, plan = options.get("state"), options.get("plan_json")
    if state is not None and plan is not None:
        raise TfdriftError("give --state or --plan-json, not both")

    if state is not None:
        return load_inventory(Path(state))

    shown = options.get("plan_document")
    if shown is not None:
        return inventory_from_document(shown, str(options.get("plan_file")))

    if plan is not None:
        return load_inventory(Path(plan))

    return inventory_from_directory(Path(options.get("directory") or "."))


def load_rules(plugins: Plugins, request: CheckRequest) -> RuleSet:
    """The rules in force; the inline waivers too, as their rule names are known."""
    problems = Problems()
    rules = rules_in_force(plugins, request.rule_files, problems)
    request.problems.extend(problems.items)
    add_inline_waivers(request, rules)
    return rules


def add_inline_waivers(request: CheckRequest, rules: RuleSet) -> None:
    """``tfdrift:ignore`` comments of the configuration, after the waiver files."""
    if request.config_dir is None:
        return

    names = [rule.name for rule in rules.rules]
    waivers, notes = inline_waivers(request.config_dir, names)
    request.waivers = (*request.waivers, *waivers)
    request.notes.extend(notes)


def rules_in_force(
    plugins: Plugins, extra: Sequence[Path], problems: Problems
) -> RuleSet:
    """The plugins' rule files (built-in ones first), then ``extra``, compiled."""
    rules = load_rule_files([*plugin_rule_files(plugins, problems), *extra])
    if not any(rule.enabled for rule in rules.rules):
        msg = "no rule is loaded or enabled, so nothing could ever be found"
        raise RuleError(f"{msg}; enable the builtin-rules plugin or pass --rules FILE")
    return rules


def plugin_rule_files(plugins: Plugins, problems: Problems) -> list[Path]:
    """The plugins' rule files in the order a check loads them, built-ins first."""
    provided = call_each(plugins.manager.hook.tfdrift_rule_files, problems)
    return list(reversed([path for _, group in provided for path in group]))


def report_format_of(
    plugins: Plugins, wanted: str | None, environ: Mapping[str, str]
) -> str:
    """The --format asked for; without one, github inside GitHub Actions, else text."""
    formats = {
        name
        for group in plugins.manager.hook.tfdrift_report_formats()
        for name in group
    }
    if wanted is None:
        in_actions = environ.get("GITHUB_ACTIONS") == "true" and "github" in formats
        wanted = "github" if in_actions else "text"
    if wanted not in formats:
        choices = ", ".join(sorted(formats))
        raise ReportFormatError(
            f"--format {wanted!r} is not known (use one of: {choices})"
        )
    return wanted


class ReportWriteError(TfdriftError):
    """The report could not be written (a full disk, a closed terminal)."""


def report(
    result: CheckResult, plugins: Plugins, report_format: str, stream: TextIO
) -> None:
    """Write the report; a reader that stopped early (``| head``) is no error."""
    try:
        written = plugins.manager.hook.tfdrift_report(
            result=result, format=report_format, stream=stream
        )
        stream.flush()
    except BrokenPipeError:
        _silence(stream)
    except OSError as exc:
        msg = f"cannot write the report: {exc.strerror or exc}"
        raise ReportWriteError(
            f"{msg}; free space or write the report elsewhere"
        ) from exc
    if written is not True:
        msg = f"no report plugin wrote --format {report_format}"
        raise ReportFormatError(f"{msg}; fix the plugin that names it, or pick another")


def _silence(stream: TextIO) -> None:
    """Point the dead pipe at /dev/null, so the interpreter's own flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass
