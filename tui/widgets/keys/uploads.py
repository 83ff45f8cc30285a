"""Keys of the Uploads area (pure data; see tui.widgets.bindings).

`space` marks the highlighted file or folder in the browser (the tree's own `enter`
opens and closes folders); `a` adds the marked entries (or the highlighted one) to the
queue, which starts uploading at once.
"""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("uploads.mark", "space", "mark", "Mark", "uploads"),
    KeySpec("uploads.add", "a", "add_marked", "Add", "uploads"),
    KeySpec("uploads.recursive", "r", "toggle_recursive", "Recursive", "uploads", show=False),
    KeySpec("uploads.urls", "u", "paste_urls", "URLs", "uploads"),
    KeySpec("uploads.concepts", "c", "batch_concepts", "Concepts", "uploads", show=False),
    KeySpec("uploads.pause", "p", "pause", "Pause", "uploads"),
    KeySpec("uploads.cancel", "x", "cancel", "Cancel", "uploads"),
    KeySpec("uploads.parent", "backspace", "parent_folder", "Up a folder", "uploads", show=False),
    KeySpec("uploads.goto", "g", "goto_folder", "Go to folder", "uploads", show=False),
    KeySpec("uploads.unmark", "escape", "clear_marks", "Clear marks", "uploads", show=False),
    KeySpec("uploads.clear", "C", "clear_settled", "Clear done", "uploads", show=False),
)
