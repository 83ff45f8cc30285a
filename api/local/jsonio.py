"""Request parsing for the embedded server: key normalisation, typed field access, query params.

Every accessor names the offending field (``inputs[3].data.image.base64``) in the 11102 error it
raises, so a malformed body is answered with a precise message and never with a 500.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import pybase64
from starlette.datastructures import QueryParams

from api.local.status import code_from_json, invalid

#: Fields whose value is a protobuf Struct: their keys are user data and are never renamed.
STRUCT_FIELDS = frozenset({"metadata", "annotation_info", "params", "info", "output_config_params"})

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(key: str) -> str:
    """``perPage`` -> ``per_page``; snake_case keys are returned unchanged."""
    if key.islower() or "_" in key:
        return key
    return _CAMEL.sub(r"_\1", key).lower()


#: Deepest nesting accepted in a request body (protobuf's own parsers stop at 100).
MAX_DEPTH = 100
#: Integers travel as int64 at most; larger ones are refused where they are read.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


#: Where a value sits in the body, built only when a message needs it: ``None`` for the body
#: itself, else ``(parent, key)``.
_Where = tuple[Any, str | int] | None


def _path(where: _Where) -> str:
    keys: list[str | int] = []
    while where is not None:
        where, key = where
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = _join(path, key)
    return path


def _check_text(text: str, where: _Where) -> None:
    """Refuse strings SQLite, JSON encoders and terminals cannot carry: lone surrogates."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise invalid(
            _path(where) or "body",
            f"contains a lone UTF-16 surrogate ({bad.encode('unicode_escape').decode()}); "
            "send valid Unicode text",
        ) from None


def _check_key(key: str, where: _Where) -> None:
    if not key.isascii():
        _check_text(key, (where, "?"))


def normalize_keys(value: Any, path: str = "", depth: int = 0) -> Any:
    """Rename lowerCamelCase keys to snake_case, recursively, except inside Struct fields.

    Also checks what every later step relies on (11102 naming the place otherwise): nesting at
    most :data:`MAX_DEPTH` deep, and no string (key or value) holding a lone surrogate.
    """
    return _normalize(value, (None, path) if path else None, depth)


def _normalize(value: Any, where: _Where, depth: int) -> Any:
    if isinstance(value, str):
        if not value.isascii():
            _check_text(value, where)
        return value
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise invalid(_path(where) or "body", f"nested more than {MAX_DEPTH} levels deep")
        out: dict[str, Any] = {}
        for key, item in value.items():
            # Inline fast paths: nearly every key is ASCII and already snake_case.
            if key.isascii():
                name = key if key.islower() or "_" in key else snake(key)
            else:
                _check_key(key, where)
                name = snake(key)
            if name in STRUCT_FIELDS:
                _check_struct(item, (where, key), depth + 1)
                out[name] = item
            elif isinstance(item, str):
                if not item.isascii():
                    _check_text(item, (where, key))
                out[name] = item
            else:
                out[name] = _normalize(item, (where, key), depth + 1)
        return out
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise invalid(_path(where) or "body", f"nested more than {MAX_DEPTH} levels deep")
        return [_normalize(item, (where, n), depth + 1) for n, item in enumerate(value)]
    return value


def _check_struct(value: Any, where: _Where, depth: int) -> None:
    """The checks of :func:`normalize_keys` for user data (keys kept as sent)."""
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            raise invalid(_path(where), f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_key(key, where)
                _check_struct(item, (where, key), depth + 1)
        else:
            for index, item in enumerate(value):
                _check_struct(item, (where, index), depth + 1)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is out of range")
    return number


def parse_body(raw: bytes) -> Obj:
    """Parse a JSON request body (empty means ``{}``) into an :class:`Obj`."""
    if not raw.strip():
        return Obj({}, "")
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise invalid("body", f"JSON nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid("body", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise invalid("body", f"expected a JSON object, got {_kind(data)}")
    return Obj(normalize_keys(data), "")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Obj:
    """A JSON object with its path in the request, and typed accessors that raise 11102."""

    __slots__ = ("data", "path")

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def field(self, key: str) -> str:
        return _join(self.path, key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def get_str(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise invalid(self.field(key), f"expected a string, got {_kind(value)}")
        return value

    def get_int(self, key: str, default: int = 0) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        return as_int(value, self.field(key))

    def get_float(self, key: str, default: float = 0.0) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise invalid(self.field(key), f"expected a number, got {_kind(value)}")
        try:
            number = float(value)
        except ValueError:
            raise invalid(self.field(key), f"expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise invalid(self.field(key), "expected a finite number")
        return number

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        return as_bool(value, self.field(key))

    def get_obj(self, key: str) -> Obj:
        """The nested object, or an empty one when absent."""
        value = self.data.get(key)
        if value is None:
            return Obj({}, self.field(key))
        if not isinstance(value, dict):
            raise invalid(self.field(key), f"expected an object, got {_kind(value)}")
        return Obj(value, self.field(key))

    def get_objs(self, key: str) -> list[Obj]:
        value = self.data.get(key)
        if value is None:
            return []
        path = self.field(key)
        if not isinstance(value, list):
            raise invalid(path, f"expected a list, got {_kind(value)}")
        out: list[Obj] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise invalid(_join(path, index), f"expected an object, got {_kind(item)}")
            out.append(Obj(item, _join(path, index)))
        return out

    def get_strs(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        path = self.field(key)
        if not isinstance(value, list):
            raise invalid(path, f"expected a list of strings, got {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise invalid(_join(path, index), f"expected a string, got {_kind(item)}")
        return list(value)

    def get_struct(self, key: str) -> dict[str, Any] | None:
        """A protobuf Struct field (any JSON object), or None when absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(self.field(key), f"expected a JSON object, got {_kind(value)}")
        return value

    def get_bytes(self, key: str) -> bytes | None:
        """A protobuf ``bytes`` field: standard or URL-safe base64 text."""
        text = self.get_str(key)
        if not text:
            return None
        if text.isascii():
            # Canonical base64 (what clients send) decodes in one SIMD call (pybase64: the
            # standard library's decoder, byte by byte, was the costliest step of PostInputs);
            # anything else (line breaks, URL-safe letters, missing padding) takes the lenient
            # path below.
            with suppress(binascii.Error, ValueError):
                return pybase64.b64decode(text, validate=True)
        try:
            cleaned = "".join(text.split())
            if "-" in cleaned or "_" in cleaned:
                cleaned = cleaned.replace("-", "+").replace("_", "/")
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(self.field(key), "not valid base64") from None

    def get_status_code(self, key: str = "status") -> int | None:
        """``status.code`` of a nested Status, as a number or enum name."""
        status = self.get_obj(key)
        if not status.has("code"):
            return None
        code = code_from_json(status.raw("code"))
        if code is None:
            raise invalid(status.field("code"), f"unknown status code {status.raw('code')!r}")
        return code

    def get_action(self, default: str = "merge") -> str:
        action = self.get_str("action", default) or default
        if action not in ("merge", "overwrite", "remove"):
            raise invalid(
                self.field("action"), f"expected merge, overwrite or remove, got {action!r}"
            )
        return action


def as_int(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise invalid(field, "expected an integer, got a boolean")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) <= 40:
            with suppress(ValueError):
                number = int(text)
    if number is None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise invalid(field, f"expected an integer, got {shown}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise invalid(field, f"{number} is out of range (a 64-bit integer is expected)")
    return number


def as_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0", ""):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise invalid(field, f"expected true or false, got {value!r}")


class Query:
    """Query parameters with snake_case names (``perPage`` and ``per_page`` both work).

    The official client repeats URL fields as dotted params (``user_app_id.app_id=...``); those
    are simply never read.
    """

    def __init__(self, params: QueryParams) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in params.multi_items():
            name = ".".join(snake(part) for part in key.split("."))
            self._values.setdefault(name, []).append(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[-1] if values else None

    def get_list(self, name: str) -> list[str]:
        """Repeated keys (``ids=a&ids=b``); comma-separated values are split too."""
        out: list[str] = []
        for value in self._values.get(name, []):
            out.extend(part for part in value.split(",") if part)
        return out

    def get_int(self, name: str, default: int) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        return as_int(value, name)

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        return as_bool(value, name)

    def get_codes(self, name: str) -> list[int]:
        codes: list[int] = []
        for value in self.get_list(name):
            code = code_from_json(value)
            if code is None:
                raise invalid(name, f"unknown status code {value!r}")
            codes.append(code)
        return codes


DEFAULT_PER_PAGE = 128
MAX_PER_PAGE = 1000


def paging(query: Query) -> tuple[int, int]:
    """``(limit, offset)`` from ``page`` (1-based) and ``per_page`` (default 128, max 1000)."""
    page = query.get_int("page", 1)
    per_page = query.get_int("per_page", DEFAULT_PER_PAGE)
    if page < 1:
        raise invalid("page", f"must be 1 or more, got {page}")
    if per_page < 1 or per_page > MAX_PER_PAGE:
        raise invalid("per_page", f"must be between 1 and {MAX_PER_PAGE}, got {per_page}")
    if (page - 1) * per_page > INT64_MAX:
        raise invalid("page", f"{page} is out of range for per_page={per_page}")
    return per_page, (page - 1) * per_page


@functools.lru_cache(maxsize=4096)
def timestamp(epoch: float) -> str:
    """RFC 3339 UTC text, as protobuf JSON writes a Timestamp (cached: the rows of one batch
    share their times)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_batch(items: Iterable[object], field: str, limit: int = 128) -> None:
    count = sum(1 for _ in items)
    if count > limit:
        raise invalid(
            field, f"{count} items in one request; at most {limit} are allowed, split the batch"
        )


def without_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}
