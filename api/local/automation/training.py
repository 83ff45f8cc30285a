"""The training queue: trains queued model versions one at a time, off the event loop.

- the **training queue**: PostModelVersions commits a version at 21103 (QUEUED); a single
  background task trains queued versions one at a time in a dedicated thread (never on the
  event loop): 21101 (TRAINING), then 21100 (TRAINED, with the classifier stored in the
  version row) or 21106 (TRAINING_FAILED, the reason in the status description). Labels are
  the SUCCESS annotations of the app's processed inputs on the version's concepts (value > 0
  positive, 0 negative); embeddings come from ingest, or are computed and stored on demand.
- **restart while training**: queued versions are durable rows, so a version left QUEUED or
  TRAINING by a crash or stop is *resumed*: trained again from the start at the next start,
  with the labels as they are then. A version that was interrupted
  :data:`MAX_TRAINING_ATTEMPTS` times (training itself keeps killing the process) is marked
  21106 with that reason instead of looping forever.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

from api.local.automation.core import AutomationCore, default_embedder, embedding_row, vector_of
from api.local.imaging import ImageRejected, decode, to_rgb
from api.local.modelstore import MODEL_TRAINED, MODEL_TRAINING, MODEL_TRAINING_FAILED
from api.local.rows import EmbeddingRow, TrainingJob

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from api.local.nodes.embedder import Embedder


log = logging.getLogger(__name__)

#: A version interrupted this many times (process stopped while training) is marked failed.
MAX_TRAINING_ATTEMPTS: Final = 3
#: Longest wait for an app's queued ingest before training starts anyway (seconds).
INGEST_SETTLE: Final = 120.0


class TrainingQueue(AutomationCore):
    """The training task and what it trains (see the module docstring)."""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the training task; versions left queued or training are resumed."""
        self._stopping = False
        self._wake = asyncio.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="clarifai-train")
        self._wake.set()
        self._task = asyncio.create_task(self._train_loop(), name="training")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop training. A version still training after ``grace`` seconds stays 21101 in the
        database and is resumed at the next start."""
        self._stopping = True
        if self._current is not None and not self._current.done():
            await asyncio.wait({self._current}, timeout=grace)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def training(self) -> bool:
        return self._training

    # -- training ------------------------------------------------------------------------------

    async def _train_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while not self._stopping:
                jobs = await asyncio.to_thread(self.models.training_jobs)
                if not jobs:
                    break
                for job in jobs:
                    if self._stopping:
                        return
                    await self._settle_ingest(job.app_pk)
                    if self._stopping:
                        return
                    self._training = True
                    try:
                        self._current = loop.run_in_executor(self._pool, self.train_one, job)
                        await asyncio.shield(self._current)
                    except Exception:
                        log.exception("training version %s failed unexpectedly", job.version_id)
                        await asyncio.to_thread(
                            self.models.set_version_status,
                            job.version_pk,
                            MODEL_TRAINING_FAILED,
                            "training failed: internal error (see the server log)",
                        )
                    finally:
                        self._training = False

    async def _settle_ingest(self, app_pk: int) -> None:
        """Wait (up to INGEST_SETTLE seconds) until the app has no inputs queued for ingest:
        training uses processed inputs, and labels posted just before PostModelVersions would
        otherwise be left out while their images are still being processed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INGEST_SETTLE
        while not self._stopping and loop.time() < deadline:
            if await asyncio.to_thread(self.store.app_job_count, app_pk) == 0:
                return
            await asyncio.sleep(0.05)

    def train_one(self, job: TrainingJob) -> None:
        """Train one version (blocking; runs in the training thread)."""
        if job.attempts >= MAX_TRAINING_ATTEMPTS:
            self.models.set_version_status(
                job.version_pk,
                MODEL_TRAINING_FAILED,
                f"training was interrupted {job.attempts} times (the server stopped while "
                "training this version); train again with PostModelVersions",
            )
            return
        attempts = job.attempts + 1
        self.models.set_version_status(
            job.version_pk,
            MODEL_TRAINING,
            "Model is training" + (f" (attempt {attempts}, resumed)" if attempts > 1 else ""),
            training_info={"attempts": attempts},
        )
        from api.local.nodes.classifier import TrainingError, train

        try:
            if not self.indexed(job.app_pk):
                raise TrainingError(
                    "the app's default workflow has no embedding model (an app on base "
                    "workflow Empty indexes nothing), so there are no embeddings to train "
                    "on: make a workflow with clarifai/main's general-image-embedding the "
                    "app's default, then add the inputs again"
                )
            embeddings, labels, skipped = self._training_set(job)
            classifier = train(
                embeddings,
                labels,
                job.concept_ids,
                mutually_exclusive=job.mutually_exclusive,
                embedder_id=default_embedder().id,
            )
        except TrainingError as exc:
            self.models.set_version_status(
                job.version_pk,
                MODEL_TRAINING_FAILED,
                exc.reason,
                training_info={"attempts": attempts, "error": exc.reason},
            )
            return
        from api.local.public import EMBEDDER_MODEL, EMBEDDER_VERSION, PUBLIC_APP, PUBLIC_USER

        info = {
            **classifier.info.to_dict(),
            "attempts": attempts,
            "skipped_inputs": skipped,
            # The base workflow's embedder whose embeddings it was trained on (issue #22).
            "embedder_model": {
                "id": EMBEDDER_MODEL,
                "user_id": PUBLIC_USER,
                "app_id": PUBLIC_APP,
                "model_version": {"id": EMBEDDER_VERSION},
            },
        }
        self.models.set_version_status(
            job.version_pk,
            MODEL_TRAINED,
            "Model is trained and ready",
            classifier=classifier.to_bytes(),
            training_info=info,
            total_input_count=classifier.info.input_count,
            active_concept_count=int(classifier.active.sum()),
        )
        self.changed()

    def _training_set(
        self, job: TrainingJob
    ) -> tuple[npt.NDArray[np.float32], list[dict[str, float]], int]:
        import numpy as np

        embedder = default_embedder()
        rows = self.models.training_labels(job.app_pk, job.concept_ids)
        stored = self.models.embeddings([pk for pk, _, _ in rows], embedder.id)
        vectors: list[npt.NDArray[np.float32]] = []
        labels: list[dict[str, float]] = []
        fresh: list[tuple[int, EmbeddingRow]] = []
        skipped = 0
        for input_pk, blob_sha, label in rows:
            row = stored.get(input_pk)
            if row is None or row.dim != embedder.dim:
                try:
                    vector = self.embed_blob(embedder, blob_sha)
                except ImageRejected:
                    skipped += 1
                    continue
                row = embedding_row(embedder, vector)
                fresh.append((input_pk, row))
            vectors.append(vector_of(row))
            labels.append(label)
        self.models.put_embeddings(fresh)
        matrix = np.stack(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)
        return matrix, labels, skipped

    def embed_blob(self, embedder: Embedder, blob_sha: str | None) -> npt.NDArray[np.float32]:
        if not blob_sha:
            raise ImageRejected("the input has no image bytes")
        try:
            data = self.store.read_blob(blob_sha)
        except FileNotFoundError:
            raise ImageRejected("the stored image bytes are missing") from None
        return embedder.embed(to_rgb(decode(data, self.ingest.limits).image))
