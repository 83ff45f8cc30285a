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

import asyncio
import json as jsonlib
import logging
import zlib
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
    CODE_MALFORMED,
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
"""httpx's timeouts: each connect, write and read (a hung server) of an attempt. An idempotent
call that runs out of one is retried (see `api.retry`); the others fail at once."""
DEFAULT_REQUEST_TIMEOUT: Final = 600.0
"""The most one attempt may take in all, sending, waiting and reading: bounds what the
per-read timeouts cannot, a body trickled a byte a minute. Retried as a timeout is."""
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024
"""The largest answer read (decoded bytes): past it the body is dropped and the call fails
with MALFORMED_RESPONSE, so an endless body cannot take all the memory. Clarifai's largest
answers (a page of 1,000 inputs, a workflow's outputs for 32 inputs) are a few MiB."""
PatchAction = Literal["merge", "overwrite", "remove"]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class _Malformed(Exception):
    """An answer that cannot be read; its message says why, and nothing of the body."""


class _BadEncoding(_Malformed):
    """A body in an encoding not asked for, or one that does not decode."""

    def __init__(self, why: str, status_code: int) -> None:
        super().__init__(why)
        self.status_code = status_code


class _TooLarge(_Malformed):
    def __init__(self, limit: int, status_code: int) -> None:
        super().__init__(f"the answer is larger than {_size(limit)}")
        self.limit = limit
        self.status_code = status_code


def _size(count: int) -> str:
    mib = count / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{count} bytes"


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
        request_timeout: float | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = api_key
        self.retry = retry
        self.request_timeout = request_timeout
        self.on_retry: Callable[[RetryNotice], None] | None = None
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            auth=_KeyAuth(api_key, self.base_url),
            timeout=timeout,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": "clarifai-tui",
            },
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            follow_redirects=False,
        )
        self._foreign: httpx.AsyncClient | None = None
        self.closed = False

    def foreign(self) -> httpx.AsyncClient:
        """A key-less client for image URLs on other hosts."""
        if self._foreign is None:
            self._foreign = httpx.AsyncClient(
                timeout=DEFAULT_TIMEOUT,
                follow_redirects=True,
                headers={"Accept-Encoding": ACCEPT_ENCODING},
            )
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
        request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        """`timeout` bounds each connect, read and write of a call, `request_timeout` (None:
        no bound) one whole attempt; idempotent calls that time out are retried (`retry`)."""
        self._conn = _Connection(
            base_url,
            api_key,
            transport,
            retry or RetryPolicy(),
            timeout or DEFAULT_TIMEOUT,
            request_timeout,
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
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> tuple[httpx.Response, dict[str, Any], bytes]:
        """Send with retries; return the response, its JSON body and its bytes (at most
        `max_bytes` of them), or raise ApiError.

        `trace`, when given, records whether an attempt may have reached the server before
        its answer was lost, so a batch write can tell its own earlier write from a duplicate.
        An answer that cannot be read (too large; on success, not a JSON object) is an
        ApiError MALFORMED_RESPONSE, never retried: the server did answer.
        """
        policy = self._conn.retry
        http = client or self._conn.http
        waited = 0.0
        attempt = 0
        label = f"{method} {urlsplit(url).path}"
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response, content = await self._exchange(
                    http, method, url, params=params, json=json, max_bytes=max_bytes
                )
            except _TooLarge as exc:
                if trace is not None:
                    trace.maybe_delivered = True
                if raw:  # an image, not an API answer
                    raise ApiError(
                        CODE_HTTP,
                        f"image is larger than {max_bytes} bytes",
                        http_status=exc.status_code,
                        request=label,
                    ) from None
                raise self._malformed(str(exc), exc.status_code, label) from None
            except _BadEncoding as exc:
                if trace is not None:
                    trace.maybe_delivered = True
                raise self._malformed(str(exc), exc.status_code, label) from None
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
                    return response, {}, content
                try:
                    body = _json_body(content)
                except _Malformed as exc:
                    if response.is_success:
                        raise self._malformed(str(exc), response.status_code, label) from None
                    body = {}  # an error page (a proxy's HTML): the HTTP status says enough
                code, description, details = wire.status_of(body)
                if response.is_success and code in (0, 10000):
                    return response, body, content
                if code == 10010 and batch_key is not None:
                    return response, body, content
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
                    return response, body, content  # a failed batch with per-item statuses
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if trace is not None and response.status_code in (500, 502, 504):
                    trace.maybe_delivered = True  # a gateway may have passed it on
                if not idempotent:
                    error.retryable = False
            if not error.retryable:
                raise error
            delay = policy.delay(attempt, retry_after)
            if not policy.may_retry(attempt, waited, delay):
                if attempt > 1:
                    log.info("giving up on %s after %d attempts: %s", label, attempt, error.name)
                raise error
            notice = RetryNotice(label, attempt + 1, policy.max_attempts, delay, str(error))
            log.info("%s", notice.message)
            if self._conn.on_retry is not None:
                self._conn.on_retry(notice)
            await policy.sleep(delay)
            waited += delay

    async def _exchange(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        params: wire.Params | None,
        json: Mapping[str, Any] | None,
        max_bytes: int,
    ) -> tuple[httpx.Response, bytes]:
        """One attempt: send, and read at most `max_bytes` of the answer, all within the
        request timeout (a hang past it is an httpx.TimeoutException, as a read timeout is)."""
        request = http.build_request(
            method, url, params=tuple(params) if params is not None else None, json=json
        )
        limit = self._conn.request_timeout
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                response = await http.send(request, stream=True)
                try:
                    content = await _read_capped(response, max_bytes)
                finally:
                    await response.aclose()
        except TimeoutError:
            if not deadline.expired():
                raise
            raise httpx.TimeoutException(
                f"no complete answer within {limit:g} s", request=request
            ) from None
        return response, content

    def _malformed(self, why: str, http_status: int, label: str) -> ApiError:
        return ApiError(
            CODE_MALFORMED,
            redact(f"the server sent a malformed response: {why}", self._conn.secret),
            http_status=http_status,
            retryable=False,
            request=label,
        )

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
        _, body, _ = await self._send(
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


#: The encodings asked for (Accept-Encoding), and so the ones decoded: both by zlib, whose
#: decompressor can be told how much to give back at most. httpx decodes a whole received
#: chunk at once: a small gzip chunk could expand to gigabytes before the cap saw it.
ACCEPT_ENCODING: Final = "gzip, deflate"


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, or _TooLarge as soon as it is past `limit` bytes: a declared
    Content-Length says so before anything is read, an endless body after `limit`, and a
    compressed one as soon as its decoded bytes pass `limit` (each step of the decompressor
    gives back at most what is left under the cap)."""
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge(limit, response.status_code)
    decoder: Any = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        # MAX_WBITS | 32: a zlib or a gzip header, whichever it has.
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)
    elif encoding not in ("", "identity"):
        raise _BadEncoding(
            f"an answer in the {encoding!r} encoding, which was not asked for",
            response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    if response.is_stream_consumed:
        # Read already (an in-memory answer: httpx decoded it while building it).
        content = response.content
        if len(content) > limit:
            raise _TooLarge(limit, response.status_code)
        return content
    async for raw in response.aiter_raw():
        pending = raw
        while pending:
            if decoder is None:
                out, pending = pending, b""
            else:
                try:
                    out = decoder.decompress(pending, limit - size + 1)
                except zlib.error as exc:
                    raise _BadEncoding(
                        f"a {encoding} body that cannot be decoded ({exc})", response.status_code
                    ) from None
                pending = decoder.unconsumed_tail
            size += len(out)
            if size > limit:
                raise _TooLarge(limit, response.status_code)
            chunks.append(out)
    return b"".join(chunks)


def _json_body(content: bytes) -> dict[str, Any]:
    """The JSON object in `content` ({} when empty); _Malformed when it cannot be one."""
    if not content.strip():
        return {}
    try:
        body = jsonlib.loads(content)
    except RecursionError:
        raise _Malformed("JSON nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _Malformed(f"not JSON ({str(exc)[:120]})") from None
    if not isinstance(body, dict):
        raise _Malformed(f"a JSON {type(body).__name__} where an object was expected")
    return body
