"""The Workflows area: workflows: the graph, dry runs and the app default."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult

from tui.widgets.area import AreaScreen, bindings_for


class WorkflowsScreen(AreaScreen):
    AREA: ClassVar[str] = "workflows"
    BINDINGS: ClassVar = bindings_for("workflows")

    def compose_body(self) -> ComposeResult:
        yield self.placeholder(
            "Workflows: the graph, dry runs and the app default.\n\n"
            "Not built yet; coming with "
            "issue 8: "
            "graph view, editing, dry run, default workflow, the wizard."
        )
