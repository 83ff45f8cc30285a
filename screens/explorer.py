"""The Explorer area: every input with its annotations and statuses."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult

from tui.widgets.area import AreaScreen, bindings_for


class ExplorerScreen(AreaScreen):
    AREA: ClassVar[str] = "explorer"
    BINDINGS: ClassVar = bindings_for("explorer")

    def compose_body(self) -> ComposeResult:
        yield self.placeholder(
            "Every input with its annotations and statuses.\n\n"
            "Not built yet; coming with issue 9: paged table, filters, input detail with preview."
        )
