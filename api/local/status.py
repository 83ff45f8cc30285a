"""Status codes, status envelopes and the one exception handlers raise to answer an error."""

from __future__ import annotations

from typing import Any

from clarifai_grpc.grpc.api.status import status_code_pb2

SUCCESS = 10000
MIXED_STATUS = 10010
FAILURE = 10020
CONN_INSUFFICIENT_SCOPES = 11007
CONN_THROTTLED = 11005
CONN_KEY_INVALID = 11008
CONN_DOES_NOT_EXIST = 11101
CONN_INVALID_REQUEST = 11102
CONN_METHOD_NOT_ALLOWED = 11103
INTERNAL_SERVER_ISSUE = 98004

INPUT_SUCCESS = 30000
INPUT_PENDING = 30001
INPUT_FAILED = 30002
INPUT_IN_PROGRESS = 30003
INPUT_DUPLICATE = 30100

CONCEPTS_INVALID_REQUEST = 40003

ANNOTATION_SUCCESS = 24150
ANNOTATION_PENDING = 24151
#: Statuses a client may set on an annotation (PostAnnotations / PatchAnnotations).
ANNOTATION_STATUSES = frozenset({24150, 24151, 24152, 24157, 24158, 24159})


def code_name(code: int) -> str:
    """The proto enum name of a status code, or ``"UNKNOWN_<code>"``."""
    try:
        return str(status_code_pb2.StatusCode.Name(code))
    except ValueError:
        return f"UNKNOWN_{code}"


#: Status codes are int32 enum values on the wire.
_CODE_MIN, _CODE_MAX = -(2**31), 2**31 - 1


def code_from_json(value: object) -> int | None:
    """A status code given as a number or an enum name; None when it is neither (or is out of
    the int32 range of the proto enum)."""
    code: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        code = value
    elif isinstance(value, float) and value.is_integer():
        code = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdecimal() and len(text) <= 12:
            code = int(text)
        else:
            try:
                code = int(status_code_pb2.StatusCode.Value(text))
            except ValueError:
                return None
    if code is None or not _CODE_MIN <= code <= _CODE_MAX:
        return None
    return code


def status_json(code: int, description: str = "", details: str = "") -> dict[str, Any]:
    """A Clarifai ``Status`` object in JSON."""
    out: dict[str, Any] = {"code": code, "description": description or _default_description(code)}
    if details:
        out["details"] = details
    return out


_DESCRIPTIONS = {
    SUCCESS: "Ok",
    MIXED_STATUS: "Mixed Success",
    FAILURE: "Failure",
    INPUT_PENDING: "Input image pending processing",
    INPUT_SUCCESS: "Input image downloaded and processed",
    ANNOTATION_SUCCESS: "Annotation success",
    ANNOTATION_PENDING: "Annotation pending",
}


def _default_description(code: int) -> str:
    found = _DESCRIPTIONS.get(code)
    return found if found is not None else code_name(code).replace("_", " ").capitalize()


class ApiFailure(Exception):
    """Raised by handlers and the store to answer a request with a non-success status."""

    def __init__(
        self, code: int, description: str, *, details: str = "", http_status: int | None = None
    ) -> None:
        super().__init__(f"{code} {code_name(code)}: {description}")
        self.code = code
        self.description = description
        self.details = details
        self.http_status = http_status if http_status is not None else _http_status(code)

    def to_json(self) -> dict[str, Any]:
        return {"status": status_json(self.code, self.description, self.details)}


def _http_status(code: int) -> int:
    if code in (CONN_KEY_INVALID, 11001, 11002, 11009):
        return 401
    if code == 11007:
        return 403
    if code in (CONN_DOES_NOT_EXIST, 21200, 22102, 30102):
        return 404
    if code == CONN_METHOD_NOT_ALLOWED:
        return 405
    if code in (10030, 11005):
        return 429
    if code >= 98000:
        return 500
    return 400


def invalid(field: str, problem: str) -> ApiFailure:
    """An 11102 CONN_INVALID_REQUEST naming the offending field."""
    return ApiFailure(CONN_INVALID_REQUEST, f"{field}: {problem}" if field else problem)


def not_found(kind: str, ident: str, hint: str = "") -> ApiFailure:
    message = f"{kind} '{ident}' does not exist"
    return ApiFailure(CONN_DOES_NOT_EXIST, f"{message}. {hint}" if hint else message)
