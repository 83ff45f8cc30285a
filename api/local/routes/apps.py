"""PostApps, ListApps, GetApp, PatchApps."""

from __future__ import annotations

from typing import Any

from api.local.convert import app_json
from api.local.http import Call, RouteSpec, batch, valid_id
from api.local.jsonio import paging
from api.local.rows import AppPatch
from api.local.status import invalid


def _patches(items: list[Any], field: str) -> list[AppPatch]:
    out: list[AppPatch] = []
    for app in items:
        ident = app.get_str("id")
        if not ident:
            raise invalid(app.field("id"), "required (the app id)")
        valid_id(ident, app.field("id"))
        out.append(
            AppPatch(
                id=ident,
                name=app.get_str("name") or None,
                description=app.get_str("description") if app.has("description") else None,
                default_workflow_id=(
                    app.get_str("default_workflow_id") if app.has("default_workflow_id") else None
                ),
            )
        )
    ids = [p.id for p in out]
    if len(set(ids)) != len(ids):
        raise invalid(field, "the same app id appears twice")
    return out


async def _check_workflows(call: Call, patches: list[AppPatch]) -> None:
    """Hook for issue 6: refuse a default_workflow_id that names no workflow of the app."""
    check = call.backend.default_workflow_check
    for patch in patches:
        if check is not None and patch.default_workflow_id:
            await call.db(check, call.user_id, patch.id, patch.default_workflow_id)


async def post_apps(call: Call) -> dict[str, Any]:
    body = await call.body()
    items = body.get_objs("apps")
    batch(items, body.field("apps"))
    patches = _patches(items, body.field("apps"))
    rows = await call.db(call.store.create_apps, call.user_id, patches)
    return {"apps": [app_json(r) for r in rows]}


async def list_apps(call: Call) -> dict[str, Any]:
    limit, offset = paging(call.query)
    rows = await call.db(call.store.list_apps, call.owner_id, limit, offset)
    return {"apps": [app_json(r) for r in rows]}


async def get_app(call: Call) -> dict[str, Any]:
    return {"app": app_json(await call.app())}


async def patch_apps(call: Call) -> dict[str, Any]:
    body = await call.body()
    items = body.get_objs("apps")
    batch(items, body.field("apps"))
    action = body.get_action(default="overwrite")
    patches = _patches(items, body.field("apps"))
    if action != "remove":
        await _check_workflows(call, patches)
    rows = await call.db(call.store.patch_apps, call.user_id, patches, action)
    return {"apps": [app_json(r) for r in rows]}


async def get_user(call: Call) -> dict[str, Any]:
    """GetUser: who `me` is (this server has one user)."""
    return {"user": {"id": call.user_id}}


ROUTES = [
    RouteSpec("GET", "", "GetUser", get_user),
    RouteSpec("POST", "/apps", "PostApps", post_apps),
    RouteSpec("GET", "/apps", "ListApps", list_apps),
    RouteSpec("PATCH", "/apps", "PatchApps", patch_apps, changes_workflows=True),
    RouteSpec("GET", "/apps/{app_id}", "GetApp", get_app),
]
