"""What the Uploads area adds to its queue: the file browser that marks files and folders
(`MarkingTree`) and the dialog that takes pasted image and video URLs (`UrlPasteScreen`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text, TextType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static, TextArea
from textual.widgets._directory_tree import DirEntry
from textual.widgets._tree import TreeNode

from api.upload import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from tui.widgets.forms import scoped_bindings

#: What the file browser shows besides folders: images and videos.
_MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


class MarkingTree(DirectoryTree):
    """A DirectoryTree of folders and image files where `space` marks entries (the key is
    the Uploads area's `uploads.mark`, remappable; `enter` opens and closes folders)."""

    MARK = "● "
    BINDINGS: ClassVar = scoped_bindings("uploads", "uploads.mark")

    class MarksChanged(Message):
        """The set of marked paths changed."""

    def __init__(self, path: str | Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.marked: dict[Path, None] = {}

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".")
            and (self._safe_is_dir(p) or p.suffix.lower() in _MEDIA_EXTENSIONS)
        ]

    def process_label(self, label: TextType) -> Text:
        # The root's label is its whole path (children are bare names, never with a "/"):
        # show the folder's name only, so the tree stays narrow.
        if isinstance(label, str) and (os.sep in label or label == "."):
            path = Path(label).resolve()
            label = f"{path.name or path}/"
        return super().process_label(label)

    def render_label(self, node: TreeNode[DirEntry], base_style: Style, style: Style) -> Text:
        text = super().render_label(node, base_style, style)
        if node.data is not None and node.data.path in self.marked:
            text = Text.assemble((self.MARK, "bold green"), text)
        return text

    def toggle_mark(self) -> Path | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        path = node.data.path
        if path in self.marked:
            del self.marked[path]
        else:
            self.marked[path] = None
        node.refresh()
        return path

    def action_mark(self) -> None:
        if self.toggle_mark() is not None:
            self.action_cursor_down()
        self.post_message(self.MarksChanged())

    def clear_marks(self) -> None:
        self.marked.clear()
        self._invalidate()
        self.refresh()


class UrlPasteScreen(ModalScreen[list[str] | None]):
    """Paste image or video URLs, one a line (a URL ending in .mp4, .mov, ... is sent as a
    video); ctrl+s or f2 adds them, esc cancels."""

    DEFAULT_CSS = """
    UrlPasteScreen { align: center middle; }
    UrlPasteScreen > Vertical {
        width: 76; max-width: 98%; height: 18; max-height: 95%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    UrlPasteScreen TextArea { height: 1fr; }
    UrlPasteScreen .dialog-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar = [
        Binding("ctrl+s,f2", "add", "Add", id="uploads.urls_add"),
        Binding("escape", "cancel", "Cancel", id="uploads.urls_cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "[b]Image or video URLs[/b], one a line (http/https; a URL ending in .mp4, "
                ".mov, ... is sent as a video)"
            )
            yield TextArea(id="urls")
            yield Static("ctrl+s / f2: add to the queue    esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_add(self) -> None:
        text = self.query_one(TextArea).text
        urls = [line.strip() for line in text.splitlines()]
        self.dismiss([u for u in urls if u and not u.startswith("#")])

    def action_cancel(self) -> None:
        self.dismiss(None)
