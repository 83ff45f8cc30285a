"""Toggles read without colour (issue #30 item 8): the mark is drawn only when on."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import RadioSet

from tui.widgets.toggles import ClearRadioButton, ClearSelectionList


class Toggles(App[None]):
    def compose(self) -> ComposeResult:
        yield ClearSelectionList[str](("apple", "a", True), ("berry", "b", False))
        yield RadioSet(ClearRadioButton("one", value=True), ClearRadioButton("two"))


def marks(app: App[None]) -> list[str]:
    """The start of each toggle as drawn: the list's lines, then each radio button."""
    listing = app.query_one(ClearSelectionList)
    lines = [listing.render_line(y).text[:9].rstrip() for y in range(2)]
    return lines + [f"{b._button.plain} {b.label}" for b in app.query(ClearRadioButton)]


async def test_checked_and_unchecked_differ_in_text_not_only_in_colour() -> None:
    app = Toggles()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        assert marks(app) == ["▐X▌ apple", "▐ ▌ berry", "▐●▌ one", "▐ ▌ two"]
        app.query_one(ClearSelectionList).toggle("b")
        app.query(ClearRadioButton).last().value = True
        await pilot.pause()
        assert marks(app) == ["▐X▌ apple", "▐X▌ berry", "▐ ▌ one", "▐●▌ two"]
