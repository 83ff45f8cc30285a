"""PostApps, ListApps, GetApp, PatchApps."""

from __future__ import annotations

from typing import Any

from api.local.convert import app_json
from api.local.http import Call, RouteSpec, batch, text_field, valid_id
from api.local.jsonio import Obj, paging
from api.local.public import (
    BASE_WORKFLOWS,
    PUBLIC_APP,
    PUBLIC_USER,
    UNIVERSAL,
    base_workflow_ref,
    is_public,
)
from api.local.routes import parse
from api.local.rows import AppPatch
from api.local.status import invalid
from api.models import SAMPLE_MS_RANGE


def _base_workflow(where: str, workflow_id: str) -> str:
    """The stored reference of a public base workflow (see ``base_workflow_ref``)."""
    if workflow_id not in BASE_WORKFLOWS:
        raise invalid(
            where,
            f"unknown base workflow {workflow_id!r}: {PUBLIC_USER}/{PUBLIC_APP} has "
            f"{', '.join(BASE_WORKFLOWS)}",
        )
    return base_workflow_ref(workflow_id)


def _default_workflow(app: Obj, creating: bool) -> str | None:
    """The default workflow an app item asks for: ``default_workflow {id, user_id, app_id}``
    (a base workflow of clarifai/main, or one of the app's own) or ``default_workflow_id``
    (on a new app, a base workflow's name); None when neither is given."""
    ref = app.get_obj("default_workflow")
    if ref.data:
        parse.only_fields(ref, {"id", "user_id", "app_id"}, "default_workflow")
        workflow_id = ref.get_str("id")
        if not workflow_id:
            raise invalid(ref.field("id"), "required (the workflow id)")
        if is_public(ref.get_str("user_id"), ref.get_str("app_id")):
            return _base_workflow(ref.field("id"), workflow_id)
        if ref.get_str("app_id") not in ("", app.get_str("id")):
            raise invalid(
                ref.field("app_id"),
                "a default workflow is a workflow of the app itself "
                f"or a base workflow of {PUBLIC_USER}/{PUBLIC_APP}",
            )
        return workflow_id
    if not app.has("default_workflow_id"):
        return None
    workflow_id = app.get_str("default_workflow_id")
    if creating:
        return _base_workflow(app.field("default_workflow_id"), workflow_id)
    return workflow_id


def _sample_ms(app: Obj) -> int | None:
    """``sample_ms``: milliseconds between the sampled frames of the app's videos (the
    platform takes 100 to 60,000; 0 or absent leaves it as it is)."""
    if not app.has("sample_ms"):
        return None
    value = app.get_int("sample_ms")
    if value == 0:
        return None
    low, high = SAMPLE_MS_RANGE
    if not low <= value <= high:
        raise invalid(
            app.field("sample_ms"),
            f"{value} is out of range: sample_ms is {low} to {high} milliseconds between "
            "sampled video frames (1000: one frame a second)",
        )
    return value


def _patches(items: list[Any], field: str, *, creating: bool = False) -> list[AppPatch]:
    out: list[AppPatch] = []
    for app in items:
        ident = app.get_str("id")
        if not ident:
            raise invalid(app.field("id"), "required (the app id)")
        valid_id(ident, app.field("id"))
        default = _default_workflow(app, creating)
        if creating and default is None:
            default = _base_workflow("default_workflow", UNIVERSAL)  # as on the platform
        out.append(
            AppPatch(
                id=ident,
                name=text_field(app, "name") or None,
                description=text_field(app, "description", description=True)
                if app.has("description")
                else None,
                default_workflow_id=default,
                sample_ms=_sample_ms(app),
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
        public = (patch.default_workflow_id or "").startswith(f"{PUBLIC_USER}/")
        if check is not None and patch.default_workflow_id and not public:
            await call.db(check, call.user_id, patch.id, patch.default_workflow_id)


async def post_apps(call: Call) -> dict[str, Any]:
    body = await call.body()
    items = body.get_objs("apps")
    batch(items, body.field("apps"))
    patches = _patches(items, body.field("apps"), creating=True)
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
