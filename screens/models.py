"""The Models area: classifiers, thresholders and annotation writers."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult

from tui.widgets.area import AreaScreen, bindings_for


class ModelsScreen(AreaScreen):
    AREA: ClassVar[str] = "models"
    BINDINGS: ClassVar = bindings_for("models")

    def compose_body(self) -> ComposeResult:
        yield self.placeholder(
            "Classifiers, thresholders and annotation writers.\n\n"
            "Not built yet; coming with issue 8: model forms, training with live status."
        )
