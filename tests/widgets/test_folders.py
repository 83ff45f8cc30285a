"""The Go-to-folder prompt completes paths with Tab and offers the demo's new images and
recent folders (issue #26)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.widgets import Input, OptionList

from screens.uploads import MarkingTree, UploadsScreen
from tests.screens.test_uploads import APP, create_app, open_uploads
from tests.tui_helpers import make_tui, wait_until
from tui.widgets.folders import FolderPrompt, complete_path, load_recent


def test_complete_path_goes_as_far_as_the_folders_agree(tmp_path: Path) -> None:
    for name in ("pictures", "pics-2025", "public"):
        (tmp_path / name).mkdir()
    (tmp_path / "picture.txt").write_text("a file, not a folder")
    (tmp_path / ".hidden").mkdir()
    base = f"{tmp_path}{os.sep}"
    assert complete_path(base + "pu") == base + "public" + os.sep
    assert complete_path(base + "pi") == base + "pic"  # pictures, pics-2025
    assert complete_path(base + "pict") == base + "pictures" + os.sep
    assert complete_path(base + "zz") == base + "zz"
    assert complete_path(base + ".h") == base + ".hidden" + os.sep
    assert complete_path(str(tmp_path / "missing" / "x")) == str(tmp_path / "missing" / "x")


async def test_g_offers_the_demo_folder_tab_completes_and_the_choice_is_remembered(
    tmp_path: Path, monkeypatch: Any
) -> None:
    start = tmp_path / "start"
    (start / "holiday-photos").mkdir(parents=True)
    monkeypatch.setattr(UploadsScreen, "START_DIR", start)
    await create_app(tmp_path)
    demo = tmp_path / "data" / "demo-new-images"
    demo.mkdir(parents=True)
    app = make_tui(tmp_path, app_id=APP, area="uploads")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_uploads(pilot)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, FolderPrompt))
        prompt = app.screen
        offers = prompt.query_one(OptionList)
        labels = [str(offers.get_option_at_index(i).prompt) for i in range(offers.option_count)]
        assert any(str(demo) in label and "demo" in label for label in labels), labels
        box = prompt.query_one(Input)
        assert box.value == f"{start}{os.sep}"
        await pilot.press("h", "tab")
        assert box.value == f"{start / 'holiday-photos'}{os.sep}"
        await pilot.press("enter")
        tree = screen.query_one(MarkingTree)
        await wait_until(pilot, lambda: Path(tree.path) == start / "holiday-photos")
        assert load_recent(screen._state_dir())[0] == start / "holiday-photos"

        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, FolderPrompt))
        await pilot.press("down", "enter")  # the first offer: the demo's new images
        await wait_until(pilot, lambda: Path(tree.path) == demo.resolve())
