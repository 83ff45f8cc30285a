"""The Workflows area's screen: its keys, and saving, dry runs, the app's default workflow
and the wizard, over the state (`area.py`) and the edits (`editing.py`)."""

from __future__ import annotations

from typing import ClassVar

from api.autoannotate import workflow_problems
from api.models import Workflow
from screens.workflows.editing import GraphEditing
from tui.widgets.forms import ConfirmScreen, error_text, scoped_bindings
from tui.widgets.quit import Pending
from tui.widgets.registry import make_screen
from tui.widgets.workflow_graph import model_types


class WorkflowsScreen(GraphEditing):
    AREA: ClassVar[str] = "workflows"
    BINDINGS: ClassVar = scoped_bindings("workflows", "workflows.")
    DEFAULT_CSS = """
    WorkflowsScreen #workflow-list { height: auto; max-height: 4; border: none; }
    WorkflowsScreen #graph { height: 1fr; }
    WorkflowsScreen #wf-info {
        height: auto; max-height: 3; color: $text; background: $boost; padding: 0 1;
    }
    WorkflowsScreen #wf-info.-refused { color: $text-warning; }
    """

    def pending_work(self) -> list[Pending]:
        dirty = [w for w in self.drafts if self.is_dirty(w)]
        if not dirty:
            return []
        names = ", ".join(dirty)
        return [Pending(f"workflow {names}: edits not saved", save=self.save_all)]

    async def save_all(self) -> bool:
        """Save every edited workflow (for quit's `s`); False when one was refused."""
        for workflow_id in [w for w in self.drafts if self.is_dirty(w)]:
            nodes = self.drafts[workflow_id]
            problems = workflow_problems(nodes, model_types(self.models))
            if problems:
                self.refuse(f"{workflow_id} not saved: " + "; ".join(problems))
                return False
            await self._save(Workflow(workflow_id, tuple(nodes)))
            if self.is_dirty(workflow_id):
                return False
        return True

    # ------------------------------------------------------------------ saving
    def action_save(self) -> None:
        if not self._need_workflow():
            return
        assert self.current is not None
        if not self.is_dirty(self.current):
            self.info("nothing to save")
            return
        nodes = self.nodes
        problems = workflow_problems(nodes, model_types(self.models))
        if problems:
            self.refuse("not saved: " + "; ".join(problems))
            return
        workflow = Workflow(self.current, tuple(nodes))
        self.run_worker(self._save(workflow), group="save", exclusive=True, exit_on_error=False)

    async def _save(self, workflow: Workflow) -> None:
        client = self.session.app_client()
        try:
            if workflow.id in self.workflows:
                saved = await client.patch_workflow(workflow, action="overwrite")
            else:
                saved = await client.create_workflow(workflow)
        except Exception as exc:
            self.refuse(f"not saved: {error_text(exc)}")
            return
        self.workflows[workflow.id] = Workflow(
            saved.id or workflow.id, saved.nodes or workflow.nodes
        )
        self.drafts.pop(workflow.id, None)
        self.fill_list()
        self.show_graph(self.graph.selected)
        self.info(f"saved {workflow.id}")

    # ------------------------------------------------------------------ dry run and default
    def action_dry_run(self) -> None:
        if not self._need_workflow():
            return
        assert self.current is not None
        if self.current not in self.workflows or self.is_dirty(self.current):
            self.refuse("a dry run uses the saved workflow: s saves it first")
            return
        saved = self.workflows[self.current]
        self.app.push_screen(
            make_screen(
                "dry_run",
                self.session.app_client(),
                saved.id,
                saved.nodes,
                self.models,
                embedded=self.session.embedded,
            )
        )

    def action_toggle_default(self) -> None:
        if not self._need_workflow():
            return
        wid = self.current
        assert wid is not None
        app_id = self.session.app_id
        if wid == self.default_id:
            # As on Clarifai: an app always has a default workflow, and an empty id cannot be
            # sent (proto3 cannot tell it from "not sent"). Another workflow replaces it.
            self.refuse(
                f"{wid} is the default; an app always has one: to stop auto-annotation, make "
                "a workflow without writers the default (D on it)"
            )
            return
        if wid not in self.workflows or self.is_dirty(wid):
            self.refuse("save the workflow (s) before making it the default")
            return
        question = ConfirmScreen(
            f"Make {wid} the default workflow of {app_id}?",
            f"It will run on EVERY new input added to {app_id} from now on, and its "
            "annotation writers will write annotations on them."
            + (f" It replaces {self.default_id}." if self.default_id else ""),
        )
        target = wid

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._set_default(target), group="default", exit_on_error=False)

        self.ask(question, answered)

    async def _set_default(self, workflow_id: str) -> None:
        app = await self.session.app_client().set_default_workflow(workflow_id)
        self.default_id = app.own_default_workflow if app.id else workflow_id
        self.fill_list()
        self.info(f"{workflow_id} is the default: it runs on every new input")

    def action_wizard(self) -> None:
        try:
            self.session.app_client()
        except RuntimeError as exc:
            self.app.notify(str(exc), severity="warning")
            return
        self.app.push_screen(make_screen("wizard"), lambda _: self.action_refresh())
