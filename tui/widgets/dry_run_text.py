"""What a dry run (PostWorkflowResults) produced, as plain lines: per input, per node, and
what each annotation writer would write. Shared by the dry-run screen and the wizard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from api.autoannotate import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    EMBEDDING_CLASSIFIER,
    VISUAL_EMBEDDER,
    canonical_type,
    comparator_of,
)
from api.errors import status_name
from api.models import Concept, Model, WorkflowNode, WorkflowResult
from tui.widgets.display import frame_time
from tui.widgets.workflow_graph import writer_status_name

NOTHING_WRITTEN = "DRY RUN: nothing was written to the app (no annotations, no inputs)."
#: On the platform PostWorkflowResults does not add the inputs, but Clarifai does not document
#: that a workflow's annotation writers write nothing: no promise there.
REMOTE_DRY_RUN = (
    "DRY RUN on the platform: the inputs were not added to the app; whether its annotation "
    "writers wrote anything is not documented: check the app's annotations."
)
#: Inputs offered by the picker: what one PostWorkflowResults call takes on the platform.
PICKER_INPUTS = 32


def dry_run_notice(embedded: bool) -> str:
    return NOTHING_WRITTEN if embedded else REMOTE_DRY_RUN


MAX_CONCEPTS = 5


def _concepts(concepts: Sequence[Concept]) -> str:
    shown = sorted(concepts, key=lambda c: -c.value)[:MAX_CONCEPTS]
    text = ", ".join(f"{c.id} {c.value:.2f}" for c in shown)
    more = len(concepts) - len(shown)
    return text + (f" (+{more} more)" if more > 0 else "")


#: Frames of a video listed per node at most (a 10-minute video has 600).
MAX_FRAMES_SHOWN = 20


def _said(kind: str, model: Model | None, concepts: Sequence[Concept], dims: Sequence[int]) -> str:
    """What one node's output (on an image, or on one frame) says, after its name."""
    if kind == VISUAL_EMBEDDER:
        return f": embedding ({dims[0]} dims)" if dims and dims[0] else ": embedding"
    if kind == EMBEDDING_CLASSIFIER:
        return f": {_concepts(concepts) or 'no concepts'}"
    if kind == CONCEPT_THRESHOLDER and model is not None:
        comparator = comparator_of(model.params).name
        return f" {comparator}: passed {_concepts(concepts) or 'nothing'}"
    if kind == ANNOTATION_WRITER and model is not None:
        if not concepts:
            return ": would write nothing"
        user = model.params.get("annotation_user_id") or "the app owner"
        return f": WOULD write {writer_status_name(model)} as {user}: {_concepts(concepts)}"
    return f": {_concepts(concepts) or '-'}"


def describe_results(
    results: Sequence[WorkflowResult],
    nodes: Sequence[WorkflowNode],
    models: Mapping[str, Model],
    labels: Mapping[str, str] | None = None,
    *,
    embedded: bool = True,
) -> list[str]:
    """Plain text lines: per input, per node, what it produced (and what writers would write)."""
    by_node = {n.id: n for n in nodes}
    notice = dry_run_notice(embedded)
    lines = [notice]
    for index, result in enumerate(results):
        label = (labels or {}).get(result.input_id) or result.input_id or f"input {index + 1}"
        head = f"input {label}"
        if result.status_code not in (0, 10000):
            head += f": {status_name(result.status_code)} {result.status_description}".rstrip()
        lines += ["", head]
        for output in result.outputs:
            node = by_node.get(output.node_id)
            model = models.get(node.model_id if node else output.model_id)
            kind = canonical_type(model.model_type_id) if model else "?"
            name = f"  {output.node_id or output.model_id} ({kind})"
            if output.status_code not in (0, 10000):
                reason = output.status_description or status_name(output.status_code)
                lines.append(f"{name}: failed: {reason}")
                continue
            if output.frames:
                # A video: the node's output on each sampled frame.
                lines.append(f"{name}: {len(output.frames)} sampled frames")
                for frame in output.frames[:MAX_FRAMES_SHOWN]:
                    said = _said(kind, model, frame.concepts, frame.embedding_dims)
                    lines.append(f"    {frame_time(frame.frame.time_ms)} {said.lstrip(': ')}")
                if len(output.frames) > MAX_FRAMES_SHOWN:
                    lines.append(f"    ... {len(output.frames) - MAX_FRAMES_SHOWN} more frames")
                continue
            lines.append(f"{name}{_said(kind, model, output.concepts, output.embedding_dims)}")
    if not results:
        lines.append("no results")
    lines += ["", notice]
    return lines
