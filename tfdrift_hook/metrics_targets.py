"""Where the metrics of a check go: a file for node_exporter, a Pushgateway, or both.

``--metrics FILE`` (or ``metrics.textfile``) writes the text exposition format to a
temporary file beside FILE and renames it over FILE, so a scrape never reads half of
it. ``--pushgateway URL`` (or ``metrics.pushgateway``) PUTs the same metrics to the
group of ``metrics.job`` and the ``metrics.labels``, replacing what the previous run
of that group pushed. Either one failing is a problem of the run (exit 3), reported
after the report, which is written whole before any metric leaves.

An incomplete check must not move the time of the last successful check, yet each
run replaces the whole file or group. So an incomplete run reads that time back from
where the previous run put it (the file, else the gateway) and writes it again.
"""

from __future__ import annotations

import logging
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
from tfdrift_hook.metrics import LAST_SUCCESS, OWN_LABELS, check_registry

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckResult

logger = logging.getLogger(__name__)

DEFAULT_JOB = "tfdrift-hook"
DEFAULT_TIMEOUT_S = 10.0

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
    if url is not None and not url.startswith(("http://", "https://")):
        msg = f"--pushgateway {url!r} is not an http:// or https:// URL"
        raise MetricsSettingError(f"{msg}; give the Pushgateway's address")


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
    previous = None if result.complete else previous_success(targets)
    registry = check_registry(result, moment, previous, targets.labels)
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
            f"the metrics file cannot be written ({exc.strerror or exc})",
            "give --metrics (or metrics.textfile) a writable path; the report "
            "above is complete",
        )
        return
    logger.info("metrics written to %s", path)


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
    except OSError as exc:
        result.problems.add(
            f"pushgateway {url}",
            f"the metrics were not pushed ({_reason(exc)})",
            "check --pushgateway (or metrics.pushgateway) and that the gateway "
            "is reachable from here; the report above is complete",
        )
        return
    logger.info("metrics pushed to %s (job %s)", url, targets.job)


def _reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", None) or exc.strerror or exc
    code = getattr(exc, "code", None)
    return f"HTTP {code}: {reason}" if code else str(reason)


def previous_success(targets: MetricsTargets) -> float | None:
    """The last success the previous run wrote: the latest of the file and gateway."""
    found = [
        value
        for value in (_from_file(targets), _from_gateway(targets))
        if value is not None
    ]
    return max(found, default=None)


def _from_file(targets: MetricsTargets) -> float | None:
    path = targets.textfile
    if path is None or not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("%s: cannot read the previous last success: %s", path, exc)
        return None
    return _last_success(text, targets.labels, f"{path}")


def _from_gateway(targets: MetricsTargets) -> float | None:
    if targets.pushgateway is None:
        return None
    url = f"{targets.pushgateway}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=targets.timeout) as response:
            text = response.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("%s: cannot read the previous last success: %s", url, exc)
        return None
    wanted = {"job": targets.job, **targets.labels}
    return _last_success(text, wanted, url)


def _last_success(text: str, labels: Mapping[str, str], where: str) -> float | None:
    """The value of the last-success gauge whose labels include ``labels``."""
    try:
        for family in text_string_to_metric_families(text):
            if family.name != LAST_SUCCESS:
                continue
            for sample in family.samples:
                if all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
    except ValueError as exc:
        logger.warning("%s: cannot parse the previous metrics: %s", where, exc)
    return None
