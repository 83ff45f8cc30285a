"""Failed-auth throttling per client address (issue 25: wrong keys were answered 5,500/s).

A leaky bucket per address: each request with a wrong key adds one; the bucket leaks one every
``refill`` seconds. While it holds ``allowance`` or more, every request from that address is
answered 429 (11005 CONN_THROTTLED, with Retry-After) before its key is even compared, so a
key-guesser gets ``allowance`` guesses at once and then one every ``refill`` seconds (10, then
10 a minute, by default), and learns nothing from the 429s.

Requests with the right key never add to a bucket, cost nothing more than before, and are
never slowed, except from an address that is itself throttled: a 429 that let right keys
through would tell a guesser which guess was right. Other addresses are not affected. IPv6
addresses count by their /64 (one host usually holds a whole /64); anything else that is not
an IP address (an in-process transport's name) counts as given.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

#: Wrong keys an address may send at once before it is throttled.
ALLOWANCE = 10
#: Seconds for the bucket to leak one wrong key (then one more guess is let through).
REFILL = 6.0
#: Addresses tracked at most; the least recently seen are forgotten first.
MAX_ADDRESSES = 10_000


def address_key(host: str) -> str:
    """What an address counts as: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class AuthThrottle:
    def __init__(
        self,
        allowance: int = ALLOWANCE,
        refill: float = REFILL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        if allowance < 1 or refill <= 0:
            raise ValueError("the throttle needs an allowance of at least 1 and a refill > 0")
        self.allowance = allowance
        self.refill = refill
        self.clock = clock
        self.max_addresses = max_addresses
        #: address key -> (level, when it was that level); least recently seen first.
        self._buckets: dict[str, tuple[float, float]] = {}
        #: Requests answered 429, since the start.
        self.refused = 0

    def _level(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return 0.0
        level, then = found
        return max(0.0, level - (now - then) / self.refill)

    def retry_after(self, host: str) -> int | None:
        """Whole seconds until ``host`` may try a key again, or None when it may now."""
        key = address_key(host)
        if key not in self._buckets:
            return None
        now = self.clock()
        level = self._level(key, now)
        if level <= self.allowance - 1:
            return None
        self.refused += 1
        return max(1, math.ceil((level - (self.allowance - 1)) * self.refill))

    def failed(self, host: str) -> None:
        """``host`` sent a wrong key."""
        key = address_key(host)
        now = self.clock()
        level = self._level(key, now) + 1
        self._buckets.pop(key, None)  # re-inserted last: the most recently seen
        self._buckets[key] = (level, now)
        if len(self._buckets) > self.max_addresses:
            self._forget(now)

    def _forget(self, now: float) -> None:
        for key in [k for k in self._buckets if self._level(k, now) == 0.0]:
            del self._buckets[key]
        while len(self._buckets) > self.max_addresses:
            del self._buckets[next(iter(self._buckets))]
