"""Workflow checks: a graph is validated against the app's models before it is stored,
every node pinned to a version, and an app's default workflow must index its inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.local.automation.core import AutomationCore, is_trainable
from api.local.engine import (
    WORKFLOW_INVALID_ARGUMENT,
    ModelEntry,
    NodeSpec,
    WorkflowError,
    validate,
)
from api.local.modelstore import MODEL_UNTRAINED, node_key
from api.local.nodes.types import VISUAL_EMBEDDER, normalise_type_id
from api.local.status import ApiFailure


class WorkflowChecks(AutomationCore):
    """PostWorkflows' and PatchWorkflows' checks, and PatchApps' for a default workflow."""

    def catalog(self, app_pk: int, nodes: Sequence[dict[str, Any]]) -> dict[str, ModelEntry]:
        models = self.models.node_models(app_pk, nodes)
        versions = self.models.version_ids([m.pk for m in models.values()])
        return {
            key: ModelEntry(m.model_type_id, tuple(versions.get(m.pk, ())))
            for key, m in models.items()
        }

    def check_workflow(self, app_pk: int, nodes: list[dict[str, Any]]) -> None:
        """Validate a graph against the app's models; ApiFailure with the engine's code."""
        specs = [
            NodeSpec(
                id=str(n["id"]),
                model_id=str(n["model_id"]),
                model_version_id=str(n.get("model_version_id", "")),
                node_inputs=list(n.get("node_inputs", [])),
                suppress_output=bool(n.get("suppress_output", False)),
                model_key=node_key(n),
            )
            for n in nodes
        ]
        try:
            validate(specs, self.catalog(app_pk, nodes))
        except WorkflowError as exc:
            raise ApiFailure(exc.code, exc.description) from None
        self._refuse_untrained_embedders(app_pk, nodes)
        self._pin_versions(app_pk, nodes)

    def _pin_versions(self, app_pk: int, nodes: list[dict[str, Any]]) -> None:
        """Every node pins a version, as on the platform: a node sent without one gets its
        model's latest (latest trained, for a trainable model) at the time of the write, so a
        later version changes no workflow until a node is moved to it. A model with no
        version at all cannot run: refused, naming PostModelVersions."""
        models = self.models.node_models(app_pk, nodes)
        for node in nodes:
            if node.get("model_version_id"):
                continue
            model = models[node_key(node)]  # validate() found every node's model
            version = None
            if is_trainable(model.model_type_id):
                version = self.models.latest_trained(model.pk)
            if version is None:
                version = self.models.operator_version(model, "")
            if version is None:
                raise ApiFailure(
                    WORKFLOW_INVALID_ARGUMENT,
                    f"node {node['id']!r} uses model {model.id!r}, which has no version yet: "
                    "create one with PostModelVersions (a thresholder's or writer's "
                    "configuration goes in its output_info), then build the workflow",
                )
            node["model_version_id"] = version.id

    def _refuse_untrained_embedders(self, app_pk: int, nodes: Sequence[dict[str, Any]]) -> None:
        """As on the platform, an app-local ``visual-embedder`` runs only once it has a trained
        version (the platform trains no embedder of the app's own: it is a custom model someone
        uploaded). PostModels makes none here, so only data dirs from before the public app
        (whose embedder models got a ready version at creation) have one."""
        public_pk = self.models.public_app_pk()
        for node in nodes:
            model = self.models.node_models(app_pk, [node]).get(node_key(node))
            if model is None or model.app_pk == public_pk:
                continue
            if normalise_type_id(model.model_type_id) != VISUAL_EMBEDDER:
                continue
            if self.models.latest_trained(model.pk) is None:
                raise ApiFailure(
                    MODEL_UNTRAINED,
                    f"node {node['id']!r} uses model {model.id!r}, a visual-embedder of this app "
                    "with no trained version, which cannot run; use clarifai/main's "
                    "general-image-embedding (model.user_id 'clarifai', model.app_id 'main'), "
                    "the embedder that indexes the app's inputs",
                )

    # -- PatchApps hook ------------------------------------------------------------------------

    def check_default_workflow(self, user_id: str, app_id: str, workflow_id: str) -> None:
        from api.local.modelstore import workflow_missing

        app = self.store.get_app(user_id, app_id)
        if app is None:
            return  # PatchApps answers "app does not exist" itself
        workflow = self.models.get_workflow(app.pk, workflow_id)
        if workflow is None:
            raise workflow_missing(workflow_id)
        # As on the platform, the default workflow indexes new inputs: it must keep the base
        # workflow's embedder (an app-local embedder does not index the app).
        public_pk = self.models.public_app_pk()
        models = self.models.node_models(app.pk, workflow.nodes)
        if not any(
            m.app_pk == public_pk and normalise_type_id(m.model_type_id) == VISUAL_EMBEDDER
            for m in models.values()
        ):
            raise ApiFailure(
                WORKFLOW_INVALID_ARGUMENT,
                f"workflow '{workflow_id}' has no embedding node with clarifai/main's "
                "general-image-embedding, which indexes the app's inputs: as the default it "
                "would leave new inputs unindexed; start it with that node (as the base "
                "workflow Universal does)",
            )
