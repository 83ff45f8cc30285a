"""Storage for models, model versions, workflows and embeddings (schema version 2).

Same rules as :mod:`api.local.store`: synchronous methods, callable from any thread, writes
serialised through ``Store.write()``. Model versions whose status is 21103 (queued) or 21101
(training) are the durable training queue: :meth:`ModelStore.training_jobs` lists them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from api.local.rows import (
    ConceptValue,
    EmbeddingRow,
    ModelRow,
    NewModel,
    TrainingJob,
    VersionRow,
    WorkflowRow,
)
from api.local.status import (
    ANNOTATION_SUCCESS,
    CONN_INVALID_REQUEST,
    INPUT_SUCCESS,
    ApiFailure,
)
from api.local.store import Store, _dump, _json_or_none, _marks, new_id

MODEL_TRAINED = 21100
MODEL_TRAINING = 21101
MODEL_UNTRAINED = 21102
MODEL_QUEUED = 21103
MODEL_TRAINING_FAILED = 21106
MODEL_DOES_NOT_EXIST = 21200
WORKFLOW_DOES_NOT_EXIST = 22102

_MODEL_COLUMNS = (
    "pk, app_pk, id, name, description, model_type_id, output_info, created_at, modified_at"
)
_VERSION_COLUMNS = (
    "pk, model_pk, id, description, status_code, status_description, train_params, "
    "output_info, training_info, total_input_count, active_concept_count, created_at, "
    "modified_at, completed_at"
)
_WORKFLOW_COLUMNS = "pk, app_pk, id, description, nodes, metadata, created_at, modified_at"


def model_missing(model_id: str) -> ApiFailure:
    return ApiFailure(
        MODEL_DOES_NOT_EXIST,
        f"model '{model_id}' does not exist in this app; create it with PostModels",
    )


def version_missing(model_id: str, version_id: str) -> ApiFailure:
    return ApiFailure(
        MODEL_DOES_NOT_EXIST,
        f"model '{model_id}' has no version '{version_id}'; list them with ListModelVersions",
    )


def workflow_missing(workflow_id: str) -> ApiFailure:
    return ApiFailure(
        WORKFLOW_DOES_NOT_EXIST,
        f"workflow '{workflow_id}' does not exist in this app; create it with PostWorkflows",
    )


def _model(row: Sequence[Any]) -> ModelRow:
    values = list(row)
    values[6] = json.loads(values[6]) if values[6] else {}
    return ModelRow(*values)


def _version(row: Sequence[Any]) -> VersionRow:
    values = list(row)
    values[6] = _json_or_none(values[6])
    values[7] = json.loads(values[7]) if values[7] else {}
    values[8] = _json_or_none(values[8])
    return VersionRow(*values)


def _workflow(row: Sequence[Any]) -> WorkflowRow:
    values = list(row)
    nodes = json.loads(values[4]) if values[4] else []
    values[4] = nodes if isinstance(nodes, list) else []
    values[5] = _json_or_none(values[5])
    return WorkflowRow(*values)


def node_owner(node: Mapping[str, Any]) -> tuple[str, str]:
    """``(user_id, app_id)`` of the app a stored node's model lives in; ("", "") for this app."""
    return str(node.get("model_user_id", "")), str(node.get("model_app_id", ""))


def node_key(node: Mapping[str, Any]) -> str:
    """How a stored node's model is looked up: its id in this app, ``user/app/id`` elsewhere."""
    user, app = node_owner(node)
    model_id = str(node.get("model_id", ""))
    return f"{user}/{app}/{model_id}" if user or app else model_id


def node_model_ids(nodes: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of the models of this app that ``nodes`` use (not those of other apps)."""
    return list(
        dict.fromkeys(str(n.get("model_id", "")) for n in nodes if node_owner(n) == ("", ""))
    )


class ModelStore:
    """Models, versions, workflows and embeddings on top of a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- models --------------------------------------------------------------------------------

    @staticmethod
    def _latest(conn: sqlite3.Connection, model_pk: int) -> VersionRow | None:
        row = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model_pk = ? "
            "ORDER BY pk DESC LIMIT 1",
            (model_pk,),
        ).fetchone()
        return None if row is None else _version(row)

    def _attach_latest(self, conn: sqlite3.Connection, models: list[ModelRow]) -> None:
        for model in models:
            model.latest = self._latest(conn, model.pk)

    def _model_row(self, conn: sqlite3.Connection, app_pk: int, model_id: str) -> ModelRow | None:
        row = conn.execute(
            f"SELECT {_MODEL_COLUMNS} FROM models WHERE app_pk = ? AND id = ?", (app_pk, model_id)
        ).fetchone()
        return None if row is None else _model(row)

    def create_model(
        self, app_pk: int, new: NewModel, concepts: Sequence[ConceptValue]
    ) -> ModelRow:
        """Insert a model and no version (its concepts are created in the app if missing): as
        on the platform since 2023, PostModelVersions makes every version."""
        now = time.time()
        with self.store.write() as conn:
            if self._model_row(conn, app_pk, new.id) is not None:
                raise ApiFailure(
                    CONN_INVALID_REQUEST,
                    f"model '{new.id}' already exists in this app; pick another id, or make a "
                    "new version of it with PostModelVersions",
                )
            Store._ensure_concepts(conn, app_pk, concepts, now)
            conn.execute(
                "INSERT INTO models (app_pk, id, name, description, model_type_id, output_info, "
                "created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    app_pk,
                    new.id,
                    new.name or new.id,
                    new.description,
                    new.model_type_id,
                    json.dumps(new.output_info),
                    now,
                    now,
                ),
            )
            found = self._model_row(conn, app_pk, new.id)
            assert found is not None
            self._attach_latest(conn, [found])
        return found

    def get_model(self, app_pk: int, model_id: str) -> ModelRow | None:
        with self.store.read() as conn:
            found = self._model_row(conn, app_pk, model_id)
            if found is not None:
                self._attach_latest(conn, [found])
        return found

    def models_by_ids(self, app_pk: int, ids: Sequence[str]) -> dict[str, ModelRow]:
        if not ids:
            return {}
        with self.store.read() as conn:
            rows = [
                _model(r)
                for r in conn.execute(
                    f"SELECT {_MODEL_COLUMNS} FROM models "
                    f"WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            ]
        return {r.id: r for r in rows}

    def public_app_pk(self) -> int:
        from api.local.public import PUBLIC_APP, PUBLIC_USER

        app = self.store.get_app(PUBLIC_USER, PUBLIC_APP)
        assert app is not None, "migration 5 writes the public app"
        return app.pk

    def node_models(self, app_pk: int, nodes: Sequence[Mapping[str, Any]]) -> dict[str, ModelRow]:
        """The models ``nodes`` use, by ``node_key``: this app's, and clarifai/main's (named
        with an owner, or by id alone when this app has no model of that id, as the API
        walkthrough's older workflows name public models). A node whose model is not found
        is left out (the caller says which node)."""
        from api.local.public import is_public

        local = self.models_by_ids(app_pk, node_model_ids(nodes))
        wanted = [
            str(n.get("model_id", ""))
            for n in nodes
            if is_public(*node_owner(n))
            or (node_owner(n) == ("", "") and str(n.get("model_id", "")) not in local)
        ]
        public = self.models_by_ids(self.public_app_pk(), wanted) if wanted else {}
        out: dict[str, ModelRow] = {}
        for node in nodes:
            model_id, owner = str(node.get("model_id", "")), node_owner(node)
            if owner == ("", ""):
                found = local.get(model_id) or public.get(model_id)
            elif is_public(*owner):
                found = public.get(model_id)
            else:
                found = None
            if found is not None:
                out[node_key(node)] = found
        return out

    def list_models(
        self, app_pk: int, limit: int, offset: int, type_ids: Sequence[str] = ()
    ) -> list[ModelRow]:
        where, params = "app_pk = ?", list[Any]([app_pk])
        if type_ids:
            where += f" AND model_type_id IN ({_marks(len(type_ids))})"
            params.extend(type_ids)
        with self.store.read() as conn:
            rows = [
                _model(r)
                for r in conn.execute(
                    f"SELECT {_MODEL_COLUMNS} FROM models WHERE {where} "
                    "ORDER BY pk DESC LIMIT ? OFFSET ?",
                    (*params, limit, offset),
                )
            ]
            self._attach_latest(conn, rows)
        return rows

    def patch_models(
        self,
        app_pk: int,
        ids: Sequence[str],
        change: Callable[[ModelRow], tuple[ModelRow, list[ConceptValue]]],
    ) -> list[ModelRow]:
        """Apply ``change`` to each model (it returns the new row and concepts to ensure), all
        or nothing: an ApiFailure from ``change`` rolls every model back."""
        now = time.time()
        out: list[ModelRow] = []
        with self.store.write() as conn:
            for model_id in ids:
                current = self._model_row(conn, app_pk, model_id)
                if current is None:
                    raise model_missing(model_id)
                updated, concepts = change(current)
                Store._ensure_concepts(conn, app_pk, concepts, now)
                conn.execute(
                    "UPDATE models SET name = ?, description = ?, output_info = ?, "
                    "modified_at = ? WHERE pk = ?",
                    (
                        updated.name,
                        updated.description,
                        json.dumps(updated.output_info),
                        now,
                        current.pk,
                    ),
                )
                updated.modified_at = now
                out.append(updated)
            self._attach_latest(conn, out)
        return out

    def delete_model(self, app_pk: int, model_id: str) -> None:
        """Delete a model and its versions; refused while a workflow uses it."""
        with self.store.write() as conn:
            found = self._model_row(conn, app_pk, model_id)
            if found is None:
                raise model_missing(model_id)
            users = [
                r[0]
                for r in conn.execute(
                    "SELECT w.id FROM workflow_models wm JOIN workflows w ON w.pk = wm.workflow_pk "
                    "WHERE wm.model_pk = ? ORDER BY w.id",
                    (found.pk,),
                )
            ]
            if users:
                names = ", ".join(f"'{u}'" for u in users)
                raise ApiFailure(
                    CONN_INVALID_REQUEST,
                    f"model '{model_id}' is used by workflow{'s' if len(users) > 1 else ''} "
                    f"{names}: remove it from them (PatchWorkflows) or delete them first",
                )
            conn.execute("DELETE FROM models WHERE pk = ?", (found.pk,))

    # -- versions ------------------------------------------------------------------------------

    def add_version(
        self,
        app_pk: int,
        model_id: str,
        *,
        description: str,
        train_params: dict[str, Any] | None,
        output_info: dict[str, Any],
        status_code: int = MODEL_QUEUED,
        status_description: str = "Model is queued for training",
        concepts: Sequence[ConceptValue] = (),
    ) -> tuple[ModelRow, VersionRow]:
        """A new version of a model (its ``concepts`` are created in the app if missing)."""
        now = time.time()
        with self.store.write() as conn:
            model = self._model_row(conn, app_pk, model_id)
            if model is None:
                raise model_missing(model_id)
            Store._ensure_concepts(conn, app_pk, concepts, now)
            version_id = new_id()
            completed = now if status_code not in (MODEL_QUEUED, MODEL_TRAINING) else None
            conn.execute(
                "INSERT INTO model_versions (model_pk, id, description, status_code, "
                "status_description, train_params, output_info, created_at, modified_at, "
                "completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model.pk,
                    version_id,
                    description,
                    status_code,
                    status_description,
                    _dump(train_params),
                    json.dumps(output_info),
                    now,
                    now,
                    completed,
                ),
            )
            self._attach_latest(conn, [model])
        assert model.latest is not None
        return model, model.latest

    def get_version(self, model_pk: int, version_id: str) -> VersionRow | None:
        row = (
            self.store._conn()
            .execute(
                f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model_pk = ? AND id = ?",
                (model_pk, version_id),
            )
            .fetchone()
        )
        return None if row is None else _version(row)

    def list_versions(self, model_pk: int, limit: int, offset: int) -> list[VersionRow]:
        rows = (
            self.store._conn()
            .execute(
                f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model_pk = ? "
                "ORDER BY pk DESC LIMIT ? OFFSET ?",
                (model_pk, limit, offset),
            )
            .fetchall()
        )
        return [_version(r) for r in rows]

    def latest_trained(self, model_pk: int) -> VersionRow | None:
        row = (
            self.store._conn()
            .execute(
                f"SELECT {_VERSION_COLUMNS} FROM model_versions "
                "WHERE model_pk = ? AND status_code = ? ORDER BY pk DESC LIMIT 1",
                (model_pk, MODEL_TRAINED),
            )
            .fetchone()
        )
        return None if row is None else _version(row)

    def operator_version(self, model: ModelRow, version_id: str) -> VersionRow | None:
        """The version a node runs: ``version_id``, or the model's latest when it is ""."""
        if version_id:
            return self.get_version(model.pk, version_id)
        if model.latest is not None:
            return model.latest
        with self.store.read() as conn:
            return self._latest(conn, model.pk)

    def version_ids(self, model_pks: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {pk: [] for pk in model_pks}
        if not model_pks:
            return out
        for model_pk, version_id in self.store._conn().execute(
            f"SELECT model_pk, id FROM model_versions WHERE model_pk IN ({_marks(len(model_pks))})",
            tuple(model_pks),
        ):
            out[model_pk].append(version_id)
        return out

    def classifier_blob(self, version_pk: int) -> bytes | None:
        row = (
            self.store._conn()
            .execute("SELECT classifier FROM model_versions WHERE pk = ?", (version_pk,))
            .fetchone()
        )
        return None if row is None or row[0] is None else bytes(row[0])

    def training_jobs(self) -> list[TrainingJob]:
        """Versions queued or training, oldest first (the training queue)."""
        rows = (
            self.store._conn()
            .execute(
                "SELECT v.pk, v.id, m.pk, m.id, m.app_pk, v.output_info, v.training_info "
                "FROM model_versions v "
                "JOIN models m ON m.pk = v.model_pk WHERE v.status_code IN (?, ?) ORDER BY v.pk",
                (MODEL_QUEUED, MODEL_TRAINING),
            )
            .fetchall()
        )
        jobs: list[TrainingJob] = []
        for version_pk, version_id, model_pk, model_id, app_pk, info_text, training in rows:
            info = json.loads(info_text) if info_text else {}
            data = info.get("data") or {}
            concepts = [str(c.get("id", "")) for c in data.get("concepts") or [] if c.get("id")]
            exclusive = (info.get("output_config") or {}).get("concepts_mutually_exclusive")
            jobs.append(
                TrainingJob(
                    version_pk,
                    version_id,
                    model_pk,
                    model_id,
                    app_pk,
                    concepts,
                    True if exclusive is True else None,
                    int((_json_or_none(training) or {}).get("attempts", 0)),
                )
            )
        return jobs

    def set_version_status(
        self,
        version_pk: int,
        code: int,
        description: str,
        *,
        classifier: bytes | None = None,
        training_info: dict[str, Any] | None = None,
        total_input_count: int | None = None,
        active_concept_count: int | None = None,
    ) -> None:
        now = time.time()
        done = code not in (MODEL_QUEUED, MODEL_TRAINING)
        with self.store.write() as conn:
            conn.execute(
                "UPDATE model_versions SET status_code = ?, status_description = ?, "
                "classifier = COALESCE(?, classifier), "
                "training_info = COALESCE(?, training_info), "
                "total_input_count = COALESCE(?, total_input_count), "
                "active_concept_count = COALESCE(?, active_concept_count), "
                "modified_at = ?, completed_at = ? WHERE pk = ?",
                (
                    code,
                    description,
                    classifier,
                    _dump(training_info),
                    total_input_count,
                    active_concept_count,
                    now,
                    now if done else None,
                    version_pk,
                ),
            )

    # -- training data and embeddings ----------------------------------------------------------

    def training_labels(
        self, app_pk: int, concept_ids: Sequence[str]
    ) -> list[tuple[int, str | None, dict[str, float]]]:
        """``(input_pk, blob_sha, {concept: 1.0 | 0.0})`` for every processed input with a
        SUCCESS annotation on one of ``concept_ids`` (a positive anywhere wins)."""
        if not concept_ids:
            return []
        by_input: dict[int, tuple[str | None, dict[str, float]]] = {}
        with self.store.read() as conn:
            for input_pk, blob_sha, concept_id, value in conn.execute(
                "SELECT i.pk, i.blob_sha, ac.concept_id, ac.value FROM annotations a "
                "JOIN annotation_concepts ac ON ac.annotation_pk = a.pk "
                "JOIN inputs i ON i.pk = a.input_pk "
                f"WHERE a.app_pk = ? AND a.status_code = ? AND i.status_code = ? "
                f"AND ac.concept_id IN ({_marks(len(concept_ids))}) ORDER BY i.pk",
                (app_pk, ANNOTATION_SUCCESS, INPUT_SUCCESS, *concept_ids),
            ):
                _, labels = by_input.setdefault(input_pk, (blob_sha, {}))
                label = 1.0 if value > 0 else 0.0
                labels[concept_id] = max(labels.get(concept_id, 0.0), label)
        return [(pk, sha, labels) for pk, (sha, labels) in by_input.items()]

    def embeddings(self, input_pks: Sequence[int], embedder_id: str) -> dict[int, EmbeddingRow]:
        out: dict[int, EmbeddingRow] = {}
        conn = self.store._conn()
        for start in range(0, len(input_pks), 500):
            chunk = input_pks[start : start + 500]
            for input_pk, dim, vector in conn.execute(
                "SELECT input_pk, dim, vector FROM embeddings "
                f"WHERE embedder_id = ? AND input_pk IN ({_marks(len(chunk))})",
                (embedder_id, *chunk),
            ):
                out[input_pk] = EmbeddingRow(embedder_id, dim, bytes(vector))
        return out

    def put_embeddings(self, items: Sequence[tuple[int, EmbeddingRow]]) -> None:
        if not items:
            return
        with self.store.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (input_pk, embedder_id, dim, vector) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM inputs WHERE pk = ?)",
                [(pk, e.embedder_id, e.dim, e.vector, pk) for pk, e in items],
            )

    # -- workflows -----------------------------------------------------------------------------

    def _workflow_row(
        self, conn: sqlite3.Connection, app_pk: int, workflow_id: str
    ) -> WorkflowRow | None:
        row = conn.execute(
            f"SELECT {_WORKFLOW_COLUMNS} FROM workflows WHERE app_pk = ? AND id = ?",
            (app_pk, workflow_id),
        ).fetchone()
        return None if row is None else _workflow(row)

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

    # -- concept counts ------------------------------------------------------------------------

    def concept_counts(
        self, app_pk: int, limit: int, offset: int
    ) -> list[tuple[str, str, int, int]]:
        """``(concept id, name, positive, negative)`` over SUCCESS annotations, per concept."""
        rows = (
            self.store._conn()
            .execute(
                "SELECT c.id, c.name, "
                "COALESCE(SUM(CASE WHEN ac.value > 0 THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN ac.value <= 0 THEN 1 ELSE 0 END), 0) "
                "FROM concepts c LEFT JOIN ("
                "  SELECT ac.concept_id, ac.value FROM annotation_concepts ac "
                "  JOIN annotations a ON a.pk = ac.annotation_pk "
                "  WHERE a.app_pk = ? AND a.status_code = ?"
                ") ac ON ac.concept_id = c.id "
                "WHERE c.app_pk = ? GROUP BY c.pk ORDER BY c.pk DESC LIMIT ? OFFSET ?",
                (app_pk, ANNOTATION_SUCCESS, app_pk, limit, offset),
            )
            .fetchall()
        )
        return [(str(a), str(b), int(c), int(d)) for a, b, c, d in rows]
