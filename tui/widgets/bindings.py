"""Every key binding of the application, by id: the single source for the app's BINDINGS,
the `?` help screen, `[keymap]` validation and the README keyboard reference.

Pure data: no Textual import, so the config loader can validate `[keymap]` cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class KeySpec:
    id: str
    key: str
    action: str
    description: str
    scope: str  # "global" or an area id
    show: bool = True
    #: Checked before the focused widget's keys (ctrl+q must work in every dialog too).
    priority: bool = False


AREA_TITLES: Final = {
    "uploads": "Uploads",
    "concepts": "Concepts",
    "models": "Models",
    "workflows": "Workflows",
    "explorer": "Explorer",
    "review": "Review",
}

GLOBAL_KEYS: Final[tuple[KeySpec, ...]] = (
    *(
        KeySpec(f"area.{area}", str(number), f"area('{area}')", title, "global", show=False)
        for number, (area, title) in enumerate(AREA_TITLES.items(), start=1)
    ),
    KeySpec("app.command_line", "colon", "command_line", "Command", "global"),
    KeySpec("app.palette", "ctrl+p", "command_palette", "Palette", "global", show=False),
    KeySpec("app.help", "question_mark", "help", "Help", "global"),
    KeySpec("app.apps", "ctrl+o", "pick_app", "Apps", "global"),
    KeySpec("app.quit", "ctrl+q", "quit", "Quit", "global", priority=True),
    KeySpec("app.back", "escape", "back", "Back", "global", show=False),
)


def _area_keys() -> dict[str, tuple[KeySpec, ...]]:
    """Each area's own keys, declared in `tui/widgets/keys/<area>.py` as `KEYS` (pure data,
    not in the screen modules) so the config loader can validate [keymap] without importing
    Textual. A screen builds its BINDINGS with `tui.widgets.area.bindings_for(area)`."""
    import importlib
    import pkgutil

    from tui.widgets import keys as package

    keys: dict[str, tuple[KeySpec, ...]] = {area: () for area in AREA_TITLES}
    # Every module in the package is a scope: the six areas, plus dialogs and sub-screens
    # (e.g. `labelling.py`) that have remappable keys of their own.
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"tui.widgets.keys.{info.name}")
        keys[info.name] = tuple(module.KEYS)
    return keys


def scope_title(scope: str) -> str:
    """How a scope reads in help: `everywhere`, an area's title, or the dialog's name."""
    if scope == "global":
        return "everywhere"
    if scope == "apps":
        return "App picker"
    return AREA_TITLES.get(scope) or scope.replace("_", " ").capitalize()


def all_keys() -> tuple[KeySpec, ...]:
    return GLOBAL_KEYS + tuple(k for keys in area_keys().values() for k in keys)


_AREA_KEYS: dict[str, tuple[KeySpec, ...]] = {}


def area_keys() -> dict[str, tuple[KeySpec, ...]]:
    if not _AREA_KEYS:
        _AREA_KEYS.update(_area_keys())
    return _AREA_KEYS


def known_binding_ids() -> frozenset[str]:
    """Every id `[keymap]` may name: global keys plus the keys of every area."""
    return frozenset(k.id for k in all_keys())


_KEY_NAMES: Final = {
    "colon": ":",
    "question_mark": "?",
    "slash": "/",
    "escape": "esc",
    "space": "space",
    "backspace": "backspace",
    "enter": "enter",
    "full_stop": ".",
    "comma": ",",
    "minus": "-",
    "plus": "+",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
}


def display_keys(keys: str) -> str:
    """`"ctrl+q,question_mark"` -> `"^q ?"`: how keys read in help and the README."""
    shown = []
    for key in keys.split(","):
        key = key.strip()
        *mods, name = key.split("+")
        name = _KEY_NAMES.get(name, name)
        if "ctrl" in mods:
            mods.remove("ctrl")
            name = f"^{name}"
        shown.append("+".join([*mods, name]))
    return " ".join(shown)
