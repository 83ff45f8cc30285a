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
- `workflow_problems(nodes, types)` and `edge_problem(...)`: the engine's graph rules (ids,
  cycles, what flows along an edge), so the editor can refuse a change with the reason
  before the server sees it.
"""

from __future__ import annotations

import asyncio
import math
import re
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

# -- model types and what flows between them --------------------------------------------------

VISUAL_EMBEDDER: Final = "visual-embedder"
EMBEDDING_CLASSIFIER: Final = "embedding-classifier"
CONCEPT_THRESHOLDER: Final = "concept-thresholder"
ANNOTATION_WRITER: Final = "annotation-writer"
MODEL_TYPES: Final = (VISUAL_EMBEDDER, EMBEDDING_CLASSIFIER, CONCEPT_THRESHOLDER, ANNOTATION_WRITER)
TYPE_ALIASES: Final = {"concept-threshold": CONCEPT_THRESHOLDER}
TYPE_TITLES: Final = {
    VISUAL_EMBEDDER: "Visual Embedder",
    EMBEDDING_CLASSIFIER: "Context-Based Classifier",
    CONCEPT_THRESHOLDER: "Concept Thresholder",
    ANNOTATION_WRITER: "Annotation Writer",
}
#: (what a type takes, what it gives): the engine's rules.
KINDS: Final[dict[str, tuple[str, str]]] = {
    VISUAL_EMBEDDER: ("image", "embeddings"),
    EMBEDDING_CLASSIFIER: ("embeddings", "concepts"),
    CONCEPT_THRESHOLDER: ("concepts", "concepts"),
    ANNOTATION_WRITER: ("concepts", "annotation"),
}

DEFAULT_HIGH: Final = 0.9
DEFAULT_LOW: Final = 0.5
DEFAULT_WORKFLOW_ID: Final = "auto-annotate"

COMPARATOR_SYMBOLS: Final = {
    ValueComparator.CONCEPT_THRESHOLD_NOT_SET: ">=",
    ValueComparator.GREATER_THAN: ">",
    ValueComparator.GREATER_THAN_OR_EQUAL: ">=",
    ValueComparator.LESS_THAN: "<",
    ValueComparator.LESS_THAN_OR_EQUAL: "<=",
    ValueComparator.EQUAL: "==",
}
WRITER_STATUSES: Final = {
    AnnotationStatus.SUCCESS: "SUCCESS",
    AnnotationStatus.PENDING: "PENDING",
}

Preset = Literal["review-band", "tutorial"]
REVIEW_BAND: Final[Preset] = "review-band"
TUTORIAL: Final[Preset] = "tutorial"
PRESETS: Final[dict[Preset, str]] = {
    REVIEW_BAND: "review band (recommended): > low and <= high -> PENDING",
    TUTORIAL: "tutorial: < low -> PENDING (reviews the least likely)",
}

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")


def canonical_type(type_id: str) -> str:
    return TYPE_ALIASES.get(type_id, type_id)


def id_problem(value: str, taken: Collection[str] = (), *, what: str = "id") -> str | None:
    """Why `value` is not a usable new id (None when it is)."""
    if not value:
        return f"the {what} is required"
    if not _ID.match(value):
        return f"the {what} takes 1-48 letters, digits, '-' or '_', starting with a letter or digit"
    if value in taken:
        return f"{value!r} is already taken"
    return None


def threshold_problem(text: str) -> str | None:
    """Why `text` is not a threshold in [0, 1] (None when it is)."""
    try:
        value = float(text)
    except ValueError:
        return "a threshold is a number between 0 and 1"
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        return "a threshold is between 0 and 1 (0 <= t <= 1)"
    return None


def comparator_of(params: Mapping[str, Any]) -> ValueComparator:
    """A thresholder's `concept_threshold_type` (number, float or name) as the enum."""
    raw = params.get("concept_threshold_type")
    if raw is None:
        return ValueComparator.CONCEPT_THRESHOLD_NOT_SET
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return ValueComparator(int(raw))
        except ValueError:
            return ValueComparator.CONCEPT_THRESHOLD_NOT_SET
    text = str(raw).strip().upper()
    if text.isdigit():
        return comparator_of({"concept_threshold_type": int(text)})
    return ValueComparator.__members__.get(text, ValueComparator.CONCEPT_THRESHOLD_NOT_SET)


def writer_status_of(params: Mapping[str, Any]) -> int:
    """A writer's `annotation_status` (number, float or name) as a code (0 if unreadable)."""
    raw = params.get("annotation_status")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return int(raw)
    text = str(raw or "").strip().upper()
    if text.isdigit():
        return int(text)
    for code, name in WRITER_STATUSES.items():
        if text in (name, f"ANNOTATION_{name}"):
            return int(code)
    return 0


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
