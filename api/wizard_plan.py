"""The auto-annotation wizard's answers and plan, as plain data (no client, no I/O).

- `WizardSpec`: the user's answers (concepts, thresholds, routing preset, user, ids).
- `desired_models(spec)` / `desired_workflow(spec, versions)`: the models and the graph the
  answers call for, every node pinning a version. Ids are derived from the workflow id, so a
  second run names the same pieces.
- `plan(spec, models, workflows)`: for each piece, `create`, `update` (with what differs:
  a new version, since a configuration lives in versions) or `keep`; ids held by a model of
  another type are conflicts (the run would fail there).

Split from `api.autoannotate` (issue #23), which carries a plan out through a client and
re-exports all of this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from api.model_types import (
    ANNOTATION_WRITER,
    CONCEPT_THRESHOLDER,
    DEFAULT_HIGH,
    DEFAULT_LOW,
    DEFAULT_WORKFLOW_ID,
    EMBEDDING_CLASSIFIER,
    REVIEW_BAND,
    Preset,
    canonical_type,
    comparator_of,
    id_problem,
    writer_status_of,
)
from api.models import (
    PUBLIC_APP_ID,
    PUBLIC_EMBEDDER_ID,
    PUBLIC_USER_ID,
    AnnotationStatus,
    Concept,
    Model,
    ValueComparator,
    Workflow,
    WorkflowNode,
)

# -- the wizard's answers -----------------------------------------------------------------------


@dataclass(frozen=True)
class WizardSpec:
    """What the wizard asked. Model ids default to `<workflow_id>-<node id>`."""

    concepts: tuple[str, ...]
    annotation_user_id: str
    high: float = DEFAULT_HIGH
    low: float = DEFAULT_LOW
    high_overrides: Mapping[str, float] = field(default_factory=dict)
    low_overrides: Mapping[str, float] = field(default_factory=dict)
    preset: Preset = REVIEW_BAND
    workflow_id: str = DEFAULT_WORKFLOW_ID
    classifier_id: str = ""

    def high_for(self, concept: str) -> float:
        return self.high_overrides.get(concept, self.high)

    def low_for(self, concept: str) -> float:
        return self.low_overrides.get(concept, self.low)

    def model_id(self, node_id: str) -> str:
        if node_id == "classify" and self.classifier_id:
            return self.classifier_id
        return f"{self.workflow_id}-{node_id}"

    def problems(self) -> dict[str, str]:
        """Field -> why it is wrong (`concepts`, `high`, `low`, `workflow_id`, ...)."""
        out: dict[str, str] = {}
        if not self.concepts:
            out["concepts"] = "pick at least one concept"
        for name, value in (("high", self.high), ("low", self.low)):
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                out[name] = "a threshold is between 0 and 1 (0 <= t <= 1)"
        for concept in self.concepts:
            high, low = self.high_for(concept), self.low_for(concept)
            if not (0.0 <= low <= 1.0 and 0.0 <= high <= 1.0):
                out.setdefault(f"concept:{concept}", f"{concept}: thresholds are within [0, 1]")
            elif low >= high:
                out.setdefault(
                    f"concept:{concept}",
                    f"{concept}: low ({low:g}) must be below high ({high:g})",
                )
        if problem := id_problem(self.workflow_id, what="workflow id"):
            out["workflow_id"] = problem
        if self.classifier_id and (problem := id_problem(self.classifier_id, what="model id")):
            out["classifier_id"] = problem
        if not self.annotation_user_id.strip():
            out["annotation_user_id"] = "the annotation user is required"
        return out


@dataclass(frozen=True)
class ModelSpec:
    """One model the setup needs, as it should be."""

    node_id: str
    id: str
    model_type_id: str
    concepts: tuple[Concept, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


def _thresholds(spec: WizardSpec, value: Callable[[str], float]) -> tuple[Concept, ...]:
    return tuple(Concept(c, value=value(c)) for c in spec.concepts)


def _thresholder(
    spec: WizardSpec, node: str, comparator: ValueComparator, value: Callable[[str], float]
) -> ModelSpec:
    return ModelSpec(
        node,
        spec.model_id(node),
        CONCEPT_THRESHOLDER,
        _thresholds(spec, value),
        {"concept_threshold_type": comparator.name},
    )


def _writer(spec: WizardSpec, node: str, status: AnnotationStatus) -> ModelSpec:
    params = {
        "annotation_status": int(status),
        "annotation_user_id": spec.annotation_user_id.strip(),
    }
    return ModelSpec(node, spec.model_id(node), ANNOTATION_WRITER, (), params)


def desired_models(spec: WizardSpec) -> list[ModelSpec]:
    """The models of the chosen wiring, in workflow order."""
    models = [
        ModelSpec(
            "classify",
            spec.model_id("classify"),
            EMBEDDING_CLASSIFIER,
            tuple(Concept(c) for c in spec.concepts),
        ),
        _thresholder(spec, "confident", ValueComparator.GREATER_THAN, spec.high_for),
        _writer(spec, "write-success", AnnotationStatus.SUCCESS),
    ]
    if spec.preset == REVIEW_BAND:
        models += [
            _thresholder(spec, "unsure", ValueComparator.GREATER_THAN, spec.low_for),
            _thresholder(spec, "unsure-band", ValueComparator.LESS_THAN_OR_EQUAL, spec.high_for),
        ]
    else:
        models.append(_thresholder(spec, "low", ValueComparator.LESS_THAN, spec.low_for))
    models.append(_writer(spec, "write-pending", AnnotationStatus.PENDING))
    return models


_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "embed": (),
    "classify": ("embed",),
    "confident": ("classify",),
    "write-success": ("confident",),
    "unsure": ("classify",),
    "unsure-band": ("unsure",),
    "low": ("classify",),
}


def embed_node(embedder_version_id: str = "") -> WorkflowNode:
    """The first node: the public embedder of clarifai/main, as on the platform, where an app's
    inputs are indexed by its base workflow's embedder and a workflow reaches it as a model of
    another app (never an app-local embedder)."""
    return WorkflowNode(
        "embed",
        PUBLIC_EMBEDDER_ID,
        embedder_version_id,
        model_user_id=PUBLIC_USER_ID,
        model_app_id=PUBLIC_APP_ID,
    )


def desired_workflow(
    spec: WizardSpec,
    classifier_version_id: str = "",
    embedder_version_id: str = "",
    versions: Mapping[str, str] | None = None,
) -> Workflow:
    """The workflow graph of the chosen preset (DESIGN.md's seed graph for `review-band`).
    Each node pins its model's version: the classifier's trained one, and `versions` (node
    id -> version id) for the thresholders and writers."""
    pinned = {**(versions or {}), "classify": classifier_version_id}
    nodes = [embed_node(embedder_version_id)]
    for model in desired_models(spec):
        if model.node_id == "write-pending":
            inputs: tuple[str, ...] = ("unsure-band",) if spec.preset == REVIEW_BAND else ("low",)
        else:
            inputs = _INPUTS[model.node_id]
        nodes.append(WorkflowNode(model.node_id, model.id, pinned.get(model.node_id, ""), inputs))
    return Workflow(spec.workflow_id, tuple(nodes), description="auto-annotation (wizard)")


# -- planning -----------------------------------------------------------------------------------

Action = Literal["create", "update", "keep"]


@dataclass(frozen=True)
class ModelStep:
    """What happens to one model. `update` of a thresholder or writer is a new version with
    the wanted configuration (never PatchModels: the platform keeps a configuration in
    versions); `update` of the classifier is its new training. `version_id` is the version a
    kept model's node pins."""

    model: ModelSpec
    action: Action
    reason: str = ""
    version_id: str = ""

    @property
    def trainable(self) -> bool:
        return self.model.model_type_id == EMBEDDING_CLASSIFIER

    def describe(self) -> str:
        kind = f"({self.model.model_type_id})"
        if self.action == "keep":
            held = f", version {self.version_id[:12]}" if self.version_id else ""
            line = f"keep   model {self.model.id} {kind}{held}"
        elif self.action == "create" and self.trainable:
            line = f"create model {self.model.id} {kind}"
        elif self.action == "create":
            line = f"create model {self.model.id} {kind} and its first version"
        elif self.trainable:
            line = f"update model {self.model.id} {kind}: the new training learns them"
        else:
            line = f"update model {self.model.id} {kind}: a new version"
        return f"{line}: {self.reason}" if self.reason else line


@dataclass(frozen=True)
class WizardPlan:
    spec: WizardSpec
    models: tuple[ModelStep, ...]
    workflow_action: Action
    conflicts: tuple[str, ...] = ()
    #: An app-local embedder an earlier wizard made (`<workflow>-embed`): the workflow moves
    #: to the public one, and the old model stays, unused.
    old_embedder: str = ""

    def describe(self) -> list[str]:
        """One line per piece: what will happen to it."""
        lines = [
            f"use    model {PUBLIC_USER_ID}/{PUBLIC_APP_ID} · {PUBLIC_EMBEDDER_ID} "
            "(public: the embedder of the app's base workflow)"
        ]
        if self.old_embedder:
            lines.append(
                f"move   the embed node from {self.old_embedder} (an app-local embedder, which "
                f"the platform would not run) to {PUBLIC_USER_ID}/{PUBLIC_APP_ID} · "
                f"{PUBLIC_EMBEDDER_ID}; {self.old_embedder} stays, unused"
            )
        lines.extend(step.describe() for step in self.models)
        lines.append(f"train  model {self.spec.model_id('classify')} (a new version)")
        lines.append(f"{self.workflow_action:<6} workflow {self.spec.workflow_id}")
        lines.extend(f"CONFLICT {c}" for c in self.conflicts)
        return lines


def _same_number(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6


def model_difference(existing: Model, want: ModelSpec) -> str:
    """What differs between a stored model and what the setup wants ("" when nothing)."""
    diffs: list[str] = []
    if want.model_type_id != EMBEDDING_CLASSIFIER and existing.version is None:
        return "it has no version yet"
    if want.model_type_id == EMBEDDING_CLASSIFIER:
        if {c.id for c in existing.concepts} != {c.id for c in want.concepts}:
            diffs.append("concepts")
    elif want.model_type_id == CONCEPT_THRESHOLDER:
        have = {c.id: c.value for c in existing.concepts}
        wanted = {c.id: c.value for c in want.concepts}
        if have.keys() != wanted.keys() or any(
            not _same_number(have[k], v) for k, v in wanted.items()
        ):
            diffs.append("thresholds")
        if comparator_of(existing.params) != comparator_of(want.params):
            diffs.append("comparator")
    elif want.model_type_id == ANNOTATION_WRITER:
        if writer_status_of(existing.params) != writer_status_of(want.params):
            diffs.append("status")
        if existing.params.get("annotation_user_id") != want.params.get("annotation_user_id"):
            diffs.append("annotation user")
    return ", ".join(diffs)


def plan(
    spec: WizardSpec,
    models: Mapping[str, Model],
    workflow_ids: Collection[str],
) -> WizardPlan:
    """What to create, update or keep so the app holds exactly what `spec` asks for."""
    steps: list[ModelStep] = []
    conflicts: list[str] = []
    for want in desired_models(spec):
        have = models.get(want.id)
        if have is None:
            steps.append(ModelStep(want, "create"))
            continue
        if canonical_type(have.model_type_id) != want.model_type_id:
            conflicts.append(
                f"model {want.id!r} exists as a {have.model_type_id}, not a "
                f"{want.model_type_id}: pick another workflow id"
            )
            steps.append(ModelStep(want, "keep", "conflict"))
            continue
        diff = model_difference(have, want)
        if diff:
            steps.append(ModelStep(want, "update", diff))
        else:
            held = have.version.id if have.version is not None else ""
            steps.append(ModelStep(want, "keep", version_id=held))
    action: Action = "update" if spec.workflow_id in workflow_ids else "create"
    old = spec.model_id("embed")
    old_embedder = old if old in models and action == "update" else ""
    return WizardPlan(spec, tuple(steps), action, tuple(conflicts), old_embedder)
