"""The auto-annotation setup: a wizard's plan carried out through a client, and the one place
the screens take the setup's names from.

No Textual, no `api.local`: the wizard screen and the Workflows area use it, and it is tested
without a terminal.

- `WizardSpec`, `desired_models`, `desired_workflow` and `plan` (the answers, the models and
  graph they call for, and what to create, update or keep) live in `api.wizard_plan`, pure
  data with no client.
- `fetch_state`: the app's models and workflow ids a plan is made against.
- `apply_models`, `train_and_wait`, `apply_workflow`: carry a plan out through a client,
  falling back to an update when a create finds the piece already there (idempotent).
- The model types and their settings live in `api.model_types`, the graph rules
  (`workflow_problems`, `edge_problem`, `find_cycle`) in `api.workflow_rules`; both are
  re-exported here for the modules that take them from this one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from api.errors import ApiError, status_name
from api.models import (
    PUBLIC_APP_ID,
    PUBLIC_EMBEDDER_ID,
    PUBLIC_USER_ID,
    Concept,
    Model,
    ModelVersion,
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
from api.wizard_plan import (
    Action,
    ModelSpec,
    ModelStep,
    WizardPlan,
    WizardSpec,
    desired_models,
    desired_workflow,
    embed_node,
    model_difference,
    plan,
)
from api.workflow_rules import edge_problem, find_cycle, workflow_problems

#: Re-exported: the model types (api.model_types), the graph rules (api.workflow_rules) and
#: the answers and plan (api.wizard_plan) are taken from this module by the screens, widgets
#: and tests.
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
    "Action",
    "ModelSpec",
    "ModelStep",
    "Preset",
    "WizardPlan",
    "WizardSpec",
    "canonical_type",
    "comparator_of",
    "desired_models",
    "desired_workflow",
    "edge_problem",
    "embed_node",
    "find_cycle",
    "id_problem",
    "model_difference",
    "plan",
    "threshold_problem",
    "workflow_problems",
    "writer_status_of",
]

# -- carrying a plan out ------------------------------------------------------------------------

Report = Callable[[str], None]


async def public_embedder_version(client: ClarifaiClient) -> str:
    """The version of clarifai/main's general-image-embedding (GetModel on that app), which
    the embed node pins, as the docs and the SDK pin every node's version."""
    model = await client.for_app(PUBLIC_USER_ID, PUBLIC_APP_ID).get_model(PUBLIC_EMBEDDER_ID)
    return model.version.id if model.version is not None else ""


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
