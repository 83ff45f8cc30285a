"""Keys of the auto-annotation wizard (pure data; see tui.widgets.bindings)."""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("wizard.next", "ctrl+n,f8", "next", "Next", "wizard"),
    KeySpec("wizard.back", "ctrl+b,f7", "back", "Back", "wizard"),
    KeySpec("wizard.close", "escape", "close", "Close", "wizard"),
)
