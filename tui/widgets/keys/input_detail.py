"""Keys of the input detail screen, opened from the Explorer (pure data).

Left/right choose a video's frame; they are priority keys, so the annotation table (which
would scroll sideways on them) does not take them first.
"""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("input_detail.back", "escape", "back", "Back", "input_detail"),
    KeySpec("input_detail.copy_input", "c", "copy_input", "Copy input id", "input_detail"),
    KeySpec("input_detail.copy_annotation", "y", "copy_annotation", "Copy ann. id", "input_detail"),
    KeySpec("input_detail.open_url", "o", "open_url", "Image URL", "input_detail"),
    KeySpec("input_detail.blob_path", "b", "blob_path", "Image file path", "input_detail"),
    KeySpec(
        "input_detail.prev_frame",
        "left,h",
        "frame(-1)",
        "Prev frame",
        "input_detail",
        priority=True,
    ),
    KeySpec(
        "input_detail.next_frame",
        "right,l",
        "frame(1)",
        "Next frame",
        "input_detail",
        priority=True,
    ),
)
