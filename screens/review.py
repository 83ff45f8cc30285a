"""The Review area: review PENDING annotations: accept, reject, undo."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult

from tui.widgets.area import AreaScreen, bindings_for


class ReviewScreen(AreaScreen):
    AREA: ClassVar[str] = "review"
    BINDINGS: ClassVar = bindings_for("review")

    def compose_body(self) -> ComposeResult:
        yield self.placeholder(
            "Review PENDING annotations: accept, reject, undo.\n\n"
            "Not built yet; coming with issue 9: the review queue."
        )
