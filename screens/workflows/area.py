"""The Workflows area's state and what it shows: the workflows and the drafts being edited,
loading them with their models, the list, the graph and the info line, and the checks the
edit and save actions start with. `WorkflowsScreen` builds on it (edits in `editing.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from api.autoannotate import with_public_models
from api.errors import ApiError
from api.models import Model, ModelVersion, Workflow, WorkflowNode
from screens.workflows.graph_view import WorkflowGraphView
from tui.widgets.area import AreaScreen
from tui.widgets.graph import GraphView
from tui.widgets.text import safe
from tui.widgets.workflow_graph import node_detail, node_model

DEFAULT_MARK = "★"


class WorkflowsArea(AreaScreen):
    """The state of the Workflows area and how it is shown (no keys of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, Model] = {}
        self.workflows: dict[str, Workflow] = {}
        self.drafts: dict[str, list[WorkflowNode]] = {}
        #: The configuration of versions nodes pin other than their model's latest.
        self.pinned: dict[tuple[str, str], ModelVersion] = {}
        self.default_id = ""
        self.current: str | None = None
        self.loaded = False
        self._dialogs = 0  # our dialogs open (each one's closing resumes this screen)

    def compose_body(self) -> ComposeResult:
        yield OptionList(id="workflow-list")
        yield WorkflowGraphView(id="graph")
        yield Static("", id="wf-info", markup=False)

    def on_mount(self) -> None:
        # The graph gets the full width (app.tcss pads the area body; inline styles win).
        self.query_one("#area-body").styles.padding = 0
        self.query_one(GraphView).focus()
        self.action_refresh()

    def on_session_changed(self) -> None:
        super().on_session_changed()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        # Back from another area (models may have changed): reload. Back from one of our own
        # dialogs: keep what the info line says.
        if self._dialogs:
            self._dialogs -= 1
        elif self.loaded:
            self.action_refresh()

    def ask(self, dialog: Screen[Any], callback: Callable[[Any], None]) -> None:
        """Open one of this area's dialogs (no reload when it closes)."""
        self._dialogs += 1
        self.app.push_screen(dialog, callback)

    # ------------------------------------------------------------------ state
    @property
    def graph(self) -> WorkflowGraphView:
        return self.query_one(WorkflowGraphView)

    @property
    def nodes(self) -> list[WorkflowNode]:
        """The nodes shown: the draft if there is one, else the saved workflow's."""
        if self.current is None:
            return []
        if self.current in self.drafts:
            return self.drafts[self.current]
        saved = self.workflows.get(self.current)
        return list(saved.nodes) if saved else []

    def is_dirty(self, workflow_id: str) -> bool:
        saved = self.workflows.get(workflow_id)
        draft = self.drafts.get(workflow_id)
        return draft is not None and (saved is None or tuple(draft) != saved.nodes)

    def info(self, text: str, *, refused: bool = False) -> None:
        widget = self.query_one("#wf-info", Static)
        widget.update(safe(text))  # names model and node ids a server sent
        widget.set_class(refused, "-refused")

    def refuse(self, reason: str) -> None:
        self.info(reason, refused=True)
        self.app.notify(reason, title="refused", severity="warning")

    # ------------------------------------------------------------------ loading
    def action_refresh(self) -> None:
        if not self.session.connected or not self.session.app_id:
            self.info(
                self.session.waiting_text
                if not self.session.connected
                else "no app selected: ctrl+o picks or creates one"
            )
            return
        self.run_worker(self._load, group="load", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]

    async def _load(self) -> None:
        client = self.session.app_client()
        workflows = {w.id: w async for w in client.iter_workflows()}
        nodes = [n for w in workflows.values() for n in w.nodes]
        models = await with_public_models(client, await client.list_models_with_config(), nodes)
        app = await client.get_app()
        await self._read_pinned(nodes, models)
        self.models, self.workflows = models, workflows
        self.default_id = app.own_default_workflow
        self.loaded = True
        if self.current is None or (
            self.current not in workflows and self.current not in self.drafts
        ):
            self.current = self.default_id or next(iter(workflows), None)
        self.fill_list()
        self.show_graph()

    async def _read_pinned(self, nodes: list[WorkflowNode], models: dict[str, Model]) -> None:
        """Read the settings of each version a node pins when it is not its model's latest
        (whose settings `models` has), so the graph shows what the node runs."""
        client = self.session.app_client()
        wanted = {
            (n.model_id, n.model_version_id)
            for n in nodes
            if n.model_version_id
            and not n.is_public
            and (model := models.get(n.model_id)) is not None
            and (model.version is None or model.version.id != n.model_version_id)
            and (n.model_id, n.model_version_id) not in self.pinned
        }
        for model_id, version_id in sorted(wanted):
            try:
                self.pinned[model_id, version_id] = await client.version_with_config(
                    model_id, version_id
                )
            except ApiError:
                continue  # the detail line shows the model's latest settings instead

    def fill_list(self) -> None:
        listing = self.query_one("#workflow-list", OptionList)
        ids = list(dict.fromkeys([*self.workflows, *self.drafts]))
        listing.clear_options()
        for wid in ids:
            mark = DEFAULT_MARK if wid == self.default_id else " "
            note = " (default: runs on every new input)" if wid == self.default_id else ""
            if wid not in self.workflows:
                note += " (new, not saved)"
            elif self.is_dirty(wid):
                note += " (edited, s saves)"
            star = "*" if self.is_dirty(wid) else ""
            listing.add_option(Option(f"{mark} {wid}{star}{note}", id=wid))
        if not ids:
            listing.add_option(Option("no workflows: n makes one, w runs the wizard", id=""))
        if self.current in ids:
            listing.highlighted = ids.index(self.current)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        wid = event.option.id
        if wid and wid != self.current:
            self.current = wid
            self.show_graph()

    def show_graph(self, selected: str | None = None) -> None:
        nodes = self.nodes
        self.graph.show(nodes, self.models, selected=selected, pinned=self.pinned)
        if self.current is None:
            self.info("No workflow yet: n makes one, w runs the auto-annotation wizard.")
        elif not nodes:
            self.info(f"{self.current} has no nodes: a adds one.")
        else:
            self.describe_selected()

    def describe_selected(self) -> None:
        node = self.selected_node()
        if node is not None:
            model = self.models.get(node.model_id)
            latest = model.version.id if model is not None and model.version else ""
            self.info(node_detail(node, node_model(node, self.models, self.pinned), latest))

    def on_graph_view_node_selected(self, event: GraphView.NodeSelected) -> None:
        self.describe_selected()

    def selected_node(self) -> WorkflowNode | None:
        wanted = self.graph.selected
        return next((n for n in self.nodes if n.id == wanted), None)

    def edit(
        self, nodes: list[WorkflowNode], *, selected: str | None = None, note: str = ""
    ) -> None:
        assert self.current is not None
        self.drafts[self.current] = nodes
        self.fill_list()
        self.show_graph(selected)
        if note:
            self.info(note)

    def _need_workflow(self) -> bool:
        if self.current is None:
            self.refuse("no workflow selected: n makes one")
            return False
        return True

    def _need_node(self) -> WorkflowNode | None:
        if not self._need_workflow():
            return None
        node = self.selected_node()
        if node is None:
            self.refuse("select a node first (arrows or h/j/k/l in the graph)")
        return node
