"""Inputs: add (with their blobs and ingest jobs), get, list, count, patch and delete."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from api.local.rows import (
    AddedInput,
    AddJobRow,
    ConceptValue,
    InputCounts,
    InputPatch,
    InputRow,
    NewInput,
)
from api.local.sql import (
    _chunks,
    _dump,
    _marks,
    merge_concepts,
    merge_struct,
    new_id,
    remove_struct,
)
from api.local.status import (
    ANNOTATION_SUCCESS,
    INPUT_DUPLICATE,
    INPUT_FAILED,
    INPUT_IN_PROGRESS,
    INPUT_PENDING,
    INPUT_SUCCESS,
    not_found,
)
from api.local.store.apps import AppStore
from api.local.store.blobs import BlobStore

_INPUT_COLUMNS = (
    "pk, app_pk, id, source_url, blob_sha, thumb_sha, width, height, format, color_mode, "
    "metadata, status_code, status_description, workflow_status_code, "
    "workflow_status_description, created_at, modified_at, kind, video_info"
)


class InputStore(BlobStore, AppStore):
    """Input methods of :class:`api.local.store.Store`."""

    @staticmethod
    def _input(row: Sequence[Any]) -> InputRow:
        values = list(row)
        values[10] = json.loads(values[10]) if values[10] else {}
        values[18] = json.loads(values[18]) if values[18] else None
        return InputRow(*values)

    def _attach_input_concepts(self, conn: sqlite3.Connection, rows: list[InputRow]) -> None:
        if not rows:
            return
        by_pk = {r.pk: r for r in rows}
        for chunk in _chunks(list(by_pk)):
            for input_pk, concept_id, name, value in conn.execute(
                "SELECT a.input_pk, ac.concept_id, c.name, ac.value FROM annotations a "
                "JOIN annotation_concepts ac ON ac.annotation_pk = a.pk "
                "LEFT JOIN concepts c ON c.app_pk = a.app_pk AND c.id = ac.concept_id "
                f"WHERE a.input_pk IN ({_marks(len(chunk))}) AND a.input_level = 1 "
                "ORDER BY a.input_pk, ac.rowid",
                tuple(chunk),
            ):
                by_pk[input_pk].concepts.append(ConceptValue(concept_id, name or concept_id, value))

    def _write_input_level(
        self,
        conn: sqlite3.Connection,
        app_pk: int,
        input_pk: int,
        user_id: str,
        concepts: list[ConceptValue],
        now: float,
    ) -> None:
        """Set the input-level annotation (the input's own labels) to exactly ``concepts``."""
        row = conn.execute(
            "SELECT pk FROM annotations WHERE input_pk = ? AND input_level = 1", (input_pk,)
        ).fetchone()
        if row is None:
            if not concepts:
                return
            cur = conn.execute(
                "INSERT INTO annotations (app_pk, input_pk, id, user_id, status_code, input_level, "
                "created_at, modified_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (app_pk, input_pk, new_id(), user_id, ANNOTATION_SUCCESS, now, now),
            )
            annotation_pk = int(cur.lastrowid or 0)
        else:
            annotation_pk = int(row[0])
            conn.execute(
                "DELETE FROM annotation_concepts WHERE annotation_pk = ?", (annotation_pk,)
            )
            conn.execute(
                "UPDATE annotations SET modified_at = ? WHERE pk = ?", (now, annotation_pk)
            )
        self._ensure_concepts(conn, app_pk, concepts, now)
        conn.executemany(
            "INSERT OR REPLACE INTO annotation_concepts (annotation_pk, concept_id, value) "
            "VALUES (?, ?, ?)",
            [(annotation_pk, c.id, c.value) for c in concepts],
        )

    def add_inputs(
        self, app_pk: int, user_id: str, items: Sequence[NewInput], add_job_id: str = ""
    ) -> list[AddedInput]:
        """Insert a batch; ids already in the app (or repeated in the batch) answer 30100.
        With `add_job_id`, the inputs belong to that inputs-add job (made if new), in the same
        transaction.

        Items with status 30001 are queued for ingest in the same transaction. Items that carry
        ``blob`` bytes get ``blob_sha`` set; their bytes are stored durably before or with the
        rows (see stage_blobs).
        """
        with_bytes = [i for i in items if i.blob is not None]
        if with_bytes:
            shas = self.stage_blobs([i.blob for i in with_bytes if i.blob is not None])
            for item, sha in zip(with_bytes, shas, strict=True):
                item.blob_sha = sha
        now = time.time()
        out: list[AddedInput] = []
        accepted: list[NewInput] = []
        with self.write() as conn:
            seen: set[str] = set()
            ids = [i.id for i in items]
            taken = (
                {
                    r[0]
                    for r in conn.execute(
                        f"SELECT id FROM inputs WHERE app_pk = ? AND id IN ({_marks(len(ids))})",
                        (app_pk, *ids),
                    )
                }
                if ids
                else set()
            )
            for item in items:
                if item.id in taken or item.id in seen:
                    out.append(
                        AddedInput(
                            item.id,
                            None,
                            INPUT_DUPLICATE,
                            f"input id '{item.id}' already exists in this app",
                        )
                    )
                    continue
                seen.add(item.id)
                accepted.append(item)
                out.append(AddedInput(item.id, None))
            # Row ids are given here (the write lock and BEGIN IMMEDIATE make this the only
            # writer), so the batch goes in with one executemany instead of a statement each.
            last = conn.execute("SELECT COALESCE(MAX(pk), 0) FROM inputs").fetchone()[0]
            rows = [
                InputRow(
                    pk=int(last) + n,
                    app_pk=app_pk,
                    id=item.id,
                    source_url=item.source_url,
                    blob_sha=item.blob_sha,
                    thumb_sha=None,
                    width=0,
                    height=0,
                    format="",
                    color_mode="",
                    metadata=item.metadata,
                    status_code=item.status_code,
                    status_description=item.status_description,
                    workflow_status_code=None,
                    workflow_status_description="",
                    created_at=now,
                    modified_at=now,
                    kind=item.kind,
                )
                for n, item in enumerate(accepted, start=1)
            ]
            job_pk = self._add_job_pk(conn, app_pk, add_job_id, now) if add_job_id else None
            conn.executemany(
                "INSERT INTO inputs (pk, app_pk, id, source_url, blob_sha, metadata, status_code, "
                "status_description, created_at, modified_at, add_job_pk, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.pk,
                        app_pk,
                        r.id,
                        r.source_url,
                        r.blob_sha,
                        _dump(r.metadata),
                        r.status_code,
                        r.status_description,
                        now,
                        now,
                        job_pk,
                        r.kind,
                    )
                    for r in rows
                ],
            )
            conn.executemany(
                "INSERT INTO ingest_jobs (input_pk, enqueued_at) VALUES (?, ?)",
                [(r.pk, now) for r in rows if r.status_code == INPUT_PENDING],
            )
            labelled = []
            for item, row in zip(accepted, rows, strict=True):
                if item.concepts:
                    self._write_input_level(conn, app_pk, row.pk, user_id, item.concepts, now)
                    labelled.append(row)
            # Concept names as stored (an existing concept keeps its name).
            self._attach_input_concepts(conn, labelled)
            self._keep_blobs(conn, [(i.blob_sha, i.blob) for i in accepted])
        by_id = {r.id: r for r in rows}
        for result in out:
            if not result.error_code:
                result.row = by_id[result.id]
        return out

    def _inputs_by_pk(self, conn: sqlite3.Connection, pks: Sequence[int]) -> list[InputRow]:
        rows: list[InputRow] = []
        for chunk in _chunks(list(pks)):
            rows.extend(
                self._input(r)
                for r in conn.execute(
                    f"SELECT {_INPUT_COLUMNS} FROM inputs WHERE pk IN ({_marks(len(chunk))})",
                    tuple(chunk),
                )
            )
        self._attach_input_concepts(conn, rows)
        order = {pk: n for n, pk in enumerate(pks)}
        rows.sort(key=lambda r: order[r.pk])
        return rows

    def get_input(self, app_pk: int, input_id: str) -> InputRow | None:
        with self.read() as conn:
            row = conn.execute(
                f"SELECT {_INPUT_COLUMNS} FROM inputs WHERE app_pk = ? AND id = ?",
                (app_pk, input_id),
            ).fetchone()
            if row is None:
                return None
            result = self._input(row)
            self._attach_input_concepts(conn, [result])
        return result

    def list_inputs(
        self,
        app_pk: int,
        limit: int,
        offset: int,
        *,
        status_codes: Sequence[int] = (),
        ids: Sequence[str] = (),
    ) -> list[InputRow]:
        """Newest first (``pk`` descending): stable, and paged on an index."""
        where = "app_pk = ?"
        params: list[Any] = [app_pk]
        if status_codes:
            where += f" AND status_code IN ({_marks(len(status_codes))})"
            params.extend(status_codes)
        if ids:
            where += f" AND id IN ({_marks(len(ids))})"
            params.extend(ids)
        with self.read() as conn:
            pks = [
                r[0]
                for r in conn.execute(
                    f"SELECT pk FROM inputs WHERE {where} ORDER BY pk DESC LIMIT ? OFFSET ?",
                    (*params, limit, offset),
                )
            ]
            return self._inputs_by_pk(conn, pks)

    @staticmethod
    def _add_job_pk(conn: sqlite3.Connection, app_pk: int, job_id: str, now: float) -> int:
        conn.execute(
            "INSERT INTO inputs_add_jobs (app_pk, id, created_at, modified_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (app_pk, id) DO UPDATE SET modified_at = excluded.modified_at",
            (app_pk, job_id, now, now),
        )
        row = conn.execute(
            "SELECT pk FROM inputs_add_jobs WHERE app_pk = ? AND id = ?", (app_pk, job_id)
        ).fetchone()
        return int(row[0])

    def _add_job(self, conn: sqlite3.Connection, row: Sequence[Any]) -> AddJobRow:
        job = AddJobRow(int(row[0]), str(row[1]), bool(row[2]), float(row[3]), float(row[4]))
        for code, n in conn.execute(
            "SELECT status_code, COUNT(*) FROM inputs WHERE add_job_pk = ? GROUP BY status_code",
            (job.pk,),
        ):
            if code == INPUT_SUCCESS:
                job.success += n
            elif code == INPUT_PENDING:
                job.pending += n
            elif code == INPUT_IN_PROGRESS:
                job.in_progress += n
            else:
                job.failed += n
        return job

    def get_add_job(self, app_pk: int, job_id: str) -> AddJobRow | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT pk, id, cancelled, created_at, modified_at FROM inputs_add_jobs "
                "WHERE app_pk = ? AND id = ?",
                (app_pk, job_id),
            ).fetchone()
            return self._add_job(conn, row) if row else None

    def list_add_jobs(self, app_pk: int, limit: int, offset: int) -> list[AddJobRow]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT pk, id, cancelled, created_at, modified_at FROM inputs_add_jobs "
                "WHERE app_pk = ? ORDER BY pk DESC LIMIT ? OFFSET ?",
                (app_pk, limit, offset),
            ).fetchall()
            return [self._add_job(conn, r) for r in rows]

    def cancel_add_job(self, app_pk: int, job_id: str) -> AddJobRow | None:
        """Stop the job's inputs not processed yet: they leave the ingest queue and end 30002
        ("cancelled"); processed ones stay. None when there is no such job."""
        now = time.time()
        with self.write() as conn:
            row = conn.execute(
                "SELECT pk FROM inputs_add_jobs WHERE app_pk = ? AND id = ?", (app_pk, job_id)
            ).fetchone()
            if row is None:
                return None
            job_pk = int(row[0])
            conn.execute(
                "UPDATE inputs_add_jobs SET cancelled = 1, modified_at = ? WHERE pk = ?",
                (now, job_pk),
            )
            conn.execute(
                "DELETE FROM ingest_jobs WHERE input_pk IN (SELECT pk FROM inputs WHERE "
                "add_job_pk = ? AND status_code = ?)",
                (job_pk, INPUT_PENDING),
            )
            conn.execute(
                "UPDATE inputs SET status_code = ?, status_description = ?, modified_at = ? "
                "WHERE add_job_pk = ? AND status_code = ?",
                (INPUT_FAILED, "Cancelled with its inputs-add job", now, job_pk, INPUT_PENDING),
            )
        return self.get_add_job(app_pk, job_id)

    def count_inputs(self, app_pk: int) -> InputCounts:
        counts = InputCounts()
        # One row per status, kept by triggers (migration 8): O(1), not a count of the app.
        for code, count in self._conn().execute(
            "SELECT status_code, n FROM input_counts WHERE app_pk = ?", (app_pk,)
        ):
            if code == INPUT_SUCCESS:
                counts.processed += count
            elif code == INPUT_PENDING:
                counts.to_process += count
            elif code == INPUT_IN_PROGRESS:
                counts.processing += count
            elif code == INPUT_FAILED:
                counts.errors += count
        return counts

    def patch_inputs(
        self, app_pk: int, user_id: str, patches: Sequence[InputPatch], action: str
    ) -> list[InputRow]:
        now = time.time()
        with self.write() as conn:
            pks: list[int] = []
            for patch in patches:
                row = conn.execute(
                    f"SELECT {_INPUT_COLUMNS} FROM inputs WHERE app_pk = ? AND id = ?",
                    (app_pk, patch.id),
                ).fetchone()
                if row is None:
                    raise not_found("input", patch.id)
                current = self._input(row)
                self._attach_input_concepts(conn, [current])
                if patch.metadata is not None:
                    if action == "overwrite":
                        metadata = patch.metadata
                    elif action == "remove":
                        metadata = remove_struct(current.metadata, patch.metadata)
                    else:
                        metadata = merge_struct(current.metadata, patch.metadata)
                    conn.execute(
                        "UPDATE inputs SET metadata = ?, modified_at = ? WHERE pk = ?",
                        (_dump(metadata), now, current.pk),
                    )
                if patch.concepts is not None:
                    concepts = merge_concepts(current.concepts, patch.concepts, action)
                    self._write_input_level(conn, app_pk, current.pk, user_id, concepts, now)
                    conn.execute(
                        "UPDATE inputs SET modified_at = ? WHERE pk = ?", (now, current.pk)
                    )
                pks.append(current.pk)
            return self._inputs_by_pk(conn, pks)

    def delete_inputs(self, app_pk: int, ids: Sequence[str]) -> None:
        """Delete inputs (with their annotations and queued work); all or nothing."""
        with self.write() as conn:
            found: dict[str, tuple[int, str | None, str | None]] = {}
            for chunk in _chunks(list(ids)):
                for pk, input_id, blob, thumb in conn.execute(
                    "SELECT pk, id, blob_sha, thumb_sha FROM inputs "
                    f"WHERE app_pk = ? AND id IN ({_marks(len(chunk))})",
                    (app_pk, *chunk),
                ):
                    found[input_id] = (pk, blob, thumb)
            missing = [i for i in ids if i not in found]
            if missing:
                raise not_found("input", ", ".join(missing), "Nothing was deleted.")
            conn.executemany("DELETE FROM inputs WHERE pk = ?", [(v[0],) for v in found.values()])
            shas = {s for v in found.values() for s in v[1:] if s}
            self._collect_blobs(conn, shas)
