"""The auto-annotation setup as plain data: what the wizard creates, and the workflow rules.

Pure (no Textual, no `api.local`): the wizard screen and the Workflows area use it, and it is
tested without a terminal.

- `WizardSpec`: the user's answers (concepts, thresholds, routing preset, user, ids).
- `desired_models(spec)` / `desired_workflow(spec, versions)`: the models and the graph the
  answers call for, every node pinning a version. Ids are derived from the workflow id, so a
  second run names the same pieces.
- `plan(spec, models, workflows)`: for each piece, `create`, `update` (with what differs:
  a new version, since a configuration lives in versions) or `keep`; ids held by a model of
  another type are conflicts (the run would fail there).
- `apply_models`, `train_and_wait`, `apply_workflow`: carry a plan out through a client,
  falling back to an update when a create finds the piece already there (idempotent).
- The model types and their settings live in `api.model_types`, the graph rules
  (`workflow_problems`, `edge_problem`, `find_cycle`) in `api.workflow_rules`; both are
  re-exported here for the modules that take them from this one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from api.errors import ApiError, status_name
from api.models import (
    PUBLIC_APP_ID,
    PUBLIC_EMBEDDER_ID,
    PUBLIC_USER_ID,
    AnnotationStatus,
    Concept,
    Model,
    ModelVersion,
    ValueComparator,
    Workflow,
    WorkflowNode,
)

if TYPE_CHECKING:
    from api.client import ClarifaiClient

from api.model_types import (
    ANNOTATION_WRITER,
    COMPARATOR_SYMBOLS,
    CONCEPT_THRESHOLDER,
    DEFAULT_HIGH,
    DEFAULT_LOW,
    DEFAULT_WORKFLOW_ID,
    EMBEDDING_CLASSIFIER,
    KINDS,
    MODEL_TYPES,
    PRESETS,
    REVIEW_BAND,
    TUTORIAL,
    TYPE_ALIASES,
    TYPE_TITLES,
    VISUAL_EMBEDDER,
    WRITER_STATUSES,
    Preset,
    canonical_type,
    comparator_of,
    id_problem,
    threshold_problem,
    writer_status_of,
)
from api.workflow_rules import (
    edge_problem,
    find_cycle,
    workflow_problems,
)

#: Re-exported: the model types (api.model_types) and the graph rules (api.workflow_rules)
#: are taken from this module by the screens and widgets.
__all__ = [
    "ANNOTATION_WRITER",
    "COMPARATOR_SYMBOLS",
    "CONCEPT_THRESHOLDER",
    "DEFAULT_HIGH",
    "DEFAULT_LOW",
    "DEFAULT_WORKFLOW_ID",
    "EMBEDDING_CLASSIFIER",
    "KINDS",
    "MODEL_TYPES",
    "PRESETS",
    "REVIEW_BAND",
    "TUTORIAL",
    "TYPE_ALIASES",
    "TYPE_TITLES",
    "VISUAL_EMBEDDER",
    "WRITER_STATUSES",
    "Preset",
    "canonical_type",
    "comparator_of",
    "edge_problem",
    "find_cycle",
    "id_problem",
    "threshold_problem",
    "workflow_problems",
    "writer_status_of",
]

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


async def public_embedder_version(client: ClarifaiClient) -> str:
    """The version of clarifai/main's general-image-embedding (GetModel on that app), which
    the embed node pins, as the docs and the SDK pin every node's version."""
    model = await client.for_app(PUBLIC_USER_ID, PUBLIC_APP_ID).get_model(PUBLIC_EMBEDDER_ID)
    return model.version.id if model.version is not None else ""


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


# -- carrying a plan out ------------------------------------------------------------------------

Report = Callable[[str], None]


async def fetch_state(client: ClarifaiClient) -> tuple[dict[str, Model], set[str]]:
    """The app's models by id (each with its configuration), the public embedder the wizard's
    workflow uses, and the app's workflow ids."""
    models = await with_public_models(
        client, await client.list_models_with_config(), [embed_node()]
    )
    workflows = {w.id async for w in client.iter_workflows()}
    return models, workflows


async def public_node_models(client: ClarifaiClient) -> list[Model]:
    """The models of clarifai/main a workflow node here can start from: its embedders
    (ListModels there filtered by type, one page of 100: on the platform that app holds
    thousands of models, of which a handful are image embedders). Each names its owner."""
    from dataclasses import replace

    public = client.for_app(PUBLIC_USER_ID, PUBLIC_APP_ID)
    page = await public.list_models(per_page=100, model_type_id=VISUAL_EMBEDDER)
    return [replace(m, user_id=PUBLIC_USER_ID, app_id=PUBLIC_APP_ID) for m in page]


async def with_public_models(
    client: ClarifaiClient, models: Sequence[Model], nodes: Sequence[WorkflowNode]
) -> dict[str, Model]:
    """``models`` by id, plus the public models (clarifai/main) that ``nodes`` use, by their
    id too unless the app has a model of that id: so a graph draws and checks them."""
    out = {m.id: m for m in models}
    public = client.for_app(PUBLIC_USER_ID, PUBLIC_APP_ID)
    for model_id in dict.fromkeys(n.model_id for n in nodes if n.is_public):
        if model_id not in out:
            out[model_id] = await public.get_model_output_info(model_id)
    return out


async def _ensure_model(client: ClarifaiClient, step: ModelStep) -> str:
    """Carry out one step; the version id its node pins ("" for the classifier, whose version
    comes from its training)."""
    want = step.model
    if step.action == "keep":
        return step.version_id
    if step.action == "create":
        try:
            await client.create_model(want.id, model_type_id=want.model_type_id)
        except ApiError as exc:
            if exc.retryable or exc.is_auth:
                raise
            try:  # created meanwhile (or by a create that answered late): give it a version
                await client.get_model(want.id)
            except ApiError:
                raise exc from None
    if step.trainable:
        return ""
    model = await client.create_model_version(
        want.id, concepts=list(want.concepts) or None, params=dict(want.params) or None
    )
    return model.version.id if model.version is not None else ""


async def apply_models(
    client: ClarifaiClient, the_plan: WizardPlan, report: Report
) -> dict[str, str]:
    """Create every model of the plan and give each thresholder and writer a version with
    its configuration (a new one where it changed; never duplicates a model: ids are fixed).
    Returns node id -> the version id that node pins."""
    if the_plan.conflicts:
        raise ValueError("; ".join(the_plan.conflicts))
    pinned: dict[str, str] = {}
    for step in the_plan.models:
        if step.action == "keep":
            verb = "reusing"
        elif step.trainable:
            verb = "creating" if step.action == "create" else "keeping"
        else:
            verb = "creating" if step.action == "create" else "new version of"
        report(f"{verb} {step.model.id} ({step.model.model_type_id})")
        version = await _ensure_model(client, step)
        if version:
            pinned[step.model.node_id] = version
    return pinned


class TrainingFailed(Exception):
    """A version settled without being trained; the message says why."""

    def __init__(self, version: ModelVersion) -> None:
        reason = version.status_details or version.status_description or "no reason given"
        name = status_name(version.status_code)
        super().__init__(f"training failed: {name} ({version.status_code}): {reason}")
        self.version = version


#: Polling a training version: the first look soon (the embedded backend trains in about a
#: second), then less and less often, up to every POLL_MAX seconds (the platform's trainings
#: take minutes, and the docs poll every few seconds).
POLL_FIRST = 0.2
POLL_MAX = 5.0


async def train_and_wait(
    client: ClarifaiClient,
    model_id: str,
    concepts: Sequence[Concept],
    *,
    on_status: Callable[[ModelVersion], None] | None = None,
    poll: float = POLL_FIRST,
    poll_max: float = POLL_MAX,
    timeout: float = 900.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ModelVersion:
    """Start training on `concepts` (PostModelVersions) and poll GetModelVersion until it
    settles; raises TrainingFailed with the status name for every failure code."""
    version = await client.train_model(model_id, concepts=concepts)
    return await wait_for_version(
        client,
        model_id,
        version,
        on_status=on_status,
        poll=poll,
        poll_max=poll_max,
        timeout=timeout,
        sleep=sleep,
    )


async def wait_for_version(
    client: ClarifaiClient,
    model_id: str,
    version: ModelVersion,
    *,
    on_status: Callable[[ModelVersion], None] | None = None,
    poll: float = POLL_FIRST,
    poll_max: float = POLL_MAX,
    timeout: float = 900.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ModelVersion:
    """Poll GetModelVersion until `version` settles (each look goes to `on_status`); raises
    TrainingFailed with the status name for every failure code."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    wait = poll
    while True:
        if on_status is not None:
            on_status(version)
        if version.settled:
            break
        if loop.time() > deadline:
            raise TimeoutError(f"training {model_id} did not finish within {timeout:.0f}s")
        await sleep(wait)
        wait = min(poll_max, wait * 2)
        version = await client.get_model_version(model_id, version.id)
    if not version.trained:
        raise TrainingFailed(version)
    return version


async def apply_workflow(
    client: ClarifaiClient,
    the_plan: WizardPlan,
    classifier_version_id: str,
    versions: Mapping[str, str] | None = None,
) -> Workflow:
    """Create the workflow, or overwrite its nodes when it exists; every node pins a version
    (`versions`: node id -> version id, as `apply_models` returns them)."""
    embedder = await public_embedder_version(client)
    workflow = desired_workflow(the_plan.spec, classifier_version_id, embedder, versions)
    if the_plan.workflow_action == "create":
        try:
            return await client.create_workflow(workflow)
        except ApiError as exc:
            if exc.retryable or exc.is_auth:
                raise
            try:
                await client.get_workflow(workflow.id)
            except ApiError:
                raise exc from None
    return await client.patch_workflow(workflow, action="overwrite")
