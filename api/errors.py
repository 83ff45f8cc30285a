"""Errors raised by the API adapter, each with the Clarifai status name and a human hint.

The status name comes from the clarifai_grpc protos, imported lazily on first use so that
importing the client stays cheap. Nothing here ever sees the API key: messages are built
from the response status and the request's method and path only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

#: Codes worth retrying: the server did not do the work and asks to try later.
RETRYABLE_CODES: Final = frozenset({10030, 11005})
#: HTTP statuses worth retrying (on idempotent calls only: the client clears `retryable` for
#: the others). A 500 is among them: a server's passing fault, as a 502-504 is a gateway's.
RETRYABLE_HTTP: Final = frozenset({429, 500, 502, 503, 504})

#: Pseudo-codes for failures that carry no Clarifai status.
CODE_CONNECTION: Final = -1
CODE_TIMEOUT: Final = -2
CODE_HTTP: Final = 0
#: An answer that could not be read: not JSON, nested too deeply, or too large.
CODE_MALFORMED: Final = -3

_HINTS: Final[dict[int, str]] = {
    10020: "the server could not do it; the details say why",
    10030: "the server asked to try again later",
    11001: "the key was refused: check CLARIFAI_PAT",
    11005: "throttled: too many requests, slow down and try again",
    11006: "over the account's limits",
    11007: "the key lacks a scope this call needs: give the PAT the scope, or use another",
    11008: "the API key is not valid: check CLARIFAI_PAT",
    11100: "the request was malformed (an adapter bug: please report it)",
    11101: "not found: check the user id, app id and object id",
    11102: "the request was refused as invalid; the details say which field",
    21200: "no such model in this app: check the model id",
    21201: "not allowed to use this model",
    22102: "no such workflow in this app: check the workflow id",
    22107: "the workflow graph is invalid (a cycle or a missing node input)",
    30100: "already present in the app",
    30101: "not a supported image format",
    30106: "the URL could not be fetched or is not allowed",
    98004: "the server had an internal problem; try again later",
}
_HTTP_HINTS: Final[dict[int, str]] = {
    401: "not authenticated: check CLARIFAI_PAT",
    403: "not allowed: the key lacks the scope or access for this app",
    404: "not found: check the base URL, user id and app id",
    429: "throttled: too many requests, try again later",
    500: "the server had an internal problem, try again later",
    502: "bad gateway: the server is unreachable right now, try again later",
    503: "the server is unavailable right now, try again later",
    504: "the server timed out, try again later",
}


@lru_cache(maxsize=256)
def status_name(code: int) -> str:
    """`10000` -> `"SUCCESS"`; unknown codes -> `"UNKNOWN_<code>"`."""
    if code == CODE_CONNECTION:
        return "CONNECTION_FAILED"
    if code == CODE_TIMEOUT:
        return "TIMEOUT"
    if code == CODE_MALFORMED:
        return "MALFORMED_RESPONSE"
    try:
        from clarifai_grpc.grpc.api.status import status_code_pb2
    except Exception:  # pragma: no cover - the protos are a dependency
        return f"UNKNOWN_{code}"
    try:
        return str(status_code_pb2.StatusCode.Name(code))
    except ValueError:
        return f"UNKNOWN_{code}"


def hint_for(code: int, http_status: int | None = None) -> str:
    if code in _HINTS:
        return _HINTS[code]
    if http_status is not None and http_status in _HTTP_HINTS:
        return _HTTP_HINTS[http_status]
    return ""


class ApiError(Exception):
    """A failed API call: Clarifai status code and name, description, details, hint.

    `str(error)` is one line fit for a notification, e.g.
    `CONN_KEY_INVALID (11008): API key not found — the API key is not valid: check CLARIFAI_PAT`.
    """

    def __init__(
        self,
        code: int,
        description: str = "",
        details: str = "",
        *,
        http_status: int | None = None,
        retryable: bool | None = None,
        request: str = "",
        name: str | None = None,
    ) -> None:
        self.code = code
        self.name = name or (f"HTTP_{http_status}" if code == CODE_HTTP else status_name(code))
        self.description = description
        self.details = details
        self.http_status = http_status
        self.request = request
        if retryable is None:
            retryable = code in RETRYABLE_CODES or (
                http_status is not None and http_status in RETRYABLE_HTTP
            )
        self.retryable = retryable
        self.hint = hint_for(code, http_status)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        head = f"{self.name} ({self.code})" if self.code > 0 else self.name
        text = self.description
        if self.details and self.details != self.description:
            text = f"{text}: {self.details}" if text else self.details
        parts = [head]
        if text:
            parts.append(f": {text}")
        if self.hint and self.hint not in text:
            parts.append(f" — {self.hint}")
        if self.request:
            parts.append(f" [{self.request}]")
        return "".join(parts)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code}, name={self.name!r}, "
            f"description={self.description!r}, http_status={self.http_status}, "
            f"retryable={self.retryable}, request={self.request!r})"
        )

    @property
    def is_auth(self) -> bool:
        return self.code in (11001, 11007, 11008) or self.http_status in (401, 403)

    @property
    def is_not_found(self) -> bool:
        return self.code in (11101, 21200, 22102, 30102) or self.http_status == 404


class ApiConnectionError(ApiError):
    """The server could not be reached (or timed out) after the retries allowed."""


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` replaced (for messages built from bodies)."""
    if secret and secret in text:
        return text.replace(secret, "***")
    return text
