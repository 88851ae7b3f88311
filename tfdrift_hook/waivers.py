"""Waivers: findings a named owner accepts, for a stated reason, until a date.

A waiver does not hide a finding: the finding is still reported, marked waived with
the owner and the reason, and does not gate. A waiver past its date waives nothing and
is itself judged as a finding (rule ``tfdrift_waiver_expired``), and so is one that
matched nothing (``tfdrift_waiver_unused``), so that stale entries get cleaned up
rather than pile up.

This module holds the waiver, its matching and the stand-ins for stale waivers;
``waiver_files`` reads waiver files and ``inline_waivers`` reads ``tfdrift:ignore``
comments.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfdrift_hook.actors import Actor
from tfdrift_hook.events import KmsEvent
from tfdrift_hook.hcl_source import SourceLocation, config_address
from tfdrift_hook.resolution import Subject, Target

if TYPE_CHECKING:
    from tfdrift_hook.findings import Candidate, Finding

#: The ``status`` of the stand-in candidates made for stale waivers.
WAIVER_EXPIRED = "waiver_expired"
WAIVER_UNUSED = "waiver_unused"

#: The parts of a finding a waiver can name; every one it names must hold.
MATCH_KEYS = ("rule", "address", "attribute", "actor", "event_id")

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@dataclass(frozen=True)
class Waiver:
    """One accepted finding pattern, with who accepts it, why, and until when."""

    owner: str
    reason: str
    #: Good through the end of this day, UTC; None only for inline waivers.
    expires: datetime.date | None
    #: A :func:`glob` on the rule name.
    rule: str | None = None
    #: A glob on the finding's address or on its key's address.
    address: str | None = None
    #: One of the attributes the finding's change moved.
    attribute: str | None = None
    #: A glob on the actor's name or ARN.
    actor: str | None = None
    event_id: str | None = None
    #: Where the waiver is written, as ``FILE:LINE``.
    source: str = ""
    inline: bool = False

    def expired(self, today: datetime.date) -> bool:
        """Past its date: a waiver holds through the whole of its expiry day, UTC."""
        return self.expires is not None and today > self.expires

    def matches(self, finding: Finding) -> bool:
        """Whether every part the waiver names holds for the finding."""
        if finding.candidate.stale_waiver is not None:
            # A waiver that waives the report of a stale waiver would never be cleaned.
            return False
        return all(test(self, finding) for test in _TESTS)

    def to_json(self) -> dict[str, Any]:
        """The waiver as reports show it beside a waived finding."""
        line: dict[str, Any] = {
            "owner": self.owner,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
            "source": self.source,
        }
        for name in MATCH_KEYS:
            value = getattr(self, name)
            if value is not None:
                line[name] = value
        if self.inline:
            line["inline"] = True
        return line

    def describe(self) -> str:
        """``by OWNER until DATE: REASON (FILE:LINE)``, as the text report shows it."""
        until = f" until {self.expires.isoformat()}" if self.expires else " (no expiry)"
        # An inline waiver's owner already names its line.
        where = "" if self.source in self.owner else f" ({self.source})"
        return f"by {self.owner}{until}: {self.reason}{where}"


def parse_day(text: str) -> datetime.date | None:
    """The date ``YYYY-MM-DD`` writes, or None for any other text.

    Only that form: ``date.fromisoformat`` also takes ``20251231`` and the week date
    ``2025-W01-1``, which a reader of the waiver would not take for a day.
    """
    if not _DAY.match(text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def glob(pattern: str) -> re.Pattern[str]:
    """``*`` any text, ``?`` one character, all else literal, case and all.

    Unlike fnmatch, brackets are literal: ``aws_kms_key.app["payments"]`` is an
    address, not a character class.
    """
    parts = (
        ".*" if char == "*" else "." if char == "?" else re.escape(char)
        for char in pattern
    )
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _rule_matches(waiver: Waiver, finding: Finding) -> bool:
    return waiver.rule is None or glob(waiver.rule).match(finding.rule.name) is not None


def _address_matches(waiver: Waiver, finding: Finding) -> bool:
    """A block's address covers its instances: ``aws_kms_key.app`` waives
    ``aws_kms_key.app["payments"]``, and ``module.kms.aws_kms_key.this`` waives it in
    every instance of the module, as a marker on the block in the module's file means.
    """
    if waiver.address is None:
        return True
    pattern = glob(waiver.address)
    addresses = {finding.address, finding.candidate.target.address} - {None}
    blocks = {config_address(str(item)) for item in addresses}
    return any(pattern.match(str(item)) for item in addresses | blocks)


def _attribute_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.attribute is None:
        return True
    return waiver.attribute in finding_attributes(finding)


def _actor_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.actor is None:
        return True
    actor = finding.event.actor
    pattern = glob(waiver.actor)
    names = (actor.name, actor.arn, actor.role_arn)
    return any(item and pattern.match(item) for item in names)


def _event_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.event_id is None:
        return True
    events = (finding.event, *finding.candidate.related)
    return any(event.event_id == waiver.event_id for event in events)


_TESTS = (
    _rule_matches,
    _event_matches,
    _address_matches,
    _attribute_matches,
    _actor_matches,
)


def finding_attributes(finding: Finding) -> set[str]:
    """The attributes a finding's changes moved (or its plan drift names)."""
    names = {change.attribute for change in finding.candidate.changes}
    drifted = finding.event.details.get("attribute")
    if isinstance(drifted, str):
        names.add(drifted)
    return names


# ---------------------------------------------------------------------------
# Applying


@dataclass
class Waiving:
    """What applying the waivers did: findings marked, and the stale waivers."""

    expired: list[Waiver] = field(default_factory=list)
    unused: list[Waiver] = field(default_factory=list)


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[Waiver], today: datetime.date
) -> Waiving:
    """Mark each finding with the first live waiver that matches it.

    Every live waiver that matches a finding counts as used, even where an earlier
    one was chosen; an expired waiver waives nothing and is only reported. The
    copies of one inline marker (one per call of its module) are reported once.
    """
    live = [waiver for waiver in waivers if not waiver.expired(today)]
    used: set[int] = set()
    for finding in findings:
        matching = [index for index, item in enumerate(live) if item.matches(finding)]
        if matching:
            finding.waiver = live[matching[0]]
            used.update(matching)
    expired = [waiver for waiver in waivers if waiver.expired(today)]
    return Waiving(expired=_each_marker_once(expired), unused=_unused(live, used))


def _each_marker_once(waivers: Sequence[Waiver]) -> list[Waiver]:
    """The waivers with one copy of each inline marker (its first), the others kept."""
    seen: set[str] = set()
    kept: list[Waiver] = []
    for waiver in waivers:
        if waiver.inline and waiver.source in seen:
            continue
        seen.add(waiver.source)
        kept.append(waiver)
    return kept


def _unused(live: Sequence[Waiver], used: set[int]) -> list[Waiver]:
    """The live waivers that matched nothing, each marker once.

    An inline marker in a module makes one copy for each call of the module, all
    with its source: one marker, one waiver, used when any copy is, and reported
    unused (as its first copy) only when none is.
    """
    markers = {live[index].source for index in used if live[index].inline}
    unused: list[Waiver] = []
    for index, waiver in enumerate(live):
        if index in used or (waiver.inline and waiver.source in markers):
            continue
        unused.append(waiver)
        if waiver.inline:
            markers.add(waiver.source)
    return unused


def stale_candidates(
    waiving: Waiving, account: str | None, now: datetime.datetime
) -> list[Candidate]:
    """Stand-in candidates for the stale waivers, judged by the rules like any other.

    Being candidates, their rules can be overridden (a team that wants an expired
    waiver to stop the run raises ``tfdrift_waiver_expired`` to error).
    """
    from tfdrift_hook.findings import Candidate

    stale = [(WAIVER_EXPIRED, item) for item in waiving.expired]
    stale += [(WAIVER_UNUSED, item) for item in waiving.unused]
    target = Target(Subject.UNATTRIBUTABLE)
    return [
        Candidate(
            status,
            _stand_in_event(status, waiver, account, now),
            target,
            stale_waiver=waiver,
        )
        for status, waiver in stale
    ]


def _stand_in_event(
    status: str, waiver: Waiver, account: str | None, now: datetime.datetime
) -> KmsEvent:
    name = "WaiverExpired" if status == WAIVER_EXPIRED else "WaiverUnused"
    return KmsEvent(
        event_id=_stand_in_id(waiver),
        name=name,
        time=now,
        region="",
        account=account,
        actor=Actor(type="WaiverOwner", name=waiver.owner),
        where=waiver.source,
    )


def _stand_in_id(waiver: Waiver) -> str:
    """The event id of a stale waiver's stand-in, part of its finding's id.

    A file entry's source names it alone. The copies of an inline marker share their
    source (one for each call of its module), so theirs adds the address.
    """
    if waiver.inline and waiver.address:
        return f"waiver:{waiver.source}:{waiver.address}"
    return f"waiver:{waiver.source}"


def waiver_location(waiver: Waiver) -> SourceLocation | None:
    """The line the waiver is written on, for annotations; absolute, since a waiver
    file may lie outside the configuration directory locations are relative to."""
    file, _, line = waiver.source.rpartition(":")
    if not file or not line.isdigit():
        return None
    # An inline waiver's file is relative to the configuration, like other locations.
    path = Path(file) if waiver.inline else Path(file).resolve()
    return SourceLocation(path, int(line), int(line))


def waiver_fields(waiver: Waiver) -> dict[str, Any]:
    """The ``waiver.*`` fields rules see on a stale waiver's candidate."""
    fields: dict[str, Any] = {
        f"waiver.{name}": getattr(waiver, name) for name in (*MATCH_KEYS, "owner")
    }
    fields["waiver.reason"] = waiver.reason
    fields["waiver.expires"] = waiver.expires.isoformat() if waiver.expires else None
    fields["waiver.source"] = waiver.source
    fields["waiver.inline"] = waiver.inline
    return fields
