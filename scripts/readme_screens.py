"""The README's screens, drawn by the application itself (issue #26).

Builds a small app (three digit concepts, two labelled images each, the wizard's workflow),
opens the Concepts, Workflows and Explorer areas at 80x24 with Pilot, and takes the text of
each screen. `--update` writes them into README.md between the `<!-- screen:NAME:begin -->`
and `<!-- screen:NAME:end -->` markers; `tests/tui/test_readme_screens.py` fails when the
README's copy differs from what the application draws.

    .venv/bin/python scripts/readme_screens.py [--update]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

README = ROOT / "README.md"
SIZE = (80, 24)
AREAS = ("concepts", "workflows", "explorer")
AREA_KEYS = ("uploads", "concepts", "models", "workflows", "explorer", "review")
#: Times change with every run: the Explorer's created column shows this one instead.
FIXED_TIME = "12-05 16:31"


def _text(app: Any) -> str:
    """The screen as plain text: each row without trailing spaces, blank rows left out."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(line for s in strips if (line := s.text.rstrip()))


async def capture(data: Path) -> dict[str, str]:
    import screens.explorer as explorer
    from tests.screens.labelled_data import prepare
    from tests.screens.test_workflows import SPEC

    await prepare(data, per_concept=2, spec=SPEC)
    real_time = explorer.format_time
    explorer.format_time = lambda _when: FIXED_TIME  # type: ignore[assignment]
    try:
        return await _capture(data)
    finally:
        explorer.format_time = real_time  # type: ignore[assignment]


async def _capture(data: Path) -> dict[str, str]:
    from tests.screens.labelled_data import APP
    from tests.tui_helpers import connected, make_tui, wait_until

    out: dict[str, str] = {}
    app = make_tui(data, app_id=APP, area="concepts")
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        for area in AREAS:
            await pilot.press(str(AREA_KEYS.index(area) + 1))
            await wait_until(pilot, lambda area=area: app.current_mode == area)
            screen = app.screen
            if area == "concepts":
                await wait_until(pilot, lambda s=screen: len(s.concepts) == 3)  # type: ignore[attr-defined]
            elif area == "workflows":
                await wait_until(pilot, lambda s=screen: s.loaded and s.graph.lines)  # type: ignore[attr-defined]
            else:
                await wait_until(
                    pilot,
                    lambda s=screen: s.data is not None and not s._loading,  # type: ignore[attr-defined]
                )
            await pilot.pause(0.2)
            out[area] = _text(app)
    return out


def block(name: str, text: str) -> str:
    return (
        f"<!-- screen:{name}:begin (drawn by the app: scripts/readme_screens.py --update) -->\n"
        f"```\n{text}\n```\n<!-- screen:{name}:end -->"
    )


PATTERN = re.compile(
    r"<!-- screen:(\w+):begin[^\n]*-->\n```\n(.*?)\n```\n<!-- screen:\1:end -->", re.S
)


def in_readme(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in PATTERN.finditer(text)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the screens into README.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readme-screens-") as tmp:
        screens = asyncio.run(capture(Path(tmp)))
    if not args.update:
        for name, text in screens.items():
            print(block(name, text))
        return 0
    readme = README.read_text()
    for name, text in screens.items():
        readme = PATTERN.sub(
            lambda m, name=name, text=text: block(name, text) if m.group(1) == name else m.group(0),
            readme,
        )
    README.write_text(readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
