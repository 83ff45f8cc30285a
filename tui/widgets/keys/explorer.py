"""Keys of the Explorer area (pure data; see tui.widgets.bindings)."""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("explorer.open", "enter", "open_input", "Open", "explorer"),
    KeySpec("explorer.filter_text", "slash", "prompt('text')", "Filter id", "explorer"),
    KeySpec("explorer.input_status", "i", "cycle_input_status", "Input status", "explorer"),
    KeySpec(
        "explorer.annotation_status", "a", "cycle_annotation_status", "Ann. status", "explorer"
    ),
    KeySpec("explorer.concept", "c", "prompt('concept')", "Concept", "explorer"),
    KeySpec("explorer.worker", "w", "prompt('worker')", "User/model", "explorer"),
    KeySpec("explorer.clear", "x", "clear_filters", "Clear", "explorer"),
    KeySpec("explorer.sort", "o", "toggle_sort", "Sort", "explorer", show=False),
    KeySpec("explorer.next_page", "pagedown", "page(1)", "Next page", "explorer", show=False),
    KeySpec("explorer.prev_page", "pageup", "page(-1)", "Prev page", "explorer", show=False),
    KeySpec("explorer.goto_page", "g", "prompt('page')", "Go to page", "explorer", show=False),
    KeySpec("explorer.goto_input", "j", "prompt('input')", "Jump to id", "explorer", show=False),
    KeySpec("explorer.refresh", "r", "reload", "Refresh", "explorer", show=False),
)
