"""A tiny app showing the seed workflow graph in a GraphView (used by the snapshot test)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tests.widgets.seed import seed_graph
from tui.widgets.graph import GraphNode, GraphView


class GraphApp(App[None]):
    """One GraphView filling the screen; the selected node ids land in `selections`."""

    def __init__(self, nodes: list[GraphNode] | None = None) -> None:
        super().__init__()
        self.nodes = seed_graph() if nodes is None else nodes
        self.selections: list[str] = []

    def compose(self) -> ComposeResult:
        yield GraphView(self.nodes)

    def on_mount(self) -> None:
        self.query_one(GraphView).focus()

    def on_graph_view_node_selected(self, event: GraphView.NodeSelected) -> None:
        self.selections.append(event.node_id)


if __name__ == "__main__":
    GraphApp().run()
