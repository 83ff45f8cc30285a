"""Workflow graphs: validation and a storage-independent runner.

Public API
----------
- ``NodeSpec(id, model_id, model_version_id, model_type_id, node_inputs, suppress_output)``:
  one workflow node. ``model_version_id`` may be ``""`` (the resolver picks the latest
  usable version); ``model_type_id`` accepts aliases (``concept-threshold``).
- ``ModelEntry(model_type_id, version_ids)``: what the app holds for one model; a
  ``Mapping[str, ModelEntry]`` keyed by model id is the catalog ``validate`` checks against.
- ``validate(nodes, catalog=None) -> None``: raises ``WorkflowError(code, description)``.
  Codes: 22104 WORKFLOW_INVALID_ARGUMENT (no nodes, a node without id or model, duplicate
  node ids, an unknown model type, a node whose type disagrees with its model), 21200
  MODEL_DOES_NOT_EXIST (unknown model, or unknown version of a known model: Clarifai has
  no separate code for versions; the description says which), 22107
  WORKFLOW_INVALID_GRAPH (a node input that is not a node, a cycle, incompatible types).
  Without a catalog, models are not looked up and ``NodeSpec.model_type_id`` is trusted.
- ``Resolver``: the protocol the storage layer implements so the engine can fetch what
  each node needs: ``embedder(node)``, ``classifier(node) -> ResolvedClassifier``,
  ``thresholder(node) -> ThresholderConfig``, ``writer(node) -> WriterConfig``. It may
  raise ``NodeError(code, description)`` (e.g. 22002 WORKFLOW_REQUIRE_TRAINED_MODEL for a
  classifier without a trained version), ``ConfigError`` (-> 21202), or anything else
  (-> 21313); the node then fails, not the run.
- ``run(nodes, image, resolver, *, input_id="", embeddings=None) -> list[NodeOutput]``:
  validates the graph (``WorkflowError`` if invalid), runs the nodes in topological order
  and returns one ``NodeOutput`` per node **in the given node order**. A node without
  ``node_inputs`` takes the workflow input (the image). ``embeddings`` maps an embedder id
  to a precomputed vector for this image (ingest already embedded it), so the embedder
  node does not embed twice; ``image`` may then be None. ``image`` may also be a callable
  that returns the image: it is called only if an embedder node has no precomputed vector
  (ingest passes one that decodes the bytes again). Writers return a
  ``PlannedAnnotation`` in ``NodeOutput.annotation``: nothing is written here.
- ``planned_annotations(outputs)`` and ``first_failure(outputs)``: helpers for ingest.

Semantics
---------
- A node fed by several nodes receives the union of their concepts (per concept id the
  highest value, in first-seen order). Embedders take only the workflow input;
  classifiers take exactly one embeddings input.
- Concepts carry the version id of the classifier that predicted them; a writer's plan
  gets that ``model_version_id`` (the first one, if several classifiers feed it).
- A failed node gets its status code and reason; every node downstream of it is not run
  and reports 10020 FAILURE naming the failed input. Suppressed nodes are still returned
  (``suppress_output=True``); the HTTP layer decides what to show.

One module on purpose (issue #23): validation and running are the two halves of the one
contract above, over the same types; ``run`` validates first and walks the graph in the
order validation computes, so apart they would import each other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from api.local.nodes.common import ConfigError, ScoredConcept
from api.local.nodes.types import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    EMBEDDING_CLASSIFIER,
    VISUAL_EMBEDDER,
    Kind,
    UnknownModelType,
    get_model_type,
    normalise_type_id,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    from api.local.nodes.classifier import TrainedClassifier
    from api.local.nodes.embedder import Embedder
    from api.local.nodes.thresholder import ThresholderConfig
    from api.local.nodes.writer import PlannedAnnotation, WriterConfig

    #: The workflow input: an image, a callable that loads it, or None (embeddings only).
    ImageSource = Image.Image | Callable[[], Image.Image] | None

SUCCESS: Final = 10000
FAILURE: Final = 10020
MODEL_DOES_NOT_EXIST: Final = 21200
MODEL_INVALID_ARGUMENT: Final = 21202
MODEL_PREDICTION_FAILED: Final = 21313
WORKFLOW_REQUIRE_TRAINED_MODEL: Final = 22002
WORKFLOW_INVALID_ARGUMENT: Final = 22104
WORKFLOW_INVALID_GRAPH: Final = 22107


class WorkflowError(Exception):
    """The workflow cannot be saved or run; ``code`` is a Clarifai status code."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class NodeError(Exception):
    """One node cannot run (raised by a Resolver or the engine); the run goes on."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class NodeSpec:
    """One workflow node (``nodes[]`` of a Workflow)."""

    id: str
    model_id: str
    model_version_id: str = ""
    model_type_id: str = ""
    node_inputs: list[str] = field(default_factory=list)
    suppress_output: bool = False
    #: How the model is found: its id in this app, ``user/app/id`` for a model of another app
    #: (clarifai/main's public embedder). Empty: ``model_id``.
    model_key: str = ""

    @property
    def key(self) -> str:
        return self.model_key or self.model_id

    @property
    def model_name(self) -> str:
        """The model as a message names it: ``clarifai/main · general-image-embedding``."""
        if self.model_key and self.model_key != self.model_id:
            owner = self.model_key.rsplit("/", 1)[0]
            return f"{owner} · {self.model_id}"
        return self.model_id


@dataclass(frozen=True)
class ModelEntry:
    """A model the app holds: its type and its version ids."""

    model_type_id: str
    version_ids: Collection[str] = ()


@dataclass(frozen=True)
class ResolvedClassifier:
    """A classifier version ready to predict, with display names for its concepts."""

    model_version_id: str
    classifier: TrainedClassifier
    concept_names: Mapping[str, str] = field(default_factory=dict)


class Resolver(Protocol):
    """What the engine asks the storage layer for, per node."""

    def embedder(self, node: NodeSpec) -> Embedder: ...

    def classifier(self, node: NodeSpec) -> ResolvedClassifier: ...

    def thresholder(self, node: NodeSpec) -> ThresholderConfig: ...

    def writer(self, node: NodeSpec) -> WriterConfig: ...


@dataclass
class NodeOutput:
    """One node's result for one input."""

    node_id: str
    model_id: str
    model_version_id: str
    model_type_id: str
    status_code: int = SUCCESS
    status_description: str = "Ok"
    embedding: npt.NDArray[np.float32] | None = None
    concepts: list[ScoredConcept] = field(default_factory=list)
    annotation: PlannedAnnotation | None = None
    suppress_output: bool = False
    #: On a video: this node's output on each sampled frame ((index, time ms), output).
    frames: list[tuple[tuple[int, int], NodeOutput]] | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == SUCCESS

    def data_dict(self) -> dict[str, Any]:
        """The wire ``data`` of this output (embeddings or concepts; empty if failed); on a
        video, ``frames`` with each sampled frame's."""
        if self.frames is not None:
            return {
                "frames": [
                    {"frame_info": {"index": index, "time": time_ms}, "data": one.data_dict()}
                    for (index, time_ms), one in self.frames
                ]
            }
        if self.embedding is not None:
            vector = [float(v) for v in self.embedding]
            return {"embeddings": [{"vector": vector, "num_dimensions": len(vector)}]}
        if not self.ok:
            return {}
        return {"concepts": [c.to_dict() for c in self.concepts]}


# ---------------------------------------------------------------- validation


def _node_types(nodes: Sequence[NodeSpec], catalog: Mapping[str, ModelEntry] | None) -> list[str]:
    types: list[str] = []
    for node in nodes:
        declared = node.model_type_id
        if catalog is not None:
            entry = catalog.get(node.key)
            if entry is None:
                where = "in this app" if node.key == node.model_id else "in that app"
                raise WorkflowError(
                    MODEL_DOES_NOT_EXIST,
                    f"node {node.id!r} uses model {node.model_name!r}, which does not exist "
                    f"{where}",
                )
            if node.model_version_id and node.model_version_id not in entry.version_ids:
                raise WorkflowError(
                    MODEL_DOES_NOT_EXIST,
                    f"node {node.id!r} uses version {node.model_version_id!r} of model "
                    f"{node.model_name!r}, which has no such version",
                )
            actual = _canonical_type(entry.model_type_id, node)
            if declared and _canonical_type(declared, node) != actual:
                raise WorkflowError(
                    WORKFLOW_INVALID_ARGUMENT,
                    f"node {node.id!r} says model type {declared!r}, but model "
                    f"{node.model_id!r} is a {actual!r}",
                )
            types.append(actual)
        else:
            if not declared:
                raise WorkflowError(
                    WORKFLOW_INVALID_ARGUMENT, f"node {node.id!r} has no model type"
                )
            types.append(_canonical_type(declared, node))
    return types


def _canonical_type(type_id: str, node: NodeSpec) -> str:
    try:
        return normalise_type_id(type_id)
    except UnknownModelType as exc:
        raise WorkflowError(WORKFLOW_INVALID_ARGUMENT, f"node {node.id!r}: {exc}") from None


def _check_ids(nodes: Sequence[NodeSpec]) -> None:
    if not nodes:
        raise WorkflowError(WORKFLOW_INVALID_ARGUMENT, "a workflow needs at least one node")
    seen: set[str] = set()
    duplicates: list[str] = []
    for n, node in enumerate(nodes):
        if not node.id:
            raise WorkflowError(WORKFLOW_INVALID_ARGUMENT, f"node #{n + 1} has no id")
        if not node.model_id:
            raise WorkflowError(WORKFLOW_INVALID_ARGUMENT, f"node {node.id!r} has no model")
        if node.id in seen and node.id not in duplicates:
            duplicates.append(node.id)
        seen.add(node.id)
    if duplicates:
        names = ", ".join(repr(d) for d in duplicates)
        raise WorkflowError(
            WORKFLOW_INVALID_ARGUMENT, f"node ids must be unique; repeated: {names}"
        )
    for node in nodes:
        for source in node.node_inputs:
            if source not in seen:
                raise WorkflowError(
                    WORKFLOW_INVALID_GRAPH,
                    f"node {node.id!r} takes input from {source!r}, which is not a node of "
                    "this workflow",
                )


def _find_cycle(nodes: Sequence[NodeSpec], remaining: set[str]) -> list[str]:
    inputs = {n.id: [s for s in n.node_inputs if s in remaining] for n in nodes}
    position = {n.id: i for i, n in enumerate(nodes)}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node_id: str) -> list[str] | None:
        state[node_id] = 1
        path.append(node_id)
        for source in inputs[node_id]:
            if state.get(source) == 1:
                flow = path[path.index(source) :][::-1]  # data-flow order
                start = min(range(len(flow)), key=lambda i: position[flow[i]])
                flow = flow[start:] + flow[:start]  # begin at the earliest-listed node
                return [*flow, flow[0]]
            if source not in state:
                found = visit(source)
                if found:
                    return found
        state[node_id] = 2
        path.pop()
        return None

    for node in nodes:
        if node.id in remaining and node.id not in state:
            found = visit(node.id)
            if found:
                return found
    return sorted(remaining)  # unreachable for a real cycle; keeps the message useful


def _topological_order(nodes: Sequence[NodeSpec]) -> list[int]:
    position = {node.id: n for n, node in enumerate(nodes)}
    pending = {node.id: len(set(node.node_inputs)) for node in nodes}
    consumers: dict[str, list[str]] = {node.id: [] for node in nodes}
    for node in nodes:
        for source in set(node.node_inputs):
            consumers[source].append(node.id)
    ready = [node.id for node in nodes if pending[node.id] == 0]
    order: list[int] = []
    while ready:
        ready.sort(key=position.__getitem__)
        current = ready.pop(0)
        order.append(position[current])
        for consumer in consumers[current]:
            pending[consumer] -= 1
            if pending[consumer] == 0:
                ready.append(consumer)
    if len(order) < len(nodes):
        remaining = {node.id for node in nodes} - {nodes[i].id for i in order}
        cycle = " -> ".join(repr(c) for c in _find_cycle(nodes, remaining))
        raise WorkflowError(WORKFLOW_INVALID_GRAPH, f"the workflow has a cycle: {cycle}")
    return order


def _check_types(nodes: Sequence[NodeSpec], types: Sequence[str]) -> None:
    type_of = {node.id: t for node, t in zip(nodes, types, strict=True)}
    for node, type_id in zip(nodes, types, strict=True):
        info = get_model_type(type_id)
        label = f"node {node.id!r} ({type_id})"
        if not node.node_inputs:
            if info.input_kind is not Kind.IMAGE:
                raise WorkflowError(
                    WORKFLOW_INVALID_GRAPH,
                    f"{label} takes {info.input_kind}, but it has no node_inputs, so it "
                    f"would get the workflow's image; {_feed_hint(info.input_kind)}",
                )
            continue
        if info.input_kind is Kind.IMAGE:
            raise WorkflowError(
                WORKFLOW_INVALID_GRAPH,
                f"{label} takes the workflow's image and cannot take input from other "
                f"nodes ({', '.join(repr(s) for s in node.node_inputs)}); remove its "
                "node_inputs",
            )
        if type_id == EMBEDDING_CLASSIFIER and len(set(node.node_inputs)) > 1:
            raise WorkflowError(
                WORKFLOW_INVALID_GRAPH,
                f"{label} takes exactly one embeddings input, it has {len(set(node.node_inputs))}",
            )
        for source in node.node_inputs:
            source_info = get_model_type(type_of[source])
            if source_info.output_kind is not info.input_kind:
                raise WorkflowError(
                    WORKFLOW_INVALID_GRAPH,
                    f"{label} takes {info.input_kind}, but its input {source!r} "
                    f"({source_info.id}) gives {source_info.output_kind}; "
                    f"{_feed_hint(info.input_kind)}",
                )


def _feed_hint(kind: Kind) -> str:
    if kind is Kind.EMBEDDINGS:
        return f"feed it from a {VISUAL_EMBEDDER} node"
    return f"feed it from an {EMBEDDING_CLASSIFIER} or a {CONCEPT_THRESHOLDER} node"


def validate(nodes: Sequence[NodeSpec], catalog: Mapping[str, ModelEntry] | None = None) -> None:
    """Raise WorkflowError if ``nodes`` is not a runnable workflow (see module docs)."""
    _check_ids(nodes)
    types = _node_types(nodes, catalog)
    _topological_order(nodes)
    _check_types(nodes, types)


# ---------------------------------------------------------------- running


@dataclass
class _Value:
    """What a node produced, as seen by its consumers."""

    kind: Kind
    embedding: npt.NDArray[np.float32] | None = None
    embedder_id: str = ""
    concepts: list[ScoredConcept] = field(default_factory=list)
    version_id: str = ""  # the classifier version the concepts came from


def _merge(values: Sequence[_Value]) -> _Value:
    if len(values) == 1:
        return values[0]
    best: dict[str, ScoredConcept] = {}
    for value in values:
        for concept in value.concepts:
            held = best.get(concept.id)
            if held is None or concept.value > held.value:
                best[concept.id] = concept
    version = next((v.version_id for v in values if v.version_id), "")
    return _Value(Kind.CONCEPTS, concepts=list(best.values()), version_id=version)


def _run_node(
    node: NodeSpec,
    type_id: str,
    value: _Value | None,
    image: ImageSource,
    resolver: Resolver,
    input_id: str,
    precomputed: Mapping[str, npt.NDArray[np.float32]],
    out: NodeOutput,
) -> _Value:
    if type_id == VISUAL_EMBEDDER:
        embedder = resolver.embedder(node)
        vector = precomputed.get(embedder.id)
        if vector is None:
            if image is None:
                raise NodeError(FAILURE, "there is no image to embed")
            vector = embedder.embed(image() if callable(image) else image)
        out.embedding = vector
        return _Value(Kind.EMBEDDINGS, embedding=vector, embedder_id=embedder.id)
    assert value is not None
    if type_id == EMBEDDING_CLASSIFIER:
        resolved = resolver.classifier(node)
        model = resolved.classifier
        out.model_version_id = resolved.model_version_id
        trained_on = model.info.embedder_id
        if trained_on and value.embedder_id and trained_on != value.embedder_id:
            raise NodeError(
                MODEL_PREDICTION_FAILED,
                f"version {resolved.model_version_id!r} was trained on {trained_on!r} "
                f"embeddings, but its input gives {value.embedder_id!r} embeddings",
            )
        assert value.embedding is not None
        concepts = model.predict_concepts(value.embedding, resolved.concept_names)
        out.concepts = concepts
        return _Value(Kind.CONCEPTS, concepts=concepts, version_id=resolved.model_version_id)
    if type_id == CONCEPT_THRESHOLDER:
        from api.local.nodes.thresholder import apply_thresholds

        kept = apply_thresholds(value.concepts, resolver.thresholder(node))
        out.concepts = kept
        return _Value(Kind.CONCEPTS, concepts=kept, version_id=value.version_id)
    if type_id == ANNOTATION_WRITER:
        from api.local.nodes.writer import plan_annotation

        config = resolver.writer(node)
        out.concepts = list(value.concepts)
        out.annotation = plan_annotation(input_id, value.concepts, config, value.version_id)
        return _Value(Kind.ANNOTATION, concepts=out.concepts, version_id=value.version_id)
    raise NodeError(MODEL_INVALID_ARGUMENT, f"model type {type_id!r} cannot run here")


def run(
    nodes: Sequence[NodeSpec],
    image: ImageSource,
    resolver: Resolver,
    *,
    input_id: str = "",
    embeddings: Mapping[str, npt.NDArray[np.float32]] | None = None,
) -> list[NodeOutput]:
    """Run the workflow on one image; one output per node, in the given node order."""
    validate(nodes)
    types = [normalise_type_id(node.model_type_id) for node in nodes]
    precomputed = embeddings or {}
    outputs: list[NodeOutput | None] = [None] * len(nodes)
    values: dict[str, _Value] = {}
    failed: set[str] = set()
    for index in _topological_order(nodes):
        node, type_id = nodes[index], types[index]
        out = NodeOutput(
            node_id=node.id,
            model_id=node.model_id,
            model_version_id=node.model_version_id,
            model_type_id=type_id,
            suppress_output=node.suppress_output,
        )
        outputs[index] = out
        broken = [s for s in dict.fromkeys(node.node_inputs) if s in failed]
        if broken:
            out.status_code = FAILURE
            out.status_description = f"not run: its input {broken[0]!r} failed"
            failed.add(node.id)
            continue
        sources = [values[s] for s in dict.fromkeys(node.node_inputs)]
        try:
            merged = _merge(sources) if sources else None
            values[node.id] = _run_node(
                node, type_id, merged, image, resolver, input_id, precomputed, out
            )
        except NodeError as exc:
            out.status_code, out.status_description = exc.code, exc.description
        except ConfigError as exc:
            out.status_code, out.status_description = MODEL_INVALID_ARGUMENT, str(exc)
        except Exception as exc:
            out.status_code = MODEL_PREDICTION_FAILED
            out.status_description = f"{type(exc).__name__}: {exc}"
        if not out.ok:
            out.embedding, out.concepts, out.annotation = None, [], None
            failed.add(node.id)
    return [o for o in outputs if o is not None]


def planned_annotations(outputs: Sequence[NodeOutput]) -> list[PlannedAnnotation]:
    """The annotations the writers of a successful run would write, in node order."""
    return [o.annotation for o in outputs if o.ok and o.annotation is not None]


def first_failure(outputs: Sequence[NodeOutput]) -> NodeOutput | None:
    """The first failed node output (in node order), if any."""
    return next((o for o in outputs if not o.ok), None)
