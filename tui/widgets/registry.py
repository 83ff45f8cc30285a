"""Screens that open other screens do it by name through here (issue #23): a screen module
never imports another screen's module, so no import circle can form between them, and a
screen's module is only imported when it is first opened (start-up stays fast)."""

from __future__ import annotations

import importlib
from typing import Any, Final

from textual.screen import Screen

#: name -> "module:class" of every screen opened from another one.
SCREENS: Final[dict[str, str]] = {
    "dry_run": "screens.dry_run:DryRunScreen",
    "input_detail": "screens.input_detail:InputDetailScreen",
    "labelling": "screens.labelling:LabellingScreen",
    "model_form": "screens.model_forms:ModelForm",
    "wizard": "screens.wizard:WizardScreen",
}


def make_screen(name: str, *args: Any, **kwargs: Any) -> Screen[Any]:
    """A new screen of the kind `name` (a key of SCREENS), built with these arguments."""
    module_name, _, class_name = SCREENS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    screen: Screen[Any] = cls(*args, **kwargs)
    return screen
