"""The only module that knows Clarifai's JSON field names.

One module on purpose (issue #23): the design's rule is that exactly one place spells the
API's field names, so a renamed field is one edit and a review of one file.

`*_from(dict)` turns response JSON into `api.models` objects; `*_body(...)` builds request
bodies and `*_params(...)` query parameters. Parsing is lenient (missing fields take the
protobuf defaults, lowerCamelCase is accepted); building follows the proto field names in
snake_case, checked by tests/client/test_contract.py against the clarifai_grpc messages.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from api.models import (
    PUBLIC_APP_ID,
    PUBLIC_USER_ID,
    Annotation,
    AnnotationFilter,
    AnnotationUpdate,
    App,
    BatchItemResult,
    Concept,
    FrameInfo,
    FrameOutput,
    Input,
    InputCounts,
    InputRef,
    InputUpdate,
    Model,
    ModelType,
    ModelTypeField,
    ModelVersion,
    NewAnnotation,
    NewInput,
    NodeOutput,
    Outcome,
    Prediction,
    SearchFilter,
    SearchHit,
    VideoInfo,
    Workflow,
    WorkflowNode,
    WorkflowResult,
)

JSON = dict[str, Any]
Params = list[tuple[str, str]]

DUPLICATE_CODES = frozenset({30100})
#: Per-item statuses that mean "accepted" in a write response.
ACCEPTED_ITEM_CODES = frozenset({10000, 30000, 30001, 30003, 24150, 24151, 24157, 24158})

_CAMEL = re.compile(r"_([a-z])")


@functools.cache
def _camel(key: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), key)


def _get(d: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """`d[key]`, also trying the lowerCamelCase spelling protobuf JSON may use."""
    if key in d:
        return d[key]
    return d.get(_camel(key), default)


def _obj(d: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _get(d, key)
    return value if isinstance(value, Mapping) else {}


def _list(d: Mapping[str, Any], key: str) -> list[Any]:
    value = _get(d, key)
    return list(value) if isinstance(value, list) else []


def _str(d: Mapping[str, Any], key: str) -> str:
    value = _get(d, key)
    return "" if value is None else str(value)


def _int(d: Mapping[str, Any], key: str) -> int:
    value = _get(d, key)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _float(d: Mapping[str, Any], key: str) -> float:
    value = _get(d, key)
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


_FRACTION = re.compile(r"\.(\d+)")


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as Clarifai sends it (`Z`, up to nanoseconds) -> aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        # Python 3.11+ reads Clarifai's usual forms itself (`Z`, fractions beyond microseconds
        # truncated, as below), several times faster than the normalising path.
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def status_of(d: Mapping[str, Any]) -> tuple[int, str, str]:
    """(code, description, details) of the `status` inside `d` (0 when absent)."""
    status = _obj(d, "status")
    return _int(status, "code"), _str(status, "description"), _str(status, "details")


# ---------------------------------------------------------------------------------------
# Objects from JSON


def concept_from(d: Mapping[str, Any]) -> Concept:
    return Concept(id=_str(d, "id"), name=_str(d, "name"), value=_float(d, "value"))


def concepts_from(items: Sequence[Any]) -> tuple[Concept, ...]:
    return tuple(concept_from(c) for c in items if isinstance(c, Mapping))


def app_from(d: Mapping[str, Any]) -> App:
    workflow = _obj(d, "default_workflow")
    default = _str(d, "default_workflow_id") or _str(workflow, "id")
    return App(
        id=_str(d, "id"),
        name=_str(d, "name"),
        default_workflow_id=default,
        created_at=parse_time(_get(d, "created_at")),
        description=_str(d, "description"),
        default_workflow_user_id=_str(workflow, "user_id"),
        default_workflow_app_id=_str(workflow, "app_id"),
        sample_ms=_int(d, "sample_ms"),
    )


def video_info_from(d: Mapping[str, Any]) -> VideoInfo:
    return VideoInfo(
        width=_int(d, "width"),
        height=_int(d, "height"),
        fps=_float(d, "fps"),
        video_format=_str(d, "video_format"),
        bit_rate=_int(d, "bit_rate"),
        frame_count=_int(d, "frame_count"),
        duration_seconds=_float(d, "duration_seconds"),
    )


def input_from(d: Mapping[str, Any]) -> Input:
    data = _obj(d, "data")
    code, description, details = status_of(d)
    metadata = _obj(data, "metadata")
    video = _obj(data, "video")
    is_video = bool(video) and not _obj(data, "image")
    info = _obj(video, "video_info")
    return Input(
        id=_str(d, "id"),
        status_code=code,
        status_description=description,
        status_details=details,
        url=_str(video if is_video else _obj(data, "image"), "url"),
        metadata=dict(metadata),
        concepts=concepts_from(_list(data, "concepts")),
        created_at=parse_time(_get(d, "created_at")),
        modified_at=parse_time(_get(d, "modified_at")),
        kind="video" if is_video else "image",
        video=video_info_from(info) if is_video and info else None,
        thumbnail_url=_str(video, "thumbnail_url") if is_video else "",
    )


def frame_info_from(d: Mapping[str, Any]) -> FrameInfo:
    return FrameInfo(index=_int(d, "index"), time_ms=_int(d, "time"))


def frame_info_json(frame: FrameInfo) -> JSON:
    return {"index": frame.index, "time": frame.time_ms}


def _frames(data: Mapping[str, Any]) -> list[tuple[FrameInfo, Mapping[str, Any]]]:
    """``data.frames`` as (frame info, that frame's data), in time order."""
    out = []
    for f in _list(data, "frames"):
        if isinstance(f, Mapping):
            out.append((frame_info_from(_obj(f, "frame_info")), _obj(f, "data")))
    out.sort(key=lambda item: (item[0].time_ms, item[0].index))
    return out


def frame_outputs_from(data: Mapping[str, Any]) -> tuple[FrameOutput, ...]:
    return tuple(
        FrameOutput(
            frame=info,
            concepts=concepts_from(_list(frame_data, "concepts")),
            embedding_dims=_embedding_dims(frame_data),
        )
        for info, frame_data in _frames(data)
    )


def input_counts_from(body: Mapping[str, Any]) -> InputCounts:
    counts = _obj(body, "counts")
    return InputCounts(
        processed=_int(counts, "processed"),
        to_process=_int(counts, "to_process"),
        errors=_int(counts, "errors"),
        processing=_int(counts, "processing"),
    )


def annotation_from(d: Mapping[str, Any]) -> Annotation:
    """An annotation; who wrote it comes from ``worker`` (``user.id``, or
    ``model.model_version.id``) first, the deprecated ``user_id`` / ``model_version_id`` after."""
    code, description, _ = status_of(d)
    worker = _obj(d, "worker")
    version = _str(_obj(_obj(worker, "model"), "model_version"), "id")
    data = _obj(d, "data")
    frames = _frames(data)
    frame = frames[0][0] if frames else None
    return Annotation(
        id=_str(d, "id"),
        input_id=_str(d, "input_id"),
        concepts=concepts_from(_list(frames[0][1] if frames else data, "concepts")),
        frame=frame,
        user_id=_str(_obj(worker, "user"), "id") or _str(d, "user_id"),
        model_version_id=version or _str(d, "model_version_id"),
        status_code=code,
        status_description=description,
        created_at=parse_time(_get(d, "created_at")),
        modified_at=parse_time(_get(d, "modified_at")),
        annotation_info=dict(_obj(d, "annotation_info")),
    )


def model_version_from(d: Mapping[str, Any]) -> ModelVersion:
    code, description, details = status_of(d)
    return ModelVersion(
        id=_str(d, "id"),
        status_code=code,
        status_description=description,
        status_details=details,
        total_input_count=_int(d, "total_input_count"),
        active_concept_count=_int(d, "active_concept_count"),
        train_params=dict(_obj(_obj(d, "train_info"), "params")),
        concepts=concepts_from(_list(_obj(_obj(d, "output_info"), "data"), "concepts")),
        metrics=dict(_obj(d, "metrics")),
        created_at=parse_time(_get(d, "created_at")),
        completed_at=parse_time(_get(d, "completed_at")),
        params=dict(_obj(_obj(d, "output_info"), "params")),
        description=_str(d, "description"),
    )


def model_from(d: Mapping[str, Any]) -> Model:
    output_info = _obj(d, "output_info")
    version = _obj(d, "model_version")
    return Model(
        id=_str(d, "id"),
        name=_str(d, "name"),
        model_type_id=_str(d, "model_type_id"),
        concepts=concepts_from(_list(_obj(output_info, "data"), "concepts")),
        params=dict(_obj(output_info, "params")),
        version=model_version_from(version) if _str(version, "id") else None,
        description=_str(d, "description"),
        created_at=parse_time(_get(d, "created_at")),
        modified_at=parse_time(_get(d, "modified_at")),
        concepts_mutually_exclusive=bool(
            _get(_obj(output_info, "output_config"), "concepts_mutually_exclusive", False)
        ),
        user_id=_str(d, "user_id"),
        app_id=_str(d, "app_id"),
    )


def model_type_field_from(d: Mapping[str, Any]) -> ModelTypeField:
    options = tuple(
        _str(o, "id") for o in _list(d, "model_type_enum_options") if isinstance(o, Mapping)
    )
    return ModelTypeField(
        path=_str(d, "path"),
        field_type=_str(d, "field_type"),
        description=_str(d, "description"),
        default_value=_get(d, "default_value"),
        required=bool(_get(d, "required", False)),
        placeholder=_str(d, "placeholder"),
        enum_options=options,
    )


def model_type_from(d: Mapping[str, Any]) -> ModelType:
    return ModelType(
        id=_str(d, "id"),
        title=_str(d, "title"),
        description=_str(d, "description"),
        input_fields=tuple(str(x) for x in _list(d, "input_fields")),
        output_fields=tuple(str(x) for x in _list(d, "output_fields")),
        trainable=bool(_get(d, "trainable", False)),
        creatable=bool(_get(d, "creatable", False)),
        fields=tuple(
            model_type_field_from(f)
            for f in _list(d, "model_type_fields")
            if isinstance(f, Mapping)
        ),
    )


def workflow_node_from(d: Mapping[str, Any], app_id: str = "") -> WorkflowNode:
    """A node; its model's owner is kept when it is another app than ``app_id`` (the
    workflow's), so that saving a workflow built in the Portal keeps its public models."""
    model = _obj(d, "model")
    owner_user, owner_app = _str(model, "user_id"), _str(model, "app_id")
    if app_id:
        foreign = bool(owner_app) and owner_app != app_id
    else:  # the workflow did not say its app: only a public model is known to be elsewhere
        foreign = (owner_user, owner_app) == (PUBLIC_USER_ID, PUBLIC_APP_ID)
    return WorkflowNode(
        id=_str(d, "id"),
        model_id=_str(model, "id"),
        model_version_id=_str(_obj(model, "model_version"), "id"),
        node_inputs=tuple(
            _str(n, "node_id") for n in _list(d, "node_inputs") if isinstance(n, Mapping)
        ),
        suppress_output=bool(_get(d, "suppress_output", False)),
        model_user_id=owner_user if foreign else "",
        model_app_id=owner_app if foreign else "",
    )


def workflow_from(d: Mapping[str, Any]) -> Workflow:
    return Workflow(
        id=_str(d, "id"),
        nodes=tuple(
            workflow_node_from(n, _str(d, "app_id"))
            for n in _list(d, "nodes")
            if isinstance(n, Mapping)
        ),
        description=_str(d, "description"),
        created_at=parse_time(_get(d, "created_at")),
        modified_at=parse_time(_get(d, "modified_at")),
    )


def _embeddings(data: Mapping[str, Any]) -> tuple[tuple[float, ...], ...]:
    out = []
    for e in _list(data, "embeddings"):
        if isinstance(e, Mapping):
            out.append(tuple(float(x) for x in _list(e, "vector")))
    return tuple(out)


def _embedding_dims(data: Mapping[str, Any]) -> tuple[int, ...]:
    dims = []
    for e in _list(data, "embeddings"):
        if isinstance(e, Mapping):
            dims.append(_int(e, "num_dimensions") or len(_list(e, "vector")))
    return tuple(dims)


def prediction_from(d: Mapping[str, Any]) -> Prediction:
    data = _obj(d, "data")
    code, description, _ = status_of(d)
    return Prediction(
        input_id=_str(_obj(d, "input"), "id"),
        status_code=code,
        status_description=description,
        concepts=concepts_from(_list(data, "concepts")),
        embedding_dims=_embedding_dims(data),
        embeddings=_embeddings(data),
        frames=frame_outputs_from(data),
    )


def _node_ids_for(outputs: Sequence[Mapping[str, Any]], nodes: Sequence[WorkflowNode]) -> list[str]:
    """Which node each output belongs to: outputs come one per node, in node order."""
    if len(outputs) == len(nodes):
        return [n.id for n in nodes]
    shown = [n for n in nodes if not n.suppress_output]
    if len(outputs) == len(shown):
        return [n.id for n in shown]
    remaining = list(nodes)
    ids = []
    for output in outputs:
        model_id = _str(_obj(output, "model"), "id")
        match = next((n for n in remaining if n.model_id == model_id), None)
        if match is not None:
            remaining.remove(match)
        ids.append(match.id if match else "")
    return ids


def workflow_results_from(
    body: Mapping[str, Any], nodes: Sequence[WorkflowNode] | None = None
) -> list[WorkflowResult]:
    """PostWorkflowResults -> one WorkflowResult per input, outputs tagged with node ids.

    Node ids come from `nodes` if given, else from the response's own `workflow`.
    """
    if nodes is None:
        nodes = workflow_from(_obj(body, "workflow")).nodes
    results = []
    for r in _list(body, "results"):
        if not isinstance(r, Mapping):
            continue
        outputs = [o for o in _list(r, "outputs") if isinstance(o, Mapping)]
        node_ids = _node_ids_for(outputs, nodes) if nodes else [""] * len(outputs)
        code, description, _ = status_of(r)
        node_outputs = []
        for node_id, o in zip(node_ids, outputs, strict=True):
            model = _obj(o, "model")
            data = _obj(o, "data")
            o_code, o_description, _ = status_of(o)
            node_outputs.append(
                NodeOutput(
                    node_id=node_id,
                    model_id=_str(model, "id"),
                    model_version_id=_str(_obj(model, "model_version"), "id"),
                    status_code=o_code,
                    status_description=o_description,
                    concepts=concepts_from(_list(data, "concepts")),
                    embedding_dims=_embedding_dims(data),
                    frames=frame_outputs_from(data),
                )
            )
        results.append(
            WorkflowResult(
                input_id=_str(_obj(r, "input"), "id"),
                status_code=code,
                status_description=description,
                outputs=tuple(node_outputs),
            )
        )
    return results


def results_need_node_ids(results: Sequence[WorkflowResult]) -> bool:
    return any(o.node_id == "" for r in results for o in r.outputs)


# ---------------------------------------------------------------------------------------
# Batch write results


def item_outcome(code: int) -> Outcome:
    if code in DUPLICATE_CODES:
        return "duplicate"
    if code in ACCEPTED_ITEM_CODES or code == 0:
        return "created"
    return "failed"


def batch_results(
    sent_ids: Sequence[str],
    items: Sequence[Any],
    top_code: int,
    top_description: str,
    top_details: str,
    parse: Any,
    name_of: Any,
) -> list[BatchItemResult[Any]]:
    """Per-item results of a batch write, in the order sent.

    Items are matched to the ids sent by id (falling back to position). An item the
    response does not mention gets the top-level status.
    """
    by_id: dict[str, Mapping[str, Any]] = {}
    for position, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        item_id = _str(item, "id") or (sent_ids[position] if position < len(sent_ids) else "")
        by_id.setdefault(item_id, item)
    results: list[BatchItemResult[Any]] = []
    for sent in sent_ids:
        found = by_id.get(sent)
        if found is not None:
            code, description, details = status_of(found)
            if code == 0:
                code, description, details = top_code, top_description, top_details
        else:
            code, description, details = top_code, top_description, top_details
        outcome = item_outcome(code)
        results.append(
            BatchItemResult(
                id=sent,
                outcome=outcome,
                status_code=code,
                status_name=name_of(code),
                description=description,
                details=details,
                item=parse(found) if found is not None and outcome != "failed" else None,
            )
        )
    return results


# ---------------------------------------------------------------------------------------
# Request bodies


def concept_json(c: Concept, *, with_value: bool = True) -> JSON:
    out: JSON = {"id": c.id}
    if c.name:
        out["name"] = c.name
    if with_value:
        out["value"] = float(c.value)
    return out


def _image_json(data: bytes | None, url: str | None, allow_duplicate_url: bool = False) -> JSON:
    if data is not None:
        return {"base64": base64.b64encode(data).decode("ascii")}
    image: JSON = {"url": url or ""}
    if allow_duplicate_url:
        image["allow_duplicate_url"] = True
    return image


def new_input_json(item: NewInput) -> JSON:
    kind = "video" if item.video else "image"
    data: JSON = {kind: _image_json(item.data, item.url, item.allow_duplicate_url)}
    if item.concepts:
        data["concepts"] = [concept_json(c) for c in item.concepts]
    if item.metadata:
        data["metadata"] = dict(item.metadata)
    return {"id": item.input_id, "data": data}


def post_inputs_body(items: Sequence[NewInput]) -> JSON:
    return {"inputs": [new_input_json(i) for i in items]}


def patch_inputs_body(updates: Sequence[InputUpdate], action: str) -> JSON:
    inputs = []
    for u in updates:
        data: JSON = {}
        if u.concepts is not None:
            data["concepts"] = [concept_json(c) for c in u.concepts]
        if u.metadata is not None:
            data["metadata"] = dict(u.metadata)
        inputs.append({"id": u.id, "data": data})
    return {"inputs": inputs, "action": action}


def ids_body(ids: Sequence[str]) -> JSON:
    return {"ids": list(ids)}


def input_ref_json(ref: InputRef) -> JSON:
    if ref.input_id is not None:
        return {"id": ref.input_id}
    return {"data": {"video" if ref.video else "image": _image_json(ref.data, ref.url)}}


def post_apps_body(
    app_id: str, name: str, description: str, base_workflow: str = "Universal"
) -> JSON:
    """PostApps on a base workflow of clarifai/main (as the SDK's create_app(base_workflow=)):
    its embedder indexes the app's inputs, which the Context-Based Classifier learns from."""
    app: JSON = {
        "id": app_id,
        "default_workflow": {
            "id": base_workflow,
            "user_id": PUBLIC_USER_ID,
            "app_id": PUBLIC_APP_ID,
        },
    }
    if name:
        app["name"] = name
    if description:
        app["description"] = description
    return {"apps": [app]}


def patch_apps_body(
    app_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    default_workflow_id: str | None = None,
    sample_ms: int | None = None,
) -> JSON:
    """PatchApps (overwrite). An empty ``default_workflow_id`` is refused: proto3 cannot tell
    it from a field not sent, so it cannot clear anything on the platform."""
    if default_workflow_id == "":
        raise ValueError("default_workflow_id cannot be cleared with an empty string")
    app: JSON = {"id": app_id}
    if name is not None:
        app["name"] = name
    if description is not None:
        app["description"] = description
    if default_workflow_id is not None:
        app["default_workflow_id"] = default_workflow_id
    if sample_ms is not None:
        app["sample_ms"] = sample_ms
    return {"apps": [app], "action": "overwrite"}


def concepts_body(concepts: Sequence[Concept]) -> JSON:
    return {"concepts": [concept_json(c, with_value=False) for c in concepts]}


def patch_concepts_body(concepts: Sequence[Concept], action: str) -> JSON:
    return {"concepts": [concept_json(c, with_value=False) for c in concepts], "action": action}


def new_annotation_json(a: NewAnnotation) -> JSON:
    out: JSON = {
        "id": a.id,
        "input_id": a.input_id,
        "data": {"concepts": [concept_json(c) for c in a.concepts]},
        "status": {"code": int(a.status_code)},
    }
    if a.user_id:
        out["user_id"] = a.user_id
    if a.annotation_info:
        out["annotation_info"] = dict(a.annotation_info)
    return out


def post_annotations_body(items: Sequence[NewAnnotation]) -> JSON:
    return {"annotations": [new_annotation_json(a) for a in items]}


def patch_annotations_body(updates: Sequence[AnnotationUpdate], action: str) -> JSON:
    annotations = []
    for u in updates:
        out: JSON = {"id": u.id, "input_id": u.input_id}
        if u.concepts is not None:
            concepts: JSON = {"concepts": [concept_json(c) for c in u.concepts]}
            if u.frame is not None:
                # A frame-level annotation keeps its concepts inside its frame.
                frame = {"frame_info": frame_info_json(u.frame), "data": concepts}
                out["data"] = {"frames": [frame]}
            else:
                out["data"] = concepts
        if u.status_code is not None:
            out["status"] = {"code": int(u.status_code)}
        if u.annotation_info is not None:
            out["annotation_info"] = dict(u.annotation_info)
        annotations.append(out)
    return {"annotations": annotations, "action": action}


def delete_annotations_body(ids: Sequence[str], input_ids: Sequence[str]) -> JSON:
    return {"ids": list(ids), "input_ids": list(input_ids)}


def post_models_body(
    model_id: str, *, model_type_id: str, name: str = "", description: str = ""
) -> JSON:
    """PostModels: the model only. Its configuration goes in a version
    (`post_model_versions_body`), as on the platform since 2023 and in the SDK."""
    model: JSON = {"id": model_id, "model_type_id": model_type_id}
    if name:
        model["name"] = name
    if description:
        model["description"] = description
    return {"model": model}


def patch_models_body(
    model_id: str, *, action: str, name: str | None = None, description: str | None = None
) -> JSON:
    """PatchModels: model-level fields only (a configuration is a new version)."""
    model: JSON = {"id": model_id}
    if name is not None:
        model["name"] = name
    if description is not None:
        model["description"] = description
    return {"models": [model], "action": action}


def post_model_versions_body(
    *,
    concepts: Sequence[Concept] | None = None,
    params: Mapping[str, Any] | None = None,
    concepts_mutually_exclusive: bool | None = None,
    description: str = "",
    train_params: Mapping[str, Any] | None = None,
    with_values: bool = True,
) -> JSON:
    """PostModelVersions: a new version with its configuration (`output_info`:
    data.concepts, with their values unless `with_values` is False, as a classifier's concepts
    go; params; output_config) and, for a trainable model, `train_info`."""
    version: JSON = {}
    info: JSON = {}
    if concepts is not None:
        info["data"] = {"concepts": [concept_json(c, with_value=with_values) for c in concepts]}
    if params is not None:
        info["params"] = dict(params)
    if concepts_mutually_exclusive is not None:
        info["output_config"] = {"concepts_mutually_exclusive": concepts_mutually_exclusive}
    if info:
        version["output_info"] = info
    if description:
        version["description"] = description
    if train_params:
        version["train_info"] = {"params": dict(train_params)}
    return {"model_versions": [version]}


def predict_body(inputs: Sequence[InputRef]) -> JSON:
    return {"inputs": [input_ref_json(i) for i in inputs]}


def workflow_json(w: Workflow) -> JSON:
    nodes = []
    for n in w.nodes:
        model: JSON = {"id": n.model_id}
        if n.model_version_id:
            model["model_version"] = {"id": n.model_version_id}
        if n.model_user_id or n.model_app_id:
            model["user_id"] = n.model_user_id
            model["app_id"] = n.model_app_id
        node: JSON = {"id": n.id, "model": model}
        if n.node_inputs:
            node["node_inputs"] = [{"node_id": i} for i in n.node_inputs]
        if n.suppress_output:
            node["suppress_output"] = True
        nodes.append(node)
    out: JSON = {"id": w.id, "nodes": nodes}
    if w.description:
        out["description"] = w.description
    return out


def post_workflows_body(workflows: Sequence[Workflow]) -> JSON:
    return {"workflows": [workflow_json(w) for w in workflows]}


def patch_workflows_body(workflows: Sequence[Workflow], action: str) -> JSON:
    return {"workflows": [workflow_json(w) for w in workflows], "action": action}


def post_workflow_results_body(inputs: Sequence[InputRef]) -> JSON:
    return {"inputs": [input_ref_json(i) for i in inputs]}


# ---------------------------------------------------------------------------------------
# Query parameters


def _filter_json(f: SearchFilter) -> JSON:
    out: JSON = {}
    if isinstance(f, AnnotationFilter):
        annotation: JSON = {}
        if f.status is not None:
            annotation["status"] = {"code": int(f.status)}
        if f.concepts:
            annotation["data"] = {"concepts": [concept_json(c) for c in f.concepts]}
        if f.user_id:
            annotation["user_id"] = f.user_id
        if f.model_version_id:
            annotation["model_version_id"] = f.model_version_id
        if f.input_id:
            annotation["input_id"] = f.input_id
        out["annotation"] = annotation
    else:
        item: JSON = {}
        if f.status is not None:
            item["status"] = {"code": int(f.status)}
        if f.input_id:
            item["id"] = f.input_id
        out["input"] = item
    if f.negate:
        out["negate"] = True
    return out


def search_body(filters: Sequence[SearchFilter], page: int, per_page: int) -> JSON:
    """PostInputsSearches / PostAnnotationsSearches: one search of ANDed filters, one page."""
    return {
        "searches": [{"query": {"filters": [_filter_json(f) for f in filters]}}],
        "pagination": {"page": page, "per_page": per_page},
    }


def search_hit_from(d: Mapping[str, Any]) -> SearchHit:
    annotation = _obj(d, "annotation")
    return SearchHit(
        input=input_from(_obj(d, "input")),
        annotation=annotation_from(annotation) if _str(annotation, "id") else None,
        score=_float(d, "score"),
    )


def page_params(page: int, per_page: int) -> Params:
    return [("page", str(page)), ("per_page", str(per_page))]


def list_inputs_params(
    page: int, per_page: int, status: int | None, ids: Sequence[str] | None
) -> Params:
    params = page_params(page, per_page)
    if status is not None:
        params.append(("status.code", str(int(status))))
    params.extend(("ids", i) for i in ids or ())
    return params


def list_annotations_params(
    page: int,
    per_page: int,
    *,
    ids: Sequence[str] | None = None,
    input_ids: Sequence[str] | None = None,
    user_ids: Sequence[str] | None = None,
    model_version_ids: Sequence[str] | None = None,
    list_all_annotations: bool = False,
) -> Params:
    """GET ListAnnotations. No status filter: ``statuses`` is a repeated message, which the
    REST gateway cannot take as a query parameter (filter by status with a search). With
    ``ids``, the proto asks for the matching ``input_ids`` in the same order."""
    if ids and len(input_ids or ()) != len(ids):
        raise ValueError("ListAnnotations with ids needs the matching input_ids, in order")
    params = page_params(page, per_page)
    for key, values in (
        ("ids", ids),
        ("input_ids", input_ids),
        ("user_ids", user_ids),
        ("model_version_ids", model_version_ids),
    ):
        params.extend((key, v) for v in values or ())
    if list_all_annotations:
        params.append(("list_all_annotations", "true"))
    return params


def list_models_params(page: int, per_page: int, model_type_id: str | None) -> Params:
    params = page_params(page, per_page)
    if model_type_id:
        params.append(("model_type_id", model_type_id))
    return params


# ---------------------------------------------------------------------------------------
# Response collections


def items(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [x for x in _list(body, key) if isinstance(x, Mapping)]


def single(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return _obj(body, key)


def user_id_from(body: Mapping[str, Any]) -> str:
    """The id in a GetUser response (`{"user": {"id": ...}}`), or ""."""
    user = body.get("user")
    return _str(user, "id") if isinstance(user, Mapping) else ""
