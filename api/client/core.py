"""The transport under every `ClarifaiClient` call: one shared connection and the call loop.

`ClientCore` holds the connection a client shares with its `with_app` clients (one
`httpx.AsyncClient` per profile, HTTP/1.1 keep-alive, timeouts set, either on a base URL or
on `httpx.ASGITransport` over the embedded app), the paths of users and apps, `_send` and
`_call` (retries as `api.retry` says, Clarifai statuses mapped to `ApiError`), and the paging
helpers `_list` and `_iterate`. The resource calls are mixins over it (`api.client.apps`,
`.concepts`, `.inputs`, `.annotations`, `.searches`, `.models`, `.workflows`).

The key is sent as `Authorization: Key <key>` only to the base URL's origin, and appears in
no message, repr or log record.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from api import wire
from api.errors import (
    CODE_CONNECTION,
    CODE_HTTP,
    CODE_TIMEOUT,
    ApiConnectionError,
    ApiError,
    redact,
)
from api.models import Page
from api.retry import RetryNotice, RetryPolicy, parse_retry_after

log = logging.getLogger("api.client")

T = TypeVar("T")
BATCH_SIZE: Final = 128
DEFAULT_PER_PAGE: Final = 128
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
PatchAction = Literal["merge", "overwrite", "remove"]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass
class _Trace:
    """What the retry loop saw of one call."""

    maybe_delivered: bool = False


class _KeyAuth(httpx.Auth):
    """Adds `Authorization: Key ...` to requests for the base URL's origin, and only those."""

    def __init__(self, api_key: str, base_url: str) -> None:
        self.__key = api_key
        self._origin = _origin(base_url)

    def auth_flow(self, request: httpx.Request) -> Any:
        url = request.url
        port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        if (url.scheme, url.host.lower(), port) == self._origin:
            request.headers["Authorization"] = f"Key {self.__key}"
        yield request

    def __repr__(self) -> str:
        return "_KeyAuth(key=***)"


class _Connection:
    """What `with_app` clients share: the HTTP client, key, base URL and retry policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: httpx.AsyncBaseTransport | None,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = api_key
        self.retry = retry
        self.on_retry: Callable[[RetryNotice], None] | None = None
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            auth=_KeyAuth(api_key, self.base_url),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "clarifai-tui"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            follow_redirects=False,
        )
        self._foreign: httpx.AsyncClient | None = None
        self.closed = False

    def foreign(self) -> httpx.AsyncClient:
        """A key-less client for image URLs on other hosts."""
        if self._foreign is None:
            self._foreign = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, follow_redirects=True)
        return self._foreign

    async def aclose(self) -> None:
        self.closed = True
        await self.http.aclose()
        if self._foreign is not None:
            await self._foreign.aclose()


class ClientCore:
    """The connection, paths, call loop and paging that every resource mixin calls through.

    App-scoped calls need an app: pass `app_id=` or use `client.with_app(app_id)`, which
    returns a client sharing this one's connection (close the one you built, once).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        user_id: str,
        app_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self._conn = _Connection(
            base_url, api_key, transport, retry or RetryPolicy(), timeout or DEFAULT_TIMEOUT
        )
        self.user_id = user_id
        self.app_id = app_id

    @classmethod
    def _sharing(cls, conn: _Connection, user_id: str, app_id: str | None) -> Self:
        client = cls.__new__(cls)
        client._conn = conn
        client.user_id = user_id
        client.app_id = app_id
        return client

    def with_app(self, app_id: str) -> Self:
        """A client bound to `app_id`, sharing this client's connection."""
        return type(self)._sharing(self._conn, self.user_id, app_id)

    def for_app(self, user_id: str, app_id: str) -> Self:
        """A client bound to another user's app (Clarifai's public `clarifai`/`main`), sharing
        this client's connection; that app can be read, not changed."""
        return type(self)._sharing(self._conn, user_id, app_id)

    @property
    def base_url(self) -> str:
        return self._conn.base_url

    def set_retry_listener(self, listener: Callable[[RetryNotice], None] | None) -> None:
        """Call `listener` before each wait for a retry (None stops it), so that a user sees
        why nothing moves meanwhile. Shared with the `with_app` clients of this connection."""
        self._conn.on_retry = listener

    def __repr__(self) -> str:
        return (
            f"ClarifaiClient(base_url={self._conn.base_url!r}, user_id={self.user_id!r}, "
            f"app_id={self.app_id!r})"
        )

    async def aclose(self) -> None:
        if not self._conn.closed:
            await self._conn.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -----------------------------------------------------------------------------------
    # Plumbing

    def _user_path(self, *parts: str) -> str:
        path = f"/v2/users/{quote(self.user_id, safe='')}"
        return "/".join([path, *(quote(p, safe="") for p in parts)])

    def _app_path(self, *parts: str) -> str:
        if not self.app_id:
            raise ValueError(
                "no app selected: build the client with app_id= or use client.with_app(app_id)"
            )
        return self._user_path("apps", self.app_id, *parts)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: wire.Params | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool,
        batch_key: str | None = None,
        client: httpx.AsyncClient | None = None,
        raw: bool = False,
        trace: _Trace | None = None,
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """Send with retries; return the response and its JSON body, or raise ApiError.

        `trace`, when given, records whether an attempt may have reached the server before
        its answer was lost, so a batch write can tell its own earlier write from a duplicate.
        """
        policy = self._conn.retry
        http = client or self._conn.http
        started = policy.clock()
        attempt = 0
        label = f"{method} {urlsplit(url).path}"
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await http.request(
                    method,
                    url,
                    params=tuple(params) if params is not None else None,
                    json=json,
                )
            except httpx.TransportError as exc:
                timeout = isinstance(exc, httpx.TimeoutException)
                not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if trace is not None and not not_sent:
                    trace.maybe_delivered = True
                error: ApiError = ApiConnectionError(
                    CODE_TIMEOUT if timeout else CODE_CONNECTION,
                    redact(
                        f"{'timed out talking to' if timeout else 'could not reach'} "
                        f"{self._conn.base_url} ({type(exc).__name__}"
                        + (f": {exc}" if str(exc) else "")
                        + ")",
                        self._conn.secret,
                    ),
                    http_status=None,
                    retryable=idempotent or not_sent,
                    request=label,
                )
            else:
                if raw and response.is_success:
                    return response, {}
                body = _json_body(response)
                code, description, details = wire.status_of(body)
                if response.is_success and code in (0, 10000):
                    return response, body
                if code == 10010 and batch_key is not None:
                    return response, body
                error = ApiError(
                    code or CODE_HTTP,
                    redact(description or response.reason_phrase, self._conn.secret),
                    redact(details, self._conn.secret),
                    http_status=response.status_code,
                    request=label,
                )
                if (
                    batch_key is not None
                    and not error.retryable
                    and not error.is_auth
                    and wire.items(body, batch_key)
                ):
                    return response, body  # a failed batch with per-item statuses
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if trace is not None and response.status_code in (500, 502, 504):
                    trace.maybe_delivered = True  # a gateway may have passed it on
                if not idempotent:
                    error.retryable = False
            if not error.retryable:
                raise error
            delay = policy.delay(attempt, retry_after)
            if not policy.may_retry(attempt, started, delay):
                if attempt > 1:
                    log.info("giving up on %s after %d attempts: %s", label, attempt, error.name)
                raise error
            notice = RetryNotice(label, attempt + 1, policy.max_attempts, delay, str(error))
            log.info("%s", notice.message)
            if self._conn.on_retry is not None:
                self._conn.on_retry(notice)
            await policy.sleep(delay)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: wire.Params | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        batch_key: str | None = None,
        trace: _Trace | None = None,
    ) -> dict[str, Any]:
        _, body = await self._send(
            method,
            path,
            params=params,
            json=json,
            idempotent=idempotent,
            batch_key=batch_key,
            trace=trace,
        )
        return body

    async def _list(
        self,
        path: str,
        key: str,
        parse: Callable[[Mapping[str, Any]], T],
        *,
        page: int,
        per_page: int,
        params: wire.Params | None = None,
    ) -> Page[T]:
        """One page of a List call: GET `path`, parse each item under `key`."""
        body = await self._call(
            "GET", path, params=params if params is not None else wire.page_params(page, per_page)
        )
        return Page([parse(item) for item in wire.items(body, key)], page=page, per_page=per_page)

    async def _iterate(
        self, fetch: Callable[[int, int], Awaitable[Page[T]]], per_page: int
    ) -> AsyncIterator[T]:
        page = 1
        while True:
            result = await fetch(page, per_page)
            for item in result:
                yield item
            if not result.has_more:
                return
            page += 1


def _json_body(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
