"""Models: create, read, list, change and delete them, and find the models a workflow's
nodes use (in this app or in clarifai/main)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from api.local.modelstore.core import (
    _MODEL_COLUMNS,
    ModelStoreCore,
    _model,
    model_missing,
    node_key,
    node_model_ids,
    node_owner,
)
from api.local.rows import ConceptValue, ModelRow, NewModel
from api.local.status import CONN_INVALID_REQUEST, ApiFailure
from api.local.store import Store, _marks


class ModelRows(ModelStoreCore):
    """Models of an app."""

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
