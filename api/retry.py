"""Retry policy: which failures to retry, and how long to wait between attempts.

Exponential backoff with full jitter, honouring `Retry-After` (seconds or an HTTP date),
capped both in attempts and in the total time spent waiting between them. The attempts
themselves are bounded by the client's request timeout, not by this budget: a request that
hung until its timeout is still retried (it was once given up on at once, since its own
60 s used up the whole budget). The sleep and random source are injectable so tests never
really sleep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    """Attempts in all, the first included."""
    base_delay: float = 0.5
    max_delay: float = 20.0
    """Cap of one backoff wait (a longer Retry-After is honoured while within max_total)."""
    max_total: float = 60.0
    """Give up rather than start a wait that would bring the waits of one call past this."""
    jitter: bool = True
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Wait before attempt `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if not self.jitter:
            return ceiling
        # "equal jitter": never less than half the ceiling, so waits still grow
        return ceiling / 2 + self.random() * ceiling / 2

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(retry_after, 0.0)
        return self.backoff(attempt)

    def may_retry(self, attempt: int, waited: float, delay: float) -> bool:
        """Whether attempt `attempt + 1` may follow after `delay`, `waited` seconds having
        been spent waiting before the earlier retries of the call."""
        if attempt >= self.max_attempts:
            return False
        return waited + delay <= self.max_total


NO_RETRY = RetryPolicy(max_attempts=1)


@dataclass(frozen=True)
class RetryNotice:
    """A failed attempt about to be retried, for a listener to show (see
    `ClarifaiClient.set_retry_listener`): nothing in it is secret."""

    request: str
    """Method and path, e.g. `POST /v2/users/me/apps/park/inputs`."""
    attempt: int
    """The attempt about to be made (2 for the first retry)."""
    max_attempts: int
    delay: float
    """Seconds of waiting before that attempt."""
    reason: str
    """Why the last attempt failed: the error's message, keys redacted."""

    @property
    def message(self) -> str:
        return (
            f"retrying in {self.delay:.1f} s (attempt {self.attempt} of {self.max_attempts}): "
            f"{self.reason}"
        )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)
