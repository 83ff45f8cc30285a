"""The `?` screen: every binding with its id, key and what it does."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.widgets.bindings import all_keys, display_keys, scope_title
from tui.widgets.tables import RowTable


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90%; height: 90%; border: round $accent; background: $surface; }
    HelpScreen DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "[b]Keys[/b] — remap any in the config's \\[keymap] table by id. esc closes.",
                id="help-title",
            )
            yield RowTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "does", "where", "id")
        for spec in all_keys():
            keys = self.keymap.get(spec.id, spec.key)
            where = scope_title(spec.scope)
            table.add_row(display_keys(keys), spec.description, where, spec.id)
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
