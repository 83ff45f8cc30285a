"""Model versions: add them, read them, and move them through training (versions queued
or training are the durable training queue: :meth:`VersionRows.training_jobs`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from api.local.modelstore.core import (
    _VERSION_COLUMNS,
    MODEL_QUEUED,
    MODEL_TRAINED,
    MODEL_TRAINING,
    ModelStoreCore,
    _version,
    model_missing,
)
from api.local.rows import ConceptValue, ModelRow, TrainingJob, VersionRow
from api.local.store import Store, _dump, _json_or_none, _marks, new_id


class VersionRows(ModelStoreCore):
    """Versions of models, and their status as they train."""

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
