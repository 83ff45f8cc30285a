"""PostAnnotations, ListAnnotations, GetAnnotation, PatchAnnotations, DeleteAnnotation.

ListAnnotations, by default (no ``user_ids``, no ``model_version_ids``, no
``list_all_annotations``), lists only the caller's own human annotations (no model version),
as the ListAnnotationsRequest proto describes Clarifai's default of "trusted" annotations. Set
``list_all_annotations=true`` to include model-written ones (the review queue does), or filter by
``user_ids`` / ``model_version_ids`` (OR'd together).
"""

from __future__ import annotations

from typing import Any

from api.local.convert import annotation_json
from api.local.http import Call, RouteSpec, batch, text_field, valid_id
from api.local.jsonio import Obj, paging
from api.local.routes import parse
from api.local.rows import AnnotationFilter, AnnotationPatch, NewAnnotation
from api.local.status import ANNOTATION_STATUSES, ANNOTATION_SUCCESS, code_name, invalid, not_found
from api.local.store import new_id

_DATA_FIELDS = {"concepts", "metadata", "frames"}
_ANNOTATION_FIELDS = {"id", "input_id", "data", "status", "annotation_info", "user_id"}


def _status_text(item: Obj) -> str:
    return text_field(item.get_obj("status"), "description", description=True)


def annotation_status(item: Obj) -> int | None:
    """``status.code`` of an annotation (or an annotation filter), checked; None if absent."""
    code = item.get_status_code("status")
    if code is not None and code not in ANNOTATION_STATUSES:
        allowed = ", ".join(f"{c} {code_name(c)}" for c in sorted(ANNOTATION_STATUSES))
        raise invalid(item.field("status.code"), f"{code} is not an annotation status ({allowed})")
    return code


def _caller_only(call: Call, item: Obj) -> None:
    user = item.get_str("user_id")
    if user and user not in ("me", call.user_id):
        raise invalid(
            item.field("user_id"),
            f"annotations posted here belong to the caller ('{call.user_id}')",
        )


async def post_annotations(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    items = body.get_objs("annotations")
    batch(items, body.field("annotations"))
    new: list[NewAnnotation] = []
    for item in items:
        parse.only_fields(item, _ANNOTATION_FIELDS, "PostAnnotations")
        _caller_only(call, item)
        input_id = item.get_str("input_id")
        if not input_id:
            raise invalid(item.field("input_id"), "required (the input to annotate)")
        ident = item.get_str("id") or new_id()
        valid_id(ident, item.field("id"))
        data = item.get_obj("data")
        parse.only_fields(data, _DATA_FIELDS, "annotation data")
        frame, labels = parse.frame(data)
        new.append(
            NewAnnotation(
                id=ident,
                input_id=input_id,
                user_id=call.user_id,
                frame=frame,
                concepts=parse.concepts(labels),
                metadata=data.get_struct("metadata"),
                annotation_info=item.get_struct("annotation_info"),
                status_code=annotation_status(item) or ANNOTATION_SUCCESS,
                status_description=_status_text(item),
            )
        )
    rows = await call.db(call.store.add_annotations, app.pk, new)
    return {"annotations": [annotation_json(r) for r in rows]}


async def list_annotations(call: Call) -> dict[str, Any]:
    app = await call.app()
    limit, offset = paging(call.query)
    q = call.query
    for key in q:
        if key.startswith("statuses."):
            # As the platform's REST gateway: a query path cannot go through a repeated message.
            raise invalid(
                key,
                "statuses is a repeated message: a query parameter cannot reach into it "
                "(the REST gateway refuses it); filter by annotation status with "
                "PostAnnotationsSearches",
            )
    ids, input_ids = q.get_list("ids"), q.get_list("input_ids")
    if ids and len(input_ids) != len(ids):
        raise invalid(
            "input_ids",
            f"ListAnnotations with ids needs input_ids, one per id in the same order "
            f"(got {len(ids)} ids and {len(input_ids)} input_ids)",
        )
    flt = AnnotationFilter(
        caller_user_id=call.user_id,
        ids=q.get_list("ids"),
        input_ids=q.get_list("input_ids"),
        user_ids=[call.user_id if u == "me" else u for u in q.get_list("user_ids")],
        model_version_ids=q.get_list("model_version_ids"),
        list_all=q.get_bool("list_all_annotations"),
    )
    rows = await call.db(call.store.list_annotations, app.pk, flt, limit, offset)
    return {"annotations": [annotation_json(r) for r in rows]}


async def get_annotation(call: Call) -> dict[str, Any]:
    app = await call.app()
    annotation_id = call.path("annotation_id")
    row = await call.db(call.store.get_annotation, app.pk, annotation_id)
    if row is None or row.input_id != call.path("input_id"):
        raise not_found("annotation", annotation_id)
    return {"annotation": annotation_json(row)}


async def patch_annotations(call: Call) -> dict[str, Any]:
    """``merge`` (default) upserts concepts and merges metadata; ``overwrite`` replaces what is
    given; ``remove`` drops the given concepts and metadata keys. ``status`` is set in any case."""
    app = await call.app()
    body = await call.body()
    items = body.get_objs("annotations")
    batch(items, body.field("annotations"))
    action = body.get_action(default="merge")
    patches: list[AnnotationPatch] = []
    for item in items:
        parse.only_fields(item, _ANNOTATION_FIELDS, "PatchAnnotations")
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the annotation to patch)")
        data = item.get_obj("data")
        parse.only_fields(data, _DATA_FIELDS, "annotation data")
        # A frame-level annotation's concepts come inside its frame (the frame stays its own).
        _, labels = parse.frame(data)
        patches.append(
            AnnotationPatch(
                id=ident,
                input_id=item.get_str("input_id"),
                concepts=parse.concepts(labels) if labels.raw("concepts") is not None else None,
                metadata=data.get_struct("metadata"),
                annotation_info=item.get_struct("annotation_info"),
                status_code=annotation_status(item),
                status_description=_status_text(item),
            )
        )
    rows = await call.db(call.store.patch_annotations, app.pk, patches, action)
    return {"annotations": [annotation_json(r) for r in rows]}


async def delete_annotation(call: Call) -> dict[str, Any]:
    app = await call.app()
    await call.db(
        call.store.delete_annotation, app.pk, call.path("input_id"), call.path("annotation_id")
    )
    return {}


ROUTES = [
    RouteSpec("POST", "/apps/{app_id}/annotations", "PostAnnotations", post_annotations),
    RouteSpec("GET", "/apps/{app_id}/annotations", "ListAnnotations", list_annotations),
    RouteSpec("PATCH", "/apps/{app_id}/annotations", "PatchAnnotations", patch_annotations),
    RouteSpec(
        "GET",
        "/apps/{app_id}/inputs/{input_id}/annotations/{annotation_id}",
        "GetAnnotation",
        get_annotation,
    ),
    RouteSpec(
        "DELETE",
        "/apps/{app_id}/inputs/{input_id}/annotations/{annotation_id}",
        "DeleteAnnotation",
        delete_annotation,
    ),
]
