"""ListModelTypes, GetModelType, PostModels, ListModels, GetModel, PatchModels, DeleteModel,
PostModelVersions, ListModelVersions, GetModelVersion, GetModelOutputInfo, PostModelOutputs.

Model versions the platform's way (since January 2023, Clarifai's "Updates to Model and Model
Version Endpoints"): PostModels creates a model and no version; PostModelVersions carries the
configuration (``output_info``: ``data.concepts``, ``params``,
``output_config.concepts_mutually_exclusive``) and creates a version of any type: ready at once
(21100) for a type that needs no training (thresholders, writers), queued and trained on the
version's concepts for an ``embedding-classifier``. PatchModels changes model-level fields
(name, description) only: on the platform it leaves a version's configuration alone, so here
a configuration sent to it is refused (21202) with the call to use instead, rather than
dropped. A configuration is checked per type with errors naming the field (21202
MODEL_INVALID_ARGUMENT). The ``output_info`` a PostModels may still carry (deprecated) is the
default of its versions'.

The configuration's parsing and its check per type are in :mod:`api.local.routes.model_config`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, Final

from api.local.automation import Source, default_embedder, embedder_for, is_trainable
from api.local.convert import model_json, version_json
from api.local.http import Call, RouteSpec, batch, text_field, valid_id
from api.local.jsonio import Obj, paging, timestamp
from api.local.modelstore import MODEL_QUEUED, MODEL_TRAINED, model_missing, version_missing
from api.local.nodes.common import ConfigError
from api.local.nodes.types import (
    EMBEDDING_CLASSIFIER,
    VISUAL_EMBEDDER,
    UnknownModelType,
    get_model_type,
    list_model_types,
    normalise_type_id,
)
from api.local.public import PUBLIC_APP, PUBLIC_USER
from api.local.routes.model_config import (
    MODEL_INVALID_ARGUMENT,
    MODEL_TYPE_DOES_NOT_EXIST,
    check_config,
    concept_values,
    parse_output_info,
    parse_type_id,
)
from api.local.routes.sources import load_sources, predict_frames, prediction_data
from api.local.rows import AppRow, ConceptValue, ModelRow, NewModel
from api.local.status import FAILURE, MIXED_STATUS, SUCCESS, ApiFailure, invalid, status_json
from api.local.store import new_id

# -- model types --------------------------------------------------------------------------------


async def list_types(call: Call) -> dict[str, Any]:
    await call.app()
    return {"model_types": list_model_types()}


async def get_type(call: Call) -> dict[str, Any]:
    await call.app()
    type_id = call.path("model_type_id")
    try:
        info = get_model_type(type_id)
    except UnknownModelType as exc:
        raise ApiFailure(MODEL_TYPE_DOES_NOT_EXIST, str(exc)) from None
    return {"model_type": info.to_dict()}


# -- models -------------------------------------------------------------------------------------


async def _model(call: Call, app: AppRow, model_id: str, *, public_ok: bool = False) -> ModelRow:
    """The app's model; with ``public_ok`` (reads only), a public model of clarifai/main named
    by id alone when the app has none of that id (the API walkthrough's older form)."""
    models = call.backend.automation.models
    found = await call.db(models.get_model, app.pk, model_id)
    if found is None and public_ok and app.user_id != PUBLIC_USER:
        found = await call.db(models.get_model, models.public_app_pk(), model_id)
    if found is None:
        raise model_missing(model_id)
    return found


def _owner(call: Call, app: AppRow, model: ModelRow) -> tuple[str, str]:
    """``(app_id, user_id)`` of the app a model lives in, for answers."""
    if model.app_pk != app.pk:
        return PUBLIC_APP, PUBLIC_USER
    return app.id, call.owner_id


async def post_models(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    items = ([body.get_obj("model")] if body.has("model") else []) + body.get_objs("models")
    if not items:
        raise invalid("model", "required: the model to create")
    if len(items) > 1:
        raise invalid("models", "create one model per PostModels call")
    item = items[0]
    ident = item.get_str("id")
    if not ident:
        raise invalid(item.field("id"), "required (the model id)")
    valid_id(ident, item.field("id"))
    type_id = parse_type_id(item.get_str("model_type_id"), item.field("model_type_id"))
    info = parse_output_info(item.get_obj("output_info"))
    if info.get("data") or info.get("params"):
        # Deprecated here but still read: the default of the model's versions' configuration.
        check_config(type_id, info, call.user_id)
    new = NewModel(
        id=ident,
        model_type_id=type_id,
        name=text_field(item, "name") or text_field(item, "display_name"),
        description=text_field(item, "description", description=True),
        output_info=info,
    )
    row = await call.db(
        call.backend.automation.models.create_model,
        app.pk,
        new,
        concept_values(info),
    )
    return {"model": model_json(row, app.id, call.owner_id)}


async def list_models(call: Call) -> dict[str, Any]:
    app = await call.app()
    limit, offset = paging(call.query)
    types = [
        parse_type_id(t, "model_type_id") for t in call.query.get_list("model_type_id") if t.strip()
    ]
    rows = await call.db(call.backend.automation.models.list_models, app.pk, limit, offset, types)
    return {"models": [model_json(r, app.id, call.owner_id, with_config=False) for r in rows]}


async def get_model(call: Call) -> dict[str, Any]:
    app = await call.app()
    row = await _model(call, app, call.path("model_id"), public_ok=True)
    return {"model": model_json(row, *_owner(call, app, row), with_config=False)}


async def get_model_output_info(call: Call) -> dict[str, Any]:
    """GetModelOutputInfo: the model with its configuration (output_info: data.concepts,
    params, output_config): that of ``version_id``, or of the latest version (a model with no
    version yet shows the deprecated model-level one it was created with)."""
    app = await call.app()
    row = await _model(call, app, call.path("model_id"), public_ok=True)
    owner = _owner(call, app, row)
    version = row.latest
    version_id = call.request.path_params.get("version_id")
    if version_id:
        version = await call.db(call.backend.automation.models.get_version, row.pk, version_id)
        if version is None:
            raise version_missing(row.id, version_id)
    if version is not None:
        row = replace(row, output_info={**row.output_info, **version.output_info}, latest=version)
    return {"model": model_json(row, *owner)}


_VERSION_FIELDS: Final = ("data", "params", "output_config")


async def patch_models(call: Call) -> dict[str, Any]:
    """Model-level fields only (name, description): ``overwrite`` and ``merge`` set the ones
    sent, ``remove`` clears the description. A configuration (``output_info`` data, params,
    output_config) belongs to a version: refused, naming PostModelVersions."""
    app = await call.app()
    body = await call.body()
    items = body.get_objs("models")
    batch(items, body.field("models"))
    action = body.get_action(default="overwrite")
    patches: dict[str, Obj] = {}
    for item in items:
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the model to patch)")
        if ident in patches:
            raise invalid(body.field("models"), f"model '{ident}' appears twice")
        info = parse_output_info(item.get_obj("output_info"))
        sent = [k for k in _VERSION_FIELDS if k in info]
        if sent:
            raise ApiFailure(
                MODEL_INVALID_ARGUMENT,
                f"{item.field('output_info.' + sent[0])}: a model's configuration lives in its "
                f"versions, and PatchModels changes model fields only (name, description): "
                f"create a new version of '{ident}' with PostModelVersions "
                "(model_versions[0].output_info), then point workflow nodes at it",
            )
        patches[ident] = item

    def change(current: ModelRow) -> tuple[ModelRow, list[ConceptValue]]:
        item = patches[current.id]
        sent_type = item.get_str("model_type_id")
        if (
            sent_type
            and parse_type_id(sent_type, item.field("model_type_id")) != current.model_type_id
        ):
            raise invalid(
                item.field("model_type_id"),
                f"model '{current.id}' is a {current.model_type_id}; a model's type cannot "
                "change (create a new model instead)",
            )
        name = current.name
        if item.has("name") or item.has("display_name"):
            given = text_field(item, "name") or text_field(item, "display_name")
            name = given or current.name
        description = current.description
        if item.has("description"):
            described = text_field(item, "description", description=True)
            description = "" if action == "remove" else described
        return replace(current, name=name, description=description), []

    rows = await call.db(call.backend.automation.models.patch_models, app.pk, list(patches), change)
    return {"models": [model_json(r, app.id, call.owner_id) for r in rows]}


async def delete_model(call: Call) -> dict[str, Any]:
    app = await call.app()
    await call.db(call.backend.automation.models.delete_model, app.pk, call.path("model_id"))
    return {}


# -- versions -----------------------------------------------------------------------------------


def _version_info(model: ModelRow, sent: Obj) -> dict[str, Any]:
    """A new version's configuration: the model's (deprecated) ``output_info`` as the default,
    each part the version sends (``data.concepts``, ``params``, ``output_config``) in its
    place."""
    info = {k: v for k, v in model.output_info.items() if k in ("data", "params", "output_config")}
    info.update(parse_output_info(sent))
    info.pop("message", None)
    return {k: v for k, v in info.items() if v not in ({}, None)}


async def post_model_versions(call: Call) -> dict[str, Any]:
    """A new version of any model type, with its configuration (``model_versions[0]
    .output_info``). A type that needs no training answers with the version ready (21100);
    an ``embedding-classifier`` answers at once with the version queued (21103): poll
    GetModelVersion for 21101, then 21100 or 21106 with the reason."""
    app = await call.app()
    model = await _model(call, app, call.path("model_id"))
    body = await call.body()
    versions = body.get_objs("model_versions")
    if len(versions) > 1:
        raise invalid(body.field("model_versions"), "create one version per call")
    type_id = normalise_type_id(model.model_type_id)
    if type_id == VISUAL_EMBEDDER:
        raise ApiFailure(
            MODEL_INVALID_ARGUMENT,
            f"model '{model.id}' is a visual-embedder of this app, which cannot be trained "
            "here; use clarifai/main's general-image-embedding, which indexes the app's inputs",
        )
    version = versions[0] if versions else Obj({}, "model_versions[0]")
    description = text_field(version, "description", description=True) or text_field(
        body, "description", description=True
    )
    info = _version_info(model, version.get_obj("output_info"))
    models = call.backend.automation.models
    if not is_trainable(type_id):
        check_config(type_id, info, call.user_id)
        updated, _ = await call.db(
            models.add_version,
            app.pk,
            model.id,
            description=description,
            train_params=None,
            output_info=info,
            status_code=MODEL_TRAINED,
            status_description="Model is ready: it needs no training",
            concepts=concept_values(info),
        )
        return {"model": model_json(updated, app.id, call.owner_id)}
    # The docs and the SDK train on the version's own concepts
    # (model_versions[0].output_info.data.concepts); the model's (deprecated) are the fallback.
    concepts = (info.get("data") or {}).get("concepts", [])
    sent = version.get_obj("output_info").get_obj("data")
    if sent.raw("concepts") is not None and not concepts:
        raise invalid(sent.field("concepts"), "a classifier needs at least one concept")
    info["data"] = {
        "concepts": [{"id": c["id"], "name": c.get("name") or c["id"]} for c in concepts]
    }
    info.pop("params", None)
    updated, _ = await call.db(
        models.add_version,
        app.pk,
        model.id,
        description=description,
        train_params=version.get_obj("train_info").get_struct("params"),
        output_info=info,
        status_code=MODEL_QUEUED,
        concepts=concept_values(info),
    )
    call.backend.automation.wake()
    return {"model": model_json(updated, app.id, call.owner_id)}


async def list_versions(call: Call) -> dict[str, Any]:
    app = await call.app()
    model = await _model(call, app, call.path("model_id"), public_ok=True)
    limit, offset = paging(call.query)
    rows = await call.db(call.backend.automation.models.list_versions, model.pk, limit, offset)
    return {"model_versions": [version_json(v, *_owner(call, app, model)) for v in rows]}


async def get_version(call: Call) -> dict[str, Any]:
    app = await call.app()
    model = await _model(call, app, call.path("model_id"), public_ok=True)
    version_id = call.path("version_id")
    row = await call.db(call.backend.automation.models.get_version, model.pk, version_id)
    if row is None:
        raise version_missing(model.id, version_id)
    return {"model_version": version_json(row, *_owner(call, app, model))}


# -- predict ------------------------------------------------------------------------------------


def _predict_sync(
    call: Call, app: AppRow, model: ModelRow, version_id: str, sources: list[Source]
) -> tuple[str, list[dict[str, Any]]]:
    """Blocking: one ``(status code, description, data)`` per source."""
    auto = call.backend.automation
    embedder = default_embedder() if model.model_type_id == EMBEDDING_CLASSIFIER else None
    if model.model_type_id == VISUAL_EMBEDDER:
        try:
            embedder = embedder_for(model)
        except ConfigError as exc:
            raise ApiFailure(MODEL_INVALID_ARGUMENT, str(exc)) from None
        resolved_version = version_id or (model.latest.id if model.latest else "")
        classifier = None
    else:
        resolved = auto.resolve_classifier(app.pk, model, version_id, ApiFailure)
        resolved_version = resolved.model_version_id
        classifier = resolved
    assert embedder is not None
    outputs: list[dict[str, Any]] = []
    for source in sources:
        if source.error:
            outputs.append({"status": status_json(source.error_code, source.error), "data": {}})
            continue
        if source.frames is not None:
            outputs.append(predict_frames(source, embedder, classifier))
            continue
        vector = source.embeddings.get(embedder.id)
        try:
            if vector is None:
                image = source.image
                assert image is not None
                vector = embedder.embed(image() if callable(image) else image)
            data = prediction_data(vector, classifier)
        except Exception as exc:  # a bad input fails alone
            outputs.append(
                {"status": status_json(21313, f"{type(exc).__name__}: {exc}"), "data": {}}
            )
            continue
        outputs.append({"status": status_json(SUCCESS), "data": data})
    return resolved_version, outputs


async def post_model_outputs(call: Call) -> dict[str, Any]:
    app = await call.app()
    model = await _model(call, app, call.path("model_id"), public_ok=True)
    version_id = call.request.path_params.get("version_id", "")
    if model.model_type_id not in (EMBEDDING_CLASSIFIER, VISUAL_EMBEDDER):
        raise ApiFailure(
            MODEL_INVALID_ARGUMENT,
            f"model '{model.id}' is a {model.model_type_id}: it takes concepts from another "
            "model, not images; run it in a workflow (PostWorkflowResults)",
        )
    if version_id and model.model_type_id == VISUAL_EMBEDDER:
        found = await call.db(call.backend.automation.models.get_version, model.pk, version_id)
        if found is None:
            raise version_missing(model.id, version_id)
    body = await call.body()
    sources = await load_sources(call, app, body)
    resolved_version, results = await asyncio.to_thread(
        _predict_sync, call, app, model, str(version_id), sources
    )
    summary = {
        "id": model.id,
        "name": model.name,
        "model_type_id": model.model_type_id,
        "app_id": _owner(call, app, model)[0],
        "user_id": _owner(call, app, model)[1],
        "model_version": {"id": resolved_version},
    }
    now = timestamp(time.time())
    outputs = [
        {
            "id": new_id(),
            "created_at": now,
            "model": summary,
            "input": source.echo,
            **result,
        }
        for source, result in zip(sources, results, strict=True)
    ]
    failed = sum(1 for r in results if r["status"]["code"] != SUCCESS)
    if failed == 0:
        status = status_json(SUCCESS)
    elif failed == len(results):
        status = status_json(FAILURE, "every input failed: see each output's status")
    else:
        status = status_json(MIXED_STATUS, f"{failed} of {len(results)} inputs failed")
    return {"status": status, "outputs": outputs}


ROUTES = [
    RouteSpec("GET", "/apps/{app_id}/models/types", "ListModelTypes", list_types),
    RouteSpec("GET", "/apps/{app_id}/models/types/{model_type_id}", "GetModelType", get_type),
    RouteSpec("POST", "/apps/{app_id}/models", "PostModels", post_models, changes_workflows=True),
    RouteSpec("GET", "/apps/{app_id}/models", "ListModels", list_models),
    RouteSpec(
        "PATCH", "/apps/{app_id}/models", "PatchModels", patch_models, changes_workflows=True
    ),
    RouteSpec("GET", "/apps/{app_id}/models/{model_id}", "GetModel", get_model),
    RouteSpec(
        "GET",
        "/apps/{app_id}/models/{model_id}/output_info",
        "GetModelOutputInfo",
        get_model_output_info,
    ),
    RouteSpec(
        "GET",
        "/apps/{app_id}/models/{model_id}/versions/{version_id}/output_info",
        "GetModelOutputInfoVersion",
        get_model_output_info,
    ),
    RouteSpec(
        "DELETE",
        "/apps/{app_id}/models/{model_id}",
        "DeleteModel",
        delete_model,
        changes_workflows=True,
    ),
    RouteSpec(
        "POST",
        "/apps/{app_id}/models/{model_id}/versions",
        "PostModelVersions",
        post_model_versions,
        changes_workflows=True,
    ),
    RouteSpec(
        "GET", "/apps/{app_id}/models/{model_id}/versions", "ListModelVersions", list_versions
    ),
    RouteSpec(
        "GET",
        "/apps/{app_id}/models/{model_id}/versions/{version_id}",
        "GetModelVersion",
        get_version,
    ),
    RouteSpec(
        "POST", "/apps/{app_id}/models/{model_id}/outputs", "PostModelOutputs", post_model_outputs
    ),
    RouteSpec(
        "POST",
        "/apps/{app_id}/models/{model_id}/versions/{version_id}/outputs",
        "PostModelOutputsVersion",
        post_model_outputs,
    ),
]
