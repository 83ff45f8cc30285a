"""The Go-to-folder prompt (issue #26): the typed path completes with Tab, and the folders a
person is likely to want are offered under it: the demo's new-images folder, when the data
dir has one, and the folders used recently (kept in a small file of the state dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.widgets.forms import _DIALOG_CSS
from tui.widgets.text import safe

RECENT_FILE = "recent-folders.json"
RECENT_KEEP = 8


def complete_path(text: str) -> str:
    """`text` completed as far as the folders under its parent agree (`~/Pi` -> `~/Pictures/`
    when that is the only match); `text` itself when nothing or several differ at once."""
    if not text:
        return text
    expanded = Path(os.path.expanduser(text))
    parent, stem = (expanded, "") if text.endswith(os.sep) else (expanded.parent, expanded.name)
    try:
        names = sorted(
            e.name for e in os.scandir(parent) if e.is_dir() and e.name.startswith(stem)
            and (stem.startswith(".") or not e.name.startswith("."))
        )  # fmt: skip
    except OSError:
        return text
    if not names:
        return text
    common = os.path.commonprefix(names)  # noqa: RUF071 (names in one folder: by character)
    if len(names) == 1:
        common += os.sep
    if len(common) <= len(stem):
        return text
    return text + common[len(stem) :]


class PathSuggester(Suggester):
    """The completion shown greyed after the cursor (Tab or → takes it)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        completed = complete_path(value)
        return completed if completed != value else None


class PathInput(Input):
    BINDINGS: ClassVar = [Binding("tab", "complete", "Complete", show=False, priority=True)]

    def action_complete(self) -> None:
        completed = complete_path(self.value)
        if completed != self.value:
            self.value = completed
            self.cursor_position = len(completed)


def load_recent(state_dir: Path) -> list[Path]:
    try:
        names = json.loads((state_dir / RECENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Path(n) for n in names if isinstance(n, str)] if isinstance(names, list) else []


def remember_folder(state_dir: Path, folder: Path) -> None:
    """Put `folder` first in the recent list (best effort: a failure only loses the list)."""
    recent = [folder, *(p for p in load_recent(state_dir) if p != folder)][:RECENT_KEEP]
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / (RECENT_FILE + ".tmp")
        tmp.write_text(json.dumps([str(p) for p in recent]), encoding="utf-8")
        tmp.replace(state_dir / RECENT_FILE)
    except OSError:
        return


class FolderPrompt(ModalScreen[str | None]):
    """Type a folder (Tab completes) or pick one offered below (↓ then enter)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="FolderPrompt") + (
        "FolderPrompt #folder-input { margin: 0 0 1 0; }"
    )
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "to_list", "Offered folders", show=False),
    ]

    def __init__(self, value: str, offered: list[tuple[Path, str]]) -> None:
        super().__init__()
        self.value = value
        self.offered = [(p, why) for p, why in offered if p.is_dir()]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Go to folder", classes="dialog-title")
            yield PathInput(self.value, suggester=PathSuggester(), id="folder-input")
            if self.offered:
                yield OptionList(
                    *(
                        Option(safe(f"{p}  ({why})", one_line=True), id=str(n))
                        for n, (p, why) in enumerate(self.offered)
                    ),
                    id="folder-offers",
                )
            yield Static(
                "tab: complete    enter: go    ↓: offered folders    esc: cancel",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        box = self.query_one("#folder-input", Input)
        box.focus()
        box.cursor_position = len(box.value)

    def action_to_list(self) -> None:
        if self.offered:
            listing = self.query_one("#folder-offers", OptionList)
            listing.highlighted = 0
            listing.focus()

    @on(Input.Submitted, "#folder-input")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    @on(OptionList.OptionSelected, "#folder-offers")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(str(self.offered[int(event.option.id or 0)][0]))

    def action_cancel(self) -> None:
        self.dismiss(None)
