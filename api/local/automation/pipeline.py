"""The ingest pipeline (``IngestWorker.pipeline``): the app's default workflow on each new
input.

Embeds each input with the default embedder, then runs its app's default workflow with that
embedding (no second embedding); the writers' annotations, the embedding and the workflow
status are committed with the input's 30000 status in one transaction. A workflow that fails
on an input (any node failing) writes *nothing* for that input and records the reason as its
workflow status; the queue goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from api.local.automation.core import (
    AutomationCore,
    StoreResolver,
    _Prepared,
    default_embedder,
    node_specs,
    run_on_frame,
)
from api.local.engine import WorkflowError, first_failure, planned_annotations, run
from api.local.imaging import ImageRejected
from api.local.ingest import InputRef, PipelineResult
from api.local.rows import ConceptValue, EmbeddingRow, WorkflowWrite
from api.local.status import FAILURE, SUCCESS
from api.local.video_analysis import SampledVector

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    from api.local.nodes.embedder import Embedder
    from api.local.nodes.writer import PlannedAnnotation


class DefaultWorkflowPipeline(AutomationCore):
    """What ingest hands each analysed input to (``api.local.ingest.IngestPipeline``)."""

    @property
    def embedder_name(self) -> str:
        """Ingest embeds every input with the default embedder (see IngestPipeline).

        Asked on the event loop: naming the embedder must not import numpy."""
        from api.local.nodes.types import DEFAULT_EMBEDDER

        return DEFAULT_EMBEDDER

    def finish_many(
        self,
        refs: Sequence[InputRef],
        vectors: Sequence[bytes | None],
        image: Callable[[int], Image.Image],
    ) -> list[PipelineResult | Exception]:
        """The embedding row and the default workflow of each analysed input (worker thread)."""
        import numpy as np

        embedder = default_embedder()
        out: list[PipelineResult | Exception] = []
        for index, (ref, vector) in enumerate(zip(refs, vectors, strict=True)):
            try:
                if vector is None:
                    raise ImageRejected("the input was not embedded")
                array = np.frombuffer(vector, dtype=np.float32)
                # image() decodes at most once per input (the caller keeps what it decoded).
                load = functools.partial(image, index)
                row = EmbeddingRow(embedder.id, embedder.dim, vector)
                out.append(self._after_embedding(ref, load, embedder, array, row))
            except Exception as exc:
                out.append(exc)
        return out

    def finish_video(self, ref: InputRef, frames: Sequence[SampledVector]) -> PipelineResult:
        """The app's default workflow on each sampled frame of a video (worker thread), from
        the frames' vectors: the writers' annotations are frame-level (each keeps its frame's
        index and time). As for an image, a workflow that fails on any frame writes nothing
        and says which frame in the workflow status. The video keeps no embedding row (one
        per input would stand for none of its frames)."""

        if not self.indexed(ref.app_pk):
            return PipelineResult()
        prepared = self._prepare(ref.app_pk)
        if prepared is None:
            return PipelineResult()
        workflow = prepared.workflow
        if prepared.error is not None:
            return PipelineResult(
                workflow_status=(
                    FAILURE,
                    f"default workflow '{workflow.id}' cannot run: {prepared.error.description}",
                )
            )
        result = PipelineResult()
        written_frames = 0
        for sampled in frames:
            try:
                outputs = run_on_frame(prepared.specs, prepared.resolver, ref.input_id, sampled)
            except WorkflowError as exc:
                result.annotations = []
                result.workflow_status = (
                    FAILURE,
                    f"default workflow '{workflow.id}' cannot run: {exc.description}",
                )
                return result
            failed = first_failure(outputs)
            if failed is not None:
                result.annotations = []
                result.workflow_status = (
                    FAILURE,
                    f"default workflow '{workflow.id}': node '{failed.node_id}' failed on "
                    f"frame {sampled.index} ({sampled.time_ms} ms) ({failed.status_code}): "
                    f"{failed.status_description}; nothing was written",
                )
                return result
            plans = planned_annotations(outputs)
            written_frames += bool(plans)
            frame = (sampled.index, sampled.time_ms)
            result.annotations.extend(_write(plan, frame) for plan in plans)
        count = len(result.annotations)
        result.workflow_status = (
            SUCCESS,
            f"default workflow '{workflow.id}' wrote {count} annotation{'s' if count != 1 else ''} "
            f"on {written_frames} of {len(frames)} sampled frames",
        )
        return result

    def _after_embedding(
        self,
        ref: InputRef,
        image: Callable[[], Image.Image],
        embedder: Embedder,
        vector: npt.NDArray[np.float32],
        row: EmbeddingRow,
    ) -> PipelineResult:
        """The embedding row plus the app's default workflow run on one input."""
        if not self.indexed(ref.app_pk):
            return PipelineResult()  # base workflow Empty: the input is not indexed
        result = PipelineResult(embeddings=[row])
        prepared = self._prepare(ref.app_pk)
        if prepared is None:
            return result
        workflow = prepared.workflow
        try:
            if prepared.error is not None:
                raise prepared.error
            outputs = run(
                prepared.specs,
                image,
                prepared.resolver,
                input_id=ref.input_id,
                embeddings={embedder.id: vector},
            )
        except WorkflowError as exc:
            result.workflow_status = (
                FAILURE,
                f"default workflow '{workflow.id}' cannot run: {exc.description}",
            )
            return result
        failed = first_failure(outputs)
        if failed is not None:
            result.workflow_status = (
                FAILURE,
                f"default workflow '{workflow.id}': node '{failed.node_id}' failed "
                f"({failed.status_code}): {failed.status_description}; nothing was written",
            )
            return result
        result.annotations.extend(_write(plan) for plan in planned_annotations(outputs))
        count = len(result.annotations)
        result.workflow_status = (
            SUCCESS,
            f"default workflow '{workflow.id}' wrote {count} annotation{'s' if count != 1 else ''}",
        )
        return result

    def _prepare(self, app_pk: int) -> _Prepared | None:
        """The app's default workflow, ready to run (cached until something changes)."""
        with self._prepared_lock:
            generation = self._generation
            cached = self._prepared.get(app_pk)
        if cached is not None and cached[0] == generation:
            return cached[1]
        prepared: _Prepared | None = None
        workflow = self.models.default_workflow(app_pk)
        if workflow is not None:
            models = self.models.node_models(app_pk, workflow.nodes)
            prepared = _Prepared(workflow, [], StoreResolver(self, app_pk, models))
            try:
                prepared.specs = node_specs(workflow.nodes, models)
            except WorkflowError as exc:
                prepared.error = exc
        with self._prepared_lock:
            if self._generation == generation:
                self._prepared[app_pk] = (generation, prepared)
        return prepared


def _write(plan: PlannedAnnotation, frame: tuple[int, int] | None = None) -> WorkflowWrite:
    """A writer's planned annotation as the row ingest commits (on a video: its frame)."""
    return WorkflowWrite(
        concepts=[ConceptValue(c.id, c.name, c.value) for c in plan.concepts],
        status_code=plan.status,
        user_id=plan.user_id,
        model_version_id=plan.model_version_id,
        annotation_info=dict(plan.annotation_info) if plan.annotation_info is not None else None,
        frame=frame,
    )
