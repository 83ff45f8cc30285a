"""The Uploads area: upload image files, folders and URLs into the current app."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult

from tui.widgets.area import AreaScreen, bindings_for


class UploadsScreen(AreaScreen):
    AREA: ClassVar[str] = "uploads"
    BINDINGS: ClassVar = bindings_for("uploads")

    def compose_body(self) -> ComposeResult:
        yield self.placeholder(
            "Upload image files, folders and URLs into the current app.\n\n"
            "Not built yet; coming with "
            "issue 7: "
            "file browser, URL paste, queue table with progress, pause/resume/cancel. "
            "Meanwhile: `clarifai-tui upload PATH...`."
        )
