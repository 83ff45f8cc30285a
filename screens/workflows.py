"""The Workflows area: the app's workflows, the graph of the selected one, editing by keyboard,
dry runs and the app's default workflow; `v` moves a node to another version of its model.

Edits go to a draft per workflow (marked `*` in the list) until `s` saves it: PostWorkflows
for a new workflow, PatchWorkflows (overwrite) for an existing one. Connections that would
make a cycle or join mismatched types are refused with the reason when you make them, and
the whole graph is checked again before it is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from api.autoannotate import (
    KINDS,
    edge_problem,
    public_node_models,
    with_public_models,
    workflow_problems,
)
from api.errors import ApiError
from api.models import (
    PUBLIC_APP_ID,
    PUBLIC_USER_ID,
    Model,
    ModelVersion,
    Workflow,
    WorkflowNode,
)
from tui.widgets.area import AreaScreen
from tui.widgets.forms import (
    ConfirmScreen,
    IdValidator,
    PickScreen,
    PromptScreen,
    error_text,
    scoped_bindings,
)
from tui.widgets.graph import GraphView
from tui.widgets.quit import Pending
from tui.widgets.registry import make_screen
from tui.widgets.text import safe
from tui.widgets.workflow_graph import (
    Pinned,
    add_node,
    connect,
    delete_node,
    disconnect,
    fitted_graph,
    model_types,
    node_detail,
    node_model,
    pin_version,
    rename_node,
    version_settings,
)

DEFAULT_MARK = "★"


class WorkflowGraphView(GraphView):
    """The graph of a workflow, its boxes worded to fit the width (see `fitted_graph`)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._workflow: tuple[list[WorkflowNode], dict[str, Model], Pinned] = ([], {}, {})
        self._worded_for: int | None = None

    def show(
        self,
        nodes: list[WorkflowNode],
        models: dict[str, Model],
        *,
        selected: str | None = None,
        pinned: Pinned | None = None,
    ) -> None:
        self._workflow = (list(nodes), dict(models), dict(pinned or {}))
        self._word(selected)

    def _word(self, selected: str | None = None) -> None:
        width = self.scrollable_content_region.width if self.is_mounted else 0
        self._worded_for = width
        nodes, models, pinned = self._workflow
        self.set_graph(fitted_graph(nodes, models, width, pinned), selected=selected)

    def on_resize(self) -> None:  # runs before GraphView's, which then has nothing to redo
        if self.scrollable_content_region.width != self._worded_for:
            self._word()


#: A public model's owner, and the prefix of its key in the add-node picker.
PUBLIC_OWNER = (PUBLIC_USER_ID, PUBLIC_APP_ID)
PUBLIC_PREFIX = f"{PUBLIC_USER_ID}/{PUBLIC_APP_ID}/"


class WorkflowsScreen(AreaScreen):
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

    # ------------------------------------------------------------------ editing
    def action_new_workflow(self) -> None:
        if not self.loaded:
            return
        taken = {*self.workflows, *self.drafts}

        def made(workflow_id: str | None) -> None:
            if workflow_id:
                self.current = workflow_id
                self.drafts[workflow_id] = []
                self.fill_list()
                self.show_graph()

        self.ask(
            PromptScreen(
                "New workflow id", validators=[IdValidator(lambda: taken, what="workflow id")]
            ),
            made,
        )

    def action_add_node(self) -> None:
        if not self._need_workflow():
            return
        self.run_worker(
            self._pick_model(self.selected_node()),
            group="add-node",
            exclusive=True,
            exit_on_error=False,
        )

    async def _pick_model(self, after: WorkflowNode | None) -> None:
        """Offer this app's models and the public embedders of clarifai/main (issue #22)."""
        client = self.session.app_client()
        try:
            public = await public_node_models(client)
        except ApiError as exc:
            public = []
            self.info(f"public models not listed ({exc}): this app's models only")
        own = [m for m in self.models.values() if (m.user_id, m.app_id) != PUBLIC_OWNER]
        if not own and not public:
            self.refuse("the app has no models: create them in Models (3) first")
            return
        options = [(m.id, f"{m.id}  ({m.model_type_id})") for m in own]
        options += [
            (f"{PUBLIC_PREFIX}{m.id}", f"{PUBLIC_USER_ID}/{PUBLIC_APP_ID} · {m.id}  (public)")
            for m in public
        ]
        by_key = {f"{PUBLIC_PREFIX}{m.id}": m for m in public}

        def picked(key: str | None) -> None:
            if not key:
                return
            model = by_key.get(key)
            if model is not None:
                have = self.models.get(model.id)
                if have is not None and (have.user_id, have.app_id) != PUBLIC_OWNER:
                    self.refuse(
                        f"this app has its own model {model.id}: "
                        "a public model of the same id cannot be added here"
                    )
                    return
                self.models[model.id] = model
                key = model.id
            self._name_node(key, after)

        self.ask(
            PickScreen(
                "Add a node: which model?",
                [(k, safe(label, one_line=True)) for k, label in options],
            ),
            picked,
        )

    def _name_node(self, model_id: str | None, after: WorkflowNode | None) -> None:
        if not model_id:
            return
        taken = {n.id for n in self.nodes}
        suggestion = model_id
        n = 2
        while suggestion in taken:
            suggestion, n = f"{model_id}-{n}", n + 1
        self.ask(
            PromptScreen(
                f"Node id for model {model_id}",
                value=suggestion,
                validators=[IdValidator(lambda: taken, what="node id")],
            ),
            lambda node_id: self._added(node_id, model_id, after),
        )

    def _added(self, node_id: str | None, model_id: str, after: WorkflowNode | None) -> None:
        if not node_id:
            return
        nodes = add_node(self.nodes, node_id, model_id, model=self.models.get(model_id))
        note = f"added {node_id}"
        types = model_types(self.models)
        takes = KINDS.get(types.get(model_id, ""), ("", ""))[0]
        if after is not None and takes != "image":
            problem = edge_problem(nodes, node_id, after.id, types)
            if problem is None:
                nodes = connect(nodes, node_id, after.id)
                note += f", fed from {after.id}"
            else:
                note += f" (not connected to {after.id}: {problem}); c connects it"
        elif takes != "image":
            note += "; c connects its input"
        self.edit(nodes, selected=node_id, note=note)

    def action_connect(self) -> None:
        target = self._need_node()
        if target is None:
            return
        sources = [n for n in self.nodes if n.id != target.id and n.id not in target.node_inputs]
        if not sources:
            self.refuse(f"no other node to feed {target.id}")
            return
        options = [(n.id, n.id) for n in sources]
        self.ask(
            PickScreen(f"Feed {target.id} from which node?", options),
            lambda source: self._connect(target.id, source),
        )

    def _connect(self, target: str, source: str | None) -> None:
        if not source:
            return
        problem = edge_problem(self.nodes, target, source, model_types(self.models))
        if problem is not None:
            self.refuse(problem)
            return
        self.edit(
            connect(self.nodes, target, source),
            selected=target,
            note=f"{target} now takes input from {source}",
        )

    def action_disconnect(self) -> None:
        target = self._need_node()
        if target is None:
            return
        if not target.node_inputs:
            self.refuse(f"{target.id} takes the workflow input: nothing to disconnect")
            return
        options = [(s, s) for s in target.node_inputs]

        def picked(source: str | None) -> None:
            if source:
                self.edit(
                    disconnect(self.nodes, target.id, source),
                    selected=target.id,
                    note=f"{target.id} no longer takes input from {source}",
                )

        self.ask(PickScreen(f"Stop feeding {target.id} from?", options), picked)

    def action_delete_node(self) -> None:
        node = self._need_node()
        if node is None:
            return
        self.edit(delete_node(self.nodes, node.id), note=f"deleted {node.id} (u undoes edits)")

    def action_rename(self) -> None:
        node = self._need_node()
        if node is None:
            return
        taken = {n.id for n in self.nodes if n.id != node.id}

        def named(new: str | None) -> None:
            if new and new != node.id:
                self.edit(
                    rename_node(self.nodes, node.id, new),
                    selected=new,
                    note=f"renamed {node.id} to {new}",
                )

        self.ask(
            PromptScreen(
                f"Rename node {node.id}",
                value=node.id,
                validators=[IdValidator(lambda: taken, what="node id")],
            ),
            named,
        )

    def action_move_version(self) -> None:
        """Point the selected node at another ready version of its model (a draft edit: `s`
        saves it with PatchWorkflows)."""
        node = self._need_node()
        if node is None:
            return
        if node.is_public:
            self.refuse(f"{node.id} runs a public model of {node.model_label}: its version is kept")
            return
        if node.model_id not in self.models:
            self.refuse(f"{node.id}: model {node.model_id} is missing from this app")
            return
        self.run_worker(
            self._pick_version(node), group="pick-version", exclusive=True, exit_on_error=False
        )

    async def _pick_version(self, node: WorkflowNode) -> None:
        model = self.models[node.model_id]
        try:
            versions = await self.session.app_client().versions_with_config(node.model_id, limit=20)
        except ApiError as exc:
            self.refuse(f"versions of {node.model_id} not listed: {error_text(exc)}")
            return
        ready = [v for v in versions if v.trained]
        if not ready:
            self.refuse(f"{node.model_id} has no ready version: make one in Models (3), v")
            return
        for version in ready:
            self.pinned.setdefault((node.model_id, version.id), version)
        options = []
        for version in ready:
            marks = ["latest"] if version.id == versions[0].id else []
            if version.id == node.model_version_id:
                marks.append("pinned now")
            settings = version_settings(model, version)
            when = version.created_at.strftime("%Y-%m-%d %H:%M") if version.created_at else ""
            label = f"{version.id[:8]}  {settings}  {when}  {' '.join(marks)}".rstrip()
            options.append((version.id, safe(label, one_line=True)))

        def picked(version_id: str | None) -> None:
            if not version_id or version_id == node.model_version_id:
                return
            self.edit(
                pin_version(self.nodes, node.id, version_id),
                selected=node.id,
                note=f"{node.id} now runs version {version_id[:8]} of {node.model_id} (s saves)",
            )

        self.ask(PickScreen(f"Version of {node.model_id} for node {node.id}", options), picked)

    def action_revert(self) -> None:
        if self.current is None or self.current not in self.drafts:
            return
        del self.drafts[self.current]
        if self.current not in self.workflows:
            self.current = next(iter(self.workflows), None)
        self.fill_list()
        self.show_graph()
        self.info("edits undone")

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
