"""No screen or widget of ours keeps its own state under a name Textual's Widget already uses.

`ConceptsScreen.loading` was meant as "a load is running", but `loading` is Textual's
reactive that covers the widget with a LoadingIndicator: the whole screen went blank while it
loaded and its table, hidden, lost the focus (a test that waited for that focus failed at
random). Assigning one of Widget's names is allowed only where we mean Textual's meaning.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual.widget import Widget

ROOT = Path(__file__).resolve().parents[2]

# Names of Widget we set on purpose, with Textual's own meaning.
MEANT = {
    "disabled": "closed prompts and command lines are disabled so keys go to the area",
    "virtual_size": "the graph canvas (a ScrollView) sets its content size",
}

ASSIGNMENT = re.compile(r"\bself\.([A-Za-z_]\w*)\s*(?::[^=\n]+)?=(?!=)")


def test_no_screen_or_widget_assigns_a_textual_widget_attribute_by_accident() -> None:
    taken = {name for name in dir(Widget) if not name.startswith("__")}
    clashes: list[str] = []
    for folder in ("screens", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                for match in ASSIGNMENT.finditer(line):
                    name = match.group(1)
                    if name in taken and name not in MEANT:
                        clashes.append(f"{path.relative_to(ROOT)}:{number}: self.{name}")
    assert not clashes, "these shadow Textual Widget attributes:\n" + "\n".join(clashes)
