"""Pacing calls to an AWS API: even spacing between calls, backoff after throttling.

AWS counts calls per account and region, and some APIs (CloudTrail LookupEvents: two a
second) throttle far below what a client could send. :class:`RateLimiter` keeps calls at
least ``1 / per_second`` apart, measured on a monotonic clock, so that the limit is
never passed even in a burst; :class:`Backoff` says how long to wait before trying a
throttled call again. The clock, the sleep and the random source are passed in, so that
tests run on a clock they move themselves.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Backoff", "Pacing", "RateLimiter"]


@dataclass(frozen=True)
class Pacing:
    """Where time comes from: a monotonic clock, a sleep, a random number in [0, 1)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = field(default=random.random)


class RateLimiter:
    """Spaces calls evenly, at most ``per_second`` of them in any second.

    Fixed spacing rather than a bucket with a burst: the server's own bucket may start
    less than full, and an even pace never spends what it does not have.
    """

    def __init__(self, per_second: float, pacing: Pacing | None = None) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second must be above 0, not {per_second}")
        self.interval = 1.0 / per_second
        self.pacing = pacing or Pacing()
        self._next: float | None = None
        self.waited = 0.0

    def wait(self) -> None:
        """Return when the next call may be made; call it right before each call."""
        now = self.pacing.clock()
        if self._next is not None and now < self._next:
            pause = self._next - now
            self.waited += pause
            self.pacing.sleep(pause)
            now = self._next
        self._next = now + self.interval


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, for a bounded number of attempts.

    Before retry ``n`` (1 for the first) the wait is between half and all of
    ``min(cap, base * 2 ** (n - 1))`` seconds: the jitter keeps clients that were
    throttled together from coming back together, and the lower half keeps a wait from
    being so short that it is throttled again at once.
    """

    #: Calls in all, the first one included.
    attempts: int = 6
    base: float = 0.5
    cap: float = 8.0

    def delay(self, retry: int, draw: Callable[[], float]) -> float:
        ceiling: float = min(self.cap, self.base * 2.0 ** (retry - 1))
        return ceiling / 2 + draw() * ceiling / 2
