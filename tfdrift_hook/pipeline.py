"""The check: records from the sources, through events and changes, to findings.

``run_check`` reads every source once, keeps only what matters (KMS records in the
window, each ``eventID`` once), counts read-only calls per key, and buffers the writes,
which are a small part of a trail. The writes are then applied in event order against
the inventory, and the candidates they make are judged by the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfdrift_hook.actors import Actor
from tfdrift_hook.errors import ExitCode, TfdriftError
from tfdrift_hook.events import KMS_EVENT_SOURCE, KmsEvent, parse_event_time
from tfdrift_hook.findings import Candidate, Finding, judge
from tfdrift_hook.inventory import Inventory
from tfdrift_hook.normalizer import is_read_only
from tfdrift_hook.plugin_manager import call_each, call_one, is_builtin
from tfdrift_hook.priorities import severity
from tfdrift_hook.problems import Problem, Problems
from tfdrift_hook.reconstruction import Reconstruction
from tfdrift_hook.resolution import Resolver, Subject, Target
from tfdrift_hook.rules import RuleSet
from tfdrift_hook.sources.base import utc_now
from tfdrift_hook.trail_coverage import (
    COVERAGE_GAP,
    cloudtrail_client,
    gap_event,
    trail_gaps,
    trail_regions,
)
from tfdrift_hook.trust import Trust
from tfdrift_hook.usage import KeyUsage, UsageCounter
from tfdrift_hook.waivers import (
    Waiver,
    apply_waivers,
    stale_candidates,
    waiver_location,
)
from tfdrift_hook.window import Window

if TYPE_CHECKING:
    import pluggy

    from tfdrift_hook.plan_drift import PlanView
    from tfdrift_hook.sources.base import EventSource

logger = logging.getLogger(__name__)

WANTED_SOURCES = frozenset({KMS_EVENT_SOURCE})


@dataclass
class CheckRequest:
    """What one check is asked to do; built by the command line or a CI integration."""

    inventory: Inventory
    event_paths: tuple[Path, ...] = ()
    window: Window = field(default_factory=Window)
    #: Why the window starts where it does (``--since``, a receipt...), for reports.
    window_reason: str = ""
    #: Whether the window starts at the last apply (its receipt, or the state's last
    #: write), so that every change since that apply falls inside it.
    window_from_last_apply: bool = False
    #: Up to when live sources are complete: now minus the delivery delay (settle).
    settled_until: datetime | None = None
    #: Whether a window that is not settled yet makes the result incomplete.
    require_complete: bool = False
    trust: Trust = field(default_factory=Trust)
    fail_on: str = "error"
    rule_files: tuple[Path, ...] = ()
    #: Validated settings of the config file, by section (``sources``, ``regions``...);
    #: a source plugin reads its own section here and provides nothing without one.
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: The plan this check runs beside (post-plan, pre-apply): its drift is matched to
    #: the events, and what it will do is checked by the guardrails.
    plan: PlanView | None = None
    #: The lifecycle phase asking (``check``, ``post-plan``, ``pre-apply``...).
    phase: str = "check"
    #: The file the report is written to (--output), for reports that name it.
    report_path: Path | None = None
    #: What could not be read while the request was built (a rule plugin that failed).
    problems: list[Problem] = field(default_factory=list)
    #: The configuration directory, whose ``.tf`` files say where each address is
    #: written (for annotations); None when the check has no configuration.
    config_dir: Path | None = None
    #: Findings accepted by an owner until a date, in the order they were read.
    waivers: tuple[Waiver, ...] = ()
    #: When the check runs: waivers expire against it (now, when not given).
    checked_at: datetime | None = None
    #: What building the request noticed that the report should say (a malformed
    #: inline waiver).
    notes: list[str] = field(default_factory=list)


@dataclass
class Stats:
    """How much was read, for the summary and for benchmarks."""

    kms_records: int = 0
    outside_window: int = 0
    duplicates: int = 0
    reads: int = 0
    writes: int = 0
    failed_attempts: int = 0
    in_band: int = 0
    sources: list[str] = field(default_factory=list)
    #: Sources that could not read everything: name and how many problems.
    failed_sources: dict[str, int] = field(default_factory=dict)


@dataclass
class CheckResult:
    """Everything a reporter needs: findings, notes, problems and what was covered."""

    request: CheckRequest
    findings: list[Finding]
    problems: Problems
    stats: Stats
    notes: list[str] = field(default_factory=list)
    in_band: list[KmsEvent] = field(default_factory=list)
    usage: dict[tuple[str, str], KeyUsage] = field(default_factory=dict)
    #: The rules the findings were judged by (for reports that describe them).
    rules: RuleSet | None = None

    @property
    def complete(self) -> bool:
        return not self.problems

    def gating(self) -> list[Finding]:
        """Findings at or above the fail threshold that no waiver accepts."""
        threshold = severity(self.request.fail_on)
        return [item for item in self.standing() if item.severity >= threshold]

    def standing(self) -> list[Finding]:
        """Findings no waiver accepts: those the summaries count and that may gate."""
        return [item for item in self.findings if item.waiver is None]

    def waived(self) -> list[Finding]:
        """Findings a waiver accepts: reported, counted apart, never gating."""
        return [item for item in self.findings if item.waiver is not None]

    def exit_code(self) -> ExitCode:
        """3 when anything was not read, whatever was found: the result is partial.

        A setting that lets incomplete runs pass must still stop on :meth:`gating`.
        """
        if self.problems:
            return ExitCode.INCOMPLETE
        return ExitCode.FINDINGS if self.gating() else ExitCode.OK


def run_check(
    request: CheckRequest, plugins: pluggy.PluginManager, rules: RuleSet
) -> CheckResult:
    """Read, reconstruct, judge; the result carries every problem met on the way."""
    problems = Problems([*request.inventory.problems, *request.problems])
    stats = Stats()
    reader = _Reader(request.window, plugins, problems, stats, request.inventory)
    sources = _sources(request, plugins, problems)
    for plugin, source in sources:
        stats.sources.append(source.name)
        before = len(problems)
        _read(reader, plugin, source, problems)
        if len(problems) > before:
            stats.failed_sources[source.name] = len(problems) - before
    _check_settled(request, [source for _, source in sources], problems)

    resolver = Resolver(request.inventory)
    rebuild = Reconstruction(request.inventory, resolver, request.trust, reader.usage)
    # A stable sort: calls in the same second keep the order the trail gave them.
    candidates = rebuild.apply(sorted(reader.writes, key=_event_time))
    candidates += _coverage_candidates(request)
    if request.plan is not None:
        candidates += _plan_candidates(
            request, candidates, reader.usage, plugins, problems
        )
    stats.failed_attempts = len(rebuild.failed)
    stats.in_band = len(rebuild.in_band)
    findings = _filtered(judge(candidates, rules), request, plugins, problems)
    located = _locate(findings, request)
    findings += _waive(findings, request, rules)
    _check_inventory(request.inventory, stats, problems)
    return CheckResult(
        request=request,
        findings=findings,
        problems=problems,
        stats=stats,
        notes=request.notes + reader.notes + rebuild.notes + located,
        in_band=rebuild.in_band,
        usage=reader.usage,
        rules=rules,
    )


def _locate(findings: list[Finding], request: CheckRequest) -> list[str]:
    """Each finding's file and line in the configuration; notes on files not read.

    The ``.tf`` files are parsed only when there is a finding to place, so a clean
    check does not pay for it. A file that cannot be parsed costs its locations only.
    """
    if not findings or request.config_dir is None:
        return []

    from tfdrift_hook.hcl_source import source_map

    locations = source_map(request.config_dir)
    for finding in findings:
        for address in (finding.address, finding.candidate.target.address):
            if address and finding.location is None:
                finding.location = locations.locate(address)
    return locations.warnings


def _waive(
    findings: list[Finding], request: CheckRequest, rules: RuleSet
) -> list[Finding]:
    """Mark waived findings; judge the expired and unused waivers as findings.

    Waivers come after the rules and the filters, so a waiver sees the findings the
    report will show; a stale waiver's finding points at the line it is written on.
    """
    if not request.waivers:
        return []

    now = request.checked_at or utc_now()
    today = now.astimezone(timezone.utc).date()
    waiving = apply_waivers(findings, request.waivers, today)
    account = next(iter(sorted(request.inventory.accounts)), None)
    stale = judge(stale_candidates(waiving, account, now), rules)
    for finding in stale:
        waiver = finding.candidate.stale_waiver
        finding.location = waiver_location(waiver) if waiver is not None else None
    return stale


def _coverage_candidates(request: CheckRequest) -> list[Candidate]:
    """Regions whose trail does not record KMS writes, for the trail-based sources."""
    regions = trail_regions(request)
    if not regions:
        return []

    account = next(iter(sorted(request.inventory.accounts)), None)
    now = utc_now()
    gaps = trail_gaps(regions, cloudtrail_client(request))
    target = Target(Subject.UNATTRIBUTABLE)
    return [
        Candidate(COVERAGE_GAP, gap_event(gap, account, now), target) for gap in gaps
    ]


def _plan_candidates(
    request: CheckRequest,
    candidates: list[Candidate],
    usage: dict[tuple[str, str], KeyUsage],
    plugins: pluggy.PluginManager,
    problems: Problems,
) -> list[Candidate]:
    """What the plan adds: drift no event explains, and the guardrails."""
    groups = call_each(
        plugins.hook.tfdrift_plan_candidates,
        problems,
        request=request,
        candidates=list(candidates),
        usage=usage,
    )
    return [candidate for _, group in reversed(groups) for candidate in group]


def _check_settled(
    request: CheckRequest, sources: list[EventSource], problems: Problems
) -> None:
    """With --require-complete, a window CloudTrail may still add events to is partial.

    CloudTrail delivers an event up to about 15 minutes after the call; files given
    by hand are what they are, so only live sources are held to this.
    """
    settled = request.settled_until
    live = [source.name for source in sources if source.name != "files"]
    if not request.require_complete or settled is None or not live:
        return
    until = request.window.until
    if until is not None and until <= settled:
        return
    stamp = settled.strftime("%Y-%m-%dT%H:%M:%SZ")
    problems.add(
        "window",
        f"not settled: CloudTrail may still deliver events after {stamp}",
        f"run again later, or pass --until {stamp}",
    )


def _check_inventory(inventory: Inventory, stats: Stats, problems: Problems) -> None:
    """KMS writes against a state that manages no key: most likely the wrong state."""
    if inventory.resources or not stats.writes:
        return
    problems.add(
        inventory.source,
        f"holds no KMS resource, yet {stats.writes} KMS writes were read, "
        "so every one of them counts as unmanaged",
        "check --state, --plan-json or -C: with the right state they are judged "
        "as changes to managed keys",
    )


class NoSourceError(TfdriftError):
    """A check with nowhere to read events from would always look clean."""


def _sources(
    request: CheckRequest, plugins: pluggy.PluginManager, problems: Problems
) -> list[tuple[str, EventSource]]:
    """Every source a plugin provides, built-in ones first, with the plugin's name."""
    provided = call_each(plugins.hook.tfdrift_event_sources, problems, request=request)
    sources = [(name, source) for name, group in reversed(provided) for source in group]
    if not sources:
        msg = "no event source: give --events PATH (CloudTrail files or a directory)"
        raise NoSourceError(msg)
    return sources


def _read(
    reader: _Reader, plugin: str, source: EventSource, problems: Problems
) -> None:
    """One source; an installed source that breaks costs its records, not the run."""
    try:
        reader.read(source)
    except TfdriftError:
        raise
    except Exception as exc:
        if is_builtin(plugin):
            raise
        problems.add(
            f"plugin {plugin}",
            f"source {source.name} failed ({type(exc).__name__}: {exc}); the records "
            "after that point were not read",
            "fix or uninstall it, or name it in TFDRIFT_HOOK_DISABLE_PLUGINS",
        )


def _filtered(
    findings: list[Finding],
    request: CheckRequest,
    plugins: pluggy.PluginManager,
    problems: Problems,
) -> list[Finding]:
    """Each filter in turn sees the list the previous one returned."""
    caller = plugins.hook.tfdrift_filter_findings
    for impl in reversed(caller.get_hookimpls()):
        arguments = {"findings": findings, "request": request}
        replaced = call_one(impl, caller.name, problems, arguments)
        if replaced is not None:
            findings = list(replaced)
    return findings


def _event_time(event: KmsEvent) -> datetime:
    return event.time


class _Reader:
    """The hot path: one pass over every record of every source."""

    def __init__(
        self,
        window: Window,
        plugins: pluggy.PluginManager,
        problems: Problems,
        stats: Stats,
        inventory: Inventory,
    ) -> None:
        self.since, self.until = window.bounds_text()
        self.resolve_actor = plugins.hook.tfdrift_resolve_actor
        # A hook call returns Any; this hook is firstresult, so one event or None.
        self.normalize: Callable[..., KmsEvent | None] = (
            plugins.hook.tfdrift_normalize_record
        )
        self.problems = problems
        self.stats = stats
        self.inventory = inventory
        self.seen: dict[str, int] = {}
        self.notes: list[str] = []
        self.writes: list[KmsEvent] = []
        self.reads = UsageCounter(inventory, self.resolve_actor)
        self.usage = self.reads.usage

    def read(self, source: EventSource) -> None:
        for record, where in source.records(self.problems, WANTED_SOURCES):
            if record.get("eventSource") != KMS_EVENT_SOURCE:
                continue
            self.stats.kms_records += 1
            if not self._in_window(record, where) or self._duplicate(record, where):
                continue
            if is_read_only(record):
                self.stats.reads += 1
                self.reads.count(record)
                continue
            event = self._event(record, where)
            if event is not None:
                self._keep(event)

    def _in_window(self, record: Mapping[str, Any], where: str) -> bool:
        if self.since is None and self.until is None:
            return True

        stamp = _stamp(record.get("eventTime"))
        if stamp is None:
            self.problems.add(where, "record has no readable eventTime", _RECORD_FIX)
            return False

        inside = (self.since is None or stamp >= self.since) and (
            self.until is None or stamp <= self.until
        )
        if not inside:
            self.stats.outside_window += 1
        return inside

    def _duplicate(self, record: Mapping[str, Any], where: str) -> bool:
        """The same record seen again: same eventID, same call, same time."""
        event_id = record.get("eventID")
        if not isinstance(event_id, str):
            return False

        fingerprint = hash((record.get("eventName"), record.get("eventTime")))
        if event_id not in self.seen:
            self.seen[event_id] = fingerprint
            return False

        if self.seen[event_id] == fingerprint:
            self.stats.duplicates += 1
            return True

        # Nothing is lost (both are read), but CloudTrail never reuses an eventID, so
        # the records were edited or assembled by hand somewhere.
        note = (
            f"{where}: eventID {event_id} also names a different call; both were read"
        )
        logger.warning("%s", note)
        self.notes.append(note)
        return False

    def _event(self, record: Mapping[str, Any], where: str) -> KmsEvent | None:
        try:
            actor = self.resolve_actor(record=record) or _NOBODY
            event = self.normalize(record=record, where=where, actor=actor)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.problems.add(where, f"cannot read this KMS record: {exc}", _RECORD_FIX)
            return None

        if event is None:
            # With the built-in normalizer disabled and no plugin in its place, a KMS
            # write would vanish without a word.
            self.problems.add(
                where,
                "no normalizer plugin made an event of this KMS record",
                "enable the kms-normalizer plugin or install one that replaces it",
            )
        return event

    def _keep(self, event: KmsEvent) -> None:
        self.stats.writes += 1
        self.writes.append(event)


#: Who made a call when no actor resolver answered (a plugin set that lacks one).
_NOBODY = Actor(type="Unknown", name="unknown")

_RECORD_FIX = "fix or remove this record; the other records were still read"


def _stamp(value: Any) -> str | None:
    """``eventTime`` as comparable text; CloudTrail always writes UTC with a ``Z``."""
    if not isinstance(value, str):
        return None

    if len(value) >= 20 and value[10] == "T" and value.endswith("Z"):
        return value[:19] + "Z"

    try:
        return parse_event_time(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
