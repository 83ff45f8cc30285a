"""The app picker's input count is every input, as the Explorer counts them (issue #31): an
input that failed to process is counted and said apart, not left out of one total only."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from api.models import NewInput
from tests.tui_helpers import connected, local_config, make_tui, png_bytes, wait_until
from tui.connect import connect
from tui.widgets.app_picker import AppPicker

APP = "mixed"


async def _app_with_a_failed_input(tmp_path: Path) -> None:
    connection = await connect(local_config(tmp_path).profile(), owner="test-setup")
    try:
        await connection.client.create_app(APP)
        client = connection.client.with_app(APP)
        await client.post_inputs(
            [
                NewInput(data=png_bytes((10, 20, 30))),
                NewInput(data=png_bytes((200, 20, 30))),
                NewInput(data=b"this is not an image at all"),
            ]
        )
    finally:
        await connection.aclose()


async def test_picker_counts_every_input_as_the_explorer_does(tmp_path: Path) -> None:
    await _app_with_a_failed_input(tmp_path)
    app = make_tui(tmp_path, app_id=APP)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        client = app.session.app_client()

        # processing runs in-process and ends: each poll awaits the server, no sleeping
        while not (await client.get_input_count()).settled:
            await pilot.pause()
        counts = await client.get_input_count()
        assert (counts.total, counts.errors) == (3, 1)  # the Explorer shows counts.total
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, AppPicker), what="picker")
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count, what="apps listed")
        cell = str(table.get_row(APP)[2])
        assert cell == "3 (1 failed)"
