"""Row tables with the motions people expect from lazygit or k9s (issue #30): j/k move a
row, Home/End go to the first and last row (Textual's DataTable scrolls sideways on them).

Every cell goes through the one sanitiser (tui.widgets.text.safe) as it is added or changed:
table cells show names and ids from a server, and Textual passes an escape sequence in them
straight to the terminal (issue #25)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from tui.widgets.text import safe

CellType = TypeVar("CellType")


def _safe_text(text: str, lines: bool) -> str:
    if not lines:
        return safe(text, one_line=True)
    return "\n".join(safe(line, one_line=True) for line in text.split("\n"))


def safe_cell(value: Any, *, lines: bool = False) -> Any:
    """A cell's value with unsafe characters made visible (styles kept). Line breaks become
    spaces, unless `lines` (a cell of a row more than one line tall): then each line is
    sanitised on its own."""
    if isinstance(value, str):
        return _safe_text(value, lines)
    if isinstance(value, Text):
        plain = _safe_text(value.plain, lines)
        if plain == value.plain:
            return value
        return Text(plain, style=value.style, no_wrap=value.no_wrap, overflow=value.overflow)
    return value


class SafeTable(DataTable[CellType]):
    """A DataTable whose cells are sanitised as they are added or changed."""

    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        height = kwargs.get("height", 1)
        lines = height is None or height > 1
        return super().add_row(*(safe_cell(c, lines=lines) for c in cells), **kwargs)

    def _tall(self, row_key: Any) -> bool:
        row = self.rows.get(row_key)
        return row is not None and row.height > 1

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        value = safe_cell(value, lines=self._tall(row_key))
        super().update_cell(row_key, column_key, value, **kwargs)

    def update_cell_at(self, coordinate: Any, value: Any, **kwargs: Any) -> None:
        row_key = self.coordinate_to_cell_key(coordinate).row_key
        super().update_cell_at(coordinate, safe_cell(value, lines=self._tall(row_key)), **kwargs)


class RowTable(SafeTable[CellType]):
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


class HomeEndTable(SafeTable[CellType]):
    """Home/End over the rows only, for a table whose screen gives j and k other jobs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
    ]

    action_first_row = RowTable.action_first_row
    action_last_row = RowTable.action_last_row
