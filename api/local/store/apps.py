"""Apps and their concepts."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from api.local.rows import AppPatch, AppRow, ConceptRow, ConceptValue
from api.local.sql import _chunks, _marks
from api.local.status import CONCEPTS_INVALID_REQUEST, CONN_INVALID_REQUEST, ApiFailure, not_found
from api.local.store.core import StoreCore

_APP_COLUMNS = (
    "pk, id, user_id, name, description, default_workflow_id, created_at, modified_at, sample_ms"
)


class AppStore(StoreCore):
    """App and concept methods of :class:`api.local.store.Store`."""

    @staticmethod
    def _app(row: Sequence[Any]) -> AppRow:
        return AppRow(*row)

    def create_apps(self, user_id: str, apps: Sequence[AppPatch]) -> list[AppRow]:
        now = time.time()
        with self.write() as conn:
            for app in apps:
                exists = conn.execute(
                    "SELECT 1 FROM apps WHERE user_id = ? AND id = ?", (user_id, app.id)
                ).fetchone()
                if exists:
                    raise ApiFailure(
                        CONN_INVALID_REQUEST,
                        f"app '{app.id}' already exists; pick another id or use PatchApps",
                    )
                conn.execute(
                    "INSERT INTO apps (user_id, id, name, description, default_workflow_id, "
                    "created_at, modified_at, sample_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user_id,
                        app.id,
                        app.name or app.id,
                        app.description or "",
                        app.default_workflow_id or "",
                        now,
                        now,
                        app.sample_ms or 0,
                    ),
                )
            ids = [a.id for a in apps]
            rows = conn.execute(
                f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? AND id IN ({_marks(len(ids))})",
                (user_id, *ids),
            ).fetchall()
        by_id = {r.id: r for r in map(self._app, rows)}
        return [by_id[i] for i in ids]

    def get_app(self, user_id: str, app_id: str) -> AppRow | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? AND id = ?", (user_id, app_id)
            )
            .fetchone()
        )
        return None if row is None else self._app(row)

    def list_apps(self, user_id: str, limit: int, offset: int) -> list[AppRow]:
        rows = (
            self._conn()
            .execute(
                f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? "
                "ORDER BY pk DESC LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            )
            .fetchall()
        )
        return [self._app(r) for r in rows]

    def patch_apps(self, user_id: str, patches: Sequence[AppPatch], action: str) -> list[AppRow]:
        now = time.time()
        out: list[AppRow] = []
        with self.write() as conn:
            for patch in patches:
                row = conn.execute(
                    f"SELECT {_APP_COLUMNS} FROM apps WHERE user_id = ? AND id = ?",
                    (user_id, patch.id),
                ).fetchone()
                if row is None:
                    raise not_found("app", patch.id, "Create it with PostApps first.")
                app = self._app(row)
                if action == "remove":
                    if patch.default_workflow_id is not None:
                        # An app always has a default workflow: back to the base workflow.
                        app.default_workflow_id = "clarifai/main/Universal"
                    if patch.description is not None:
                        app.description = ""
                    if patch.sample_ms is not None:
                        app.sample_ms = 0
                else:
                    if patch.name:
                        app.name = patch.name
                    if patch.description is not None:
                        app.description = patch.description
                    if patch.default_workflow_id is not None:
                        app.default_workflow_id = patch.default_workflow_id
                    if patch.sample_ms is not None:
                        app.sample_ms = patch.sample_ms
                app.modified_at = now
                conn.execute(
                    "UPDATE apps SET name = ?, description = ?, default_workflow_id = ?, "
                    "sample_ms = ?, modified_at = ? WHERE pk = ?",
                    (
                        app.name,
                        app.description,
                        app.default_workflow_id,
                        app.sample_ms,
                        now,
                        app.pk,
                    ),
                )
                out.append(app)
        return out

    # -- concepts ------------------------------------------------------------------------------

    @staticmethod
    def _ensure_concepts(
        conn: sqlite3.Connection, app_pk: int, concepts: Iterable[ConceptValue], now: float
    ) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO concepts (app_pk, id, name, created_at, modified_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(app_pk, c.id, c.name or c.id, now, now) for c in concepts],
        )

    def add_concepts(self, app_pk: int, concepts: Sequence[ConceptValue]) -> list[ConceptRow]:
        now = time.time()
        ids = [c.id for c in concepts]
        with self.write() as conn:
            taken = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM concepts WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            ]
            if taken:
                raise ApiFailure(
                    CONCEPTS_INVALID_REQUEST,
                    f"concept ids already exist: {', '.join(sorted(taken))}; "
                    "use PatchConcepts to rename them",
                )
            conn.executemany(
                "INSERT INTO concepts (app_pk, id, name, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(app_pk, c.id, c.name or c.id, now, now) for c in concepts],
            )
        return self.get_concepts(app_pk, ids)

    def get_concepts(self, app_pk: int, ids: Sequence[str]) -> list[ConceptRow]:
        conn = self._conn()
        by_id: dict[str, ConceptRow] = {}
        for chunk in _chunks(list(ids)):
            for row in conn.execute(
                "SELECT pk, id, name, created_at, modified_at FROM concepts "
                f"WHERE app_pk = ? AND id IN ({_marks(len(chunk))})",
                (app_pk, *chunk),
            ):
                by_id[row[1]] = ConceptRow(*row)
        return [by_id[i] for i in ids if i in by_id]

    def concept_ids_named(self, app_pk: int, names: Sequence[str]) -> dict[str, list[str]]:
        """The ids of the app's concepts with each of ``names`` (a search may name concepts)."""
        found: dict[str, list[str]] = {name: [] for name in names}
        conn = self._conn()
        for chunk in _chunks(list(found)):
            for ident, name in conn.execute(
                "SELECT id, name FROM concepts "
                f"WHERE app_pk = ? AND name IN ({_marks(len(chunk))})",
                (app_pk, *chunk),
            ):
                found[name].append(ident)
        return found

    def list_concepts(self, app_pk: int, limit: int, offset: int) -> list[ConceptRow]:
        rows = (
            self._conn()
            .execute(
                "SELECT pk, id, name, created_at, modified_at FROM concepts WHERE app_pk = ? "
                "ORDER BY pk DESC LIMIT ? OFFSET ?",
                (app_pk, limit, offset),
            )
            .fetchall()
        )
        return [ConceptRow(*r) for r in rows]

    def patch_concepts(
        self, app_pk: int, concepts: Sequence[ConceptValue], action: str
    ) -> list[ConceptRow]:
        now = time.time()
        ids = [c.id for c in concepts]
        with self.write() as conn:
            existing = {
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM concepts WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            }
            missing = [i for i in ids if i not in existing]
            if missing and action != "overwrite":
                raise not_found("concept", ", ".join(missing), "Create it with PostConcepts first.")
            self._ensure_concepts(conn, app_pk, concepts, now)
            conn.executemany(
                "UPDATE concepts SET name = ?, modified_at = ? WHERE app_pk = ? AND id = ?",
                [(c.name or c.id, now, app_pk, c.id) for c in concepts],
            )
        return self.get_concepts(app_pk, ids)
