"""Review leases for the review queue (an extension: Clarifai has no such call).

``POST /v2/users/{user_id}/apps/{app_id}/annotations/review/claims`` with a body::

    {"reviewer": "alice@host/123-ab12", "ttl_seconds": 120, "limit": 1,
     "exclude_ids": [...], "renew_ids": [...], "release_ids": [...]}

does, in ONE write transaction (so two reviewers on one ``serve`` never get the same
annotation):

1. ``release_ids``: drop this reviewer's lease on those annotations;
2. ``renew_ids``: (re)claim those annotations if they are PENDING and not leased by someone
   else (undo uses this to take back the annotation it just restored);
3. ``limit``: claim that many more PENDING annotations, oldest first, that nobody else holds
   (an expired lease counts as free) and that are not in ``exclude_ids`` (skipped ones).

A lease lives in the annotation itself, ``annotation_info.review.lease = {owner, expires_at}``
(epoch seconds), so the same record is readable through ListAnnotations by any client, and the
best-effort protocol used against a real Clarifai app (``api.review``) reads and writes the
same field. The answer lists the claimed or renewed annotations and ``counts``:
``pending`` (all PENDING annotations) and ``available`` (PENDING ones not leased by another
reviewer, this reviewer's own included).

Mounting: append ``ROUTES`` of this module to ``ROUTE_MODULES`` in ``api.local.routes``
(anywhere: the path overlaps no other route).
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from api.local.convert import annotation_json
from api.local.http import Call, RouteSpec
from api.local.rows import AnnotationRow
from api.local.status import ANNOTATION_PENDING, invalid

MAX_CLAIM = 128
MAX_TTL = 3600.0
_OWNER = "json_extract(a.annotation_info, '$.review.lease.owner')"
_EXPIRES = "COALESCE(json_extract(a.annotation_info, '$.review.lease.expires_at'), 0)"


def _info(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _set_lease(
    conn: sqlite3.Connection, pk: int, text: str | None, owner: str, expires_at: float
) -> None:
    info = _info(text)
    review = info.get("review")
    review = dict(review) if isinstance(review, dict) else {}
    review["lease"] = {"owner": owner, "expires_at": expires_at}
    info["review"] = review
    conn.execute("UPDATE annotations SET annotation_info = ? WHERE pk = ?", (json.dumps(info), pk))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def claim(
    call: Call,
    app_pk: int,
    reviewer: str,
    ttl: float,
    limit: int,
    exclude: list[str],
    renew: list[str],
    release: list[str],
) -> tuple[list[AnnotationRow], int, int]:
    store = call.store
    now = time.time()
    expires_at = now + ttl
    claimed: list[str] = []
    with store.write() as conn:
        if release:
            for pk, text in conn.execute(
                f"SELECT a.pk, a.annotation_info FROM annotations a WHERE a.app_pk = ? "
                f"AND a.id IN ({_marks(len(release))}) AND {_OWNER} = ?",
                (app_pk, *release, reviewer),
            ).fetchall():
                _set_lease(conn, pk, text, reviewer, 0.0)
        free = f"({_OWNER} IS NULL OR {_OWNER} = ? OR {_EXPIRES} <= ?)"
        if renew:
            for pk, ident, text in conn.execute(
                f"SELECT a.pk, a.id, a.annotation_info FROM annotations a WHERE a.app_pk = ? "
                f"AND a.status_code = ? AND a.id IN ({_marks(len(renew))}) AND {free}",
                (app_pk, ANNOTATION_PENDING, *renew, reviewer, now),
            ).fetchall():
                _set_lease(conn, pk, text, reviewer, expires_at)
                claimed.append(ident)
        if limit > 0:
            skip = [*exclude, *renew]
            not_in = f"AND a.id NOT IN ({_marks(len(skip))}) " if skip else ""
            for pk, ident, text in conn.execute(
                f"SELECT a.pk, a.id, a.annotation_info FROM annotations a "
                f"WHERE a.app_pk = ? AND a.status_code = ? {not_in}AND {free} "
                "ORDER BY a.pk LIMIT ?",
                (app_pk, ANNOTATION_PENDING, *skip, reviewer, now, limit),
            ).fetchall():
                _set_lease(conn, pk, text, reviewer, expires_at)
                claimed.append(ident)
        pending, held_by_others = conn.execute(
            f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {_OWNER} IS NOT NULL AND {_OWNER} != ? "
            f"AND {_EXPIRES} > ? THEN 1 ELSE 0 END), 0) "
            "FROM annotations a WHERE a.app_pk = ? AND a.status_code = ?",
            (reviewer, now, app_pk, ANNOTATION_PENDING),
        ).fetchone()
        rows = [r for r in (store.get_annotation(app_pk, i) for i in claimed) if r is not None]
    return rows, int(pending), int(pending) - int(held_by_others)


async def post_claims(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    reviewer = body.get_str("reviewer")
    if not reviewer:
        raise invalid(body.field("reviewer"), "required (who claims the annotations)")
    ttl = body.get_float("ttl_seconds", 120.0)
    if not 0 < ttl <= MAX_TTL:
        raise invalid(body.field("ttl_seconds"), f"must be in (0, {MAX_TTL:g}]")
    limit = body.get_int("limit", 1)
    if not 0 <= limit <= MAX_CLAIM:
        raise invalid(body.field("limit"), f"must be between 0 and {MAX_CLAIM}")
    rows, pending, available = await call.db(
        claim,
        call,
        app.pk,
        reviewer,
        ttl,
        limit,
        body.get_strs("exclude_ids"),
        body.get_strs("renew_ids"),
        body.get_strs("release_ids"),
    )
    return {
        "annotations": [annotation_json(r) for r in rows],
        "counts": {"pending": pending, "available": available},
    }


ROUTES = [
    RouteSpec("POST", "/apps/{app_id}/annotations/review/claims", "PostReviewClaims", post_claims),
]
