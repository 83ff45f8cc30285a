"""Keys of the Concepts area (pure data; see tui.widgets.bindings)."""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("concepts.new", "n", "new_concept", "New", "concepts"),
    KeySpec("concepts.bulk", "b", "bulk_create", "Bulk create", "concepts"),
    KeySpec("concepts.rename", "e", "rename", "Rename", "concepts"),
    KeySpec("concepts.delete", "d", "delete", "Delete", "concepts"),
    KeySpec("concepts.label", "l", "label", "Label inputs", "concepts"),
    KeySpec("concepts.refresh", "r", "refresh", "Refresh", "concepts", show=False),
)
