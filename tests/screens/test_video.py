"""Video inputs on the screens (issue #27): the Explorer's rows, the detail screen's frame
list and frame preview, and frame annotations in the review queue.

The embedded backend does not take videos on this branch yet: tests/screens/video_fakes.py
stores a real mp4 and reads it back as a video input with frame annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from api.models import AnnotationStatus
from screens.explorer import ExplorerScreen
from tests.screens import video_fakes
from tests.screens.test_explorer import APP, open_explorer
from tests.screens.video_fakes import seed_video
from tests.tui_helpers import make_tui

PENDING, SUCCESS = AnnotationStatus.PENDING, AnnotationStatus.SUCCESS


def cell(table: DataTable[Any], row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def test_explorer_row_says_video_length_and_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video_fakes.install(monkeypatch)
    await seed_video(tmp_path, images=2)
    app = make_tui(tmp_path, app_id=APP, area="explorer")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_explorer(pilot)
        assert isinstance(screen, ExplorerScreen)
        table = screen.query_one("#explorer-table", DataTable)
        assert [str(k.value) for k in table.rows] == ["vid-1", "img-1", "img-0"]
        assert cell(table, "vid-1", "id") == "clip.mp4\nvideo"
        # 4 s sampled every 1000 ms (the app's default): 4 frames; the second line of the
        # concepts column, which fits at 80 columns
        assert cell(table, "vid-1", "concepts").split("\n") == [
            "red:0.91 green:0.82 yellow:0.77",
            "4.0 s · 4 frames",
        ]
        # the frame annotations count like others: one SUCCESS, two PENDING
        assert cell(table, "vid-1", str(int(SUCCESS))) == "1"
        assert cell(table, "vid-1", str(int(PENDING))) == "2"
        assert table.rows["vid-1"].height == 2
        # an image row is unchanged: one line
        assert cell(table, "img-1", "id") == "img-1"
        text = "\n".join(
            "".join(s.text for s in strip) for strip in (table.render_line(y) for y in range(4))
        )
        assert "4.0 s · 4 frames" in text
        assert screen.data is not None and screen.data.rows[0].annotated_frames == 3
