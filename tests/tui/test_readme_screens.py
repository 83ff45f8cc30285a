"""Every screen in README.md is drawn by the application itself (issue #26): the README's copy
must be what scripts/readme_screens.py captures now (run it with --update after a change)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "readme_screens", ROOT / "scripts/readme_screens.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_readme_screens_are_what_the_app_draws(tmp_path: Path) -> None:
    script = _script()
    shown = script.in_readme((ROOT / "README.md").read_text())
    assert set(shown) == set(script.AREAS), sorted(shown)
    drawn = await script.capture(tmp_path)
    for name in script.AREAS:
        assert shown[name] == drawn[name], (
            f"README's {name} screen differs from what the app draws: "
            "run .venv/bin/python scripts/readme_screens.py --update"
        )
    readme = (ROOT / "README.md").read_text()
    assert readme.count("```\n clarifai-tui ›") == readme.count("<!-- screen:") // 2
