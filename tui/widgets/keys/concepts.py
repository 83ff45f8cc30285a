"""Keys of the Concepts area (pure data; see tui.widgets.bindings)."""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = ()
