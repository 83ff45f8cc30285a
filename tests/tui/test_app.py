"""The shell, driven by keys: areas by number and by `:`, help, palette, keymap, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable, Static

from screens.concepts import ConceptsScreen
from screens.explorer import ExplorerScreen
from screens.models import ModelsScreen
from screens.review import ReviewScreen
from screens.uploads import UploadsScreen
from screens.workflows import WorkflowsScreen
from tests.screens.labelled_data import APP, prepare
from tests.tui_helpers import connected, local_config, make_tui, wait_until
from tui.app import ClarifaiTUI
from tui.config import load_config, parse_config
from tui.widgets.area import Breadcrumb
from tui.widgets.bindings import all_keys
from tui.widgets.help import HelpScreen

SCREENS = {
    "1": UploadsScreen,
    "2": ConceptsScreen,
    "3": ModelsScreen,
    "4": WorkflowsScreen,
    "5": ExplorerScreen,
    "6": ReviewScreen,
}


def make_app(tmp_path: Path, text: str = "", **kwargs: object) -> ClarifaiTUI:
    path = tmp_path / "config.toml"
    config = parse_config(text, path) if text else load_config(path)
    return ClarifaiTUI(config, config.profile(), connect=False, **kwargs)  # type: ignore[arg-type]


async def test_number_keys_open_every_area(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, UploadsScreen)
        for key, screen in SCREENS.items():
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen), key


@pytest.mark.parametrize(
    ("command", "screen"),
    [
        ("explorer", ExplorerScreen),
        ("models", ModelsScreen),
        ("review", ReviewScreen),
        ("concepts", ConceptsScreen),
        ("workflows", WorkflowsScreen),
        ("graph", WorkflowsScreen),
        ("uploads", UploadsScreen),
    ],
)
async def test_colon_commands_open_areas(tmp_path: Path, command: str, screen: type) -> None:
    app = make_app(tmp_path, start_area="review" if screen is not ReviewScreen else "uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon")
        await pilot.press(*command, "enter")
        await pilot.pause()
        assert isinstance(app.screen, screen)


async def test_colon_q_quits(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", "q", "enter")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


async def test_unknown_command_is_explained(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"frob", "enter")
        await pilot.pause()
        assert any("unknown command :frob" in n.message for n in app._notifications)
        assert isinstance(app.screen, UploadsScreen)


async def test_escape_closes_the_command_line(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", "x", "escape")
        await pilot.pause()
        line = app.screen.query_one("#command-line")
        assert not line.has_class("-open")
        await pilot.press("5")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)


async def test_help_lists_every_binding_with_its_id(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        ids = {table.get_row_at(i)[3] for i in range(table.row_count)}
        assert ids == {k.id for k in all_keys()}
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, UploadsScreen)


def _highlighted(screen: object) -> str:
    """The prompt text of the command palette's highlighted hit ("" while there is none)."""
    from textual.command import CommandList

    if not isinstance(screen, CommandPalette):
        return ""
    hits = screen.query_one(CommandList)
    if hits.highlighted is None:
        return ""
    prompt = hits.get_option_at_index(hits.highlighted).prompt
    return str(getattr(prompt, "plain", prompt)).split("\n")[0]


async def test_palette_opens_and_switches_area(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Go to Explorer")
        # The palette searches in a worker: enter picks the highlighted hit once it is there.
        await wait_until(pilot, lambda: _highlighted(app.screen) == "Go to Explorer", what="hit")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)


async def test_keymap_remaps_by_binding_id(tmp_path: Path) -> None:
    app = make_app(tmp_path, "[keymap]\n'area.explorer' = 'e'\n")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)


async def test_start_area_and_breadcrumb(tmp_path: Path) -> None:
    app = make_app(tmp_path, start_area="models", app_id="park")
    async with app.run_test(size=(80, 24)):
        assert isinstance(app.screen, ModelsScreen)
        text = str(app.screen.query_one(Breadcrumb).render())
        assert "local (embedded)" in text
        assert "app: park" in text
        assert "Models" in text


async def test_failed_worker_becomes_a_notification(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def fails() -> None:
        raise ValueError("the server said no")

    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.run_worker(fails(), exit_on_error=False)
        await wait_until(pilot, lambda: bool(app._notifications), what="the notification")
        assert app.is_running
        assert any("the server said no" in n.message for n in app._notifications)


async def test_connecting_shows_each_retry_until_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow first call is not a silent "connecting…": the screen shows the latest retry, and
    once connected the line and the listener are gone."""
    import asyncio

    from api.retry import RetryNotice
    from tui import connect as connect_module
    from tui.widgets.session import Session

    real_connect = connect_module.connect
    release = asyncio.Event()

    async def slow_connect(profile: object, **kwargs: Any) -> Any:
        kwargs["on_retry"](RetryNotice("GET /v2/users/me", 2, 5, 1.5, "CONNECTION_FAILED: x"))
        await release.wait()
        connection = await real_connect(profile, **kwargs)  # type: ignore[arg-type]
        # As a remote profile's connect() does (the embedded one never retries).
        connection.client.set_retry_listener(kwargs["on_retry"])
        return connection

    monkeypatch.setattr(connect_module, "connect", slow_connect)
    config = local_config(tmp_path, app_id="park")
    app = ClarifaiTUI(config, config.profile(), start_area="uploads")
    async with app.run_test(size=(120, 24)) as pilot:
        uploads = app.screen
        assert isinstance(uploads, UploadsScreen)

        def status() -> str:
            return str(uploads.query_one("#uploads-status", Static).render())

        waiting = "connecting… retrying in 1.5 s (attempt 2 of 5): CONNECTION_FAILED: x"
        await wait_until(pilot, lambda: waiting in status(), what="the retry line")
        release.set()
        client = await connected(pilot)
        await wait_until(pilot, lambda: "connecting" not in status(), what="the line gone")
        assert app.session.retry_note == "" and client._conn.on_retry is None
    assert Session("p", "b", retry_note="r").waiting_text == "connecting… r"
    assert Session("p", "b", error="boom", retry_note="r").waiting_text == "boom"


async def test_palette_offers_the_screens_own_actions(tmp_path: Path) -> None:
    """Issue #30: ctrl+p finds "train" in Models and "sort" in the Explorer, and running
    the command does what the key does."""
    await prepare(tmp_path)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Explorer: Sort" in titles, sorted(titles)
        screen = app.screen
        before = screen.filters.oldest_first  # type: ignore[attr-defined]
        await titles["Explorer: Sort"].callback()  # type: ignore[misc]
        await pilot.pause()
        assert screen.filters.oldest_first is not before  # type: ignore[attr-defined]

        await pilot.press("3")
        await wait_until(pilot, lambda: app.current_mode == "models")
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"train")
        await wait_until(pilot, lambda: "Models: Train" in screen_text(app), what="Train")


def screen_text(app: ClarifaiTUI) -> str:
    """What the terminal shows, as plain text (the SVG capture without its markup)."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


@pytest.mark.parametrize("width", [60, 80, 120])
async def test_the_breadcrumb_keeps_the_area_and_app_at_any_width(
    tmp_path: Path, width: int
) -> None:
    """Issue #30: at 60 columns a long app id pushed the area name off the header."""
    app = make_tui(tmp_path, app_id="a-rather-long-application-identifier", area="explorer")
    async with app.run_test(size=(width, 20)) as pilot:
        await pilot.pause()
        crumb = app.screen.query_one(Breadcrumb)
        shown = crumb.render_line(0).text.rstrip()
        assert shown.endswith("Explorer"), shown
        assert "a-rather-long" in shown, shown
        assert len(shown) <= width
        if width >= 120:
            assert shown.lstrip().startswith("clarifai-tui")


@pytest.mark.parametrize(("width", "expected"), [(80, "4 Workflows"), (60, "4 Flow")])
async def test_the_area_strip_names_all_six_areas_on_first_paint(
    tmp_path: Path, width: int, expected: str
) -> None:
    """Issue #26: nothing on screen listed the six areas or their keys; at 60 columns the
    strip uses short names rather than wrapping."""
    from tui.widgets.area import AreaStrip

    app = make_tui(tmp_path, area="models")
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        # an empty install opens the app picker: the strip shows under it
        strip = app.screen_stack[0].query_one(AreaStrip)
        assert strip.region.y == 1  # second line, under the breadcrumb, above the picker box
        line = strip.render_line(0).text
        assert expected in line and "6 Re" in line and "1 Up" in line, line
        assert len(line.rstrip()) <= width
        assert strip.region.height == 1
        current = [t for t, on in strip.plain(width) if on]
        assert current == ["3 Models"] if width == 80 else current == ["3 Mod"]
