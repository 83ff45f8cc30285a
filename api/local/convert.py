"""Stored rows -> Clarifai v2 JSON (snake_case, as ``json_format.MessageToDict`` would accept)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from api.local.jsonio import timestamp
from api.local.modelstore import node_key
from api.local.rows import (
    AnnotationRow,
    AppRow,
    ConceptRow,
    ConceptValue,
    InputCounts,
    InputRow,
    ModelRow,
    VersionRow,
    WorkflowRow,
)
from api.local.status import status_json


def app_json(app: AppRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": app.id,
        "name": app.name,
        "user_id": app.user_id,
        "created_at": timestamp(app.created_at),
        "modified_at": timestamp(app.modified_at),
    }
    if app.description:
        out["description"] = app.description
    if app.sample_ms:
        out["sample_ms"] = app.sample_ms
    if app.default_workflow_id:
        # "clarifai/main/Universal" is a base workflow of the public app (see routes/apps.py).
        owner_user, owner_app, workflow_id = (
            app.default_workflow_id.split("/", 2)
            if app.default_workflow_id.count("/") == 2
            else (app.user_id, app.id, app.default_workflow_id)
        )
        out["default_workflow_id"] = workflow_id
        out["default_workflow"] = {"id": workflow_id, "app_id": owner_app, "user_id": owner_user}
    return out


def concept_value_json(concept: ConceptValue) -> dict[str, Any]:
    return {"id": concept.id, "name": concept.name or concept.id, "value": concept.value}


def concept_json(concept: ConceptRow, app_id: str, user_id: str) -> dict[str, Any]:
    return {
        "id": concept.id,
        "name": concept.name,
        "value": 1.0,
        "created_at": timestamp(concept.created_at),
        "app_id": app_id,
        "user_id": user_id,
    }


class Links:
    """Builds URLs that point back at this server (image bytes, thumbnails)."""

    def __init__(self, base_url: str, user_id: str, app_id: str) -> None:
        user, app = quote(user_id, safe=""), quote(app_id, safe="")
        self.app_base = f"{base_url.rstrip('/')}/v2/users/{user}/apps/{app}"

    def blob(self, input_id: str) -> str:
        return f"{self.app_base}/inputs/{_quoted(input_id)}/blob"

    def thumbnail(self, input_id: str) -> str:
        """A video's hosted thumbnail (its first frame): ``prefix/thumb/suffix``."""
        return f"{self.app_base}/hosted/thumb/{_quoted(input_id)}"

    def hosted(self, input_id: str) -> dict[str, Any]:
        return {
            "prefix": f"{self.app_base}/hosted",
            "suffix": _quoted(input_id),
            "sizes": ["orig", "thumb"],
        }


#: What ``quote(text, safe="")`` leaves as it is; most ids are made of these alone.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    """``quote(text, safe="")``, without its cost for text that needs no quoting."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def input_json(row: InputRow, links: Links) -> dict[str, Any]:
    image: dict[str, Any] = {}
    if row.source_url:
        image["url"] = row.source_url
    elif row.blob_sha:
        image["url"] = links.blob(row.id)
    if row.blob_sha:
        image["hosted"] = links.hosted(row.id)
    if row.kind == "video":
        if row.thumb_sha:
            image["thumbnail_url"] = links.thumbnail(row.id)
            image["hosted_thumbnail"] = links.hosted(row.id) | {"sizes": ["thumb"]}
        if row.video_info:
            image["video_info"] = row.video_info
    elif row.width:
        image["image_info"] = {
            "width": row.width,
            "height": row.height,
            "format": row.format,
            "color_mode": row.color_mode,
        }
    data: dict[str, Any] = {row.kind if row.kind == "video" else "image": image}
    if row.concepts:
        data["concepts"] = [concept_value_json(c) for c in row.concepts]
    if row.metadata:
        data["metadata"] = row.metadata
    details = ""
    if row.workflow_status_code is not None and row.workflow_status_code != 10000:
        details = f"default workflow failed: {row.workflow_status_description}"
    return {
        "id": row.id,
        "data": data,
        "status": status_json(row.status_code, row.status_description, details),
        "created_at": timestamp(row.created_at),
        "modified_at": timestamp(row.modified_at),
    }


def frame_json(frame: tuple[int, int], data: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``data.frames``: a sampled frame's index and time (ms), and its data."""
    return {"frame_info": {"index": frame[0], "time": frame[1]}, "data": data}


def annotation_json(row: AnnotationRow) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if row.concepts:
        concepts = [concept_value_json(c) for c in row.concepts]
        if row.frame is not None:
            # A frame-level annotation: its concepts are the frame's (as on the platform).
            data["frames"] = [frame_json(row.frame, {"concepts": concepts})]
        else:
            data["concepts"] = concepts
    elif row.frame is not None:
        data["frames"] = [frame_json(row.frame, {})]
    if row.metadata:
        data["metadata"] = row.metadata
    out: dict[str, Any] = {
        "id": row.id,
        "input_id": row.input_id,
        "data": data,
        "user_id": row.user_id,
        "status": status_json(row.status_code, row.status_description),
        "created_at": timestamp(row.created_at),
        "modified_at": timestamp(row.modified_at),
        "input_level": row.input_level,
        "trusted": not row.model_version_id,
    }
    # `worker` is the current field; user_id / model_version_id are deprecated but still sent.
    if row.model_version_id:
        out["model_version_id"] = row.model_version_id
        out["worker"] = {"model": {"model_version": {"id": row.model_version_id}}}
    else:
        out["worker"] = {"user": {"id": row.user_id}}
    if row.annotation_info:
        out["annotation_info"] = row.annotation_info
    return out


def counts_json(counts: InputCounts) -> dict[str, Any]:
    return {
        "processed": counts.processed,
        "to_process": counts.to_process,
        "errors": counts.errors,
        "processing": counts.processing,
    }


def version_json(
    version: VersionRow, app_id: str, user_id: str, *, with_config: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": version.id,
        "created_at": timestamp(version.created_at),
        "modified_at": timestamp(version.modified_at),
        "status": status_json(version.status_code, version.status_description),
        "active_concept_count": version.active_concept_count,
        "total_input_count": version.total_input_count,
        "app_id": app_id,
        "user_id": user_id,
    }
    if version.completed_at is not None:
        out["completed_at"] = timestamp(version.completed_at)
    if version.description:
        out["description"] = version.description
    if version.train_params:
        out["train_info"] = {"params": version.train_params}
    info = {
        k: v for k, v in version.output_info.items() if k in ("data", "params", "output_config")
    }
    if info and with_config:
        out["output_info"] = info
    if version.training_info:
        out["metadata"] = {"training": version.training_info}
    return out


def model_json(
    model: ModelRow, app_id: str, user_id: str, *, with_config: bool = True
) -> dict[str, Any]:
    """A Model. ``with_config=False`` answers as the platform's GetModel and ListModels do:
    no configuration (concepts, thresholds, writer params), only where to read it
    (GetModelOutputInfo)."""
    if not with_config:
        output_info = {"message": f"Show output_info with: GET /models/{model.id}/output_info"}
    elif model.latest is not None:  # the configuration of its latest version
        output_info = {**model.output_info, **model.latest.output_info}
    else:
        output_info = model.output_info
    out: dict[str, Any] = {
        "id": model.id,
        "name": model.name,
        "display_name": model.name,
        "app_id": app_id,
        "user_id": user_id,
        "model_type_id": model.model_type_id,
        "created_at": timestamp(model.created_at),
        "modified_at": timestamp(model.modified_at),
        "output_info": output_info,
    }
    if model.description:
        out["description"] = model.description
    if model.latest is not None:
        out["model_version"] = version_json(model.latest, app_id, user_id, with_config=with_config)
    return out


def workflow_node_json(
    node: dict[str, Any], types: dict[str, str], app_id: str, user_id: str
) -> dict[str, Any]:
    owner_user = node.get("model_user_id") or user_id
    owner_app = node.get("model_app_id") or app_id
    model: dict[str, Any] = {"id": node["model_id"], "app_id": owner_app, "user_id": owner_user}
    type_id = types.get(node_key(node))
    if type_id:
        model["model_type_id"] = type_id
    if node.get("model_version_id"):
        model["model_version"] = {"id": node["model_version_id"]}
    out: dict[str, Any] = {"id": node["id"], "model": model}
    if node.get("node_inputs"):
        out["node_inputs"] = [{"node_id": n} for n in node["node_inputs"]]
    if node.get("suppress_output"):
        out["suppress_output"] = True
    return out


def workflow_json(
    workflow: WorkflowRow, types: dict[str, str], app_id: str, user_id: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": workflow.id,
        "app_id": app_id,
        "user_id": user_id,
        "nodes": [workflow_node_json(n, types, app_id, user_id) for n in workflow.nodes],
        "created_at": timestamp(workflow.created_at),
        "modified_at": timestamp(workflow.modified_at),
    }
    if workflow.description:
        out["description"] = workflow.description
    if workflow.metadata:
        out["metadata"] = workflow.metadata
    return out
