"""PostInputsSearches and PostAnnotationsSearches: filters on annotations and inputs, paged.

The query shapes are the protos' (``searches[0].query.filters[]``, ``pagination``); what they
mean, and the SQL, are in ``api/local/search.py``. What the embedded backend cannot answer
(ranking by image, text or embedding similarity, saved searches, metadata or geo filters) is
refused with an 11102 that names the field, never answered with hits that ignore it.
"""

from __future__ import annotations

from typing import Any

from api.local.convert import annotation_json, input_json
from api.local.http import Call, RouteSpec
from api.local.jsonio import DEFAULT_PER_PAGE, MAX_PER_PAGE, Obj
from api.local.routes import parse
from api.local.routes.annotations import annotation_status
from api.local.search import AnnotationMatch, InputMatch, SearchQuery
from api.local.status import invalid
from api.local.store import new_id

_SEARCH_FIELDS = {"query", "id", "algorithm", "metric"}
_QUERY_FIELDS = {"filters", "ranks"}
_FILTER_FIELDS = {"negate", "annotation", "input"}
_ANNOTATION_FIELDS = {"status", "user_id", "model_version_id", "input_id", "data", "worker"}
_INPUT_FIELDS = {"id", "status", "data"}


def _pagination(body: Obj) -> tuple[int, int]:
    """``(limit, offset)`` from ``pagination: {page, per_page}`` (the body's, not the URL's)."""
    pagination = body.get_obj("pagination")
    page = pagination.get_int("page", 1) or 1
    per_page = pagination.get_int("per_page", DEFAULT_PER_PAGE) or DEFAULT_PER_PAGE
    if page < 1:
        raise invalid(pagination.field("page"), f"must be 1 or more, got {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid(
            pagination.field("per_page"), f"must be between 1 and {MAX_PER_PAGE}, got {per_page}"
        )
    return per_page, (page - 1) * per_page


def _concepts(call: Call, app_pk: int, data: Obj) -> tuple[tuple[str, bool], ...]:
    parse.only_fields(data, {"concepts"}, "an annotation filter's data")
    wanted: list[tuple[str, str, bool]] = []  # (id, name, positive)
    for item in data.get_objs("concepts"):
        parse.only_fields(item, {"id", "name", "value"}, "a concept filter")
        ident, name = item.get_str("id"), item.get_str("name")
        if not ident and not name:
            raise invalid(item.field("id"), "a concept filter needs an id or a name")
        wanted.append((ident, name, item.get_float("value", 1.0) > 0))
    names = [name for ident, name, _ in wanted if not ident]
    named = call.store.concept_ids_named(app_pk, names) if names else {}
    out: list[tuple[str, bool]] = []
    for ident, name, positive in wanted:
        for concept_id in [ident] if ident else named.get(name, []):
            out.append((concept_id, positive))
    if wanted and not out:
        out.append(("", True))  # only unknown names: matches nothing, as on the platform
    return tuple(out)


def _annotation(call: Call, app_pk: int, item: Obj, negate: bool) -> AnnotationMatch:
    parse.only_fields(item, _ANNOTATION_FIELDS, "an annotation filter")
    status = annotation_status(item)
    users = [item.get_str("user_id")] if item.get_str("user_id") else []
    versions = [item.get_str("model_version_id")] if item.get_str("model_version_id") else []
    worker = item.get_obj("worker")
    parse.only_fields(worker, {"user", "model"}, "an annotation filter's worker")
    if worker.get_obj("user").get_str("id"):
        users.append(worker.get_obj("user").get_str("id"))
    version = worker.get_obj("model").get_obj("model_version").get_str("id")
    if version:
        versions.append(version)
    users = [call.user_id if u == "me" else u for u in users]
    input_id = item.get_str("input_id")
    return AnnotationMatch(
        status_codes=(status,) if status is not None else (),
        user_ids=tuple(users),
        model_version_ids=tuple(versions),
        input_ids=(input_id,) if input_id else (),
        concepts=_concepts(call, app_pk, item.get_obj("data")),
        negate=negate,
    )


def _input(item: Obj, negate: bool) -> InputMatch:
    parse.only_fields(item, _INPUT_FIELDS, "an input filter")
    data = item.get_obj("data")
    # `data.image: {}` asks for image inputs (the SDK's input_types): every input here is one.
    parse.only_fields(data, {"image"}, "an input filter's data")
    status = item.get_status_code("status")
    ident = item.get_str("id")
    return InputMatch(
        status_codes=(status,) if status is not None else (),
        ids=(ident,) if ident else (),
        negate=negate,
    )


def _query(call: Call, app_pk: int, body: Obj, what: str) -> SearchQuery:
    searches = body.get_objs("searches")
    if not searches:
        raise invalid(body.field("searches"), f"required: one search ({what} needs a query)")
    if len(searches) > 1:
        raise invalid(searches[1].field("query"), "one search per request is supported")
    search = searches[0]
    parse.only_fields(search, _SEARCH_FIELDS, "a search")
    query = search.get_obj("query")
    parse.only_fields(query, _QUERY_FIELDS, "a query")
    if query.get_objs("ranks"):
        raise invalid(
            query.field("ranks"),
            "ranking by similarity (image, text, embedding or concept ranks) is not supported "
            "by the embedded backend; filter with query.filters instead",
        )
    annotations: list[AnnotationMatch] = []
    inputs: list[InputMatch] = []
    for item in query.get_objs("filters"):
        parse.only_fields(item, _FILTER_FIELDS, "a filter")
        negate = item.get_bool("negate")
        if item.get_obj("annotation").data:
            annotations.append(_annotation(call, app_pk, item.get_obj("annotation"), negate))
        if item.get_obj("input").data:
            inputs.append(_input(item.get_obj("input"), negate))
    return SearchQuery(tuple(annotations), tuple(inputs))


async def post_inputs_searches(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    if body.get_bool("only_count"):
        raise invalid(body.field("only_count"), "not supported by the embedded backend")
    limit, offset = _pagination(body)
    query = await call.db(_query, call, app.pk, body, "PostInputsSearches")
    rows = await call.db(call.store.search_inputs, app.pk, query, limit, offset)
    links = call.links(app)
    hits = [{"score": 1.0, "input": input_json(r, links)} for r in rows]
    return {"id": new_id(), "hits": hits}


async def post_annotations_searches(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    limit, offset = _pagination(body)
    query = await call.db(_query, call, app.pk, body, "PostAnnotationsSearches")
    rows = await call.db(call.store.search_annotations, app.pk, query, limit, offset)
    links = call.links(app)
    hits = [
        {"score": 1.0, "input": input_json(i, links), "annotation": annotation_json(a)}
        for a, i in rows
    ]
    return {"id": new_id(), "hits": hits}


ROUTES = [
    RouteSpec("POST", "/apps/{app_id}/inputs/searches", "PostInputsSearches", post_inputs_searches),
    RouteSpec(
        "POST",
        "/apps/{app_id}/annotations/searches",
        "PostAnnotationsSearches",
        post_annotations_searches,
    ),
]
