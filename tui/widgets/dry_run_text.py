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
            if kind == VISUAL_EMBEDDER:
                dims = output.embedding_dims[0] if output.embedding_dims else 0
                lines.append(f"{name}: embedding ({dims} dims)" if dims else f"{name}: embedding")
            elif kind == EMBEDDING_CLASSIFIER:
                lines.append(f"{name}: {_concepts(output.concepts) or 'no concepts'}")
            elif kind == CONCEPT_THRESHOLDER and model is not None:
                comparator = comparator_of(model.params).name
                passed = _concepts(output.concepts) or "nothing"
                lines.append(f"{name} {comparator}: passed {passed}")
            elif kind == ANNOTATION_WRITER and model is not None:
                if output.concepts:
                    user = model.params.get("annotation_user_id") or "the app owner"
                    lines.append(
                        f"{name}: WOULD write {writer_status_name(model)} as {user}: "
                        f"{_concepts(output.concepts)}"
                    )
                else:
                    lines.append(f"{name}: would write nothing")
            else:
                lines.append(f"{name}: {_concepts(output.concepts) or '-'}")
    if not results:
        lines.append("no results")
    lines += ["", notice]
    return lines
