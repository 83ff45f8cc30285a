"""Shared helpers for Pilot tests that run the TUI against the embedded backend."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from api.client import ClarifaiClient
from tui.app import ClarifaiTUI
from tui.config import Config, load_config


def local_config(tmp_path: Path, *, app_id: str = "") -> Config:
    """A config whose `local` profile keeps its data under tmp_path/data."""
    path = tmp_path / "config.toml"
    text = (
        "[profiles.local]\n"
        'backend = "local"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        f'app_id = "{app_id}"\n'
        # Thirty rows a page: the explorer tests' page arithmetic (the default is 50).
        "[ui]\nper_page = 30\n"
    )
    path.write_text(text)
    return load_config(path)


def make_tui(tmp_path: Path, *, app_id: str = "", area: str | None = None) -> ClarifaiTUI:
    config = local_config(tmp_path, app_id=app_id)
    return ClarifaiTUI(config, config.profile(), start_area=area)


async def wait_until(
    pilot: Pilot[Any],
    predicate: Callable[[], object],
    *,
    timeout: float = 20.0,
    what: str = "condition",
) -> None:
    """Let the app run until `predicate()` is true (a deadline, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def connected(pilot: Pilot[Any]) -> ClarifaiClient:
    """Wait for the shell to connect; returns the (app-less) client."""
    app = pilot.app
    assert isinstance(app, ClarifaiTUI)
    await wait_until(
        pilot, lambda: app.session.client is not None or app.session.error, what="connection"
    )
    assert app.session.client is not None, app.session.error
    return app.session.client


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (32, 32)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


async def labelling_shown(pilot: Pilot[Any], screen: Any) -> None:
    """Until the labelling screen shows its current input and none of its own workers runs
    (`screen.workers` is the app's manager: other screens' loaders run there too)."""
    await wait_until(
        pilot,
        lambda: (
            screen.labeller is not None
            and not screen.busy
            and (screen.current is None or screen.shown_id == screen.current.id)
            and not [w for w in screen.workers if w.node is screen and not w.is_finished]
        ),
        what="input shown",
    )
    await pilot.pause()


async def picker_opened_alone(pilot: Pilot[Any], app: ClarifaiTUI) -> None:
    """With no app yet the picker opens by itself, and ctrl+o does not stack a second one."""
    from tui.widgets.app_picker import AppPicker

    await wait_until(pilot, lambda: isinstance(app.screen, AppPicker), what="picker")
    await pilot.press("ctrl+o")
    await pilot.pause()
    assert sum(isinstance(s, AppPicker) for s in app.screen_stack) == 1
