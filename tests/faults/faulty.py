"""A fault-injecting httpx transport: a flaky proxy in front of any other transport."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Sequence

import httpx

KINDS = (
    "throttle",  # 429 + Retry-After, the server never sees the request
    "unavailable",  # 503 from a proxy (HTML body), the server never sees the request
    "reset_before",  # connection refused/reset before the request is sent
    "reset_after",  # the server did the work, the connection died before the response
    "timeout_after",  # the server did the work, the response never came (read timeout)
    "slow",  # the response arrives, late
)


class FaultyTransport(httpx.AsyncBaseTransport):
    """Injects a fault into ``rate`` of the calls (reproducibly): reads by a seeded RNG, the
    kinds taking turns; writes at a fixed stride, starting with lost answers."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        seed: int = 10,
        rate: float = 0.10,
        kinds: Sequence[str] = KINDS,
        slow_seconds: float = 0.01,
    ) -> None:
        self.inner = inner
        self.rng = random.Random(seed)
        self.rate = rate
        self.kinds = tuple(kinds)
        self.slow_seconds = slow_seconds
        self.calls = 0
        self.writes = 0
        self.write_faults = 0
        self.write_kinds = tuple(
            sorted(self.kinds, key=lambda k: (k not in ("reset_after", "timeout_after"), k))
        )
        self.injected: Counter[str] = Counter()
        self.by_route: Counter[tuple[str, str]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if request.method == "GET":
            # Reads (listing, polling) vary in number with the server's speed: a seeded draw.
            if self.rng.random() >= self.rate:
                return await self.inner.handle_async_request(request)
            kind = self.kinds[sum(self.injected.values()) % len(self.kinds)]
        else:
            # Writes are few (16 batches for 2,000 files) and matter most: every tenth one is
            # hit, the kinds that let the server do the work first, so that the hardest case
            # (a write stored but its answer lost) is always exercised whatever GETs happened.
            self.writes += 1
            if self.writes % round(1 / self.rate) != round(1 / self.rate) // 2:
                return await self.inner.handle_async_request(request)
            kind = self.write_kinds[self.write_faults % len(self.write_kinds)]
            self.write_faults += 1
        self.injected[kind] += 1
        self.by_route[(request.method, kind)] += 1
        if kind == "throttle":
            body = {"status": {"code": 11005, "description": "Making too many requests"}}
            return httpx.Response(
                429, headers={"Retry-After": "1"}, content=json.dumps(body).encode()
            )
        if kind == "unavailable":
            return httpx.Response(
                503,
                headers={"Content-Type": "text/html"},
                content=b"<html><body>503 Service Unavailable</body></html>",
            )
        if kind == "reset_before":
            raise httpx.ConnectError("[Errno 104] Connection reset by peer", request=request)
        if kind in ("reset_after", "timeout_after"):
            response = await self.inner.handle_async_request(request)
            await response.aread()
            await response.aclose()
            if kind == "reset_after":
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            raise httpx.ReadTimeout("timed out reading the response", request=request)
        await asyncio.sleep(self.slow_seconds)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class LoseResponses(httpx.AsyncBaseTransport):
    """Lets the server do the work, then drops the response of the first ``times`` calls whose
    method and path match (the path ends with ``suffix``)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, method: str, suffix: str, times: int = 1
    ) -> None:
        self.inner = inner
        self.method, self.suffix, self.left = method, suffix, times
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.left and request.method == self.method and request.url.path.endswith(self.suffix):
            self.left -= 1
            self.dropped += 1
            await response.aread()
            await response.aclose()
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
