"""PostConcepts, ListConcepts, GetConcept, PatchConcepts."""

from __future__ import annotations

from typing import Any

from api.local.convert import concept_json
from api.local.http import Call, RouteSpec, batch
from api.local.jsonio import paging
from api.local.routes import parse
from api.local.status import not_found


async def post_concepts(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    batch(body.get_objs("concepts"), body.field("concepts"))
    concepts = parse.concepts(body)
    rows = await call.db(call.store.add_concepts, app.pk, concepts)
    return {"concepts": [concept_json(r, app.id, call.user_id) for r in rows]}


async def list_concepts(call: Call) -> dict[str, Any]:
    app = await call.app()
    limit, offset = paging(call.query)
    rows = await call.db(call.store.list_concepts, app.pk, limit, offset)
    return {"concepts": [concept_json(r, app.id, call.user_id) for r in rows]}


async def get_concept(call: Call) -> dict[str, Any]:
    app = await call.app()
    concept_id = call.path("concept_id")
    rows = await call.db(call.store.get_concepts, app.pk, [concept_id])
    if not rows:
        raise not_found("concept", concept_id)
    return {"concept": concept_json(rows[0], app.id, call.user_id)}


async def patch_concepts(call: Call) -> dict[str, Any]:
    """Renames concepts. ``overwrite`` also creates missing ids; ``merge`` requires them."""
    app = await call.app()
    body = await call.body()
    batch(body.get_objs("concepts"), body.field("concepts"))
    action = body.get_action(default="overwrite")
    concepts = parse.concepts(body)
    rows = await call.db(call.store.patch_concepts, app.pk, concepts, action)
    return {"concepts": [concept_json(r, app.id, call.user_id) for r in rows]}


ROUTES = [
    RouteSpec(
        "POST", "/apps/{app_id}/concepts", "PostConcepts", post_concepts, changes_workflows=True
    ),
    RouteSpec("GET", "/apps/{app_id}/concepts", "ListConcepts", list_concepts),
    RouteSpec(
        "PATCH", "/apps/{app_id}/concepts", "PatchConcepts", patch_concepts, changes_workflows=True
    ),
    RouteSpec("GET", "/apps/{app_id}/concepts/{concept_id}", "GetConcept", get_concept),
]
