"""Trail coverage: is a trail really recording the KMS calls a check reads back?

The S3 and Athena sources read what a trail delivered. If no trail logs in a Region,
or its event selectors leave out management events or exclude ``kms.amazonaws.com``,
those sources return nothing for that Region and the check would look clean. Each such
gap becomes a candidate finding of its own (status ``coverage_gap``), so it is seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tfdrift_hook.actors import Actor, Channel
from tfdrift_hook.events import KMS_EVENT_SOURCE, KmsEvent
from tfdrift_hook.sources.base import default_regions

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest

logger = logging.getLogger(__name__)

#: The sources whose records come from a trail's delivered log files.
TRAIL_SOURCES = ("s3", "athena")
COVERAGE_GAP = "coverage_gap"


@dataclass(frozen=True)
class TrailGap:
    """One Region where the trail-based sources may be missing KMS events."""

    region: str
    reason: str
    trail: str | None = None


def trail_gaps(
    regions: Iterable[str], client_for: Callable[[str], Any]
) -> list[TrailGap]:
    """The Regions whose KMS management events no logging trail records."""
    gaps: list[TrailGap] = []
    for region in sorted(set(regions)):
        gap = _region_gap(region, client_for)
        if gap is not None:
            gaps.append(gap)
    return gaps


def _region_gap(region: str, client_for: Callable[[str], Any]) -> TrailGap | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        listed = client_for(region).describe_trails(includeShadowTrails=True)
        trails = listed["trailList"]
        reasons = [_trail_reason(client_for, trail, region) for trail in trails]
    except (BotoCoreError, ClientError) as exc:
        return TrailGap(region, f"the trails could not be read: {exc}")

    if any(reason is None for reason in reasons):
        return None

    if not trails:
        return TrailGap(region, "no trail records this Region")
    return TrailGap(region, "; ".join(str(reason) for reason in reasons))


def _trail_reason(
    client_for: Callable[[str], Any], trail: Mapping[str, Any], region: str
) -> str | None:
    """Why this trail does not cover KMS in the Region, or None when it does."""
    name = str(trail.get("TrailARN") or trail.get("Name"))
    home = str(trail.get("HomeRegion") or region)
    if not trail.get("IsMultiRegionTrail") and home != region:
        return f"{name} records another Region"

    # A trail's status and selectors are asked of its home Region.
    client = client_for(home)
    if not client.get_trail_status(Name=name).get("IsLogging"):
        return f"{name} is not logging"

    selectors = client.get_event_selectors(TrailName=name)
    return _selector_reason(name, selectors)


def _selector_reason(name: str, selectors: Mapping[str, Any]) -> str | None:
    advanced = selectors.get("AdvancedEventSelectors") or []
    if advanced:
        covered = any(_advanced_covers(item) for item in advanced)
        return None if covered else f"{name}'s selectors leave out KMS write events"

    classic = selectors.get("EventSelectors")
    if not classic:
        return None  # no selectors: CloudTrail's default records all management events
    covered = any(_classic_covers(item) for item in classic)
    return None if covered else f"{name}'s selectors leave out KMS write events"


def _classic_covers(selector: Mapping[str, Any]) -> bool:
    excluded = selector.get("ExcludeManagementEventSources") or []
    return (
        bool(selector.get("IncludeManagementEvents", True))
        and selector.get("ReadWriteType", "All") in ("All", "WriteOnly")
        and KMS_EVENT_SOURCE not in excluded
    )


def _advanced_covers(selector: Mapping[str, Any]) -> bool:
    fields = {
        str(item.get("Field")): item for item in selector.get("FieldSelectors") or []
    }
    category = fields.get("eventCategory", {})
    if "Management" not in (category.get("Equals") or []):
        return False

    read_only = fields.get("readOnly", {})
    if "true" in (read_only.get("Equals") or []):
        return False

    source = fields.get("eventSource", {})
    if KMS_EVENT_SOURCE in (source.get("NotEquals") or []):
        return False
    wanted = source.get("Equals")
    return wanted is None or KMS_EVENT_SOURCE in wanted


def gap_event(gap: TrailGap, account: str | None, now: datetime) -> KmsEvent:
    """A stand-in event, so that a gap is judged and reported like any finding."""
    actor = Actor(type="AWSService", name="tfdrift-hook", channel=Channel.AWS_SERVICE)
    return KmsEvent(
        event_id=f"coverage:{gap.region}",
        name="TrailCoverage",
        time=now,
        region=gap.region,
        account=account,
        actor=actor,
        where=f"cloudtrail:{gap.region}",
        details={"reason": gap.reason},
    )


def trail_regions(request: CheckRequest) -> Sequence[str]:
    """The Regions the trail-based sources read, when one of them is set up."""
    sources = request.settings.get("sources") or {}
    configured = [sources[name] for name in TRAIL_SOURCES if sources.get(name)]
    if not configured:
        return []
    regions = set(default_regions(request))
    for section in configured:
        regions |= set(section.get("regions") or ())
    return sorted(regions)


def cloudtrail_client(request: CheckRequest) -> Callable[[str], Any]:
    """A CloudTrail client per Region, at the endpoint a trail source names."""
    import boto3

    sources = request.settings.get("sources") or {}
    endpoints = [
        sources[name].get("endpoint_url") for name in TRAIL_SOURCES if sources.get(name)
    ]
    endpoint = next((url for url in endpoints if url), None)

    def client_for(region: str) -> Any:
        return boto3.client("cloudtrail", region_name=region, endpoint_url=endpoint)

    return client_for
