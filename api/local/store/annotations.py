"""Annotations (add, get, list, patch, delete) and the searches over inputs and annotations."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from api.local import search
from api.local.rows import (
    AnnotationFilter,
    AnnotationPatch,
    AnnotationRow,
    ConceptValue,
    InputRow,
    NewAnnotation,
)
from api.local.sql import (
    _chunks,
    _dump,
    _json_or_none,
    _marks,
    _where_in,
    merge_concepts,
    merge_struct,
    remove_struct,
)
from api.local.status import CONN_INVALID_REQUEST, ApiFailure, not_found
from api.local.store.inputs import InputStore

_ANNOTATION_COLUMNS = (
    "a.pk, a.app_pk, a.input_pk, i.id, a.id, a.user_id, a.model_version_id, "
    "a.workflow_version_id, a.metadata, a.annotation_info, a.status_code, a.status_description, "
    "a.input_level, a.created_at, a.modified_at, a.frame_index, a.frame_time"
)


class AnnotationStore(InputStore):
    """Annotation and search methods of :class:`api.local.store.Store`."""

    def _annotation(self, row: Sequence[Any]) -> AnnotationRow:
        """A row of ``_ANNOTATION_COLUMNS`` (its concepts are attached afterwards)."""
        values = list(row)
        values[8] = _json_or_none(values[8])
        values[9] = _json_or_none(values[9])
        values[12] = bool(values[12])  # input_level
        index, time_ms = values.pop(15), values.pop(15)
        values.insert(10, [])  # concepts
        values.append(None if index is None else (int(index), int(time_ms or 0)))  # frame
        return AnnotationRow(*values)

    def _attach_annotation_concepts(
        self, conn: sqlite3.Connection, rows: list[AnnotationRow]
    ) -> None:
        by_pk = {r.pk: r for r in rows}
        for chunk in _chunks(list(by_pk)):
            for annotation_pk, concept_id, name, value in conn.execute(
                "SELECT ac.annotation_pk, ac.concept_id, c.name, ac.value "
                "FROM annotation_concepts ac JOIN annotations a ON a.pk = ac.annotation_pk "
                "LEFT JOIN concepts c ON c.app_pk = a.app_pk AND c.id = ac.concept_id "
                f"WHERE ac.annotation_pk IN ({_marks(len(chunk))}) ORDER BY ac.rowid",
                tuple(chunk),
            ):
                by_pk[annotation_pk].concepts.append(
                    ConceptValue(concept_id, name or concept_id, value)
                )

    def _annotations_by_pk(
        self, conn: sqlite3.Connection, pks: Sequence[int]
    ) -> list[AnnotationRow]:
        rows: list[AnnotationRow] = []
        for chunk in _chunks(list(pks)):
            rows.extend(
                self._annotation(r)
                for r in conn.execute(
                    f"SELECT {_ANNOTATION_COLUMNS} FROM annotations a "
                    f"JOIN inputs i ON i.pk = a.input_pk WHERE a.pk IN ({_marks(len(chunk))})",
                    tuple(chunk),
                )
            )
        self._attach_annotation_concepts(conn, rows)
        order = {pk: n for n, pk in enumerate(pks)}
        rows.sort(key=lambda r: order[r.pk])
        return rows

    def add_annotations(self, app_pk: int, items: Sequence[NewAnnotation]) -> list[AnnotationRow]:
        """Insert annotations, all or nothing: their inputs must exist and their ids be new."""
        now = time.time()
        with self.write() as conn:
            input_ids = sorted({a.input_id for a in items})
            inputs = {
                r[1]: r[0]
                for r in conn.execute(
                    "SELECT pk, id FROM inputs "
                    f"WHERE app_pk = ? AND id IN ({_marks(len(input_ids))})",
                    (app_pk, *input_ids),
                )
            }
            missing = [i for i in input_ids if i not in inputs]
            if missing:
                raise not_found("input", ", ".join(missing), "Annotate existing inputs only.")
            ids = [a.id for a in items]
            taken = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM annotations WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                    (app_pk, *ids),
                )
            ]
            if taken or len(set(ids)) != len(ids):
                dupes = sorted(set(taken) | {i for i in ids if ids.count(i) > 1})
                raise ApiFailure(
                    CONN_INVALID_REQUEST, f"annotation ids already used: {', '.join(dupes)}"
                )
            pks: list[int] = []
            for item in items:
                cur = conn.execute(
                    "INSERT INTO annotations (app_pk, input_pk, id, user_id, model_version_id, "
                    "workflow_version_id, metadata, annotation_info, status_code, "
                    "status_description, created_at, modified_at, frame_index, frame_time) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        app_pk,
                        inputs[item.input_id],
                        item.id,
                        item.user_id,
                        item.model_version_id,
                        item.workflow_version_id,
                        _dump(item.metadata),
                        _dump(item.annotation_info),
                        item.status_code,
                        item.status_description,
                        now,
                        now,
                        item.frame[0] if item.frame else None,
                        item.frame[1] if item.frame else None,
                    ),
                )
                annotation_pk = int(cur.lastrowid or 0)
                pks.append(annotation_pk)
                self._ensure_concepts(conn, app_pk, item.concepts, now)
                conn.executemany(
                    "INSERT OR REPLACE INTO annotation_concepts (annotation_pk, concept_id, value) "
                    "VALUES (?, ?, ?)",
                    [(annotation_pk, c.id, c.value) for c in item.concepts],
                )
            return self._annotations_by_pk(conn, pks)

    def get_annotation(self, app_pk: int, annotation_id: str) -> AnnotationRow | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT pk FROM annotations WHERE app_pk = ? AND id = ?", (app_pk, annotation_id)
            ).fetchone()
            if row is None:
                return None
            found = self._annotations_by_pk(conn, [row[0]])
        return found[0] if found else None

    def list_annotations(
        self, app_pk: int, flt: AnnotationFilter, limit: int, offset: int
    ) -> list[AnnotationRow]:
        """Newest first. Worker filter, as the ListAnnotationsRequest proto describes it:

        - ``user_ids`` and ``model_version_ids`` are OR'd together and imply list_all;
        - otherwise ``list_all`` lists every annotation;
        - otherwise only the caller's own human annotations (no model version) are listed.
        """
        where = ["a.app_pk = ?"]
        params: list[Any] = [app_pk]
        _where_in(where, params, "a.id", flt.ids)
        if flt.input_ids:
            # The inputs' pks first (the unique (app_pk, id) index), then their annotations
            # (annotations_by_input): left to itself SQLite walks annotations_by_app newest
            # first testing each one's input (335 ms a page at 1,000,000; 0.4 ms this way).
            # The unary + keeps it off the app index, which only serves ORDER BY here.
            where[0] = "+a.app_pk = ?"
            where.append(
                f"a.input_pk IN (SELECT pk FROM inputs WHERE app_pk = ? AND id IN "
                f"({_marks(len(flt.input_ids))}))"
            )
            params += [app_pk, *flt.input_ids]
        _where_in(where, params, "a.status_code", flt.status_codes)
        workers: list[str] = []
        _where_in(workers, params, "a.user_id", flt.user_ids)
        _where_in(workers, params, "a.model_version_id", flt.model_version_ids)
        if workers:
            where.append("(" + " OR ".join(workers) + ")")
        elif not flt.list_all:
            where.append("a.user_id = ? AND a.model_version_id = '' AND a.workflow_version_id = ''")
            params.append(flt.caller_user_id)
        with self.read() as conn:
            pks = [
                r[0]
                for r in conn.execute(
                    "SELECT a.pk FROM annotations a "
                    f"WHERE {' AND '.join(where)} ORDER BY a.pk DESC LIMIT ? OFFSET ?",
                    (*params, limit, offset),
                )
            ]
            return self._annotations_by_pk(conn, pks)

    def search_inputs(
        self, app_pk: int, query: search.SearchQuery, limit: int, offset: int
    ) -> list[InputRow]:
        """One page of PostInputsSearches hits (see api/local/search.py), newest first."""
        with self.read() as conn:
            probe = search.selectivity_probe(app_pk, query)
            common = probe is not None and (
                conn.execute(*probe).fetchone()[0] >= search.COMMON_MATCHES
            )
            sql, params = search.inputs_sql(app_pk, query, limit, offset, common=common)
            return self._inputs_by_pk(conn, [r[0] for r in conn.execute(sql, params)])

    def search_annotations(
        self, app_pk: int, query: search.SearchQuery, limit: int, offset: int
    ) -> list[tuple[AnnotationRow, InputRow]]:
        """One page of PostAnnotationsSearches hits, each with its input, newest first."""
        sql, params = search.annotations_sql(app_pk, query, limit, offset)
        with self.read() as conn:
            pks = [r[0] for r in conn.execute(sql, params)]
            annotations = {row.pk: row for row in self._annotations_by_pk(conn, pks)}
            input_pks = sorted({row.input_pk for row in annotations.values()})
            inputs = {row.pk: row for row in self._inputs_by_pk(conn, input_pks)}
            return [(annotations[pk], inputs[annotations[pk].input_pk]) for pk in pks]

    def patch_annotations(
        self, app_pk: int, patches: Sequence[AnnotationPatch], action: str
    ) -> list[AnnotationRow]:
        now = time.time()
        with self.write() as conn:
            pks: list[int] = []
            for patch in patches:
                row = conn.execute(
                    "SELECT pk FROM annotations WHERE app_pk = ? AND id = ?", (app_pk, patch.id)
                ).fetchone()
                if row is None:
                    raise not_found("annotation", patch.id)
                current = self._annotations_by_pk(conn, [row[0]])[0]
                if patch.input_id and patch.input_id != current.input_id:
                    raise ApiFailure(
                        CONN_INVALID_REQUEST,
                        f"annotation '{patch.id}' belongs to input '{current.input_id}', "
                        f"not '{patch.input_id}'",
                    )
                metadata, info = current.metadata, current.annotation_info
                if patch.metadata is not None:
                    metadata = self._patch_struct(metadata, patch.metadata, action)
                if patch.annotation_info is not None:
                    info = self._patch_struct(info, patch.annotation_info, action)
                code = patch.status_code if patch.status_code is not None else current.status_code
                description = (
                    patch.status_description
                    if patch.status_code is not None
                    else current.status_description
                )
                conn.execute(
                    "UPDATE annotations SET metadata = ?, annotation_info = ?, status_code = ?, "
                    "status_description = ?, modified_at = ? WHERE pk = ?",
                    (_dump(metadata), _dump(info), code, description, now, current.pk),
                )
                if patch.concepts is not None:
                    concepts = merge_concepts(current.concepts, patch.concepts, action)
                    self._ensure_concepts(conn, app_pk, concepts, now)
                    conn.execute(
                        "DELETE FROM annotation_concepts WHERE annotation_pk = ?", (current.pk,)
                    )
                    conn.executemany(
                        "INSERT OR REPLACE INTO annotation_concepts "
                        "(annotation_pk, concept_id, value) VALUES (?, ?, ?)",
                        [(current.pk, c.id, c.value) for c in concepts],
                    )
                pks.append(current.pk)
            return self._annotations_by_pk(conn, pks)

    @staticmethod
    def _patch_struct(
        base: dict[str, Any] | None, patch: dict[str, Any], action: str
    ) -> dict[str, Any]:
        if action == "overwrite":
            return patch
        if action == "remove":
            return remove_struct(base or {}, patch)
        return merge_struct(base or {}, patch)

    def delete_annotation(self, app_pk: int, input_id: str, annotation_id: str) -> None:
        with self.write() as conn:
            row = conn.execute(
                "SELECT a.pk FROM annotations a JOIN inputs i ON i.pk = a.input_pk "
                "WHERE a.app_pk = ? AND a.id = ? AND i.id = ?",
                (app_pk, annotation_id, input_id),
            ).fetchone()
            if row is None:
                raise not_found("annotation", annotation_id, f"(looked on input '{input_id}')")
            conn.execute("DELETE FROM annotations WHERE pk = ?", (row[0],))
