"""SQL helpers shared by the store, the model store and the migrations.

Generated ids, JSON columns, ``IN (...)`` lists and the merge rules of Patch* requests. This
module imports nothing from the store: `api.local.migrations` (which the store's core runs)
needs `new_id` too, and importing anything inside the ``api.local.store`` package runs the
package (and so the core, and so the migrations) first.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from api.local.rows import ConceptValue

#: SQLite's default limit on host parameters is 32766; stay well below it per IN (...) list.
_CHUNK = 500


def new_id() -> str:
    """A Clarifai-style generated id: 32 hex characters."""
    return uuid.uuid4().hex


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def _dump(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":")) if value else "{}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _where_in(where: list[str], params: list[Any], column: str, values: Sequence[Any]) -> None:
    """If there are ``values``, add ``column IN (?, ...)`` to ``where`` and them to ``params``."""
    if values:
        where.append(f"{column} IN ({_marks(len(values))})")
        params.extend(values)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def merge_struct(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: objects merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in patch.items():
        old = out.get(key)
        out[key] = (
            merge_struct(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return out


def remove_struct(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Remove the keys named in ``patch``; a nested object removes keys one level down."""
    out = dict(base)
    for key, value in patch.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and value:
            out[key] = remove_struct(old, value)
        else:
            out.pop(key, None)
    return out


def merge_concepts(
    base: list[ConceptValue], patch: list[ConceptValue], action: str
) -> list[ConceptValue]:
    if action == "overwrite":
        return list(patch)
    if action == "remove":
        gone = {c.id for c in patch}
        return [c for c in base if c.id not in gone]
    by_id = {c.id: c for c in base}
    for concept in patch:
        by_id[concept.id] = concept
    return list(by_id.values())
