"""Check boxes and radio buttons whose state reads without colour (issue #30).

Textual draws every toggle as `▐X▌` and shows its state by the colour of the X alone: with
NO_COLOR, or on a dim terminal over SSH, checked and unchecked look the same. These draw
the mark only when the toggle is on (`▐X▌` / `▐ ▌`, `▐●▌` / `▐ ▌`), keeping the colours.
"""

from __future__ import annotations

from typing import TypeVar

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.style import Style
from textual.widgets import RadioButton, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

T = TypeVar("T")


class ClearRadioButton(RadioButton):
    """A radio button with a dot only when it is the chosen one."""

    @property
    def _button(self) -> Content:
        # Textual's ToggleButton._button, with the inner mark blank when off.
        button_style = self.get_visual_style("toggle--button")
        side_style = Style(foreground=button_style.background, background=self.background_colors[1])
        inner = self.BUTTON_INNER if self.value else " " * len(self.BUTTON_INNER)
        return Content.assemble(
            (self.BUTTON_LEFT, side_style), (inner, button_style), (self.BUTTON_RIGHT, side_style)
        )


class ClearSelectionList(SelectionList[T]):
    """A selection list whose boxes hold an X only when selected."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        _, scroll_y = self.scroll_offset
        try:
            selection = self.get_option_at_index(scroll_y + y)
        except OptionDoesNotExist:
            return strip
        if selection.value in self._selected:
            return strip
        segments = list(strip)
        if len(segments) < 3:
            return strip
        inner = segments[1]
        segments[1] = Segment(" " * len(inner.text), inner.style, inner.control)
        return Strip(segments, strip.cell_length)
