"""Keys of the app picker (ctrl+o) (pure data; see tui.widgets.bindings)."""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("apps.close", "escape", "cancel", "Close", "apps"),
    KeySpec("apps.new", "n", "new", "New app", "apps"),
    KeySpec("apps.reload", "r", "reload", "Reload", "apps"),
    KeySpec("apps.demo", "d", "demo", "Demo app", "apps"),
)
