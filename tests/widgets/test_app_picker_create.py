"""The app picker creates an app on a base workflow of clarifai/main, chosen from the ones
the server lists, as the platform's app creation does (issue #22)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select

from tests.tui_helpers import connected, make_tui, wait_until
from tui.widgets.app_picker import AppPicker


async def test_new_app_on_a_chosen_base_workflow(tmp_path: Path) -> None:
    app = make_tui(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        client = await connected(pilot)
        # no app yet: the shell opens the picker by itself
        await wait_until(pilot, lambda: isinstance(app.screen, AppPicker), what="picker")
        picker = app.screen
        await pilot.press("n")
        select: Select[str] = picker.query_one("#base-workflow", Select)
        # listed from clarifai/main: Universal (the public embedder) and Empty
        await wait_until(pilot, lambda: len(select._options) == 2, what="base workflows")
        assert [value for _, value in select._options] == ["Universal", "Empty"]
        assert select.value == "Universal"
        select.value = "Empty"
        picker.query_one("#new-name", Input).value = "Bare Bones"
        picker.query_one("#new-name", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.app_id == "bare-bones", what="app opened")
        made = await client.with_app("bare-bones").get_app()
        assert (made.default_workflow_id, made.default_workflow_label) == (
            "Empty",
            "clarifai/main · Empty",
        )
