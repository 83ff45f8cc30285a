"""Running a stored graph for prediction and dry runs (PostModelOutputs,
PostWorkflowResults), which write nothing: on an image, or on every sampled frame of a video."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from api.local.automation.core import (
    AutomationCore,
    Source,
    StoreResolver,
    node_specs,
    run_on_frame,
)
from api.local.engine import NodeOutput, NodeSpec, WorkflowError, run
from api.local.status import ApiFailure

if TYPE_CHECKING:
    pass


class WorkflowRuns(AutomationCore):
    """A graph run on loaded inputs, answered and never written."""

    def run_workflow(
        self,
        app_pk: int,
        nodes: Sequence[dict[str, Any]],
        sources: Sequence[Source],
    ) -> list[list[NodeOutput] | None]:
        """Run a stored graph on loaded inputs (blocking). None for inputs that failed to load."""
        models = self.models.node_models(app_pk, nodes)
        try:
            specs = node_specs(nodes, models)
        except WorkflowError as exc:
            raise ApiFailure(exc.code, exc.description) from None
        resolver = StoreResolver(self, app_pk, models)
        out: list[list[NodeOutput] | None] = []
        for source in sources:
            if source.error:
                out.append(None)
                continue
            if source.frames is not None:
                out.append(self._run_frames(specs, resolver, source))
                continue
            out.append(
                run(
                    specs,
                    source.image,
                    resolver,
                    input_id=source.input_id,
                    embeddings=source.embeddings,
                )
            )
        return out

    def _run_frames(
        self, specs: Sequence[NodeSpec], resolver: StoreResolver, source: Source
    ) -> list[NodeOutput]:
        """A graph on every sampled frame of a video: one output per node, whose ``frames``
        hold that node's output on each frame, in time order (``data.frames``)."""
        merged: list[NodeOutput] | None = None
        for sampled in source.frames or []:
            outputs = run_on_frame(specs, resolver, source.input_id, sampled)
            if merged is None:
                merged = [
                    NodeOutput(
                        node_id=o.node_id,
                        model_id=o.model_id,
                        model_version_id=o.model_version_id,
                        model_type_id=o.model_type_id,
                        suppress_output=o.suppress_output,
                        frames=[],
                    )
                    for o in outputs
                ]
            for whole, one in zip(merged, outputs, strict=True):
                assert whole.frames is not None
                whole.frames.append(((sampled.index, sampled.time_ms), one))
                if not one.ok and whole.ok:
                    whole.status_code = one.status_code
                    whole.status_description = (
                        f"frame {sampled.index} ({sampled.time_ms} ms): {one.status_description}"
                    )
        return merged or []
