"""In band or out of band: whether Terraform, run where the user trusts, made a call.

A call is in band only when two things hold: it carries the AWS provider's user agent,
and it came from a trusted principal (an ARN glob the user gave) or from inside the
window of an apply that touched the resource. The user agent alone can be forged, so it
never makes a call in band by itself; Terraform's user agent from anyone else is a
finding of its own (Terraform run outside the pipeline).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tfdrift_hook.actors import Channel
from tfdrift_hook.events import KmsEvent, Status


@dataclass(frozen=True)
class ApplyWindow:
    """The span of one ``terraform apply`` and the addresses it applied."""

    start: datetime
    end: datetime
    addresses: frozenset[str] = frozenset()
    principal: str | None = None

    def covers(self, event: KmsEvent, addresses: Collection[str]) -> bool:
        """Whether the apply made this call: its time, principal and resources."""
        if not self.start <= event.time <= self.end:
            return False

        if self.principal and not _principal_matches(event, self.principal):
            return False

        return not self.addresses or not self.addresses.isdisjoint(addresses)


@dataclass(frozen=True)
class Trust:
    """The principals and apply windows whose Terraform calls are Terraform's own."""

    principals: tuple[str, ...] = ()
    apply_windows: tuple[ApplyWindow, ...] = field(default_factory=tuple)

    def status_of(self, event: KmsEvent, addresses: Collection[str]) -> str:
        """``in_band``, ``terraform_outside_pipeline`` or ``out_of_band``.

        ``addresses`` are the resources the call changed: a key's address, and its
        ``aws_kms_key_policy`` for a policy change.
        """
        if event.actor.channel != Channel.TERRAFORM:
            return Status.OUT_OF_BAND

        if self.trusts(event) or self._applied(event, addresses):
            return Status.IN_BAND

        return Status.TERRAFORM_OUTSIDE_PIPELINE

    def trusts(self, event: KmsEvent) -> bool:
        return any(_principal_matches(event, pattern) for pattern in self.principals)

    def _applied(self, event: KmsEvent, addresses: Collection[str]) -> bool:
        return any(window.covers(event, addresses) for window in self.apply_windows)


def _principal_matches(event: KmsEvent, pattern: str) -> bool:
    candidates: Sequence[str | None] = (event.actor.role_arn, event.actor.arn)
    return any(
        text is not None and fnmatch.fnmatchcase(text, pattern) for text in candidates
    )
