"""Keys of the Review area (pure data; see tui.widgets.bindings).

The number keys switch areas here as on every screen (issue #30); a concept is toggled by
moving to it with j/k (or the arrows) and pressing space.
"""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("review.accept", "a", "accept", "Accept", "review"),
    KeySpec("review.reject", "r", "reject", "Reject", "review"),
    KeySpec("review.undo", "u", "undo", "Undo", "review"),
    KeySpec("review.skip", "s", "skip", "Skip", "review"),
    KeySpec("review.down", "j,down", "concept_cursor(1)", "Next concept", "review", show=False),
    KeySpec("review.up", "k,up", "concept_cursor(-1)", "Previous concept", "review", show=False),
    KeySpec("review.toggle", "space,x", "toggle_concept", "Keep/drop concept", "review"),
    KeySpec("review.reload", "ctrl+r", "reload", "Reload", "review", show=False),
)
