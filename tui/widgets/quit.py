"""Asking before quitting loses work (issue #30): the screens say what is unsaved or still
running, and ctrl+q then asks save / quit anyway / cancel instead of exiting at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.widgets.forms import _DIALOG_CSS

QuitAnswer = Literal["save", "quit", "cancel"]


@dataclass(frozen=True)
class Pending:
    """One piece of work a quit would affect: what it is, and what happens to it."""

    text: str
    #: Saves it (for `s`: save and quit); None when it cannot be saved, only left.
    save: Callable[[], Awaitable[bool]] | None = None


class QuitScreen(ModalScreen[QuitAnswer]):
    """`s` saves what can be saved, then quits; `q` or ctrl+q quits anyway; esc stays."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="QuitScreen")
    BINDINGS: ClassVar = [
        Binding("s", "answer('save')", "Save and quit"),
        Binding("q", "answer('quit')", "Quit anyway"),
        Binding("escape,n", "answer('cancel')", "Stay"),
    ]

    def __init__(self, pending: list[Pending]) -> None:
        super().__init__()
        self.pending = pending

    def compose(self) -> ComposeResult:
        savable = any(p.save is not None for p in self.pending)
        with Vertical():
            yield Static("Quit clarifai-tui?", classes="dialog-title")
            yield Static("\n".join(f"• {p.text}" for p in self.pending), markup=False)
            keys = ["s: save, then quit"] if savable else []
            keys += ["q / ctrl+q: quit anyway", "esc: stay"]
            yield Static("    ".join(keys), classes="dialog-hint")

    def action_answer(self, answer: QuitAnswer) -> None:
        if answer == "save" and not any(p.save is not None for p in self.pending):
            return
        self.dismiss(answer)
