"""The Workflows area's graph edits by keyboard: a new workflow, add a node (this app's
models or clarifai/main's public ones), connect, disconnect, delete, rename, move a node to
another version of its model, undo. Each edit goes to the workflow's draft, refused with the
reason when it would make a cycle or join mismatched types; saving is the screen's."""

from __future__ import annotations

from api.autoannotate import KINDS, edge_problem, public_node_models
from api.errors import ApiError
from api.models import PUBLIC_APP_ID, PUBLIC_USER_ID, WorkflowNode
from screens.workflows.area import WorkflowsArea
from tui.widgets.forms import IdValidator, PickScreen, PromptScreen, error_text
from tui.widgets.text import safe
from tui.widgets.workflow_graph import (
    add_node,
    connect,
    delete_node,
    disconnect,
    model_types,
    pin_version,
    rename_node,
    version_settings,
)

#: A public model's owner, and the prefix of its key in the add-node picker.
PUBLIC_OWNER = (PUBLIC_USER_ID, PUBLIC_APP_ID)
PUBLIC_PREFIX = f"{PUBLIC_USER_ID}/{PUBLIC_APP_ID}/"


class GraphEditing(WorkflowsArea):
    """The edit actions of the Workflows area, on its drafts."""

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
