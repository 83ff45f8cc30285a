"""PostWorkflows, ListWorkflows, GetWorkflow, PatchWorkflows, DeleteWorkflow,
PostWorkflowResults (dry run), and GetConceptCounts.

Graphs are validated against the app's models on every write (``engine.validate``): 21200
unknown model or version, 22104 bad node or type mismatch with the model, 22107 a node input
that is not a node, a cycle, or incompatible types. PostWorkflowResults runs the graph and
writes nothing; it answers one output per node in node order (nodes with ``suppress_output``
are left out, as on Clarifai), each with the node's ``data``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, Final

from api.local.convert import workflow_json
from api.local.http import Call, RouteSpec, batch, text_field, valid_id
from api.local.jsonio import Obj, paging, timestamp
from api.local.modelstore import node_key, workflow_missing
from api.local.routes import parse
from api.local.routes.sources import MAX_WORKFLOW_INPUTS, load_sources
from api.local.rows import AppRow, WorkflowRow
from api.local.status import FAILURE, MIXED_STATUS, SUCCESS, invalid, status_json
from api.local.store import new_id

_NODE_FIELDS: Final = {"id", "model", "node_inputs", "suppress_output"}


def _nodes(owner: Obj, call: Call, app: AppRow) -> list[dict[str, Any]]:
    """Stored nodes. A node's model may live in another app (``model.user_id`` /
    ``model.app_id``, as a public model of clarifai/main): that owner is kept with the node;
    a model of this app is stored without one."""
    nodes: list[dict[str, Any]] = []
    for item in owner.get_objs("nodes"):
        parse.only_fields(item, _NODE_FIELDS, "a workflow node")
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the node id)")
        valid_id(ident, item.field("id"))
        model = item.get_obj("model")
        model_id = model.get_str("id")
        if not model_id:
            raise invalid(model.field("id"), f"node '{ident}' needs a model id")
        version = model.get_obj("model_version").get_str("id")
        model_user = model.get_str("user_id")
        model_app = model.get_str("app_id")
        if model_user in ("me", call.user_id):
            model_user = call.owner_id
        local = (model_user or call.owner_id, model_app or app.id) == (call.owner_id, app.id)
        inputs: list[str] = []
        for source in item.get_objs("node_inputs"):
            node_id = source.get_str("node_id")
            if not node_id:
                raise invalid(source.field("node_id"), "required (the id of the feeding node)")
            inputs.append(node_id)
        node: dict[str, Any] = {
            "id": ident,
            "model_id": model_id,
            "model_version_id": version,
            "node_inputs": inputs,
            "suppress_output": item.get_bool("suppress_output"),
        }
        if not local:
            node["model_user_id"] = model_user or call.owner_id
            node["model_app_id"] = model_app or app.id
        nodes.append(node)
    return nodes


async def _types(call: Call, app: AppRow, rows: list[WorkflowRow]) -> dict[str, str]:
    nodes = [n for r in rows for n in r.nodes]
    models = await call.db(call.backend.automation.models.node_models, app.pk, nodes)
    return {k: m.model_type_id for k, m in models.items()}


async def _answer(call: Call, app: AppRow, rows: list[WorkflowRow]) -> list[dict[str, Any]]:
    types = await _types(call, app, rows)
    return [workflow_json(r, types, app.id, call.owner_id) for r in rows]


async def post_workflows(call: Call) -> dict[str, Any]:
    app = await call.app()
    body = await call.body()
    items = body.get_objs("workflows")
    batch(items, body.field("workflows"))
    new: list[tuple[str, str, list[dict[str, Any]], dict[str, Any] | None]] = []
    for item in items:
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the workflow id)")
        valid_id(ident, item.field("id"))
        nodes = _nodes(item, call, app)
        described = text_field(item, "description", description=True)
        new.append((ident, described, nodes, item.get_struct("metadata")))
    auto = call.backend.automation
    rows = await call.db(
        auto.models.create_workflows, app.pk, new, lambda nodes: auto.check_workflow(app.pk, nodes)
    )
    return {"workflows": await _answer(call, app, rows)}


async def list_workflows(call: Call) -> dict[str, Any]:
    app = await call.app()
    limit, offset = paging(call.query)
    rows = await call.db(call.backend.automation.models.list_workflows, app.pk, limit, offset)
    return {"workflows": await _answer(call, app, rows)}


async def _workflow(call: Call, app: AppRow, workflow_id: str) -> WorkflowRow:
    row = await call.db(call.backend.automation.models.get_workflow, app.pk, workflow_id)
    if row is None:
        raise workflow_missing(workflow_id)
    return row


async def get_workflow(call: Call) -> dict[str, Any]:
    app = await call.app()
    row = await _workflow(call, app, call.path("workflow_id"))
    return {"workflow": (await _answer(call, app, [row]))[0]}


async def patch_workflows(call: Call) -> dict[str, Any]:
    """``overwrite`` (default) replaces the nodes (and description) sent; ``merge`` replaces
    nodes with the same id and appends new ones; ``remove`` deletes the nodes sent (by id).
    The resulting graph is validated like a new one."""
    app = await call.app()
    body = await call.body()
    items = body.get_objs("workflows")
    batch(items, body.field("workflows"))
    action = body.get_action(default="overwrite")
    patches: dict[str, Obj] = {}
    for item in items:
        ident = item.get_str("id")
        if not ident:
            raise invalid(item.field("id"), "required (the workflow to patch)")
        patches[ident] = item

    def change(current: WorkflowRow) -> WorkflowRow:
        item = patches[current.id]
        nodes = current.nodes
        if item.raw("nodes") is not None:
            sent = _nodes(item, call, app)
            if action == "overwrite":
                nodes = sent
            elif action == "remove":
                gone = {n["id"] for n in sent}
                nodes = [n for n in current.nodes if n["id"] not in gone]
            else:
                by_id = {n["id"]: n for n in current.nodes}
                for node in sent:
                    by_id[node["id"]] = node
                nodes = list(by_id.values())
        description = current.description
        if item.has("description"):
            described = text_field(item, "description", description=True)
            description = "" if action == "remove" else described
        metadata = current.metadata
        if item.has("metadata"):
            metadata = None if action == "remove" else item.get_struct("metadata")
        return replace(current, nodes=nodes, description=description, metadata=metadata)

    auto = call.backend.automation
    rows = await call.db(
        auto.models.patch_workflows,
        app.pk,
        list(patches),
        change,
        lambda nodes: auto.check_workflow(app.pk, nodes),
    )
    return {"workflows": await _answer(call, app, rows)}


async def delete_workflow(call: Call) -> dict[str, Any]:
    app = await call.app()
    await call.db(call.backend.automation.models.delete_workflow, app.pk, call.path("workflow_id"))
    return {}


async def post_workflow_results(call: Call) -> dict[str, Any]:
    """Dry run: nothing is written (no annotation, no input, no embedding)."""
    app = await call.app()
    workflow_id = call.path("workflow_id")
    row = await _workflow(call, app, workflow_id)
    version_id = call.request.path_params.get("version_id")
    if version_id:
        raise invalid(
            "version_id",
            "workflow versions are not kept by the embedded backend; run "
            f"POST .../workflows/{workflow_id}/results (the workflow as it is now)",
        )
    body = await call.body()
    sources = await load_sources(
        call, app, body, limit=MAX_WORKFLOW_INPUTS, why=" (PostWorkflowResults, as on the platform)"
    )
    auto = call.backend.automation
    runs = await asyncio.to_thread(auto.run_workflow, app.pk, row.nodes, sources)
    now = timestamp(time.time())
    types = await _types(call, app, [row])
    stored = {str(n["id"]): n for n in row.nodes}
    results: list[dict[str, Any]] = []
    failed = 0
    for source, outputs in zip(sources, runs, strict=True):
        if outputs is None:
            failed += 1
            results.append(
                {
                    "id": new_id(),
                    "created_at": now,
                    "input": source.echo,
                    "status": status_json(source.error_code, source.error),
                    "outputs": [],
                }
            )
            continue
        shown = []
        for out in outputs:
            if out.suppress_output:
                continue
            node = stored.get(out.node_id, {})
            model: dict[str, Any] = {
                "id": out.model_id,
                "model_type_id": types.get(node_key(node) if node else out.model_id)
                or out.model_type_id,
                "app_id": node.get("model_app_id") or app.id,
                "user_id": node.get("model_user_id") or call.owner_id,
            }
            if out.model_version_id:
                model["model_version"] = {"id": out.model_version_id}
            shown.append(
                {
                    "id": new_id(),
                    "created_at": now,
                    "model": model,
                    "status": status_json(out.status_code, out.status_description),
                    "data": out.data_dict(),
                }
            )
        bad = next((o for o in outputs if not o.ok), None)
        if bad is None:
            status = status_json(SUCCESS)
        else:
            failed += 1
            status = status_json(
                FAILURE,
                f"node '{bad.node_id}' failed ({bad.status_code}): {bad.status_description}",
            )
        results.append(
            {
                "id": new_id(),
                "created_at": now,
                "input": source.echo,
                "status": status,
                "outputs": shown,
            }
        )
    if failed == 0:
        top = status_json(SUCCESS)
    elif failed == len(results):
        top = status_json(FAILURE, "the workflow failed on every input: see each result")
    else:
        top = status_json(MIXED_STATUS, f"the workflow failed on {failed} of {len(results)} inputs")
    return {
        "status": top,
        "workflow": workflow_json(row, types, app.id, call.owner_id),
        "results": results,
    }


async def concept_counts(call: Call) -> dict[str, Any]:
    """GetConceptCounts: positive/negative SUCCESS annotations per concept (all concepts)."""
    app = await call.app()
    limit, offset = paging(call.query)
    rows = await call.db(call.backend.automation.models.concept_counts, app.pk, limit, offset)
    return {
        "concept_counts": [
            {
                "id": ident,
                "name": name,
                "concept_type_count": {"positive": positive, "negative": negative},
            }
            for ident, name, positive, negative in rows
        ]
    }


ROUTES = [
    RouteSpec(
        "POST", "/apps/{app_id}/workflows", "PostWorkflows", post_workflows, changes_workflows=True
    ),
    RouteSpec("GET", "/apps/{app_id}/workflows", "ListWorkflows", list_workflows),
    RouteSpec(
        "PATCH",
        "/apps/{app_id}/workflows",
        "PatchWorkflows",
        patch_workflows,
        changes_workflows=True,
    ),
    RouteSpec("GET", "/apps/{app_id}/workflows/{workflow_id}", "GetWorkflow", get_workflow),
    RouteSpec(
        "DELETE",
        "/apps/{app_id}/workflows/{workflow_id}",
        "DeleteWorkflow",
        delete_workflow,
        changes_workflows=True,
    ),
    RouteSpec(
        "POST",
        "/apps/{app_id}/workflows/{workflow_id}/results",
        "PostWorkflowResults",
        post_workflow_results,
    ),
    RouteSpec(
        "POST",
        "/apps/{app_id}/workflows/{workflow_id}/versions/{version_id}/results",
        "PostWorkflowVersionResults",
        post_workflow_results,
    ),
]

#: Mounted before the concepts routes (``/concepts/status`` vs ``/concepts/{concept_id}``).
COUNT_ROUTES = [
    RouteSpec("GET", "/apps/{app_id}/concepts/status", "GetConceptCounts", concept_counts),
]
