"""Row tables move like lazygit's lists: j/k, Home/End (issue #30)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.tables import RowTable


class Rows(App[None]):
    def compose(self) -> ComposeResult:
        yield RowTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(RowTable)
        table.add_column("n")
        for n in range(5):
            table.add_row(str(n))
        table.focus()


async def test_j_k_home_end_move_between_rows() -> None:
    app = Rows()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(RowTable)
        await pilot.press("end")
        assert table.cursor_row == 4
        await pilot.press("k", "k")
        assert table.cursor_row == 2
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("j")
        assert table.cursor_row == 1
