"""Keys of the Models area and its model form (pure data; see tui.widgets.bindings)."""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("models.new", "n", "new_model", "New model", "models"),
    KeySpec("models.version", "v", "new_version", "New version", "models"),
    KeySpec("models.train", "t", "train", "Train", "models"),
    KeySpec("models.delete", "d", "delete", "Delete", "models", show=False),
    KeySpec("models.refresh", "r", "refresh", "Refresh", "models"),
    KeySpec("models.wizard", "w", "wizard", "Wizard", "models"),
    KeySpec("model_form.save", "ctrl+s,f2", "save", "Create", "models"),
    KeySpec("model_form.cancel", "escape", "cancel", "Cancel", "models"),
)
