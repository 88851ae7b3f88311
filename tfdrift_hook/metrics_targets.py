"""Where the metrics of a check go: a file for node_exporter, a Pushgateway, or both.

``--metrics FILE`` (or ``metrics.textfile``) writes the text exposition format to a
temporary file beside FILE and renames it over FILE, so a scrape never reads half of
it. ``--pushgateway URL`` (or ``metrics.pushgateway``) PUTs the same metrics to the
group of ``metrics.job`` and the ``metrics.labels``, replacing what the previous run
of that group pushed. Either one failing is a problem of the run (exit 3), reported
after the report, which is written whole before any metric leaves.

Each run replaces the whole file or group, yet two values outlive a run: the time
of the last successful check, which an incomplete check must not move, and the
counter of checks run, which every check adds one to. So every run reads both back
once from where the previous run put them, the file and the gateway's ``/metrics``
(the series of the same job and labels), and takes the larger of each where both
hold it: a write or push that failed last time leaves that one behind. A source
that is missing holds nothing yet; one that cannot be read or parsed is logged and
read as nothing, so the counter starts again from 0 and the run goes on.
"""

from __future__ import annotations

import http.client
import logging
import math
import os
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import push_to_gateway, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from tfdrift_hook.errors import TfdriftError
from tfdrift_hook.metrics import (
    CHECKS,
    LAST_SUCCESS,
    OUTCOMES,
    OWN_LABELS,
    Carried,
    check_registry,
)

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckResult

logger = logging.getLogger(__name__)

DEFAULT_JOB = "tfdrift-hook"
DEFAULT_TIMEOUT_S = 10.0

#: What a run that cannot read back the previous metrics writes instead.
_LOST = "its check counts and last success are not carried forward"

#: Labels Prometheus or the Pushgateway set themselves.
_RESERVED_LABELS = frozenset({"job"})


class MetricsSettingError(TfdriftError):
    """A metrics option or setting that cannot be used as given."""


@dataclass(frozen=True)
class MetricsTargets:
    """Where this run's metrics go; both None means metrics are off."""

    textfile: Path | None = None
    pushgateway: str | None = None
    job: str = DEFAULT_JOB
    labels: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def wanted(self) -> bool:
        return self.textfile is not None or self.pushgateway is not None


def check_metrics_options(options: Mapping[str, Any]) -> None:
    """A --pushgateway that is no URL is refused before anything is checked."""
    url = _given(options.get("pushgateway"))
    if url is not None:
        _check_url(url, "--pushgateway")


def _check_url(url: str, named: str) -> None:
    problem = _url_problem(url)
    if problem is not None:
        msg = f"{named} {url!r} is not a Pushgateway URL ({problem})"
        raise MetricsSettingError(f"{msg}; give one such as http://pushgateway:9091")


def _url_problem(url: str) -> str | None:
    if not url.startswith(("http://", "https://")):
        return "it does not start with http:// or https://"
    if any(char.isspace() for char in url):
        return "it holds a blank"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError as exc:
        return str(exc)
    if not parts.hostname:
        return "it names no host"
    return None


def _check_textfile(path: Path, named: str) -> None:
    if path.is_dir() or str(path).endswith(("/", os.sep)):
        msg = f"{named} {str(path)!r} is a directory"
        raise MetricsSettingError(f"{msg}; name the file, such as tfdrift.prom in it")


def check_metrics_settings(
    options: Mapping[str, Any], settings: Mapping[str, Any]
) -> None:
    """Refuse bad metrics options and settings before the check runs, not after."""
    metrics_targets(options, settings)


def metrics_targets(
    options: Mapping[str, Any], settings: Mapping[str, Any]
) -> MetricsTargets:
    """The command line over the ``metrics`` section of the settings file."""
    check_metrics_options(options)
    section = settings.get("metrics") or {}
    textfile = _given(options.get("metrics_file")) or _given(section.get("textfile"))
    url = _given(options.get("pushgateway")) or _given(section.get("pushgateway"))
    if url is not None:
        _check_url(url, "metrics.pushgateway")
    if textfile is not None:
        _check_textfile(Path(textfile), "--metrics (metrics.textfile)")
    return MetricsTargets(
        textfile=Path(textfile) if textfile else None,
        pushgateway=url.rstrip("/") if url else None,
        job=str(section.get("job") or DEFAULT_JOB),
        labels=constant_labels(section.get("labels") or ()),
        timeout=float(section.get("timeout_seconds") or DEFAULT_TIMEOUT_S),
    )


def _given(value: Any) -> str | None:
    """An empty value (``--metrics "$UNSET"``) means not given."""
    text = str(value).strip() if value is not None else ""
    return text if text and text != "." else None


def constant_labels(items: Any) -> dict[str, str]:
    """``NAME=VALUE`` items as labels; a name the metrics use is refused."""
    labels: dict[str, str] = {}
    for item in items:
        name, _, value = str(item).partition("=")
        name = name.strip()
        if name in OWN_LABELS or name in _RESERVED_LABELS or name.startswith("__"):
            taken = ", ".join(sorted(OWN_LABELS | _RESERVED_LABELS))
            msg = f"metrics.labels: {name!r} is a label the metrics set themselves"
            raise MetricsSettingError(f"{msg} ({taken}); pick another name")
        labels[name] = value
    return labels


def publish_metrics(
    result: CheckResult,
    options: Mapping[str, Any],
    now: datetime | None = None,
) -> None:
    """Write and push the metrics of a check, as the options and settings ask.

    What fails is added to ``result.problems`` (so the run exits 3), never raised:
    the report is out already and must stay the last word on the findings.
    """
    targets = metrics_targets(options, result.request.settings)
    if not targets.wanted:
        return

    moment = now or datetime.now(timezone.utc)
    registry = check_registry(result, moment, carried_values(targets), targets.labels)
    if targets.textfile is not None:
        _write(targets.textfile, registry, result)
    if targets.pushgateway is not None:
        _push(targets, registry, result)


def _write(path: Path, registry: CollectorRegistry, result: CheckResult) -> None:
    if path.suffix != ".prom":
        logger.warning(
            "%s: node_exporter's textfile collector reads only *.prom files", path
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)
    except OSError as exc:
        result.problems.add(
            str(path),
            f"the metrics file cannot be written ({_write_reason(path, exc)})",
            "give --metrics (or metrics.textfile) a writable path; the report "
            "above is complete",
            level=logging.ERROR,
        )
        return
    logger.info("metrics written to %s", path)


def _write_reason(path: Path, exc: OSError) -> str:
    blocked = next((item for item in path.parents if item.is_file()), None)
    if blocked is not None:
        return f"{blocked} is a file, not a directory"
    return str(exc.strerror or exc)


def _push(
    targets: MetricsTargets, registry: CollectorRegistry, result: CheckResult
) -> None:
    url = str(targets.pushgateway)
    try:
        push_to_gateway(
            url,
            job=targets.job,
            registry=registry,
            grouping_key=dict(targets.labels),
            timeout=targets.timeout,
        )
    except (OSError, ValueError, http.client.HTTPException) as exc:
        result.problems.add(
            f"pushgateway {url}",
            f"the metrics were not pushed ({_reason(exc)})",
            "check --pushgateway (or metrics.pushgateway) and that the gateway "
            "is reachable from here; the report above is complete",
            level=logging.ERROR,
        )
        return
    logger.info("metrics pushed to %s (job %s)", url, targets.job)


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
    code = getattr(exc, "code", None)
    return f"HTTP {code}: {reason}" if code else str(reason)


def carried_values(targets: MetricsTargets) -> Carried:
    """What the previous run wrote, read once from the file and once from the gateway.

    Where both hold a value the larger wins: the last success is the later one, and
    a counter that missed a write is behind the other, never ahead.
    """
    return _larger(_from_file(targets), _from_gateway(targets))


def _larger(first: Carried, second: Carried) -> Carried:
    successes = [
        value
        for value in (first.last_success, second.last_success)
        if value is not None
    ]
    checks = {
        outcome: max(first.checks.get(outcome, 0.0), second.checks.get(outcome, 0.0))
        for outcome in OUTCOMES
    }
    return Carried(max(successes, default=None), checks)


def _from_file(targets: MetricsTargets) -> Carried:
    path = targets.textfile
    if path is None or not path.is_file():
        return Carried()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("%s: cannot read the previous metrics: %s; %s", path, exc, _LOST)
        return Carried()
    return _carried(text, targets.labels, f"{path}")


def _from_gateway(targets: MetricsTargets) -> Carried:
    if targets.pushgateway is None:
        return Carried()
    url = f"{targets.pushgateway}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=targets.timeout) as response:
            text = response.read().decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError, http.client.HTTPException) as exc:
        logger.warning("%s: cannot read the previous metrics: %s; %s", url, exc, _LOST)
        return Carried()
    return _carried(text, {"job": targets.job, **targets.labels}, url)


def _carried(text: str, labels: Mapping[str, str], where: str) -> Carried:
    """The carried values among the series of exactly these ``labels``."""
    try:
        samples = [
            sample
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    except ValueError as exc:
        logger.warning(
            "%s: cannot parse the previous metrics: %s; %s", where, exc, _LOST
        )
        return Carried()

    last_success: float | None = None
    checks: dict[str, float] = {}
    for sample in samples:
        series = dict(sample.labels)
        outcome = series.pop("outcome", None)
        value = float(sample.value)
        if not _same_group(series, labels) or not _usable(value):
            continue
        # By the sample's name, not its family's: the parser names a counter's
        # family without ``_total``, or with it when no TYPE line names the family.
        if sample.name == LAST_SUCCESS and outcome is None:
            last_success = value
        elif sample.name == CHECKS and outcome in OUTCOMES:
            checks[str(outcome)] = value
    return Carried(last_success, checks)


def _same_group(series: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Labels equal but for empty values, which Prometheus reads as absent.

    The gateway adds an empty ``instance`` to a group that names none; another
    configuration's group, with a label more, must not be read as this one.
    """
    return {k: v for k, v in series.items() if v} == {
        k: v for k, v in wanted.items() if v
    }


def _usable(value: float) -> bool:
    return math.isfinite(value) and value >= 0
