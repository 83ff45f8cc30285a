"""Keys of the Review area (pure data; see tui.widgets.bindings).

Number keys toggle the shown concepts here, so inside Review they do not switch areas:
use `:` (e.g. `:explorer`) or ctrl+p to leave.
"""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("review.accept", "a", "accept", "Accept", "review"),
    KeySpec("review.reject", "r", "reject", "Reject", "review"),
    KeySpec("review.undo", "u", "undo", "Undo", "review"),
    KeySpec("review.skip", "s", "skip", "Skip", "review"),
    *(
        KeySpec(
            f"review.toggle_{n}",
            str(n),
            f"toggle_concept({n})",
            f"Toggle concept {n}",
            "review",
            show=False,
        )
        for n in range(1, 10)
    ),
    KeySpec("review.reload", "ctrl+r", "reload", "Reload", "review", show=False),
)
