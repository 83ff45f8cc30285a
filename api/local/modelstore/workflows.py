"""Workflows: create, read, list, change and delete them (each keeps the models it uses
linked, so a used model cannot be deleted), and an app's default workflow."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from api.local.modelstore.core import (
    _WORKFLOW_COLUMNS,
    ModelStoreCore,
    _workflow,
    node_model_ids,
    workflow_missing,
)
from api.local.rows import WorkflowRow
from api.local.status import CONN_INVALID_REQUEST, ApiFailure
from api.local.store import _dump, _marks


class WorkflowRows(ModelStoreCore):
    """Workflows of an app and its default workflow."""

    def _link_models(
        self, conn: sqlite3.Connection, app_pk: int, workflow_pk: int, nodes: list[dict[str, Any]]
    ) -> None:
        conn.execute("DELETE FROM workflow_models WHERE workflow_pk = ?", (workflow_pk,))
        ids = node_model_ids(nodes)
        conn.execute(
            "INSERT OR IGNORE INTO workflow_models (workflow_pk, model_pk) "
            f"SELECT ?, pk FROM models WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
            (workflow_pk, app_pk, *ids),
        )

    def create_workflows(
        self,
        app_pk: int,
        items: Sequence[tuple[str, str, list[dict[str, Any]], dict[str, Any] | None]],
        check: Callable[[list[dict[str, Any]]], None],
    ) -> list[WorkflowRow]:
        """Insert ``(id, description, nodes, metadata)`` items, all or nothing; ``check`` runs
        on each graph inside the transaction (it sees the models as they are now)."""
        now = time.time()
        out: list[WorkflowRow] = []
        with self.store.write() as conn:
            for workflow_id, description, nodes, metadata in items:
                if self._workflow_row(conn, app_pk, workflow_id) is not None:
                    raise ApiFailure(
                        CONN_INVALID_REQUEST,
                        f"workflow '{workflow_id}' already exists in this app; pick another id "
                        "or change it with PatchWorkflows",
                    )
                check(nodes)
                cur = conn.execute(
                    "INSERT INTO workflows (app_pk, id, description, nodes, metadata, created_at, "
                    "modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        app_pk,
                        workflow_id,
                        description,
                        json.dumps(nodes),
                        _dump(metadata),
                        now,
                        now,
                    ),
                )
                pk = int(cur.lastrowid or 0)
                self._link_models(conn, app_pk, pk, nodes)
                found = self._workflow_row(conn, app_pk, workflow_id)
                assert found is not None
                out.append(found)
        return out

    def get_workflow(self, app_pk: int, workflow_id: str) -> WorkflowRow | None:
        with self.store.read() as conn:
            return self._workflow_row(conn, app_pk, workflow_id)

    def list_workflows(self, app_pk: int, limit: int, offset: int) -> list[WorkflowRow]:
        rows = (
            self.store._conn()
            .execute(
                f"SELECT {_WORKFLOW_COLUMNS} FROM workflows WHERE app_pk = ? "
                "ORDER BY pk DESC LIMIT ? OFFSET ?",
                (app_pk, limit, offset),
            )
            .fetchall()
        )
        return [_workflow(r) for r in rows]

    def patch_workflows(
        self,
        app_pk: int,
        ids: Sequence[str],
        change: Callable[[WorkflowRow], WorkflowRow],
        check: Callable[[list[dict[str, Any]]], None],
    ) -> list[WorkflowRow]:
        now = time.time()
        out: list[WorkflowRow] = []
        with self.store.write() as conn:
            for workflow_id in ids:
                current = self._workflow_row(conn, app_pk, workflow_id)
                if current is None:
                    raise workflow_missing(workflow_id)
                updated = change(current)
                check(updated.nodes)
                conn.execute(
                    "UPDATE workflows SET description = ?, nodes = ?, metadata = ?, "
                    "modified_at = ? WHERE pk = ?",
                    (
                        updated.description,
                        json.dumps(updated.nodes),
                        _dump(updated.metadata),
                        now,
                        current.pk,
                    ),
                )
                self._link_models(conn, app_pk, current.pk, updated.nodes)
                updated.modified_at = now
                out.append(updated)
        return out

    def delete_workflow(self, app_pk: int, workflow_id: str) -> None:
        """Delete a workflow; refused while it is its app's default workflow."""
        with self.store.write() as conn:
            found = self._workflow_row(conn, app_pk, workflow_id)
            if found is None:
                raise workflow_missing(workflow_id)
            row = conn.execute(
                "SELECT id, default_workflow_id FROM apps WHERE pk = ?", (app_pk,)
            ).fetchone()
            if row is not None and row[1] == workflow_id:
                raise ApiFailure(
                    CONN_INVALID_REQUEST,
                    f"workflow '{workflow_id}' is the default workflow of app '{row[0]}': clear "
                    "or change the default first (PatchApps with default_workflow_id)",
                )
            conn.execute("DELETE FROM workflows WHERE pk = ?", (found.pk,))

    def default_workflow_id(self, app_pk: int) -> str:
        """The app's stored default workflow reference (``clarifai/main/Empty`` for a base
        workflow of the public app), or ""."""
        with self.store.read() as conn:
            found = conn.execute(
                "SELECT default_workflow_id FROM apps WHERE pk = ?", (app_pk,)
            ).fetchone()
        return str(found[0]) if found is not None and found[0] else ""

    def default_workflow(self, app_pk: int) -> WorkflowRow | None:
        """The app's default workflow, or None (no default, or it names no workflow)."""
        with self.store.read() as conn:
            row = conn.execute("SELECT default_workflow_id FROM apps WHERE pk = ?", (app_pk,))
            found = row.fetchone()
            if found is None or not found[0]:
                return None
            return self._workflow_row(conn, app_pk, str(found[0]))
