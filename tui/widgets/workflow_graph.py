"""Workflow <-> graph: what each box says, and the editing operations on a node list.

Pure functions over `api.models` objects (no widgets), shared by the Workflows area and the
wizard, and tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from api.autoannotate import (
    ANNOTATION_WRITER,
    COMPARATOR_SYMBOLS,
    CONCEPT_THRESHOLDER,
    EMBEDDING_CLASSIFIER,
    WRITER_STATUSES,
    canonical_type,
    comparator_of,
    writer_status_of,
)
from api.models import PUBLIC_APP_ID, PUBLIC_USER_ID, Concept, Model, ModelVersion, WorkflowNode
from tui.widgets.graph import GraphLayout, GraphNode, layout


def _writer_status(params: Mapping[str, Any]) -> tuple[str | None, int]:
    """A writer's status by name (None when unknown), and its code."""
    code = writer_status_of(params)
    return next((name for k, name in WRITER_STATUSES.items() if k == code), None), code


def _thresholds(concepts: Sequence[Concept], params: Mapping[str, Any]) -> str:
    """`a>0.90 b>0.80`: each concept with its threshold and the comparator's symbol."""
    symbol = COMPARATOR_SYMBOLS[comparator_of(params)]
    return " ".join(f"{c.id}{symbol}{c.value:.2f}" for c in concepts)


def writer_status_name(model: Model) -> str:
    name, code = _writer_status(model.params)
    return name or f"status {code}"


#: Short type names for the boxes (the full type id is in the selected node's detail line).
SHORT_TYPES: dict[str, str] = {
    "visual-embedder": "embedder",
    "embedding-classifier": "classifier",
    CONCEPT_THRESHOLDER: "threshold",
    ANNOTATION_WRITER: "writer",
}
#: Shorter still, for when the full short names would be cut mid-word to fit the width (the
#: seed graph at 80 columns); none is wider than a wizard node id, so none needs cutting.
COMPACT_TYPES: dict[str, str] = {**SHORT_TYPES, "embedding-classifier": "classif."}


def settings_text(
    model_type_id: str, concepts: tuple[Concept, ...], params: Mapping[str, Any]
) -> str:
    """A model's (or one version's) settings in a line: thresholds, writer status, concepts."""
    kind = canonical_type(model_type_id)
    if kind == CONCEPT_THRESHOLDER:
        return _thresholds(concepts, params)
    if kind == ANNOTATION_WRITER:
        name, code = _writer_status(params)
        status = name or str(code)
        user = params.get("annotation_user_id") or "owner"
        return f"writes {status} as {user}"
    if kind == EMBEDDING_CLASSIFIER:
        return ", ".join(c.id for c in concepts) or "-"
    return ""


def version_settings(model: Model, version: ModelVersion) -> str:
    """One version's settings in a line; for a classifier, what it learnt from."""
    if canonical_type(model.model_type_id) == EMBEDDING_CLASSIFIER:
        learnt = ", ".join(c.id for c in version.concepts) or "-"
        return f"{version.total_input_count} inputs: {learnt}"
    return settings_text(model.model_type_id, version.concepts, version.params)


def thresholds_text(model: Model) -> str:
    """`> 0.90` when every concept has the same threshold, else `a>0.90 b>0.80`."""
    symbol = COMPARATOR_SYMBOLS[comparator_of(model.params)]
    values = {round(c.value, 6) for c in model.concepts}
    if len(values) == 1:
        return f"{symbol} {model.concepts[0].value:.2f}"
    return _thresholds(model.concepts, model.params) or symbol


#: Versions whose configuration is known, by (model id, version id): a node that pins a version
#: other than its model's latest is shown with that version's settings.
Pinned = Mapping[tuple[str, str], ModelVersion]


def node_model(
    node: WorkflowNode, models: Mapping[str, Model], pinned: Pinned | None = None
) -> Model | None:
    """The node's model as the node runs it: with the settings of the version it pins."""
    model = models.get(node.model_id)
    if model is None or not node.model_version_id or not pinned:
        return model
    version = pinned.get((node.model_id, node.model_version_id))
    if version is None:
        return model
    return replace(model, concepts=version.concepts, params=version.params, version=version)


def node_lines(model: Model | None, model_id: str = "", *, compact: bool = False) -> list[str]:
    """The text under a node's id: model type and, for thresholders, comparator and thresholds
    (as a symbol: `> 0.90`), for writers the status they write."""
    if model is None:
        return [f"missing model {model_id}" if model_id else "no model"]
    kind = canonical_type(model.model_type_id)
    lines = [(COMPACT_TYPES if compact else SHORT_TYPES).get(kind, kind)]
    if kind == CONCEPT_THRESHOLDER:
        lines.append(thresholds_text(model))
    elif kind == ANNOTATION_WRITER:
        lines.append(writer_status_name(model))
    return lines


def node_detail(node: WorkflowNode, model: Model | None, latest: str = "") -> str:
    """One line about a node for under the graph: model, full type, the version it pins (and
    the model's `latest` version when that is another), settings, inputs."""
    inputs = ", ".join(node.node_inputs) or "the workflow input"
    if model is None:
        return f"{node.id}: model {node.model_label!r} is missing; takes {inputs}"
    kind = canonical_type(model.model_type_id)
    text = f"{node.id}: model {node.model_label} ({kind})"
    if node.model_version_id:
        text += f" version {node.model_version_id[:8]}"
        if latest and latest != node.model_version_id:
            text += f" (latest {latest[:8]}: v moves it)"
    if kind == CONCEPT_THRESHOLDER:
        thresholds = _thresholds(model.concepts, model.params)
        text += f" {comparator_of(model.params).name} {thresholds}"
    elif kind == ANNOTATION_WRITER:
        user = model.params.get("annotation_user_id") or "the app owner"
        text += f" writes {writer_status_name(model)} as {user}"
    elif model.concepts:
        text += " concepts: " + ", ".join(c.id for c in model.concepts)
    return f"{text}; takes {inputs}"


def to_graph(
    nodes: Sequence[WorkflowNode],
    models: Mapping[str, Model],
    *,
    compact: bool = False,
    pinned: Pinned | None = None,
) -> list[GraphNode]:
    return [
        GraphNode(
            n.id,
            node_lines(node_model(n, models, pinned), n.model_id, compact=compact),
            list(n.node_inputs),
        )
        for n in nodes
    ]


def _words_whole(nodes: Sequence[GraphNode], fitted: GraphLayout) -> bool:
    """Whether every word of every box survived the fitting uncut."""
    for node in nodes:
        box = fitted.boxes.get(node.id)
        if box is None:
            continue
        shown = {word for row in box.text for word in row.split()}
        if any(word not in shown for line in node.lines for word in line.split()):
            return False
    return True


def fitted_graph(
    nodes: Sequence[WorkflowNode],
    models: Mapping[str, Model],
    width: int,
    pinned: Pinned | None = None,
) -> list[GraphNode]:
    """`to_graph`, with the compact type names when the full ones would be cut to fit `width`
    columns (0: unknown width, full names)."""
    full = to_graph(nodes, models, pinned=pinned)
    if width <= 0:
        return full
    try:
        if _words_whole(full, layout(full, max_width=width)):
            return full
    except ValueError:  # a cycle: the view says so, whatever the labels
        return full
    return to_graph(nodes, models, compact=True, pinned=pinned)


def model_types(models: Mapping[str, Model]) -> dict[str, str]:
    return {m.id: canonical_type(m.model_type_id) for m in models.values()}


# -- edits (each returns a new node list) --------------------------------------------------------


def add_node(
    nodes: Sequence[WorkflowNode],
    node_id: str,
    model_id: str,
    inputs: Sequence[str] = (),
    model: Model | None = None,
) -> list[WorkflowNode]:
    """A new node on `model_id`, pinned to the model's latest version when it is known (the
    docs and the SDK send every node's model_version.id), and naming the model's app when
    that is not the workflow's (a public model of clarifai/main)."""
    version = model.version.id if model is not None and model.version is not None else ""
    user_id = app_id = ""
    if model is not None and (model.user_id, model.app_id) == (PUBLIC_USER_ID, PUBLIC_APP_ID):
        user_id, app_id = model.user_id, model.app_id
    node = WorkflowNode(node_id, model_id, version, tuple(inputs), False, user_id, app_id)
    return [*nodes, node]


def connect(nodes: Sequence[WorkflowNode], target: str, source: str) -> list[WorkflowNode]:
    """`target` also takes input from `source`."""
    return [
        replace(n, node_inputs=(*n.node_inputs, source))
        if n.id == target and source not in n.node_inputs
        else n
        for n in nodes
    ]


def disconnect(nodes: Sequence[WorkflowNode], target: str, source: str) -> list[WorkflowNode]:
    """`target` no longer takes input from `source`."""
    return [
        replace(n, node_inputs=tuple(s for s in n.node_inputs if s != source))
        if n.id == target
        else n
        for n in nodes
    ]


def delete_node(nodes: Sequence[WorkflowNode], node_id: str) -> list[WorkflowNode]:
    """Remove a node and every edge from it."""
    return [
        replace(n, node_inputs=tuple(s for s in n.node_inputs if s != node_id))
        for n in nodes
        if n.id != node_id
    ]


def rename_node(nodes: Sequence[WorkflowNode], old: str, new: str) -> list[WorkflowNode]:
    """Rename a node and every reference to it."""
    return [
        replace(
            n,
            id=new if n.id == old else n.id,
            node_inputs=tuple(new if s == old else s for s in n.node_inputs),
        )
        for n in nodes
    ]


def pin_version(nodes: Sequence[WorkflowNode], node_id: str, version_id: str) -> list[WorkflowNode]:
    """Point a node at another version of its model (the other nodes unchanged)."""
    return [replace(n, model_version_id=version_id) if n.id == node_id else n for n in nodes]
