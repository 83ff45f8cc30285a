"""The Workflows area's graph: a workflow's nodes drawn by `tui.widgets.graph`, each box
worded to fit the width the area has."""

from __future__ import annotations

from api.models import Model, WorkflowNode
from tui.widgets.graph import GraphView
from tui.widgets.workflow_graph import Pinned, fitted_graph


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
