"""The Concepts area: create concepts and label inputs with them."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult

from tui.widgets.area import AreaScreen, bindings_for


class ConceptsScreen(AreaScreen):
    AREA: ClassVar[str] = "concepts"
    BINDINGS: ClassVar = bindings_for("concepts")

    def compose_body(self) -> ComposeResult:
        yield self.placeholder(
            "Create concepts and label inputs with them.\n\n"
            "Not built yet; coming with "
            "issue 7: "
            "concept list with counts, bulk create, keyboard labelling loop."
        )
