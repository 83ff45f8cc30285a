"""What training and the concept counts read: the labelled inputs of an app, their
stored embeddings, and the positive and negative counts per concept."""

from __future__ import annotations

from collections.abc import Sequence

from api.local.modelstore.core import ModelStoreCore
from api.local.rows import EmbeddingRow
from api.local.status import ANNOTATION_SUCCESS, INPUT_SUCCESS
from api.local.store import _marks


class TrainingData(ModelStoreCore):
    """Labels and embeddings for training, and the counts per concept."""

    def training_labels(
        self, app_pk: int, concept_ids: Sequence[str]
    ) -> list[tuple[int, str | None, dict[str, float]]]:
        """``(input_pk, blob_sha, {concept: 1.0 | 0.0})`` for every processed input with a
        SUCCESS annotation on one of ``concept_ids`` (a positive anywhere wins). A video's
        blob_sha is None: the classifier learns from images, and training counts a video
        among its skipped inputs without reading its bytes."""
        if not concept_ids:
            return []
        by_input: dict[int, tuple[str | None, dict[str, float]]] = {}
        with self.store.read() as conn:
            for input_pk, blob_sha, concept_id, value in conn.execute(
                "SELECT i.pk, CASE WHEN i.kind = 'video' THEN NULL ELSE i.blob_sha END, "
                "ac.concept_id, ac.value FROM annotations a "
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
