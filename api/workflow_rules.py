"""The engine's workflow graph rules (ids, cycles, what flows along an edge), so an editor
can refuse a change with the reason before the server sees it. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from api.model_types import (
    CONCEPT_THRESHOLDER,
    EMBEDDING_CLASSIFIER,
    KINDS,
    VISUAL_EMBEDDER,
    canonical_type,
)
from api.models import (
    WorkflowNode,
)

# -- workflow graph rules -----------------------------------------------------------------------


def find_cycle(nodes: Sequence[WorkflowNode]) -> list[str] | None:
    """One cycle, in data-flow order, or None."""
    inputs = {n.id: [s for s in n.node_inputs] for n in nodes}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node_id: str) -> list[str] | None:
        state[node_id] = 1
        path.append(node_id)
        for source in inputs.get(node_id, []):
            if source not in inputs:
                continue
            if state.get(source) == 1:
                return path[path.index(source) :][::-1]
            if source not in state and (found := visit(source)):
                return found
        state[node_id] = 2
        path.pop()
        return None

    for node in nodes:
        if node.id not in state and (found := visit(node.id)):
            return found
    return None


def _kind_hint(kind: str) -> str:
    if kind == "embeddings":
        return f"feed it from a {VISUAL_EMBEDDER} node"
    if kind == "image":
        return "it takes the workflow's image: give it no inputs"
    return f"feed it from an {EMBEDDING_CLASSIFIER} or a {CONCEPT_THRESHOLDER} node"


def workflow_problems(nodes: Sequence[WorkflowNode], model_types: Mapping[str, str]) -> list[str]:
    """Why the server would refuse this graph (empty when it would not).

    `model_types` maps model id -> model type id; the rules are the engine's: ids unique,
    inputs name nodes, no cycle, and each edge carries what its target takes.
    """
    problems: list[str] = []
    if not nodes:
        return ["a workflow needs at least one node"]
    ids = [n.id for n in nodes]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        problems.append(f"node ids must be unique; repeated: {', '.join(repeated)}")
    known = set(ids)
    type_of: dict[str, str] = {}
    for node in nodes:
        if not node.model_id:
            problems.append(f"node {node.id!r} has no model")
            continue
        type_id = model_types.get(node.model_id)
        if type_id is None:
            problems.append(f"node {node.id!r} uses model {node.model_id!r}, which does not exist")
            continue
        type_of[node.id] = canonical_type(type_id)
        for source in node.node_inputs:
            if source not in known:
                problems.append(f"node {node.id!r} takes input from {source!r}, not a node")
    cycle = find_cycle(nodes)
    if cycle:
        problems.append("cycle: " + " -> ".join([*cycle, cycle[0]]))
    for node in nodes:
        if node.id not in type_of:
            continue
        type_id = type_of[node.id]
        takes = KINDS.get(type_id, ("?", "?"))[0]
        label = f"node {node.id!r} ({type_id})"
        if not node.node_inputs:
            if takes != "image":
                problems.append(
                    f"{label} takes {takes} but has no inputs, so it would get the image; "
                    + _kind_hint(takes)
                )
            continue
        if takes == "image":
            problems.append(f"{label} takes the workflow's image; remove its inputs")
            continue
        if type_id == EMBEDDING_CLASSIFIER and len(set(node.node_inputs)) > 1:
            problems.append(f"{label} takes exactly one embeddings input")
        for source in node.node_inputs:
            if source in type_of:
                gives = KINDS.get(type_of[source], ("?", "?"))[1]
                if gives != takes:
                    problems.append(
                        f"{label} takes {takes}, but {source!r} ({type_of[source]}) gives "
                        f"{gives}; {_kind_hint(takes)}"
                    )
    return problems


def edge_problem(
    nodes: Sequence[WorkflowNode], target: str, source: str, model_types: Mapping[str, str]
) -> str | None:
    """Why feeding `source` into `target` is refused (a cycle or a type mismatch), or None."""
    if source == target:
        return f"a node cannot take its own output ({target!r} -> {target!r} is a cycle)"
    by_id = {n.id: n for n in nodes}
    if target not in by_id or source not in by_id:
        return "both nodes must be in the workflow"
    if source in by_id[target].node_inputs:
        return f"{target!r} already takes input from {source!r}"
    trial = [
        WorkflowNode(n.id, n.model_id, n.model_version_id, (*n.node_inputs, source))
        if n.id == target
        else n
        for n in nodes
    ]
    cycle = find_cycle(trial)
    if cycle:
        return "refused: it would make a cycle " + " -> ".join([*cycle, cycle[0]])
    src_type = canonical_type(model_types.get(by_id[source].model_id, ""))
    dst_type = canonical_type(model_types.get(by_id[target].model_id, ""))
    if src_type in KINDS and dst_type in KINDS:
        gives, takes = KINDS[src_type][1], KINDS[dst_type][0]
        if gives != takes:
            return (
                f"refused: {target!r} ({dst_type}) takes {takes}, but {source!r} "
                f"({src_type}) gives {gives}; {_kind_hint(takes)}"
            )
        if dst_type == EMBEDDING_CLASSIFIER and by_id[target].node_inputs:
            return f"refused: {target!r} ({dst_type}) takes exactly one embeddings input"
    return None
