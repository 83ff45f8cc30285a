"""Keys of the Workflows area, its graph and the dry run (pure data; see tui.widgets.bindings).

The `graph.*` keys are the GraphView's own bindings (same ids, keys and actions), declared
here so `[keymap]` and `?` know them.
"""

from __future__ import annotations

from tui.widgets.bindings import KeySpec

KEYS: tuple[KeySpec, ...] = (
    KeySpec("workflows.new", "n", "new_workflow", "New", "workflows"),
    KeySpec("workflows.add_node", "a", "add_node", "Add node", "workflows"),
    KeySpec("workflows.connect", "c", "connect", "Connect", "workflows"),
    KeySpec("workflows.disconnect", "x", "disconnect", "Disconnect", "workflows"),
    KeySpec("workflows.delete_node", "d,delete", "delete_node", "Delete node", "workflows"),
    KeySpec("workflows.rename", "R", "rename", "Rename", "workflows"),
    KeySpec("workflows.version", "v", "move_version", "Version", "workflows"),
    KeySpec("workflows.save", "s", "save", "Save", "workflows"),
    KeySpec("workflows.revert", "u", "revert", "Undo edits", "workflows", show=False),
    KeySpec("workflows.dry_run", "t", "dry_run", "Dry run", "workflows"),
    KeySpec("workflows.default", "D", "toggle_default", "Default", "workflows"),
    KeySpec("workflows.wizard", "w", "wizard", "Wizard", "workflows"),
    KeySpec("workflows.refresh", "r", "refresh", "Refresh", "workflows", show=False),
    KeySpec("graph.left", "left,h", "move('left')", "Left", "workflows", show=False),
    KeySpec("graph.right", "right,l", "move('right')", "Right", "workflows", show=False),
    KeySpec("graph.up", "up,k", "move('up')", "Up", "workflows", show=False),
    KeySpec("graph.down", "down,j", "move('down')", "Down", "workflows", show=False),
    KeySpec("dry_run.run", "ctrl+r,f5", "run", "Run", "workflows"),
    KeySpec("dry_run.close", "escape", "close", "Close", "workflows"),
)
