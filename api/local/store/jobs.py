"""The ingest job queue: pending jobs, their outcomes and the default workflow's results."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from api.local.rows import ConceptValue, Job, JobResult
from api.local.sql import _dump, _marks, new_id
from api.local.status import INPUT_FAILED, INPUT_SUCCESS
from api.local.store.apps import AppStore
from api.local.store.blobs import BlobStore


class JobQueue(BlobStore, AppStore):
    """Ingest queue methods of :class:`api.local.store.Store`."""

    def pending_jobs(self, after_job_id: int, limit: int, *, urls: bool | None = None) -> list[Job]:
        """Queued jobs after `after_job_id`, oldest first; `urls`: only inputs to download
        (True) or only inputs whose bytes are stored (False)."""
        kind = {None: "", True: " AND i.blob_sha IS NULL", False: " AND i.blob_sha IS NOT NULL"}
        rows = (
            self._conn()
            .execute(
                "SELECT j.id, j.input_pk, i.app_pk, a.id, i.id, i.blob_sha, i.source_url, "
                "i.kind, a.sample_ms "
                "FROM ingest_jobs j JOIN inputs i ON i.pk = j.input_pk "
                "JOIN apps a ON a.pk = i.app_pk "
                f"WHERE j.id > ?{kind[urls]} ORDER BY j.id LIMIT ?",
                (after_job_id, limit),
            )
            .fetchall()
        )
        return [Job(*r) for r in rows]

    def app_job_count(self, app_pk: int) -> int:
        """Inputs of one app still queued for ingest."""
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM ingest_jobs j JOIN inputs i ON i.pk = j.input_pk "
                "WHERE i.app_pk = ?",
                (app_pk,),
            )
            .fetchone()
        )
        return int(row[0])

    def job_count(self) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM ingest_jobs").fetchone()
        return int(row[0])

    def finish_jobs(self, results: Sequence[JobResult]) -> None:
        """Record outcomes and drop the jobs, in one transaction."""
        now = time.time()
        with self.write() as conn:
            #: Rows to update, grouped by the optional columns they set (see below).
            done: dict[tuple[bool, bool, bool], list[tuple[Any, ...]]] = {}
            failed: list[tuple[Any, ...]] = []
            self._keep_blobs(
                conn,
                [(r.blob_sha, r.blob) for r in results if r.ok]
                + [(r.thumb_sha, r.thumb) for r in results if r.ok],
            )
            for r in results:
                if r.ok:
                    workflow_code, workflow_description = r.workflow_status or (None, None)
                    shas = tuple(sha for sha in (r.blob_sha, r.thumb_sha) if sha is not None)
                    key = (
                        r.blob_sha is not None,
                        r.thumb_sha is not None,
                        r.video_info is not None,
                    )
                    done.setdefault(key, []).append(
                        (
                            r.description,
                            *shas,
                            *((_dump(r.video_info),) if r.video_info is not None else ()),
                            r.width,
                            r.height,
                            r.format,
                            r.color_mode,
                            workflow_code,
                            workflow_description,
                            now,
                            r.input_pk,
                        )
                    )
                else:
                    failed.append((r.description, now, r.input_pk))
            # blob_sha and thumb_sha are named only where they get a value (a URL input's bytes,
            # a thumbnail file): SQLite rewrites the index entries of every column an UPDATE
            # sets, changed or not, and these indexes' keys are random, so each input would
            # dirty a page of each (~10 KB more WAL an input, copied again at checkpoint).
            for (sets_blob, sets_thumb, sets_video), rows in done.items():
                optional = (
                    ("blob_sha = ?, " if sets_blob else "")
                    + ("thumb_sha = ?, " if sets_thumb else "")
                    + ("video_info = ?, " if sets_video else "")
                )
                conn.executemany(
                    f"UPDATE inputs SET status_code = {INPUT_SUCCESS}, status_description = ?, "
                    f"{optional}width = ?, height = ?, format = ?, color_mode = ?, "
                    "workflow_status_code = COALESCE(?, workflow_status_code), "
                    "workflow_status_description = COALESCE(?, workflow_status_description), "
                    "modified_at = ? WHERE pk = ?",
                    rows,
                )
            conn.executemany(
                f"UPDATE inputs SET status_code = {INPUT_FAILED}, status_description = ?, "
                "modified_at = ? WHERE pk = ?",
                failed,
            )
            conn.executemany("DELETE FROM ingest_jobs WHERE id = ?", [(r.job_id,) for r in results])
            self._write_workflow_results(conn, [r for r in results if r.ok], now)

    def _write_workflow_results(
        self, conn: sqlite3.Connection, results: Sequence[JobResult], now: float
    ) -> None:
        """Embeddings and default-workflow annotations of ingested inputs (their workflow
        statuses are set with their input status, in finish_jobs)."""
        conn.executemany(
            "INSERT OR REPLACE INTO embeddings (input_pk, embedder_id, dim, vector) "
            "VALUES (?, ?, ?, ?)",
            [(r.input_pk, e.embedder_id, e.dim, e.vector) for r in results for e in r.embeddings],
        )
        annotated = [r for r in results if r.annotations]
        if not annotated:
            return
        app_of: dict[int, int] = {}
        pks = [r.input_pk for r in annotated]
        for start in range(0, len(pks), 500):
            chunk = pks[start : start + 500]
            app_of.update(
                conn.execute(
                    f"SELECT pk, app_pk FROM inputs WHERE pk IN ({_marks(len(chunk))})", chunk
                ).fetchall()
            )
        concepts: dict[tuple[int, str], ConceptValue] = {}
        values: list[tuple[int, str, float]] = []
        for result in annotated:
            app_pk = app_of[result.input_pk]
            for write in result.annotations:
                cur = conn.execute(
                    "INSERT INTO annotations (app_pk, input_pk, id, user_id, model_version_id, "
                    "annotation_info, status_code, created_at, modified_at, frame_index, "
                    "frame_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        app_pk,
                        result.input_pk,
                        new_id(),
                        write.user_id,
                        write.model_version_id,
                        _dump(write.annotation_info),
                        write.status_code,
                        now,
                        now,
                        write.frame[0] if write.frame else None,
                        write.frame[1] if write.frame else None,
                    ),
                )
                annotation_pk = int(cur.lastrowid or 0)
                for c in write.concepts:
                    concepts.setdefault((app_pk, c.id), c)
                    values.append((annotation_pk, c.id, c.value))
        for app_pk in {key[0] for key in concepts}:
            self._ensure_concepts(
                conn, app_pk, [c for (pk, _), c in concepts.items() if pk == app_pk], now
            )
        conn.executemany(
            "INSERT OR REPLACE INTO annotation_concepts (annotation_pk, concept_id, value) "
            "VALUES (?, ?, ?)",
            values,
        )

    def set_workflow_status(self, input_pk: int, code: int, description: str) -> None:
        """Record the default-workflow outcome of one input (separate from its input status)."""
        with self.write() as conn:
            conn.execute(
                "UPDATE inputs SET workflow_status_code = ?, workflow_status_description = ? "
                "WHERE pk = ?",
                (code, description, input_pk),
            )
