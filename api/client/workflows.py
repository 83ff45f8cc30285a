"""Workflows: list, get, create, patch, delete, and runs on inputs (PostWorkflowResults)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Final

from api import wire
from api.client.core import DEFAULT_PER_PAGE, ClientCore, PatchAction
from api.models import InputRef, Page, Workflow, WorkflowNode, WorkflowResult

#: PostWorkflowResults takes at most 32 inputs a call (Clarifai docs; the official SDK's
#: MAX_WORKFLOW_PREDICT_INPUTS): larger dry runs are sent in calls of 32.
MAX_WORKFLOW_INPUTS: Final = 32


class WorkflowCalls(ClientCore):
    """The calls on an app's workflows."""

    async def list_workflows(
        self, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE
    ) -> Page[Workflow]:
        return await self._list(
            self._app_path("workflows"),
            "workflows",
            wire.workflow_from,
            page=page,
            per_page=per_page,
        )

    def iter_workflows(self, *, per_page: int = DEFAULT_PER_PAGE) -> AsyncIterator[Workflow]:
        return self._iterate(lambda p, n: self.list_workflows(page=p, per_page=n), per_page)

    async def get_workflow(self, workflow_id: str) -> Workflow:
        body = await self._call("GET", self._app_path("workflows", workflow_id))
        return wire.workflow_from(wire.single(body, "workflow"))

    async def create_workflow(self, workflow: Workflow) -> Workflow:
        body = await self._call(
            "POST", self._app_path("workflows"), json=wire.post_workflows_body([workflow])
        )
        workflows = wire.items(body, "workflows")
        return wire.workflow_from(workflows[0]) if workflows else workflow

    async def patch_workflow(
        self, workflow: Workflow, *, action: PatchAction = "overwrite"
    ) -> Workflow:
        """Replace a workflow's nodes (action `overwrite`)."""
        body = await self._call(
            "PATCH", self._app_path("workflows"), json=wire.patch_workflows_body([workflow], action)
        )
        workflows = wire.items(body, "workflows")
        return wire.workflow_from(workflows[0]) if workflows else workflow

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._call("DELETE", self._app_path("workflows", workflow_id))

    async def post_workflow_results(
        self,
        workflow_id: str,
        inputs: Sequence[InputRef],
        *,
        version_id: str | None = None,
        nodes: Sequence[WorkflowNode] | None = None,
    ) -> list[WorkflowResult]:
        """Run a workflow on inputs (existing ids, bytes or URLs), 32 a call, without adding
        them to the app. (The embedded backend writes nothing; the platform does not promise
        that for a workflow with annotation writers.)

        Each result has one NodeOutput per node, tagged with the node id (from `nodes` if
        given, else the response's workflow, else one GetWorkflow call).
        """
        parts = ["workflows", workflow_id]
        if version_id:
            parts += ["versions", version_id]
        results: list[WorkflowResult] = []
        for start in range(0, len(inputs), MAX_WORKFLOW_INPUTS):
            body = await self._call(
                "POST",
                self._app_path(*parts, "results"),
                json=wire.post_workflow_results_body(inputs[start : start + MAX_WORKFLOW_INPUTS]),
                batch_key="results",
            )
            part = wire.workflow_results_from(body, nodes)
            if nodes is None and wire.results_need_node_ids(part):
                nodes = (await self.get_workflow(workflow_id)).nodes
                part = wire.workflow_results_from(body, nodes)
            results.extend(part)
        return results
