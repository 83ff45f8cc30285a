"""Row tables with the motions people expect from lazygit or k9s (issue #30): j/k move a
row, Home/End go to the first and last row (Textual's DataTable scrolls sideways on them)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

CellType = TypeVar("CellType")


class RowTable(DataTable[CellType]):
    """A DataTable with j/k and Home/End over its rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class HomeEndTable(DataTable[CellType]):
    """Home/End over the rows only, for a table whose screen gives j and k other jobs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
    ]

    action_first_row = RowTable.action_first_row
    action_last_row = RowTable.action_last_row
