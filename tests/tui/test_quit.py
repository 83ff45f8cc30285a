"""ctrl+q asks before losing work, and works in every dialog (issue #30 items 6 and 7)."""

from __future__ import annotations

from pathlib import Path

from screens.workflows import WorkflowsScreen
from tests.screens.labelled_data import APP, prepare
from tests.screens.test_workflows import SPEC, workflows_screen
from tests.tui_helpers import connected, make_tui, wait_until
from tui.widgets.app_picker import AppPicker
from tui.widgets.forms import PromptScreen
from tui.widgets.help import HelpScreen
from tui.widgets.quit import QuitScreen


async def _with_an_edit(pilot):  # type: ignore[no-untyped-def]
    """The Workflows area with one unsaved edit (a node renamed); its client."""
    screen = await workflows_screen(pilot)
    client = pilot.app.session.app_client()
    await _rename_a_node(pilot, screen)
    return screen, client


async def _rename_a_node(pilot, screen: WorkflowsScreen) -> None:  # type: ignore[no-untyped-def]
    screen.graph.select("unsure-band")
    await pilot.press("R")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PromptScreen))
    await pilot.press(*"band", "enter")
    await wait_until(pilot, lambda: screen.is_dirty("auto-annotate"), what="an edit")


async def test_ctrl_q_with_an_edited_workflow_asks_and_s_saves_then_quits(
    tmp_path: Path,
) -> None:
    await prepare(tmp_path, spec=SPEC)
    app = make_tui(tmp_path, app_id=APP, area="workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        screen, client = await _with_an_edit(pilot)

        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen), what="the question")
        assert app.return_code is None
        text = " ".join(str(s.content) for s in app.screen.query("Static"))
        assert "auto-annotate" in text and "not saved" in text
        await pilot.press("escape")  # stay
        await wait_until(pilot, lambda: app.screen is screen)
        assert app.return_code is None and screen.is_dirty("auto-annotate")

        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("s")
        await wait_until(pilot, lambda: app.return_code is not None, what="the exit")
        saved = await client.get_workflow("auto-annotate")
    assert app.return_code == 0
    assert "band" in {n.id for n in saved.nodes}


async def test_ctrl_q_twice_quits_without_saving(tmp_path: Path) -> None:
    await prepare(tmp_path, spec=SPEC)
    app = make_tui(tmp_path, app_id=APP, area="workflows")
    async with app.run_test(size=(80, 24)) as pilot:
        _screen, client = await _with_an_edit(pilot)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: app.return_code is not None, what="the exit")
        saved = await client.get_workflow("auto-annotate")
    assert "band" not in {n.id for n in saved.nodes}


async def test_ctrl_q_quits_from_the_app_picker_and_the_help(tmp_path: Path) -> None:
    for dialog in ("pick_app", "help"):
        app = make_tui(tmp_path, app_id=APP, area="explorer")
        async with app.run_test(size=(80, 24)) as pilot:
            await connected(pilot)
            await app.run_action(dialog)
            wanted = AppPicker if dialog == "pick_app" else HelpScreen
            await wait_until(pilot, lambda: isinstance(app.screen, wanted), what=dialog)  # noqa: B023
            await pilot.press("ctrl+q")
            await wait_until(pilot, lambda: app.return_code is not None, what="the exit")  # noqa: B023
        assert app.return_code == 0, dialog
