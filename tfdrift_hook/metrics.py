"""Prometheus metrics of one check: what its window held, and whether it completed.

Every count of changes is a gauge *of the last check's window*, named
``..._in_window``, not a counter. The window of a check starts at the last apply, so
consecutive checks see the same events again (and the window overlaps for
CloudTrail's delivery delay); adding each run's counts to a counter would count one
change many times. A gauge says "this many changes stand since the last apply",
which falls back to nothing once an apply starts a new window.

Checks themselves are events that happen once each, and each run counts only its
own, so ``tfdrift_kms_checks_total{outcome}`` is an honest counter: the checks this
configuration has run, complete or incomplete. It and the time of the last check
that completed are the values carried from run to run
(:mod:`tfdrift_hook.metrics_targets` reads them back from where the previous run put
them), so an alert can fire when checks stop completing. A lost previous value
starts the counter from 0 again, which ``increase()`` and ``rate()`` read as a
counter reset, the same as a restarted exporter.

Labels stay bounded: account, Region, address, rule, priority, a key state or
rotation status before and after (``from``, ``to``), the status of a write and the
``outcome`` of a check; never an actor, an event id or free text. A key state outside
the states KMS defines is written as ``other``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tfdrift_hook.events import KmsEvent, Status

if TYPE_CHECKING:
    from tfdrift_hook.changes import Change
    from tfdrift_hook.findings import Candidate
    from tfdrift_hook.pipeline import CheckResult

PREFIX = "tfdrift_kms_"
POLICY_CHANGES = f"{PREFIX}key_policy_changes_in_window"
DELETION_SCHEDULES = f"{PREFIX}key_deletion_schedules_in_window"
ROTATION_CHANGES = f"{PREFIX}key_rotation_changes_in_window"
STATE_TRANSITIONS = f"{PREFIX}key_state_transitions_in_window"
FINDINGS = f"{PREFIX}findings_in_window"
WAIVED_FINDINGS = f"{PREFIX}waived_findings_in_window"
WRITE_EVENTS = f"{PREFIX}write_events_in_window"
CHECK_TIME = f"{PREFIX}check_timestamp_seconds"
LAST_SUCCESS = f"{PREFIX}last_successful_check_timestamp_seconds"
WINDOW_START = f"{PREFIX}window_start_timestamp_seconds"
WINDOW_END = f"{PREFIX}window_end_timestamp_seconds"
CHECK_COMPLETE = f"{PREFIX}check_complete"
CHECK_PROBLEMS = f"{PREFIX}check_problems"
#: The counter's sample name, which queries use; CounterMetricFamily and the text
#: parser both name its family without the ``_total``.
CHECKS = f"{PREFIX}checks_total"

#: The ``outcome`` label of :data:`CHECKS`: every input read, or not.
COMPLETE = "complete"
INCOMPLETE = "incomplete"
OUTCOMES = (COMPLETE, INCOMPLETE)

#: Every metric a check may write, by the names of its samples (a dashboard queries
#: those), for the tests that hold dashboards to them.
METRIC_NAMES = (
    POLICY_CHANGES,
    DELETION_SCHEDULES,
    ROTATION_CHANGES,
    STATE_TRANSITIONS,
    FINDINGS,
    WAIVED_FINDINGS,
    WRITE_EVENTS,
    CHECK_TIME,
    LAST_SUCCESS,
    WINDOW_START,
    WINDOW_END,
    CHECK_COMPLETE,
    CHECK_PROBLEMS,
    CHECKS,
)

#: Label names the metrics use themselves; constant labels must pick other names.
OWN_LABELS = frozenset(
    {
        "account",
        "region",
        "address",
        "rule",
        "priority",
        "from",
        "to",
        "status",
        "outcome",
    }
)

_WHERE = ("account", "region", "address")
_TRANSITION = (*_WHERE, "from", "to")

#: Changes that happened to a managed resource outside Terraform. A guardrail is
#: what an apply would do, not what was done; unmanaged and unattributable calls
#: belong to no address.
_DRIFT = frozenset(
    {
        Status.OUT_OF_BAND,
        Status.REVERTED,
        Status.TERRAFORM_OUTSIDE_PIPELINE,
        Status.AWS_SERVICE,
        Status.UNEXPLAINED_DRIFT,
    }
)

#: KMS's key states, plus the ``Deleted`` a DeleteKey leaves.
_KEY_STATES = frozenset(
    {
        "Creating",
        "Enabled",
        "Disabled",
        "PendingDeletion",
        "PendingImport",
        "PendingReplicaDeletion",
        "Unavailable",
        "Updating",
        "Deleted",
    }
)


@dataclass
class Counts:
    """The label values and counts of every family, before they become metrics."""

    policy: Counter[tuple[str, ...]] = field(default_factory=Counter)
    deletions: Counter[tuple[str, ...]] = field(default_factory=Counter)
    rotation: Counter[tuple[str, ...]] = field(default_factory=Counter)
    states: Counter[tuple[str, ...]] = field(default_factory=Counter)
    findings: Counter[tuple[str, ...]] = field(default_factory=Counter)
    waived: Counter[tuple[str, ...]] = field(default_factory=Counter)
    writes: Counter[tuple[str, ...]] = field(default_factory=Counter)


def count_check(result: CheckResult) -> Counts:
    """Each finding once by rule; each changed attribute once per candidate.

    A waived finding is counted apart and its change not at all: someone accepted
    it, so the alerts on the changes must not page for it.
    """
    counts = Counts()
    candidates: dict[int, Candidate] = {}
    for finding in result.findings:
        where = _where_of(finding.candidate, finding.address)
        judged = (*where, finding.rule.name, finding.priority)
        if finding.waived:
            counts.waived[judged] += 1
            continue
        counts.findings[judged] += 1
        # Two rules that match one candidate judged the same change.
        candidates.setdefault(id(finding.candidate), finding.candidate)
    for candidate in candidates.values():
        _count_candidate(counts, candidate)
    for event in result.in_band:
        counts.writes[(event.account or "", event.region, Status.IN_BAND)] += 1
    return counts


def _count_candidate(counts: Counts, candidate: Candidate) -> None:
    if candidate.status not in _DRIFT:
        return

    account, region, _ = _where_of(candidate, candidate.address)
    counts.writes[(account, region, candidate.status)] += 1
    for change in candidate.changes:
        if change.address and not change.detail.get("unchanged"):
            _count_change(counts, (account, region, change.address), change)


def _count_change(counts: Counts, where: tuple[str, str, str], change: Change) -> None:
    attribute = change.attribute
    if attribute == "policy":
        counts.policy[where] += 1
    elif attribute == "deletion_date" and change.after is not None:
        counts.deletions[where] += 1
    elif attribute == "enable_key_rotation":
        rotation = (*where, _rotation(change.before), _rotation(change.after))
        counts.rotation[rotation] += 1
    elif attribute == "key_state":
        transition = (*where, _state(change.before), _state(change.after))
        counts.states[transition] += 1


def _where_of(candidate: Candidate, address: str | None) -> tuple[str, str, str]:
    identity = candidate.target.identity
    event: KmsEvent = candidate.event
    region = identity[1] if identity is not None else event.region
    return event.account or "", region, address or ""


def _rotation(value: Any) -> str:
    if value is None:
        return "unknown"
    return "enabled" if value else "disabled"


def _state(value: Any) -> str:
    if value is None:
        return "unknown"
    return str(value) if value in _KEY_STATES else "other"


@dataclass(frozen=True)
class Carried:
    """What the previous run wrote that this run carries forward."""

    #: When a check last completed, as Unix seconds; None before the first.
    last_success: float | None = None
    #: The checks run so far, by outcome; an outcome not here is at 0.
    checks: Mapping[str, float] = field(default_factory=dict)


def check_counts(result: CheckResult, carried: Carried) -> dict[str, float]:
    """The checks run so far by outcome, this one included."""
    counts = {outcome: carried.checks.get(outcome, 0.0) for outcome in OUTCOMES}
    counts[COMPLETE if result.complete else INCOMPLETE] += 1
    return counts


@dataclass(frozen=True)
class CheckTimes:
    """The times the check-level gauges hold, as Unix seconds."""

    checked: float
    #: The last check that completed: this one, or one carried from an earlier run.
    last_success: float | None
    window_start: float | None
    window_end: float


def check_times(
    result: CheckResult, now: datetime, previous: float | None
) -> CheckTimes:
    """This run's times; an incomplete run keeps the previous run's last success.

    The window ends at ``--until`` when given; otherwise at the time CloudTrail is
    known to have delivered everything (now minus the delivery delay).
    """
    request = result.request
    until = request.window.until or request.settled_until or now
    since = request.window.since
    return CheckTimes(
        checked=now.timestamp(),
        last_success=now.timestamp() if result.complete else previous,
        window_start=since.timestamp() if since is not None else None,
        window_end=until.timestamp(),
    )


class CheckCollector(Collector):
    """The families of one check, each series with the constant labels added."""

    def __init__(
        self,
        counts: Counts,
        times: CheckTimes,
        problems: int,
        labels: Mapping[str, str],
        checks: Mapping[str, float],
    ) -> None:
        self.counts = counts
        self.times = times
        self.checks = dict(checks)
        self.problems = problems
        self.labels = dict(labels)

    def collect(self) -> Iterator[Metric]:
        yield from self._counted()
        yield from self._check_level()
        yield self._checks()

    def _counted(self) -> Iterator[Metric]:
        counts = self.counts
        yield self._family(
            POLICY_CHANGES,
            "Key policy changes made outside Terraform in the last check's window.",
            _WHERE,
            counts.policy.items(),
        )
        yield self._family(
            DELETION_SCHEDULES,
            "Key deletions scheduled outside Terraform in the last check's window.",
            _WHERE,
            counts.deletions.items(),
        )
        yield self._family(
            ROTATION_CHANGES,
            "Automatic rotation switched on or off outside Terraform in the last "
            "check's window, by rotation status before and after.",
            _TRANSITION,
            counts.rotation.items(),
        )
        yield self._family(
            STATE_TRANSITIONS,
            "Key state transitions made outside Terraform in the last check's "
            "window, by key state before and after.",
            _TRANSITION,
            counts.states.items(),
        )
        yield self._family(
            FINDINGS,
            "Findings of the last check that no waiver accepts, by rule and priority.",
            (*_WHERE, "rule", "priority"),
            counts.findings.items(),
        )
        yield self._family(
            WAIVED_FINDINGS,
            "Findings of the last check that a waiver accepts, by rule and priority.",
            (*_WHERE, "rule", "priority"),
            counts.waived.items(),
        )
        yield self._family(
            WRITE_EVENTS,
            "Changes to managed resources in the last check's window, by status: "
            "in_band counts Terraform's own write calls; out_of_band, reverted, "
            "terraform_outside_pipeline and aws_service count the calls a rule "
            "judged and no waiver accepted; unexplained_drift the drift of a plan "
            "that no call of the window explains.",
            ("account", "region", "status"),
            counts.writes.items(),
        )

    def _check_level(self) -> Iterator[Metric]:
        times = self.times
        yield self._single(CHECK_TIME, "When the last check ran.", times.checked)
        if times.last_success is not None:
            yield self._single(
                LAST_SUCCESS,
                "When a check last completed (read every input), findings or not.",
                times.last_success,
            )
        if times.window_start is not None:
            yield self._single(
                WINDOW_START, "Start of the last check's window.", times.window_start
            )
        yield self._single(
            WINDOW_END, "End of the window the last check covered.", times.window_end
        )
        yield self._single(
            CHECK_COMPLETE,
            "1 when the last check read every input, 0 when it was incomplete.",
            1.0 if not self.problems else 0.0,
        )
        yield self._single(
            CHECK_PROBLEMS,
            "Inputs the last check could not read.",
            float(self.problems),
        )

    def _checks(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            CHECKS,
            "Checks this configuration has run, by outcome: complete (read every "
            "input) or incomplete.",
            labels=["outcome", *self.labels],
        )
        # Without ``created`` no ``_created`` sample is written: when the count
        # began is not known, only how far it has come.
        for outcome, count in sorted(self.checks.items()):
            family.add_metric([outcome, *self.labels.values()], count)
        return family

    def _family(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        samples: Iterable[tuple[tuple[str, ...], float]],
    ) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, documentation, labels=[*labels, *self.labels])
        for values, count in sorted(samples):
            family.add_metric([*values, *self.labels.values()], float(count))
        return family

    def _single(self, name: str, documentation: str, value: float) -> GaugeMetricFamily:
        return self._family(name, documentation, (), [((), value)])


def check_registry(
    result: CheckResult,
    now: datetime,
    carried: Carried | None = None,
    labels: Mapping[str, str] | None = None,
) -> CollectorRegistry:
    """A registry holding the metrics of one check, and nothing else."""
    carried = carried or Carried()
    registry = CollectorRegistry(auto_describe=False)
    times = check_times(result, now, carried.last_success)
    collector = CheckCollector(
        count_check(result),
        times,
        len(result.problems),
        labels or {},
        check_counts(result, carried),
    )
    registry.register(collector)
    return registry
