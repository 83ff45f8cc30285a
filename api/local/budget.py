"""A pixel budget: how many decoded pixels the request handlers may hold at once.

PostModelOutputs and PostWorkflowResults decode the images they are sent. Decoded in full and
kept for the whole request, 40 copies of a 60 KB 7000x7000 PNG once took the server to 7.7 GB.
Now each decode first takes its pixel count (read from the header) from this budget and gives
it back when the decoded image is gone, so however many inputs a request carries, and however
many requests run at once, the decoded pixels alive at any moment stay under the capacity (one
maximal image, ``IngestLimits.max_pixels``, always fits on its own).

Waiters are served in arrival order: a large image is not starved by a stream of small ones.
One budget per LocalBackend (one event loop); it is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class PixelBudget:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a pixel budget needs a capacity of at least 1")
        self.capacity = capacity
        #: Pixels held now.
        self.used = 0
        #: The most pixels ever held at once (tests and benchmarks read it).
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def cost(self, pixels: int) -> int:
        """What holding ``pixels`` takes: an image larger than the whole budget takes all of it
        (such an image is refused before this, by IngestLimits.max_pixels)."""
        return max(1, min(pixels, self.capacity))

    @contextlib.asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        """Wait until ``pixels`` fit, hold them for the ``async with`` block."""
        cost = self.cost(pixels)
        if self._waiters or self.used + cost > self.capacity:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (cost, waiter)
            self._waiters.append(entry)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release(cost)  # granted, then cancelled before it could run
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(entry)
                    self._release(0)  # the next waiters may fit now
                raise
        else:
            self._take(cost)
        try:
            yield
        finally:
            self._release(cost)

    def _take(self, cost: int) -> None:
        self.used += cost
        self.peak = max(self.peak, self.used)

    def _release(self, cost: int) -> None:
        self.used -= cost
        while self._waiters and self.used + self._waiters[0][0] <= self.capacity:
            cost_next, waiter = self._waiters.popleft()
            if waiter.done():
                continue  # cancelled while waiting
            self._take(cost_next)
            waiter.set_result(None)
