"""The model store's core: the rows' columns and decoders, the failures for a missing model,
version or workflow, how workflow nodes name their models, and the base the aggregates share.

Same rules as :mod:`api.local.store`: synchronous methods, callable from any thread, writes
serialised through ``Store.write()``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from api.local.rows import ModelRow, VersionRow, WorkflowRow
from api.local.status import ApiFailure
from api.local.store import Store, _json_or_none

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


class ModelStoreCore:
    """The store the aggregates' mixins write through, and the lookups they share."""

    def __init__(self, store: Store) -> None:
        self.store = store

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

    def _workflow_row(
        self, conn: sqlite3.Connection, app_pk: int, workflow_id: str
    ) -> WorkflowRow | None:
        row = conn.execute(
            f"SELECT {_WORKFLOW_COLUMNS} FROM workflows WHERE app_pk = ? AND id = ?",
            (app_pk, workflow_id),
        ).fetchone()
        return None if row is None else _workflow(row)
