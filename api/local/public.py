"""The built-in, read-only public app ``clarifai/main``, as on the platform.

On Clarifai every app is created on a public base workflow of user ``clarifai``, app ``main``
(``Universal``, ``General``, ``Empty``...), its inputs are indexed by that workflow's embedding
model, and a workflow reaches that embedder as a model of another app (``model.user_id`` /
``model.app_id``). The embedded backend holds the same shape: app ``main`` of user
``clarifai`` with

- model ``general-image-embedding`` (``visual-embedder``: the offline embedder), whose one
  version id never changes (``EMBEDDER_VERSION``);
- base workflows ``Universal`` (that embedder alone) and ``Empty`` (no nodes).

Any valid key may read it (GetModel, ListModels, ListModelVersions, GetWorkflow, ListWorkflows,
PostModelOutputs, PostWorkflowResults); every write is refused (``readonly_refusal``). It is
written by migration 5 of the database, so old data dirs get it too.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Final

from api.local.status import CONN_INSUFFICIENT_SCOPES, ApiFailure

PUBLIC_USER: Final = "clarifai"
PUBLIC_APP: Final = "main"
EMBEDDER_MODEL: Final = "general-image-embedding"
#: Our own id, fixed: the platform's general-image-embedding has its own version ids (the
#: adapter reads the version with GetModel on clarifai/main instead of assuming one).
EMBEDDER_VERSION: Final = "0b5e3c1a7d2f4e6a9c8b1d0e2f3a4b5c"
UNIVERSAL: Final = "Universal"
EMPTY: Final = "Empty"
BASE_WORKFLOWS: Final = (UNIVERSAL, EMPTY)
#: Calls that read, though they are POSTs (a prediction or a search writes nothing).
READ_CALLS: Final = frozenset(
    {
        "PostModelOutputs",
        "PostModelOutputsVersion",
        "PostWorkflowResults",
        "PostWorkflowResultsVersion",
        "PostInputsSearches",
        "PostAnnotationsSearches",
    }
)


def is_public(user_id: str, app_id: str) -> bool:
    return user_id == PUBLIC_USER and app_id == PUBLIC_APP


def base_workflow_ref(workflow_id: str) -> str:
    """How an app stores a base workflow of clarifai/main as its default
    (``clarifai/main/Universal``): slashes cannot be in an app's own workflow ids, so the
    two never mix."""
    return f"{PUBLIC_USER}/{PUBLIC_APP}/{workflow_id}"


def readonly_refusal(call_name: str) -> ApiFailure:
    return ApiFailure(
        CONN_INSUFFICIENT_SCOPES,
        f"{PUBLIC_USER}/{PUBLIC_APP} is Clarifai's public app: it can be read, not changed "
        f"({call_name} refused); create your own app and use its models from there",
    )


def embedder_node(node_id: str = "embed") -> dict[str, str]:
    """A stored workflow node that uses the public embedder (its owner named)."""
    return {
        "id": node_id,
        "model_id": EMBEDDER_MODEL,
        "model_version_id": EMBEDDER_VERSION,
        "model_user_id": PUBLIC_USER,
        "model_app_id": PUBLIC_APP,
    }


def create(conn: sqlite3.Connection) -> None:
    """Migration 5: the public app, its embedder and base workflows (idempotent)."""
    from api.local.nodes.embedder import DEFAULT_EMBEDDER

    now = 0.0  # built in: no real creation time
    conn.execute(
        "INSERT OR IGNORE INTO apps (user_id, id, name, description, default_workflow_id, "
        "created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            PUBLIC_USER,
            PUBLIC_APP,
            "Clarifai Main",
            "Public models and base workflows (built in, read-only)",
            UNIVERSAL,
            now,
            now,
        ),
    )
    (app_pk,) = conn.execute(
        "SELECT pk FROM apps WHERE user_id = ? AND id = ?", (PUBLIC_USER, PUBLIC_APP)
    ).fetchone()
    info = json.dumps({"params": {"embedder_id": DEFAULT_EMBEDDER}})
    conn.execute(
        "INSERT OR IGNORE INTO models (app_pk, id, name, description, model_type_id, "
        "output_info, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            app_pk,
            EMBEDDER_MODEL,
            "general-image-embedding",
            "Image embeddings (offline, deterministic handcrafted features)",
            "visual-embedder",
            info,
            now,
            now,
        ),
    )
    (model_pk,) = conn.execute(
        "SELECT pk FROM models WHERE app_pk = ? AND id = ?", (app_pk, EMBEDDER_MODEL)
    ).fetchone()
    conn.execute(
        "INSERT OR IGNORE INTO model_versions (model_pk, id, status_code, status_description, "
        "output_info, created_at, modified_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (model_pk, EMBEDDER_VERSION, 21100, "Model is trained and ready", "{}", now, now, now),
    )
    workflows = {UNIVERSAL: [embedder_node("general-image-embedding")], EMPTY: []}
    for workflow_id, nodes in workflows.items():
        conn.execute(
            "INSERT OR IGNORE INTO workflows (app_pk, id, description, nodes, metadata, "
            "created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                app_pk,
                workflow_id,
                f"base workflow {workflow_id}",
                json.dumps(nodes),
                None,
                now,
                now,
            ),
        )
    (universal_pk,) = conn.execute(
        "SELECT pk FROM workflows WHERE app_pk = ? AND id = ?", (app_pk, UNIVERSAL)
    ).fetchone()
    conn.execute(
        "INSERT OR IGNORE INTO workflow_models (workflow_pk, model_pk) VALUES (?, ?)",
        (universal_pk, model_pk),
    )
