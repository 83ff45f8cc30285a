"""Migration 7 (issue #32): a data dir from before model versions held the configuration.

Before, PostModels gave a thresholder or writer a ready version with its configuration at
creation, PatchModels then changed the *model's* ``output_info`` in place (no new version), and
workflow nodes could pin no version (the engine ran the latest). After the migration each such
model has a version with the configuration it ran with, and every node pins the version it ran.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from api.local.migrations import MIGRATIONS, migrate
from api.local.modelstore import ModelStore
from api.local.public import EMBEDDER_MODEL, EMBEDDER_VERSION
from api.local.store import Store

THEN = {"data": {"concepts": [{"id": "cat", "name": "cat", "value": 0.8}]}}
NOW = {
    "data": {"concepts": [{"id": "cat", "name": "cat", "value": 0.3}]},
    "params": {"concept_threshold_type": "GREATER_THAN"},
}
WRITER = {"params": {"annotation_status": 24150, "annotation_user_id": "bot"}}


def _model(conn: sqlite3.Connection, pk: int, ident: str, type_id: str, info: object) -> None:
    conn.execute(
        "INSERT INTO models (pk, app_pk, id, model_type_id, output_info, created_at, "
        "modified_at) VALUES (?, 100, ?, ?, ?, 0, 0)",
        (pk, ident, type_id, json.dumps(info)),
    )


def _version(
    conn: sqlite3.Connection, model_pk: int, ident: str, code: int, info: object, at: float
) -> None:
    conn.execute(
        "INSERT INTO model_versions (model_pk, id, status_code, output_info, created_at, "
        "modified_at) VALUES (?, ?, ?, ?, ?, ?)",
        (model_pk, ident, code, json.dumps(info), at, at),
    )


def test_old_configurations_become_versions_and_nodes_pin_them(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "clarifai-tui.sqlite3", isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    assert migrate(conn, MIGRATIONS[:6]) == 6
    conn.execute(
        "INSERT INTO apps (pk, user_id, id, created_at, modified_at) VALUES (100, 'me', 'a', 0, 0)"
    )
    _model(conn, 1001, "thr", "concept-thresholder", NOW)  # patched after its version
    _version(conn, 1001, "thr-v1", 21100, THEN, 1)
    _model(conn, 1002, "w", "annotation-writer", WRITER)  # unchanged since its version
    _version(conn, 1002, "w-v1", 21100, WRITER, 1)
    _model(conn, 1003, "clf", "embedding-classifier", {})
    _version(conn, 1003, "clf-ok", 21100, {}, 1)
    _version(conn, 1003, "clf-failed", 21106, {}, 2)  # newer, but it never ran
    nodes = [
        {"id": "embed", "model_id": EMBEDDER_MODEL, "model_version_id": EMBEDDER_VERSION,
         "model_user_id": "clarifai", "model_app_id": "main", "node_inputs": []},
        {"id": "c", "model_id": "clf", "model_version_id": "", "node_inputs": ["embed"]},
        {"id": "t", "model_id": "thr", "model_version_id": "", "node_inputs": ["c"]},
        {"id": "w", "model_id": "w", "model_version_id": "", "node_inputs": ["t"]},
    ]  # fmt: skip
    conn.execute(
        "INSERT INTO workflows (app_pk, id, nodes, created_at, modified_at) "
        "VALUES (100, 'wf', ?, 0, 0)",
        (json.dumps(nodes),),
    )
    conn.close()

    store = Store(tmp_path)
    store.open()
    try:
        assert store.schema_version == len(MIGRATIONS)
        models = ModelStore(store)
        thr = models.get_model(100, "thr")
        assert thr is not None and thr.latest is not None
        versions = models.list_versions(thr.pk, 10, 0)
        assert [v.id for v in versions][1:] == ["thr-v1"]  # kept, with a new one on top
        assert thr.latest.status_code == 21100 and thr.latest.output_info == NOW
        writer = models.get_model(100, "w")
        assert writer is not None
        assert [v.id for v in models.list_versions(writer.pk, 10, 0)] == ["w-v1"]
        workflow = models.get_workflow(100, "wf")
        assert workflow is not None
        pinned = {n["id"]: n["model_version_id"] for n in workflow.nodes}
        assert pinned == {
            "embed": EMBEDDER_VERSION,
            "c": "clf-ok",
            "t": thr.latest.id,
            "w": "w-v1",
        }
    finally:
        store.close()
