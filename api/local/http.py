"""The HTTP layer shared by every route module: auth, the Call context, status envelopes.

A route module exports ``ROUTES: list[RouteSpec]``; ``api.local.app`` mounts them all under
``/v2/users/{user_id}``. Handlers return a payload dict (the ``status`` envelope is added) or a
Starlette Response, and raise :class:`ApiFailure` to answer an error. Any other exception becomes
a 98004 JSON status, never a bare 500 page.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.local.convert import Links
from api.local.jsonio import Obj, Query, parse_body
from api.local.public import PUBLIC_APP, PUBLIC_USER, READ_CALLS, readonly_refusal
from api.local.rows import AppRow
from api.local.status import (
    CONN_DOES_NOT_EXIST,
    CONN_INVALID_REQUEST,
    CONN_KEY_INVALID,
    CONN_THROTTLED,
    INTERNAL_SERVER_ISSUE,
    SUCCESS,
    ApiFailure,
    invalid,
    not_found,
    status_json,
)

if TYPE_CHECKING:
    from api.local.services import Services

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

Handler = Callable[["Call"], Awaitable["Response | dict[str, Any]"]]

#: Request bodies larger than this are refused, declared or not (a chunked body is counted as
#: it arrives). The platform takes at most 128 MB of images in one batch (its upload limits);
#: as base64 in JSON that is about 171 MB. A 2 GiB chunked body once took the server to 6.4 GB.
MAX_BODY_BYTES = 256 * 1024 * 1024
_OFF_LOOP_JSON_BYTES = 256 * 1024
#: Ids a client names: the platform's rule ("1 to 32 letters or numbers in length, with hyphens
#: or underscores as separators; spaces, periods, etc. are not allowed", Clarifai docs, ID
#: validation), ASCII letters. Generated ids (32 hex digits) fit. Anything else, bidi
#: overrides and zero-width characters included, would let an id look like another one.
MAX_ID_LENGTH = 32
_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}")
#: Names (display names: apps, models, concepts) and descriptions, in characters. The
#: platform's own caps are not documented; these keep a stored name a name (a 1 MB app name
#: was stored) while leaving room for long human text. Notes are 64 KB on the platform.
MAX_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 4096
MAX_BATCH = 128
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RouteSpec:
    """One Clarifai call: ``path`` is relative to ``/v2/users/{user_id}``."""

    method: str
    path: str
    name: str
    handler: Handler
    #: The call changes what workflow runs depend on (models, workflows, an app's default
    #: workflow, concept names): prepared default workflows are rebuilt after it.
    changes_workflows: bool = False


def json_ok(payload: dict[str, Any], status_code: int = 200) -> JSONResponse:
    body = payload if "status" in payload else {"status": status_json(SUCCESS), **payload}
    return JSONResponse(body, status_code=status_code)


def _printable(text: str) -> str:
    """Text that always encodes as UTF-8 (lone surrogates become ``\\udxxx``)."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def failure_response(failure: ApiFailure) -> JSONResponse:
    body = failure.to_json()
    status = body["status"]
    for key in ("description", "details"):
        if isinstance(status.get(key), str):
            status[key] = _printable(status[key])
    return JSONResponse(body, status_code=failure.http_status)


def throttled(seconds: int) -> Response:
    """The answer to any request from an address throttled for wrong keys."""
    failure = ApiFailure(
        CONN_THROTTLED,
        "too many requests with a wrong API key from this address: "
        f"retry after {seconds} s, with the key from CLARIFAI_PAT or the data dir's api_key file",
    )
    response = failure_response(failure)
    response.headers["Retry-After"] = str(seconds)
    return response


def authenticate(request: Request, backend: Services) -> Response | None:
    """None when the request may go on; else the answer: 429 while its address is throttled
    (api.local.throttle), 401 for a missing or wrong key (a wrong one counts against the
    address)."""
    host = request.client.host if request.client else ""
    wait = backend.auth_throttle.retry_after(host)
    if wait is not None:
        return throttled(wait)
    try:
        check_auth(request, backend.api_key)
    except ApiFailure as failure:
        if request.headers.get("authorization"):
            backend.auth_throttle.failed(host)
        return failure_response(failure)
    return None


def check_auth(request: Request, api_key: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.strip().partition(" ")
    if not header:
        raise ApiFailure(
            CONN_KEY_INVALID,
            "API key not found: send the header 'Authorization: Key <key>' "
            "(the key is in CLARIFAI_PAT or the data dir's api_key file)",
        )
    if scheme.lower() != "key" or not hmac.compare_digest(key.strip().encode(), api_key.encode()):
        raise ApiFailure(CONN_KEY_INVALID, "API key invalid: the key does not match this server's")


def shown(text: str, limit: int = 48) -> str:
    """``text`` quoted for an error message: printable ASCII as is, anything else escaped
    (a bidi override or zero-width character in an error must not act on the terminal that
    shows it), cut at ``limit`` characters."""
    out = "".join(
        c if " " <= c <= "~" and c not in "\\'" else c.encode("unicode_escape").decode("ascii")
        for c in text[:limit]
    ).replace("'", "\\'")
    return f"'{out}'" + ("..." if len(text) > limit else "")


def _character(c: str) -> str:
    """A character for an error message: ``'.'`` for printable ASCII, else its code point
    and Unicode name."""
    if " " < c <= "~":
        return repr(c)
    return f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')}"


def valid_id(value: str, field: str) -> str:
    """``value`` if it is an id the platform would take; else 11102 naming ``field``."""
    if _ID.fullmatch(value):
        return value
    if not value:
        problem = "it is empty"
    elif len(value) > MAX_ID_LENGTH:
        problem = f"{len(value)} characters; at most {MAX_ID_LENGTH} are allowed"
    else:
        bad = next(c for c in value if not _ID.fullmatch(c))
        problem = f"it contains {_character(bad)}"
    raise invalid(
        field,
        f"invalid id {shown(value)}: {problem}; an id is 1-{MAX_ID_LENGTH} ASCII letters, "
        "digits, '-' and '_'",
    )


def valid_text(value: str, field: str, limit: int, *, lines: bool = False) -> str:
    """A name (``lines`` False) or description: at most ``limit`` characters, no control
    characters (a description may have line breaks and tabs)."""
    if len(value) > limit:
        raise invalid(field, f"{len(value):,} characters; at most {limit:,} are allowed")
    allowed = "\n\t\r" if lines else ""
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in allowed), None)
    if bad is not None:
        raise invalid(field, f"{shown(value)} contains the control character {_character(bad)}")
    return value


def text_field(obj: Obj, key: str, *, description: bool = False) -> str:
    """``obj[key]`` as a checked name (or, with ``description``, a checked description)."""
    value = obj.get_str(key)
    if description:
        return valid_text(value, obj.field(key), MAX_DESCRIPTION_LENGTH, lines=True)
    return valid_text(value, obj.field(key), MAX_NAME_LENGTH)


def valid_name(value: str, field: str) -> str:
    return valid_text(value, field, MAX_NAME_LENGTH)


def valid_description(value: str, field: str) -> str:
    return valid_text(value, field, MAX_DESCRIPTION_LENGTH, lines=True)


def _too_large(size: str) -> ApiFailure:
    return ApiFailure(
        CONN_INVALID_REQUEST,
        f"body: {size}; a request body may hold at most {MAX_BODY_BYTES:,} bytes "
        "(the platform takes 128 MB of images a batch): send fewer or smaller inputs per call",
        http_status=413,
    )


class Call:
    """One request, with the backend and helpers to parse it and reach the store off-loop."""

    def __init__(self, request: Request, backend: Services) -> None:
        self.request = request
        self.backend = backend
        self.store = backend.store
        self.query = Query(request.query_params)
        user = str(request.path_params.get("user_id", ""))
        if user not in ("me", backend.user_id, PUBLIC_USER):
            raise not_found(
                "user",
                user,
                f"This server has one user: use 'me' or '{backend.user_id}' "
                f"('{PUBLIC_USER}' holds the public app '{PUBLIC_APP}').",
            )
        #: Who calls (annotations they write are theirs) ...
        self.user_id = backend.user_id
        #: ... and whose apps the path names: the caller, or clarifai (public, read-only).
        self.owner_id = PUBLIC_USER if user == PUBLIC_USER else backend.user_id
        self._app: AppRow | None = None
        self._body: Obj | None = None

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    async def body(self) -> Obj:
        """The parsed JSON body (read and checked once; 11102 when it is malformed)."""
        if self._body is None:
            self._body = await self._parse_body()
        return self._body

    async def _parse_body(self) -> Obj:
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise _too_large(f"{declared} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise _too_large("more than that")
            chunks.append(chunk)
        raw = b"".join(chunks)
        self.request._body = raw  # as Request.body() keeps it, for anything that asks again
        if len(raw) > _OFF_LOOP_JSON_BYTES:
            return await asyncio.to_thread(parse_body, raw)
        return parse_body(raw)

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking store call in a thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def app(self) -> AppRow:
        if self._app is None:
            app_id = self.path("app_id")
            found = await self.db(self.store.get_app, self.owner_id, app_id)
            if found is None:
                raise not_found("app", app_id, "Create it with PostApps (POST /v2/users/me/apps).")
            self._app = found
        return self._app

    def links(self, app: AppRow) -> Links:
        return Links(str(self.request.base_url), self.owner_id, app.id)


def batch(items: list[Any], field: str, limit: int = MAX_BATCH, why: str = "") -> None:
    if not items:
        raise invalid(field, "at least one item is required")
    if len(items) > limit:
        raise ApiFailure(
            CONN_INVALID_REQUEST,
            f"{field}: {len(items)} items in one request; at most {limit} are allowed"
            f"{why}, split the batch",
        )


def make_endpoint(spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        backend: Services = request.app.state.backend
        refused = authenticate(request, backend)
        if refused is not None:
            return refused
        try:
            call = Call(request, backend)
            public = call.owner_id == PUBLIC_USER
            if public and request.method != "GET" and spec.name not in READ_CALLS:
                raise readonly_refusal(spec.name)
            if request.method in _BODY_METHODS:
                # A malformed body is an invalid request even where the handler ignores it.
                await call.body()
            try:
                result = await spec.handler(call)
            finally:
                if spec.changes_workflows:
                    backend.automation.changed()
            # Encoding is inside the catch too: nothing a handler returns can break the transport.
            return result if isinstance(result, Response) else json_ok(result)
        except ApiFailure as failure:
            return failure_response(failure)
        except Exception as exc:
            log.exception("%s failed", spec.name)
            return failure_response(
                ApiFailure(
                    INTERNAL_SERVER_ISSUE,
                    f"internal error in {spec.name}: {type(exc).__name__}",
                    details=str(exc)[:500],
                )
            )

    endpoint.__name__ = spec.name
    return endpoint


def route_not_found(method: str, path: str) -> ApiFailure:
    return ApiFailure(
        CONN_DOES_NOT_EXIST,
        f"no such route: {method} {path} (the embedded backend serves the Clarifai v2 REST paths "
        "under /v2/users/{user_id}/apps/...)",
    )
