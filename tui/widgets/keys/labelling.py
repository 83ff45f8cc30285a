"""Keys of the labelling loop, opened from the Concepts area with `l` (pure data).

Number keys toggle the concepts shown beside them (1-9, then 0 for the tenth), so inside
the loop they do not switch areas: `escape` goes back to Concepts, `:` still works.
"""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("labelling.save", "space,enter", "save_next", "Save+next", "labelling"),
    KeySpec("labelling.back", "backspace", "previous", "Back", "labelling"),
    KeySpec("labelling.undo", "u", "undo", "Undo", "labelling"),
    KeySpec("labelling.skip", "s", "skip", "Skip", "labelling"),
    KeySpec("labelling.none", "n", "toggle_none", "None of these", "labelling"),
    KeySpec(
        "labelling.more", "right_square_bracket", "concept_page(1)", "More", "labelling", show=False
    ),
    KeySpec(
        "labelling.less",
        "left_square_bracket",
        "concept_page(-1)",
        "Fewer",
        "labelling",
        show=False,
    ),
    KeySpec("labelling.close", "escape", "close", "Close", "labelling"),
    *(
        KeySpec(
            f"labelling.toggle_{n % 10}",
            str(n % 10),
            f"toggle_concept({n})",
            f"Toggle concept {n}",
            "labelling",
            show=False,
        )
        for n in range(1, 11)
    ),
)
